"""Plan renderers: terminal text, Terraform-compatible JSON, and Markdown for pull requests.

All three walk the same ``Plan.changes`` (and ``Plan.drift``) and produce deterministic output:
resources in plan order, fields sorted by path.

- :func:`render_text`: Terraform-like; a header per resource with the action symbol, field
  lines (``~ total_budget = 500 -> 700``), manual steps, replace reasons in capitals, the drift
  section "Objects changed outside reconciler" first (each field with who changed it and when,
  where the plan knows: from the history read for the change that sets it back), and the
  summary line.
- :func:`render_json`: the common part of Terraform's plan JSON (``format_version`` 1.2,
  ``resource_changes[]``, ``resource_drift[]``) plus ours (``lineage``, ``serial``,
  ``preconditions``, ``warnings``, ``reconciler_action`` ...). ``schemas/plan.schema.json``
  describes it. Adopt maps to Terraform's ``no-op`` + ``importing``, abandon to ``forget``,
  manual to the action a human must take.
- :func:`render_markdown`: summary line, then one ``<details>`` section per changed resource,
  kept under a size limit (:mod:`reconciler.plan.fit`).

Text and Markdown start with the plan summary (:mod:`reconciler.plan.summary`, rendered by
:mod:`reconciler.plan.render_summary`); money field lines carry their currency, delta and
percentage; date-times are shown one way (:mod:`reconciler.plan.display`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.attribution import Attribution, by_whom, overlapping, revert_json, revert_note
from reconciler.diff import path_sort_key, top_field
from reconciler.model import Address, Ref
from reconciler.plan.display import for_display
from reconciler.plan.fit import DEFAULT_MAX_CHARS, TIERS, Section, fit, rank
from reconciler.plan.model import Action, Change, FieldChange, Plan, value_to_json
from reconciler.plan.render_summary import summary_markdown, summary_text
from reconciler.plan.summary import (
    PHRASES,
    KindLookup,
    MoneyChange,
    PlanSummary,
    builtin_kinds,
    findings,
    money_text,
    percent_text,
    reactivates,
    summarize,
    verb_of,
)
from reconciler.textsafe import markdown_html, markdown_inline, terminal

JSON_FORMAT_VERSION = "1.2"
UNKNOWN = "(known after apply)"

_COLORS = {"green": "32", "yellow": "33", "red": "31", "magenta": "35", "cyan": "36", "bold": "1"}
_ACTION_COLOR = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.REPLACE: "magenta",
    Action.DELETE: "red",
    Action.NOOP: "bold",
    Action.ADOPT: "cyan",
    Action.MANUAL: "bold",
    Action.ABANDON: "yellow",
}
_FIELD_COLOR = {"+": "green", "~": "yellow", "-": "red"}


# -- shared ---------------------------------------------------------------------------------
def format_value(value: Any) -> str:
    """A value as the plan shows it: JSON, with ids not yet known as ``(known after apply)``."""
    if isinstance(value, Ref):
        return UNKNOWN
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{json.dumps(str(k), ensure_ascii=False)}: {format_value(value[k])}" for k in sorted(value)
        )
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # 500.0 reads as 500: money normalised to float
    return json.dumps(value, ensure_ascii=False, default=str)


def shown(change: Change) -> bool:
    """Does the change get a section of its own (everything but plain no-ops)?"""
    return change.action is not Action.NOOP or bool(change.lifecycle)


def summary_line(plan: Plan) -> str:
    """``Plan: 2 to create, ...`` or ``No changes. Live objects match the manifests.``"""
    if not plan.has_changes:
        return "No changes. Live objects match the manifests."
    n = plan.counts()
    adopts = [c for c in plan.changes if c.action is Action.ADOPT]
    updated = sum(1 for c in adopts if c.field_changes and not c.manual_steps)
    by_hand = sum(1 for c in adopts if c.manual_steps)
    notes = [f"{updated} then updated"] if updated else []
    notes += [f"{by_hand} with console steps"] if by_hand else []
    adopt_text = f"{n.get('adopt', 0)} to adopt" + (f" ({', '.join(notes)})" if notes else "")
    deactivate = sum(1 for c in plan.changes if c.action is Action.DELETE and c.deactivates)
    deactivate_text = f"{deactivate} to deactivate, " if deactivate else ""
    text = (
        f"Plan: {n.get('create', 0)} to create, {n.get('update', 0)} to update, "
        f"{n.get('replace', 0)} to replace, {deactivate_text}{n.get('delete', 0) - deactivate} to delete, "
        f"{adopt_text}, {n.get('manual', 0)} manual"
    )
    if n.get("abandon"):
        text += f", {n['abandon']} to abandon"
    lifecycle = sum(1 for c in plan.changes if c.action is Action.NOOP and c.lifecycle)
    if lifecycle:
        text += f", {lifecycle} lifecycle only (recorded in state)"
    moves = len(plan.options.get("moved") or [])
    if moves:
        text += f", {moves} to move (renamed in state)"
    return text + "."


def _field_symbol(fc: FieldChange) -> str:
    if fc.before is None and fc.after is not None:
        return "+"
    if fc.after is None and fc.before is not None:
        return "-"
    return "~"


def _field_value(fc: FieldChange, symbol: str) -> str:
    if symbol == "+":
        return format_value(fc.after)
    if symbol == "-":
        return format_value(fc.before)
    return f"{format_value(fc.before)} -> {format_value(fc.after)}"


def _sorted_fields(change: Change) -> list[FieldChange]:
    return sorted(change.field_changes, key=lambda fc: path_sort_key(fc.path))


def _forces_replacement(change: Change, fc: FieldChange) -> bool:
    return top_field(fc.path) in change.replace_paths


def describe(change: Change) -> str:
    """The header phrase: ``will be updated in-place``, ``must be REPLACED ...`` ..."""
    reason = change.reason
    match change.action:
        case Action.CREATE:
            return "will be created" + (f" ({reason})" if reason == "deleted outside reconciler" else "")
        case Action.UPDATE:
            return "will be updated in-place"
        case Action.REPLACE:
            first = "deactivate the old one (status=0)" if change.deactivates else "delete"
            return f"must be REPLACED ({first}, then create): {reason}"
        case Action.DELETE:
            if change.deactivates:
                return f"will be DEACTIVATED (status=0) and forgotten, the API has no delete for it ({reason})"
            return f"will be DELETED ({reason})"
        case Action.ADOPT:
            if change.manual_steps:
                then = "; the fields that differ need a MANUAL step"
            elif change.field_changes:
                then = ", then updated in-place"
            else:
                then = ", nothing is written"
            return f"EXISTS already and will be ADOPTED into state{then} ({reason})"
        case Action.MANUAL:
            return f"needs a MANUAL step: {reason}"
        case Action.ABANDON:
            return f"will be forgotten: removed from state, nothing is deleted ({reason})"
        case _ if change.lifecycle:
            return f"lifecycle recorded in state only, the live object is not changed: {', '.join(change.lifecycle)}"
        case _:
            return f"no changes ({reason})"


MoneyNotes = Mapping[tuple[str, str], str]


def money_notes(summary: PlanSummary) -> dict[tuple[str, str], str]:
    """(address, field) -> ``+12,000.00 USD (+24.0 %)`` for the field lines of money changes."""
    return {(m.address, m.field): _money_note(m) for m in summary.money}


def _money_note(m: MoneyChange) -> str:
    if m.currency_changes and m.before is not None and m.after is not None:
        return f"{money_text(m.before, m.before_currency)} -> {money_text(m.after, m.currency)}: the currency changes"
    if m.before is None or m.after is None:
        value = m.after if m.after is not None else m.before
        assert value is not None
        return money_text(value, m.currency) if m.currency else ""
    return f"{money_text(m.delta, m.currency, True)} ({percent_text(m.delta, m.before)})"


def _ident(change: Change) -> str:
    text = change.address
    if change.remote_id is not None:
        text += f" (id {change.remote_id})"
    if change.status:
        text += f" [status: {change.status}]"
    return terminal(text)


# -- text -----------------------------------------------------------------------------------
class _Ink:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, name: str) -> str:
        if not self.color:
            return text
        return f"\x1b[{_COLORS[name]}m{text}\x1b[0m"


def drift_writers(plan: Plan) -> dict[str, tuple[Attribution, ...]]:
    """Who made the outside changes of ``plan.drift``, where the plan knows: the attributions
    (``Change.reverts``) of the changes that set them back, by address."""
    return {c.address: c.reverts for c in plan.changes if c.reverts}


def _changed_by(writers: Sequence[Attribution], path: str) -> str:
    """A drift line's note: ``changed by jdoe at 2026-11-30 14:02 UTC``, or "" where unknown."""
    for a in writers:
        if overlapping(a.path, path) and (a.user or a.when):
            return f"changed {by_whom(a)}"
    return ""


