"""Crash anywhere (issue 9 item 1): SIGKILL an apply of ~200 objects across three providers.

Aspects covered:
- Every trial runs with the state in local files and in PostgreSQL (a fresh schema of the
  session's throwaway cluster); on PostgreSQL the killed run's lock must be free the moment it
  died, before the next apply starts.
- The estate (``estate.py``: MediaMath hierarchy, LiveRamp clean rooms with datasets, partners,
  users, questions and schedules, mediarithmics clean rooms with ``writes: enabled``) is served
  by one SandboxServer; the workspace reaches it through ``${env:...}`` endpoints and demo
  credentials. ``python -m reconciler apply`` runs as a subprocess and is SIGKILLed at a random
  moment: after a random number of API writes (0 to all of them; 15 % of trials during start-up,
  lock, recovery or planning instead), plus a random delay. Five trials with fixed seeds.
- After each kill the next apply completes (exit 0, its stale lock cleared), and then: the plan
  is empty, no object exists twice by natural key (read through the vendors' own HTTP APIs), every
  state entry's remote id exists live, every manifest resource is in the state, no traceback.
- Calibration: an uninterrupted apply converges with the same checks (so the checks see a clean
  estate as clean) and gives the number of writes a full apply makes.
- The checks can fail: a duplicate created behind reconciler's back is reported.

``benchmarks/soak.py --trials 50`` runs the same trial 50 times.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.estate import Size, pg_env
from tests.reliability.harness import LiveSandbox, Probe, calibrate, crash_trial

SEEDS = [11, 12, 13, 14, 15]


@pytest.fixture(scope="module")
def full_apply_writes(tmp_path_factory: pytest.TempPathFactory) -> int:
    writes, verdict = calibrate(tmp_path_factory.mktemp("calibration"), Size())
    assert verdict.ok, verdict.problems
    assert Size().total >= 200
    assert writes >= Size().total  # one or more API writes per object
    return writes


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["local", "postgres"])
@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_at_a_random_moment_then_apply_converges(
    request: pytest.FixtureRequest, tmp_path: Path, full_apply_writes: int, seed: int, backend: str
) -> None:
    pg = None
    if backend == "postgres":
        settings = request.getfixturevalue("pg_settings")
        pg = pg_env(settings["url"], settings["schema"])
    result = crash_trial(seed, tmp_path, Size(), full_apply_writes, pg=pg)
    assert result.killed, f"seed {seed}: the apply finished before the kill ({result.kill_after_writes} writes)"
    assert result.problems == [], "\n".join(result.problems)
    assert result.duplicates == 0
    assert result.tracebacks == 0


def test_the_duplicate_check_sees_a_duplicate() -> None:
    with LiveSandbox() as sandbox:
        probe = Probe(sandbox.url)
        assert probe.inventory().duplicate_count() == 0
        twice = [{"name": "Twice Agency", "organization_id": 100048, "status": True}] * 2
        sandbox.control("seed", {"api": "mediamath", "name": "entities", "data": {"agencies": twice}})
        inventory = probe.inventory()
        assert inventory.duplicates() == {"mediamath.Agency": [(100048, "Twice Agency")]}
        assert inventory.duplicate_count() == 1
