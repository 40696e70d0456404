"""The ``supply_sources``, ``deals`` and ``site_lists`` lists of ``StrategyTargeting``: where a strategy buys.

Spec: ``supply_sources: [codes]`` (codes of the API's ``supply_sources``, ``ADX``), ``deals:
[codes]`` (the deals' ``deal_identifier``, ``ACME-PREMIUM-2026``) and ``site_lists: [names]``
(names of the organisation's ``site_lists``; whether a list includes or excludes its domains is
the list's own ``restriction``); sets, owned whole when written (``[]`` removes every one), left
alone when not written. Site lists: ``POST /strategies/{id}/site_lists`` with repeated
``site_list_ids``, read through ``/strategy_site_lists/limit/strategy=...``.

Calls (reference §1.4-§1.5):

- **Reads** are batched: ``GET /strategy_supply_sources/limit/strategy=<id>,...`` and
  ``/strategy_deals/limit/strategy=<id>,...`` (100 strategies per request, paged), each row
  carrying the code: the cost does not grow with one request per strategy.
- **Writes**: ``POST /strategies/{id}/supplies`` with repeated ``supply_source_ids`` and
  ``POST /strategies/{id}/deals`` with repeated ``deal_ids``; each replaces the strategy's set
  (safe to resend). Codes become ids through the lookup (``q=code==(...)`` /
  ``q=deal_identifier==(...)``), cached for the run; an unknown code names the closest ones.
- **History**: the strategy's entries on ``supply_sources`` / ``deals``, ids named by code.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import APIError, ProviderError
from reconciler.providers.mediamath.client import PAGE_LIMIT, MediaMathClient
from reconciler.providers.mediamath.wire import WireEntity

_Q_UNSAFE = frozenset("&()<>=!:*,%")


@dataclass(frozen=True)
class Pick:
    """One list of picks: the spec key and its wire facts."""

    key: str  # spec key and history field
    endpoint: str  # POST /strategies/{id}/<endpoint>
    form_field: str  # repeated ids
    lookup: str  # collection of what is picked
    code_field: str  # the picked entity's code
    links: str  # linkage collection
    link_field: str  # the linkage's id of the picked entity


SUPPLY_SOURCES = Pick("supply_sources", "supplies", "supply_source_ids", "supply_sources", "code",
                      "strategy_supply_sources", "supply_source_id")
DEALS = Pick("deals", "deals", "deal_ids", "deals", "deal_identifier", "strategy_deals", "deal_id")
SITE_LISTS = Pick("site_lists", "site_lists", "site_list_ids", "site_lists", "name", "strategy_site_lists",
                  "site_list_id")
PICKS: Mapping[str, Pick] = {p.key: p for p in (SUPPLY_SOURCES, DEALS, SITE_LISTS)}


class PickCalls:
    """Reads and writes of one list of picks for one provider (one run): codes cached here."""

    def __init__(self, pick: Pick, client: MediaMathClient, slots: threading.BoundedSemaphore) -> None:
        self.pick = pick
        self.client = client
        self._slots = slots
        self._lock = threading.Lock()
        self._ids: dict[str, str] = {}  # code -> id
        self._codes: dict[str, str] = {}  # id -> code

    def read(self, strategy_ids: Sequence[str]) -> dict[str, list[str]]:
        """The codes picked by each strategy asked (every one gets a list)."""
        out: dict[str, set[str]] = {sid: set() for sid in strategy_ids}
        for start in range(0, len(strategy_ids), PAGE_LIMIT):
            for link in self._links(strategy_ids[start : start + PAGE_LIMIT]):
                sid = link.value("strategy_id") or ""
                if sid in out:
                    out[sid].add(self._remember(link.value(self.pick.link_field) or link.id, link.value("code")))
        return {sid: sorted(codes) for sid, codes in out.items()}

    def _links(self, strategy_ids: Sequence[str]) -> list[WireEntity]:
        with self._slots:
            return list(self.client.iter_collection(f"/{self.pick.links}/limit/strategy={','.join(strategy_ids)}"))

    def _remember(self, pick_id: str, code: str | None) -> str:
        code = (code or "").strip() or pick_id
        with self._lock:
            self._ids[code] = pick_id
            self._codes[pick_id] = code
        return code

    def write(self, strategy_id: str, codes: Sequence[str]) -> None:
        """Replace the strategy's picks with ``codes`` (one POST)."""
        ids = self.resolve([str(c) for c in codes])
        try:
            self.client.request("POST", f"/strategies/{strategy_id}/{self.pick.endpoint}",
                                data={self.pick.form_field: ids}, retry_writes=True)
        except APIError as exc:
            raise type(exc)(
                f"{self.pick.key}: {exc.vendor_message}", method=exc.method, url=exc.url, status=exc.status,
                vendor_code=exc.vendor_code, retry_after=exc.retry_after,
            ) from None

    def resolve(self, codes: Sequence[str]) -> list[str]:
        with self._lock:
            missing = sorted({c for c in codes if c not in self._ids})
        if missing:
            safe = [c for c in missing if not _Q_UNSAFE & set(c)]
            for start in range(0, len(safe), PAGE_LIMIT):
                self._look_up({"q": f"{self.pick.code_field}==(" + ",".join(safe[start : start + PAGE_LIMIT]) + ")"})
            with self._lock:
                unknown = [c for c in missing if c not in self._ids]
            if unknown:
                known = self._look_up({})
                with self._lock:
                    unknown = [c for c in missing if c not in self._ids]
                if unknown:
                    raise ProviderError(self._unknown(unknown, known))
        with self._lock:
            return [self._ids[c] for c in codes]

    def _look_up(self, params: Mapping[str, Any]) -> list[str]:
        with self._slots:
            entities = list(self.client.iter_collection(f"/{self.pick.lookup}", params))
        return [self._remember(e.id, e.value(self.pick.code_field)) for e in entities
                if (e.value("status") or "1") != "0"]

    def named(self, ids: Sequence[str]) -> dict[str, str]:
        """Codes of ids (looked up when not seen yet; ids stay when unknown)."""
        with self._lock:
            unknown = [i for i in ids if i not in self._codes]
        for start in range(0, len(unknown), PAGE_LIMIT):
            try:
                self._look_up({"q": "(" + ",".join(unknown[start : start + PAGE_LIMIT]) + ")"})
            except APIError:
                break
        with self._lock:
            return {i: self._codes.get(i, i) for i in ids}

    def _unknown(self, unknown: Sequence[str], known: Sequence[str]) -> str:
        upper = {k.upper(): k for k in sorted(known, reverse=True)}
        parts = []
        for code in unknown:
            close = [upper[c] for c in difflib.get_close_matches(code.upper(), list(upper), n=3, cutoff=0.5)]
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            parts.append(f"'{code}' is not a {self.pick.code_field} of the API's {self.pick.lookup}{hint}")
        return f"{self.pick.key}: " + "; ".join(parts)
