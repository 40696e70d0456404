"""Audience segments of strategies in the MediaMath v2.0 emulator, over real HTTP.

Aspects covered:

- ``POST /strategies/{id}/audience_segments`` with ``segments.N.id`` / ``.restriction`` /
  ``.group_identifier``: adds segments (INCLUDE by default), changes a restriction, a negative id
  removes one, segments not named stay; ``include_op`` / ``exclude_op`` set the strategy's
  ``audience_segment_include_op`` / ``_exclude_op`` (its version moves);
- the assignments are ``strategy_audience_segments`` (with the segment's ``code``), listed by
  strategy, by several strategies and by campaign (``/limit/strategy.campaign=<id>``);
- validation (400 ``invalid`` + ``field-error``): unknown and non-buyable segments (a folder), a bad
  restriction or operator, one segment both included and excluded, unknown fields; nothing is
  written when one item is bad; another organisation's strategy is 403;
- the strategy's ``/history`` names who changed the segments (``audience_segments.include``, old and
  new ids), as ``jdoe`` too; a POST that changes nothing adds no entry;
- the seeded ``audience_segments`` tree (``q=code==(...)``) and ``sandbox info`` listing it; a data
  file of an older sandbox gets the new lookups when opened.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from defusedxml import ElementTree as SafeET

from reconciler.sandbox.base import SandboxServer
from tests.sandbox.mediamath.mmclient import MM, entity_dict, strategy_fields

AUTO, SUV, TRAVEL, CUSTOMERS, FOLDER = 800002, 800003, 800004, 800104, 800001


def field_errors(r: requests.Response) -> dict[str, str]:
    root = SafeET.fromstring(r.content)
    return {e.get("name"): e.get("error") for e in root.iter("field-error")}


def links(mm: MM, path: str) -> list[tuple[str, str, str, str]]:
    root = mm.xml(path, full="*")
    return sorted((d["strategy_id"], d["code"], d["restriction"], d.get("group_identifier", ""))
                  for d in (entity_dict(e) for e in root.iterfind("entities/entity")))


def history(mm: MM, sid: str) -> list[dict[str, Any]]:
    root = mm.xml(f"/strategies/{sid}/history")
    return [
        {**e.attrib, "fields": {f.get("name"): (f.get("old_value"), f.get("new_value")) for f in e.iterfind("field")}}
        for e in root.iterfind("log_entries/entry")
    ]


def test_segments_are_added_changed_removed_and_listed_by_campaign(mm: MM) -> None:
    ids = mm.hierarchy()
    sid, cid = ids["strategy"]["id"], ids["campaign"]["id"]
    other = mm.create("strategies", **strategy_fields(cid, name="Second"))["id"]
    r = mm.post(f"/strategies/{sid}/audience_segments", {
        "segments.1.id": AUTO, "segments.1.group_identifier": "g1",
        "segments.2.id": SUV,
        "segments.3.id": CUSTOMERS, "segments.3.restriction": "EXCLUDE",
        "include_op": "AND", "exclude_op": "OR"})
    assert r.status_code == 200, r.text
    assert links(mm, f"/strategy_audience_segments/limit/strategy={sid}") == [
        (sid, "BK-AUTO-INTENDERS", "INCLUDE", "g1"), (sid, "BK-IN-MARKET-SUV", "INCLUDE", ""),
        (sid, "EX-CURRENT-CUSTOMERS", "EXCLUDE", "")]
    strategy = entity_dict(mm.xml(f"/strategies/{sid}").find("entity"))
    assert (strategy["audience_segment_include_op"], strategy["version"]) == ("AND", "1")
    # incremental: a negative id removes, a restriction changes, the rest stays
    r = mm.post(f"/strategies/{sid}/audience_segments", {"segments.1.id": -SUV, "segments.2.id": TRAVEL,
                                                         "segments.2.restriction": "EXCLUDE"})
    assert r.status_code == 200, r.text
    assert [e.get("id") for e in SafeET.fromstring(r.content).iterfind("entities/entity")]  # answers the list
    mm.post(f"/strategies/{other}/audience_segments", {"segments.1.id": AUTO})
    assert links(mm, f"/strategy_audience_segments/limit/strategy.campaign={cid}") == sorted([
        (sid, "BK-AUTO-INTENDERS", "INCLUDE", "g1"), (sid, "BK-TRAVELERS", "EXCLUDE", ""),
        (sid, "EX-CURRENT-CUSTOMERS", "EXCLUDE", ""), (other, "BK-AUTO-INTENDERS", "INCLUDE", "")])
    assert len(links(mm, f"/strategy_audience_segments/limit/strategy={sid},{other}")) == 4
    assert links(mm, f"/strategy_audience_segments/limit/strategy={other}") == [
        (other, "BK-AUTO-INTENDERS", "INCLUDE", "")]


def test_bad_items_are_refused_whole(mm: MM) -> None:
    sid = mm.hierarchy()["strategy"]["id"]
    r = mm.post(f"/strategies/{sid}/audience_segments", {
        "segments.1.id": AUTO, "segments.2.id": 999, "segments.3.id": FOLDER, "segments.4.id": SUV,
        "segments.4.restriction": "MAYBE", "include_op": "XOR", "colour": "red"})
    assert r.status_code == 400
    assert field_errors(r) == {
        "segments.2.id": "audience segment 999 does not exist",
        "segments.3.id": f"audience segment {FOLDER} (BK) is not buyable",
        "segments.4.restriction": "must be INCLUDE or EXCLUDE",
        "include_op": "must be one of AND, OR",
        "colour": "is not a field of strategy audience segments",
    }
    r = mm.post(f"/strategies/{sid}/audience_segments", {"segments.1.id": AUTO, "segments.2.id": AUTO,
                                                         "segments.2.restriction": "EXCLUDE"})
    assert field_errors(r) == {"segments.2.id": f"audience segment {AUTO} is both included and excluded"}
    assert links(mm, f"/strategy_audience_segments/limit/strategy={sid}") == []


def test_history_names_who_changed_the_segments(mm: MM, sandbox: SandboxServer) -> None:
    sid = mm.hierarchy()["strategy"]["id"]
    mm.post(f"/strategies/{sid}/audience_segments", {"segments.1.id": SUV, "segments.2.id": AUTO})
    jdoe = MM(sandbox)
    jdoe.login("jdoe", "jdoe-password")
    assert jdoe.post(f"/strategies/{sid}/audience_segments",
                     {"segments.1.id": -SUV, "segments.2.id": CUSTOMERS,
                      "segments.2.restriction": "EXCLUDE"}).status_code == 200
    assert jdoe.post(f"/strategies/{sid}/audience_segments", {"segments.1.id": AUTO}).status_code == 200  # no change
    entries = [e for e in history(mm, sid) if any(f.startswith("audience_segments") for f in e["fields"])]
    assert [(e["user_name"], e["fields"]) for e in entries] == [
        ("jdoe", {"audience_segments.include": (f"{AUTO},{SUV}", f"{AUTO}"),
                  "audience_segments.exclude": ("", f"{CUSTOMERS}")}),
        ("demo", {"audience_segments.include": ("", f"{AUTO},{SUV}")}),
    ]


def test_the_segment_tree_is_seeded_and_read_only(mm: MM) -> None:
    root = mm.xml("/audience_segments", q="code==(BK-AUTO-INTENDERS,EX-PARENTS)", full="*")
    found = {d["code"]: d for d in (entity_dict(e) for e in root.iterfind("entities/entity"))}
    assert sorted(found) == ["BK-AUTO-INTENDERS", "EX-PARENTS"]
    assert found["BK-AUTO-INTENDERS"]["full_path"] == "Bluekai - Auto Intenders"
    assert found["BK-AUTO-INTENDERS"]["buyable"] == "1"
    assert mm.post("/audience_segments", {"name": "x"}).status_code == 403


def test_sandbox_info_lists_the_segments() -> None:
    from click.testing import CliRunner

    from reconciler.cli.main import cli

    result = CliRunner().invoke(cli, ["sandbox", "info", "--api", "mediamath", "--format", "json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)[0]["seeds"][0]["entries"]
    segments = {e["id"]: (e["name"], e.get("note")) for e in entries if e["kind"] == "segment"}
    assert segments[str(AUTO)] == ("BK-AUTO-INTENDERS", "audience segment Bluekai - Auto Intenders")
    assert segments[str(FOLDER)] == ("BK", "audience segment Bluekai (a folder: not buyable)")


def test_a_data_file_of_an_older_sandbox_gets_the_new_lookups(tmp_path: Path) -> None:
    """A sandbox file written before audience segments, supply sources and deals existed gets them
    when opened (its own objects stay); one that has them is left as it is."""
    from reconciler.sandbox import create_sandbox
    from reconciler.sandbox.mediamath.repo import API

    path = str(tmp_path / "sandbox.sqlite")
    sandbox = create_sandbox(path, names=["mediamath"])
    store = sandbox.store
    for coll in ("audience_segments", "supply_sources", "deals"):
        for doc in store.all(API, coll):
            store.delete(API, coll, doc["id"])
    users = store.count(API, "users")
    store.close()
    reopened = create_sandbox(path, names=["mediamath"])
    try:
        assert reopened.store.count(API, "audience_segments") == 9
        assert reopened.store.count(API, "deals") == 4 and reopened.store.count(API, "supply_sources") == 6
        assert reopened.store.count(API, "users") == users
    finally:
        reopened.store.close()
