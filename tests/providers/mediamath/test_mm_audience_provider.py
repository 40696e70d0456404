"""The audience block and the supply_sources / deals lists of StrategyTargeting through the
mediamath provider, against the emulator over real HTTP: the segments, supply sources and deals of
many strategies are read in one batched request each (``/strategy_audience_segments/limit/
strategy=<ids>``, ``/strategy_supply_sources/...``, ``/strategy_deals/...``,
``/strategy_site_lists/...``), not one per strategy;
an audience write sends one POST (none when nothing changes); history names them by code.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from reconciler.providers.base import ProviderConfig
from reconciler.providers.mediamath import MediaMathProvider
from reconciler.providers.mediamath.targeting import DIMENSIONS
from reconciler.sandbox import SandboxServer, create_sandbox

DEMO = {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    sandbox = create_sandbox(":memory:", names=["mediamath"])
    with SandboxServer(sandbox) as running:
        yield running
    sandbox.store.close()


@pytest.fixture
def provider(server: SandboxServer) -> Iterator[MediaMathProvider]:
    assert requests.post(f"{server.url}/_sandbox/reset", timeout=10).status_code == 200
    made = MediaMathProvider(ProviderConfig("mediamath", f"{server.url}/mediamath", DEMO))
    yield made
    made.close()


def strategies(provider: MediaMathProvider, count: int) -> list[str]:
    agency = provider.create("Agency", {"organization_id": "100048", "name": "Audience Agency"})
    advertiser = provider.create("Advertiser", {"agency_id": agency.remote_id, "name": "Audience Advertiser",
                                                "vertical_id": "13", "ad_server_id": "9", "domain": "https://a.example"})
    campaign = provider.create("Campaign", {
        "advertiser_id": advertiser.remote_id, "name": "Audience Campaign", "ad_server_id": "9",
        "service_type": "SELF", "start_date": "2026-12-01T00:00:00Z", "end_date": "2027-01-31T00:00:00Z",
        "goal_type": "cpa", "goal_value": 5, "total_budget": 1000, "use_mm_freq": False})
    return [provider.create("Strategy", {
        "campaign_id": campaign.remote_id, "name": f"Audience {n}", "type": "GBO", "goal_type": "cpa",
        "goal_value": 5, "budget": 100, "max_bid": 2, "pacing_amount": 10}).remote_id for n in range(count)]


def test_audiences_supplies_and_deals_of_many_strategies_cost_one_request_each(provider: MediaMathProvider) -> None:
    ids = strategies(provider, 4)
    audience = {"include": ["BK-AUTO-INTENDERS", "BK-TRAVELERS"], "exclude": ["EX-CURRENT-CUSTOMERS"]}
    for sid in ids:
        provider.create("StrategyTargeting", {"strategy_id": sid, "audience": audience, "deals": ["SPORTS-PMP"],
                                              "supply_sources": ["ADX", "OPENX"], "site_lists": ["Blocked Domains"]})
    before = provider.stats()["requests"]
    live = provider.read("StrategyTargeting", ids)
    # dimensions per strategy; audience, domains, supply sources, deals and site lists once each for all strategies
    assert provider.stats()["requests"] - before == len(ids) * len(DIMENSIONS) + 5
    assert all(live[sid].fields["audience"] == audience for sid in ids)
    assert all((live[s].fields["deals"], live[s].fields["supply_sources"]) == (["SPORTS-PMP"], ["ADX", "OPENX"])
               for s in ids)
    assert all(live[sid].fields["site_lists"] == ["Blocked Domains"] for sid in ids)

    before = provider.stats()["requests"]
    provider.targeting.write(ids[0], {"audience": audience})  # nothing to change: the current list, no POST
    assert provider.stats()["requests"] - before == 1
    changed = {"include": ["BK-AUTO-INTENDERS"], "exclude": ["BK-TRAVELERS"]}
    provider.update("StrategyTargeting", ids[0], {"audience": changed}, provider.precondition_for(live[ids[0]]))
    assert provider.read("StrategyTargeting", [ids[0]])[ids[0]].fields["audience"] == changed
    history = [(h.field, h.old, h.new) for h in provider.history("StrategyTargeting", ids[0]) if h.field]
    assert sorted(history[-2:]) == [("audience.exclude", "EX-CURRENT-CUSTOMERS", "BK-TRAVELERS"),
                                    ("audience.include", "BK-AUTO-INTENDERS, BK-TRAVELERS", "BK-AUTO-INTENDERS")]
