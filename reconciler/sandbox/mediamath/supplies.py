"""Supply sources, deals and site lists of strategies in the MediaMath v2.0 emulator, and the lookups behind them.

``POST /strategies/{id}/site_lists`` (repeated ``site_list_ids``) works the same way over the seeded
organisation-level ``site_lists`` (:data:`SITE_LISTS`; the real API takes them as uploaded files),
listed in ``strategy_site_lists`` with the list's name as ``code``; history field ``site_lists``.

``POST /strategies/{id}/supplies`` and ``POST /strategies/{id}/deals`` (reference §1.5 names the
endpoints; their form is not documented there: the sandbox takes repeated ``supply_source_ids=``
and ``deal_ids=``, the field name of the API's documented refusal ``<field-error name="deal_ids"
error="Invalid deal id(s)"/>``). Each POST **replaces** the strategy's set (an empty POST clears
it), has no version, and answers the strategy's ``strategy_supply_sources`` / ``strategy_deals``.
Every id must name an active supply source (deal): otherwise 400 ``invalid``, field-error
``supply_source_ids`` / ``deal_ids`` "Invalid ... id(s)" naming them. A change adds one ``update``
entry to the strategy's ``/history`` (fields ``supply_sources`` / ``deals``, old and new ids).

The picks are the collections ``strategy_supply_sources`` (``strategy_id``, ``supply_source_id``,
read-only ``code``) and ``strategy_deals`` (``strategy_id``, ``deal_id``, ``code`` = the deal's
``deal_identifier``), listed like any collection (``/limit/strategy.campaign=<id>``,
``/limit/strategy=<id>,<id>``). The lookups (:data:`SUPPLY_SOURCES`, :data:`DEALS`) are loaded by
every reset and listed by ``sandbox info``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.sandbox.info import Entry
from reconciler.sandbox.mediamath.models import FieldError
from reconciler.sandbox.mediamath.repo import API, Repo, ValidationFailed, history_entry
from reconciler.sandbox.mediamath.values import now_text

# (id, code, name, rtb type, status)
SUPPLY_SOURCES: tuple[tuple[int, str, str, str, bool], ...] = (
    (90001, "ADX", "Google AdX", "STANDARD", True),
    (90002, "APPNEXUS", "Xandr (AppNexus)", "STANDARD", True),
    (90003, "RUBICON", "Magnite (Rubicon)", "STANDARD", True),
    (90004, "OPENX", "OpenX", "STANDARD", True),
    (90005, "PUBMATIC", "PubMatic", "MARKETPLACE", True),
    (90006, "RETIRED-X", "Retired Exchange", "STANDARD", False),
)
# (id, deal_identifier, name, supply source id, floor price, status)
DEALS: tuple[tuple[int, str, str, int, str, bool], ...] = (
    (95001, "ACME-PREMIUM-2026", "ACME Premium Video", 90001, "12.00", True),
    (95002, "NEWS-HOMEPAGE", "News Homepage Takeover", 90003, "8.50", True),
    (95003, "SPORTS-PMP", "Sports PMP", 90005, "6.00", True),
    (95004, "EXPIRED-DEAL", "Expired Deal", 90002, "5.00", False),
)
# (id, name, organization id, restriction, status): site lists are uploaded files of domains in the
# real API; the sandbox seeds them in the demo organisation.
SITE_LISTS: tuple[tuple[int, str, int, str, bool], ...] = (
    (97001, "Brand Safe Publishers", 100048, "INCLUDE", True),
    (97002, "News Publishers", 100048, "INCLUDE", True),
    (97003, "Blocked Domains", 100048, "EXCLUDE", True),
    (97004, "Made For Advertising", 100048, "EXCLUDE", True),
    (97005, "Retired List", 100048, "EXCLUDE", False),
)


@dataclass(frozen=True)
class PickSet:
    """One kind of strategy pick: its endpoint, form field, lookup and linkage collection."""

    endpoint: str  # /strategies/{id}/<endpoint>
    form_field: str  # repeated ids
    lookup: str  # collection of what is picked
    links: str  # linkage collection
    link_field: str  # the linkage's id of the picked entity
    code_field: str  # the picked entity's code
    history_field: str  # the strategy's history field
    noun: str  # in messages


SUPPLIES = PickSet("supplies", "supply_source_ids", "supply_sources", "strategy_supply_sources", "supply_source_id",
                   "code", "supply_sources", "supply source")
DEAL_PICKS = PickSet("deals", "deal_ids", "deals", "strategy_deals", "deal_id", "deal_identifier", "deals", "deal")
SITE_LIST_PICKS = PickSet("site_lists", "site_list_ids", "site_lists", "strategy_site_lists", "site_list_id", "name",
                          "site_lists", "site list")
PICK_SETS: Mapping[str, PickSet] = {p.endpoint: p for p in (SUPPLIES, DEAL_PICKS, SITE_LIST_PICKS)}


def supply_documents(stamp_time: str) -> dict[str, list[dict[str, Any]]]:
    """The seeded supply sources and deals in the wire form ``load_entities`` takes."""
    stamp = {"created_on": stamp_time, "updated_on": stamp_time}
    return {
        "supply_sources": [
            {"id": i, "code": code, "name": name, "supply_type": "exchange", "rtb_type": rtb, "rtb_enabled": True,
             "pmp_enabled": rtb == "MARKETPLACE", "status": status, **stamp}
            for i, code, name, rtb, status in SUPPLY_SOURCES
        ],
        "deals": [
            {"id": i, "deal_identifier": ident, "name": name, "supply_source_id": source, "price": price,
             "price_type": "FLOOR", "status": status, **stamp}
            for i, ident, name, source, price, status in DEALS
        ],
        "site_lists": [
            {"id": i, "name": name, "organization_id": org, "filename": f"site_list_{i}.csv", "restriction": restriction,
             "status": status, **stamp}
            for i, name, org, restriction, status in SITE_LISTS
        ],
    }


def describe_supplies() -> list[Entry]:
    """``sandbox info`` rows: each seeded supply source and deal (id, code, then its name)."""
    return [
        *(Entry("supply", str(i), code, f"supply source {name}{'' if status else ' (inactive)'}")
          for i, code, name, _, status in SUPPLY_SOURCES),
        *(Entry("deal", str(i), ident, f"{name}{'' if status else ' (inactive)'}; supply source {source}")
          for i, ident, name, source, _, status in DEALS),
        *(Entry("site_list", str(i), name, f"{restriction} list of organization {org}{'' if status else ' (inactive)'}")
          for i, name, org, restriction, status in SITE_LISTS),
    ]


class Picks:
    """Writes of strategies' supply sources, deals and site lists (the handlers' logic; no HTTP here)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def of(self, picks: PickSet, strategy_id: int) -> list[dict[str, Any]]:
        return sorted((d for d in self.repo.all(picks.links) if d.get("strategy_id") == strategy_id),
                      key=lambda d: d["id"])

    def write(self, picks: PickSet, strategy: Mapping[str, Any], form: Mapping[str, Any], getlist: Any,
              user: Mapping[str, Any]) -> None:
        """Replace the strategy's set with the submitted ids (validated whole first)."""
        unknown = sorted(k for k in form if k not in (picks.form_field, "api_key", "version"))
        if unknown:
            raise ValidationFailed([FieldError(k, f"is not a field of strategy {picks.endpoint}") for k in unknown])
        raw = getlist(picks.form_field)
        values = [] if raw in (None, "") else (list(raw) if isinstance(raw, (list, tuple)) else [raw])
        wanted: dict[int, dict[str, Any]] = {}
        bad: list[str] = []
        for value in values:
            text = str(value).strip()
            doc = self.repo.get(picks.lookup, int(text)) if text.isdigit() else None
            if doc is None or not doc.get("status", True):
                bad.append(text)
            else:
                wanted[int(text)] = doc
        if bad:
            raise ValidationFailed([FieldError(picks.form_field, f"Invalid {picks.noun} id(s): {', '.join(bad)}")])
        sid = int(strategy["id"])
        current = {int(d[picks.link_field]): d for d in self.of(picks, sid)}
        if set(current) == set(wanted):
            return
        now = now_text()
        for pick_id in sorted(set(current) - set(wanted)):
            self.repo.store.delete(API, picks.links, int(current[pick_id]["id"]))
        for pick_id in sorted(set(wanted) - set(current)):
            self.repo.put(picks.links, {
                "id": self.repo.new_id(picks.links), "name": None, "version": 0, "created_on": now, "updated_on": now,
                "strategy_id": sid, picks.link_field: pick_id, "code": wanted[pick_id].get(picks.code_field)})
        change = {"name": picks.history_field, "old_value": _joined(current), "new_value": _joined(wanted)}
        self.repo.add_history("strategies", strategy, history_entry("update", now, user, [change]))


def _joined(ids: Sequence[int] | Mapping[int, Any]) -> str:
    return ",".join(str(i) for i in sorted(ids))
