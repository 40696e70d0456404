"""Out-of-band writers during apply (issue 9 item 3), judged against MediaMath's ``/history``.

Aspects covered:
- A saved plan raises every campaign's ``total_budget`` and strategy's ``budget``; while it is
  applied, a writer thread edits random managed campaigns and strategies through the sandbox's
  control hook as user ``oob``: sometimes the very field the plan changes, sometimes a manifest
  field the plan leaves alone, sometimes a field the manifests never mention. Afterwards, from
  each entity's ``/history`` and its live values: no ``oob`` value was ever overwritten by anyone
  else (no lost edit); every field oob wrote last holds oob's value live (it survived); every
  planned update either happened or its address was reported as a conflict, and exit 3 comes
  exactly with reported conflicts. No traceback.
- The judge can fail: ``--force-conflicts`` over an ``oob`` edit is seen as a lost edit.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import requests

from tests.reliability.estate import workspace_env, write_workspace
from tests.reliability.harness import (
    KIND_COLLECTION,
    OOB,
    OOB_SIZE,
    LiveSandbox,
    OobEdit,
    Probe,
    judge_oob,
    oob_trial,
    raise_budgets,
    run_cli,
    state_resources,
)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", [1, 2])
def test_out_of_band_edits_during_apply_survive_or_are_conflicts(tmp_path: Path, seed: int) -> None:
    result = oob_trial(seed, tmp_path)
    assert result.tracebacks == 0
    assert result.lost == [], result.lost
    assert result.problems == [], result.problems
    assert len(result.edits) >= 10, "the out-of-band writer hardly ran during the apply"
    roles = Counter(e.role for e in result.edits)
    assert set(roles) == {"planned", "manifest", "unmanaged"}, roles


@pytest.mark.timeout(120)
def test_the_judge_sees_a_forced_overwrite_as_a_lost_edit(tmp_path: Path) -> None:
    root = write_workspace(tmp_path / "ws", OOB_SIZE)
    with LiveSandbox() as sandbox:
        sandbox.add_principal(OOB, mm_id=31)
        env = workspace_env(sandbox.url, tmp_path / "cache")
        assert run_cli(root, env, "apply", "--auto-approve").code == 0
        targets = {
            (KIND_COLLECTION[rs.kind], rs.remote_id): address
            for address, rs in state_resources(root).items()
            if rs.provider == "mediamath" and rs.kind in KIND_COLLECTION
        }
        raise_budgets(root)
        plan_file = tmp_path / "plan.json"
        assert run_cli(root, env, "plan", "--out", str(plan_file)).code == 0
        coll, entity_id = sorted(targets)[0]
        r = requests.post(
            f"{sandbox.url}/_sandbox/mediamath/edit",
            json={"collection": coll, "id": int(entity_id), "fields": {"total_budget": "12345.00"}, "user": "oob"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        edits = [OobEdit(coll, entity_id, "total_budget", "12345.00", "planned")]

        # without --force-conflicts: a conflict, the edit kept, nothing lost
        kept = run_cli(root, env, "apply", str(plan_file))
        assert kept.code == 3, kept.text
        reported = set(re.findall(r"^(\S+): (?:conflict|skipped)\b", kept.out, re.MULTILINE))
        assert targets[(coll, entity_id)] in reported
        lost, problems = judge_oob(Probe(sandbox.url), edits, targets, reported)
        assert lost == [] and problems == [], (lost, problems)

        # with it: the judge must call the overwrite a lost edit
        assert run_cli(root, env, "plan", "--out", str(plan_file)).code == 0
        requests.post(
            f"{sandbox.url}/_sandbox/mediamath/edit",
            json={"collection": coll, "id": int(entity_id), "fields": {"total_budget": "23456.00"}, "user": "oob"},
            timeout=30,
        ).raise_for_status()
        forced = run_cli(root, env, "apply", str(plan_file), "--force-conflicts")
        assert forced.code == 0, forced.text
        lost, _ = judge_oob(Probe(sandbox.url), edits, targets, set())
        assert any("overwrote oob's total_budget" in line for line in lost), lost
