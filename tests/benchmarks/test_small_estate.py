"""The large-estate benchmark (``benchmarks/large_estate.py``) at a few hundred objects, in the suite.

Runs the benchmark's own flow against a real sandbox over HTTP on 127.0.0.1 (no added latency)
and asserts request COUNTS only, never times:

- the estate (sandbox seeds, manifests, state via ``record_many``) plans with no change at all;
- a no-change plan reads MediaMath in batches of 100 ids per kind plus the login, and LiveRamp
  per clean room / per clean-room question (the API lists children only under their parent),
  never one GET per object;
- the per-object reference refresh costs one GET per object (three per clean-room question);
- the plan builder takes the equality fast path (no deepdiff call) on unchanged resources, and
  the baseline calls deepdiff once per resource;
- apply of strategy updates under the MediaMath rate limit sends exactly one write per update
  (no re-read, no retry, no 429) and fails none; the next plan is a no-op again;
- state stays under 2 KB per resource.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "large_estate.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("large_estate_bench", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


le = _load()
SIZES = le.Sizes(
    advertisers=2, campaigns=4, budget_flights=8, strategies=250, cleanrooms=3,
    builder_resources=1500, updates=30, burst=20.0, latency_ms=0.0,
)
R, D, P, Q, S = SIZES.cleanrooms, SIZES.datasets, SIZES.partners, SIZES.questions, SIZES.schedules
MM_COUNTS = {"Organization": 1, "Agency": 1, "Advertiser": SIZES.advertisers, "Campaign": SIZES.campaigns,
             "BudgetFlight": SIZES.budget_flights, "Strategy": SIZES.strategies}


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    with le.Sandbox(in_process=True) as sandbox:
        built = le.build_estate(sandbox, SIZES, tmp_path_factory.mktemp("estate") / "workspace")
        sandbox.rate_limit("mediamath", rate=SIZES.rate, burst=SIZES.burst)
        yield sandbox, built


def test_the_estate_is_what_was_asked(estate: tuple[Any, Any]) -> None:
    _, built = estate
    per_kind = {key: len(addresses) for key, addresses in built.addresses.items()}
    assert per_kind == {
        **{f"mediamath.{k}": n for k, n in MM_COUNTS.items()},
        "liveramp.DataConnection": D, "liveramp.Question": Q, "liveramp.Cleanroom": R,
        "liveramp.CleanroomDataset": R * D, "liveramp.CleanroomPartner": R * P,
        "liveramp.CleanroomQuestion": R * Q, "liveramp.QuestionRunSchedule": R * S,
    }
    assert built.count == SIZES.mediamath_objects + SIZES.liveramp_objects
    assert 250 <= built.count <= 500


def _expected_batched() -> dict[str, int]:
    mediamath = 1 + sum(math.ceil(n / 100) for n in MM_COUNTS.values())  # login + 100 ids per GET
    liveramp = (
        (1 + D)  # data connections: the list, then each one's field configuration
        + Q  # questions: one GET each (the API lists none)
        + (1 + 1)  # clean rooms: one list, plus the clean-room types lookup
        + (1 + R)  # datasets: the rooms, then one list per room
        + R  # partner invitations: one list per room
        + (1 + R + 2 * R * Q + 1)  # clean-room questions: rooms, a list per room, 2 lists each, org lookup
        + R * min(S, Q)  # schedules: one list per clean-room question that has any
    )
    return {"mediamath": mediamath, "liveramp": liveramp, "total": mediamath + liveramp}


def test_no_change_plan_reads_in_batches(estate: tuple[Any, Any]) -> None:
    sandbox, built = estate
    result = le.measure_plan(built.root, sandbox.url)
    assert result["actions"] == {"no-op": built.count}
    assert result["drift"] == 0
    assert result["requests"] == _expected_batched()
    assert result["requests"]["mediamath"] < SIZES.mediamath_objects / 20


def test_per_object_baseline_reads_one_object_per_get(estate: tuple[Any, Any]) -> None:
    sandbox, built = estate
    sandbox.rate_limit("mediamath", rate=0)  # counts do not depend on the rate: run it unthrottled
    try:
        result = le.measure_plan(built.root, sandbox.url, baseline=True, parallelism=10, unthrottled=True)
    finally:
        sandbox.rate_limit("mediamath", rate=SIZES.rate, burst=SIZES.burst)
    assert result["actions"] == {"no-op": built.count}
    liveramp = 1 + R + 2 * D + Q + R * D + R * P + 3 * R * Q + 1 + R * S  # types, objects, CRQ lists, org
    assert result["requests"] == {
        "mediamath": 1 + SIZES.mediamath_objects,
        "liveramp": liveramp,
        "total": 1 + SIZES.mediamath_objects + liveramp,
    }
    assert result["requests"]["total"] > 4 * _expected_batched()["total"]


def test_builder_fast_path_skips_deepdiff() -> None:
    ours = le.measure_builder(SIZES.builder_resources)
    assert ours["actions"] == {"no-op": SIZES.builder_resources}
    assert ours["deepdiff_calls"] == 0
    baseline = le.measure_builder(SIZES.builder_resources, baseline=True)
    assert baseline["actions"] == {"no-op": SIZES.builder_resources}
    assert baseline["deepdiff_calls"] == SIZES.builder_resources


def test_state_is_small(estate: tuple[Any, Any]) -> None:
    _, built = estate
    result = le.measure_state(built.root)
    assert result["resources"] == built.count
    assert result["bytes_per_resource"] <= 2048
    assert result["largest_resource_bytes"] <= 2048


def test_apply_sends_one_write_per_update_under_the_rate_limit(estate: tuple[Any, Any]) -> None:
    sandbox, built = estate
    changed = le.change_strategies(built, SIZES.updates)
    # the server keeps more burst than the client uses, so no 429 can come from timing
    sandbox.rate_limit("mediamath", rate=SIZES.rate, burst=5 * SIZES.burst)
    result = le.measure_apply(built.root, sandbox.url, updates=len(changed), burst=SIZES.burst)
    assert result["planned"] == {"update": SIZES.updates, "no-op": built.count - SIZES.updates}
    assert result["outcomes"] == {"done": built.count}
    assert result["failed_writes"] == 0
    assert result["mediamath_writes"] == SIZES.updates
    assert result["mediamath_requests"] == SIZES.updates  # versioned writes: no read before a write
    assert result["rate_limited_429"] == 0
    assert result["retries"] == 0
    again = le.measure_plan(built.root, sandbox.url)
    assert again["actions"] == {"no-op": built.count}
    assert again["requests"] == _expected_batched()
