"""The plan summary a reviewer reads first: what changes, where in the resource tree, and how
much money moves. Built from a Plan (pure) and the kinds' descriptions
(:class:`~reconciler.providers.base.KindInfo`: parent fields, money, currency, summary groups);
rendered by :mod:`reconciler.plan.render` as text, Markdown and the ``summary`` key of the JSON.

- **counts** per verb: ``create``, ``update``, ``replace``, ``deactivate`` (MediaMath kinds
  without a delete), ``delete``, ``adopt``, ``manual``, ``abandon``, ``lifecycle`` (settings
  recorded in state only) and ``move`` (``Moved`` renames), and what stays ``unchanged``;
- **attention**: currency changes (their amounts are shown in both currencies, with no
  delta, and left out of the totals), guardrail findings (recorded by the engine in ``options["guardrail_findings"]``)
  and reactivations (``status`` false -> true), first;
- **tree** per provider: the objects that have changes under them, nested by their parent field
  (advertiser > campaign > strategy; room > question), each with its counts; leaves (strategies,
  budget flights, questions) are counted per kind under their parent, never listed one by one;
- **money**: every changed money field with its currency (the object's own ``currency_field``
  or its nearest ancestor's), old -> new, delta and percentage; **totals** of the budget fields
  (``total_fields``) per summary group (advertiser) and overall, per kind, field and currency,
  the percentage taken against the sum before the plan of everything in the group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from reconciler.model import Ref
from reconciler.plan.model import Action, Change, Plan
from reconciler.providers.base import KindInfo

KindLookup = Callable[[str, str], "KindInfo | None"]

# verbs in the order summaries list them (the JSON keys of ``summary``)
VERBS = ("create", "update", "replace", "deactivate", "delete", "adopt", "manual", "abandon", "lifecycle", "move")
PHRASES = {
    "create": "to create", "update": "to update", "replace": "to replace", "deactivate": "to deactivate",
    "delete": "to delete", "adopt": "to adopt", "manual": "manual", "abandon": "to abandon",
    "lifecycle": "lifecycle-only", "move": "to move",
}
FINDINGS_KEY = "guardrail_findings"
CENT = Decimal("0.01")


def builtin_kinds(provider: str, kind: str) -> KindInfo | None:
    """KindInfo of a built-in provider's kind (no connection made); None for others."""
    from reconciler.errors import ReconcilerError
    from reconciler.providers import BUILTIN, provider_class

    if provider not in BUILTIN:
        return None
    try:
        return provider_class(provider).kinds.get(kind)
    except ReconcilerError:
        return None


# -- values -----------------------------------------------------------------------------------------
def amount(value: Any) -> Decimal | None:
    """A money value as a Decimal (numbers and numeric strings), else None."""
    if value is None or isinstance(value, bool | Ref):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def money_text(value: Decimal, currency: str | None, sign: bool = False) -> str:
    """``12,000.00 USD`` (``+12,000.00 USD`` with ``sign``)."""
    text = f"{value.quantize(CENT):{'+' if sign else ''},.2f}"
    return f"{text} {currency}" if currency else text


def percent_text(delta: Decimal, base: Decimal) -> str:
    """``+8.0 %`` of ``base`` (rounded half up: 6.25 reads ``+6.3 %``); ``new`` when there was
    nothing before."""
    if base == 0:
        return "new"
    value = (delta / base * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value:+.1f} %"


