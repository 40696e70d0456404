"""The mediarithmics provider end to end through the ``reconciler`` CLI against a sandbox on 127.0.0.1.

Covers the issue's acceptance criteria:
- observe-only (default): ``plan`` lists the console steps as ``manual`` (exit 2 with
  ``--detailed-exitcode``), ``apply`` exits 1 listing them, and the sandbox counts no write request;
- ``writes: enabled``: ``apply`` creates the rooms, then ``plan`` is empty (exit 0);
- a membership archived out of band and a purpose removed out of band both show in ``drift``
  (exit 2, JSON report naming both resources and ``members``, and the other user who did it, from
  ``last_modified_by``/``archived_by``); ``plan`` says it reverts that user's change; ``apply``
  then repairs them;
- ``drift --accept`` takes such member changes into the manifest instead (only those lines
  change), and plan and drift are then empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.sandbox import SandboxServer, create_sandbox

TOKEN_ENV = "MICS_TEST_TOKEN"
AUTH = {"Authorization": "demo-token"}
OTHER = {"Authorization": "partner-token"}  # another user of the same organisations (seeded below)

MANIFESTS = """\
# yaml-language-server: $schema=../../schemas/mediarithmics/CleanRoom.schema.json
apiVersion: mediarithmics/v1
kind: CleanRoom
metadata:
  name: retail
spec:
  name: Retail insights
  organisation_id: "1863"
  members:
    - organisation_id: "1863"
      purposes: [INSIGHTS, ACTIVATION]
    - organisation_id: "1752"
      purposes: [INSIGHTS, ACTIVATION]
---
apiVersion: mediarithmics/v1
kind: CleanRoom
metadata:
  name: activation
spec:
  name: Activation partners
  organisation_id: 1863
  members:
    - {organisation_id: "1752", purposes: [ACTIVATION]}
    - {organisation_id: "1581", purposes: [ACTIVATION]}
    - {organisation_id: "1863", purposes: [ACTIVATION]}
