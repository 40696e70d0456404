"""Who changed a field outside reconciler, and when: one mechanism for drift, plan and apply.

Providers whose API keeps a change log return it from ``Provider.history`` (MediaMath
``/history``; mediarithmics memberships' ``last_modified_by``) as
:class:`~reconciler.model.HistoryEntry` values. :func:`newest_touching` picks, for one field
path, the newest entry that touched it (by timestamp across zone formats; ties: later in the
list). The rest of the flow builds on it:

- ``drift`` names the user and time of each changed field (:mod:`reconciler.drift`);
- ``plan`` says whose change an update reverts (or overwrites): :class:`Attribution` values on
  :attr:`reconciler.plan.model.Change.reverts`, shown by :func:`revert_note`;
- ``apply`` names the other writer of a conflict, and of a value a rebase kept.

Pure: callers fetch the history and hand it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from reconciler.model import HistoryEntry
from reconciler.textsafe import terminal


class Attribution(NamedTuple):
    """A field changed outside reconciler: who and when (None where the API keeps no history).

    ``overwrite`` is set on a plan's update when the manifest sets yet another value (the update
    overwrites the outside change rather than reverting it to the last-applied value)."""

    path: str
    user: str | None = None
    when: str | None = None
    overwrite: bool = False

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "user": self.user, "when": self.when, "overwrite": self.overwrite}


def parse_when(text: str) -> datetime:
    """An ISO-8601 time (``Z`` or an offset; naive is UTC); unreadable text sorts first."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when_text(text: str | None) -> str:
    """``2026-11-30 14:02 UTC`` for a history time (as given when it does not parse)."""
    if not text:
        return ""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return terminal(text, single_line=True)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%d %H:%M UTC")


def touches(entry: HistoryEntry, path: str) -> bool:
    """Whether a history entry's field is ``path``, contains it, or lies inside it."""
    if not entry.field:
        return False
    return (path == entry.field or path.startswith((entry.field + ".", entry.field + "["))
            or entry.field.startswith((path + ".", path + "[")))


def newest_touching(entries: Sequence[HistoryEntry], path: str) -> HistoryEntry | None:
    """The newest entry touching ``path`` (ties: the later in ``entries``), or None."""
    touching = [(i, e) for i, e in enumerate(entries) if touches(e, path)]
    if not touching:
        return None
    return max(touching, key=lambda pair: (parse_when(pair[1].when), pair[0]))[1]


def attribute(path: str, entries: Sequence[HistoryEntry], overwrite: bool = False) -> Attribution:
    """The attribution of ``path`` from ``entries`` (user and time None when none touches it)."""
    newest = newest_touching(entries, path)
    if newest is None:
        return Attribution(path, overwrite=overwrite)
    return Attribution(path, newest.user or None, newest.when or None, overwrite)


def _name(user: str) -> str:
    """A user name as printed: set by whoever runs the vendor's console, so its control
    characters are shown as escapes (:func:`reconciler.textsafe.terminal`)."""
    return terminal(user, single_line=True)


def whose(a: Attribution) -> str:
    """``jdoe's change of 2026-11-30 14:02 UTC``, or ``a change made outside reconciler``."""
    if a.user and a.when:
        return f"{_name(a.user)}'s change of {when_text(a.when)}"
    if a.user:
        return f"{_name(a.user)}'s change"
    if a.when:
        return f"a change of {when_text(a.when)} made outside reconciler"
    return "a change made outside reconciler"


def by_whom(a: Attribution) -> str:
    """``by jdoe at 2026-11-30 14:02 UTC`` (or ``outside reconciler`` without history)."""
    if a.user and a.when:
        return f"by {_name(a.user)} at {when_text(a.when)}"
    if a.user:
        return f"by {_name(a.user)}"
    return "outside reconciler" + (f" at {when_text(a.when)}" if a.when else "")


def overlapping(a: str, b: str) -> bool:
    """Whether two field paths name the same value or one lies inside the other."""
    return a == b or a.startswith((b + ".", b + "[")) or b.startswith((a + ".", a + "["))


def revert_note(reverts: Sequence[Attribution], path: str) -> str:
    """The plan's note for one field of an update: ``reverts jdoe's change of ...`` or ""."""
    for a in reverts:
        if overlapping(a.path, path):
            return f"{'overwrites' if a.overwrite else 'reverts'} {whose(a)}"
    return ""


def revert_json(reverts: Sequence[Attribution], path: str) -> dict[str, object]:
    """The plan JSON's ``outside_change`` of one field change (``{}`` when there is none)."""
    for a in reverts:
        if overlapping(a.path, path):
            return {"outside_change": {"user": a.user, "when": a.when, "overwrite": a.overwrite}}
    return {}


def writer_names(writers: Sequence[Attribution]) -> str:
    """``jdoe`` / ``jdoe and alice`` / ``another writer`` (where the API names nobody)."""
    names = sorted({_name(w.user) for w in writers if w.user})
    if not names:
        return "another writer"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