def _field_lines(change: Change, ink: _Ink, indent: str, notes: MoneyNotes | None = None,
                 writers: Sequence[Attribution] = ()) -> list[str]:
    fields = _sorted_fields(change)
    width = max((len(fc.path) for fc in fields), default=0)
    lines = []
    for fc in fields:
        sym = _field_symbol(fc)
        line = f"{indent}{ink(sym, _FIELD_COLOR[sym])} {fc.path.ljust(width)} = {_field_value(fc, sym)}"
        if _forces_replacement(change, fc):
            line += ink("  # forces replacement", "red")
        notes_here = [n for n in (notes.get((change.address, fc.path)) if notes else None,
                                  revert_note(change.reverts, fc.path),  # money; "reverts jdoe's change of ..."
                                  _changed_by(writers, fc.path)) if n]  # drift: "changed by jdoe at ..."
        if notes_here:
            line += ink(f"  # {'; '.join(notes_here)}", "yellow")
        lines.append(line)
    return lines


def _text_change(change: Change, ink: _Ink, notes: MoneyNotes | None = None) -> list[str]:
    color = _ACTION_COLOR[change.action]
    lines = [
        f"  {ink('#', 'bold')} {ink(_ident(change), 'bold')} {terminal(describe(change))}",
        f"{ink(change.action.symbol.rjust(3), color)} {change.address}",
    ]
    lines.extend(_field_lines(change, ink, "      ", notes))
    for i, step in enumerate(change.manual_steps, 1):
        lines.append(f"      {ink('!', 'bold')} manual step {i}: {terminal(step)}")
    return lines