"""


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(create_sandbox(names=["mediarithmics"])) as srv:
        yield srv


def workspace(root: Path, url: str, *, writes: bool) -> None:
    lines = [
        "apiVersion: reconciler/v1",
        "kind: Workspace",
        "providers:",
        "  mediarithmics:",
        f"    endpoint: {url}/mediarithmics",
        f'    credentials: {{token: "${{env:{TOKEN_ENV}}}"}}',
        '    organisation_id: "1863"',
    ]
    if writes:
        lines.append("    writes: enabled")
    (root / "reconciler.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "clean-rooms.yaml").write_text(MANIFESTS, encoding="utf-8")


@dataclass(frozen=True)
class Result:
    exit_code: int
    output: str


def run(root: Path, *args: str) -> Result:
    """The real command line in a child process (exit code, stdout and stderr together)."""
    env = {**os.environ, TOKEN_ENV: "demo-token", "CI": "true", "NO_COLOR": "1"}
    code = "from reconciler.cli.main import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "-C", str(root), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Result(done.returncode, done.stdout + done.stderr)


def routes(url: str) -> dict[str, int]:
    data: dict[str, int] = requests.get(f"{url}/_sandbox/counters", timeout=5).json()["routes"]
    return data


def writes_seen(url: str) -> int:
    return sum(n for key, n in routes(url).items() if key.split(" ")[1] != "GET")


def rooms(url: str) -> dict[str, Any]:
    params = {"organisation_id": "1863"}
    data = requests.get(f"{url}/mediarithmics/v1/clean_rooms", params=params, headers=AUTH, timeout=5).json()[
        "data"
    ]
    return {room["name"]: room for room in data}


def test_observe_only_plan_lists_steps_and_apply_writes_nothing(
    server: SandboxServer, tmp_path: Path
) -> None:
    workspace(tmp_path, server.url, writes=False)
    planned = run(tmp_path, "plan", "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    assert (
        "In the mediarithmics console, acting as organisation 1863, open Clean rooms and create a clean room "
        "named 'Retail insights' with purposes INSIGHTS, ACTIVATION" in planned.output
    )
    assert (
        "open Clean rooms › Activation partners › Members, invite organisation 1581 with purposes ACTIVATION"
        in planned.output
    )
    applied = run(tmp_path, "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output  # pending console steps are listed, not a failure
    assert "Pending console steps (2)" in applied.output
    assert "invite organisation 1752 with purposes INSIGHTS, ACTIVATION" in applied.output
    assert writes_seen(server.url) == 0
    assert rooms(server.url) == {}


def test_writes_enabled_converge_and_drift_shows_archive_and_purpose_removal(
    server: SandboxServer, tmp_path: Path
) -> None:
    workspace(tmp_path, server.url, writes=True)
    applied = run(tmp_path, "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert sorted(rooms(server.url)) == ["Activation partners", "Retail insights"]
    replanned = run(tmp_path, "plan", "--detailed-exitcode")
    assert replanned.exit_code == 0, replanned.output
    assert run(tmp_path, "drift").exit_code == 0

    live = rooms(server.url)
    retail, activation = (
        live["Retail insights"]["clean_room_id"],
        live["Activation partners"]["clean_room_id"],
    )
    seeded = requests.post(f"{server.url}/_sandbox/seed", json={"api": "mediarithmics", "data": {"users": [
        {"user_id": "2002", "email": "ops@partner.example", "organisations": ["1581", "1752", "1863"],
         "tokens": ["partner-token"]},
    ]}}, timeout=5)
    assert seeded.status_code == 200, seeded.text
    base = f"{server.url}/mediarithmics/v1/clean_rooms"
    r = requests.delete(f"{base}/{activation}/clean_room_organisations/1581", headers=OTHER, timeout=5)
    assert r.status_code == 200
    r = requests.put(
        f"{base}/{retail}/clean_room_organisations/1752",
        json={"purposes": ["ACTIVATION"]},
        headers=OTHER,
        timeout=5,
    )
    assert r.status_code == 200

    drift = run(tmp_path, "drift", "--format", "json")
    assert drift.exit_code == 2, drift.output
    report = json.loads(drift.output)
    changed = {item["address"]: item for item in report["items"] if item["status"] == "changed"}
    assert sorted(changed) == ["mediarithmics.CleanRoom/activation", "mediarithmics.CleanRoom/retail"]
    for item in changed.values():
        # members changed; a pending invitation archived also changes the status line
        assert item["fields"] and all(f["path"].startswith("members") or f["path"] == "(status)" for f in item["fields"])
        assert any(f["path"].startswith("members") for f in item["fields"])
    archived = json.dumps(changed["mediarithmics.CleanRoom/activation"]["fields"])
    assert '"1581"' in archived  # the archived member is what the last apply had
    removed = changed["mediarithmics.CleanRoom/retail"]["fields"]
    assert "INSIGHTS" in json.dumps([f["applied"] for f in removed])  # the removed purpose
    for item in changed.values():  # named from last_modified_by / archived_by
        assert {f["changed_by"] for f in item["fields"] if f["path"].startswith("members")} == {"user 2002"}, item
    text = run(tmp_path, "drift").output
    assert "members[1752].purposes" in text and "(changed by user 2002 at " in text, text

    planned = run(tmp_path, "plan")
    line = next(li for li in planned.output.splitlines() if "members[1752].purposes" in li and "->" in li
                and "reverts" in li)
    assert "# reverts user 2002's change of " in line and line.endswith(" UTC"), planned.output

    repaired = run(tmp_path, "apply", "--auto-approve")
    assert repaired.exit_code == 0, repaired.output
    assert run(tmp_path, "plan", "--detailed-exitcode").exit_code == 0
    memberships = rooms(server.url)["Activation partners"]["clean_room_organisations"]
    reinvited = [m for m in memberships if m["organisation_id"] == "1581"]
    assert [(m["status"], m["archived"]) for m in reinvited] == [("PENDING", False)]
    purposes = {
        m["organisation_id"]: m["purposes"]
        for m in rooms(server.url)["Retail insights"]["clean_room_organisations"]
    }
    assert sorted(purposes["1752"]) == ["ACTIVATION", "INSIGHTS"]


def test_drift_accept_takes_member_changes_into_the_manifest(server: SandboxServer, tmp_path: Path) -> None:
    """A purpose removed and a member archived out of band, accepted: only those lines change (the
    flow-style member list stays one line per member), the status is recorded, plan and drift empty."""
    workspace(tmp_path, server.url, writes=True)
    assert run(tmp_path, "apply", "--auto-approve").exit_code == 0
    live = rooms(server.url)
    retail, activation = live["Retail insights"]["clean_room_id"], live["Activation partners"]["clean_room_id"]
    base = f"{server.url}/mediarithmics/v1/clean_rooms"
    assert requests.delete(f"{base}/{activation}/clean_room_organisations/1581", headers=AUTH, timeout=5).ok
    assert requests.put(f"{base}/{retail}/clean_room_organisations/1752", json={"purposes": ["ACTIVATION"]},
                        headers=AUTH, timeout=5).ok

    accepted = run(tmp_path, "drift", "--accept")
    assert accepted.exit_code == 0, accepted.output
    assert "status" in accepted.output and "(in state only: the API sets it)" in accepted.output
    assert (tmp_path / "clean-rooms.yaml").read_text(encoding="utf-8") == MANIFESTS.replace(
        '    - organisation_id: "1752"\n      purposes: [INSIGHTS, ACTIVATION]\n',
        '    - organisation_id: "1752"\n      purposes: [ACTIVATION]\n',
    ).replace(
        '    - {organisation_id: "1752", purposes: [ACTIVATION]}\n    - {organisation_id: "1581", purposes: [ACTIVATION]}\n'
        '    - {organisation_id: "1863", purposes: [ACTIVATION]}\n',
        '    - {organisation_id: "1752", purposes: [ACTIVATION]}\n    - {organisation_id: "1863", purposes: [ACTIVATION]}\n',
    )
    assert run(tmp_path, "plan", "--detailed-exitcode").exit_code == 0
    assert run(tmp_path, "drift").exit_code == 0
