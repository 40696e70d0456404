"""Every value written in a manifest is enforced, the API's default included, and lists whose
order means nothing are compared as sets and named by member (issue 14), one test per provider.

For each provider, on its example against its emulator over HTTP: a value written explicitly
(equal to the API's default where the API has one) is changed out of band; ``drift`` reports it
(exit 2), ``plan`` shows the revert, ``apply`` makes it, the next plan is empty.
- MediaMath: a strategy's ``bid_aggressiveness: 50`` (the API default) set to 70 by jdoe; drift
  names jdoe.
- LiveRamp: a clean-room question's ``RUN: QUESTION_OWNER_ONLY`` (the default access) opened to
  every partner by another API client; narrowing another permission shows the new value, never
  ``null``.
- mediarithmics (writes enabled): members listed in another order plan no change; a partner's
  purposes widened out of band show as ``members[1752].purposes``, never a list position.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.liveramp.app import LiveRampEmulator
from tests.e2e.conftest import TIMEOUT, ExampleWorkspace, Sandbox, copy_example, serve
from tests.e2e.test_liveramp_example import OtherWriter

MM_CREDENTIALS = {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"}


def drift_fields(ws: ExampleWorkspace) -> dict[str, dict[str, Any]]:
    result = ws.run("drift", "--format", "json")
    assert result.code == 2, result
    return {
        f"{item['address']} {f['path']}": f
        for item in json.loads(result.out)["items"]
        for f in item["fields"]
    }


def plan_fields(ws: ExampleWorkspace, address: str) -> list[tuple[str, Any, Any]]:
    result = ws.run("plan", "--format", "json")
    assert result.code == 0, result
    (change,) = [c for c in json.loads(result.out)["resource_changes"] if c["address"] == address]
    assert change["reconciler_action"] == "update", change
    return [(f["path"], f["before"], f["after"]) for f in change["field_changes"]]


def converge(ws: ExampleWorkspace) -> None:
    applied = ws.run("apply", "--auto-approve")
    assert applied.code == 0, applied
    assert ws.run("plan", "--detailed-exitcode").code == 0
    assert ws.run("drift").code == 0


def test_mediamath_an_explicit_default_is_enforced(mm_server: SandboxServer, tmp_path: Path) -> None:
    ws = copy_example("mediamath", tmp_path / "mediamath", mm_server.url, MM_CREDENTIALS)
    ws.edit("strategies.yaml", "  goal_value: 15\n", "  goal_value: 15\n  bid_aggressiveness: 50   # the API's default\n")
    converge(ws)
    strategy = "mediamath.Strategy/winter-prospecting"
    edit = requests.post(f"{mm_server.url}/_sandbox/mediamath/edit", timeout=TIMEOUT, json={
        "collection": "strategies", "id": int(ws.remote_id(strategy)), "fields": {"bid_aggressiveness": "70"}})
    assert edit.status_code == 200, edit.text
    drifted = drift_fields(ws)[f"{strategy} bid_aggressiveness"]
    assert (drifted["applied"], drifted["live"], drifted["changed_by"]) == (50, 70, "jdoe")
    assert plan_fields(ws, strategy) == [("bid_aggressiveness", 70, 50)]
    converge(ws)


def test_liveramp_an_explicit_default_permission_is_enforced(lr_server: SandboxServer, tmp_path: Path) -> None:
    cache = {"RECONCILER_CACHE_DIR": str(tmp_path / "token-cache")}
    ws = copy_example("liveramp", tmp_path / "liveramp", lr_server.url, dict(LiveRampEmulator.demo_credentials), cache)
    ws.edit("06-cleanroom-question.yaml", "    RUN: ALL_CLEAN_ROOM_PARTNERS\n", "    RUN: QUESTION_OWNER_ONLY\n")
    converge(ws)
    crq = "liveramp.CleanroomQuestion/reach-in-retail"
    other = OtherWriter(lr_server.url, Sandbox(lr_server.url))
    opened = requests.post(
        f"{other.base}/cleanroom-questions/{ws.remote_id(crq)}/cleanroom-question-permissions",
        json=[{"permission": "RUN", "access": "ALL_CLEAN_ROOM_PARTNERS"}], headers=other.headers, timeout=TIMEOUT)
    assert opened.status_code == 200, opened.text
    drifted = drift_fields(ws)[f"{crq} permissions.RUN"]
    assert (drifted["applied"], drifted["live"]) == ("QUESTION_OWNER_ONLY", "ALL_CLEAN_ROOM_PARTNERS")
    assert plan_fields(ws, crq) == [("permissions.RUN", "ALL_CLEAN_ROOM_PARTNERS", "QUESTION_OWNER_ONLY")]
    converge(ws)
    # narrowing another permission to the default shows that value, not null
    ws.edit("06-cleanroom-question.yaml", "    VIEW_RESULTS: ALL_CLEAN_ROOM_PARTNERS\n", "    VIEW_RESULTS: QUESTION_OWNER_ONLY\n")
    assert plan_fields(ws, crq) == [("permissions.VIEW_RESULTS", "ALL_CLEAN_ROOM_PARTNERS", "QUESTION_OWNER_ONLY")]
    converge(ws)


@pytest.fixture
def mics_server() -> Iterator[SandboxServer]:
    yield from serve(["mediarithmics"])


def test_mediarithmics_members_are_a_set_named_by_member(mics_server: SandboxServer, tmp_path: Path) -> None:
    ws = copy_example("mediarithmics", tmp_path / "mics", mics_server.url, {"token": "demo-token"})
    config = ws.root / "reconciler.yaml"
    config.write_text(config.read_text() + "    writes: enabled\n", encoding="utf-8")
    converge(ws)
    # the same members in another order: no change
    ws.edit("clean-rooms.yaml", """\
    - organisation_id: "1863"
      purposes: [INSIGHTS, ACTIVATION]
    - organisation_id: "1752"
      purposes: [INSIGHTS]
""", """\
    - organisation_id: "1752"
      purposes: [INSIGHTS]
    - organisation_id: "1863"
      purposes: [ACTIVATION, INSIGHTS]
""")
    assert ws.run("plan", "--detailed-exitcode").code == 0
    room = "mediarithmics.CleanRoom/retail-insights"
    widened = requests.put(
        f"{mics_server.url}/mediarithmics/v1/clean_rooms/{ws.remote_id(room)}/clean_room_organisations/1752",
        json={"purposes": ["INSIGHTS", "ACTIVATION"]}, headers={"Authorization": "demo-token"}, timeout=TIMEOUT)
    assert widened.status_code == 200, widened.text
    drifted = drift_fields(ws)[f"{room} members[1752].purposes"]
    assert (drifted["applied"], drifted["live"]) == (["INSIGHTS"], ["INSIGHTS", "ACTIVATION"])
    assert plan_fields(ws, room) == [("members[1752].purposes", ["INSIGHTS", "ACTIVATION"], ["INSIGHTS"])]
    text = ws.run("plan").out
    assert "members[1752].purposes" in text and "members.1" not in text
    converge(ws)
