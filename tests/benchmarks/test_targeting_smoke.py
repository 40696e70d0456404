"""A smoke run of the targeting benchmark (``benchmarks/targeting.py``): 2 campaigns × 3 strategies.

Covers: both no-change plans are empty (the benchmark raises otherwise) and targeting adds requests;
refreshing StrategyTargeting costs its 8 target dimensions per strategy plus one batched listing
each for audience segments, supply sources and deals, which cost the same for 1 and 3 strategies
per campaign.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "targeting.py"


def test_targeting_benchmark_smoke(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARK.parent))
    try:
        spec = importlib.util.spec_from_file_location("targeting_bench", BENCHMARK)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        result = module.run(2, 3, 1, tmp_path / "ws")
    finally:
        sys.path.remove(str(BENCHMARK.parent))
    assert result["plan_with_targeting"]["requests"] > result["plan_without_targeting"]["requests"]
    small, full = (result["refresh_per_kind"][k] for k in ("1 per campaign", "3 per campaign"))
    assert (small["StrategyTargeting"]["requests"], full["StrategyTargeting"]["requests"]) == (2 * 8 + 5, 6 * 8 + 5)
    for part in ("· audience", "· supply_sources", "· deals"):
        assert small[part]["requests"] == full[part]["requests"] == 1, part
    assert "| with targeting |" in module.markdown(result)
