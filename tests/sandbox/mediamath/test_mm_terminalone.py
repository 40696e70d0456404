"""MediaMath's own SDK ``terminalone`` (PyPI 1.9.20) drives the sandbox unmodified.

The SDK only speaks HTTPS and builds ``https://<api_base>/api/v2.0/...``, so the sandbox is served
with a trustme certificate for 127.0.0.1 and ``api_base='127.0.0.1:PORT/mediamath'``; the SDK's
shared requests session trusts the test CA. Aspects covered:

- cookie login (``POST /login?api_key=`` then the ``adama_session`` cookie on every request);
- create agency/advertiser/campaign/strategy with the SDK's own form encoding (0/1 booleans,
  naive datetimes, pixel_target_expr) and version 0 on create;
- paged listing with ``include`` (``with``, chains), ``full``, ``find``/``query`` (``q``),
  ``limit`` (including a dotted chain) and ``get_all`` paging over ``count``;
- get by id with a relation; update with the SDK-added ``version``; a stale-version update fails
  with ``T1Error`` code ``conflict`` / "Version Conflict"; validation errors map to
  ``ValidationError``; ``history()``; budget flights below a campaign (create, update, remove);
- JSON mode (``Accept: application/vnd.mediamath.v1+json``);
- targeting: what reconciler's provider writes as a ``StrategyTargeting`` (over TLS, with
  ``ca_bundle``), the SDK reads with ``get(..., child='region')`` as ``TargetDimension`` objects
  holding ``TargetValue``s (XML and JSON); the SDK's own ``save()`` of a dimension (no version) is
  what the provider then reads, and its history names the change;
- what the provider writes as Concept, StrategyConcept, StrategyDayPart and StrategyTargeting's
  audience / supply_sources / deals / site_lists / domain_restrictions, the SDK reads as its own
  models (XML and JSON; site lists: the SiteList itself, the SDK has no model of an assignment), and its
  ``remove()`` of a day part is what the provider reads next.

terminalone comes with the ``test`` extra (``pip install -e '.[test]'``): a missing SDK is an error,
not a skip.
"""

from __future__ import annotations

import collections
import collections.abc
import ssl
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.providers.base import ProviderConfig
from reconciler.providers.mediamath import MediaMathProvider
from reconciler.sandbox import create_sandbox
from reconciler.sandbox.base import SandboxServer

if not hasattr(collections, "Iterator"):  # terminalone 1.9.20 imports collections.Iterator (removed in 3.10)
    collections.Iterator = collections.abc.Iterator  # type: ignore[attr-defined]

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    import terminalone
    from terminalone import filters
    from terminalone.errors import T1Error, ValidationError
# terminalone's vendored six appends a legacy meta-path importer without find_spec: under the suite's
# filterwarnings=error every later failed import (optional dependencies) would raise ImportWarning.
# terminalone is fully imported now, so take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_SixMetaPathImporter"]
import trustme  # noqa: E402

pytestmark = pytest.mark.vendor_sdk


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxServer, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with SandboxServer(create_sandbox(names=["mediamath"]), ssl_context=context) as srv:
        yield srv, ca_file


@pytest.fixture
def server(tls_server: tuple[SandboxServer, Path]) -> tuple[SandboxServer, Path]:
    srv, ca_file = tls_server
    assert requests.post(srv.url + "/_sandbox/reset", verify=str(ca_file)).status_code == 200
    return srv, ca_file


def connect(server: tuple[SandboxServer, Path], json: bool = False, user: str = "demo",
            password: str = "demo-password") -> Any:
    srv, ca_file = server
    t1 = terminalone.T1(user, password, "demo-api-key", auth_method="delayed",
                        api_base=f"127.0.0.1:{srv.port}/mediamath", json=json)
    t1.session.verify = str(ca_file)
    t1.session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides session.verify
    t1.authenticate("cookie")
    return t1


