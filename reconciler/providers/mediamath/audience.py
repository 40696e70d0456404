"""The audience block of ``StrategyTargeting``: a strategy's audience segments by code.

Spec: ``audience: {include: [codes], exclude: [codes]}``, codes of the API's ``audience_segments``
(``BK-AUTO-INTENDERS``); owned whole and compared as sets like a target dimension (see
:mod:`.targeting`). How included (excluded) segments combine is the strategy's own
``audience_segment_include_op`` / ``_exclude_op`` (a ``Strategy`` field, guarded by its version).

Calls (reference §1.4-§1.5):

- **Reads** are batched: ``GET /strategy_audience_segments/limit/strategy=<id>,<id>,...`` (100
  strategies per request, paged 100 rows at a time), so the cost does not grow with one request
  per strategy. Each row carries ``restriction`` (INCLUDE/EXCLUDE) and the segment's ``code``.
- **Writes**: one ``POST /strategies/{id}/audience_segments`` with ``segments.N.id`` and
  ``.restriction`` for the segments to add or move between lists and a negative id for each to
  remove (the call is incremental: segments not named stay). The current assignments are read just
  before (one request). Codes become ids through ``GET /audience_segments?q=code==(...)``, cached for
  the run; an unknown code names the closest codes.
- **History**: the strategy's entries on ``audience_segments.include|exclude`` become
  ``audience.include|exclude`` with codes for ids.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import APIError, ProviderError
from reconciler.providers.mediamath.client import PAGE_LIMIT, MediaMathClient
from reconciler.providers.mediamath.wire import WireEntity

AUDIENCE = "audience"
LISTS = ("include", "exclude")
RESTRICTION = {"include": "INCLUDE", "exclude": "EXCLUDE"}
HISTORY_FIELDS = {"audience_segments.include": "audience.include", "audience_segments.exclude": "audience.exclude"}
_Q_UNSAFE = frozenset("&()<>=!:*,%")


class AudienceCalls:
    """Reads and writes of strategies' audience segments for one provider (one run)."""

    def __init__(self, client: MediaMathClient, slots: threading.BoundedSemaphore) -> None:
        self.client = client
        self._slots = slots
        self._lock = threading.Lock()
        self._ids: dict[str, str] = {}  # code -> segment id
        self._codes: dict[str, str] = {}  # segment id -> code

    # -- reading ---------------------------------------------------------------------------------
    def read(self, strategy_ids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
        """``{include, exclude}`` codes per strategy (every strategy asked gets both lists)."""
        out: dict[str, dict[str, set[str]]] = {sid: {lst: set() for lst in LISTS} for sid in strategy_ids}
        for start in range(0, len(strategy_ids), PAGE_LIMIT):
            chunk = strategy_ids[start : start + PAGE_LIMIT]
            for link in self._links(chunk):
                sid = link.value("strategy_id") or ""
                if sid in out:
                    out[sid][_list_of(link)].add(self._remember(link))
        return {sid: {lst: sorted(v) for lst, v in lists.items()} for sid, lists in out.items()}

    def _links(self, strategy_ids: Sequence[str]) -> list[WireEntity]:
        with self._slots:
            return list(self.client.iter_collection(
                f"/strategy_audience_segments/limit/strategy={','.join(strategy_ids)}"))

    def _remember(self, link: WireEntity) -> str:
        seg_id = link.value("audience_segment_id") or link.id
        code = (link.value("code") or "").strip() or seg_id
        with self._lock:
            self._ids[code] = seg_id
            self._codes[seg_id] = code
        return code

    # -- writing ---------------------------------------------------------------------------------
    def write(self, strategy_id: str, lists: Mapping[str, Any]) -> None:
        """Make the strategy's segments exactly ``lists`` (canonical codes) with one POST (none
        when they already are)."""
        wanted = {lst: self.resolve([str(c) for c in lists.get(lst) or ()], lst) for lst in LISTS}
        current: dict[str, str] = {}  # segment id -> include|exclude
        for link in self._links([strategy_id]):
            self._remember(link)
            current[link.value("audience_segment_id") or ""] = _list_of(link)
        desired = {seg: lst for lst in LISTS for seg in wanted[lst]}
        items: list[tuple[str, str | None]] = [(f"-{seg}", None) for seg in sorted(set(current) - set(desired), key=int)]
        items += [(seg, lst) for seg, lst in sorted(desired.items(), key=lambda i: int(i[0])) if current.get(seg) != lst]
        if not items:
            return
        form: dict[str, str] = {}
        for n, (seg, lst) in enumerate(items, 1):
            form[f"segments.{n}.id"] = seg
            if lst is not None:
                form[f"segments.{n}.restriction"] = RESTRICTION[lst]
        try:
            # incremental and idempotent (adding a present segment or removing an absent one changes
            # nothing): safe to resend after a lost answer
            self.client.request("POST", f"/strategies/{strategy_id}/audience_segments", data=form,
                                retry_writes=True)
        except APIError as exc:
            raise type(exc)(
                f"{AUDIENCE}: {exc.vendor_message}", method=exc.method, url=exc.url, status=exc.status,
                vendor_code=exc.vendor_code, retry_after=exc.retry_after,
            ) from None

    def resolve(self, codes: Sequence[str], where: str) -> list[str]:
        """Segment ids of ``codes`` (looked up once per run)."""
        with self._lock:
            missing = sorted({c for c in codes if c not in self._ids})
        if missing:
            safe = [c for c in missing if not _Q_UNSAFE & set(c)]
            for start in range(0, len(safe), PAGE_LIMIT):
                self._look_up({"q": "code==(" + ",".join(safe[start : start + PAGE_LIMIT]) + ")"})
            with self._lock:
                unknown = [c for c in missing if c not in self._ids]
            if unknown:
                known = self._look_up({})  # the whole tree: to name the closest codes
                with self._lock:
                    unknown = [c for c in missing if c not in self._ids]
                if unknown:
                    raise ProviderError(_unknown_codes(where, unknown, known))
        with self._lock:
            return [self._ids[c] for c in codes]

    def _look_up(self, params: Mapping[str, Any]) -> list[str]:
        codes = []
        with self._slots:
            entities = list(self.client.iter_collection("/audience_segments", params))
        for entity in entities:
            code = (entity.value("code") or "").strip()
            if code and (entity.value("buyable") or "1") != "0":
                with self._lock:
                    self._ids[code] = entity.id
                    self._codes[entity.id] = code
                codes.append(code)
        return codes

    # -- history ---------------------------------------------------------------------------------
    def named(self, ids: Sequence[str]) -> dict[str, str]:
        """Codes of segment ids (looked up 100 at a time when not seen yet; ids stay when unknown)."""
        with self._lock:
            unknown = [i for i in ids if i not in self._codes]
        for start in range(0, len(unknown), PAGE_LIMIT):
            chunk = unknown[start : start + PAGE_LIMIT]
            try:
                self._look_up({"q": "(" + ",".join(chunk) + ")"})
            except APIError:
                break  # names only: ids are shown instead
        with self._lock:
            return {i: self._codes.get(i, i) for i in ids}


def _list_of(link: WireEntity) -> str:
    return "exclude" if (link.value("restriction") or "").upper() == "EXCLUDE" else "include"


def _unknown_codes(where: str, unknown: Sequence[str], known: Sequence[str]) -> str:
    upper = {k.upper(): k for k in sorted(known, reverse=True)}
    parts = []
    for code in unknown:
        close = [upper[c] for c in difflib.get_close_matches(code.upper(), list(upper), n=3, cutoff=0.5)]
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        parts.append(f"'{code}' is not a code of the API's audience_segments{hint}")
    return f"{AUDIENCE}.{where}: " + "; ".join(parts)
