"""Strategy targeting in the MediaMath v2.0 emulator, and the lookups it is written with.

``/strategies/{id}/target_dimensions/{n}`` (reference §1.4-§1.5, §2.1):

- ``GET`` answers the strategy's include and exclude lists for dimension ``n`` as the API does:
  ``<enabled active=.../>``, then ``<include>`` and ``<exclude>``, each holding
  ``<entities target_op="OR">`` of ``target_value`` entities (props ``value``, ``code``,
  ``is_targetable``, ``target_dimension_id``, ``name``); JSON ``{"data": {"enabled", "include",
  "exclude"}}``. A dimension never written answers two empty lists.
- ``POST`` replaces both lists with the form's repeated ``include=`` and ``exclude=`` target value
  ids (a JSON body ``{"include": [...], "exclude": [...]}`` works too); a list not sent is emptied,
  so an empty POST clears the dimension. Target dimensions have **no version**: one sent is ignored,
  and the strategy's own version does not move. Every id must be an integer naming a target value
  of dimension ``n`` that is targetable, and none may be both included and excluded: otherwise 400
  ``invalid`` with a ``field-error`` named ``include`` or ``exclude``. An unknown dimension is 404,
  a strategy of another organisation 403 ``denied``.
- A change adds an ``update`` entry to the **strategy's** ``/history``, naming the user, with the
  fields ``target_dimensions.<n>.include`` / ``.exclude`` (old and new values: the target value ids,
  sorted, comma-separated). A POST that changes nothing adds none.

Stored per strategy and dimension in the Store collection ``strategy_targets`` under
``<strategy id>:<n>``: ``{"include": [ids], "exclude": [ids]}`` (sorted).

Lookups (global reference data, read-only, loaded by every reset): ``target_dimensions`` (the
sixteen dimension ids the vendor's SDK knows, with the codes the v3 OpenAPI documents) and
``target_values`` (:data:`TARGET_VALUES`: a few values for region 7, country 14, device 24, os 5,
browser 4, dma 1, isp 3 and connection speed 2). Both are ordinary collections:
``/target_values/limit/target_dimension=7?q=code==(US-CA,US-NY)&full=*``, ``/target_values/{id}``.
Region values name their country as ``parent_value_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.sandbox.base import EmulatorError
from reconciler.sandbox.info import Entry
from reconciler.sandbox.mediamath.models import FieldError
from reconciler.sandbox.mediamath.repo import API, Repo, ValidationFailed, history_entry
from reconciler.sandbox.mediamath.values import now_text

TARGETS = "strategy_targets"
LISTS = ("include", "exclude")

# (id, name, code) of the target dimensions; ids and names from the vendor's SDK (CHILD_PATHS),
# codes where the v3 OpenAPI documents them (``target_dimension_include.code``)
TARGET_DIMENSIONS: tuple[tuple[int, str, str | None], ...] = (
    (1, "DMA", "DMAX"), (2, "Connection Speed", "CSPD"), (3, "ISP", "ISPX"), (4, "Browser", "BSER"),
    (5, "OS", "OSXX"), (7, "Region", "REGN"), (8, "MathSelect250", None), (14, "Country", None),
    (15, "Safety", "SFTY"), (16, "Channels", None), (19, "Fold Position", None), (20, "Linear Format", None),
    (21, "Content Initiation", None), (22, "Audio", None), (23, "Player Size", None), (24, "Device", "DVCE"),
)

# (id, dimension, code, name, value, parent value id, targetable)
TARGET_VALUES: tuple[tuple[int, int, str, str, int, int | None, bool], ...] = (
    (140001, 14, "US", "United States", 840, None, True),
    (140002, 14, "CA", "Canada", 124, None, True),
    (140003, 14, "GB", "United Kingdom", 826, None, True),
    (140004, 14, "DE", "Germany", 276, None, True),
    (140005, 14, "FR", "France", 250, None, True),
    (70001, 7, "US-CA", "California", 6, 140001, True),
    (70002, 7, "US-NY", "New York", 36, 140001, True),
    (70003, 7, "US-TX", "Texas", 48, 140001, True),
    (70004, 7, "US-FL", "Florida", 12, 140001, True),
    (70005, 7, "US-WA", "Washington", 53, 140001, True),
    (70006, 7, "CA-ON", "Ontario", 35, 140002, True),
    (70007, 7, "CA-QC", "Quebec", 24, 140002, True),
    (70008, 7, "GB-ENG", "England", 1, 140003, True),
    (10001, 1, "501", "New York", 501, None, True),
    (10002, 1, "803", "Los Angeles", 803, None, True),
    (10003, 1, "602", "Chicago", 602, None, True),
    (240001, 24, "DESKTOP", "Desktop", 1, None, True),
    (240002, 24, "SMARTPHONE", "Smartphone", 2, None, True),
    (240003, 24, "TABLET", "Tablet", 3, None, True),
    (240004, 24, "CTV", "Connected TV", 4, None, True),
    (240005, 24, "UNKNOWN", "Unknown device", 0, None, False),
    (50001, 5, "WINDOWS", "Windows", 1, None, True),
    (50002, 5, "MACOS", "macOS", 2, None, True),
    (50003, 5, "IOS", "iOS", 3, None, True),
    (50004, 5, "ANDROID", "Android", 4, None, True),
    (50005, 5, "LINUX", "Linux", 5, None, True),
    (40001, 4, "CHROME", "Chrome", 1, None, True),
    (40002, 4, "SAFARI", "Safari", 2, None, True),
    (40003, 4, "FIREFOX", "Firefox", 3, None, True),
    (40004, 4, "EDGE", "Microsoft Edge", 4, None, True),
    (30001, 3, "COMCAST", "Comcast", 1, None, True),
    (30002, 3, "VERIZON", "Verizon", 2, None, True),
    (30003, 3, "ATT", "AT&T", 3, None, True),
    (20001, 2, "BROADBAND", "Broadband", 1, None, True),
    (20002, 2, "CELLULAR", "Cellular", 2, None, True),
    (20003, 2, "DIALUP", "Dial-up", 3, None, True),
)


def lookup_documents(stamp_time: str) -> dict[str, list[dict[str, Any]]]:
    """The seeded lookups, in the wire form ``load_entities`` takes (created/updated ``stamp_time``)."""
    codes = {dim_id: code for dim_id, _, code in TARGET_DIMENSIONS}
    children: dict[int, int] = {}
    for _, _, _, _, _, parent, _ in TARGET_VALUES:
        if parent is not None:
            children[parent] = children.get(parent, 0) + 1
    stamp = {"created_on": stamp_time, "updated_on": stamp_time}
    return {
        "target_dimensions": [{"id": i, "name": name, "code": code, **stamp} for i, name, code in TARGET_DIMENSIONS],
        "target_values": [
            {"id": i, "name": name, "code": code, "value": value, "dimension_code": codes[dim],
             "target_dimension_id": dim, "parent_value_id": parent, "is_targetable": targetable,
             "child_count": children.get(i, 0), **stamp}
            for i, dim, code, name, value, parent, targetable in TARGET_VALUES
        ],
    }


def describe_lookups() -> list[Entry]:
    """``sandbox info`` rows: each seeded target value (id, code, then its name and dimension)."""
    names = {dim_id: name for dim_id, name, _ in TARGET_DIMENSIONS}
    return [
        Entry("target_value", str(value_id), code,
              f"{name}{'' if targetable else ' (not targetable)'}; {names[dim].lower()}, target dimension {dim}")
        for dim in sorted({v[1] for v in TARGET_VALUES})
        for value_id, value_dim, code, name, _, _, targetable in TARGET_VALUES
        if value_dim == dim
    ]


class Targeting:
    """Reads and writes of strategies' target dimensions (the handlers' logic; no HTTP here)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def dimension(self, dim: int) -> dict[str, Any]:
        found = self.repo.get("target_dimensions", dim)
        if found is None:
            raise EmulatorError(404, "not_found", f"target dimension {dim} not found")
        return found

    def lists(self, strategy_id: int, dim: int) -> dict[str, list[int]]:
        stored = self.repo.store.get(API, TARGETS, f"{strategy_id}:{dim}") or {}
        return {name: list(stored.get(name) or []) for name in LISTS}

    def values(self, ids: Iterable[int]) -> list[dict[str, Any]]:
        return [doc for doc in (self.repo.get("target_values", i) for i in ids) if doc is not None]

    def write(
        self, strategy: Mapping[str, Any], dim: int, submitted: Mapping[str, Sequence[Any]], user: Mapping[str, Any]
    ) -> dict[str, list[int]]:
        """Replace dimension ``dim`` of ``strategy`` with the submitted lists (after validation)."""
        self.dimension(dim)
        errors: list[FieldError] = []
        wanted: dict[str, list[int]] = {}
        for name in LISTS:
            ids: set[int] = set()
            for raw in submitted.get(name) or ():
                ids.update(self._checked(name, raw, dim, errors))
            wanted[name] = sorted(ids)
        for both in sorted(set(wanted["include"]) & set(wanted["exclude"])):
            errors.append(FieldError("exclude", f"target value {both} is also included"))
        if errors:
            raise ValidationFailed(errors)
        current = self.lists(int(strategy["id"]), dim)
        changes = [
            {"name": f"target_dimensions.{dim}.{name}", "old_value": _joined(current[name]),
             "new_value": _joined(wanted[name])}
            for name in LISTS
            if current[name] != wanted[name]
        ]
        if changes:
            self.repo.store.put(API, TARGETS, f"{strategy['id']}:{dim}", dict(wanted))
            self.repo.add_history("strategies", strategy, history_entry("update", now_text(), user, changes))
        return wanted

    def _checked(self, name: str, raw: Any, dim: int, errors: list[FieldError]) -> list[int]:
        """The target value id(s) of one submitted value (a JSON list item may itself be a list)."""
        items = raw if isinstance(raw, list) else [raw]
        out: list[int] = []
        for item in items:
            text = str(item).strip()
            if isinstance(item, bool) or not text.isdigit():
                errors.append(FieldError(name, f"{text!r} is not a target value id"))
                continue
            doc = self.repo.get("target_values", int(text))
            if doc is None:
                errors.append(FieldError(name, f"target value {text} does not exist"))
            elif doc.get("target_dimension_id") != dim:
                errors.append(FieldError(
                    name, f"target value {text} ({doc.get('code')}) belongs to target dimension "
                          f"{doc.get('target_dimension_id')}, not {dim}"))
            elif not doc.get("is_targetable", True):
                errors.append(FieldError(name, f"target value {text} ({doc.get('code')}) is not targetable"))
            else:
                out.append(int(text))
        return out


def submitted_lists(form: Mapping[str, Any], getlist: Any) -> dict[str, list[Any]]:
    """The ``include``/``exclude`` values of a form (repeated keys) or of a JSON body; any other
    field (but ``version`` and ``api_key``, which are ignored) is a validation error."""
    unknown = sorted(k for k in form if k not in (*LISTS, "version", "api_key"))
    if unknown:
        raise ValidationFailed([FieldError(k, "is not a field of target_dimension") for k in unknown])
    return {name: _as_list(getlist(name)) for name in LISTS}


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _joined(ids: Sequence[int]) -> str:
    return ",".join(str(i) for i in ids)
