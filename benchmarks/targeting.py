"""Targeting benchmark (issue 21): what strategy targeting costs a no-change plan.

Run ``python benchmarks/targeting.py [--campaigns 20] [--per-campaign 50] [--out benchmarks/results]``
(see ``benchmarks/README.md``, section "Targeting"). In one sandbox (MediaMath emulator in a child
process on 127.0.0.1, rate limits off on both sides so the request counts are the measure; the time
at MediaMath's documented 40 requests/s is derived from them) it builds an estate of N campaigns ×
M strategies with ``benchmarks/large_estate.py``'s builder (manifests and state matching live, so
the plan is empty), then:

1. a no-change ``plan`` of the estate **without targeting**: wall time, API requests;
2. every strategy gets targeting through the API (two regions, two devices, two audience segments
   included and one excluded, one deal), and a ``StrategyTargeting`` document and state record
   each; the same no-change ``plan`` **with targeting**: wall time, API requests;
3. the refresh cost **per kind** (``provider.read(kind, ids)``, as the engine refreshes), for the
   strategies of the first ``--small-per-campaign`` (default 10) and of all M strategies per
   campaign: a batched kind costs about the same for both, a per-strategy one grows with M.

It writes ``targeting.json`` and ``targeting.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (str(REPO), str(REPO / "benchmarks")):
    if entry not in sys.path:  # run as a script from anywhere
        sys.path.insert(0, entry)

import large_estate as le  # noqa: E402

from reconciler.engine import Workspace  # noqa: E402
from reconciler.model import Address, Ref  # noqa: E402
from reconciler.state.base import ResourceState  # noqa: E402

TARGETING = {
    "region": {"include": ["US-CA", "US-NY"], "exclude": []},
    "device": {"include": ["SMARTPHONE", "TABLET"], "exclude": []},
    "audience": {"include": ["BK-AUTO-INTENDERS", "BK-IN-MARKET-SUV"], "exclude": ["EX-CURRENT-CUSTOMERS"]},
    "deals": ["ACME-PREMIUM-2026"],
}
PER_KIND = ("Campaign", "Strategy", "StrategyTargeting", "· audience", "· supply_sources", "· deals")
RATE = 40.0  # MediaMath's documented requests per second


def _log(message: str) -> None:
    print(f"[targeting] {message}", file=sys.stderr, flush=True)


def plan(root: Path, url: str) -> dict[str, Any]:
    """One no-change plan (the estate's plan must be empty): wall time and API requests."""
    result = le.measure_plan(root, url)
    changes = {k: v for k, v in result["actions"].items() if v and k not in ("no-op", "noop", "unchanged")}
    if changes:
        raise RuntimeError(f"the no-change plan has changes: {changes}")
    return {"resources": result["resources"], "wall_s": result["wall_s"], "requests": result["requests"]["mediamath"],
            "at_40_per_s_s": round(result["requests"]["mediamath"] / RATE, 1), "routes": result["routes"]}


def add_targeting(estate: le.Estate, workspace: Workspace, strategies: Sequence[str]) -> list[str]:
    """Targeting on every strategy (through the API), its documents and state; the addresses."""
    provider: Any = workspace.provider("mediamath")
    ids = estate.addresses["mediamath.Strategy"]
    remote = dict(zip(ids, strategies, strict=True))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda sid: provider.targeting.write(sid, TARGETING), strategies))
    live = provider.read("StrategyTargeting", strategies)
    records, docs, addresses = [], [], []
    for address in ids:
        sid = remote[address]
        name = address.split("/", 1)[1]
        target = f"mediamath.StrategyTargeting/{name}"
        spec = {"strategy_id": Ref(Address.parse(address)), **TARGETING}
        docs.append(le.manifest_text(target, spec))
        records.append(ResourceState(
            address=target, provider="mediamath", kind="StrategyTargeting", remote_id=sid,
            applied_spec={**TARGETING, "strategy_id": sid}, fingerprint=live[sid].fingerprint, version=None,
            parent_ids={"strategy_id": sid}, dependencies=(address,), status=live[sid].status,
        ))
        addresses.append(target)
    path = estate.root / "manifests" / "mediamath" / "strategy-targeting.yaml"
    path.write_text("".join(docs), encoding="utf-8")
    state: Any = workspace.state
    state.record_many(records)
    return addresses


