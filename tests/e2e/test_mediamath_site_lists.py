"""MediaMath site lists (``site_lists`` of ``StrategyTargeting``) end to end: the real CLI on a copy
of ``examples/mediamath`` against the emulator over HTTP, checked through the API.

Aspects covered (issue 21, site lists):

- create: lists named in the manifest are assigned (read back through ``/strategy_site_lists``),
  each named in the plan (``+ site_lists[Blocked Domains]``), the plan is then empty;
- change and remove: a list swapped, ``site_lists: []`` removes every one;
- drift: jdoe's assignment through the API is reported by name, with who and when;
- export round trip: the exported document carries the lists and the next plan is empty;
- domain restrictions: set (case means nothing), drift by jdoe, export round trip, removed with
  ``{}``; dropping every include is a guardrail warning; bad domains refused by the sandbox and an
  overlap refused at plan;
- an unknown or inactive list name fails that resource at apply with the closest names; the
  sandbox refuses an unknown id in the API's error shape.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests
import yaml
from defusedxml import ElementTree as SafeET

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.mediamath.app import MediaMathEmulator
from tests.e2e.conftest import TIMEOUT, ExampleWorkspace, MediaMathUser, copy_example

CREDENTIALS = dict(MediaMathEmulator.demo_credentials)
TARGETING = "mediamath.StrategyTargeting/winter-mobile-coasts"
STRATEGY = "mediamath.Strategy/winter-mobile-coasts"
DEALS = "deals: [ACME-PREMIUM-2026]"
IDS = {"Brand Safe Publishers": 97001, "News Publishers": 97002, "Blocked Domains": 97003,
       "Made For Advertising": 97004, "Retired List": 97005}


class SiteListApi(MediaMathUser):
    """The emulator's API as a user (XML): a strategy's site lists."""

    def names(self, strategy_id: str) -> list[str]:
        r = self.session.get(f"{self.base}/strategy_site_lists/limit/strategy={strategy_id}", params={"full": "*"},
                             timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return sorted(str({p.get("name"): p.get("value") for p in e.iterfind("prop")}["code"])
                      for e in SafeET.fromstring(r.content).iterfind("entities/entity"))

    def assign(self, strategy_id: str, ids: list[int]) -> requests.Response:
        return self.session.post(f"{self.base}/strategies/{strategy_id}/site_lists", data={"site_list_ids": ids},
                                 timeout=TIMEOUT)


@pytest.fixture
def applied(ws: ExampleWorkspace) -> ExampleWorkspace:
    ws.edit("targeting.yaml", DEALS, f"{DEALS}\n  site_lists: [Brand Safe Publishers, Blocked Domains]")
    result = ws.run("apply", "--auto-approve")
    assert result.code == 0, result
    return ws


@pytest.fixture
def api(mm_server: SandboxServer) -> SiteListApi:
    return SiteListApi(mm_server.url)


def plan_lines(ws: ExampleWorkspace) -> list[str]:
    result = ws.run("plan")
    assert result.code == 0, result
    return [" ".join(line.split()) for line in result.out.splitlines() if "site_lists[" in line]


def test_site_lists_are_assigned_changed_and_removed(applied: ExampleWorkspace, api: SiteListApi) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    assert api.names(strategy_id) == ["Blocked Domains", "Brand Safe Publishers"]
    assert applied.run("plan", "--detailed-exitcode").code == 0

    applied.edit("targeting.yaml", "site_lists: [Brand Safe Publishers, Blocked Domains]",
                 "site_lists: [Blocked Domains, News Publishers]")
    assert plan_lines(applied) == [
        '- site_lists[Brand Safe Publishers] = "Brand Safe Publishers"',
        '+ site_lists[News Publishers] = "News Publishers"',
    ]
    assert applied.run("apply", "--auto-approve").code == 0
    assert api.names(strategy_id) == ["Blocked Domains", "News Publishers"]
    assert applied.run("plan", "--detailed-exitcode").code == 0

    applied.edit("targeting.yaml", "site_lists: [Blocked Domains, News Publishers]", "site_lists: []")
    assert plan_lines(applied) == ['- site_lists[Blocked Domains] = "Blocked Domains"',
                                   '- site_lists[News Publishers] = "News Publishers"']
    assert applied.run("apply", "--auto-approve").code == 0
    assert api.names(strategy_id) == []
    assert applied.run("plan", "--detailed-exitcode").code == 0


def test_drift_names_who_assigned_a_site_list_and_when(mm_server: SandboxServer, applied: ExampleWorkspace) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    jdoe = SiteListApi(mm_server.url, "jdoe", "jdoe-password")
    r = jdoe.assign(strategy_id, [IDS["Brand Safe Publishers"], IDS["Blocked Domains"], IDS["Made For Advertising"]])
    assert r.status_code == 200, r.text
    text = applied.run("drift")
    assert text.code == 2, text
    assert any("site_lists[Made For Advertising]" in line and "jdoe" in line for line in text.out.splitlines()), text.out
    items = {i["address"]: i for i in json.loads(applied.run("drift", "--format", "json").out)["items"]}
    fields = {f["path"]: f for f in items[TARGETING]["fields"]}
    assert set(fields) == {"site_lists[Made For Advertising]"}
    field = fields["site_lists[Made For Advertising]"]
    assert (field["live"], field["changed_by"]) == ("Made For Advertising", "jdoe")
    assert field["changed_at"]


def test_export_round_trip_keeps_the_site_lists(mm_server: SandboxServer, applied: ExampleWorkspace,
                                                tmp_path: Path) -> None:
    campaign_id = applied.remote_id("mediamath.Campaign/winter-sale")
    exported = copy_example("mediamath", tmp_path / "exported", mm_server.url, CREDENTIALS)
    for path in exported.root.glob("*.yaml"):
        if path.name != "reconciler.yaml":
            path.unlink()
    assert exported.run("export", "--provider", "mediamath", "--campaign", campaign_id).code == 0
    written = exported.root / "mediamath" / "strategy-targeting.yaml"
    spec = [d for d in yaml.safe_load_all(written.read_text(encoding="utf-8")) if d][0]["spec"]
    assert spec["site_lists"] == ["Blocked Domains", "Brand Safe Publishers"]
    assert exported.run("plan", "--detailed-exitcode").code == 0
    shutil.rmtree(exported.root / "mediamath")


def test_unknown_or_inactive_site_lists_are_refused(applied: ExampleWorkspace, api: SiteListApi) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    r = api.assign(strategy_id, [IDS["Blocked Domains"], IDS["Retired List"], 123])
    assert r.status_code == 400, r.text
    [error] = SafeET.fromstring(r.content).iterfind(".//field-error")
    assert (error.get("name"), error.get("error")) == ("site_list_ids", "Invalid site list id(s): 97005, 123")
    assert api.names(strategy_id) == ["Blocked Domains", "Brand Safe Publishers"]  # nothing half-written

    applied.edit("targeting.yaml", "site_lists: [Brand Safe Publishers, Blocked Domains]",
                 "site_lists: [Blocked Domain]")
    result = applied.run("apply", "--auto-approve")
    assert result.code == 1, result
    assert ("site_lists: 'Blocked Domain' is not a name of the API's site_lists; did you mean "
            "'Blocked Domains'") in result.err, result


# -- domain restrictions ---------------------------------------------------------------------------------
DOMAINS_SPEC = "domain_restrictions: {include: [News.Example.com, sports.example.com], exclude: [bad.example]}"


def domains(api: SiteListApi, strategy_id: str) -> list[tuple[str, str]]:
    r = api.session.get(f"{api.base}/strategy_domain_restrictions/limit/strategy={strategy_id}", params={"full": "*"},
                        timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    rows = [{p.get("name"): p.get("value") for p in e.iterfind("prop")} for e in
            SafeET.fromstring(r.content).iterfind("entities/entity")]
    return sorted((str(row["restriction"]), str(row["domain"])) for row in rows)


def test_domain_restrictions_are_set_changed_drifted_exported_and_removed(
    mm_server: SandboxServer, applied: ExampleWorkspace, api: SiteListApi, tmp_path: Path
) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    applied.edit("targeting.yaml", DEALS, f"{DEALS}\n  {DOMAINS_SPEC}")
    planned = applied.run("plan")
    assert "+ domain_restrictions.include[news.example.com]" in " ".join(planned.out.split()), planned.out
    assert applied.run("apply", "--auto-approve").code == 0
    assert domains(api, strategy_id) == [("EXCLUDE", "bad.example"), ("INCLUDE", "news.example.com"),
                                         ("INCLUDE", "sports.example.com")]
    assert applied.run("plan", "--detailed-exitcode").code == 0  # case of a domain means nothing

    # jdoe adds an exclusion through the API: drift names it, who and when
    form = {"domains.1.domain": "news.example.com", "domains.1.restriction": "INCLUDE",
            "domains.2.domain": "sports.example.com", "domains.2.restriction": "INCLUDE",
            "domains.3.domain": "bad.example", "domains.3.restriction": "EXCLUDE",
            "domains.4.domain": "spam.example", "domains.4.restriction": "EXCLUDE"}
    jdoe = SiteListApi(mm_server.url, "jdoe", "jdoe-password")
    r = jdoe.session.post(f"{jdoe.base}/strategies/{strategy_id}/domain_restrictions", data=form, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    items = {i["address"]: i for i in json.loads(applied.run("drift", "--format", "json").out)["items"]}
    fields = {f["path"]: f for f in items[TARGETING]["fields"]}
    assert set(fields) == {"domain_restrictions.exclude[spam.example]"}
    assert fields["domain_restrictions.exclude[spam.example]"]["changed_by"] == "jdoe"

    # dropping every include widens the strategy to every domain: the guardrail says so first
    applied.edit("targeting.yaml", DOMAINS_SPEC, "domain_restrictions: {exclude: [bad.example]}")
    warned = applied.run("plan")
    assert (f"Warning: {TARGETING}: removes every domain_restrictions include (news.example.com, sports.example.com): "
            "the strategy then buys in every domain not excluded") in warned.err + warned.out, warned
    applied.edit("targeting.yaml", "domain_restrictions: {exclude: [bad.example]}", DOMAINS_SPEC)

    # export carries them; the exported workspace plans nothing
    campaign_id = applied.remote_id("mediamath.Campaign/winter-sale")
    exported = copy_example("mediamath", tmp_path / "exported", mm_server.url, CREDENTIALS)
    for path in exported.root.glob("*.yaml"):
        if path.name != "reconciler.yaml":
            path.unlink()
    assert exported.run("export", "--provider", "mediamath", "--campaign", campaign_id).code == 0
    written = exported.root / "mediamath" / "strategy-targeting.yaml"
    spec = [d for d in yaml.safe_load_all(written.read_text(encoding="utf-8")) if d][0]["spec"]
    assert spec["domain_restrictions"] == {"include": ["news.example.com", "sports.example.com"],
                                           "exclude": ["bad.example", "spam.example"]}
    assert exported.run("plan", "--detailed-exitcode").code == 0

    # applying the manifest again takes jdoe's exclusion back out; {} removes every restriction
    assert applied.run("apply", "--auto-approve").code == 0
    assert ("EXCLUDE", "spam.example") not in domains(api, strategy_id)
    applied.edit("targeting.yaml", DOMAINS_SPEC, "domain_restrictions: {}")
    assert applied.run("apply", "--auto-approve").code == 0
    assert domains(api, strategy_id) == []
    assert applied.run("plan", "--detailed-exitcode").code == 0


def test_bad_domain_restrictions_are_refused(applied: ExampleWorkspace, api: SiteListApi) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    r = api.session.post(f"{api.base}/strategies/{strategy_id}/domain_restrictions", timeout=TIMEOUT, data={
        "domains.1.domain": "not a domain", "domains.1.restriction": "INCLUDE",
        "domains.2.domain": "a.example", "domains.2.restriction": "MAYBE",
        "domains.3.domain": "b.example", "domains.3.restriction": "INCLUDE",
        "domains.4.domain": "B.example", "domains.4.restriction": "EXCLUDE"})
    assert r.status_code == 400, r.text
    errors = {e.get("name"): e.get("error") for e in SafeET.fromstring(r.content).iterfind(".//field-error")}
    assert errors == {"domains.1.domain": "'not a domain' is not a domain",
                      "domains.2.restriction": "must be INCLUDE or EXCLUDE",
                      "domains.4.domain": "b.example is both included and excluded"}
    assert domains(api, strategy_id) == []

    applied.edit("targeting.yaml", DEALS, f"{DEALS}\n  domain_restrictions: {{include: [a.example], exclude: [A.example]}}")
    result = applied.run("plan")
    assert result.code == 1, result
    assert "domain_restrictions.exclude" in result.err and "is in include too" in result.err, result.err
