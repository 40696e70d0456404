"""Destroy leaves things usable (issue 14): reconciler never removes the API user's own access.

On the LiveRamp example against the emulator over HTTP, with the API user's own Administrator
membership of the room written as a manifest (as an export of the room writes it):
- its first apply: the membership the API made with the room answers the create with 409; it is
  found by natural key and adopted, not failed;
- a role change of it is refused at plan time, naming the reason;
- ``destroy`` abandons it (the plan says what is left and why), deletes the analyst's membership,
  keeps the data connection the kept dataset reads, and the API user can still act on the room
  afterwards (the next plan finds it again).
"""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.liveramp.app import LiveRampEmulator
from tests.e2e.conftest import Sandbox, copy_example

API_USER = """\
apiVersion: liveramp/v1
kind: CleanroomUser
metadata:
  name: api-user
spec:
  cleanroom_id: {ref: Cleanroom/retail-insights}
  email: api@demo-advertiser.example
  role: Administrator
"""
MEMBERSHIP = "liveramp.CleanroomUser/api-user"


def test_the_api_users_own_membership_is_never_removed(lr_server: SandboxServer, tmp_path: Path) -> None:
    cache = {"RECONCILER_CACHE_DIR": str(tmp_path / "token-cache")}
    ws = copy_example("liveramp", tmp_path / "liveramp", lr_server.url, dict(LiveRampEmulator.demo_credentials), cache)
    (ws.root / "09-api-user.yaml").write_text(API_USER, encoding="utf-8")
    applied = ws.run("apply", "--auto-approve")
    assert applied.code == 0, applied
    assert f"{MEMBERSHIP}: adopted" in applied.out and "not created twice" in applied.out
    assert ws.run("plan", "--detailed-exitcode").code == 0

    ws.edit("09-api-user.yaml", "role: Administrator", "role: Viewer")
    demoted = ws.run("plan")
    assert demoted.code == 1, demoted
    assert f"{MEMBERSHIP}: reconciler will not change role of it: api@demo-advertiser.example is the API user's own " in demoted.err
    assert "without it reconciler is locked out of the room" in demoted.err
    ws.edit("09-api-user.yaml", "role: Viewer", "role: Administrator")

    destroyed = ws.run("destroy", "--auto-approve")
    assert destroyed.code == 0, destroyed
    assert f"{MEMBERSHIP} (id " in destroyed.out and "left in place: api@demo-advertiser.example is the API user's own" in destroyed.out
    assert "destroy leaves" in destroyed.err and MEMBERSHIP in destroyed.err
    objects = Sandbox(lr_server.url).control("GET", "liveramp/state")["objects"]
    assert objects["cr_users"] == 1  # the analyst is gone, the API user stays
    # the dataset stays (the API cannot delete it), so the data connection it reads stays too
    assert objects["datasets"] == 1 and objects["connections"] == 1
    assert ("liveramp.DataConnection/crm-upload (id " in destroyed.out
            and "left in place: liveramp.CleanroomDataset/crm-in-retail stays live and uses it" in destroyed.out)
    # the API user still acts on the room: the next plan finds it and its membership again
    replanned = ws.run("plan", "--format", "json")
    assert replanned.code == 0, replanned
    actions = {c["address"]: c["reconciler_action"] for c in json.loads(replanned.out)["resource_changes"]}
    assert actions["liveramp.Cleanroom/retail-insights"] == "adopt" and actions[MEMBERSHIP] == "adopt"
