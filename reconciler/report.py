"""``reconciler report``: run a MediaMath Reporting API v2 query and print it as a table, CSV or JSON.

:func:`run_report` builds the request from command-line style options, streams the answer
(constant memory, see :mod:`reconciler.providers.mediamath.reporting`) and writes it out as it
arrives:

- scope: by default the campaigns and strategies the manifests manage (the caller passes their
  remote ids); ``--filter`` strings narrow it further (``campaign_id=1,2``, ``total_spend>=100``,
  ``campaign_name=~summer``, ``strategy_id!=5``, ``flight_id=null``; see :func:`parse_filter`);
- time: a named ``time_window`` or ``start_time``/``end_time`` (RFC 3339), default
  ``campaign_to_date`` where the dataset has it, else ``yesterday``; ``rollup`` default ``all``;
- output: ``table`` (aligned columns; widths from the first rows), ``csv`` (header row, then one
  line per row) or ``json`` (one document ``{dataset, fields, total_items_count, rows}`` written
  row by row); by default a table on a terminal and CSV otherwise;
- names in a report are set by other users and partners: a table shows their control characters
  as escapes (``\x1b``), and a CSV text cell that a spreadsheet would run as a formula (``=``,
  ``+``, ``-``, ``@``, tab, CR first) starts with ``'`` (OWASP's advice against CSV injection)
  unless ``raw`` is asked for; numbers are written as they are;
- ``progress(rows, total)`` is called every 10,000 rows for long streams.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

from reconciler.errors import InputError
from reconciler.providers.mediamath.reporting import Filter, Order, ReportingClient, ReportRequest
from reconciler.textsafe import spreadsheet, terminal

DEFAULT_DATASET = "performance"
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    # total_spend is in each campaign's currency: the currency column goes beside it, so a report
    # over USD and EUR campaigns never reads as one sum
    name: ("campaign_id", "campaign_name", "strategy_id", "strategy_name", "impressions", "clicks", "total_spend",
           "campaign_currency_code")
    for name in ("performance", "performance-hourly", "all-dimensions-and-metrics")
}
TO_DATE_DATASETS = frozenset({"performance", "day-part"})
TABLE_SAMPLE_ROWS = 200
PROGRESS_EVERY = 10_000
_FILTER = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(=~|!=|>=|<=|=|>|<)\s*(.*?)\s*$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True)
class ReportSummary:
    dataset: str
    fields: tuple[str, ...]
    rows: int
    total_items_count: int


def _scalar(text: str) -> str | int | float | bool:
    if _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def parse_filter(text: str) -> Filter:
    """``field OP value`` with OP one of ``= != > >= < <= =~``; ``a,b`` after ``=``/``!=`` is a
    list (IN); ``null`` after ``=``/``!=`` is a null check; quotes keep a value a string."""
    match = _FILTER.match(text)
    if not match or not match.group(3):
        raise InputError(f"--filter '{text}': expected FIELD OP VALUE with OP one of = != > >= < <= =~")
    name, op, raw = match.groups()
    if op in ("=", "!=") and raw.lower() == "null":
        return Filter(name, "isNull" if op == "=" else "isNotNull")
    if op in ("=", "!=") and "," in raw and raw[0] not in "'\"":
        return Filter(name, op, tuple(_scalar(part.strip()) for part in raw.split(",") if part.strip()))
    if op == "=~":
        return Filter(name, op, raw)
    return Filter(name, op, _scalar(raw))


def parse_order(text: str) -> Order:
    """``field`` (ascending) or ``-field`` (descending); nulls always last."""
    name = text.strip()
    desc = name.startswith("-")
    name = name.lstrip("-+")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise InputError(f"--order '{text}': expected a field name, optionally prefixed with '-'")
    return Order(name, desc=desc, nulls_last=True)


def _ids(values: Iterable[str]) -> tuple[int | str, ...]:
    return tuple(sorted({int(v) if str(v).isdigit() else str(v) for v in values}, key=lambda v: (str(type(v)), v)))


@dataclass(frozen=True)
class ReportQuery:
    """What to report on: the options of ``reconciler report`` (filters as ``field op value`` text)."""

    dataset: str = DEFAULT_DATASET
    fields: Sequence[str] = ()
    filters: Sequence[str] = ()
    time_window: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    rollup: str = "all"
    order: Sequence[str] = ()
    max_results: int | None = None
    campaign_ids: Sequence[str] = ()
    strategy_ids: Sequence[str] = ()
    advertiser_ids: Sequence[str] = ()  # every campaign of these advertisers (report --all-campaigns)


def build_request(query: ReportQuery) -> ReportRequest:
    """The request ``run_report`` sends (raises InputError for unusable options)."""
    chosen = tuple(query.fields) or DEFAULT_FIELDS.get(query.dataset, ())
    if not chosen:
        raise InputError(f"--field is required for dataset '{query.dataset}' (no default field list)")
    parsed = [parse_filter(f) for f in query.filters]
    scope: list[Filter] = []
    if query.campaign_ids:
        scope.append(Filter("campaign_id", "=", _ids(query.campaign_ids)))
    if query.strategy_ids:
        scope.append(Filter("strategy_id", "=", _ids(query.strategy_ids)))
    if query.advertiser_ids:
        scope.append(Filter("advertiser_id", "=", _ids(query.advertiser_ids)))
    if len(scope) > 1:
        scope = [Filter(None, "or", filters=tuple(scope))]
    all_filters = tuple(scope + parsed)
    if not all_filters:
        raise InputError(
            "nothing to report on: the state holds no MediaMath advertisers, campaigns or strategies "
            "(apply first); or pass --filter"
        )
    if query.time_window and query.start_time:
        raise InputError("--time-window and --start-time exclude each other")
    time_window = query.time_window
    if not time_window and not query.start_time:
        time_window = "campaign_to_date" if query.dataset in TO_DATE_DATASETS else "yesterday"
    if query.end_time and not query.start_time:
        raise InputError("--end-time needs --start-time")
    try:
        return ReportRequest(
            dataset=query.dataset,
            fields=chosen,
            filters=all_filters,
            rollup=query.rollup,
            time_window=time_window,
            start_time=query.start_time,
            end_time=query.end_time,
            order=tuple(parse_order(o) for o in query.order),
            max_results=query.max_results,
        )
    except ValueError as exc:
        raise InputError(f"report: {exc}") from None


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def write_table(fields: Sequence[str], rows: Iterator[dict[str, Any]], out: TextIO) -> int:
    """Aligned columns; widths come from the header and the first rows (later rows may overflow)."""
    sample: list[dict[str, Any]] = []
    for row in rows:
        sample.append(row)
        if len(sample) >= TABLE_SAMPLE_ROWS:
            break
    widths = [max([len(f)] + [len(_table_cell(r.get(f))) for r in sample]) for f in fields]
    numeric = [any(_numeric(r.get(f)) for r in sample) for f in fields]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out.write(line([terminal(f, single_line=True) for f in fields]) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    count = 0
    for row in itertools.chain(sample, rows):
        out.write(line([_table_cell(row.get(f)) for f in fields]) + "\n")
        count += 1
    return count


def _table_cell(value: Any) -> str:
    return terminal(cell(value), single_line=True)


def write_csv(fields: Sequence[str], rows: Iterator[dict[str, Any]], out: TextIO, *, raw: bool = False) -> int:
    """Header row, then one line per row; text cells neutralised against formulas unless ``raw``."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    count = 0
    for row in rows:
        if raw:
            writer.writerow([cell(row.get(f)) for f in fields])
        else:
            writer.writerow([_csv_cell(row.get(f)) for f in fields])
        count += 1
    return count