@dataclass(frozen=True)
class MoneyChange:
    """One money field of one resource: old -> new (None: no object before / after)."""

    address: str
    field: str
    currency: str | None  # after the plan (the only one when it does not change)
    before: Decimal | None
    after: Decimal | None
    before_currency: str | None = None  # set only when the plan changes the currency

    @property
    def currency_changes(self) -> bool:
        """The plan changes the currency this amount is in: old and new cannot be subtracted."""
        return self.before_currency is not None and self.before_currency != self.currency

    @property
    def delta(self) -> Decimal:
        return (self.after or Decimal(0)) - (self.before or Decimal(0))

    def text(self) -> str:
        """``total_budget 50,000.00 -> 62,000.00 USD (+12,000.00, +24.0 %)``; ``total_budget
        30,000.00 USD removed``; across a currency change ``55,000.00 USD -> 56,000.00 EUR``."""
        if self.after is None and self.before is not None:
            return f"{self.field} {money_text(self.before, self.before_currency or self.currency)} removed"
        if self.currency_changes:
            old = money_text(self.before, self.before_currency) if self.before is not None else "none"
            new = money_text(self.after, self.currency) if self.after is not None else "none"
            return f"{self.field} {old} -> {new} (currency changes: no difference shown)"
        old = money_text(self.before, None) if self.before is not None else "none"
        new = money_text(self.after, None) if self.after is not None else "none"
        base = self.before or Decimal(0)
        tail = f" {self.currency}" if self.currency else ""
        return f"{self.field} {old} -> {new}{tail} ({money_text(self.delta, None, True)}, {percent_text(self.delta, base)})"

    def to_json(self) -> dict[str, Any]:
        out = {
            "address": self.address, "field": self.field, "currency": self.currency,
            "before": _num(self.before), "after": _num(self.after), "delta": _num(self.delta),
            "percent": _pct(self.delta, self.before or Decimal(0)),
        }
        if self.currency_changes:  # amounts in two currencies: no delta, no percentage
            out.update(before_currency=self.before_currency, delta=None, percent=None)
        return out


@dataclass(frozen=True)
class Total:
    """A budget field summed over a group: ``Campaign total_budget +12,000.00 USD (+8.0 %)``."""

    kind: str
    field: str
    currency: str | None
    before: Decimal
    after: Decimal

    @property
    def delta(self) -> Decimal:
        return self.after - self.before

    def text(self) -> str:
        return f"{self.kind} {self.field} {money_text(self.delta, self.currency, True)} ({percent_text(self.delta, self.before)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "field": self.field, "currency": self.currency, "before": _num(self.before),
            "after": _num(self.after), "delta": _num(self.delta), "percent": _pct(self.delta, self.before),
        }


@dataclass(frozen=True)
class Group:
    """An object with changes under it (or of its own), as the summary tree shows it."""

    address: str
    kind: str
    name: str
    own: str | None  # its own verb (``update``...), None when only things under it change
    counts: Mapping[str, int]  # its subtree's verbs, itself included
    leaves: Mapping[str, Mapping[str, int]]  # kind -> verb -> n, for the leaves right under it
    money: tuple[MoneyChange, ...]  # its own money changes
    totals: tuple[Total, ...]  # for summary groups (advertisers): budgets under it
    children: tuple[Group, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address, "kind": self.kind, "name": self.name, "action": self.own,
            "counts": dict(self.counts), "leaves": {k: dict(v) for k, v in self.leaves.items()},
            "money": [m.to_json() for m in self.money], "totals": [t.to_json() for t in self.totals],
            "children": [c.to_json() for c in self.children],
        }


@dataclass(frozen=True)
class ProviderSummary:
    name: str
    counts: Mapping[str, int]
    groups: tuple[Group, ...]
    leaves: Mapping[str, Mapping[str, int]]  # changed objects with no parent and nothing under them

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "counts": dict(self.counts), "groups": [g.to_json() for g in self.groups],
                "leaves": {k: dict(v) for k, v in self.leaves.items()}}


@dataclass(frozen=True)
class Attention:
    """One line at the top of the summary. ``kind``: ``guardrails_skipped`` | ``currency`` |
    ``guardrail`` | ``reactivation``; a guardrail finding's ``severity`` (``warning``: shown
    only; ``error``: a refusal) and whether the plan was made with ``--skip-guardrails``."""

    kind: str
    message: str
    severity: str | None = None
    overridden: bool = False

    @property
    def label(self) -> str:
        """``guardrail (warning)``, ``guardrail (refusal overridden)``, ``currency``..."""
        if self.kind == "guardrails_skipped":
            return "guardrails skipped"
        if self.kind != "guardrail" or self.severity is None:
            return self.kind
        if self.severity == "warning":
            return "guardrail (warning)"
        return "guardrail (refusal overridden by --skip-guardrails)" if self.overridden else "guardrail (refused)"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.kind == "guardrail" and self.severity is not None:
            out.update(severity=self.severity, overridden=self.overridden)
        return out


def findings(plan: Plan) -> list[tuple[str, str | None]]:
    """The plan's guardrail findings as (``address: message``, severity); plans saved before
    severities were recorded hold plain strings (severity None)."""
    out: list[tuple[str, str | None]] = []
    for f in plan.options.get(FINDINGS_KEY) or []:
        if isinstance(f, Mapping):
            severity = f.get("severity")
            out.append((f"{f.get('address')}: {f.get('message')}", str(severity) if severity else None))
        else:
            out.append((str(f), None))
    return out


