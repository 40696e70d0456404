"""Benchmark: read 1,000,000 rows of a Reporting API v2 stream with constant memory.

A sandbox (MediaMath v2.0 + Reporting v2 emulators) runs in a *separate process* on 127.0.0.1 so
that only the client is measured. Its ``synthetic`` seed adds 1,000 virtual strategies; a
``performance-hourly`` query ``by_hour`` over 10, 100 and 1,000 hours streams 10,000, 100,000 and
1,000,000 rows through :class:`reconciler.providers.mediamath.reporting.ReportingClient`.

For each size the client's peak Python heap while reading (``tracemalloc``), its resident set
size at the end (``/proc/self/statm``) and the process's peak RSS so far (``getrusage``) are
recorded, with rows/s. During the 1,000,000-row run the heap is also sampled at 10k, 100k and 1M
rows. Results go to ``benchmarks/results/reporting_stream.{json,md}``.

    python benchmarks/reporting_stream.py [--rows 1000000] [--no-tracemalloc]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.providers.mediamath.reporting import Filter, ReportingClient, ReportRequest  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
STRATEGIES = 1000
CHECKPOINTS = (10_000, 100_000, 1_000_000)
SERVER = """
import sys
from reconciler.sandbox import create_sandbox
from reconciler.sandbox.base import SandboxServer
server = SandboxServer(create_sandbox(names=["mediamath", "mediamath-reporting"]))
print(server.port, flush=True)
server.serve_forever()
"""


@dataclass
class Run:
    rows: int
    seconds: float
    rows_per_second: float
    tracemalloc_peak_kib: float | None
    rss_end_kib: float
    max_rss_kib: float


def rss_kib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024


def max_rss_kib() -> float:
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def request_for(hours: int) -> ReportRequest:
    start = datetime(2026, 2, 1, tzinfo=UTC)
    end = start + timedelta(hours=hours)
    return ReportRequest(
        dataset="performance-hourly",
        fields=("strategy_id", "impressions", "clicks", "total_spend"),
        filters=(Filter("campaign_name", "=~", "synthetic"),),
        rollup="by_hour",
        start_time=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        end_time=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def read(client: ReportingClient, rows: int, trace: bool, samples: dict[int, float] | None = None) -> Run:
    request = request_for(rows // STRATEGIES)
    if trace:
        tracemalloc.reset_peak()
    start = time.perf_counter()
    count = 0
    with client.stream(request) as stream:
        assert stream.total_items_count == rows, (stream.total_items_count, rows)
        for _ in stream:
            count += 1
            if samples is not None and count in CHECKPOINTS and trace:
                samples[count] = round(tracemalloc.get_traced_memory()[1] / 1024, 1)
    seconds = time.perf_counter() - start
    peak = round(tracemalloc.get_traced_memory()[1] / 1024, 1) if trace else None
    return Run(count, round(seconds, 2), round(count / seconds), peak, round(rss_kib()), round(max_rss_kib()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="largest run (a multiple of 1000)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="RSS only (tracemalloc slows reading)")
    args = parser.parse_args()
    trace = not args.no_tracemalloc
    sizes = [n for n in CHECKPOINTS if n < args.rows] + [args.rows]

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        requests.post(f"{base}/_sandbox/seed", json={"api": "mediamath-reporting", "name": "synthetic", "data": {
            "campaigns": STRATEGIES // 10, "strategies_per_campaign": 10,
            "start_date": "2026-01-01T00:00:00Z", "end_date": "2026-12-31T23:00:00Z"}}).raise_for_status()
        token = requests.post(f"{base}/_sandbox/mediamath-reporting/token", json={"user": "demo"}).json()
        client = ReportingClient(f"{base}/mediamath", {"access_token": token["access_token"]}, rate=0)
        if trace:
            tracemalloc.start()
        read(client, 1000, trace)  # warm up: imports, connection pool
        runs: list[Run] = []
        samples: dict[int, float] = {}
        for size in sizes:
            runs.append(read(client, size, trace, samples if size == sizes[-1] else None))
            print(f"{size:>9,} rows: {asdict(runs[-1])}", flush=True)
        if trace:
            tracemalloc.stop()
    finally:
        server.terminate()
        server.wait(timeout=10)

    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "reporting_stream",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "strategies": STRATEGIES,
        "runs": [asdict(r) for r in runs],
        "heap_during_largest_run_kib": {str(k): v for k, v in sorted(samples.items())},
    }
    (RESULTS / "reporting_stream.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Reporting API v2 stream: client memory",
        "",
        f"Python {result['python']} on {result['machine']}; sandbox in a separate process; "
        f"{STRATEGIES} synthetic strategies, `performance-hourly` by_hour.",
        "",
        "| rows | seconds | rows/s | peak Python heap while reading (KiB) | RSS at end (KiB) | peak RSS so far (KiB) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        heap = f"{r.tracemalloc_peak_kib:,.1f}" if r.tracemalloc_peak_kib is not None else "-"
        lines.append(f"| {r.rows:,} | {r.seconds} | {r.rows_per_second:,} | {heap} | {r.rss_end_kib:,.0f} | "
                     f"{r.max_rss_kib:,.0f} |")
    if samples:
        lines += ["", "Peak heap sampled during the largest run: "
                  + ", ".join(f"{int(k):,} rows: {v:,.1f} KiB" for k, v in sorted(samples.items())) + "."]
    (RESULTS / "reporting_stream.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
