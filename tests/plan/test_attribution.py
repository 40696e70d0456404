"""``reconciler.attribution``: the shared words for "who changed this, and when".

Covers: times shown in UTC to the minute whatever zone the API gave; the newest history entry
touching a path wins (nested paths and keyed-list members included); "reverts"/"overwrites"/
"a change made outside reconciler" notes for plan fields; writer names listed, or "another
writer"; user names with control characters shown as escapes (they come from the vendor).
"""

from __future__ import annotations

from reconciler.attribution import Attribution, attribute, by_whom, revert_note, when_text, writer_names
from reconciler.model import HistoryEntry


def test_times_are_shown_in_utc_to_the_minute() -> None:
    assert when_text("2026-11-30T09:02:11-05:00") == "2026-11-30 14:02 UTC"
    assert when_text("2026-11-30T14:02:59Z") == "2026-11-30 14:02 UTC"
    assert when_text("2026-11-30T14:02:00") == "2026-11-30 14:02 UTC"  # naive: UTC
    assert when_text("yesterday") == "yesterday"


def test_the_newest_entry_touching_the_path_wins() -> None:
    entries = [
        HistoryEntry("2026-11-20T10:00:00Z", "alice", "update", "members[1752]"),
        HistoryEntry("2026-11-21T10:00:00Z", "bob", "update", "name"),
        HistoryEntry("2026-11-19T10:00:00Z", "carol", "update", "members[1752].purposes"),
    ]
    assert attribute("members[1752].purposes", entries) == Attribution(
        "members[1752].purposes", "alice", "2026-11-20T10:00:00Z")
    assert attribute("budget", entries) == Attribution("budget")


def test_plan_notes() -> None:
    reverts = (Attribution("pacing_amount", "jdoe", "2026-11-30T14:02:11Z"),
               Attribution("max_bid", "jdoe", "2026-11-30T14:02:11Z", overwrite=True),
               Attribution("members[1581]"))
    assert revert_note(reverts, "pacing_amount") == "reverts jdoe's change of 2026-11-30 14:02 UTC"
    assert revert_note(reverts, "max_bid") == "overwrites jdoe's change of 2026-11-30 14:02 UTC"
    assert revert_note(reverts, "members[1581].purposes") == "reverts a change made outside reconciler"
    assert revert_note(reverts, "budget") == ""


def test_writer_names_and_hostile_names() -> None:
    assert writer_names([Attribution("a", "jdoe"), Attribution("b", "alice"), Attribution("c", "jdoe")]) == "alice and jdoe"
    assert writer_names([Attribution("a")]) == "another writer"
    evil = Attribution("a", "x\x1b]0;pwned\x07\ny", "2026-11-30T14:02:00Z")
    assert by_whom(evil) == "by x\\x1b]0;pwned\\x07\\x0ay at 2026-11-30 14:02 UTC"
    assert "\x1b" not in revert_note([evil], "a") and "\n" not in writer_names([evil])
