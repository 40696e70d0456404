"""Concepts and strategy–concept assignments in the MediaMath v2.0 emulator, over real HTTP.

Aspects covered:

- concepts: created under an advertiser of the user's organisation (version 0, status true by
  default), name required (1-256), listed with ``/concepts/limit/advertiser=ID``, updated with
  ``version`` (stale -> 409 ``conflict``), history naming the user; another organisation's
  advertiser is 403 ``denied``; concepts cannot be deleted (404);
- strategy_concepts: a concept assigned to a strategy of the same advertiser (weighting, percent,
  status), listed with ``/strategy_concepts/limit/strategy=ID`` and ``/limit/strategy.campaign=ID``;
  a concept of another advertiser, or one already assigned, is 400 ``invalid`` naming
  ``concept_id``; delete with ``POST /strategy_concepts/{id}/delete`` and the version (stale ->
  409), recorded in history.
"""

from __future__ import annotations

import requests
from defusedxml import ElementTree as SafeET

from reconciler.sandbox.base import SandboxServer
from tests.sandbox.mediamath.mmclient import MM, entity_dict, seed

OTHER_AGENCY = 104000


def field_errors(r: requests.Response) -> dict[str, str]:
    return {e.get("name"): e.get("error") for e in SafeET.fromstring(r.content).iter("field-error")}


def ids(mm: MM, path: str) -> list[str]:
    root = mm.xml(path)
    return [e.get("id") for e in root.iterfind("entities/entity")]


def test_concepts_under_an_advertiser(mm: MM) -> None:
    made = mm.hierarchy()
    advertiser = made["advertiser"]["id"]
    concept = mm.create("concepts", name="Winter Creatives", advertiser_id=advertiser)
    assert (concept["version"], concept["status"], concept["advertiser_id"]) == ("0", "1", advertiser)
    assert ids(mm, f"/concepts/limit/advertiser={advertiser}") == [concept["id"]]
    assert field_errors(mm.post("/concepts", {"advertiser_id": advertiser})) == {"name": "is required"}
    assert mm.post("/concepts", {"advertiser_id": advertiser, "name": "x" * 257}).status_code == 400
    updated = mm.post(f"/concepts/{concept['id']}", {"name": "Winter Creatives v2", "version": 0})
    assert updated.status_code == 200, updated.text
    stale = mm.post(f"/concepts/{concept['id']}", {"status": 0, "version": 0})
    assert stale.status_code == 409
    entry = mm.xml(f"/concepts/{concept['id']}/history").find("log_entries/entry")
    assert entry.get("user_name") == "demo" and entry.find("field").get("name") == "name"
    assert mm.post(f"/concepts/{concept['id']}/delete", {"version": 1}).status_code == 404


def test_concepts_of_another_organisation_are_denied(mm: MM, sandbox: SandboxServer) -> None:
    seed(sandbox, "entities", {"advertisers": [{"id": 160000, "name": "Globex Advertiser", "agency_id": OTHER_AGENCY,
                                                "vertical_id": 1, "ad_server_id": 9, "domain": "https://g.example"}],
                               "concepts": [{"id": 510000, "name": "Globex Creatives", "advertiser_id": 160000}]})
    denied = mm.post("/concepts", {"name": "Theirs", "advertiser_id": 160000})
    assert denied.status_code == 403 and SafeET.fromstring(denied.content).find("status").get("code") == "denied"
    assert mm.get("/concepts/510000").status_code == 403
    assert ids(mm, "/concepts") == []


def test_strategy_concepts(mm: MM) -> None:
    made = mm.hierarchy()
    advertiser, strategy, campaign = made["advertiser"]["id"], made["strategy"]["id"], made["campaign"]["id"]
    concept = mm.create("concepts", name="Winter Creatives", advertiser_id=advertiser)
    link = mm.create("strategy_concepts", strategy_id=strategy, concept_id=concept["id"], weighting="BUDGET",
                     percent="40")
    assert (link["status"], link["weighting"], link["percent"], link["version"]) == ("1", "BUDGET", "40.00", "0")
    assert ids(mm, f"/strategy_concepts/limit/strategy={strategy}") == [link["id"]]
    assert ids(mm, f"/strategy_concepts/limit/strategy.campaign={campaign}") == [link["id"]]
    again = mm.post("/strategy_concepts", {"strategy_id": strategy, "concept_id": concept["id"]})
    assert again.status_code == 400
    assert field_errors(again) == {
        "concept_id": f"concept {concept['id']} is already assigned to strategy {strategy} (strategy_concept {link['id']})"}

    other_advertiser = mm.create("advertisers", name="Advertiser B", agency_id=made["agency"]["id"], vertical_id=13,
                                 ad_server_id=9, domain="https://b.example")
    foreign = mm.create("concepts", name="B Creatives", advertiser_id=other_advertiser["id"])
    wrong = mm.post("/strategy_concepts", {"strategy_id": strategy, "concept_id": foreign["id"]})
    assert field_errors(wrong) == {"concept_id": f"concept {foreign['id']} belongs to advertiser "
                                                 f"{other_advertiser['id']}, not to the strategy's advertiser {advertiser}"}

    assert mm.post(f"/strategy_concepts/{link['id']}/delete", {"version": 5}).status_code == 409
    gone = mm.post(f"/strategy_concepts/{link['id']}/delete", {"version": 0})
    assert gone.status_code == 200, gone.text
    assert ids(mm, f"/strategy_concepts/limit/strategy={strategy}") == []
    entries = mm.xml(f"/strategy_concepts/{link['id']}/history").iterfind("log_entries/entry")
    assert [e.get("action") for e in entries] == ["delete", "add"]
    assert entity_dict(mm.xml(f"/concepts/{concept['id']}").find("entity"))["name"] == "Winter Creatives"
