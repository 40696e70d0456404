"""Concepts, strategy–concept assignments and strategy day parts through the mediamath provider,
against the emulator over real HTTP.

Covers: a Concept created under an advertiser reads back equal to its normalised spec (status
true unless set), a versioned update, a stale version raising PreconditionFailed, lookup by
advertiser and name, delete deactivating it; a StrategyConcept created (weighting, percent),
found by its natural key (strategy and concept), updated with its version, really deleted
(``/strategy_concepts/{id}/delete``) and listed under its strategy; the API's refusal of a concept
of another advertiser carried with the field and the vendor's words; history names the user; a
StrategyDayPart created, found by its window, updated, refused a window that ends before it starts
(the vendor's words), guarded by its version on delete, and deleted; ``validate`` explains days
out of week order and a window ending before it starts, at the file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.errors import APIError
from reconciler.providers.base import Precondition, PreconditionFailed, PreconditionKind, ProviderConfig
from reconciler.providers.mediamath import MediaMathProvider
from reconciler.sandbox import SandboxServer, create_sandbox
from tests.support.cli import invoke

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


def hierarchy(provider: MediaMathProvider) -> dict[str, str]:
    agency = provider.create("Agency", {"organization_id": "100048", "name": "Concept Agency"})
    advertisers = [provider.create("Advertiser", {"agency_id": agency.remote_id, "name": name, "vertical_id": "13",
                                                  "ad_server_id": "9", "domain": "https://c.example"})
                   for name in ("Concept Advertiser", "Other Advertiser")]
    campaign = provider.create("Campaign", {
        "advertiser_id": advertisers[0].remote_id, "name": "Concept Campaign", "ad_server_id": "9", "service_type": "SELF",
        "start_date": "2026-12-01T00:00:00Z", "end_date": "2027-01-31T00:00:00Z", "goal_type": "cpa", "goal_value": 5,
        "total_budget": 1000, "use_mm_freq": False})
    strategy = provider.create("Strategy", {
        "campaign_id": campaign.remote_id, "name": "Concept Strategy", "type": "GBO", "goal_type": "cpa",
        "goal_value": 5, "budget": 100, "max_bid": 2, "pacing_amount": 10})
    return {"advertiser": advertisers[0].remote_id, "other": advertisers[1].remote_id, "strategy": strategy.remote_id}


def test_concept_lifecycle(provider: MediaMathProvider) -> None:
    ids = hierarchy(provider)
    spec: dict[str, Any] = {"advertiser_id": ids["advertiser"], "name": "Winter Creatives"}
    concept = provider.create("Concept", spec)
    assert concept.fields == {"advertiser_id": ids["advertiser"], "name": "Winter Creatives", "status": True}
    assert concept.version == 0
    assert provider.find_by_natural_key("Concept", spec) == concept
    renamed = provider.update("Concept", concept.remote_id, {"name": "Winter Creatives v2"}, provider.precondition_for(concept))
    assert renamed.version == 1 and renamed.fields["name"] == "Winter Creatives v2"
    with pytest.raises(PreconditionFailed):
        provider.update("Concept", concept.remote_id, {"status": False}, Precondition(PreconditionKind.VERSION, 0))
    provider.delete("Concept", concept.remote_id, provider.precondition_for(renamed))
    assert provider.read("Concept", [concept.remote_id])[concept.remote_id].fields["status"] is False
    history = provider.history("Concept", concept.remote_id)
    assert [(h.user, h.field, h.old, h.new) for h in history if h.field] == [
        ("demo", "name", "Winter Creatives", "Winter Creatives v2"), ("demo", "status", True, False)]


def test_strategy_concept_lifecycle(provider: MediaMathProvider) -> None:
    ids = hierarchy(provider)
    concept = provider.create("Concept", {"advertiser_id": ids["advertiser"], "name": "Winter Creatives"})
    spec: dict[str, Any] = {"strategy_id": ids["strategy"], "concept_id": concept.remote_id, "weighting": "BUDGET",
                            "percent": 40}
    link = provider.create("StrategyConcept", spec)
    assert link.fields == {"strategy_id": ids["strategy"], "concept_id": concept.remote_id, "weighting": "BUDGET",
                           "percent": 40, "status": True}
    assert provider.find_existing("StrategyConcept", [spec, {**spec, "concept_id": "999"}]) == [[link], []]
    updated = provider.update("StrategyConcept", link.remote_id, {"percent": 60}, provider.precondition_for(link))
    assert updated.fields["percent"] == 60 and updated.version == 1
    assert provider.list_children("StrategyConcept", ids["strategy"]) == [updated]
    provider.delete("StrategyConcept", link.remote_id, provider.precondition_for(updated))
    assert provider.read("StrategyConcept", [link.remote_id]) == {}
    assert provider.list_children("StrategyConcept", ids["strategy"]) == []

    foreign = provider.create("Concept", {"advertiser_id": ids["other"], "name": "Other Creatives"})
    with pytest.raises(APIError) as refused:
        provider.create("StrategyConcept", {"strategy_id": ids["strategy"], "concept_id": foreign.remote_id})
    assert refused.value.status == 400
    assert f"concept_id: concept {foreign.remote_id} belongs to advertiser {ids['other']}" in str(refused.value)


def test_strategy_day_part_lifecycle(provider: MediaMathProvider) -> None:
    ids = hierarchy(provider)
    spec: dict[str, Any] = {"strategy_id": ids["strategy"], "days": "MTWRF", "start_hour": 9, "end_hour": 17}
    part = provider.create("StrategyDayPart", spec)
    assert part.fields == {**spec, "user_time": False, "status": True}
    assert provider.find_existing("StrategyDayPart", [spec, {**spec, "days": "SU"}]) == [[part], []]
    weekend = provider.update("StrategyDayPart", part.remote_id, {"days": "SU", "user_time": True},
                              provider.precondition_for(part))
    assert (weekend.fields["days"], weekend.fields["user_time"], weekend.version) == ("SU", True, 1)
    with pytest.raises(PreconditionFailed):
        provider.delete("StrategyDayPart", part.remote_id, Precondition(PreconditionKind.VERSION, 0))
    with pytest.raises(APIError) as refused:
        provider.update("StrategyDayPart", part.remote_id, {"start_hour": 20, "end_hour": 8},
                        provider.precondition_for(weekend))
    assert "end_hour: must not be before start_hour" in str(refused.value)
    provider.delete("StrategyDayPart", part.remote_id, provider.precondition_for(weekend))
    assert provider.list_children("StrategyDayPart", ids["strategy"]) == []


def test_refresh_of_assignments_and_day_parts_is_batched_not_per_strategy(provider: MediaMathProvider) -> None:
    """Refresh reads strategy_concepts and strategy_day_parts by id, 100 to a request: strategies
    with an assignment and a day part each cost one request per kind, not one per strategy; the
    linkage collections also answer by campaign (``/limit/strategy.campaign=<id>``)."""
    ids = hierarchy(provider)
    concept = provider.create("Concept", {"advertiser_id": ids["advertiser"], "name": "Batched Creatives"})
    campaign = provider.read("Strategy", [ids["strategy"]])[ids["strategy"]].fields["campaign_id"]
    strategies = [ids["strategy"]] + [
        provider.create("Strategy", {"campaign_id": campaign, "name": f"Batched {n}", "type": "GBO", "goal_type": "cpa",
                                     "goal_value": 5, "budget": 100, "max_bid": 2, "pacing_amount": 10}).remote_id
        for n in range(4)]
    links = [provider.create("StrategyConcept", {"strategy_id": s, "concept_id": concept.remote_id}).remote_id
             for s in strategies]
    parts = [provider.create("StrategyDayPart", {"strategy_id": s, "days": "MTWRF", "start_hour": 9, "end_hour": 17})
             .remote_id for s in strategies]
    for kind, wanted in (("StrategyConcept", links), ("StrategyDayPart", parts)):
        before = provider.stats()["requests"]
        assert sorted(provider.read(kind, wanted)) == sorted(wanted)
        assert provider.stats()["requests"] - before == 1, kind
    for collection, wanted in (("strategy_concepts", links), ("strategy_day_parts", parts)):
        result = provider.client.get(f"/{collection}/limit/strategy.campaign={campaign}")
        assert sorted(e.id for e in result.entities) == sorted(wanted), collection


def test_validate_explains_day_parts_the_api_refuses(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n  mediamath: {endpoint: sandbox}\n")
    (tmp_path / "day-parts.yaml").write_text(
        "apiVersion: mediamath/v1\nkind: StrategyDayPart\nmetadata: {name: nights}\nspec:\n"
        "  strategy_id: '1000004'\n  days: FM\n  start_hour: 19\n  end_hour: 8\n")
    result = invoke(tmp_path, "validate")
    assert result.code == 1, result
    assert "day-parts.yaml:6: spec.days: 'FM' must be letters of MTWRFSU" in result.err, result
    assert "day-parts.yaml:8: spec.end_hour: 8 is before start_hour 19" in result.err, result
