"""The Reporting API v2 datasets: their dimensions, metrics, time windows and rollups.

The facts come from the vendor's OpenAPI (``tests/vendor/mediamath-reporting-api-v2.openapi.yaml``),
where each dataset's field list is a Markdown table inside the operation's ``description``. They are
extracted once into ``datasets.json`` beside this module (the sandbox never reads the vendor file at
run time); ``python -m reconciler.sandbox.mediamath_reporting.catalog SPEC.yaml`` regenerates it and
the tests check that the JSON still matches the spec.

Per-field restrictions in the tables are kept (``agg_timestamp`` follows the dataset's rollups;
``performance.uniques`` lists its time windows).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from reconciler.sandbox.specdata import regenerate

CATALOG_FILE = Path(__file__).with_name("datasets.json")
ANY = "Any"

_ROW = re.compile(r"^\|`([a-z0-9_]+)`(?:<br>[^|]*)?\|([^|]*)\|([^|]*)\|\s*$")
_SECTION = re.compile(r"^### (.+?)\s*$")
_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class FieldInfo:
    name: str
    metric: bool
    time_windows: tuple[str, ...] | None  # None: any
    rollups: tuple[str, ...] | None  # None: any


@dataclass(frozen=True)
class Dataset:
    name: str
    summary: str
    time_windows: tuple[str, ...]  # as the spec spells them: current_day, last_X_days, last_7_days...
    rollups: tuple[str, ...]
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    fields: dict[str, FieldInfo]
    date_range: bool  # start_time/end_time accepted (reach-frequency: time_window only)
    time_zones: tuple[str, ...]

    def has(self, name: str) -> bool:
        return name in self.fields


def _codes(text: str) -> tuple[str, ...] | None:
    text = text.strip()
    if text == ANY:
        return None
    return tuple(_CODE.findall(text))


def parse_description(description: str) -> dict[str, Any]:
    """Fields, time windows and rollups from one dataset's Markdown description."""
    dims: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    sections: dict[str, list[str]] = {}
    table: list[dict[str, Any]] | None = None
    current: str | None = None
    for line in description.splitlines():
        if line.startswith("|**Dimensions**"):
            table = dims
            continue
        if line.startswith("|**Metrics**"):
            table = metrics
            continue
        heading = _SECTION.match(line)
        if heading:
            current, table = heading.group(1), None
            sections[current] = []
            continue
        row = _ROW.match(line)
        if row and table is not None:
            table.append({"name": row.group(1), "time_windows": _codes(row.group(2)), "rollups": _codes(row.group(3))})
        elif current and line.strip():
            sections[current].append(line.strip())
    return {
        "dimensions": dims,
        "metrics": metrics,
        "time_windows": list(_CODE.findall(" ".join(sections.get("Time Windows", [])))),
        "rollups": list(_CODE.findall(" ".join(sections.get("Rollups", [])))),
        "time_zones": list(_CODE.findall(" ".join(sections.get("Time Zones", [])))),
    }


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    """The catalog (JSON-able) from the parsed OpenAPI document."""
    out: dict[str, Any] = {}
    for path, item in sorted(spec["paths"].items()):
        op = item["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        parsed = parse_description(op["description"])
        restricted = {
            row["name"]: {"time_windows": row["time_windows"], "rollups": row["rollups"]}
            for row in parsed["dimensions"] + parsed["metrics"]
            if row["time_windows"] is not None or row["rollups"] is not None
        }
        out[path.strip("/")] = {
            "summary": op.get("summary", ""),
            "date_range": "start_time" in schema.get("properties", {}),
            "time_windows": parsed["time_windows"],
            "rollups": parsed["rollups"],
            "time_zones": parsed["time_zones"],
            "dimensions": [row["name"] for row in parsed["dimensions"]],
            "metrics": [row["name"] for row in parsed["metrics"]],
            "restricted_fields": restricted,
        }
    return out


@cache
def datasets() -> dict[str, Dataset]:
    with CATALOG_FILE.open(encoding="utf-8") as fh:
        raw: dict[str, Any] = json.load(fh)
    result: dict[str, Dataset] = {}
    for name, entry in raw.items():
        fields: dict[str, FieldInfo] = {}
        restricted: dict[str, Any] = entry["restricted_fields"]
        for metric, names in ((False, entry["dimensions"]), (True, entry["metrics"])):
            for field_name in names:
                rule = restricted.get(field_name, {})
                tw, ru = rule.get("time_windows"), rule.get("rollups")
                fields[field_name] = FieldInfo(
                    field_name, metric, tuple(tw) if tw is not None else None, tuple(ru) if ru is not None else None
                )
        result[name] = Dataset(
            name=name,
            summary=entry["summary"],
            time_windows=tuple(entry["time_windows"]),
            rollups=tuple(entry["rollups"]),
            dimensions=tuple(entry["dimensions"]),
            metrics=tuple(entry["metrics"]),
            fields=fields,
            date_range=bool(entry["date_range"]),
            time_zones=tuple(entry["time_zones"]),
        )
    return result


def main(argv: list[str]) -> int:  # pragma: no cover - maintenance tool
    return regenerate(argv, __name__, CATALOG_FILE, extract)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
