"""Selecting resources and environments on the command line (issue 20), with the memory provider:

- ``-l`` label selectors and ``--target`` globs / ``Kind/name`` without provider, for plan, apply,
  drift and destroy; a selector or pattern matching nothing is an error, not an empty plan;
- ``--env`` environments with their own variables and state (staging never sees production's),
  ``--var`` and ``--var-file``, given before or after the command;
- ``Moved`` for generated addresses: renaming a for_each key keeps the live object.
"""

from __future__ import annotations

import json

from tests.cli.conftest import Workspace

FOLDERS = """\
apiVersion: memory/v1
kind: Folder
metadata:
  name: "${each.key}"
  labels: {team: "${each.value.team}", tier: "${each.value.tier}"}
for_each:
  map:
    ads-us: {team: ads, tier: gold}
    ads-ca: {team: ads, tier: silver}
    data-us: {team: data, tier: gold}
spec:
  name: "${upper(each.key)}"
  size: ${var:size}
"""


def setup(ws: Workspace) -> None:
    (ws.root / "manifests" / "main.yaml").unlink()
    ws.write("manifests/folders.yaml", FOLDERS)
    ws.configure()
    config = ws.root / "reconciler.yaml"
    config.write_text(config.read_text() + "variables: {size: 1}\nenvironments:\n  staging:\n    variables: {size: 2}\n")


def changes(ws: Workspace, *args: str) -> dict[str, str]:
    result = ws.run("plan", "--format", "json", *args)
    assert result.code == 0, result.text
    return {c["address"]: c["reconciler_action"] for c in json.loads(result.out)["resource_changes"]}


def test_label_selectors_and_address_patterns(ws: Workspace) -> None:
    setup(ws)
    assert set(changes(ws, "-l", "team=ads")) == {"memory.Folder/ads-us", "memory.Folder/ads-ca"}
    assert set(changes(ws, "-l", "team=ads,tier in (gold)")) == {"memory.Folder/ads-us"}
    assert set(changes(ws, "-l", "team=data", "-l", "tier=silver")) == {"memory.Folder/data-us", "memory.Folder/ads-ca"}
    assert set(changes(ws, "--target", "memory.Folder/*-us")) == {"memory.Folder/ads-us", "memory.Folder/data-us"}
    assert set(changes(ws, "--target", "Folder/ads-*", "-l", "tier=gold")) == {"memory.Folder/ads-us"}
    none = ws.run("plan", "-l", "team=finance")
    assert none.code == 1 and "-l team=finance matches no resource (label keys in the manifests: team, tier)" in none.err
    typo = ws.run("plan", "--target", "Folder/ads-uss")
    assert typo.code == 1 and "--target Folder/ads-uss matches no address in the manifests; did you mean" in typo.err
    bad = ws.run("plan", "-l", "team in ads")
    assert bad.code == 1 and "'team in ads' is not a requirement" in bad.err


def test_a_narrowed_plan_says_so(ws: Workspace) -> None:
    setup(ws)
    narrowed = ws.run("plan", "-l", "tier=gold")
    assert narrowed.code == 0, narrowed.text
    assert ("resource targeting is in effect: this plan covers the 2 selected objects; changes to anything else "
            "are not shown") in narrowed.text
    assert "resource targeting" not in ws.run("plan").text


def test_apply_drift_and_destroy_follow_the_selection(ws: Workspace) -> None:
    setup(ws)
    assert ws.run("apply", "--auto-approve", "-l", "team=ads").code == 0
    assert sorted(json.loads(ws.run("state", "show", a).out)["address"] for a in ("memory.Folder/ads-us", "memory.Folder/ads-ca")) == [
        "memory.Folder/ads-ca", "memory.Folder/ads-us"]
    assert ws.run("state", "list").out.split() == ["memory.Folder/ads-ca", "memory.Folder/ads-us"]
    drift = ws.run("drift", "--format", "json", "-l", "tier=silver")
    assert [i["address"] for i in json.loads(drift.out)["items"]] == ["memory.Folder/ads-ca"]
    destroyed = ws.run("destroy", "--auto-approve", "--target", "Folder/ads-ca")
    assert destroyed.code == 0, destroyed.text
    assert ws.run("state", "list").out.split() == ["memory.Folder/ads-us"]


