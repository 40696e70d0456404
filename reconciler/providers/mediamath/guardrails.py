"""Money guardrails on MediaMath plans: where the money lives, nothing changes without a word.

``MediaMathProvider.check_plan(writes, policy)`` runs :func:`check_money` over the provider's
planned writes (creates, updates, adopts, replaces and deletes). Errors refuse the plan unless
``--skip-guardrails`` (which the plan then records); warnings are shown at the top of the plan.

- **Below spend**: an update lowering a campaign's ``total_budget``, a strategy's ``budget`` or a
  budget flight's ``total_budget`` below what was spent under it to date is an ERROR; up to 10 %
  above it, a WARNING.
- **Flights below spend**: creates, cuts and deletes of budget flights that leave a campaign's
  flights totalling less than the campaign's spend to date: ERROR (in MediaMath the flights are
  where the money lives).
- **Deleting money**: deleting a budget flight or deactivating a campaign that has spend: ERROR.
- **Stopping others' work**: deactivating an agency or advertiser under which active advertisers
  or campaigns live that the plan does not deactivate itself (another workspace's, another
  environment's on the same account, the console's): ERROR naming them.
- **Reactivation**: setting ``status`` true on a campaign or strategy that is paused live, when
  its history shows a pause (who paused it, when): ERROR, with its budget and spend to date.
  Launching something that was created paused and never ran is not a reactivation.
- **Size policy** (``guardrails:`` in reconciler.yaml, :class:`GuardrailPolicy`): a budget raise
  above ``max_budget_increase``, a strategy ``max_bid`` above ``max_bid``: ERROR.

Every message shows both numbers and the currency (the campaign's ``currency_code``). Spend to
date comes from the Reporting API v2 (``campaign_to_date`` ``total_spend``, one batched request
per kind) and is asked only when a check needs it: a budget raise asks the Reporting API nothing.
Spend that cannot be read fails closed (an ERROR saying so). Currencies, flights and history come
from the Execution & Management API through :class:`MoneySources`, also only when needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from reconciler.errors import APIError
from reconciler.model import HistoryEntry, LiveObject, Ref
from reconciler.providers.base import Finding, GuardrailPolicy, PlannedWrite, Severity
from reconciler.providers.mediamath.reporting import Filter, ReportingClient, ReportRequest

BUDGET_FIELDS: Mapping[str, str] = {"Campaign": "total_budget", "Strategy": "budget", "BudgetFlight": "total_budget"}
ID_FIELDS: Mapping[str, str] = {"Campaign": "campaign_id", "Strategy": "strategy_id", "BudgetFlight": "flight_id"}
PAUSABLE = ("Campaign", "Strategy")
CHILDREN: Mapping[str, str] = {"Agency": "Advertiser", "Advertiser": "Campaign"}  # deactivating stops these
WARN_MARGIN = Decimal("0.10")
BATCH = 1000  # ids per report request
CENT = Decimal("0.01")

SpendLookup = Callable[[str, list[str]], Mapping[str, float]]


@dataclass(frozen=True)
class MoneySources:
    """What the checks may read, each called only when a check needs it.

    - ``spend(kind, ids)``: spend to date per remote id (Campaign, Strategy or BudgetFlight);
    - ``campaigns(ids)``: live campaigns by id (for ``currency_code``);
    - ``flights(campaign_id)``: the campaign's live budget flights;
    - ``history(kind, remote_id)``: the object's change log, oldest first;
    - ``children(kind, parent_id)``: the live objects of ``kind`` under a parent.
    """

    spend: SpendLookup
    campaigns: Callable[[list[str]], Mapping[str, LiveObject]]
    flights: Callable[[str], list[LiveObject]]
    history: Callable[[str, str], list[HistoryEntry]]
    children: Callable[[str, str], list[LiveObject]] = lambda kind, parent_id: []


def spend_to_date(client: ReportingClient, kind: str, ids: Sequence[str]) -> dict[str, float]:
    """Spend to date (campaign_to_date ``total_spend``, campaign currency) of each id; 0.0 for
    ids with no delivery. One streaming ``performance`` request per 1,000 ids, grouped by
    ``campaign_id``, ``strategy_id`` or ``flight_id``."""
    id_field = ID_FIELDS.get(kind)
    if id_field is None:
        raise ValueError(f"spend to date is known for {', '.join(ID_FIELDS)}, not {kind}")
    wanted = sorted({str(i) for i in ids}, key=lambda v: (len(v), v))
    totals: dict[str, Decimal] = {i: Decimal(0) for i in wanted}
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        request = ReportRequest(
            dataset="performance",
            fields=(id_field, "total_spend"),
            filters=(Filter(id_field, "=", tuple(int(i) if i.isdigit() else i for i in chunk)),),
            rollup="all",
            time_window="campaign_to_date",
        )
        for row in client.rows(request):
            key = str(row.get(id_field))
            if key in totals and row.get("total_spend") is not None:
                totals[key] += Decimal(str(row["total_spend"]))
    return {k: float(v.quantize(CENT, ROUND_HALF_UP)) for k, v in totals.items()}


def amount(value: Any) -> Decimal | None:
    """A money value as a Decimal (None when it is not a number)."""
    if value is None or isinstance(value, (bool, Ref)):
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def money(value: Decimal, currency: str) -> str:
    """``50,000.00 USD``: two decimals, thousands separated, the currency after."""
    return f"{value.quantize(CENT, ROUND_HALF_UP):,} {currency}"


def budget_cuts(writes: Sequence[PlannedWrite]) -> list[tuple[PlannedWrite, str, Decimal]]:
    """The planned updates that lower a budget: (write, field, new value)."""
    out: list[tuple[PlannedWrite, str, Decimal]] = []
    for write in writes:
        field = BUDGET_FIELDS.get(write.kind)
        if field is None or write.action != "update" or not write.remote_id or field not in write.after:
            continue
        new, old = amount(write.after.get(field)), amount(write.before.get(field))
        if new is None or old is None or new >= old:
            continue
        out.append((write, field, new))
    return out


def check_money(
    writes: Sequence[PlannedWrite],
    sources: MoneySources,
    policy: GuardrailPolicy = GuardrailPolicy(),
) -> list[Finding]:
    """Every finding for ``writes`` (see the module docstring), sorted."""
    return _Check(writes, sources, policy).run()


def check_budgets(
    client: ReportingClient | Callable[[], ReportingClient], writes: Sequence[PlannedWrite]
) -> list[Finding]:
    """The below-spend check alone, with a reporting client (or a factory called only when a
    budget is cut): for callers without the management API at hand."""
    if not budget_cuts(writes):
        return []

    def spend(kind: str, ids: list[str]) -> Mapping[str, float]:
        reporting = client if isinstance(client, ReportingClient) else client()
        return spend_to_date(reporting, kind, ids)

    return budget_findings(writes, spend)


def budget_findings(writes: Sequence[PlannedWrite], spend: SpendLookup) -> list[Finding]:
    """Findings for budget cuts alone, currencies unknown (``spend(kind, ids)`` per remote id)."""
    sources = MoneySources(spend=spend, campaigns=lambda ids: {}, flights=lambda cid: [], history=lambda k, i: [])
    check = _Check(writes, sources, GuardrailPolicy())
    check.below_spend()
    return check.sorted()


class _Check:
    """One run of the checks; spend, currencies and flights are fetched once, when first needed."""

    def __init__(self, writes: Sequence[PlannedWrite], sources: MoneySources, policy: GuardrailPolicy) -> None:
        self.writes = list(writes)
        self.sources = sources
        self.policy = policy
        self.findings: list[Finding] = []
        self._spend: dict[str, Mapping[str, float]] = {}
        self._spend_failed: dict[str, str] = {}
        self._currency: dict[str, str] | None = None
        self.by_address = {w.address: w for w in self.writes}

    def run(self) -> list[Finding]:
        self.below_spend()
        self.deleting_money()
        self.stopping_others()
        self.flights_below_spend()
        self.reactivations()
        self.size_policy()
        return self.sorted()

    def sorted(self) -> list[Finding]:
        unique = {(f.address, f.severity.value, f.message): f for f in self.findings}
        return [unique[k] for k in sorted(unique)]

    def add(self, write: PlannedWrite, severity: Severity, message: str) -> None:
        self.findings.append(Finding(write.address, severity, message))

    # -- lookups -----------------------------------------------------------------------------------
    def spent(
        self, write: PlannedWrite, kind: str, remote_id: str, needed: Iterable[tuple[str, str]], what: str
    ) -> Decimal | None:
        """Spend to date of one object; the first call per kind asks for every id in ``needed``
        of that kind in one request. None when it is unknown; when it could not be read, ``write``
        gets an ERROR saying so (fail closed), naming ``what`` was to be checked."""
        if kind not in self._spend and kind not in self._spend_failed:
            ids = sorted({i for k, i in needed if k == kind} | {remote_id})
            try:
                self._spend[kind] = self.sources.spend(kind, ids)
            except APIError as exc:
                self._spend_failed[kind] = str(exc)
        if kind in self._spend_failed:
            self.add(write, Severity.ERROR, f"cannot check {what} against spend to date: {self._spend_failed[kind]}")
            return None
        value = self._spend[kind].get(remote_id)
        return None if value is None else Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)

    def campaign_of(self, write: PlannedWrite) -> str | None:
        """The remote id of the campaign a write's money belongs to (None: not created yet)."""
        if write.kind == "Campaign":
            return write.remote_id
        value = write.after.get("campaign_id", write.before.get("campaign_id"))
        return None if value is None or isinstance(value, Ref) else str(value)

    def campaign_name(self, campaign_id: str) -> str:
        """``campaign 300001 (mediamath.Campaign/winter-sale)`` when the plan names it."""
        address = next((w.address for w in self.writes if w.kind == "Campaign" and w.remote_id == campaign_id), None)
        return f"campaign {campaign_id}" + (f" ({address})" if address else "")

    def currency(self, write: PlannedWrite) -> str:
        """The currency of a write's campaign (read once for every campaign of the plan)."""
        if self._currency is None:
            ids = sorted({c for w in self.writes if (c := self.campaign_of(w)) is not None})
            try:
                live = self.sources.campaigns(ids) if ids else {}
            except APIError:
                live = {}
            self._currency = {i: str(o.fields.get("currency_code") or "") for i, o in live.items()}
        campaign = self.campaign_of(write)
        if campaign is not None and self._currency.get(campaign):
            return self._currency[campaign]
        written = write.after.get("currency_code") if write.kind == "Campaign" else None
        if not written:  # a new campaign's write in this plan may name it
            parent = write.after.get("campaign_id")
            other = self.by_address.get(str(parent.target)) if isinstance(parent, Ref) else None
            written = other.after.get("currency_code") if other is not None else None
        return str(written) if written else "(campaign currency)"

    def m(self, write: PlannedWrite, value: Decimal) -> str:
        return money(value, self.currency(write))

    # -- the checks --------------------------------------------------------------------------------
    def below_spend(self) -> None:
        cuts = budget_cuts(self.writes)
        needed = [(w.kind, str(w.remote_id)) for w, _, _ in cuts]
        for write, field, new in cuts:
            assert write.remote_id is not None
            used = self.spent(write, write.kind, write.remote_id, needed, f"{field} {self.m(write, new)}")
            if used is None:
                continue
            if new < used:
                self.add(write, Severity.ERROR, f"{field} {self.m(write, new)} is below spend to date {self.m(write, used)}")
            elif new <= used * (1 + WARN_MARGIN):
                self.add(write, Severity.WARNING,
                         f"{field} {self.m(write, new)} is within 10% of spend to date {self.m(write, used)}")

    def flights_below_spend(self) -> None:
        """Campaigns whose flights the plan cuts (lower, delete) to a total below their spend."""
        flight_writes: dict[str, list[PlannedWrite]] = {}
        for w in self.writes:
            campaign = self.campaign_of(w)
            if w.kind == "BudgetFlight" and campaign is not None:
                flight_writes.setdefault(campaign, []).append(w)
        cutting = {c: ws for c, ws in flight_writes.items() if any(self._flight_delta(w) < 0 for w in ws)}
        needed = [("Campaign", c) for c in cutting]
        for campaign, ws in sorted(cutting.items()):
            planned = {w.remote_id: w for w in ws if w.remote_id}
            total = Decimal(0)
            for flight in self.sources.flights(campaign):
                change = planned.get(flight.remote_id)
                if change is not None and change.action == "delete":
                    continue
                source = change.after if change is not None and "total_budget" in change.after else flight.fields
                total += amount(source.get("total_budget")) or 0
            total += sum((amount(w.after.get("total_budget")) or 0 for w in ws if w.action == "create"), Decimal(0))
            first = sorted(ws, key=lambda w: w.address)[0]
            used = self.spent(first, "Campaign", campaign, needed, f"the budget flights of campaign {campaign}")
            if used is None:
                continue
            if total < used:
                flagged = {f.address for f in self.findings if f.severity is Severity.ERROR}
                for w in sorted(ws, key=lambda w: w.address):
                    if self._flight_delta(w) < 0 and w.address not in flagged:
                        self.add(w, Severity.ERROR,
                                 f"the budget flights of {self.campaign_name(campaign)} would total {self.m(w, total)}, "
                                 f"below the campaign's spend to date {self.m(w, used)}")

    @staticmethod
    def _flight_delta(write: PlannedWrite) -> Decimal:
        before = amount(write.before.get("total_budget")) or Decimal(0)
        if write.action == "delete":
            return -before
        after = amount(write.after.get("total_budget"))
        if write.action == "create":
            return after or Decimal(0)
        return Decimal(0) if after is None else after - before

    def deleting_money(self) -> None:
        doomed = [w for w in self.writes if w.action in ("delete", "replace") and w.kind in ("BudgetFlight", "Campaign")
                  and w.remote_id]
        needed = [(w.kind, str(w.remote_id)) for w in doomed]
        for write in doomed:
            assert write.remote_id is not None
            used = self.spent(write, write.kind, write.remote_id, needed, f"deleting {write.kind} {write.remote_id}")
            if used is None:
                continue
            if used > 0:
                verb = "deactivating this campaign" if write.kind == "Campaign" else "deleting this budget flight"
                if write.action == "replace":
                    verb = f"replacing this {write.kind} (delete, then create)"
                budget = amount(write.before.get("total_budget"))
                of = f" of its budget {self.m(write, budget)}" if budget is not None else ""
                self.add(write, Severity.ERROR, f"{verb}, which has spent {self.m(write, used)}{of} to date")

    def stopping_others(self) -> None:
        leaving = [w for w in self.writes if w.action in ("delete", "replace") and w.kind in CHILDREN and w.remote_id]
        going = {(w.kind, str(w.remote_id)) for w in self.writes if w.action in ("delete", "replace")}
        for write in leaving:
            assert write.remote_id is not None
            kind = CHILDREN[write.kind]
            try:
                children = self.sources.children(kind, write.remote_id)
            except APIError as exc:
                self.add(write, Severity.ERROR, f"cannot check what deactivating this {write.kind} would stop: {exc}")
                continue
            active = sorted((c for c in children if c.fields.get("status") is True and (kind, c.remote_id) not in going),
                            key=lambda c: int(c.remote_id) if c.remote_id.isdigit() else 0)
            if active:
                named = ", ".join(f"{kind.lower()} {c.remote_id} {str(c.fields.get('name', ''))!r}" for c in active[:5])
                more = f" and {len(active) - 5} more" if len(active) > 5 else ""
                self.add(write, Severity.ERROR,
                         f"deactivating this {write.kind} stops {len(active)} active {kind.lower()}"
                         f"{'s' if len(active) != 1 else ''} this plan does not deactivate: {named}{more}")

    def reactivations(self) -> None:
        waking = [w for w in self.writes if w.kind in PAUSABLE and w.action in ("update", "adopt") and w.remote_id
                  and w.after.get("status") is True and w.before.get("status") is False]
        needed = [(w.kind, str(w.remote_id)) for w in waking]
        for write in waking:
            assert write.remote_id is not None
            pause = _last_pause(self.sources.history(write.kind, write.remote_id))
            if pause is None:
                continue  # created paused and never running: a launch, not a reactivation
            field = BUDGET_FIELDS[write.kind]
            budget = amount(write.after.get(field, write.before.get(field)))
            used = self.spent(write, write.kind, write.remote_id, needed, f"reactivating {write.kind} {write.remote_id}")
            money_part = []
            if budget is not None:
                money_part.append(f"budget {self.m(write, budget)}")
            money_part.append(f"spent {self.m(write, used)} to date" if used is not None else "spend to date unknown")
            adopted = " (adopted: found live, deactivated)" if write.action == "adopt" else ""
            self.add(write, Severity.ERROR,
                     f"status false -> true reactivates this {write.kind}{adopted}, paused by {pause.user} at "
                     f"{pause.when}: it would spend again ({', '.join(money_part)})")

    def size_policy(self) -> None:
        limit, max_bid = self.policy.max_budget_increase, self.policy.max_bid
        for write in self.writes:
            field = BUDGET_FIELDS.get(write.kind)
            if limit is not None and field and write.action in ("update", "adopt") and field in write.after:
                new, old = amount(write.after.get(field)), amount(write.before.get(field))
                if new is not None and old is not None and new > old and (old == 0 or (new - old) / old > limit):
                    rise = "from zero" if old == 0 else f"+{(new - old) / old * 100:.2f} %"
                    self.add(write, Severity.ERROR,
                             f"{field} {self.m(write, old)} -> {self.m(write, new)} is a raise of {money(new - old, self.currency(write))} "
                             f"({rise}), above the workspace limit max_budget_increase {format((limit * 100).normalize(), 'f')} %")
            if max_bid is not None and write.kind == "Strategy" and write.action != "delete":
                bid = amount(write.after.get("max_bid"))
                if bid is not None and bid > max_bid and bid != amount(write.before.get("max_bid")):
                    self.add(write, Severity.ERROR,
                             f"max_bid {self.m(write, bid)} is above the workspace limit max_bid {self.m(write, max_bid)}")


def _last_pause(history: Sequence[HistoryEntry]) -> HistoryEntry | None:
    """The latest history entry that set ``status`` from true to false."""
    for entry in reversed(history):
        if entry.field == "status" and entry.new is False and entry.old is True:
            return entry
    return None
