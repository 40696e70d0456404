"""Audience segments of strategies in the MediaMath v2.0 emulator, and the segment tree they come from.

``POST /strategies/{id}/audience_segments`` (reference §1.5, the vendor SDK's
``save_audience_segments``): form fields ``segments.N.id`` (N from 1), ``segments.N.restriction``
(``INCLUDE``, the default, or ``EXCLUDE``), ``segments.N.group_identifier`` and the strategy's
``include_op`` / ``exclude_op`` (``AND``/``OR``). The call is incremental: a positive id adds the
segment to the strategy (or changes its restriction or group), a **negative** id removes it
(removing one the strategy does not have is a no-op); segments not named stay. The operators are
the strategy's own fields ``audience_segment_include_op`` / ``_exclude_op`` (the strategy's version
moves when one changes). Segment assignments have no version of their own that a caller sends.
Every id must name a buyable segment of ``audience_segments``; a segment both included and
excluded in one call, a bad restriction or operator: 400 ``invalid`` with a ``field-error``. The
answer is the strategy's ``strategy_audience_segments``.

A change adds one ``update`` entry to the **strategy's** ``/history``, naming the user, with the
fields ``audience_segments.include`` / ``.exclude`` (old and new: the segment ids, sorted,
comma-separated), so drift can say who changed which segments.

The assignments are the collection ``strategy_audience_segments`` (``strategy_id``,
``audience_segment_id``, ``restriction``, ``group_identifier``, ``operator``, read-only ``code``
of the segment, ``version``), listed like any collection:
``/strategy_audience_segments/limit/strategy.campaign=<id>``, ``/limit/strategy=<id>,<id>``.

The segment tree (:data:`AUDIENCE_SEGMENTS`, loaded by every reset, listed by ``sandbox info``):
two vendors' folders (not buyable) and their segments, each with a ``code``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.sandbox.info import Entry
from reconciler.sandbox.mediamath.models import SEG_OPS, FieldError
from reconciler.sandbox.mediamath.repo import API, Repo, ValidationFailed, history_entry
from reconciler.sandbox.mediamath.values import now_text

LINKS = "strategy_audience_segments"
RESTRICTIONS = ("INCLUDE", "EXCLUDE")
_SEGMENT_KEY = re.compile(r"^segments\.(\d+)\.(id|restriction|group_identifier)$")

# (id, parent id, code, name, buyable, retail cpm)
AUDIENCE_SEGMENTS: tuple[tuple[int, int | None, str, str, bool, str | None], ...] = (
    (800001, None, "BK", "Bluekai", False, None),
    (800002, 800001, "BK-AUTO-INTENDERS", "Auto Intenders", True, "1.50"),
    (800003, 800001, "BK-IN-MARKET-SUV", "In-Market SUV", True, "1.75"),
    (800004, 800001, "BK-TRAVELERS", "Frequent Travelers", True, "1.25"),
    (800005, 800001, "BK-HIGH-INCOME", "High Income Households", True, "2.00"),
    (800101, None, "EX", "Exelate", False, None),
    (800102, 800101, "EX-PARENTS", "Parents", True, "1.00"),
    (800103, 800101, "EX-STUDENTS", "Students", True, "0.90"),
    (800104, 800101, "EX-CURRENT-CUSTOMERS", "Current Customers", True, "0.50"),
)


def segment_documents(stamp_time: str) -> dict[str, list[dict[str, Any]]]:
    """The seeded segment tree in the wire form ``load_entities`` takes."""
    by_id = {s[0]: s for s in AUDIENCE_SEGMENTS}

    def path(seg_id: int) -> str:
        _, parent, _, name, _, _ = by_id[seg_id]
        return f"{path(parent)} - {name}" if parent is not None else name

    children: dict[int, int] = {}
    for _, parent, *_ in AUDIENCE_SEGMENTS:
        if parent is not None:
            children[parent] = children.get(parent, 0) + 1
    return {"audience_segments": [
        {"id": i, "name": name, "code": code, "full_path": path(i), "parent_audience_segment_id": parent,
         "buyable": buyable, "child_count": children.get(i, 0), "audience_vendor_id": parent or i,
         "retail_cpm": cpm, "created_on": stamp_time, "updated_on": stamp_time}
        for i, parent, code, name, buyable, cpm in AUDIENCE_SEGMENTS
    ]}


def describe_segments() -> list[Entry]:
    """``sandbox info`` rows: each seeded audience segment (kind ``segment``: id, code, then its path)."""
    names = {s[0]: s[3] for s in AUDIENCE_SEGMENTS}
    return [
        Entry("segment", str(i), code, "audience segment "
              f"{names[parent] + ' - ' if parent else ''}{name}{'' if buyable else ' (a folder: not buyable)'}")
        for i, parent, code, name, buyable, _ in AUDIENCE_SEGMENTS
    ]


class Audiences:
    """Writes of strategies' audience segments (the handler's logic; no HTTP here)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def of(self, strategy_id: int) -> list[dict[str, Any]]:
        return sorted((d for d in self.repo.all(LINKS) if d.get("strategy_id") == strategy_id), key=lambda d: d["id"])

    def write(self, strategy: Mapping[str, Any], form: Mapping[str, Any], user: Mapping[str, Any]) -> None:
        """Apply one ``POST /strategies/{id}/audience_segments`` (validated whole before any change)."""
        errors: list[FieldError] = []
        submitted: dict[int, dict[str, str]] = {}
        ops: dict[str, str] = {}
        for key, raw in form.items():
            value = "" if raw is None else str(raw).strip()
            match = _SEGMENT_KEY.match(key)
            if match:
                submitted.setdefault(int(match[1]), {})[match[2]] = value
            elif key in ("include_op", "exclude_op"):
                if value.upper() not in SEG_OPS:
                    errors.append(FieldError(key, f"must be one of {', '.join(SEG_OPS)}"))
                else:
                    ops[f"audience_segment_{key}"] = value.upper()
            elif key not in ("api_key", "version"):
                errors.append(FieldError(key, "is not a field of strategy audience segments"))
        adds: dict[int, dict[str, Any]] = {}
        removes: set[int] = set()
        for n in sorted(submitted):
            item = submitted[n]
            name = f"segments.{n}.id"
            text = item.get("id", "")
            if not re.fullmatch(r"-?\d+", text):
                errors.append(FieldError(name, f"{text!r} is not an audience segment id" if text else "is required"))
                continue
            seg_id = int(text)
            restriction = (item.get("restriction") or "INCLUDE").upper()
            if restriction not in RESTRICTIONS:
                errors.append(FieldError(f"segments.{n}.restriction", "must be INCLUDE or EXCLUDE"))
                continue
            segment = self.repo.get("audience_segments", abs(seg_id))
            if segment is None:
                errors.append(FieldError(name, f"audience segment {abs(seg_id)} does not exist"))
            elif seg_id < 0:
                removes.add(-seg_id)
            elif not segment.get("buyable", True):
                errors.append(FieldError(name, f"audience segment {seg_id} ({segment.get('code')}) is not buyable"))
            elif seg_id in adds and adds[seg_id]["restriction"] != restriction:
                errors.append(FieldError(name, f"audience segment {seg_id} is both included and excluded"))
            else:
                adds[seg_id] = {"restriction": restriction, "group_identifier": item.get("group_identifier") or None,
                                "code": segment.get("code")}
        if errors:
            raise ValidationFailed(errors)
        self._store(strategy, adds, removes, ops, user)

    def _store(self, strategy: Mapping[str, Any], adds: Mapping[int, Mapping[str, Any]], removes: set[int],
               ops: Mapping[str, str], user: Mapping[str, Any]) -> None:
        sid = int(strategy["id"])
        current = {int(d["audience_segment_id"]): d for d in self.of(sid)}
        before = _lists(current.values())
        now = now_text()
        for seg_id in sorted(removes - set(adds)):
            if seg_id in current:
                self.repo.store.delete(API, LINKS, int(current.pop(seg_id)["id"]))
        for seg_id, values in sorted(adds.items()):
            link = current.get(seg_id)
            if link is None:
                link = {"id": self.repo.new_id(LINKS), "name": None, "version": 0, "created_on": now,
                        "strategy_id": sid, "audience_segment_id": seg_id, "operator": "OR"}
            elif all(link.get(k) == v for k, v in values.items()):
                continue
            else:
                link = {**link, "version": int(link.get("version", 0)) + 1}
            link.update(values, updated_on=now)
            current[seg_id] = self.repo.put(LINKS, link)
        after = _lists(current.values())
        changes = [
            {"name": f"audience_segments.{lst.lower()}", "old_value": _joined(before[lst]),
             "new_value": _joined(after[lst])}
            for lst in RESTRICTIONS if before[lst] != after[lst]
        ]
        if ops:
            fresh = self.repo.get("strategies", sid) or strategy
            if any(fresh.get(k) != v for k, v in ops.items()):
                self.repo.update("strategies", sid, dict(ops), user, check_version=False)
        if changes:
            self.repo.add_history("strategies", strategy, history_entry("update", now, user, changes))


def _lists(links: Any) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {lst: [] for lst in RESTRICTIONS}
    for link in links:
        out[link.get("restriction") or "INCLUDE"].append(int(link["audience_segment_id"]))
    return {k: sorted(v) for k, v in out.items()}


def _joined(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)