def per_kind(workspace: Workspace, ids: Mapping[str, Sequence[str]]) -> dict[str, dict[str, Any]]:
    """Requests and seconds of ``provider.read(kind, ids)`` per kind, and of each part of a
    StrategyTargeting's read (its dimensions per strategy; audience, supply sources, deals batched)."""
    provider: Any = workspace.provider("mediamath")
    calls = provider.targeting
    out = {}

    def measure(name: str, read: Any, remote_ids: Sequence[str]) -> None:
        before = provider.stats()["requests"]
        start = time.perf_counter()
        found = read(list(remote_ids))
        out[name] = {"objects": len(found), "requests": provider.stats()["requests"] - before,
                     "seconds": round(time.perf_counter() - start, 2)}

    for kind, remote_ids in ids.items():
        measure(kind, lambda i, kind=kind: provider.read(kind, i), remote_ids)
    strategies = ids["StrategyTargeting"]
    measure("· audience", calls.audience.read, strategies)
    measure("· supply_sources", calls.picks["supply_sources"].read, strategies)
    measure("· deals", calls.picks["deals"].read, strategies)
    return out


def run(campaigns: int, per_campaign: int, small_per_campaign: int, work: Path) -> dict[str, Any]:
    sizes = le.Sizes(advertisers=2, campaigns=campaigns, budget_flights=0, strategies=campaigns * per_campaign,
                     cleanrooms=0, datasets=0, partners=0, questions=0, schedules=0, rate=0.0, burst=200.0,
                     latency_ms=0.0)
    started = time.perf_counter()
    with le.Sandbox(0.0) as sandbox:
        sandbox.rate_limit("mediamath", rate=0)
        _log(f"building {campaigns} campaigns x {per_campaign} strategies")
        estate = le.build_estate(sandbox, sizes, work)
        _log("plan without targeting")
        plain = plan(work, sandbox.url)
        workspace = Workspace(start=work, env=le.workspace_env(work))
        try:
            recorded = workspace.state.read().resources
            strategies = [recorded[address].remote_id for address in estate.addresses["mediamath.Strategy"]]
            _log("writing targeting on every strategy")
            add_targeting(estate, workspace, strategies)
        finally:
            workspace.close()
        _log("plan with targeting")
        targeted = plan(work, sandbox.url)
        workspace = Workspace(start=work, env=le.workspace_env(work))
        try:
            by_campaign: dict[str, list[str]] = {}
            provider: Any = workspace.provider("mediamath")
            for sid, live in provider.read("Strategy", strategies).items():
                by_campaign.setdefault(str(live.fields["campaign_id"]), []).append(sid)
            small = [s for ids in by_campaign.values() for s in sorted(ids, key=int)[:small_per_campaign]]
            kinds: dict[str, dict[str, Any]] = {}
            for label, subset in ((f"{small_per_campaign} per campaign", small), (f"{per_campaign} per campaign", strategies)):
                _log(f"refresh per kind, {label}")
                kinds[label] = per_kind(workspace, {"Campaign": sorted(by_campaign), "Strategy": subset,
                                                     "StrategyTargeting": subset})
        finally:
            workspace.close()
    return {
        "campaigns": campaigns, "strategies_per_campaign": per_campaign, "strategies": len(strategies),
        "targeting": TARGETING, "plan_without_targeting": plain, "plan_with_targeting": targeted,
        "refresh_per_kind": kinds, "python": platform.python_version(), "machine": platform.machine(),
        "total_s": round(time.perf_counter() - started, 1),
    }


def markdown(r: Mapping[str, Any]) -> str:
    plain, targeted = r["plan_without_targeting"], r["plan_with_targeting"]
    lines = [
        f"# Targeting: {r['campaigns']} campaigns × {r['strategies_per_campaign']} strategies "
        f"({r['strategies']} strategies)", "",
        "No-change plan (sandbox in a child process, rate limits off; the last column is the requests at "
        "MediaMath's 40/s):", "",
        "| estate | resources | wall (s) | requests | at 40 req/s (s) |", "|---|---:|---:|---:|---:|",
        f"| without targeting | {plain['resources']} | {plain['wall_s']} | {plain['requests']} | {plain['at_40_per_s_s']} |",
        f"| with targeting | {targeted['resources']} | {targeted['wall_s']} | {targeted['requests']} | "
        f"{targeted['at_40_per_s_s']} |", "",
        "Refresh per kind (`provider.read`), requests:", "",
        "| kind | " + " | ".join(r["refresh_per_kind"]) + " |", "|---|" + "---:|" * len(r["refresh_per_kind"]),
    ]
    labels = list(r["refresh_per_kind"])
    for kind in PER_KIND:
        cells = [f"{r['refresh_per_kind'][label][kind]['requests']} ({r['refresh_per_kind'][label][kind]['objects']} "
                 "objects)" for label in labels]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += ["", f"Python {r['python']} ({r['machine']}); whole run {r['total_s']} s.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--campaigns", type=int, default=20)
    parser.add_argument("--per-campaign", type=int, default=50)
    parser.add_argument("--small-per-campaign", type=int, default=10)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-targeting-") as tmp:
        result = run(args.campaigns, args.per_campaign, min(args.small_per_campaign, args.per_campaign), Path(tmp) / "ws")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "targeting.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    text = markdown(result)
    (args.out / "targeting.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