def guardrail_attention(plan: Plan) -> list[Attention]:
    """``--skip-guardrails`` said first, then each finding with its severity."""
    skipped = bool(plan.options.get("guardrails_skipped"))
    found = findings(plan)
    out = [Attention("guardrail", text, severity, skipped and severity != "warning") for text, severity in found]
    if skipped:
        refusals = sum(1 for _, severity in found if severity != "warning")
        what = (f"{refusals} guardrail refusal{'s' if refusals != 1 else ''} below {'are' if refusals != 1 else 'is'} "
                f"overridden, and apply will not refuse on {'them' if refusals != 1 else 'it'}") if refusals else (
                "apply will not refuse it on any guardrail")
        out.insert(0, Attention("guardrails_skipped", f"this plan was made with --skip-guardrails: {what}"))
    return out


@dataclass(frozen=True)
class PlanSummary:
    counts: Mapping[str, int]
    unchanged: int
    attention: tuple[Attention, ...]
    providers: tuple[ProviderSummary, ...]
    totals: tuple[Total, ...]
    money: tuple[MoneyChange, ...] = field(default=())

    @property
    def changes(self) -> int:
        return sum(self.counts.values())

    def to_json(self, action_counts: Mapping[str, int]) -> dict[str, Any]:
        """The JSON ``summary``: per-action counts (as before) plus the summary's parts."""
        return {
            **action_counts,
            "changes": self.changes,
            "unchanged": self.unchanged,
            "verbs": {v: self.counts.get(v, 0) for v in VERBS},
            "attention": [a.to_json() for a in self.attention],
            "guardrails_skipped": any(a.kind == "guardrails_skipped" for a in self.attention),
            "providers": [p.to_json() for p in self.providers],
            "totals": [t.to_json() for t in self.totals],
            "money_changes": [m.to_json() for m in self.money],
        }


