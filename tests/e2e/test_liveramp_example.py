"""``examples/liveramp`` end to end: the real CLI against the LiveRamp Clean Room emulator over HTTP.

The example is copied to a temporary directory and configured the production way (endpoint and
demo client credentials through ``${env:...}``; the token cache in a temporary
``RECONCILER_CACHE_DIR``). Aspects covered (issue 4, "Done when"):

- apply then ``plan --detailed-exitcode`` is empty (exit 0); one object of each kind exists;
- drift right after apply reports every managed object in sync (write-only fields never drift; a
  data connection's status is read back after its fields are mapped);
- accepting the partner invitation through the control endpoint shows in ``drift`` (exit 2;
  the partner's status invited -> accepted);
- an out-of-band ``PUT /v1/cleanrooms/{id}`` by another API client (its own bearer token)
  shows in ``drift`` with the old and the new value;
- between ``plan --out FILE`` and ``apply FILE``: an edit of a field the plan sets is a conflict
  (exit 3, both values shown, theirs kept live); an edit that touches no field the plan sets
  (through the control ``objects`` hook) is rebased (exit 0, both values live);
- ``reconciler plan`` in many separate processes (8 at a time; 20 always, 100 marked slow)
  obtains exactly one token from the sandbox (the emulator's token counter) and none refused;
- the example as shipped (``endpoint: sandbox``, the embedded emulator) survives ten commands in
  a row, each a new process on a new port, with one token (issue 15).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.sandbox import SandboxServer, create_sandbox
from reconciler.sandbox.liveramp.app import LiveRampEmulator
from tests.e2e.conftest import EXAMPLES, TIMEOUT, ExampleWorkspace, Result, Sandbox, copy_example
from tests.support.cli import spawn

CREDENTIALS = dict(LiveRampEmulator.demo_credentials)
CLIENT_ID = CREDENTIALS["client_id"]
ROOM = "liveramp.Cleanroom/retail-insights"
PARTNER = "liveramp.CleanroomPartner/media-partner"
DESCRIPTION = "Reach and overlap of Acme's CRM with the partner's audience"


@pytest.fixture
def lr(lr_server: SandboxServer) -> Sandbox:
    return Sandbox(lr_server.url)


@pytest.fixture
def ws(lr_server: SandboxServer, tmp_path: Path) -> ExampleWorkspace:
    cache = {"RECONCILER_CACHE_DIR": str(tmp_path / "token-cache")}
    return copy_example("liveramp", tmp_path / "liveramp", lr_server.url, CREDENTIALS, cache)


@pytest.fixture
def applied(ws: ExampleWorkspace) -> ExampleWorkspace:
    result = ws.run("apply", "--auto-approve")
    assert result.code == 0, result
    return ws


def drift_items(result: Result) -> dict[str, dict[str, Any]]:
    return {item["address"]: item for item in json.loads(result.out)["items"]}


def fields_of(item: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {f["path"]: (f["applied"], f["live"]) for f in item["fields"]}


class OtherWriter:
    """Another API client of the same organisation, using the real API with its own token."""

    def __init__(self, url: str, lr: Sandbox) -> None:
        self.base = f"{url}/liveramp/v1"
        lr.control(
            "POST", "liveramp/clients", {"client_id": "console-user", "client_secret": "console-secret"}
        )
        token = requests.post(
            f"{self.base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("console-user", "console-secret"),
            timeout=TIMEOUT,
        )
        assert token.status_code == 200, token.text
        self.headers = {"Authorization": f"Bearer {token.json()['accessToken']}"}

    def room(self, room_id: str) -> dict[str, Any]:
        answer = requests.get(f"{self.base}/cleanrooms/{room_id}", headers=self.headers, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data

    def put_room(self, room_id: str, **changes: Any) -> dict[str, Any]:
        """``PUT /v1/cleanrooms/{id}`` with the request names (``type``, ``parameters``)."""
        live = self.room(room_id)
        body = {
            "name": live["name"],
            "description": live["description"],
            "type": "Hybrid",
            "startAt": live["startAt"][:10],
            "parameters": live["cleanRoomParameters"],
            **changes,
        }
        answer = requests.put(
            f"{self.base}/cleanrooms/{room_id}", json=body, headers=self.headers, timeout=TIMEOUT
        )
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data


def tokens_issued(lr: Sandbox) -> tuple[int, dict[str, int]]:
    counters = lr.control("GET", "liveramp/counters")
    return int(counters["tokens_issued"].get(CLIENT_ID, 0)), counters["tokens_refused"]


# -- apply, plan, drift ----------------------------------------------------------------------------
def test_apply_then_plan_is_empty(lr: Sandbox, ws: ExampleWorkspace) -> None:
    first = ws.run("apply", "--auto-approve")
    assert first.code == 0, first
    assert "Plan: 8 to create" in first.text, first
    replanned = ws.run("plan", "--detailed-exitcode")
    assert replanned.code == 0, replanned
    assert "No changes" in replanned.text

    objects = lr.control("GET", "liveramp/state")["objects"]
    for collection in (
        "cleanrooms",
        "connections",
        "datasets",
        "invitations",
        "questions",
        "crqs",
        "schedules",
    ):
        assert objects[collection] == 1, (collection, objects)
    assert objects["partners"] == 0  # an invitation until the partner accepts
    assert tokens_issued(lr) == (1, {})  # both commands used the one cached token


def test_dataset_is_in_sync_right_after_apply(applied: ExampleWorkspace) -> None:
    item = drift_items(applied.run("drift", "--format", "json"))["liveramp.CleanroomDataset/crm-in-retail"]
    assert (item["status"], item["fields"]) == ("in-sync", []), item


def test_the_api_users_own_membership_is_not_unmanaged(applied: ExampleWorkspace) -> None:
    """The API made its user the room's Administrator when it made the room: drift right after
    apply has nothing unmanaged to report, and coverage is whole."""
    report = json.loads(applied.run("drift", "--format", "json").out)
    assert [i for i in report["items"] if i["status"] == "unmanaged"] == [] and report["coverage"] == 1.0, report


def test_data_connection_is_in_sync_right_after_apply(applied: ExampleWorkspace) -> None:
    assert applied.state_of("liveramp.DataConnection/crm-upload").get("status") is None
    item = drift_items(applied.run("drift", "--format", "json"))["liveramp.DataConnection/crm-upload"]
    assert (item["status"], item["fields"]) == ("in-sync", []), item


def test_accepting_the_invitation_shows_in_drift(lr: Sandbox, applied: ExampleWorkspace) -> None:
    before = drift_items(applied.run("drift", "--format", "json"))[PARTNER]
    assert (before["status"], before["live_status"]) == ("in-sync", "invited"), before

    invitation = applied.remote_id(PARTNER).split(":")[-1]  # <clean room id>:<invitation id>
    accepted = lr.control(
        "POST", f"liveramp/invitations/{invitation}/accept", {"organizationName": "Media Partner"}
    )
    assert accepted["invitation"]["Status"] == "ACCEPTED"

    text = applied.run("drift")
    assert text.code == 2, text
    line = next(li for li in text.out.splitlines() if PARTNER in li)
    assert '"invited" -> "accepted"' in line, line
    report = applied.run("drift", "--format", "json")
    assert report.code == 2, report
    after = drift_items(report)[PARTNER]
    assert (after["status"], after["live_status"]) == ("changed", "accepted"), after
    assert fields_of(after) == {"(status)": ("invited", "accepted")}

    # Nothing to send for a status only the partner can change: apply records it, drift clears.
    recorded = applied.run("apply", "--auto-approve")
    assert recorded.code == 0, recorded
    assert applied.state_of(PARTNER).get("status") == "accepted"
    assert applied.run("drift").code == 0


def test_out_of_band_put_on_the_clean_room_shows_in_drift(
    lr_server: SandboxServer, lr: Sandbox, applied: ExampleWorkspace
) -> None:
    room_id = applied.remote_id(ROOM)
    assert drift_items(applied.run("drift", "--format", "json"))[ROOM]["status"] == "in-sync"
    OtherWriter(lr_server.url, lr).put_room(room_id, description="Edited in the LiveRamp console")

    text = applied.run("drift")
    assert text.code == 2, text
    line = next(li for li in text.out.splitlines() if ROOM in li)
    assert "Edited in the LiveRamp console" in line and DESCRIPTION in line, line
    report = applied.run("drift", "--format", "json")
    item = drift_items(report)[ROOM]
    assert item["status"] == "changed"
    assert fields_of(item) == {"description": (DESCRIPTION, "Edited in the LiveRamp console")}

    replanned = applied.run("plan", "--detailed-exitcode")  # the manifest's value comes back
    assert replanned.code == 2 and ROOM in replanned.out, replanned


# -- an edit between plan and apply ---------------------------------------------------------------------
def plan_new_description(ws: ExampleWorkspace) -> Path:
    ws.edit(
        "02-cleanroom.yaml", f"description: {DESCRIPTION}", "description: Reach and overlap, second edition"
    )
    plan_file = ws.root / "description.plan"
    planned = ws.run("plan", "--out", str(plan_file))
    assert planned.code == 0 and "Reach and overlap, second edition" in planned.out, planned
    assert "CROWD_SIZE" not in planned.out
    return plan_file


def test_edit_of_a_field_the_plan_sets_is_a_conflict(
    lr_server: SandboxServer, lr: Sandbox, applied: ExampleWorkspace
) -> None:
    room_id = applied.remote_id(ROOM)
    plan_file = plan_new_description(applied)
    other = OtherWriter(lr_server.url, lr)
    other.put_room(room_id, description="Their description")

    result = applied.run("apply", str(plan_file))
    assert result.code == 3, result
    assert f"{ROOM}: conflict" in result.text, result
    conflict = [line for line in result.text.splitlines() if line.strip().startswith("description:")]
    assert conflict, result
    assert "Reach and overlap, second edition" in conflict[0] and "Their description" in conflict[0], result
    assert other.room(room_id)["description"] == "Their description"  # nothing overwritten


def test_edit_touching_no_field_the_plan_sets_is_rebased(
    lr_server: SandboxServer, lr: Sandbox, applied: ExampleWorkspace
) -> None:
    room_id = applied.remote_id(ROOM)
    plan_file = plan_new_description(applied)
    stored = lr.control("GET", f"liveramp/objects/cleanrooms/{room_id}")
    lr.control(
        "POST",
        f"liveramp/objects/cleanrooms/{room_id}",
        {"cleanRoomParameters": {**stored["cleanRoomParameters"], "CROWD_SIZE": "75"}},
    )

    result = applied.run("apply", str(plan_file))
    assert result.code == 0, result
    assert f"{ROOM}: rebased" in result.text, result
    live = OtherWriter(lr_server.url, lr).room(room_id)
    assert live["description"] == "Reach and overlap, second edition"  # ours
    assert live["cleanRoomParameters"]["CROWD_SIZE"] == "75"  # theirs, kept


# -- the token budget across processes ---------------------------------------------------------------
@pytest.mark.parametrize("count", [20, pytest.param(100, marks=pytest.mark.slow)])
def test_plans_in_separate_processes_obtain_exactly_one_token(
    lr: Sandbox, applied: ExampleWorkspace, tmp_path: Path, count: int
) -> None:
    """``count`` ``reconciler plan`` processes, 8 at a time, sharing a token cache that starts
    empty. The apply above spent one of the client's 2 tokens per 24 h, so a second token
    fetched by the plans would also be the last: a third would be refused (429)."""
    plans = ExampleWorkspace(
        applied.root, {**applied.env, "RECONCILER_CACHE_DIR": str(tmp_path / "shared-cache")}
    )
    issued_before, refused_before = tokens_issued(lr)
    assert (issued_before, refused_before) == (1, {})

    def plan(_: int) -> tuple[int, str]:
        process = plans.spawn("plan", "--detailed-exitcode")
        try:
            out, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        return process.returncode, out + err

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(plan, range(count)))
    failed = [(code, text[-800:]) for code, text in results if code != 0 or "No changes" not in text]
    assert not failed, failed[:3]
    issued_after, refused_after = tokens_issued(lr)
    assert issued_after - issued_before == 1
    assert refused_after == {}


# -- the quick start: the example as shipped, on the embedded sandbox ------------------------------
def test_the_example_on_the_embedded_sandbox_survives_ten_commands(tmp_path: Path) -> None:
    """``cp -r examples/liveramp x`` and ten commands in a row, each its own process (so each
    starts the embedded sandbox on a new port): the third used to die with "429 Token limit
    exceeded" because the token cache was keyed by the URL. The sandbox still enforces the
    limit (``tests/providers/liveramp/test_token_cache.py``); one token serves every run."""
    root = tmp_path / "x"
    shutil.copytree(EXAMPLES / "liveramp", root, ignore=shutil.ignore_patterns(".reconciler"))
    env = {"RECONCILER_CACHE_DIR": str(tmp_path / "cache"), "NO_COLOR": "1"}
    commands = [
        ("apply", "--auto-approve"), ("plan", "--detailed-exitcode"), ("drift",), ("validate",),
        ("plan", "--format", "json"), ("state", "list"), ("drift", "--format", "markdown"),
        ("plan", "--detailed-exitcode"), ("apply", "--auto-approve"), ("drift",),
    ]
    for args in commands:
        process = spawn(root, *args, env=env)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, (args, out[-2000:], err[-2000:])
        assert "Token limit" not in out + err and "Traceback" not in err, (args, err)
    with SandboxServer(create_sandbox(str(root / ".reconciler" / "sandbox.sqlite"), names=["liveramp"])) as server:
        issued = Sandbox(server.url).control("GET", "liveramp/counters")["tokens_issued"]
    assert issued == {CLIENT_ID: 1}
