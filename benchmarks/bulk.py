"""Many similar objects: 10,000 strategies from one CSV (``for_each``) against the same 10,000
written as plain documents (issue 20), side by side in one run.

For each form, in a fresh process (so peak memory is its own):
- ``validate``: load and check every manifest (``Workspace.desired``), no API;
- ``plan``: a no-change plan of the whole workspace: load, then the plan builder against a state
  and live objects that match (built in memory from the loaded resources: no HTTP, so only what
  the two forms can differ in is measured; refresh is the same requests for both).

Prints a Markdown table and writes ``benchmarks/results/bulk.json``/``.md``. The target: the
generated form at most 1.5x the plain form's time and peak memory.

    python benchmarks/bulk.py               # 10,000 strategies, 3 repetitions (about 1 min)
    python benchmarks/bulk.py --rows 2000 --repeat 1
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"

WORKSPACE = "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n  mediamath: {endpoint: sandbox}\n"
HEAD = """\
apiVersion: mediamath/v1
kind: Campaign
metadata: {name: bulk}
spec:
  advertiser_id: "150000"
  name: Bulk
  ad_server_id: 9
  service_type: SELF
  zone_name: UTC
  start_date: "2026-12-01T00:00:00"
  end_date: "2027-01-31T23:59:59"
  goal_type: cpa
  goal_value: 10
  total_budget: 10000000
  use_mm_freq: false
"""
TEMPLATE = """\
apiVersion: mediamath/v1
kind: Strategy
metadata:
  name: "s-${each.value.id}"
for_each:
  csv: strategies.csv
spec:
  campaign_id: {ref: Campaign/bulk}
  name: "Strategy ${each.value.id} ${upper(each.value.market)}"
  type: GBO
  goal_type: cpa
  goal_value: ${each.value.goal}
  budget: ${each.value.budget}
  max_bid: ${each.value.bid}
  pacing_type: even
  pacing_interval: day
  pacing_amount: 10
  use_campaign_start: true
  use_campaign_end: true
  media_type: DISPLAY
"""
PLAIN = """\
apiVersion: mediamath/v1
kind: Strategy
metadata:
  name: "s-{id}"
spec:
  campaign_id: {{ref: Campaign/bulk}}
  name: "Strategy {id} {market_upper}"
  type: GBO
  goal_type: cpa
  goal_value: {goal}
  budget: {budget}
  max_bid: {bid}
  pacing_type: even
  pacing_interval: day
  pacing_amount: 10
  use_campaign_start: true
  use_campaign_end: true
  media_type: DISPLAY
"""


def rows(n: int) -> list[dict[str, Any]]:
    markets = ("us", "ca", "uk", "de", "fr")
    return [{"id": i, "market": markets[i % 5], "goal": 5 + i % 10, "budget": 1000 + i % 500, "bid": 1.5 + (i % 20) / 10}
            for i in range(n)]


def write(root: Path, form: str, n: int) -> None:
    root.mkdir(parents=True)
    (root / "reconciler.yaml").write_text(WORKSPACE)
    (root / "campaign.yaml").write_text(HEAD)
    data = rows(n)
    if form == "generated":
        with (root / "strategies.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(data[0]))
            writer.writeheader()
            writer.writerows(data)
        (root / "strategies.yaml").write_text(TEMPLATE)
    else:
        (root / "strategies.yaml").write_text("---\n".join(PLAIN.format(market_upper=r["market"].upper(), **r) for r in data))


def measure(root: str, what: str) -> dict[str, float]:
    """In this process: time ``what`` on the workspace at ``root``; peak RSS of the process."""
    sys.path.insert(0, str(REPO))
    from reconciler.engine import Workspace
    from reconciler.model import LiveObject, resolve_refs
    from reconciler.plan.builder import PlanInput, ProviderView, build_plan
    from reconciler.providers.mediamath.provider import MediaMathProvider
    from reconciler.state.base import ResourceState, StateSnapshot

    ws = Workspace(start=Path(root), resolve_credentials=False)
    start = time.perf_counter()
    desired = ws.desired()
    loaded = time.perf_counter() - start
    out = {"resources": float(len(desired)), "load_s": loaded}
    if what == "plan":
        ids = {str(d.address): str(100000 + i) for i, d in enumerate(desired)}
        provider = MediaMathProvider.__new__(MediaMathProvider)  # normalize and kinds only: no client
        state, live = {}, {}
        for d in desired:
            spec = resolve_refs(d.spec, ids)
            address = str(d.address)
            state[address] = ResourceState(address, "mediamath", d.address.kind, ids[address], applied_spec=spec,
                                           fingerprint="x", version=1)
            live[address] = LiveObject(d.address.kind, ids[address], provider.normalize(d.address.kind, spec), version=1)
        started = time.perf_counter()
        plan = build_plan(PlanInput(desired, StateSnapshot("l", 1, state), live, {},
                                    {"mediamath": ProviderView.of(provider)}))
        out["build_s"] = time.perf_counter() - started
        assert not plan.has_changes, "the plan should be empty"
        out["plan_s"] = loaded + out["build_s"]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run(root: Path, what: str) -> dict[str, float]:
    code = f"import json, sys; sys.path.insert(0, {str(REPO)!r}); from benchmarks.bulk import measure; " \
           f"print(json.dumps(measure({str(root)!r}, {what!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    figures: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for form in ("plain", "generated"):
            write(Path(tmp) / form, form, args.rows)
        for what in ("validate", "plan"):
            for form in ("plain", "generated"):
                runs = [run(Path(tmp) / form, what) for _ in range(args.repeat)]
                key = "plan_s" if what == "plan" else "load_s"
                figures.setdefault(what, {})[form] = {
                    "time_s": round(statistics.median(r[key] for r in runs), 3),
                    "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in runs), 1),
                    "resources": runs[0]["resources"],
                }
    lines = [f"| {args.rows:,} strategies | plain: time | generated: time | ratio | plain: peak RSS | generated: peak RSS | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for what, forms in figures.items():
        p, g = forms["plain"], forms["generated"]
        lines.append(f"| {what} | {p['time_s']:.2f} s | {g['time_s']:.2f} s | {g['time_s'] / p['time_s']:.2f}x | "
                     f"{p['peak_rss_mb']:.0f} MB | {g['peak_rss_mb']:.0f} MB | {g['peak_rss_mb'] / p['peak_rss_mb']:.2f}x |")
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bulk.json").write_text(json.dumps({"rows": args.rows, "repeat": args.repeat, "figures": figures}, indent=2))
    (RESULTS / "bulk.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