def _text_drift(change: Change, ink: _Ink, writers: Sequence[Attribution] = ()) -> list[str]:
    what = "has been deleted" if change.action is Action.DELETE else "has changed"
    lines = [f"  {ink('#', 'bold')} {ink(_ident(change), 'bold')} {what} outside reconciler"]
    if change.action is Action.DELETE:
        lines.append(f"{ink('  -', 'red')} {change.address}")
    else:
        lines.append(f"{ink('  ~', 'yellow')} {change.address}")
        lines.extend(_field_lines(change, ink, "      ", writers=writers))
    return lines


def render_text(plan: Plan, color: bool = False, warnings: bool = True, kinds: KindLookup | None = None) -> str:
    """The plan for a terminal (``color`` adds ANSI colours; only on a TTY); ``warnings=False``
    leaves them out (the CLI prints them on stderr, once). The summary comes first (see
    :mod:`reconciler.plan.summary`; ``kinds`` describes the kinds, built-in ones by default)."""
    ink = _Ink(color)
    out: list[str] = []
    lookup = kinds or builtin_kinds
    summary = summarize(plan, lookup)
    notes = money_notes(summary)
    if plan.has_changes:
        out.extend(summary_text(summary))
        out.append("")
    if plan.drift:
        out.append(ink("Objects changed outside reconciler", "bold"))
        out.append("")
        out.append("reconciler noticed these changes since the last apply:")
        out.append("")
        writers = drift_writers(plan)
        for change in plan.drift:
            out.extend(_text_drift(for_display(change, lookup(change.provider, change.kind)), ink,
                                   writers.get(change.address, ())))
            out.append("")
    changed = [c for c in plan.changes if shown(c)]
    if changed:
        out.append("reconciler will perform the following actions:")
        out.append("")
        for change in changed:
            out.extend(_text_change(for_display(change, lookup(change.provider, change.kind)), ink, notes))
            out.append("")
    out.append(ink(summary_line(plan), "bold"))
    if plan.warnings and warnings:
        out.append("")
        for warning in plan.warnings:
            out.append(f"{ink('Warning:', 'yellow')} {terminal(warning)}")
    return "\n".join(out) + "\n"


# -- json -----------------------------------------------------------------------------------
def terraform_actions(change: Change) -> list[str]:
    """Terraform's ``change.actions`` for one of our actions."""
    match change.action:
        case Action.CREATE:
            return ["create"]
        case Action.UPDATE:
            return ["update"]
        case Action.REPLACE:
            return ["delete", "create"]
        case Action.DELETE:
            return ["delete"]
        case Action.ADOPT:  # Terraform's import: an update when the object then changes
            return ["update"] if change.field_changes and not change.manual_steps else ["no-op"]
        case Action.NOOP:
            return ["no-op"]
        case Action.ABANDON:
            return ["forget"]
        case _:  # MANUAL: what a human must do
            if change.replace_paths:
                return ["delete", "create"]
            if change.before is None:
                return ["create"]
            if change.after is None:
                return ["delete"]
            return ["update"]


