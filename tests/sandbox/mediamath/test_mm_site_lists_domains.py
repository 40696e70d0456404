"""Site lists and domain restrictions of strategies in the MediaMath v2.0 emulator, over real HTTP.

Aspects covered: ``POST /strategies/{id}/site_lists`` (repeated ``site_list_ids``) replaces the set
and lists in ``strategy_site_lists`` with the list's name as ``code``; ``POST
/strategies/{id}/domain_restrictions`` (``domains.N.domain`` / ``.restriction``) replaces the set,
lower-cases domains, takes a JSON body too and answers ``strategy_domain_restrictions``; both add
history entries naming the user (none when nothing changes); ``sandbox info`` lists the site lists.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.sandbox.base import SandboxServer
from tests.sandbox.mediamath.mmclient import MM, entity_dict
from tests.sandbox.mediamath.test_mm_supplies import codes, history

BRAND_SAFE, BLOCKED = 97001, 97003


def restrictions(mm: MM, sid: str) -> list[tuple[str, str]]:
    root = mm.xml(f"/strategy_domain_restrictions/limit/strategy={sid}", full="*")
    return sorted((d["restriction"], d["domain"]) for d in (entity_dict(e) for e in root.iterfind("entities/entity")))


def test_site_lists_replace_the_set_and_name_the_list(mm: MM, sandbox: SandboxServer) -> None:
    sid = mm.hierarchy()["strategy"]["id"]
    assert mm.post(f"/strategies/{sid}/site_lists", {"site_list_ids": [BRAND_SAFE, BLOCKED]}).status_code == 200
    assert codes(mm, "strategy_site_lists", f"strategy={sid}") == [(sid, "Blocked Domains"), (sid, "Brand Safe Publishers")]
    jdoe = MM(sandbox)
    jdoe.login("jdoe", "jdoe-password")
    assert jdoe.post(f"/strategies/{sid}/site_lists", {"site_list_ids": [BLOCKED]}).status_code == 200
    assert codes(mm, "strategy_site_lists", f"strategy={sid}") == [(sid, "Blocked Domains")]
    entries = [(e["user_name"], e["fields"]) for e in history(mm, sid) if "site_lists" in e["fields"]]
    assert entries == [("jdoe", {"site_lists": (f"{BRAND_SAFE},{BLOCKED}", f"{BLOCKED}")}),
                       ("demo", {"site_lists": ("", f"{BRAND_SAFE},{BLOCKED}")})]


def test_domain_restrictions_replace_the_set_in_form_and_json(mm: MM, sandbox: SandboxServer) -> None:
    sid = mm.hierarchy()["strategy"]["id"]
    form = {"domains.1.domain": "News.Example.com", "domains.1.restriction": "include",
            "domains.2.domain": "bad.example", "domains.2.restriction": "EXCLUDE"}
    assert mm.post(f"/strategies/{sid}/domain_restrictions", form).status_code == 200
    assert mm.post(f"/strategies/{sid}/domain_restrictions", form).status_code == 200  # no change, no history
    assert restrictions(mm, sid) == [("EXCLUDE", "bad.example"), ("INCLUDE", "news.example.com")]
    as_json = MM(sandbox, json=True)
    as_json.login("jdoe", "jdoe-password")
    r = as_json.post(f"/strategies/{sid}/domain_restrictions", json={"domains.1.domain": "bad.example",
                                                                     "domains.1.restriction": "EXCLUDE"},
                      params={"full": "*"})
    assert r.status_code == 200, r.text
    body: Any = r.json()
    assert [(d["domain"], d["restriction"]) for d in body["data"]] == [("bad.example", "EXCLUDE")]
    assert restrictions(mm, sid) == [("EXCLUDE", "bad.example")]
    entries = [(e["user_name"], e["fields"]) for e in history(mm, sid)
               if any(f.startswith("domain_restrictions") for f in e["fields"])]
    assert entries == [("jdoe", {"domain_restrictions.include": ("news.example.com", "")}),
                       ("demo", {"domain_restrictions.include": ("", "news.example.com"),
                                 "domain_restrictions.exclude": ("", "bad.example")})]
    assert mm.post(f"/strategies/{sid}/domain_restrictions", {}).status_code == 200
    assert restrictions(mm, sid) == []


def test_sandbox_info_lists_site_lists() -> None:
    from click.testing import CliRunner

    from reconciler.cli.main import cli

    result = CliRunner().invoke(cli, ["sandbox", "info", "--api", "mediamath", "--format", "json"])
    entries = json.loads(result.output)[0]["seeds"][0]["entries"]
    listed = {(e["kind"], e["id"]): (e["name"], e.get("note")) for e in entries}
    assert listed[("site_list", str(BLOCKED))] == ("Blocked Domains", "EXCLUDE list of organization 100048")
    assert listed[("site_list", "97005")] == ("Retired List", "EXCLUDE list of organization 100048 (inactive)")
