"""State backends benchmark (issue 19): the large estate's state in local files and in PostgreSQL,
measured in the same run.

Run ``python benchmarks/state_backends.py [--small] [--updates N] [--out benchmarks/results]``
(see ``benchmarks/README.md``, section "State backends"). It builds the 14,127-object estate of
``large_estate.py`` (the MediaMath and LiveRamp emulators' ``estate`` seeds in a sandbox child
process, read back once into matching manifests and a local state), starts a throwaway PostgreSQL
cluster (``tests/support/postgres.py``: initdb in a temp dir on a free port, as the ``postgres``
OS user when run as root, with PostgreSQL's durable defaults: fsync and synchronous commit on, as
the local backend fsyncs every journal line), moves the state there with ``state migrate``'s code, then measures both
backends alike:

1. **load**: a fresh backend instance's first ``read()`` (connect and check the tables included for
   PostgreSQL; parse and check every resource for both), the median of 5;
2. **recording, state only**: under the lock, what the executor does per written resource
   (``begin_intent``, ``record``, ``end_intent``) for N of the estate's strategies, one at a time
   and from 8 threads (the executor's default parallelism); then ``release_lock`` (the local
   backend compacts its journal into the snapshot, PostgreSQL trims its journal);
3. **a real apply**: ``Workspace.apply`` of N strategy budget changes against the sandbox (no
   latency, no rate limit, so the state's share is visible), once per backend: wall time per
   resource, and the difference between the two.

It writes ``state_backends.json`` and ``state_backends.md`` (``state_backends_small.*`` with
``--small``) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (str(REPO), str(REPO / "benchmarks")):
    if entry not in sys.path:  # run as a script from anywhere
        sys.path.insert(0, entry)

import large_estate  # noqa: E402

from reconciler.apply import ApplyOptions  # noqa: E402
from reconciler.engine import Workspace  # noqa: E402
from reconciler.state import StateBackend, open_backend  # noqa: E402
from reconciler.state.base import Intent, ResourceState  # noqa: E402
from reconciler.state.local import LocalBackend  # noqa: E402
from reconciler.state.transfer import migrate  # noqa: E402
from tests.support.postgres import running_cluster  # noqa: E402

PG_STATE = 'state: {backend: postgres, url: "${env:BENCH_PG_URL}", schema: bench}\n'


def _log(message: str) -> None:
    print(f"[state_backends] {message}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def measure_load(open_state: Callable[[], StateBackend], runs: int = 5) -> dict[str, Any]:
    times = []
    count = 0
    for _ in range(runs):
        backend = open_state()
        seconds, snapshot = timed(backend.read)
        backend.close()
        times.append(seconds)
        count = len(snapshot.resources)
    return {"resources": count, "median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times]}


def measure_recording(backend: StateBackend, strategies: Sequence[ResourceState], bump: int) -> dict[str, Any]:
    """begin_intent + record + end_intent per strategy, one at a time, then from 8 threads."""
    half = len(strategies) // 2
    sequential, threaded = strategies[:half], strategies[half:]

    def write(rs: ResourceState, tag: str) -> None:
        intent = Intent(f"bench-{tag}-{rs.address}", rs.address, "update", rs.provider, rs.kind, dict(rs.applied_spec), rs.remote_id)
        backend.begin_intent(intent)
        backend.record(replace(rs, version=(rs.version or 0) + bump))
        backend.end_intent(intent.id, "done")

    lock = backend.acquire_lock("apply")
    seq_s, _ = timed(lambda: [write(rs, f"s{bump}") for rs in sequential])
    chunks = [threaded[i::8] for i in range(8)]

    def worker(chunk: Sequence[ResourceState]) -> None:
        for rs in chunk:
            write(rs, f"t{bump}")

    def parallel() -> None:
        threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    par_s, _ = timed(parallel)
    release_s, _ = timed(lambda: backend.release_lock(lock))
    return {
        "sequential": {"resources": len(sequential), "total_s": round(seq_s, 3),
                       "ms_per_resource": round(1000 * seq_s / max(1, len(sequential)), 3)},
        "threads_8": {"resources": len(threaded), "total_s": round(par_s, 3),
                      "ms_per_resource": round(1000 * par_s / max(1, len(threaded)), 3)},
        "release_lock_s": round(release_s, 3),
    }


def measure_apply(root: Path, updates: int, env: dict[str, str]) -> dict[str, Any]:
    ws = Workspace(start=root, env=env)
    try:
        plan_s, (plan, _) = timed(ws.plan)
        apply_s, result = timed(lambda: ws.apply(plan, ApplyOptions()))
    finally:
        ws.close()
    outcomes: dict[str, int] = {}
    for r in result.results:
        outcomes[r.outcome.value] = outcomes.get(r.outcome.value, 0) + 1
    return {
        "planned": plan.counts(),
        "plan_s": round(plan_s, 3),
        "apply_s": round(apply_s, 3),
        "outcomes": outcomes,
        "ms_per_updated_resource": round(1000 * apply_s / max(1, updates), 3),
    }


def use_backend(root: Path, postgres: bool) -> None:
    config = root / "reconciler.yaml"
    text = config.read_text(encoding="utf-8").replace(PG_STATE, "")
    config.write_text(text + (PG_STATE if postgres else ""), encoding="utf-8")


def run(sizes: large_estate.Sizes, updates: int, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        },
        "updates": updates,
    }
    # no client-side limit either: the apply's time is the state's and the emulator's, not a budget's
    sizes = replace(sizes, rate=1_000_000.0, burst=1_000_000.0)
    with large_estate.Sandbox() as sandbox, running_cluster(durable=True) as cluster:
        build_s, estate = timed(lambda: large_estate.build_estate(sandbox, sizes, work / "workspace"))
        root = estate.root
        results["estate"] = {"resources": estate.count, "build_s": round(build_s, 1)}
        _log(f"estate: {estate.count} resources in {build_s:.0f}s")
        sandbox.rate_limit("mediamath", rate=0)
        env = {**large_estate.workspace_env(root), "BENCH_PG_URL": cluster.url()}
        pg_settings = {"backend": "postgres", "url": cluster.url(), "schema": "bench"}
        local_path = root / ".reconciler" / "state.json"

        migrate_s, moved = timed(lambda: migrate(LocalBackend(local_path), open_backend(pg_settings, root)))
        results["migrate"] = {"seconds": round(migrate_s, 3), "serial": moved.serial, "resources": moved.resources}
        _log(f"migrated {moved.resources} resources to PostgreSQL in {migrate_s:.2f}s")

        openers: dict[str, Callable[[], StateBackend]] = {
            "local": lambda: LocalBackend(local_path),
            "postgres": lambda: open_backend(pg_settings, root),
        }
        results["load"] = {name: measure_load(opener) for name, opener in openers.items()}
        _log(f"load: {json.dumps({k: v['median_s'] for k, v in results['load'].items()})}")

        snapshot = LocalBackend(local_path).read()
        strategies = [rs for rs in snapshot.resources.values() if rs.kind == "Strategy"][:updates]
        results["recording"] = {}
        for bump, (name, opener) in enumerate(openers.items(), 1):
            backend = opener()
            results["recording"][name] = measure_recording(backend, strategies, bump)
            backend.close()
        _log(f"recording: {json.dumps({k: v['sequential']['ms_per_resource'] for k, v in results['recording'].items()})}")

        # a real apply per backend; each starts from its own state and a fresh set of budget changes
        results["apply"] = {}
        for name in ("postgres", "local"):
            use_backend(root, name == "postgres")
            changed = large_estate.change_strategies(estate, updates)
            results["apply"][name] = measure_apply(root, len(changed), env)
            _log(f"apply on {name}: {results['apply'][name]['apply_s']}s")
        use_backend(root, False)
    results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def markdown(r: dict[str, Any]) -> str:
    load, rec, app = r["load"], r["recording"], r["apply"]
    m = r["machine"]
    lines = [
        f"Estate: {r['estate']['resources']:,} resources (built in {r['estate']['build_s']} s). "
        f"Machine: {m['cpus']} CPUs, Python {m['python']}, load average {m['loadavg_start'][0]} at start, "
        f"{m['loadavg_end'][0]} at end. PostgreSQL 15: a throwaway cluster on this machine, reached over "
        f"TCP on 127.0.0.1, with its durable defaults (fsync, synchronous commit) as the local files fsync "
        f"every journal line. Migration local -> PostgreSQL: {r['migrate']['seconds']} s.",
        "",
        "| | local files | PostgreSQL |",
        "|---|---:|---:|",
        f"| load (fresh backend, first read, median of 5) | {load['local']['median_s']} s | {load['postgres']['median_s']} s |",
    ]
    for key, label in (("sequential", "one at a time"), ("threads_8", "8 threads")):
        lines.append(
            f"| per recorded resource, state only ({label}; intent + record + outcome) | "
            f"{rec['local'][key]['ms_per_resource']} ms | {rec['postgres'][key]['ms_per_resource']} ms |"
        )
    lines.append(
        f"| release_lock after {r['updates']:,} recorded resources (compaction / journal trim) | "
        f"{rec['local']['release_lock_s']} s | {rec['postgres']['release_lock_s']} s |"
    )
    lines.append(
        f"| apply of {r['updates']:,} strategy updates (sandbox, no latency, no rate limit): wall | "
        f"{app['local']['apply_s']} s | {app['postgres']['apply_s']} s |"
    )
    lines.append(
        f"| ... per updated resource | {app['local']['ms_per_updated_resource']} ms | "
        f"{app['postgres']['ms_per_updated_resource']} ms |"
    )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help="~250 objects instead of 14,127")
    parser.add_argument("--updates", type=int, default=1000, help="resources recorded / updated per backend")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    sizes = large_estate.Sizes.small() if args.small else large_estate.Sizes()
    updates = min(args.updates, sizes.strategies)
    with tempfile.TemporaryDirectory(prefix="reconciler-state-bench-") as tmp:
        results = run(sizes, updates, Path(tmp))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "state_backends_small" if args.small else "state_backends"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
