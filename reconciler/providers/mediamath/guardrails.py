"""Budget guardrail: a plan must not cut a budget below what is already spent.

For each planned *update* that lowers a Campaign's ``total_budget`` or a Strategy's ``budget``,
spend to date (``campaign_to_date``, ``total_spend`` in campaign currency) is fetched from the
Reporting API v2 in one batched request per kind, and the change gets a finding:

- new budget below spend to date: ERROR ``total_budget 4000 is below spend to date 4250.13``;
- new budget at most 10 % above spend to date: WARNING ``... is within 10% of spend to date ...``;
- otherwise nothing. Creates, replacements and raises are not checked.

If spend cannot be read, each affected change gets an ERROR saying so (fail closed; the engine's
``--skip-guardrails`` overrides it like any other guardrail error).

``MediaMathProvider.check_plan(writes)`` calls :func:`check_budgets` with its reporting client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from reconciler.errors import APIError
from reconciler.providers.base import Finding, PlannedWrite, Severity
from reconciler.providers.mediamath.reporting import Filter, ReportingClient, ReportRequest

BUDGET_FIELDS: Mapping[str, str] = {"Campaign": "total_budget", "Strategy": "budget"}
ID_FIELDS: Mapping[str, str] = {"Campaign": "campaign_id", "Strategy": "strategy_id"}
WARN_MARGIN = Decimal("0.10")
BATCH = 1000  # ids per report request
CENT = Decimal("0.01")

SpendLookup = Callable[[str, list[str]], dict[str, float]]


def spend_to_date(client: ReportingClient, kind: str, ids: Sequence[str]) -> dict[str, float]:
    """Spend to date (campaign_to_date ``total_spend``) of each id; 0.0 for ids with no delivery.

    One streaming ``performance`` request per 1,000 ids, grouped by ``campaign_id`` or
    ``strategy_id``.
    """
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


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def money_text(value: Decimal) -> str:
    """``4000`` for whole amounts, else two decimals (``4250.13``)."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return str(value.quantize(CENT, ROUND_HALF_UP))


def budget_cuts(writes: Sequence[PlannedWrite]) -> list[tuple[PlannedWrite, str, Decimal]]:
    """The planned updates that lower a budget: (write, field, new value)."""
    out: list[tuple[PlannedWrite, str, Decimal]] = []
    for write in writes:
        field = BUDGET_FIELDS.get(write.kind)
        if field is None or write.action != "update" or not write.remote_id or field not in write.after:
            continue
        new, old = _amount(write.after.get(field)), _amount(write.before.get(field))
        if new is None or old is None or new >= old:
            continue
        out.append((write, field, new))
    return out


def budget_findings(writes: Sequence[PlannedWrite], spend: SpendLookup) -> list[Finding]:
    """Findings for budget cuts; ``spend(kind, ids)`` returns spend to date per remote id."""
    cuts = budget_cuts(writes)
    by_kind: dict[str, list[str]] = {}
    for write, _, _ in cuts:
        assert write.remote_id is not None
        by_kind.setdefault(write.kind, []).append(write.remote_id)
    spent: dict[str, dict[str, float]] = {}
    failures: dict[str, str] = {}
    for kind, ids in sorted(by_kind.items()):
        try:
            spent[kind] = spend(kind, sorted(set(ids)))
        except APIError as exc:
            failures[kind] = str(exc)
    findings: list[Finding] = []
    for write, field, new in cuts:
        assert write.remote_id is not None
        if write.kind in failures:
            findings.append(Finding(write.address, Severity.ERROR,
                                    f"cannot check {field} {money_text(new)} against spend to date: "
                                    f"{failures[write.kind]}"))
            continue
        value = spent[write.kind].get(write.remote_id)
        if value is None:
            continue
        used = Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)
        if new < used:
            findings.append(Finding(write.address, Severity.ERROR,
                                    f"{field} {money_text(new)} is below spend to date {used}"))
        elif new <= used * (1 + WARN_MARGIN):
            findings.append(Finding(write.address, Severity.WARNING,
                                    f"{field} {money_text(new)} is within 10% of spend to date {used}"))
    return sorted(findings, key=lambda f: (f.address, f.severity.value, f.message))


def check_budgets(
    client: ReportingClient | Callable[[], ReportingClient], writes: Sequence[PlannedWrite]
) -> list[Finding]:
    """The guardrail as ``MediaMathProvider.check_plan`` runs it.

    ``client`` may be a factory: it is called only when the plan cuts a budget, so plans without
    cuts never need the Reporting API (nor its credentials).
    """
    if not budget_cuts(writes):
        return []
    reporting = client if isinstance(client, ReportingClient) else client()
    return budget_findings(writes, lambda kind, ids: spend_to_date(reporting, kind, ids))
