"""A Reporting API v2 request body, validated against its dataset, and its filters and order.

:func:`parse_query` turns the JSON body into a :class:`Query` or raises :class:`BadRequest` with
the vendor's style of message (``field does not exist in this dataset: X``). Rules, from seed 002
and the OpenAPI request schema:

- ``fields`` (required, non-empty, unique strings), ``filters`` (required by the spec, non-empty),
  ``rollup`` (required), and ``time_window`` or ``start_time`` (``time_window`` wins when both
  come); ``end_time`` optional; ``order`` ``[{field, desc, nulls_last}]``; ``pagination``
  ``{page_size 1..1000, page_index >= 0}`` (seed 002 says 1000; the spec's 10000 is not used);
  ``max_results`` (streaming only), ``full_entities`` (accepted, not used).
- Rollups, time windows and fields are those of the dataset's tables in the spec (per field too:
  ``agg_timestamp`` follows the dataset's rollups, ``performance.uniques`` lists its windows).
- ``time_zone`` only where the dataset's table lists time zones (``performance-hourly``: ``UTC``,
  ``campaign``, or an IANA name as the request schema says); elsewhere it is a 400. Days, weeks
  and months of windows and rollups are then those of that zone, or of each campaign's
  ``zone_name`` for ``campaign`` (see :mod:`.windows` and :mod:`.rows`).
- Filter operators: ``=`` (IN when the value is an array, "contains" when the field holds an
  array), ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``=~`` (case-insensitive contains), ``and`` /
  ``or`` (nested ``filters``, at least two), ``isNull`` / ``isNotNull``. Comparisons with a null
  field are false (SQL semantics), except for the null checks.
- With a rollup other than ``all``, ``agg_timestamp`` is added to every row and may be used in
  ``order`` and ``filters``.

Spec quirks handled here: ``current_date`` (seed) and ``current_day`` (tables) are both accepted;
``flight_to_date`` (seed prose only) is accepted where ``campaign_to_date`` is. Seed 002's own
example asks ``performance`` for ``by_hour``, which that dataset's table does not list: the
tables win (400), as they are what the API's reference documents per dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from reconciler.sandbox.mediamath_reporting.catalog import Dataset, datasets
from reconciler.sandbox.mediamath_reporting.windows import (
    ROLLUPS,
    Window,
    WindowError,
    date_range,
    parse_rfc3339,
    resolve,
    window_name_matches,
    zone_of,
)

AGG = "agg_timestamp"
MAX_PAGE_SIZE = 1000
OPS = ("=", "!=", ">", ">=", "<", "<=", "=~", "and", "or", "isNull", "isNotNull")
_SCALAR = (str, int, float, bool)


class BadRequest(ValueError):
    """A request the API refuses with 400 ``BadRequest``."""


@dataclass(frozen=True)
class OrderKey:
    field: str
    desc: bool = False
    nulls_last: bool = False


@dataclass(frozen=True)
class Filter:
    op: str
    field: str | None = None
    value: Any = None
    children: tuple[Filter, ...] = ()

    def fields(self) -> set[str]:
        if self.op in ("and", "or"):
            out: set[str] = set()
            for child in self.children:
                out |= child.fields()
            return out
        return {self.field} if self.field else set()

    def matches(self, get: Callable[[str], Any]) -> bool:
        op = self.op
        if op == "and":
            return all(child.matches(get) for child in self.children)
        if op == "or":
            return any(child.matches(get) for child in self.children)
        assert self.field is not None
        actual = get(self.field)
        if op == "isNull":
            return actual is None
        if op == "isNotNull":
            return actual is not None
        if actual is None:
            return False
        if op == "=":
            return _equals(actual, self.value)
        if op == "!=":
            return not _equals(actual, self.value)
        if op == "=~":
            return str(self.value).casefold() in _text(actual).casefold()
        return _compare(actual, self.value, op)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, bool) or isinstance(wanted, bool):
        if isinstance(wanted, str):
            return _text(actual) == wanted.lower()
        return actual is wanted if isinstance(actual, bool) and isinstance(wanted, bool) else False
    if isinstance(actual, (int, float)) and isinstance(wanted, str):
        try:
            return float(wanted) == float(actual)
        except ValueError:
            return False
    if isinstance(actual, str) and isinstance(wanted, (int, float)):
        try:
            return float(actual) == float(wanted)
        except ValueError:
            return False
    return bool(actual == wanted)


def _equals(actual: Any, wanted: Any) -> bool:
    candidates = wanted if isinstance(wanted, list) else [wanted]
    values = actual if isinstance(actual, list) else [actual]
    return any(_same(a, w) for a in values for w in candidates)


def _compare(actual: Any, wanted: Any, op: str) -> bool:
    left, right = actual, wanted
    if isinstance(left, (int, float)) and not isinstance(left, bool):
        try:
            right = float(wanted)
        except (TypeError, ValueError):
            return False
        left = float(left)
    else:
        left, right = _text(left), _text(wanted)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


@dataclass
class Query:
    dataset: Dataset
    fields: list[str]  # as requested (agg_timestamp included if the client listed it)
    header: list[str]  # header order: agg_timestamp first, then the requested fields
    row_keys: list[str]  # data-line order: requested fields, then agg_timestamp
    dimensions: list[str]  # grouping key (requested dimensions except agg_timestamp)
    metrics: list[str]  # requested metrics
    filters: list[Filter]
    order: list[OrderKey]
    rollup: str
    window: Window
    time_window: str | None
    page: tuple[int, int] | None  # (page_index, page_size)
    max_results: int | None
    extra: dict[str, Any] = field(default_factory=dict)
    time_zone: str | None = None  # None: UTC days; "campaign": each campaign's zone; else a zone name
    now: datetime | None = None

    def window_in(self, zone: tzinfo) -> Window:
        """The window with its days in ``zone`` (a named window; dates given are absolute)."""
        if self.time_window is None or self.now is None:
            return self.window
        return resolve(self.time_window, self.now, zone)

    def needed_dimensions(self) -> set[str]:
        names = set(self.dimensions)
        for f in self.filters:
            names |= f.fields()
        names |= {o.field for o in self.order}
        return {n for n in names if n != AGG and not self.dataset.fields[n].metric}

    def needed_metrics(self) -> set[str]:
        names = set(self.metrics)
        for f in self.filters:
            names |= f.fields()
        names |= {o.field for o in self.order}
        return {n for n in names if n != AGG and self.dataset.fields[n].metric}


def _bool(value: Any, what: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"{what} must be a boolean")
    return value


def _int(value: Any, what: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{what} must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and {maximum}" if maximum is not None else ""
        raise BadRequest(f"{what} must be between {minimum}{upper}" if upper else f"{what} must be at least {minimum}")
    return value


def _known(dataset: Dataset, name: Any, rollup: str, what: str = "field") -> str:
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{what} must be a non-empty string")
    if name == AGG and rollup == "all":
        raise BadRequest("agg_timestamp is only available with a rollup other than all")
    if not dataset.has(name):
        raise BadRequest(f"field does not exist in this dataset: {name}")
    return name


def _filter(dataset: Dataset, raw: Any, rollup: str, path: str) -> Filter:
    if not isinstance(raw, Mapping):
        raise BadRequest(f"{path} must be an object")
    op = raw.get("op", "=")
    if op is None:
        op = "="
    if op not in OPS:
        raise BadRequest(f"{path}.op: unknown filter operator: {op}")
    if op in ("and", "or"):
        children = raw.get("filters")
        if not isinstance(children, list) or len(children) < 2:
            raise BadRequest(f"{path}.filters: operator {op} needs at least 2 filters")
        return Filter(op, children=tuple(_filter(dataset, c, rollup, f"{path}.filters[{i}]")
                                         for i, c in enumerate(children)))
    name = _known(dataset, raw.get("field"), rollup, f"{path}.field")
    value = raw.get("value")
    if op in ("isNull", "isNotNull"):
        return Filter(op, name)
    if value is None:
        raise BadRequest(f"{path}.value is required for operator {op}")
    if isinstance(value, list):
        if not value or not all(isinstance(v, _SCALAR) for v in value):
            raise BadRequest(f"{path}.value must be a non-empty array of numbers, strings or booleans")
        if op not in ("=", "!="):
            raise BadRequest(f"{path}.value: operator {op} takes a single value, not an array")
    elif not isinstance(value, _SCALAR):
        raise BadRequest(f"{path}.value must be a number, a string, a boolean or an array of them")
    return Filter(op, name, value)


def _check_restrictions(dataset: Dataset, names: set[str], time_window: str | None, rollup: str) -> None:
    for name in sorted(names):
        info = dataset.fields[name]
        if info.rollups is not None and rollup not in info.rollups:
            raise BadRequest(f"field {name} does not support rollup {rollup} (supported: {', '.join(info.rollups)})")
        if time_window is not None and info.time_windows is not None and not window_name_matches(
            time_window, info.time_windows
        ):
            raise BadRequest(f"field {name} does not support time window {time_window}")


def parse_query(dataset: Dataset, body: Any, now: datetime) -> Query:
    if not isinstance(body, Mapping):
        raise BadRequest("the request body must be a JSON object")
    rollup = body.get("rollup")
    if not isinstance(rollup, str) or not rollup:
        raise BadRequest("rollup is required")
    if rollup not in ROLLUPS:
        raise BadRequest(f"unknown rollup: {rollup}")
    if rollup not in dataset.rollups:
        raise BadRequest(f"rollup {rollup} is not supported by this dataset (supported: {', '.join(dataset.rollups)})")

    fields = body.get("fields")
    if not isinstance(fields, list) or not fields:
        raise BadRequest("fields is required and must be a non-empty array")
    if len(set(map(str, fields))) != len(fields):
        raise BadRequest("fields must not repeat a field")
    requested = [_known(dataset, f, rollup) for f in fields]

    time_zone = body.get("time_zone")
    zone: tzinfo = UTC
    if time_zone is not None:
        if not dataset.time_zones:
            supported = sorted(d for d, info in _zoned_datasets().items() if info)
            raise BadRequest(f"time_zone is not supported by this dataset (only by: {', '.join(supported)})")
        if not isinstance(time_zone, str) or not time_zone:
            raise BadRequest("time_zone must be a string: campaign, UTC or a time zone name")
        if time_zone != "campaign":
            try:
                zone = zone_of(time_zone)
            except WindowError as exc:
                raise BadRequest(str(exc)) from None

    time_window = body.get("time_window")
    try:
        if time_window is not None:
            if not isinstance(time_window, str) or not window_name_matches(time_window, dataset.time_windows):
                raise BadRequest(
                    f"time window {time_window} is not supported by this dataset (supported: "
                    f"{', '.join(dataset.time_windows)})"
                )
            window = resolve(time_window, now, zone)
        elif body.get("start_time") is not None:
            if not dataset.date_range:
                raise BadRequest("this dataset needs a time_window; start_time/end_time are not supported")
            window = date_range(body.get("start_time"), body.get("end_time"), now)
        else:
            raise BadRequest("time_window or start_time is required")
        if time_window is None and body.get("end_time") is not None:
            parse_rfc3339(body["end_time"], "end_time")
    except WindowError as exc:
        raise BadRequest(str(exc)) from None

    raw_filters = body.get("filters")
    if not isinstance(raw_filters, list) or not raw_filters:
        raise BadRequest("filters is required and must be a non-empty array")
    filters = [_filter(dataset, f, rollup, f"filters[{i}]") for i, f in enumerate(raw_filters)]

    raw_order = body.get("order") or []
    if not isinstance(raw_order, list):
        raise BadRequest("order must be an array")
    order: list[OrderKey] = []
    for i, item in enumerate(raw_order):
        if not isinstance(item, Mapping):
            raise BadRequest(f"order[{i}] must be an object")
        name = _known(dataset, item.get("field"), rollup, f"order[{i}].field")
        if name != AGG and name not in requested:
            raise BadRequest(f"order[{i}].field: {name} must be one of the requested fields")
        order.append(OrderKey(name, _bool(item.get("desc"), f"order[{i}].desc"),
                              _bool(item.get("nulls_last"), f"order[{i}].nulls_last")))

    page: tuple[int, int] | None = None
    pagination = body.get("pagination")
    if pagination is not None:
        if not isinstance(pagination, Mapping):
            raise BadRequest("pagination must be an object")
        size = _int(pagination.get("page_size"), "pagination.page_size", 1, MAX_PAGE_SIZE)
        index = _int(pagination.get("page_index", 0), "pagination.page_index", 0)
        page = (index, size)

    max_results = body.get("max_results")
    if max_results is not None:
        max_results = _int(max_results, "max_results", 1)

    full_entities = body.get("full_entities")
    if full_entities is not None and (
        not isinstance(full_entities, list) or not all(isinstance(x, str) for x in full_entities)
    ):
        raise BadRequest("full_entities must be an array of strings")

    used = set(requested) | {o.field for o in order}
    for f in filters:
        used |= f.fields()
    if rollup != "all":
        used.add(AGG)
    _check_restrictions(dataset, used, time_window if isinstance(time_window, str) else None, rollup)

    dims = [f for f in requested if f != AGG and not dataset.fields[f].metric]
    metrics = [f for f in requested if dataset.fields[f].metric]
    if rollup != "all" and AGG not in requested:
        header, row_keys = [AGG, *requested], [*requested, AGG]
    else:
        header, row_keys = list(requested), list(requested)
    return Query(
        dataset=dataset,
        fields=requested,
        header=header,
        row_keys=row_keys,
        dimensions=dims,
        metrics=metrics,
        filters=filters,
        order=order,
        rollup=rollup,
        window=window,
        time_window=time_window if isinstance(time_window, str) else None,
        page=page,
        max_results=max_results,
        time_zone=time_zone,
        now=now,
    )


def _zoned_datasets() -> dict[str, tuple[str, ...]]:
    return {name: d.time_zones for name, d in datasets().items()}