def _num(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _pct(delta: Decimal, base: Decimal) -> float | None:
    return None if base == 0 else round(float(delta / base * 100), 2)


def counts_text(counts: Mapping[str, int]) -> str:
    """``1 to create, 4 to update``."""
    return ", ".join(f"{counts[v]} {PHRASES[v]}" for v in VERBS if counts.get(v))


def amount_currency(values: Mapping[str, Any] | None, name: str) -> str | None:
    value = (values or {}).get(name)
    return value if isinstance(value, str) and value else None


# -- building ---------------------------------------------------------------------------------------
def verb_of(change: Change, moved: frozenset[str]) -> str | None:
    """The summary verb of one change; None when nothing happens to it."""
    if change.action is Action.NOOP:
        if change.lifecycle:
            return "lifecycle"
        return "move" if change.address in moved else None
    if change.action is Action.DELETE and change.deactivates:
        return "deactivate"
    return change.action.value


def reactivates(change: Change) -> bool:
    return change.action is not Action.NOOP and any(
        fc.path == "status" and fc.before is False and fc.after is True for fc in change.field_changes
    )


def _add(counts: dict[str, int], verb: str, n: int = 1) -> None:
    counts[verb] = counts.get(verb, 0) + n


class _Tree:
    """The plan's resources as a forest, linked by their parent fields."""

    def __init__(self, plan: Plan, kinds: KindLookup) -> None:
        self.changes = {c.address: c for c in plan.changes}
        self.kinds = kinds
        self._info: dict[tuple[str, str], KindInfo | None] = {}
        moved_raw = plan.options.get("moved") or []
        self.moved = frozenset(str(m.get("to")) for m in moved_raw if isinstance(m, Mapping))
        by_id: dict[tuple[str, str, str], str] = {}
        for c in plan.changes:
            if c.remote_id is not None:
                by_id[(c.provider, c.kind.lower(), str(c.remote_id))] = c.address
        self.parent: dict[str, str] = {}
        self.children: dict[str, list[str]] = {}
        for c in plan.changes:
            parent = self._parent_of(c, by_id)
            if parent is not None and parent != c.address:
                self.parent[c.address] = parent
                self.children.setdefault(parent, []).append(c.address)

    def info(self, change: Change) -> KindInfo | None:
        key = (change.provider, change.kind)
        if key not in self._info:
            self._info[key] = self.kinds(change.provider, change.kind)
        return self._info[key]

    def _parent_of(self, change: Change, by_id: Mapping[tuple[str, str, str], str]) -> str | None:
        info = self.info(change)
        if info is None or not info.parent_field:
            return None
        value = (change.after or {}).get(info.parent_field, (change.before or {}).get(info.parent_field))
        if isinstance(value, Ref):
            target = str(value.target)
            return target if target in self.changes else None
        if value is None:
            return None
        kind = (info.parent_kind or info.parent_field.removesuffix("_id").replace("_", "")).lower()
        return by_id.get((change.provider, kind, str(value)))

    def field_value(self, address: str, name: str) -> Any:
        c = self.changes[address]
        for source in (c.after, c.before):
            if source and source.get(name) not in (None, ""):
                return source.get(name)
        return None

    def currency(self, address: str) -> str | None:
        """The currency of an object's money: its own currency field's, or its nearest ancestor's."""
        seen = 0
        current: str | None = address
        while current is not None and seen < 32:
            info = self.info(self.changes[current])
            if info is not None and info.currency_field:
                value = self.field_value(current, info.currency_field)
                if isinstance(value, str) and value:
                    return value
            current = self.parent.get(current)
            seen += 1
        return None

    def currencies(self, address: str) -> tuple[str | None, str | None]:
        """(before, after) currency of an object's money: its own currency field's, or its
        nearest ancestor's, as the live object has it and as the plan leaves it."""
        seen = 0
        current: str | None = address
        while current is not None and seen < 32:
            c = self.changes[current]
            info = self.info(c)
            if info is not None and info.currency_field:
                old = (c.before or {}).get(info.currency_field)
                new = (c.after or {}).get(info.currency_field)
                old = old if isinstance(old, str) and old else None
                new = new if isinstance(new, str) and new else None
                if old or new:
                    return old or new, new or old
            current = self.parent.get(current)
            seen += 1
        return None, None

    def currency_change(self, change: Change) -> tuple[str, str] | None:
        """(old, new) when this change sets its own currency field to another currency."""
        info = self.info(change)
        if info is None or not info.currency_field or change.action is not Action.UPDATE:
            return None
        old, new = amount_currency(change.before, info.currency_field), amount_currency(change.after, info.currency_field)
        return (old, new) if old and new and old != new else None

    def money(self, change: Change) -> list[MoneyChange]:
        """The money fields this change moves (old -> new)."""
        info = self.info(change)
        if info is None or not info.money_fields or verb_of(change, self.moved) in (None, "lifecycle", "move"):
            return []
        out = []
        for name in sorted(info.money_fields):
            before, after = self.amounts(change, name)
            if before != after and (before is not None or after is not None):
                old, new = self.currencies(change.address)
                currency = new if new is not None else self.currency(change.address)
                out.append(MoneyChange(change.address, name, currency, before, after,
                                       old if old != new else None))
        return out

    def amounts(self, change: Change, name: str) -> tuple[Decimal | None, Decimal | None]:
        """(before, after) of one money field; None where there is no object or no value."""
        action = change.action
        if action is Action.CREATE:
            return None, amount((change.after or {}).get(name))
        if action in (Action.DELETE,):
            return amount((change.before or {}).get(name)), None
        if action is Action.REPLACE:
            return amount((change.before or {}).get(name)), amount((change.after or {}).get(name))
        for fc in change.field_changes:
            if fc.path == name:
                return amount(fc.before), amount(fc.after)
        value = amount((change.before or {}).get(name))
        if value is None:
            value = amount((change.after or {}).get(name))
        return value, value


def summarize(plan: Plan, kinds: KindLookup | None = None) -> PlanSummary:
    """The summary of ``plan`` (see the module docstring)."""
    tree = _Tree(plan, kinds or builtin_kinds)
    verbs = {c.address: verb_of(c, tree.moved) for c in plan.changes}
    counts: dict[str, int] = {}
    for v in verbs.values():
        if v is not None and v != "move":
            _add(counts, v)
    moves = len(plan.options.get("moved") or [])
    if moves:
        counts["move"] = moves
    unchanged = sum(1 for v in verbs.values() if v is None)

    attention = guardrail_attention(plan)
    switches = []
    for c in plan.changes:
        switch = tree.currency_change(c)
        if switch is not None:
            under = sorted({tree.changes[d].kind for d in _descendants(tree, c.address)
                            if d != c.address and (info := tree.info(tree.changes[d])) is not None and info.money_fields})
            what = f" ({', '.join(under)} here)" if under else ""
            switches.append(Attention("currency", (
                f"{c.address}: currency changes {switch[0]} -> {switch[1]}: every amount of this {c.kind} and under it"
                f"{what} is in {switch[1]} after apply, unconverted; spend to date stays in {switch[0]}; "
                "its amounts are shown in both currencies and left out of the budget totals")))
    attention = switches + attention
    attention += [
        Attention("reactivation", f"{c.address}: status false -> true: it will run and spend")
        for c in plan.changes if reactivates(c)
    ]

    all_money = [m for c in plan.changes for m in tree.money(c)]
    subtree: dict[str, dict[str, int]] = {}  # address -> verb counts of itself and everything under it
    for address, v in verbs.items():
        if v is None:
            continue
        current: str | None = address
        for _ in range(64):  # parents form a tree (references cannot cycle); bounded all the same
            if current is None:
                break
            _add(subtree.setdefault(current, {}), v)
            current = tree.parent.get(current)

    def build(address: str) -> Group:
        c = tree.changes[address]
        kids = sorted(a for a in tree.children.get(address, ()) if a in subtree)
        groups = tuple(build(k) for k in kids if tree.children.get(k))
        leaves: dict[str, dict[str, int]] = {}
        for k in kids:
            if not tree.children.get(k):
                for v, n in subtree[k].items():
                    _add(leaves.setdefault(tree.changes[k].kind, {}), v, n)
        info = tree.info(c)
        totals = _totals(tree, _descendants(tree, address)) if info is not None and info.summary_group else ()
        return Group(address, c.kind, c.addr.name, verbs[address], dict(subtree[address]),
                     {k: leaves[k] for k in sorted(leaves)}, tuple(tree.money(c)), totals, groups)

    providers = []
    for name in sorted({c.provider for c in plan.changes}):
        roots = sorted(a for a, c in tree.changes.items()
                       if c.provider == name and a not in tree.parent and a in subtree)
        p_counts: dict[str, int] = {}
        for a, v in verbs.items():
            if v is not None and tree.changes[a].provider == name:
                _add(p_counts, v)
        leaves: dict[str, dict[str, int]] = {}
        for root in roots:
            if not tree.children.get(root):
                _add(leaves.setdefault(tree.changes[root].kind, {}), verbs[root] or "update")
        groups = tuple(build(r) for r in roots if tree.children.get(r))
        providers.append(ProviderSummary(name, p_counts, groups, {k: leaves[k] for k in sorted(leaves)}))
    return PlanSummary(
        counts={v: counts[v] for v in VERBS if counts.get(v)},
        unchanged=unchanged,
        attention=tuple(attention),
        providers=tuple(providers),
        totals=_totals(tree, list(tree.changes)),
        money=tuple(all_money),
    )


def _descendants(tree: _Tree, address: str) -> list[str]:
    out, stack = [], [address]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(tree.children.get(current, ()))
    return out


def _totals(tree: _Tree, addresses: Iterable[str]) -> tuple[Total, ...]:
    """Budget fields summed over ``addresses`` per (kind, field, currency), only where they move."""
    sums: dict[tuple[str, str, str | None], list[Decimal]] = {}
    for address in addresses:
        c = tree.changes[address]
        info = tree.info(c)
        if info is None or not info.total_fields or c.action in (Action.ABANDON, Action.MANUAL):
            continue
        for name in sorted(info.total_fields):
            before, after = tree.amounts(c, name)
            if before is None and after is None:
                continue
            old, new = tree.currencies(address)
            if old != new:  # two currencies: no sum means anything (the attention item says so)
                continue
            pair = sums.setdefault((c.kind, name, tree.currency(address)), [Decimal(0), Decimal(0)])
            pair[0] += before or Decimal(0)
            pair[1] += after or Decimal(0)
    return tuple(
        Total(kind, name, currency, before, after)
        for (kind, name, currency), (before, after) in sorted(sums.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or ""))
        if before != after
    )


def headline(summary: PlanSummary) -> str:
    """``6 changes (1 to create, 4 to update, 1 to deactivate), 344 unchanged``."""
    n = summary.changes
    head = f"{n} change{'s' if n != 1 else ''}"
    if summary.counts:
        head += f" ({counts_text(summary.counts)})"
    return head + f", {summary.unchanged} unchanged"