def build(t1: Any) -> dict[str, Any]:
    agency = t1.new("agency", properties={"name": "SDK Agency", "organization_id": 100048})
    agency.save()
    advertiser = t1.new("advertiser")
    advertiser.set({"name": "SDK Advertiser", "agency_id": agency.id, "vertical_id": 13, "ad_server_id": 9,
                    "domain": "https://sdk.example"})
    advertiser.save()
    campaign = t1.new("campaign")
    campaign.set({
        "name": "SDK Campaign", "advertiser_id": advertiser.id, "ad_server_id": 9,
        "start_date": "2025-01-01T00:00:00", "end_date": "2025-12-31T23:59:59", "goal_type": "cpa",
        "goal_value": 2.5, "total_budget": 5000.0, "service_type": "SELF", "use_mm_freq": False,
        "zone_name": "America/New_York",
    })
    campaign.save()
    strategies = []
    for i in range(7):
        strategy = t1.new("strategy")
        strategy.set({"name": f"SDK Strategy {i}" + (" abc" if i % 2 else ""), "campaign_id": campaign.id,
                      "goal_type": "cpc", "goal_value": 1.0, "budget": 100.0 + i, "pacing_amount": 10.0,
                      "max_bid": 2.0, "type": "GBO", "status": False})
        strategy.save()
        strategies.append(strategy)
    return {"agency": agency, "advertiser": advertiser, "campaign": campaign, "strategies": strategies}


def test_cookie_login(server: tuple[SandboxServer, Path]) -> None:
    t1 = connect(server)
    assert t1.user_id == 1
    assert t1.username == "demo"
    assert len(t1.session_id) == 40
    with pytest.raises(T1Error) as bad:
        connect(server, password="wrong")
    assert bad.value.code == "invalid"


def test_create_and_get(server: tuple[SandboxServer, Path]) -> None:
    t1 = connect(server)
    made = build(t1)
    agency, campaign = made["agency"], made["campaign"]
    assert agency.version == 0 and agency.id > 0
    assert agency.dmp_enabled == "inherits" and agency.status is False
    got = t1.get("campaigns", campaign.id, include="advertiser")
    assert got.name == "SDK Campaign"
    assert got.goal_value == 2.5 and got.total_budget == 5000.0
    assert got.start_date.year == 2025 and got.zone_name == "America/New_York"
    assert got.advertiser.name == "SDK Advertiser"
    assert got.advertiser.agency_id == agency.id
    strategy = t1.get("strategies", made["strategies"][0].id, include=[["campaign", "advertiser"]])
    assert strategy.campaign.advertiser.name == "SDK Advertiser"
    assert strategy.pixel_target_expr["include"]["pixels"] == []
    with pytest.raises(ValidationError) as invalid:
        t1.new("agency", properties={"organization_id": 100048}).save()
    assert "name" in str(invalid.value)


def test_paged_listing_with_include_full_query_and_limit(server: tuple[SandboxServer, Path]) -> None:
    t1 = connect(server)
    made = build(t1)
    campaign = made["campaign"]
    page, count = t1.get("strategies", limit={"campaign": campaign.id}, include="campaign", full="strategy",
                         page_limit=3, page_offset=3, sort_by="-budget", count=True)
    page = list(page)
    assert count == 7
    assert [s.name for s in page] == ["SDK Strategy 3 abc", "SDK Strategy 2", "SDK Strategy 1 abc"]
    assert all(s.campaign.name == "SDK Campaign" for s in page)
    assert page[0].budget == 103.0 and page[0].version == 0

    found = list(t1.find("strategies", "name", filters.CASE_INS_STRING, "*ABC*", full=True))
    assert sorted(s.name for s in found) == ["SDK Strategy 1 abc", "SDK Strategy 3 abc", "SDK Strategy 5 abc"]
    ids = [s.id for s in made["strategies"][:3]]
    by_id = list(t1.find("strategies", None, filters.IN, ids, full=True))
    assert [s.id for s in by_id] == ids and all(s.budget >= 100 for s in by_id)

    chained = list(t1.get("campaigns", limit={"advertiser.agency": made["agency"].id}, include=[["advertiser", "agency"]]))
    assert [c.id for c in chained] == [campaign.id]
    assert chained[0].advertiser.agency.name == "SDK Agency"

    everything = list(t1.get_all("strategies", page_limit=2, full=True, query="status==0"))
    assert len(everything) == 7 and len({s.id for s in everything}) == 7


