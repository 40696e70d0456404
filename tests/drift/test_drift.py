"""Drift classification and its text, JSON and Markdown renderings.

Covers: in-sync, changed (with the fields, applied -> live), missing and unmanaged objects;
field ownership (server-set fields are not drift); the normalisation hook (money strings);
ignore rules per address; attribution from change history (the newest entry touching the
field wins, by timestamp across zone formats, nested paths, entries for other fields
ignored, no history -> no attribution); history asked only for changed objects; unmanaged
objects that are actually managed are dropped, switched-off ones only counted, the others named by
live name and parent; coverage (None, "nothing managed", when nothing is); has_drift (unmanaged
alone is not drift); deterministic order; the renderers' content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.drift import (
    DriftStatus,
    FieldDrift,
    UnmanagedObject,
    classify,
    render_drift_json,
    render_drift_markdown,
    render_drift_text,
)
from reconciler.model import HistoryEntry
from tests.plan.fixtures import live, money, resource, snapshot

CAMP = "mediamath.Campaign/summer"
S1 = "mediamath.Strategy/s1"
GONE = "mediamath.Strategy/gone"
PARTNER = "liveramp.CleanroomPartner/agency"
ROOM = "mediarithmics.CleanRoom/shared"

APPLIED = {"name": "Summer", "total_budget": "50000.00", "goal_value": 2, "advertiser_id": "101"}


def normalize(provider: str, kind: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    if provider == "mediamath" and "total_budget" in out:
        out["total_budget"] = money(out["total_budget"])
    return out


class History:
    def __init__(self, entries: Mapping[str, Sequence[HistoryEntry]]) -> None:
        self.entries = entries
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, provider: str, kind: str, remote_id: str) -> Sequence[HistoryEntry]:
        self.calls.append((provider, kind, remote_id))
        return self.entries.get(remote_id, [])


def scenario() -> tuple[Any, History]:
    state = snapshot(
        resource(CAMP, "201", APPLIED, version=4),
        resource(S1, "301", {"name": "s1", "bid": 1.5}),
        resource(GONE, "302", {"name": "gone"}),
        resource(PARTNER, "p-1", {"email": "a@b.c"}),
        resource(ROOM, "9", {"settings": {"retention_days": 30, "purposes": ["ads"]}}),
    )
    lv = {
        CAMP: live(
            CAMP, "201", {**APPLIED, "total_budget": 65000.0, "goal_value": 9, "created_on": "x"}, version=6
        ),
        S1: live(S1, "301", {"name": "s1", "bid": 1.5, "server_field": True}),
        GONE: None,
        PARTNER: live(PARTNER, "p-1", {"email": "a@b.c"}, status="invited"),
        ROOM: live(ROOM, "9", {"settings": {"retention_days": 60, "purposes": ["ads"], "extra": 1}}),
    }
    history = History(
        {
            "201": [
                HistoryEntry("2026-11-20T10:01:02", "jdoe", "update", "total_budget", 60000, 65000),
                HistoryEntry("2026-11-19T08:00:00", "alice", "update", "total_budget", 50000, 60000),
                HistoryEntry("2026-11-21T08:00:00", "bob", "update", "name", "Old", "Summer"),
                HistoryEntry("2026-11-22T08:00:00", "carol", "add", None),
            ],
            "9": [HistoryEntry("2026-11-20T12:00:00+03:00", "mara", "update", "settings")],
        }
    )
    report = classify(
        state,
        lv,
        normalize,
        ignore=lambda address: {"goal_value"} if address == CAMP else set(),
        unmanaged=[
            UnmanagedObject("mediamath", live("Campaign", "201", {}), parent="mediamath.Advertiser/acme"),
            UnmanagedObject("mediamath", live("Campaign", "250", {"name": "Hand made"}, status="paused"),
                            parent="mediamath.Advertiser/acme", name="Hand made"),
            UnmanagedObject("mediamath", live("Campaign", "250", {"name": "Hand made"}, status="paused"),
                            parent="mediamath.Advertiser/acme", name="Hand made"),
            UnmanagedObject("mediamath", live("Campaign", "251", {"name": "Old", "status": False}),
                            parent="mediamath.Advertiser/acme", name="Old", inactive=True),
        ],
        history=history,
    )
    return report, history


def test_classification() -> None:
    report, history = scenario()
    status = {i.address: i.status for i in report.items}
    assert status == {
        PARTNER: DriftStatus.IN_SYNC,
        CAMP: DriftStatus.CHANGED,
        GONE: DriftStatus.MISSING,
        S1: DriftStatus.IN_SYNC,
        ROOM: DriftStatus.CHANGED,
        "mediamath.Campaign/250": DriftStatus.UNMANAGED,
    }
    assert [i.address for i in report.items] == [PARTNER, CAMP, GONE, S1, ROOM, "mediamath.Campaign/250"]
    assert report.has_drift
    assert report.coverage == 4 / 5  # 4 managed live objects, 1 unmanaged
    assert history.calls == [("mediamath", "Campaign", "201"), ("mediarithmics", "CleanRoom", "9")]
    partner = next(i for i in report.items if i.address == PARTNER)
    assert partner.live_status == "invited" and partner.fields == ()


def test_changed_fields_with_attribution() -> None:
    report, _ = scenario()
    camp = next(i for i in report.items if i.address == CAMP)
    # goal_value is ignored, created_on is server-set, the money string is normalised
    assert camp.fields == (FieldDrift("total_budget", 50000.0, 65000.0, "jdoe", "2026-11-20T10:01:02"),)
    room = next(i for i in report.items if i.address == ROOM)
    assert room.fields == (
        FieldDrift("settings.retention_days", 30, 60, "mara", "2026-11-20T12:00:00+03:00"),
    )


def test_newest_entry_wins_across_zone_formats() -> None:
    state = snapshot(resource(S1, "301", {"bid": 1}))
    entries = [
        HistoryEntry("2026-11-20T10:00:00Z", "newest", "update", "bid"),
        HistoryEntry("2026-11-20T12:00:00+03:00", "older", "update", "bid"),  # 09:00Z
        HistoryEntry("not a date", "junk", "update", "bid"),
    ]
    report = classify(
        state,
        {S1: live(S1, "301", {"bid": 2})},
        normalize,
        ignore=lambda a: (),
        history=lambda p, k, r: entries,
    )
    assert report.items[0].fields[0].changed_by == "newest"


def test_no_history_means_no_attribution() -> None:
    state = snapshot(resource(S1, "301", {"bid": 1}))
    report = classify(state, {S1: live(S1, "301", {"bid": 2})}, normalize, ignore=lambda a: ())
    assert report.items[0].fields == (FieldDrift("bid", 1, 2, None, None),)
    assert render_drift_text(report).splitlines()[0] == "~ mediamath.Strategy/s1: bid 1 -> 2"


def test_unmanaged_alone_is_not_drift_and_unrefreshed_is_skipped() -> None:
    state = snapshot(resource(S1, "301", {"bid": 1}), resource(GONE, "302", {"bid": 1}))
    report = classify(
        state,
        {S1: live(S1, "301", {"bid": 1})},  # GONE was not refreshed (e.g. out of scope)
        normalize,
        ignore=lambda a: (),
        unmanaged=[UnmanagedObject("mediamath", live("Strategy", "399", {}))],
    )
    assert [i.status for i in report.items] == [DriftStatus.IN_SYNC, DriftStatus.UNMANAGED]
    assert not report.has_drift and report.has_unmanaged
    assert report.coverage == 0.5


def test_empty_report_says_nothing_is_managed() -> None:
    """After a destroy: not "coverage 100.0% (0 of 0)"."""
    report = classify(snapshot(), {}, normalize, ignore=lambda a: ())
    assert report.items == () and report.coverage is None and not report.has_drift
    assert render_drift_text(report) == "No drift: nothing managed.\n"
    assert render_drift_json(report)["coverage"] is None


def test_only_missing_objects_say_nothing_managed_with_the_missing_count() -> None:
    report = classify(snapshot(resource(GONE, "302", {"bid": 1})), {GONE: None}, normalize, ignore=lambda a: ())
    assert report.has_drift and report.coverage is None
    assert render_drift_text(report).splitlines()[-1] == (
        "Drift: 0 changed, 1 missing, 0 unmanaged, 0 in sync; coverage: nothing managed (1 managed object missing)."
    )


def test_switched_off_objects_are_counted_apart_not_unmanaged() -> None:
    """A campaign deactivated by a delete (MediaMath cannot delete) is not "unmanaged" forever."""
    state = snapshot(resource(S1, "301", {"bid": 1}))
    off = UnmanagedObject("mediamath", live("Strategy", "399", {"status": False}), parent=CAMP, name="Old",
                          inactive=True)
    report = classify(state, {S1: live(S1, "301", {"bid": 1})}, normalize, ignore=lambda a: (), unmanaged=[off])
    assert [i.status for i in report.items] == [DriftStatus.IN_SYNC]
    assert report.coverage == 1.0 and report.inactive == 1 and not report.has_unmanaged
    assert render_drift_text(report) == (
        "No drift: 1 managed object matches its last apply; coverage 100.0% (1 of 1 live objects managed); "
        "1 switched-off object not counted.\n"
    )


def test_text_rendering() -> None:
    report, _ = scenario()
    lines = render_drift_text(report).splitlines()
    assert lines == [
        "~ mediamath.Campaign/summer: total_budget 50000 -> 65000 (changed by jdoe at 2026-11-20 10:01 UTC)",
        "- mediamath.Strategy/gone: missing (id 302 was deleted outside reconciler)",
        "~ mediarithmics.CleanRoom/shared: settings.retention_days 30 -> 60 "
        "(changed by mara at 2026-11-20 09:00 UTC)",
        '? mediamath.Campaign "Hand made" (id 250) under mediamath.Advertiser/acme [status: paused]: '
        "unmanaged (not in any manifest)",
        "",
        "Unmanaged objects are reported, not drift (exit 0; --fail-on-unmanaged exits 2 for them). Take one over "
        "by writing its manifest and running 'reconciler import ADDRESS ID', or export them all with "
        "'reconciler export'.",
        "",
        "Drift: 2 changed, 1 missing, 1 unmanaged, 2 in sync; coverage 80.0% (4 of 5 live objects managed); "
        "1 switched-off object not counted.",
    ]


def test_json_rendering() -> None:
    report, _ = scenario()
    data = render_drift_json(report)
    assert json.loads(json.dumps(data)) == data
    assert data["has_drift"] is True and data["coverage"] == 0.8
    assert data["summary"] == {"in-sync": 2, "changed": 2, "missing": 1, "unmanaged": 1}
    assert data["has_unmanaged"] is True and data["inactive_not_counted"] == 1
    [unmanaged] = [i for i in data["items"] if i["status"] == "unmanaged"]
    assert unmanaged["address"] is None  # it has none: named by its live name and parent
    assert (unmanaged["name"], unmanaged["parent"], unmanaged["remote_id"]) == (
        "Hand made", "mediamath.Advertiser/acme", "250"
    )
    camp = next(i for i in data["items"] if i["address"] == CAMP)
    assert camp["status"] == "changed" and camp["remote_id"] == "201"
    assert camp["fields"] == [
        {
            "path": "total_budget",
            "applied": 50000.0,
            "live": 65000.0,
            "changed_by": "jdoe",
            "changed_at": "2026-11-20T10:01:02",
        }
    ]


def test_markdown_rendering() -> None:
    report, _ = scenario()
    md = render_drift_markdown(report)
    assert md.startswith("### reconciler drift\n\n**Drift: 2 changed, 1 missing, 1 unmanaged, 2 in sync;")
    assert "| Status | Resource | Field | Last applied | Live | Changed by |" in md
    assert (
        "| changed | <code>mediamath.Campaign/summer</code> | <code>total_budget</code> | <code>50000</code> | "
        "<code>65000</code> | changed by jdoe at 2026-11-20 10:01 UTC |"
    ) in md
    assert "| missing | <code>mediamath.Strategy/gone</code> | | | | |" in md
    assert (
        "| unmanaged (paused) | <code>mediamath.Campaign &quot;Hand made&quot; (id 250) under "
        "mediamath.Advertiser/acme</code> | | | | |"
    ) in md
    assert PARTNER not in md  # in-sync objects are only counted


def test_markdown_escapes_pipes() -> None:
    state = snapshot(resource(S1, "301", {"name": "a|b"}))
    report = classify(state, {S1: live(S1, "301", {"name": "<c>|d"})}, normalize, ignore=lambda a: ())
    md = render_drift_markdown(report)
    assert "<code>&quot;&lt;c&gt;&#124;d&quot;</code>" in md


def test_a_status_change_alone_is_drift() -> None:
    """An invitation accepted behind our back: the spec cannot say it, the status does."""
    import dataclasses

    rs = dataclasses.replace(resource(PARTNER, "p1", {"partner_admin_email": "a@b.c"}), status="invited")
    state = snapshot(rs)
    accepted = live(PARTNER, "p1", {"partner_admin_email": "a@b.c"}, status="accepted")
    report = classify(state, {PARTNER: accepted}, normalize, lambda a: set())
    (item,) = report.items
    assert item.status is DriftStatus.CHANGED and report.has_drift
    assert item.fields == (FieldDrift("(status)", "invited", "accepted"),)
    assert "invited" in render_drift_text(report) and "accepted" in render_drift_text(report)

    same = classify(state, {PARTNER: dataclasses.replace(accepted, status="invited")}, normalize, lambda a: set())
    assert not same.has_drift
