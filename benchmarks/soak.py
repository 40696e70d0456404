"""Soak test: the reliability suite's crash-anywhere trial (issue 9 item 1), many times over.

Each trial builds a fresh sandbox (MediaMath, LiveRamp and mediarithmics emulators on one
SandboxServer) and a ~200-object workspace pointing at it, starts ``python -m reconciler apply``,
SIGKILLs it at a random moment (after a random number of API writes, or during start-up and
planning), applies again, and checks: the second apply succeeds, the plan is then empty, no object
exists twice by natural key (read through the vendors' own HTTP APIs), every state id is live and
no run printed a traceback. Optionally it also runs the fault trial (30 % injected 429/5xx/drops
plus latency spikes; apply re-run until it converges) and the out-of-band writer trial (edits
during apply, judged against MediaMath ``/history``: lost edits).

    python benchmarks/soak.py --trials 50
    python benchmarks/soak.py --trials 10 --fault-trials 3 --oob-trials 5

The last line is the summary: trials, kills, duplicates, lost edits, tracebacks (and trials with
other failures). The exit status is 1 if duplicates, lost edits, tracebacks or failures are
non-zero. The workspace creates every LiveRamp question in its clean room (``cleanroom_id``), where
the room's assets list it; a question found in no room (only the sandbox can count those) would be
a copy made by a lost create, so "orphaned questions" are counted and fail the trial too.
Per-trial results go to ``benchmarks/results/soak.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.reliability.estate import Size  # noqa: E402
from tests.reliability.harness import calibrate, crash_trial, fault_trial, oob_trial  # noqa: E402

FAULT_SIZE = Size(agencies=1, advertisers_per_agency=2, campaigns_per_advertiser=2, strategies_per_campaign=3, rooms=2, mics_rooms=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50, help="crash-anywhere trials (default 50)")
    parser.add_argument("--fault-trials", type=int, default=0, help="fault-injection trials (default 0)")
    parser.add_argument("--oob-trials", type=int, default=0, help="out-of-band writer trials (default 0)")
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first trial; trial i uses seed+i")
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--workdir", type=Path, help="keep the workspaces here (default: a temporary directory)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "soak.json")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="reconciler-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    size = Size()
    writes, verdict = calibrate(workdir, size)
    print(f"calibration: {size.total} objects, {writes} API writes in a full apply; converged: {verdict.ok}", flush=True)

    kills = duplicates = lost = tracebacks = failures = orphans = 0
    records: list[dict[str, object]] = []
    for i in range(args.trials):
        r = crash_trial(args.seed + i, workdir, size, writes, args.parallelism)
        kills += int(r.killed)
        duplicates += r.duplicates
        tracebacks += r.tracebacks
        orphans += r.detached_questions
        failures += int(bool(r.problems))
        records.append({"type": "crash", **asdict(r)})
        status = "ok" if not r.problems and not r.duplicates and not r.tracebacks else "FAIL"
        print(
            f"crash trial {i + 1}/{args.trials} seed {r.seed}: killed={r.killed} after {r.kill_after_writes} writes, "
            f"duplicates {r.duplicates}, orphaned questions {r.detached_questions}, tracebacks {r.tracebacks}, "
            f"{r.seconds:.1f}s {status}" + "".join(f"\n    {p}" for p in r.problems),
            flush=True,
        )
    for i in range(args.fault_trials):
        f = fault_trial(args.seed + 500 + i, workdir, FAULT_SIZE, parallelism=args.parallelism)
        duplicates += f.duplicates
        tracebacks += f.tracebacks
        orphans += f.detached_questions
        failures += int(bool(f.problems))
        records.append({"type": "faults", **asdict(f)})
        print(
            f"fault trial {i + 1}/{args.fault_trials} seed {f.seed}: converged in {f.runs} runs, duplicates {f.duplicates}, "
            f"tracebacks {f.tracebacks}, {f.seconds:.1f}s; last budget: {f.budgets[-1] if f.budgets else '-'}"
            + "".join(f"\n    {p}" for p in f.problems),
            flush=True,
        )
    for i in range(args.oob_trials):
        o = oob_trial(args.seed + 800 + i, workdir, parallelism=args.parallelism)
        lost += len(o.lost)
        tracebacks += o.tracebacks
        failures += int(bool(o.problems))
        records.append({"type": "oob", "seed": o.seed, "code": o.code, "edits": len(o.edits), "conflicts": sorted(o.conflicts), "lost": o.lost, "problems": o.problems})
        print(
            f"out-of-band trial {i + 1}/{args.oob_trials} seed {o.seed}: {len(o.edits)} edits, {len(o.conflicts)} conflicts "
            f"reported (exit {o.code}), lost edits {len(o.lost)}" + "".join(f"\n    {p}" for p in o.lost + o.problems),
            flush=True,
        )

    summary = {
        "trials": args.trials,
        "kills": kills,
        "duplicates": duplicates,
        "lost_edits": lost,
        "tracebacks": tracebacks,
        "failures": failures,
        "orphaned_questions": orphans,
        "fault_trials": args.fault_trials,
        "oob_trials": args.oob_trials,
        "objects": size.total,
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "trials": records}, indent=2, sort_keys=True, default=str) + "\n")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"soak summary: trials {args.trials}, kills {kills}, duplicates {duplicates}, lost edits {lost}, "
        f"tracebacks {tracebacks} (failures {failures}, orphaned questions {orphans}, fault trials {args.fault_trials}, "
        f"out-of-band trials {args.oob_trials}, {summary['seconds']}s)"
    )
    return 1 if duplicates or lost or tracebacks or failures or orphans else 0


if __name__ == "__main__":
    sys.exit(main())