def test_update_with_version_and_stale_conflict(server: tuple[SandboxServer, Path]) -> None:
    t1 = connect(server)
    made = build(t1)
    first = t1.get("strategies", made["strategies"][0].id)
    second = t1.get("strategies", made["strategies"][0].id)
    first.budget = 250.0
    first.save()
    assert first.version == 1 and first.budget == 250.0
    second.name = "Renamed elsewhere"
    with pytest.raises(T1Error) as stale:
        second.save()
    assert stale.value.code == "conflict"
    assert stale.value.message == "Version Conflict"
    fresh = t1.get("strategies", first.id)
    assert fresh.version == 1 and fresh.name == "SDK Strategy 0"
    history = list(fresh.history())
    assert [h["action"] for h in history] == ["update", "add"]
    assert history[0]["fields"]["budget"] == {"old_value": "100.00", "new_value": "250.00"}


def test_budget_flights_below_a_campaign(server: tuple[SandboxServer, Path]) -> None:
    t1 = connect(server)
    campaign = build(t1)["campaign"]
    flight = t1.new("budget_flight")
    flight.set({"campaign_id": campaign.id, "start_date": "2025-01-01T05:00:00", "end_date": "2025-02-01T04:59:59",
                "total_budget": 1000.0})
    flight.save()
    assert flight.version == 0 and flight.zone_name == "America/New_York"
    flight.total_budget = 1500.0
    flight.save()
    assert flight.version == 1
    flights = list(t1.get("campaigns", campaign.id, child="budget_flights"))
    assert [(f.id, f.total_budget) for f in flights] == [(flight.id, 1500.0)]
    flight.remove()
    assert list(t1.get("campaigns", campaign.id, child="budget_flights")) == []


def test_json_mode(server: tuple[SandboxServer, Path]) -> None:
    t1 = connect(server, json=True)
    made = build(t1)
    strategies, count = t1.get("strategies", full=True, page_limit=2, include="campaign", count=True)
    strategies = list(strategies)
    assert count == 7 and len(strategies) == 2
    assert strategies[0].budget == 100.0 and strategies[0].campaign.name == "SDK Campaign"
    agency = t1.get("agencies", made["agency"].id)
    agency.name = "JSON renamed"
    agency.save()
    assert agency.version == 1


def test_relations_the_sdk_asks_for(server: tuple[SandboxServer, Path]) -> None:
    """The relations terminalone's models list (``_relations``) and a linkage ``limit`` all answer:
    contacts, contracts, a campaign's merit pixel and vendor contracts are modelled; currency,
    time_zone and seats (entities the reference does not describe) are accepted and nest nothing."""
    srv, ca_file = server
    t1 = connect(server)
    made = build(t1)
    campaign, advertiser, agency = made["campaign"], made["advertiser"], made["agency"]
    seeded = requests.post(srv.url + "/_sandbox/seed", verify=str(ca_file), json={"api": "mediamath", "name": "entities", "data": {
        "contacts": [{"id": 71, "first_name": "Bill", "last_name": "Ing", "email": "billing@acme.example"},
                     {"id": 72, "first_name": "Sal", "last_name": "Es", "email": "sales@acme.example"}],
        "contracts": [{"id": 81, "organization_id": 100048, "effective_start_date": "2025-01-01T00:00:00"}],
        "pixel_bundles": [{"id": 91, "name": "Checkout", "advertiser_id": advertiser.id, "pixel_type": "event"}],
        "vendors": [{"id": 515, "name": "Vendor 515"}],
        "vendor_contracts": [{"id": 95, "campaign_id": campaign.id, "vendor_id": 515, "price": "0.10"}],
    }})
    assert seeded.status_code == 200, seeded.text
    advertiser = t1.get("advertisers", advertiser.id)
    advertiser.billing_contact_id, advertiser.sales_contact_id = 71, 72
    advertiser.save()
    campaign = t1.get("campaigns", campaign.id)
    campaign.merit_pixel_id = 91
    campaign.save()

    got = t1.get("campaigns", campaign.id, include=["merit_pixel", "currency", "time_zone", "vendor_contracts"])
    assert [p.name for p in got.merit_pixel] == ["Checkout"]
    assert [v.vendor_id for v in got.vendor_contracts] == [515]
    assert not hasattr(got, "currency") and not hasattr(got, "time_zone")
    adv = t1.get("advertisers", advertiser.id, include=["billing_contact", "sales_contact"])
    assert [c.email for c in adv.billing_contact] == ["billing@acme.example"]
    assert [c.email for c in adv.sales_contact] == ["sales@acme.example"]
    assert t1.get("agencies", agency.id, include=["billing_contact", "sales_contact", "traffic_contact"]).name == "SDK Agency"
    org = t1.get("organizations", 100048, include=["contracts", "currency", "seats"])
    assert [c.id for c in org.contracts] == [81]
    strategy = t1.get("strategies", made["strategies"][0].id, include=["currency", "time_zone"])
    assert strategy.campaign_id == campaign.id
    linked = list(t1.get("campaigns", limit={"vendor_contracts.vendor": 515}))
    assert [c.id for c in linked] == [campaign.id]
    assert list(t1.get("campaigns", limit={"vendor_contracts.vendor": 999})) == []
    with pytest.raises(T1Error) as unknown:
        t1.get("campaigns", campaign.id, include=["weather"])
    assert unknown.value.code == "invalid"