def test_environments_keep_their_own_state_and_variables(ws: Workspace) -> None:
    setup(ws)
    assert ws.run("apply", "--auto-approve", "--env", "staging").code == 0
    assert (ws.root / ".reconciler" / "staging" / "state.json").exists()
    assert not (ws.root / ".reconciler" / "state.json").exists()  # the default environment has none yet
    shown = json.loads(ws.run("--env", "staging", "state", "show", "memory.Folder/ads-us").out)
    assert shown["applied_spec"]["size"] == 2
    assert set(changes(ws, "--env", "staging").values()) == {"no-op"}
    assert set(changes(ws).values()) == {"adopt"}  # production's state knows nothing: it finds staging's
    ws.write("vars.json", '{"size": 7}')
    plan = ws.run("plan", "--format", "json", "--env", "staging", "--var-file", str(ws.root / "vars.json"), "--var", "size=9")
    sizes = {c["change"]["after"]["size"] for c in json.loads(plan.out)["resource_changes"]}
    assert sizes == {9}  # --var wins over --var-file, typed as the schema wants


def test_moved_keeps_the_live_object_of_a_renamed_key(ws: Workspace) -> None:
    setup(ws)
    assert ws.run("apply", "--auto-approve").code == 0
    before = json.loads(ws.run("state", "show", "memory.Folder/ads-ca").out)["remote_id"]
    text = (ws.root / "manifests" / "folders.yaml").read_text().replace("ads-ca:", "ads-canada:")
    ws.write("manifests/folders.yaml", text.replace('name: "${upper(each.key)}"', 'name: "${upper(each.key).replace(\'CANADA\', \'CA\')}"'))
    ws.write("manifests/moved.yaml", "apiVersion: reconciler/v1\nkind: Moved\nspec:\n  from: memory.Folder/ads-ca\n  to: memory.Folder/ads-canada\n")
    planned = changes(ws)
    assert planned["memory.Folder/ads-canada"] == "no-op" and "memory.Folder/ads-ca" not in planned
    assert ws.run("apply", "--auto-approve").code == 0
    assert json.loads(ws.run("state", "show", "memory.Folder/ads-canada").out)["remote_id"] == before


def test_one_moved_document_with_for_each_renames_every_instance(ws: Workspace) -> None:
    """Renaming a value that is part of many generated names: one Moved document, one move per item."""
    setup(ws)
    assert ws.run("apply", "--auto-approve").code == 0
    before = {a: json.loads(ws.run("state", "show", f"memory.Folder/{a}").out)["remote_id"] for a in ("ads-us", "ads-ca")}
    text = (ws.root / "manifests" / "folders.yaml").read_text()
    ws.write("manifests/folders.yaml", text.replace("ads-us:", "adv-us:").replace("ads-ca:", "adv-ca:").replace(
        'name: "${upper(each.key)}"', 'name: "${upper(each.key).replace(\'ADV\', \'ADS\')}"'))
    ws.write("manifests/moved.yaml", """\
        apiVersion: reconciler/v1
        kind: Moved
        for_each: {list: [us, ca]}
        spec:
          from: "memory.Folder/ads-${each.key}"
          to: "memory.Folder/adv-${each.key}"
        """)
    planned = changes(ws)
    assert planned["memory.Folder/adv-us"] == planned["memory.Folder/adv-ca"] == "no-op", planned
    assert "memory.Folder/ads-us" not in planned and "memory.Folder/ads-ca" not in planned
    assert ws.run("apply", "--auto-approve").code == 0
    for market in ("us", "ca"):
        shown = json.loads(ws.run("state", "show", f"memory.Folder/adv-{market}").out)
        assert shown["remote_id"] == before[f"ads-{market}"]
    ws.write("manifests/moved.yaml", "apiVersion: reconciler/v1\nkind: Moved\nfor_each: {list: [us, us]}\n"
                                     "spec: {from: 'memory.Folder/ads-${each.key}', to: 'memory.Folder/adv-${each.key}'}\n")
    assert "also the key" in ws.run("plan").err
