"""The plan summary (:mod:`reconciler.plan.summary`) as text and as Markdown, for the top of
``plan`` output and of the pull-request comment. Example (text)::

    Summary: 6 changes (1 to create, 4 to update, 1 to deactivate), 344 unchanged
      ! reactivation: mediamath.Strategy/spring-audiences: status false -> true reactivates it ...
      mediamath: 1 to create, 4 to update, 1 to deactivate
        Advertiser acme-shoes: 1 to create, 4 to update, 1 to deactivate
          budgets: Campaign total_budget +12,000.00 USD (+15.0 %); Strategy budget +5,000.00 USD (+12.5 %)
          Campaign winter-sale (to update): 1 to create, 4 to update
            total_budget 50,000.00 -> 62,000.00 USD (+12,000.00, +24.0 %)
            Strategy: 1 to create, 3 to update
      Budget totals: Campaign total_budget +12,000.00 USD (+15.0 %); Strategy budget +5,000.00 USD (+12.5 %)
"""

from __future__ import annotations

from reconciler.plan.summary import PHRASES, Group, PlanSummary, Total, counts_text, headline
from reconciler.textsafe import markdown_html, markdown_inline, terminal


def _totals(totals: tuple[Total, ...]) -> str:
    return "; ".join(t.text() for t in totals)


def _collapse(group: Group) -> tuple[list[Group], Group]:
    """A chain of objects that only pass changes down to one child reads as one line
    (``Organization acme › Agency acme › Advertiser shoes``): (the chain above, the last one)."""
    chain: list[Group] = []
    while group.own is None and not (group.leaves or group.totals or group.money) and len(group.children) == 1:
        chain.append(group)
        group = group.children[0]
    return chain, group


def _what(group: Group) -> str:
    """``: 1 to create, 4 to update`` (``(to update): ...`` when it changes itself too)."""
    if group.own and sum(group.counts.values()) == 1:
        return f": {PHRASES[group.own]}"
    own = f" ({PHRASES[group.own]})" if group.own else ""
    return f"{own}: {counts_text(group.counts)}"


def _all_totals(summary: PlanSummary) -> list[tuple[Total, ...]]:
    found: list[tuple[Total, ...]] = []
    stack = [g for p in summary.providers for g in p.groups]
    while stack:
        group = stack.pop()
        if group.totals:
            found.append(group.totals)
        stack.extend(group.children)
    return found


def _overall(summary: PlanSummary) -> bool:
    """Show the overall totals unless one group's say the same."""
    groups = _all_totals(summary)
    return bool(summary.totals) and not (len(groups) == 1 and groups[0] == summary.totals)


# -- text -------------------------------------------------------------------------------------------
def summary_text(summary: PlanSummary) -> list[str]:
    lines = [f"Summary: {headline(summary)}"]
    for item in summary.attention:
        lines.append(f"  ! {item.label}: {item.message}")
    for provider in summary.providers:
        lines.append(f"  {provider.name}: {counts_text(provider.counts)}")
        for group in provider.groups:
            lines.extend(_text_group(group, "    "))
        for kind, counts in provider.leaves.items():
            lines.append(f"    {kind}: {counts_text(counts)}")
    if _overall(summary):
        lines.append(f"  Budget totals: {_totals(summary.totals)}")
    return [terminal(line) for line in lines]  # live names: no control characters


def _text_group(group: Group, indent: str) -> list[str]:
    chain, group = _collapse(group)
    names = " › ".join(f"{g.kind} {g.name}" for g in [*chain, group])
    lines = [f"{indent}{names}{_what(group)}"]
    inner = indent + "  "
    if group.totals:
        lines.append(f"{inner}budgets: {_totals(group.totals)}")
    lines.extend(f"{inner}{m.text()}" for m in group.money)
    for kind, counts in group.leaves.items():
        lines.append(f"{inner}{kind}: {counts_text(counts)}")
    for child in group.children:
        lines.extend(_text_group(child, inner))
    return lines


# -- markdown ---------------------------------------------------------------------------------------
def summary_markdown(summary: PlanSummary) -> list[str]:
    """Attention first (quoted), then the tree as a nested list, then the totals."""
    e = markdown_inline  # names and messages come from live objects: no Markdown of their own
    lines: list[str] = []
    for item in summary.attention:
        lines.append(f"> **{e(item.label.capitalize())}:** {e(item.message)}")
    if summary.attention:
        lines.append("")
    lines.append(f"**Summary:** {e(headline(summary))}")
    lines.append("")
    for provider in summary.providers:
        lines.append(f"- **{e(provider.name)}**: {e(counts_text(provider.counts))}")
        for group in provider.groups:
            lines.extend(_md_group(group, "  "))
        for kind, counts in provider.leaves.items():
            lines.append(f"  - {e(kind)}: {e(counts_text(counts))}")
    if _overall(summary):
        lines.append(f"- **Budget totals**: {e(_totals(summary.totals))}")
    lines.append("")
    return lines


def _md_group(group: Group, indent: str) -> list[str]:
    e = markdown_inline  # names and messages come from live objects: no Markdown of their own
    chain, group = _collapse(group)
    names = " › ".join(f"{e(g.kind)} <code>{markdown_html(g.name)}</code>" for g in [*chain, group])
    lines = [f"{indent}- {names}{e(_what(group))}"]
    inner = indent + "  "
    if group.totals:
        lines.append(f"{inner}- budgets: **{e(_totals(group.totals))}**")
    lines.extend(f"{inner}- {e(m.text()).replace(' -&gt; ', ' → ')}" for m in group.money)
    for kind, counts in group.leaves.items():
        lines.append(f"{inner}- {e(kind)}: {e(counts_text(counts))}")
    for child in group.children:
        lines.extend(_md_group(child, inner))
    return lines
