"""Apply against a flaky sandbox (issue 9 item 2).

Aspects covered:
- 30 % of API answers are 429 with ``Retry-After``, 429 without it, 503 or a dropped connection,
  and 3 % of calls are delayed past the clients' 1 s timeout (the client gives up, the server
  carries on): re-running apply as a user would converges; afterwards the plan is empty, no
  object exists twice (natural keys through the vendors' APIs), every state id is live, no run
  printed a traceback, and every run that ended printed its error budget (retries, 429s, 5xx,
  transport errors).
- A multi-step create (LiveRamp clean-room question: add, then dataset assignments, then
  permissions) whose later step fails transiently: the executor finds the half-made object by
  natural key and adopts it; it must then finish it (or say it did not), never report "done"
  for an object that lacks what the manifest asks.
- A create whose answer is lost (the call times out while the server goes on): not sent again in
  the same run (a lookup that soon cannot see it yet), the intent stays open, and the next run
  adopts it: no duplicate. LiveRamp questions included: the API lists them only per clean room,
  so the workspace creates them in one (``cleanroom_id``) and they are found through its assets.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.reliability.estate import Size, workspace_env, write_workspace
from tests.reliability.harness import LiveSandbox, Probe, check_converged, fault_trial, run_cli

FAULT_SIZE = Size(agencies=1, advertisers_per_agency=2, campaigns_per_advertiser=2, strategies_per_campaign=3, rooms=2, mics_rooms=10)
LIVERAMP_ONLY = Size(agencies=0, advertisers_per_agency=0, campaigns_per_advertiser=0, strategies_per_campaign=0, rooms=1, mics_rooms=0)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", [7, 8])
def test_apply_converges_under_injected_faults(tmp_path: Path, seed: int) -> None:
    result = fault_trial(seed, tmp_path, FAULT_SIZE)
    assert result.problems == [], "\n".join(result.problems)
    assert result.duplicates == 0
    assert result.tracebacks == 0
    assert result.budgets, "no run printed its requests and retries"
    totals: dict[str, int] = {}
    for line in result.budgets:  # "API requests: 41; retries: 8 (429: 5, 5xx: 2, no answer: 1)."
        for name, count in re.findall(r"(retries|429|5xx|no answer): (\d+)", line):
            totals[name] = totals.get(name, 0) + int(count)
    # the faults were seen and reported: retries, 429s and 5xx/transport failures
    assert totals.get("retries", 0) > 0 and totals.get("429", 0) > 0, result.budgets
    assert totals.get("5xx", 0) + totals.get("no answer", 0) > 0, result.budgets


def liveramp_workspace(tmp_path: Path, sandbox: LiveSandbox, timeout: float = 20.0) -> tuple[Path, dict[str, str]]:
    root = write_workspace(tmp_path / "ws", LIVERAMP_ONLY)
    return root, workspace_env(sandbox.url, tmp_path / "cache", timeout=timeout)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("step", ["/cleanroom-question-permissions", "/datasets-ownership", "/datasets"])
def test_a_create_failing_part_way_is_finished_after_adoption(tmp_path: Path, step: str) -> None:
    with LiveSandbox() as sandbox:
        root, env = liveramp_workspace(tmp_path, sandbox)
        sandbox.log.fail_next("POST", step, status=503)
        applied = run_cli(root, env, "apply", "--auto-approve")
        assert not applied.traceback, applied.text
        assert any(w.path.endswith(step) and w.status == 503 for w in sandbox.writes()), "the fault was not hit"
        plan = run_cli(root, env, "plan", "--detailed-exitcode")
        if applied.code == 0:
            # "Apply complete" must mean what it says: nothing left to do
            assert plan.code == 0, f"apply said done, but:\n{plan.out}"
        else:
            assert applied.code == 1 and "liveramp.CleanroomQuestion/crq0" in applied.text, applied.text
        again = run_cli(root, env, "apply", "--auto-approve")
        assert again.code == 0, again.text
        verdict = check_converged(root, env, Probe(sandbox.url), LIVERAMP_ONLY.total, sandbox)
        assert verdict.ok, verdict.problems


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    "kind_path",
    [
        "/v1/cleanrooms",
        "/v1/data-connections",
        "/v1/question",  # findable through its clean room's assets because it sets cleanroom_id
    ],
)
def test_a_create_whose_answer_is_lost_is_not_duplicated(tmp_path: Path, kind_path: str) -> None:
    """The first create call of a kind is held past the client's timeout: the client gives up,
    the server creates the object anyway a moment later."""
    with LiveSandbox() as sandbox:
        root, env = liveramp_workspace(tmp_path, sandbox, timeout=1.0)
        sandbox.log.delay_next("POST", "/liveramp" + kind_path, seconds=2.5)
        applied = run_cli(root, env, "apply", "--auto-approve")
        assert not applied.traceback, applied.text
        assert sandbox.log.delayed == 1
        if applied.code != 0:
            assert "no answer came back" in applied.text, applied.text
            sandbox.log.quiesce()  # the user re-runs later; by then the held call has landed
            again = run_cli(root, env, "apply", "--auto-approve")
            assert again.code == 0, again.text
        verdict = check_converged(root, env, Probe(sandbox.url), LIVERAMP_ONLY.total, sandbox)
        assert verdict.ok, verdict.problems
        assert verdict.detached_questions == 0


@pytest.mark.timeout(180)
def test_a_question_outside_every_room_is_warned_about_and_never_called_absent(tmp_path: Path) -> None:
    """Without ``cleanroom_id`` a question is in no room until a clean-room question adds it, and
    the API lists it nowhere: the plan warns before creating it, and when its create answer is lost
    the next run says it could not check (not "had not reached the server")."""
    with LiveSandbox() as sandbox:
        root, env = liveramp_workspace(tmp_path, sandbox, timeout=1.0)
        manifest = root / "manifests" / "liveramp.yaml"
        text = manifest.read_text(encoding="utf-8")
        in_room = "  cleanroom_id: {ref: Cleanroom/room0}\n  title: Reliability reach 0\n"
        assert in_room in text
        manifest.write_text(text.replace(in_room, "  title: Reliability reach 0\n"), encoding="utf-8")
        plan = run_cli(root, env, "plan")
        assert plan.code == 0, plan.text
        assert "liveramp.Question/q0: created without cleanroom_id" in plan.text, plan.text
        sandbox.log.delay_next("POST", "/liveramp/v1/question", seconds=2.5)
        applied = run_cli(root, env, "apply", "--auto-approve")
        assert not applied.traceback, applied.text
        assert applied.code != 0 and "no answer came back" in applied.text, applied.text
        sandbox.log.quiesce()
        again = run_cli(root, env, "apply", "--auto-approve")
        assert "liveramp.Question/q0: an interrupted create could not be checked" in again.text, again.text
        assert "had not reached the server" not in again.text


@pytest.mark.timeout(120)
def test_a_token_request_answered_5xx_is_asked_again(tmp_path: Path) -> None:
    """A 5xx to the LiveRamp token request issued no token: the client asks again (only then; a lost
    answer may have used one of the day's two tokens, so that is not resent)."""
    with LiveSandbox() as sandbox:
        root, env = liveramp_workspace(tmp_path, sandbox)
        assert run_cli(root, env, "apply", "--auto-approve").code == 0
        fresh = workspace_env(sandbox.url, tmp_path / "another-cache")  # no token cached: the plan asks
        sandbox.log.fail_next("POST", "/liveramp/v1/oauth/token", status=503)
        plan = run_cli(root, fresh, "plan", "--detailed-exitcode")
        assert plan.code == 0, plan.text
        assert [w.status for w in sandbox.writes() if w.path.endswith("/oauth/token")] == [503]  # injected
        counters = requests.get(f"{sandbox.url}/_sandbox/liveramp/counters", timeout=10).json()
        assert counters["tokens_issued"] == {"demo-client": 2}, counters  # the apply's and the plan's