def _csv_cell(value: Any) -> str:
    text = cell(value)
    return text if _numeric(value) else spreadsheet(text)


def write_json(dataset: str, fields: Sequence[str], total: int, rows: Iterator[dict[str, Any]], out: TextIO) -> int:
    head = json.dumps({"dataset": dataset, "fields": list(fields), "total_items_count": total})
    out.write(head[:-1] + ', "rows": [')
    count = 0
    for row in rows:
        out.write(("\n  " if count == 0 else ",\n  ") + json.dumps({f: row.get(f) for f in fields}))
        count += 1
    out.write("\n]}\n" if count else "]}\n")
    return count


def run_report(
    client: ReportingClient,
    query: ReportQuery,
    *,
    fmt: OutputFormat | str | None = None,
    out: TextIO | None = None,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int = PROGRESS_EVERY,
    raw: bool = False,
) -> ReportSummary:
    """Run one report and write it to ``out`` (stdout by default); returns what was written.
    ``raw`` writes CSV cells exactly as the API sent them (no ``'`` before a formula)."""
    stream_out = out if out is not None else sys.stdout
    if fmt is None:
        chosen = OutputFormat.TABLE if stream_out.isatty() else OutputFormat.CSV
    else:
        try:
            chosen = OutputFormat(fmt)
        except ValueError:
            raise InputError(f"--format '{fmt}' is not one of [table, csv, json]") from None
    if raw and chosen is not OutputFormat.CSV:
        raise InputError(f"--raw applies to --format csv only (this report is {chosen.value})")
    request = build_request(query)
    with client.stream(request, progress=progress, progress_every=progress_every) as stream:
        rows = iter(stream)
        if chosen is OutputFormat.TABLE:
            count = write_table(stream.fields, rows, stream_out)
        elif chosen is OutputFormat.CSV:
            count = write_csv(stream.fields, rows, stream_out, raw=raw)
        else:
            count = write_json(query.dataset, stream.fields, stream.total_items_count, rows, stream_out)
        return ReportSummary(query.dataset, stream.fields, count, stream.total_items_count)