# -- targeting: what reconciler writes, the vendor's SDK reads (and the other way round) ----------------
def reconciler_provider(server: tuple[SandboxServer, Path]) -> MediaMathProvider:
    srv, ca_file = server
    return MediaMathProvider(ProviderConfig(
        "mediamath", f"https://127.0.0.1:{srv.port}/mediamath",
        {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"},
        options={"ca_bundle": str(ca_file)},
    ))


@pytest.mark.parametrize("json_mode", [False, True], ids=["xml", "json"])
def test_target_dimensions_reconciler_writes_the_sdk_reads(server: tuple[SandboxServer, Path], json_mode: bool) -> None:
    t1 = connect(server, json=json_mode)
    strategy = build(t1)["strategies"][0]
    provider = reconciler_provider(server)
    try:
        provider.create("StrategyTargeting", {
            "strategy_id": str(strategy.id),
            "region": {"include": ["US-NY", "US-CA"], "exclude": ["US-TX"]},
            "device": {"include": ["SMARTPHONE"]},
        })
        region = t1.get("strategies", strategy.id, child="region")
        assert isinstance(region, terminalone.models.TargetDimension)
        assert sorted((v.id, v.code, v.name) for v in region.include) == [
            (70001, "US-CA", "California"), (70002, "US-NY", "New York")]
        assert [(v.code, v.target_dimension_id, v.is_targetable) for v in region.exclude] == [("US-TX", 7, True)]
        device = t1.get("strategies", strategy.id, child="device")
        assert [v.code for v in device.include] == ["SMARTPHONE"] and list(device.exclude) == []
        assert list(t1.get("strategies", strategy.id, child="os").include) == []

        # the SDK's own write (the ids it holds, no version) is what reconciler reads next
        device.include.append(240003)  # TABLET, by id as the SDK allows
        device.save()
        live = provider.read("StrategyTargeting", [str(strategy.id)])[str(strategy.id)]
        assert live.fields["device"] == {"include": ["SMARTPHONE", "TABLET"], "exclude": []}
        assert live.fields["region"] == {"include": ["US-CA", "US-NY"], "exclude": ["US-TX"]}
        [entry] = [h for h in provider.history("StrategyTargeting", str(strategy.id)) if h.field == "device.include"][-1:]
        assert (entry.user, entry.old, entry.new) == ("demo", "SMARTPHONE", "SMARTPHONE, TABLET")
    finally:
        provider.close()


@pytest.mark.parametrize("json_mode", [False, True], ids=["xml", "json"])
def test_concepts_day_parts_audiences_supplies_deals_reconciler_writes_the_sdk_reads(
        server: tuple[SandboxServer, Path], json_mode: bool) -> None:
    """Concept, StrategyConcept, StrategyDayPart and StrategyTargeting's audience / supply_sources /
    deals as reconciler's provider writes them, read by the SDK with its own models and paths
    (``child='audience_segments'``, ``'supplies'``, ``'deals'``; the linkage collections with
    ``limit={'strategy': id}``). The SDK's ``child='concepts'`` / ``'day_parts'`` paths
    (``/strategies/{id}/concepts``, ``/day_parts``) are not in the reference and not served: the SDK
    reads those through ``strategy_concepts`` / ``strategy_day_parts``; ``t1.get('deals', id)`` goes
    to the separate Deals service (``deals/v1.0``), not served either."""
    t1 = connect(server, json=json_mode)
    made = build(t1)
    strategy, advertiser = made["strategies"][0], made["advertiser"]
    provider = reconciler_provider(server)
    try:
        concept = provider.create("Concept", {"advertiser_id": str(advertiser.id), "name": "Winter Creatives"})
        link = provider.create("StrategyConcept", {"strategy_id": str(strategy.id), "concept_id": concept.remote_id,
                                                   "weighting": "BUDGET", "percent": 40})
        part = provider.create("StrategyDayPart", {"strategy_id": str(strategy.id), "days": "MTWRF",
                                                   "start_hour": 9, "end_hour": 17})
        provider.create("StrategyTargeting", {
            "strategy_id": str(strategy.id),
            "audience": {"include": ["BK-AUTO-INTENDERS"], "exclude": ["EX-CURRENT-CUSTOMERS"]},
            "supply_sources": ["ADX", "OPENX"], "deals": ["SPORTS-PMP"], "site_lists": ["Blocked Domains"],
            "domain_restrictions": {"include": ["news.example.com"], "exclude": ["Bad.Example"]},
        })

        got = t1.get("concepts", int(concept.remote_id), include="advertiser")
        assert isinstance(got, terminalone.models.Concept)
        assert (got.name, got.advertiser_id, got.status, got.version) == ("Winter Creatives", advertiser.id, True, 0)
        assert got.advertiser.name == "SDK Advertiser"
        [assigned] = list(t1.get("strategy_concepts", limit={"strategy": strategy.id}, include="concept", full=True))
        assert isinstance(assigned, terminalone.models.StrategyConcept)
        assert (assigned.id, assigned.concept_id, assigned.concept.name) == (
            int(link.remote_id), int(concept.remote_id), "Winter Creatives")

        [day_part] = list(t1.get("strategy_day_parts", limit={"strategy": strategy.id}, full=True))
        assert isinstance(day_part, terminalone.models.StrategyDayPart)
        assert (day_part.id, day_part.days, day_part.start_hour, day_part.end_hour, day_part.user_time) == (
            int(part.remote_id), "MTWRF", 9, 17, False)

        segments = list(t1.get("strategies", strategy.id, child="audience_segments", full=True))
        assert all(isinstance(s, terminalone.models.StrategyAudienceSegment) for s in segments)
        by_id = {s.audience_segment_id: s.restriction for s in segments}

        named = {t1.get("audience_segments", sid).name: restriction for sid, restriction in by_id.items()}
        assert sorted(named.values()) == ["EXCLUDE", "INCLUDE"]
        listed = list(t1.get("strategy_audience_segments", limit={"strategy": strategy.id}, full=True))
        assert sorted(s.id for s in listed) == sorted(s.id for s in segments)

        supplies = list(t1.get("strategies", strategy.id, child="supplies", full=True))
        assert all(isinstance(s, terminalone.models.StrategySupplySource) for s in supplies)
        assert sorted(s.supply_source_id for s in supplies) == [90001, 90004]  # ADX, OPENX
        assert sorted(t1.get("supply_sources", s.supply_source_id).code for s in supplies) == ["ADX", "OPENX"]
        deals = list(t1.get("strategies", strategy.id, child="deals", full=True))
        assert all(isinstance(d, terminalone.models.StrategyDeal) for d in deals)
        assert [d.deal_id for d in deals] == [95003]
        # t1.get("deals", id) goes to the separate Deals service (``/deals/v1.0``, config.SERVICE_BASE_PATHS),
        # which the reference does not describe and the sandbox does not serve: the id is the check here

        # site lists: the SDK has a SiteList model but no strategy_site_list one (nor a child path): the list itself
        site_list = t1.get("site_lists", 97003)
        assert isinstance(site_list, terminalone.models.SiteList)
        assert (site_list.name, site_list.restriction, site_list.organization_id) == ("Blocked Domains", "EXCLUDE", 100048)

        restrictions = list(t1.get("strategy_domain_restrictions", limit={"strategy": strategy.id}, full=True))
        assert all(isinstance(r, terminalone.models.StrategyDomain) for r in restrictions)
        assert sorted((r.restriction, r.domain, r.strategy_id) for r in restrictions) == [
            ("EXCLUDE", "bad.example", strategy.id), ("INCLUDE", "news.example.com", strategy.id)]

        # the SDK removes the day part its own way (POST .../delete with version); reconciler sees it gone
        day_part.remove()
        assert provider.read("StrategyDayPart", [part.remote_id]).get(part.remote_id) is None
    finally:
        provider.close()
