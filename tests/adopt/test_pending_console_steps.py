"""A console step the API cannot make never blocks independent work (issue 14).

Aspects covered, against the sandbox over real HTTP: a workspace with one pending mediarithmics
step (observe-only: a new clean room) and 40 MediaMath and LiveRamp creates:
- ``plan --detailed-exitcode`` exits 2 and shows the manual step;
- ``apply`` creates the 40, lists the pending step last, exits 0 (documented: pending steps are
  not failures) and writes the step to the GitHub job summary when ``GITHUB_STEP_SUMMARY`` is set;
- a second ``apply`` writes nothing and lists the step again; ``plan`` and ``drift`` keep showing it
  until it is done.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.sandbox import SandboxServer
from tests.adopt.conftest import Workspace, actions, writes
from tests.adopt.test_adopt_existing import strategies_doc, with_examples

NEW_ROOM = """\
apiVersion: mediarithmics/v1
kind: CleanRoom
metadata:
  name: partners
spec:
  name: Partner insights
  organisation_id: "1863"
  members:
    - {organisation_id: "1863", purposes: [INSIGHTS]}
    - {organisation_id: "1752", purposes: [INSIGHTS]}
"""
STEP = "In the mediarithmics console, acting as organisation 1863, open Clean rooms and create a clean room named 'Partner insights'"


def test_a_pending_console_step_does_not_block_forty_creates(
    sandbox: SandboxServer, sandbox_ws: Workspace, tmp_path: Path
) -> None:
    with_examples(sandbox_ws, "mediamath", "liveramp")
    sandbox_ws.write("mediamath/extra.yaml", strategies_doc(18))
    sandbox_ws.write("rooms.yaml", NEW_ROOM)
    plan = sandbox_ws.plan_json()
    planned = actions(plan)
    assert sum(1 for a in planned.values() if a == "create") == 40
    assert planned["mediarithmics.CleanRoom/partners"] == "manual"
    assert sandbox_ws.run("plan", "--detailed-exitcode").code == 2

    summary = tmp_path / "summary.md"
    sandbox_ws.env["GITHUB_STEP_SUMMARY"] = str(summary)
    applied = sandbox_ws.run("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    resources = sandbox_ws.snapshot().resources
    assert len(resources) == 41 and "mediarithmics.CleanRoom/partners" not in resources  # 40 + the organization
    tail = applied.out.rstrip().splitlines()[-4:]  # listed last, where a pipeline log ends
    assert tail[0].startswith("Pending console steps (1): apply made every change the APIs can make")
    assert tail[1:] == [
        "  mediarithmics.CleanRoom/partners:",
        f"    - {STEP} with purposes INSIGHTS",
        "    - In the mediarithmics console, open Clean rooms › Partner insights › Members, invite organisation 1752 "
        "with purposes INSIGHTS",
    ]
    assert "console step(s) pending" in summary.read_text() and STEP in summary.read_text()

    made = writes(sandbox)
    again = sandbox_ws.run("apply", "--auto-approve")
    assert again.code == 0, again.text
    assert writes(sandbox) == made  # nothing more to send
    assert "Pending console steps (1)" in again.out and STEP in again.out
    still = sandbox_ws.run("plan", "--detailed-exitcode")
    assert still.code == 2 and STEP in still.out
    drift = sandbox_ws.run("drift")
    assert "Pending console steps (1)" in drift.out and STEP in drift.out
