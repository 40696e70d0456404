"""Markdown that fits: a plan comment kept under a size limit (GitHub refuses comments over
65,536 characters, so a big change would lose its review exactly when it needs one).

:func:`fit` takes the rendered parts of a Markdown plan: the head (title, plan line, warnings,
the summary), one section per resource and a tail. When everything fits in ``max_chars`` it is
returned whole. Otherwise the head stays, then the most important sections that fit, in plan
order, and one line in place of the rest saying how many changes are not shown, what they are,
and where the full plan is (``where``: the saved plan, a CI artifact's address...).

Importance (:class:`Section.rank`, lower first): destructive or hand-made changes (replace,
delete, deactivate, manual) and reactivations, then adopt/abandon/lifecycle, then creates and
updates; within a tier the larger change first: the money it moves, then its number of fields.
Drift sections come after every change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_MAX_CHARS = 60_000  # GitHub's limit is 65,536: room for the CI recipe's own lines
DEFAULT_WHERE = "run `reconciler plan` (or save it with `--out FILE` and read it with `reconciler show FILE`)"
SUMMARY_CUT = "\n_(the summary is cut here to keep this comment short)_\n\n"


@dataclass(frozen=True)
class Section:
    """One resource's block (or a heading: ``what`` empty, never counted)."""

    text: str
    rank: tuple[float, ...]  # lower: more important (kept first)
    what: str  # what it is, for the count of the omitted ones (``to update``, ``drift``)


def fit(head: str, sections: Sequence[Section], tail: str, max_chars: int, where: str = "") -> str:
    """``head`` + the sections + ``tail``, cut down to ``max_chars`` (0: no limit) as above."""
    whole = head + "".join(s.text for s in sections) + tail
    if max_chars <= 0 or len(whole) <= max_chars:
        return whole
    order = sorted(range(len(sections)), key=lambda i: (sections[i].rank, i))
    note_room = len(_note(sections, range(len(sections)), max_chars, where))  # the longest it can be
    budget = max_chars - len(tail) - note_room
    if len(head) > budget:
        head = _cut(head, max(0, budget))
    used = len(head)
    kept: set[int] = set()
    for i in order:
        size = len(sections[i].text)
        if used + size <= budget:
            kept.add(i)
            used += size
    omitted = [i for i in range(len(sections)) if i not in kept]
    body = "".join(sections[i].text for i in sorted(kept))
    return head + body + _note(sections, omitted, max_chars, where) + tail


def _cut(text: str, limit: int) -> str:
    room = max(0, limit - len(SUMMARY_CUT))
    cut = text[:room]
    if "\n" in cut:
        cut = cut[: cut.rindex("\n") + 1]
    return cut + SUMMARY_CUT


def _note(sections: Sequence[Section], omitted: Sequence[int], max_chars: int, where: str) -> str:
    counts: dict[str, int] = {}
    for i in omitted:
        if sections[i].what:  # headings are not counted
            counts[sections[i].what] = counts.get(sections[i].what, 0) + 1
    what = ", ".join(f"{n} {w}" for w, n in sorted(counts.items(), key=_by_count))
    n = sum(counts.values())
    total = sum(1 for s in sections if s.what)
    return (
        f"> **{n} of {total} resources are not shown** to keep this comment under {max_chars:,} "
        f"characters ({what}); the summary above counts everything. The full plan: {where or DEFAULT_WHERE}.\n\n"
    )


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def rank(tier: float, money: float, fields: int) -> tuple[float, ...]:
    return (float(tier), -money, -float(fields))


TIERS: Mapping[str, int] = {
    "replace": 0, "delete": 0, "deactivate": 0, "manual": 0, "reactivation": 0,
    "adopt": 1, "abandon": 1, "lifecycle": 1,
    "create": 2, "update": 2,
    "drift": 3,
}
