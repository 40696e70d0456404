"""One writer at a time (issue 9 item 7), with real processes against one sandbox.

Aspects covered:
- An apply SIGKILLed while holding the lock leaves ``state.lock`` naming its holder (pid,
  user@host, operation ``apply``, id); the next apply reports that holder as a stale lock it
  cleared (the pid is dead on this host) and completes.
- A lock held by a run on another host is never broken automatically: apply exits 1 naming the
  holder and the ``reconciler state unlock <id>`` command; ``state unlock`` with a wrong id
  removes nothing; with the right id it clears the lock and apply proceeds.
- The same with the state in PostgreSQL: the killed apply's lock is free the moment it died (its
  session ended), its lock row still names it, and the next apply says it replaced that stale
  lock, completes, and the plan after it is empty with no duplicates.
- Two applies against the same workspace (state in local files, and in PostgreSQL), as two principals (distinct credentials, so the
  sandbox's write log tells whose every write is): started together, exactly one runs and the
  other fails at once naming the holder; started while the first is writing, one without
  ``--lock-timeout`` fails at once having written nothing, one with it waits and then applies
  its own changes. In the write log no write of the second comes before the last of the first.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.estate import Size, pg_env, workspace_env, write_workspace
from tests.reliability.harness import (
    DEMO,
    LiveSandbox,
    LoggedWrite,
    Principal,
    Probe,
    check_converged,
    raise_budgets,
    run_cli,
    spawn_cli,
    state_backend,
)
from tests.support.postgres import released

OTHER = Principal("other", "other", "other-password-77", "other-api-key-77", "other-client", "other-secret-77", "other-token-77")
SIZE = Size()


def lock_path(root: Path) -> Path:
    return root / ".reconciler" / "state.lock"


def wait_for(condition, timeout: float = 60.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def interleaved(writes: list[LoggedWrite], first: str, second: str) -> bool:
    a = [w.seq for w in writes if w.principal == first]
    b = [w.seq for w in writes if w.principal == second]
    return bool(a and b) and min(b) < max(a)


@pytest.mark.timeout(300)
def test_lock_of_a_killed_apply_is_reported_with_its_holder_and_cleared(tmp_path: Path) -> None:
    root = write_workspace(tmp_path / "ws", SIZE)
    with LiveSandbox() as sandbox:
        env = workspace_env(sandbox.url, tmp_path / "cache")
        proc = spawn_cli(root, env, "apply", "--auto-approve", "--parallelism", "2")
        wait_for(lambda: sandbox.write_count() >= 20 or proc.poll() is not None, what="writes")
        assert proc.poll() is None, proc.output()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        holder = json.loads(lock_path(root).read_text())
        assert holder["pid"] == proc.pid and holder["operation"] == "apply"
        assert holder["who"].count("@") == 1 and holder["id"]

        resumed = run_cli(root, env, "apply", "--auto-approve")
        assert resumed.code == 0, resumed.text
        assert "cleared a stale lock" in resumed.err, resumed.err
        assert f"pid {proc.pid}" in resumed.err and holder["id"] in resumed.err, resumed.err
        assert not lock_path(root).exists()
        verdict = check_converged(root, env, Probe(sandbox.url), SIZE.total, sandbox)
        assert verdict.ok, verdict.problems


@pytest.mark.timeout(300)
def test_lock_of_a_killed_apply_on_postgres_is_free_at_once(tmp_path: Path, pg_settings: dict[str, Any]) -> None:
    root = write_workspace(tmp_path / "ws", SIZE, postgres=True)
    pg = pg_env(pg_settings["url"], pg_settings["schema"])
    with LiveSandbox() as sandbox:
        env = {**workspace_env(sandbox.url, tmp_path / "cache"), **pg}
        proc = spawn_cli(root, env, "apply", "--auto-approve", "--parallelism", "2")
        wait_for(lambda: sandbox.write_count() >= 20 or proc.poll() is not None, what="writes")
        assert proc.poll() is None, proc.output()
        backend = state_backend(root, env)
        held = backend.current_lock()
        assert held is not None and held.pid == proc.pid and held.operation == "apply"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert released(backend)  # free at once: the session died with the process
        backend.close()
        assert not lock_path(root).exists()

        resumed = run_cli(root, env, "apply", "--auto-approve")
        assert resumed.code == 0, resumed.text
        assert "cleared a stale lock" in resumed.err and f"pid {proc.pid}" in resumed.err and held.id in resumed.err
        assert not resumed.traceback
        verdict = check_converged(root, env, Probe(sandbox.url), SIZE.total, sandbox)
        assert verdict.ok, verdict.problems


@pytest.mark.timeout(120)
def test_lock_from_another_host_is_named_and_cleared_only_by_state_unlock(tmp_path: Path) -> None:
    small = Size(agencies=1, advertisers_per_agency=1, campaigns_per_advertiser=1, strategies_per_campaign=1, rooms=0, mics_rooms=2)
    root = write_workspace(tmp_path / "ws", small)
    with LiveSandbox() as sandbox:
        env = workspace_env(sandbox.url, tmp_path / "cache")
        lock_path(root).parent.mkdir(parents=True, exist_ok=True)
        lock = {"id": "4d1c0ffe-0000-4000-8000-000000000042", "who": "ci@build-agent-7", "pid": 4242,
                "operation": "apply", "created": "2026-01-02T03:04:05Z"}
        lock_path(root).write_text(json.dumps(lock) + "\n")

        blocked = run_cli(root, env, "apply", "--auto-approve")
        assert blocked.code == 1, blocked.text
        assert "ci@build-agent-7" in blocked.err and "4242" in blocked.err and "apply" in blocked.err, blocked.err
        assert not blocked.traceback
        assert sandbox.write_count() == 0

        wrong = run_cli(root, env, "state", "unlock", "not-the-id")
        assert wrong.code == 1 and lock_path(root).exists(), wrong.text
        cleared = run_cli(root, env, "state", "unlock", lock["id"])
        assert cleared.code == 0 and not lock_path(root).exists(), cleared.text
        applied = run_cli(root, env, "apply", "--auto-approve")
        assert applied.code == 0, applied.text


def backend_env(request: pytest.FixtureRequest, backend: str) -> dict[str, str]:
    if backend == "local":
        return {}
    settings = request.getfixturevalue("pg_settings")
    return pg_env(settings["url"], settings["schema"])


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_two_applies_started_together_never_interleave(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    pg = backend_env(request, backend)
    root = write_workspace(tmp_path / "ws", SIZE, postgres=bool(pg))
    with LiveSandbox() as sandbox:
        sandbox.add_principal(OTHER, mm_id=77)
        env_a = {**workspace_env(sandbox.url, tmp_path / "cache-a", secrets=DEMO.env()), **pg}
        env_b = {**workspace_env(sandbox.url, tmp_path / "cache-b", secrets=OTHER.env()), **pg}
        a = spawn_cli(root, env_a, "apply", "--auto-approve")
        b = spawn_cli(root, env_b, "apply", "--auto-approve")
        ra, rb = a.result(), b.result()
        codes = sorted((ra.code, rb.code))
        assert codes == [0, 1], (ra.text[-2000:], rb.text[-2000:])
        loser, winner = (ra, b) if ra.code == 1 else (rb, a)
        assert "locked" in loser.err and f"pid {winner.pid}" in loser.err, loser.err
        assert not ra.traceback and not rb.traceback
        writes = sandbox.writes()
        assert {w.principal for w in writes} == {"demo" if winner is a else "other"}, {w.principal for w in writes}
        verdict = check_converged(root, env_a, Probe(sandbox.url), SIZE.total, sandbox)
        assert verdict.ok, verdict.problems


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_second_apply_fails_at_once_or_waits_and_never_interleaves(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    pg = backend_env(request, backend)
    root = write_workspace(tmp_path / "ws", SIZE, postgres=bool(pg))
    with LiveSandbox() as sandbox:
        sandbox.add_principal(OTHER, mm_id=77)
        sandbox.faults(latency_ms=5.0)  # keep the first apply writing for a while
        env_a = {**workspace_env(sandbox.url, tmp_path / "cache-a", secrets=DEMO.env()), **pg}
        env_b = {**workspace_env(sandbox.url, tmp_path / "cache-b", secrets=OTHER.env()), **pg}
        first = spawn_cli(root, env_a, "apply", "--auto-approve", "--parallelism", "2")
        wait_for(lambda: sandbox.write_count() >= 5 or first.poll() is not None, what="the first apply's writes")
        assert first.poll() is None

        at_once = run_cli(root, env_b, "apply", "--auto-approve")
        assert at_once.code == 1, at_once.text
        assert f"pid {first.pid}" in at_once.err and "apply" in at_once.err, at_once.err
        assert first.poll() is None, "the first apply finished too soon for this test to mean anything"

        raise_budgets(root)  # the first apply planned already: these changes are the waiter's
        waiter = spawn_cli(root, env_b, "apply", "--auto-approve", "--lock-timeout", "120")
        time.sleep(0.5)
        assert waiter.poll() is None  # waiting for the lock
        done_first = first.result()
        done_waiter = waiter.result()
        assert done_first.code == 0, done_first.text[-3000:]
        assert done_waiter.code == 0, done_waiter.text[-3000:]
        assert "Apply complete" in done_waiter.out and "update" in done_waiter.out

        writes = sandbox.writes()
        by = {w.principal for w in writes}
        assert by == {"demo", "other"}, by
        assert not interleaved(writes, "demo", "other"), [(w.seq, w.principal, w.path) for w in writes][-40:]
        sandbox.no_faults()
        verdict = check_converged(root, env_a, Probe(sandbox.url), SIZE.total, sandbox)
        assert verdict.ok, verdict.problems