def _known(value: Any) -> Any:
    """Plain JSON with ids not known yet as null (Terraform marks them in ``after_unknown``)."""
    if isinstance(value, Ref):
        return None
    if isinstance(value, Mapping):
        return {str(k): _known(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_known(v) for v in value]
    return value


def _unknown_marks(value: Any) -> Any:
    """Terraform ``after_unknown``: true at unknown leaves, known leaves left out."""
    if isinstance(value, Ref):
        return True
    if isinstance(value, Mapping):
        marks = {str(k): _unknown_marks(v) for k, v in value.items()}
        return {k: m for k, m in marks.items() if m}
    if isinstance(value, list | tuple):
        items = [_unknown_marks(v) for v in value]
        return items if any(m is not False for m in items) else False
    return False


def _json_change(change: Change) -> dict[str, Any]:
    after_unknown = _unknown_marks(change.after) if change.after is not None else {}
    body: dict[str, Any] = {
        "actions": terraform_actions(change),
        "before": value_to_json(change.before) if change.before is not None else None,
        "after": _known(change.after) if change.after is not None else None,
        "after_unknown": after_unknown if after_unknown is not False else {},
        "before_sensitive": {} if change.before is not None else False,
        "after_sensitive": {} if change.after is not None else False,
    }
    if change.replace_paths:
        body["replace_paths"] = [[p] for p in change.replace_paths]
    if change.action is Action.ADOPT:
        body["importing"] = {"id": change.remote_id}
    return body


def _json_resource(change: Change) -> dict[str, Any]:
    address = Address.parse(change.address)
    entry: dict[str, Any] = {
        "address": change.address,
        "mode": "managed",
        "type": f"{change.provider}_{change.kind}",
        "name": address.name,
        "provider_name": change.provider,
        "change": _json_change(change),
    }
    if change.action is Action.REPLACE:
        entry["action_reason"] = "replace_because_cannot_update"
    elif change.action is Action.DELETE:
        entry["action_reason"] = "delete_because_no_resource_config"
    entry.update(
        {
            "reconciler_action": change.action.value,
            "reason": change.reason,
            "remote_id": change.remote_id,
            "status": change.status,
            "depends_on": list(change.depends_on),
            "field_changes": [
                {"path": fc.path, "before": value_to_json(fc.before), "after": value_to_json(fc.after)}
                | revert_json(change.reverts, fc.path)
                for fc in _sorted_fields(change)
            ],
            "manual_steps": list(change.manual_steps),
            "prevent_destroy": change.prevent_destroy,
            "on_delete": change.on_delete,
            "deactivates": change.deactivates,
            "lifecycle": list(change.lifecycle),
        }
    )
    return entry


def render_json(plan: Plan, kinds: KindLookup | None = None) -> dict[str, Any]:
    """Terraform plan JSON's common part plus reconciler's own keys (see the published schema);
    ``summary`` holds the per-action counts and the plan summary (:mod:`reconciler.plan.summary`)."""
    counts = plan.counts()
    return {
        "format_version": JSON_FORMAT_VERSION,
        "applyable": plan.has_changes,
        "complete": not any(c.action is Action.MANUAL for c in plan.changes),
        "errored": False,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "resource_changes": [_json_resource(c) for c in plan.changes],
        "resource_drift": [_json_resource(c) for c in plan.drift],
        "preconditions": {
            c.address: c.precondition.to_json() for c in plan.changes if c.precondition is not None
        },
        "summary": summarize(plan, kinds).to_json({a.value: counts.get(a.value, 0) for a in Action}),
        "warnings": list(plan.warnings),
        "targets": list(plan.targets),
    }


# -- markdown -------------------------------------------------------------------------------
def _fence(lines: Sequence[str]) -> tuple[str, str]:
    longest = 0
    for line in lines:
        run = 0
        for ch in line:
            run = run + 1 if ch == "`" else 0
            longest = max(longest, run)
    ticks = "`" * max(3, longest + 1)
    return ticks + "diff", ticks


def _md_field_lines(change: Change, notes: MoneyNotes | None = None, writers: Sequence[Attribution] = ()) -> list[str]:
    lines = []
    for fc in _sorted_fields(change):
        sym = _field_symbol(fc)
        mark = "!" if sym == "~" else sym
        line = f"{mark} {fc.path} = {_field_value(fc, sym)}"
        if _forces_replacement(change, fc):
            line += "  # forces replacement"
        notes_here = [n for n in (notes.get((change.address, fc.path)) if notes else None,
                                  revert_note(change.reverts, fc.path), _changed_by(writers, fc.path)) if n]
        if notes_here:
            note = "; ".join(notes_here)
            line += f"  # {note}"
        lines.append(line)
    return lines


def _md_section(change: Change, phrase: str, body: Iterable[str]) -> list[str]:
    """One ``<details>`` section. Text that may come from live objects or vendors (ids, status,
    reasons, console steps) is escaped: it cannot close the section, add a heading or a link, or
    mention anyone (:mod:`reconciler.textsafe`); field values are inside a code fence."""
    summary = f"<code>{html.escape(change.action.symbol.strip() or ' ')} {markdown_html(change.address)}</code>"
    if change.remote_id is not None:
        summary += f" (id {markdown_html(change.remote_id)})"
    if change.status:
        summary += f" [status: {markdown_html(change.status)}]"
    summary += " " + markdown_html(phrase)
    if change.action in (Action.REPLACE, Action.DELETE, Action.MANUAL, Action.ADOPT):
        summary = f"<b>{summary}</b>"
    out = [f"<details><summary>{summary}</summary>", ""]
    lines = list(body)
    if lines:
        open_fence, close_fence = _fence(lines)
        out.extend([open_fence, *lines, close_fence, ""])
    for i, step in enumerate(change.manual_steps, 1):
        out.append(f"{i}. {markdown_inline(step)}")
    if change.manual_steps:
        out.append("")
    out.extend(["</details>", ""])
    return out


def render_markdown(plan: Plan, kinds: KindLookup | None = None, max_chars: int = DEFAULT_MAX_CHARS,
                    where: str = "") -> str:
    """A pull-request comment: summary line, the plan summary, then one collapsible section per
    changed resource; kept under ``max_chars`` (0: no limit) by leaving out the least important
    sections and saying ``where`` the full plan is (see :mod:`reconciler.plan.fit`)."""
    out = ["### reconciler plan", "", f"**{summary_line(plan)}**", ""]
    lookup = kinds or builtin_kinds
    summary = summarize(plan, lookup)
    notes = money_notes(summary)
    found = [text for text, _ in findings(plan)]
    others = [w for w in plan.warnings if not any(w.endswith(f) for f in found)  # findings: in the summary
              and w != "guardrails skipped (--skip-guardrails)"]
    if others:
        out.extend(f"> **Warning:** {markdown_inline(w)}" for w in others)
        out.append("")
    if plan.has_changes:
        out.extend(summary_markdown(summary))
    money: dict[str, float] = {}
    for m in summary.money:
        money[m.address] = money.get(m.address, 0.0) + abs(float(m.delta))
    sections: list[Section] = []
    for change in plan.changes:
        if shown(change):
            what = verb_of(change, frozenset()) or "lifecycle"
            tier = TIERS["reactivation"] if reactivates(change) else TIERS.get(what, 2)
            shown_change = for_display(change, lookup(change.provider, change.kind))
            block = _md_section(change, describe(change), _md_field_lines(shown_change, notes))
            sections.append(Section("\n".join(block) + "\n", rank(tier, money.get(change.address, 0.0), len(change.field_changes)),
                                    PHRASES.get(what, what)))
    if plan.drift:
        sections.append(Section("#### Objects changed outside reconciler\n\n", rank(TIERS["drift"] - 0.5, 0, 0), ""))
        writers = drift_writers(plan)
        for change in plan.drift:
            if change.action is Action.DELETE:
                block = _md_section(change, "has been deleted outside reconciler", [])
            else:
                shown_change = for_display(change, lookup(change.provider, change.kind))
                block = _md_section(change, "has changed outside reconciler",
                                    _md_field_lines(shown_change, writers=writers.get(change.address, ())))
            sections.append(Section("\n".join(block) + "\n", rank(TIERS["drift"], 0, len(change.field_changes)),
                                    "changed outside reconciler"))
    text = fit("\n".join(out) + "\n", sections, "", max_chars, where)
    return text.rstrip("\n") + "\n"
