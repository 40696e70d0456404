"""The mediamath provider against the live MediaMath emulator, over real HTTP on 127.0.0.1.

Covers: the whole hierarchy created from manifest-shaped specs (Organization looked up by name,
Agency, Advertiser, Campaign, Strategy, BudgetFlight) in XML and in JSON; campaigns and
strategies created paused unless ``status`` is set; reads equal the normalised desired spec;
versioned updates send only the changes; a stale version raises PreconditionFailed carrying the
object re-read, and an out-of-band value stays live; history names who changed what and when
(old/new in manifest vocabulary, oldest first); budget flight update/delete through the campaign
path; delete deactivates the kinds MediaMath cannot delete; batched refresh of 1,000 strategies
within 15 requests (sandbox counters) and missing ids left out; children listing with paging;
natural-key lookup (exact name, names with query metacharacters, ambiguity); 401 re-login;
vendor messages (field errors) in errors; no password, api_key or session in any error, repr
or DEBUG log line;
reads (and the login) converge under injected 429/5xx, and with the API down the kinds read at once
fail after one login's retries; TLS verification with ``ca_bundle``; bad settings.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from reconciler.errors import (
    APIError,
    AuthError,
    NotFoundError,
    ProviderError,
    TransportError,
    WorkspaceError,
)
from reconciler.providers.base import Precondition, PreconditionFailed, PreconditionKind, ProviderConfig
from reconciler.providers.http import RetryPolicy
from reconciler.providers.mediamath import MediaMathProvider

DEMO_CREDENTIALS = {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"}


class SandboxControl:
    """Control endpoints of a running sandbox (``/_sandbox/...``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.api = f"{url}/mediamath"
        self.http = requests.Session()

    def post(self, path: str, body: Any = None) -> Any:
        response = self.http.post(f"{self.url}/_sandbox/{path}", json=body, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def reset(self) -> None:
        self.post("reset")
        self.post("faults", {})
        self.post("rate-limits/mediamath", {})

    def counters(self) -> dict[str, int]:
        response = self.http.get(f"{self.url}/_sandbox/counters", timeout=30)
        routes: dict[str, int] = response.json()["routes"]
        return {k: v for k, v in routes.items() if k.startswith("mediamath ")}

    def clear_counters(self) -> None:
        self.http.delete(f"{self.url}/_sandbox/counters", timeout=30)

    def api_requests(self) -> int:
        return sum(self.counters().values())

    def edit(self, collection: str, id_: str | int, fields: dict[str, Any], user: str = "jdoe") -> Any:
        return self.post("mediamath/edit", {"collection": collection, "id": int(id_), "fields": fields, "user": user})


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    from reconciler.sandbox import SandboxServer, create_sandbox

    sandbox = create_sandbox(":memory:", names=["mediamath"])
    with SandboxServer(sandbox) as running:
        yield running
    sandbox.store.close()


@pytest.fixture
def mm(server: Any) -> Iterator[SandboxControl]:
    control = SandboxControl(server.url)
    control.reset()
    yield control
    control.http.close()


@pytest.fixture
def make_provider(mm: SandboxControl) -> Iterator[Callable[..., MediaMathProvider]]:
    made: list[MediaMathProvider] = []

    def make(credentials: dict[str, str] | None = None, **options: Any) -> MediaMathProvider:
        provider = MediaMathProvider(
            ProviderConfig(
                name="mediamath",
                endpoint=mm.api,
                credentials=DEMO_CREDENTIALS if credentials is None else credentials,
                options=options,
            )
        )
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


Make = Callable[..., MediaMathProvider]

AGENCY = {"organization_id": "100048", "name": "Test Agency", "status": True}


def advertiser(agency_id: str, name: str = "Test Advertiser") -> dict[str, Any]:
    return {
        "agency_id": agency_id,
        "name": name,
        "domain": "https://shoes.example",
        "ad_server_id": 9,
        "vertical_id": 12,
    }


def campaign(advertiser_id: str, name: str = "Winter Sale") -> dict[str, Any]:
    return {
        "advertiser_id": advertiser_id,
        "name": name,
        "ad_server_id": 9,
        "service_type": "SELF",
        "zone_name": "America/New_York",
        "start_date": "2026-12-01T00:00:00",
        "end_date": "2027-01-31T23:59:59",
        "goal_type": "cpa",
        "goal_value": 12.5,
        "total_budget": 50000,
        "use_mm_freq": False,
    }


def strategy(campaign_id: str, name: str = "Prospecting") -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "name": name,
        "type": "GBO",
        "goal_type": "cpa",
        "goal_value": 15,
        "budget": 20000,
        "max_bid": 4.5,
        "pacing_amount": 700,
        "use_campaign_start": True,
        "use_campaign_end": True,
    }


def build_tree(provider: MediaMathProvider) -> dict[str, Any]:
    agency = provider.create("Agency", AGENCY)
    adv = provider.create("Advertiser", advertiser(agency.remote_id))
    camp = provider.create("Campaign", campaign(adv.remote_id))
    strat = provider.create("Strategy", strategy(camp.remote_id))
    return {"agency": agency, "advertiser": adv, "campaign": camp, "strategy": strat}


def assert_matches(provider: MediaMathProvider, kind: str, spec: dict[str, Any], fields: Any) -> None:
    desired = provider.normalize(kind, spec)
    assert {k: fields.get(k) for k in desired} == desired


# -- create / read / update -----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_create_read_update_the_hierarchy(make_provider: Make, fmt: str) -> None:
    provider = make_provider(format=fmt)
    org = provider.find_by_natural_key("Organization", {"name": "ACME Org"})
    assert org is not None and org.remote_id == "100048" and org.fields["name"] == "ACME Org"

    tree = build_tree(provider)
    for key, kind, spec in [
        ("agency", "Agency", AGENCY),
        ("advertiser", "Advertiser", advertiser(tree["agency"].remote_id)),
        ("campaign", "Campaign", campaign(tree["advertiser"].remote_id)),
        ("strategy", "Strategy", strategy(tree["campaign"].remote_id)),
    ]:
        live = tree[key]
        assert live.kind == kind and live.version == 0 and live.remote_id.isdigit()
        assert_matches(provider, kind, spec, live.fields)
        assert provider.read(kind, [live.remote_id]) == {live.remote_id: live}
    # created paused unless the manifest says otherwise; the naive time was read in the zone
    assert tree["campaign"].fields["status"] is False and tree["strategy"].fields["status"] is False
    assert tree["campaign"].fields["start_date"] == "2026-12-01T05:00:00Z"
    assert not {"created_on", "updated_on", "version", "initial_start_date"} & set(tree["campaign"].fields)
    assert not {"effective_goal_value", "zone_name", "currency_code"} & set(tree["strategy"].fields)

    camp = tree["campaign"]
    updated = provider.update(
        "Campaign",
        camp.remote_id,
        {"name": "Winter Sale 2026", "total_budget": 60000.5, "status": True},
        provider.precondition_for(camp),
    )
    assert updated.version == 1
    assert updated.fields["name"] == "Winter Sale 2026"
    assert updated.fields["total_budget"] == 60000.5
    assert updated.fields["status"] is True
    assert updated.fields["goal_value"] == 12.5  # untouched
    assert provider.read("Campaign", [camp.remote_id])[camp.remote_id] == updated


def test_status_set_in_the_manifest_wins(make_provider: Make) -> None:
    provider = make_provider()
    tree = build_tree(provider)
    live = provider.create("Campaign", {**campaign(tree["advertiser"].remote_id, "Live one"), "status": True})
    assert live.fields["status"] is True


def test_naive_update_times_use_the_live_zone(make_provider: Make) -> None:
    provider = make_provider()
    camp = build_tree(provider)["campaign"]
    updated = provider.update(
        "Campaign", camp.remote_id, {"end_date": "2027-02-15T12:00:00"}, provider.precondition_for(camp)
    )
    assert updated.fields["end_date"] == "2027-02-15T17:00:00Z"


# -- conflicts and history ------------------------------------------------------------------------
def test_stale_version_raises_precondition_failed_and_keeps_their_value(make_provider: Make, mm: SandboxControl) -> None:
    provider = make_provider()
    camp = build_tree(provider)["campaign"]
    mm.edit("campaigns", camp.remote_id, {"name": "Renamed by Jane"})
    with pytest.raises(PreconditionFailed) as caught:
        provider.update("Campaign", camp.remote_id, {"name": "Ours"}, provider.precondition_for(camp))
    message = str(caught.value)
    assert "Version Conflict" in message and f"Campaign {camp.remote_id}" in message
    current = caught.value.current
    assert current is not None and current.version == 1 and current.fields["name"] == "Renamed by Jane"
    assert provider.read("Campaign", [camp.remote_id])[camp.remote_id].fields["name"] == "Renamed by Jane"
    # a fingerprint precondition is checked client-side before writing
    with pytest.raises(PreconditionFailed, match="changed since it was read"):
        provider.update(
            "Campaign", camp.remote_id, {"name": "Ours"}, Precondition(PreconditionKind.FINGERPRINT, camp.fingerprint)
        )
    # with the fresh version the write goes through
    done = provider.update("Campaign", camp.remote_id, {"name": "Ours"}, provider.precondition_for(current))
    assert done.fields["name"] == "Ours" and done.version == 2


def test_history_names_who_changed_what_and_when(make_provider: Make, mm: SandboxControl) -> None:
    provider = make_provider()
    camp = build_tree(provider)["campaign"]
    provider.update("Campaign", camp.remote_id, {"total_budget": 75000}, provider.precondition_for(camp))
    mm.edit("campaigns", camp.remote_id, {"status": "1", "goal_value": "9.5"}, user="jdoe")
    history = provider.history("Campaign", camp.remote_id)
    assert history[0].action == "add" and history[0].user == "demo" and history[0].field is None
    changes = [(h.user, h.action, h.field, h.old, h.new) for h in history[1:]]
    assert ("demo", "update", "total_budget", 50000, 75000) in changes
    assert ("jdoe", "update", "status", False, True) in changes
    assert ("jdoe", "update", "goal_value", 12.5, 9.5) in changes
    whens = [h.when for h in history]
    assert whens == sorted(whens) and all(w.endswith("Z") for w in whens)
    assert [h.user for h in history][-1] == "jdoe"  # oldest first: the last change is last


def test_history_of_an_unknown_entity_is_a_not_found_error(make_provider: Make) -> None:
    provider = make_provider()
    with pytest.raises(NotFoundError):
        provider.history("Campaign", "2147483000")


# -- budget flights and delete --------------------------------------------------------------------
def test_budget_flight_lifecycle(make_provider: Make) -> None:
    provider = make_provider()
    camp = build_tree(provider)["campaign"]
    spec = {
        "campaign_id": camp.remote_id,
        "name": "Main flight",
        "start_date": "2026-12-01T00:00:00-05:00",
        "end_date": "2027-01-31T23:59:59-05:00",
        "total_budget": 50000,
    }
    flight = provider.create("BudgetFlight", spec)
    assert_matches(provider, "BudgetFlight", spec, flight.fields)
    assert flight.fields["start_date"] == "2026-12-01T05:00:00Z"
    # a fresh provider (no cache of the flight's campaign) finds the campaign path itself
    other = make_provider()
    updated = other.update("BudgetFlight", flight.remote_id, {"total_budget": 55000.25}, other.precondition_for(flight))
    assert updated.version == 1 and updated.fields["total_budget"] == 55000.25
    with pytest.raises(PreconditionFailed):
        other.delete("BudgetFlight", flight.remote_id, Precondition(PreconditionKind.VERSION, 0))
    assert [f.remote_id for f in other.list_children("BudgetFlight", camp.remote_id)] == [flight.remote_id]
    other.delete("BudgetFlight", flight.remote_id, other.precondition_for(updated))
    assert other.read("BudgetFlight", [flight.remote_id]) == {}
    assert other.list_children("BudgetFlight", camp.remote_id) == []


def test_delete_deactivates_what_mediamath_cannot_delete(make_provider: Make) -> None:
    provider = make_provider()
    tree = build_tree(provider)
    camp = provider.update(
        "Campaign", tree["campaign"].remote_id, {"status": True}, provider.precondition_for(tree["campaign"])
    )
    provider.delete("Campaign", camp.remote_id, provider.precondition_for(camp))
    after = provider.read("Campaign", [camp.remote_id])[camp.remote_id]
    assert after.fields["status"] is False and after.version == camp.version + 1
    with pytest.raises(PreconditionFailed):
        provider.delete("Strategy", tree["strategy"].remote_id, Precondition(PreconditionKind.VERSION, 7))
    provider.delete("Strategy", "2147480000", Precondition(PreconditionKind.VERSION, 0))  # gone: nothing to do
    # an update without changes writes nothing
    same = provider.update("Agency", tree["agency"].remote_id, {}, provider.precondition_for(tree["agency"]))
    assert same.version == tree["agency"].version


def test_organization_is_read_only(make_provider: Make) -> None:
    provider = make_provider()
    with pytest.raises(ProviderError, match="read-only"):
        provider.create("Organization", {"name": "New Org"})
    with pytest.raises(ProviderError, match="no kind 'Pixel'"):
        provider.read("Pixel", ["1"])


# -- batched refresh ------------------------------------------------------------------------------
def test_refresh_of_1000_strategies_takes_at_most_15_requests(make_provider: Make, mm: SandboxControl) -> None:
    seeded = mm.post("seed", {"api": "mediamath", "name": "estate", "data": {"campaigns": 2, "strategies": 1000}})
    ids = [str(i) for i in seeded["created"]["strategies"]]
    assert len(ids) == 1000
    provider = make_provider()
    mm.clear_counters()
    live = provider.read("Strategy", [*ids, "2147480000", "not-an-id"])
    requests_made = mm.api_requests()
    assert sorted(live) == sorted(ids, key=int) and list(live) == sorted(ids, key=int)
    assert requests_made <= 15, mm.counters()
    assert provider.stats()["requests"] == requests_made  # login + 10 pages of 100
    one = live[ids[0]]
    assert one.fields["campaign_id"] == str(seeded["created"]["campaigns"][0]) and one.version == 0
    # children of one campaign: paged 100 at a time, all of them
    campaign_id = str(seeded["created"]["campaigns"][1])
    children = provider.list_children("Strategy", campaign_id)
    assert len(children) == 500 and {c.fields["campaign_id"] for c in children} == {campaign_id}


def test_reads_converge_under_injected_faults(make_provider: Make, mm: SandboxControl) -> None:
    seeded = mm.post("seed", {"api": "mediamath", "name": "estate", "data": {"campaigns": 1, "strategies": 300}})
    ids = [str(i) for i in seeded["created"]["strategies"]]
    provider = make_provider()
    mm.post("faults", {"fault_rate": 0.5, "seed": 3, "weights": {"429": 1, "5xx": 1}, "retry_after": 0.01})
    mm.clear_counters()
    live = provider.read("Strategy", ids)
    assert len(live) == 300
    stats = provider.stats()
    assert stats["retries"] > 0 and stats["rate_limited"] + stats["server_errors"] == stats["retries"]
    logins = sum(v for k, v in mm.counters().items() if k == "mediamath POST login")
    assert logins > 1  # the login itself met a fault and was retried, not reported as refused


# -- natural keys ---------------------------------------------------------------------------------
def test_find_by_natural_key(make_provider: Make) -> None:
    provider = make_provider()
    tree = build_tree(provider)
    cid = tree["campaign"].remote_id
    odd = provider.create("Strategy", strategy(cid, "A&B (retargeting) == 50% <off>"))
    provider.create("Strategy", strategy(cid, "prospecting"))  # differs only by case
    found = provider.find_by_natural_key("Strategy", strategy(cid))
    assert found is not None and found.remote_id == tree["strategy"].remote_id
    odd_found = provider.find_by_natural_key("Strategy", strategy(cid, "A&B (retargeting) == 50% <off>"))
    assert odd_found is not None and odd_found.remote_id == odd.remote_id
    assert provider.find_by_natural_key("Strategy", strategy(cid, "Nope")) is None
    # the same name under another parent is not a match
    other = provider.create("Campaign", campaign(tree["advertiser"].remote_id, "Other"))
    assert provider.find_by_natural_key("Strategy", strategy(other.remote_id)) is None
    provider.create("Strategy", strategy(cid, "Prospecting"))
    with pytest.raises(ProviderError, match="2 live objects match"):
        provider.find_by_natural_key("Strategy", strategy(cid))


def test_find_budget_flight_by_start(make_provider: Make) -> None:
    provider = make_provider()
    cid = build_tree(provider)["campaign"].remote_id
    spec = {"campaign_id": cid, "start_date": "2026-12-01T05:00:00Z", "end_date": "2026-12-31", "total_budget": 10}
    flight = provider.create("BudgetFlight", spec)
    found = provider.find_by_natural_key("BudgetFlight", {**spec, "start_date": "2026-12-01T00:00:00-05:00"})
    assert found is not None and found.remote_id == flight.remote_id


# -- auth, errors and secrets ---------------------------------------------------------------------
def test_relogin_once_after_401(make_provider: Make, mm: SandboxControl) -> None:
    provider = make_provider()
    agency = provider.create("Agency", AGENCY)
    stale = provider.client.http.session.cookies.get("adama_session")
    assert stale
    # the session ends server-side (as at expiry); the client still holds the stale cookie
    ended = requests.post(f"{mm.api}/api/v2.0/logout", cookies={"adama_session": stale}, timeout=10)
    assert ended.status_code == 200
    mm.clear_counters()
    assert provider.read("Agency", [agency.remote_id])[agency.remote_id].fields["name"] == "Test Agency"
    counters = mm.counters()
    logins = sum(v for k, v in counters.items() if k.startswith("mediamath POST") and "login" in k)
    assert logins == 1, counters
    assert mm.api_requests() == 3  # refused read, login, read
    assert provider.client.http.session.cookies.get("adama_session") not in (None, stale)


def test_vendor_message_in_errors(make_provider: Make) -> None:
    provider = make_provider()
    tree = build_tree(provider)
    bad = {k: v for k, v in campaign(tree["advertiser"].remote_id).items() if k != "total_budget"}
    with pytest.raises(APIError) as caught:
        provider.create("Campaign", bad)
    message = str(caught.value)
    assert caught.value.status == 400 and caught.value.vendor_code == "invalid"
    assert "POST http://127.0.0.1:" in message and "/api/v2.0/campaigns" in message
    assert "total_budget: is required" in message
    with pytest.raises(APIError, match=r"vertical_id: vertical 999 does not exist"):
        provider.create("Advertiser", {**advertiser(tree["agency"].remote_id, "X"), "vertical_id": 999})


def test_no_secret_in_errors_or_reprs(make_provider: Make, mm: SandboxControl) -> None:
    secrets = {"username": "demo", "password": "s3cret-Pa55word", "api_key": "k3y-XYZ-123456"}
    provider = make_provider(credentials=secrets)
    with pytest.raises(AuthError) as caught:
        provider.read("Agency", ["1"])
    texts = [str(caught.value), repr(caught.value), caught.value.url, repr(provider), repr(provider.client)]
    assert "login refused" in texts[0]
    good = make_provider()
    with pytest.raises(APIError) as caught_400:
        good.create("Agency", {"organization_id": "100048", "name": ""})
    with pytest.raises(PreconditionFailed) as caught_409:
        live = good.create("Agency", AGENCY)
        good.update("Agency", live.remote_id, {"name": "x"}, Precondition(PreconditionKind.VERSION, 5))
    denied = None
    try:
        good.update("Agency", "104000", {"name": "mine"}, Precondition(PreconditionKind.VERSION, 0))
    except APIError as exc:
        denied = exc
    assert denied is not None and denied.status == 403
    cookie = good.client.http.session.cookies.get("adama_session")
    assert cookie
    texts += [str(caught_400.value), str(caught_409.value), str(denied), denied.url, repr(good), repr(good.config)]
    for text in texts:
        for secret in (*secrets.values(), "demo-password", "demo-api-key", cookie):
            if secret != "demo":
                assert secret not in text, text


def test_bad_settings_are_workspace_errors(mm: SandboxControl) -> None:
    def make(endpoint: str = mm.api, credentials: dict[str, str] = DEMO_CREDENTIALS, **options: Any) -> None:
        MediaMathProvider(ProviderConfig("mediamath", endpoint, credentials=credentials, options=options))

    with pytest.raises(WorkspaceError, match="http"):
        make("sandbox")
    with pytest.raises(WorkspaceError, match="credentials"):
        make(credentials={"username": "demo"})
    with pytest.raises(WorkspaceError, match="rate_limit"):
        make(rate_limit="fast")
    with pytest.raises(WorkspaceError, match="format"):
        make(format="csv")
    with pytest.raises(WorkspaceError, match="timeout"):
        make(timeout="soon")
    with pytest.raises(WorkspaceError, match="ca_bundle"):
        make(ca_bundle="missing.pem")


def test_rate_limit_option_sets_the_request_budget(make_provider: Make) -> None:
    assert make_provider().request_budget() == 40.0
    assert make_provider(rate_limit={"rate": 10, "burst": 20}).request_budget() == 10.0
    assert make_provider(rate_limit=0).request_budget() is None


# -- TLS ------------------------------------------------------------------------------------------
def test_tls_is_verified_with_the_configured_ca_bundle(tmp_path: Any) -> None:
    import trustme

    from reconciler.sandbox import SandboxServer, create_sandbox

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    sandbox = create_sandbox(":memory:", names=["mediamath"])
    with SandboxServer(sandbox, ssl_context=context) as running:
        endpoint = f"{running.url}/mediamath"
        assert endpoint.startswith("https://")
        trusted = MediaMathProvider(
            ProviderConfig("mediamath", endpoint, credentials=DEMO_CREDENTIALS, options={"ca_bundle": "ca.pem"},
                           workspace_dir=tmp_path)
        )
        org = trusted.find_by_natural_key("Organization", {"name": "ACME Org"})
        assert org is not None and org.remote_id == "100048"
        untrusted = MediaMathProvider(ProviderConfig("mediamath", endpoint, credentials=DEMO_CREDENTIALS))
        untrusted.client.http.retry = RetryPolicy(attempts=1)  # a certificate failure is not transient
        with pytest.raises(TransportError, match="TLS verification failed"):
            untrusted.read("Agency", ["1"])
        trusted.close()
        untrusted.close()
    sandbox.store.close()


def test_bearer_token_session(make_provider: Make, mm: SandboxControl) -> None:
    token = mm.post("mediamath/token", {"user": "demo"})["access_token"]
    provider = make_provider(credentials={"access_token": token})
    agency = provider.create("Agency", AGENCY)
    assert provider.history("Agency", agency.remote_id)[0].user == "demo"
    assert provider.client.user_name == "demo"
    refused = make_provider(credentials={"access_token": "not-a-valid-token-123"})
    with pytest.raises(AuthError) as caught:
        refused.read("Agency", [agency.remote_id])
    assert "login refused" in str(caught.value) and "not-a-valid-token-123" not in str(caught.value)


def test_history_pages_past_100_entries(make_provider: Make, mm: SandboxControl) -> None:
    provider = make_provider()
    agency = provider.create("Agency", AGENCY)
    for n in range(120):
        mm.edit("agencies", agency.remote_id, {"name": f"Agency v{n}"}, user="jdoe")
    history = provider.history("Agency", agency.remote_id)
    assert len(history) == 121
    assert history[0].action == "add"
    assert [(h.old, h.new) for h in history[-2:]] == [("Agency v117", "Agency v118"), ("Agency v118", "Agency v119")]


def test_conflict_in_json_format(make_provider: Make, mm: SandboxControl) -> None:
    provider = make_provider(format="json")
    strat = build_tree(provider)["strategy"]
    mm.edit("strategies", strat.remote_id, {"max_bid": "9.99"})
    with pytest.raises(PreconditionFailed, match="Version Conflict") as caught:
        provider.update("Strategy", strat.remote_id, {"max_bid": 5}, provider.precondition_for(strat))
    assert caught.value.current is not None and caught.value.current.fields["max_bid"] == 9.99
    history = provider.history("Strategy", strat.remote_id)
    assert (history[-1].user, history[-1].field, history[-1].old, history[-1].new) == ("jdoe", "max_bid", 4.5, 9.99)


def test_api_key_is_masked_in_debug_logs(make_provider: Make, caplog: pytest.LogCaptureFixture) -> None:
    provider = make_provider()
    with caplog.at_level(logging.DEBUG):
        provider.find_by_natural_key("Organization", {"name": "ACME Org"})
    urls = [r.getMessage() for r in caplog.records if r.name == "urllib3.connectionpool"]
    assert any("/api/v2.0/organizations" in u and "api_key=***" in u for u in urls), urls
    assert "demo-api-key" not in caplog.text and "demo-password" not in caplog.text


def test_reads_waiting_on_a_failed_login_fail_with_it(make_provider: Make, mm: SandboxControl) -> None:
    """The API down: every kind read at once waits for the one login, and its failure (after its
    retries) is theirs too; no kind starts a round of retries of its own."""
    from concurrent.futures import ThreadPoolExecutor

    provider = make_provider()
    provider.client.http.retry = RetryPolicy(attempts=3, base_delay=0.01)
    mm.post("faults", {"fault_rate": 1.0, "seed": 1, "weights": {"429": 0, "5xx": 1}, "latency_ms": 100})
    mm.clear_counters()
    kinds = ["Agency", "Advertiser", "Campaign", "Strategy"]
    with ThreadPoolExecutor(max_workers=len(kinds)) as pool:
        futures = [pool.submit(provider.read, kind, ["1", "2"]) for kind in kinds]
        errors = [f.exception() for f in futures]
    assert all(isinstance(e, APIError) and e.status is not None and e.status >= 500 for e in errors), errors
    logins = sum(v for k, v in mm.counters().items() if k == "mediamath POST login")
    assert logins == 3, mm.counters()  # one login's three attempts, not one round per kind
    # a later call tries again (the API may be back)
    mm.post("faults", {})
    assert provider.read("Agency", ["1"]) is not None
