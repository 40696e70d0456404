"""mediarithmics provider against the real emulator over HTTP (SandboxServer on 127.0.0.1).

Covers:
- batched reads: one paged list call per read for the configured organisation (request counts from
  ``/_sandbox/counters``), single GETs only for ids the list does not show, absent ids, paging;
- normalisation: live rooms and manifest specs meet in one shape (string ids, canonical purposes,
  sorted members, archived/declined memberships left out, pending invitations as status);
- observe-only (default): exact console steps per change from ``manual_steps`` and no request at
  all from create/update/delete (they raise ManualActionRequired; the sandbox counts no write);
- ``writes: enabled``: create, rename, invite, purpose change, archive, delete through the extension
  endpoints; after each, the live object equals the desired one (apply then plan would be empty);
- drift: a membership archived and a purpose removed out of band both show as differences between
  the previous and the fresh normalised live object; the fingerprint (precondition) also moves
  on changes that leave the fields as they were (last_modified_ts, an accepted invitation);
- errors: the vendor's message and code in AuthError, no token in it; workspace option errors;
- the schema: the example manifests validate against the document schema and the kind's spec schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml

from reconciler.errors import AuthError, ManualActionRequired, ProviderError, WorkspaceError
from reconciler.model import fingerprint
from reconciler.providers.base import Precondition, PreconditionKind, ProviderConfig, load_schema
from reconciler.providers.mediarithmics.provider import MediarithmicsProvider
from reconciler.sandbox import SandboxServer, create_sandbox

TOKEN = "demo-token"
AUTH = {"Authorization": TOKEN}
ROOT = Path(__file__).resolve().parents[3]
KIND = "CleanRoom"
NO_CHECK = Precondition(PreconditionKind.NONE)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(create_sandbox(names=["mediarithmics"])) as srv:
        yield srv


@pytest.fixture
def url(server: SandboxServer) -> str:
    requests.post(f"{server.url}/_sandbox/reset", timeout=5).raise_for_status()
    extra = {"organisations": [{"organisation_id": "1900", "organisation_name": "Partner Nine"}]}
    requests.post(
        f"{server.url}/_sandbox/seed", json={"api": "mediarithmics", "data": extra}, timeout=5
    ).raise_for_status()
    return server.url


def provider(url: str, *, writes: bool = False, token: str = TOKEN, **options: Any) -> MediarithmicsProvider:
    opts: dict[str, Any] = {"organisation_id": "1863", **options}
    if writes:
        opts["writes"] = "enabled"
    config = ProviderConfig(
        name="mediarithmics", endpoint=f"{url}/mediarithmics", credentials={"token": token}, options=opts
    )
    return MediarithmicsProvider(config)


def seed_docs(url: str) -> None:
    requests.post(
        f"{url}/_sandbox/seed", json={"api": "mediarithmics", "name": "docs"}, timeout=5
    ).raise_for_status()


def routes(url: str) -> dict[str, int]:
    data: dict[str, int] = requests.get(f"{url}/_sandbox/counters", timeout=5).json()["routes"]
    return data


def reset_counters(url: str) -> None:
    requests.delete(f"{url}/_sandbox/counters", timeout=5).raise_for_status()


def writes_seen(url: str) -> int:
    return sum(n for key, n in routes(url).items() if key.split(" ")[1] != "GET")


def spec(name: str = "Retail insights", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "organisation_id": "1863",
        "members": [
            {"organisation_id": "1752", "purposes": ["INSIGHTS"]},
            {"organisation_id": 1863, "purposes": ["ACTIVATION", "INSIGHTS"]},
        ],
        **extra,
    }


def oob(url: str, method: str, path: str, body: Any = None) -> None:
    """An out-of-band write by someone else, straight to the API."""
    r = requests.request(method, f"{url}/mediarithmics/v1{path}", json=body, headers=AUTH, timeout=5)
    assert r.status_code == 200, r.text


def accept(url: str, room_id: str, org: str) -> None:
    body = {"clean_room_id": room_id, "organisation_id": org}
    requests.post(f"{url}/_sandbox/mediarithmics/accept", json=body, timeout=5).raise_for_status()


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Members that differ between two normalised member lists: org -> (before, after) purposes."""
    old = {m["organisation_id"]: m["purposes"] for m in before["members"]}
    new = {m["organisation_id"]: m["purposes"] for m in after["members"]}
    return {
        org: (old.get(org), new.get(org))
        for org in sorted(old.keys() | new.keys())
        if old.get(org) != new.get(org)
    }


# -- reading ---------------------------------------------------------------------------------------
def test_read_is_one_list_call_and_normalises(url: str) -> None:
    seed_docs(url)
    p = provider(url)
    reset_counters(url)
    live = p.read(KIND, ["21", "22"])
    assert routes(url) == {"mediarithmics GET list_clean_rooms": 1}
    assert list(live) == ["21", "22"]
    room21 = live["21"]
    assert room21.fields == {
        "name": "All purposes Clean room",
        "organisation_id": "1581",
        "members": [
            {"organisation_id": "1752", "purposes": ["INSIGHTS", "ACTIVATION"]},
            {"organisation_id": "1863", "purposes": ["INSIGHTS", "ACTIVATION"]},
        ],
    }
    assert room21.version is None and room21.status is None and room21.remote_id == "21"
    assert p.precondition_for(room21) == Precondition(PreconditionKind.FINGERPRINT, room21.fingerprint)
    # a manifest written the other way round normalises to the same value
    desired = p.normalize(
        KIND,
        {
            "name": "All purposes Clean room",
            "organisation_id": 1581,
            "members": [
                {"organisation_id": 1863, "purposes": ["ACTIVATION", "INSIGHTS"]},
                {"organisation_id": "1752", "purposes": ["INSIGHTS", "ACTIVATION"]},
            ],
        },
    )
    assert desired == dict(room21.fields)
    p.close()


def test_read_falls_back_to_single_gets_and_drops_missing(url: str) -> None:
    seed_docs(url)
    other = {
        "clean_room_id": "30",
        "organisation_id": "1752",
        "name": "Not ours",
        "clean_room_organisations": [
            {
                "clean_room_id": "30",
                "organisation_id": "1752",
                "organisation_name": "AV Sub 2.4",
                "owner": True,
                "status": "ACCEPTED",
                "created_by": None,
                "created_ts": 1734538881000,
                "last_modified_by": None,
                "last_modified_ts": None,
                "archived": False,
                "archived_by": None,
                "archived_ts": None,
                "purposes": ["INSIGHTS"],
            }
        ],
    }
    data = {"clean_rooms": [other]}
    requests.post(
        f"{url}/_sandbox/seed", json={"api": "mediarithmics", "data": data}, timeout=5
    ).raise_for_status()
    p = provider(url)
    reset_counters(url)
    live = p.read(KIND, ["22", "30", "999"])
    assert sorted(live) == ["22", "30"]
    assert routes(url) == {"mediarithmics GET list_clean_rooms": 1, "mediarithmics GET get_clean_room": 2}
    assert live["30"].fields["organisation_id"] == "1752"
    reset_counters(url)
    assert p.read(KIND, []) == {}
    assert routes(url) == {}


def test_paged_listing(url: str) -> None:
    p = provider(url, writes=True, page_size=2)
    for i in range(5):
        p.create(KIND, spec(name=f"room {i}"))
    reset_counters(url)
    children = p.list_children(KIND, None)
    assert [c.fields["name"] for c in children] == [f"room {i}" for i in range(5)]
    assert routes(url) == {"mediarithmics GET list_clean_rooms": 3}
    assert p.list_children(KIND, "1752") == []  # rooms *owned* by 1752
    ids = [c.remote_id for c in children]
    reset_counters(url)
    assert sorted(p.read(KIND, ids)) == sorted(ids)
    assert routes(url) == {"mediarithmics GET list_clean_rooms": 3}


def test_normalize_rejects_duplicate_members(url: str) -> None:
    p = provider(url)
    bad = {
        "name": "x",
        "organisation_id": "1863",
        "members": [
            {"organisation_id": "1752", "purposes": ["INSIGHTS"]},
            {"organisation_id": 1752, "purposes": ["ACTIVATION"]},
        ],
    }
    with pytest.raises(
        ProviderError, match=r"spec\.members\[1\]\.organisation_id: organisation 1752 is listed twice"
    ):
        p.normalize(KIND, bad)
    with pytest.raises(ProviderError, match=r"spec\.organisation_id"):
        p.normalize(KIND, {"organisation_id": "acme"})


# -- observe-only ----------------------------------------------------------------------------------
def test_observe_only_manual_steps_and_no_writes(url: str) -> None:
    seed_docs(url)
    p = provider(url)
    reset_counters(url)
    create = p.manual_steps(KIND, "create", "mediarithmics.CleanRoom/retail", spec())
    assert create is not None
    assert [s.description for s in create] == [
        "In the mediarithmics console, acting as organisation 1863, open Clean rooms and create a clean room "
        "named 'Retail insights' with purposes INSIGHTS, ACTIVATION",
        "In the mediarithmics console, open Clean rooms › Retail insights › Members, invite organisation 1752 "
        "with purposes INSIGHTS",
    ]
    before = dict(p.read(KIND, ["22"])["22"].fields)
    changes = {
        "name": "Activation room",
        "members": [
            {"organisation_id": "1863", "purposes": ["ACTIVATION", "INSIGHTS"]},
            {"organisation_id": "1900", "purposes": ["INSIGHTS", "ACTIVATION"]},
        ],
    }
    update = p.manual_steps(KIND, "update", "mediarithmics.CleanRoom/activation", changes, before=before)
    assert update is not None
    assert [s.description for s in update] == [
        "In the mediarithmics console, open Clean rooms › Activation Clean room and rename the clean room to "
        "'Activation room'",
        "In the mediarithmics console, open Clean rooms › Activation room › Members, invite organisation 1900 "
        "with purposes INSIGHTS, ACTIVATION",
        "In the mediarithmics console, open Clean rooms › Activation room › Members, set the purposes of "
        "organisation 1863 to INSIGHTS, ACTIVATION (now ACTIVATION)",
        "In the mediarithmics console, open Clean rooms › Activation room › Members, archive the membership of "
        "organisation 1752",
    ]
    delete = p.manual_steps(KIND, "delete", "mediarithmics.CleanRoom/activation", {}, before=before)
    assert [s.description for s in delete or []] == [
        "In the mediarithmics console, open Clean rooms › Activation Clean room and archive the clean room"
    ]
    # without the live side the step still names every wanted member
    vague = p.manual_steps(
        KIND, "update", "mediarithmics.CleanRoom/activation", {"members": changes["members"]}
    )
    assert vague is not None and len(vague) == 1
    assert "(the clean room managed as mediarithmics.CleanRoom/activation)" in vague[0].description
    assert "1863 (INSIGHTS, ACTIVATION); 1900 (INSIGHTS, ACTIVATION)" in vague[0].description
    assert p.manual_steps(KIND, "no-op", "mediarithmics.CleanRoom/activation", {}) is None

    reset_counters(url)
    with pytest.raises(ManualActionRequired, match="invite organisation 1752 with purposes INSIGHTS"):
        p.create(KIND, spec())
    with pytest.raises(ManualActionRequired, match="writes are not enabled"):
        p.update(KIND, "22", changes, Precondition(PreconditionKind.FINGERPRINT, "x"))
    with pytest.raises(ManualActionRequired, match="archive the clean room"):
        p.delete(KIND, "22", NO_CHECK)
    assert routes(url) == {}  # not a single request, let alone a write
    assert writes_seen(url) == 0


def test_writes_enabled_has_no_manual_steps(url: str) -> None:
    p = provider(url, writes=True)
    for action in ("create", "update", "delete", "replace"):
        assert p.manual_steps(KIND, action, "mediarithmics.CleanRoom/x", spec()) is None


# -- writes enabled --------------------------------------------------------------------------------
def test_create_then_live_equals_desired(url: str) -> None:
    p = provider(url, writes=True)
    desired = p.normalize(KIND, spec())
    live = p.create(KIND, spec())
    assert dict(live.fields) == desired
    assert live.status == "invited: 1752"
    assert dict(p.read(KIND, [live.remote_id])[live.remote_id].fields) == desired
    found = p.find_by_natural_key(KIND, spec())
    assert found is not None and found.remote_id == live.remote_id
    assert p.find_by_natural_key(KIND, spec(name="Other")) is None
    # the invitee accepting changes no field, but the status and the fingerprint
    accept(url, live.remote_id, "1752")
    accepted = p.read(KIND, [live.remote_id])[live.remote_id]
    assert accepted.fields == live.fields and accepted.status is None
    assert accepted.fingerprint != live.fingerprint


def test_create_needs_the_owner_among_members(url: str) -> None:
    p = provider(url, writes=True)
    reset_counters(url)
    with pytest.raises(ProviderError, match="must list the owner organisation 1863"):
        p.create(
            KIND,
            {
                "name": "x",
                "organisation_id": "1863",
                "members": [{"organisation_id": "1752", "purposes": ["INSIGHTS"]}],
            },
        )
    assert writes_seen(url) == 0


def test_update_rename_invite_purposes_archive(url: str) -> None:
    p = provider(url, writes=True)
    created = p.create(KIND, spec())
    rid = created.remote_id
    accept(url, rid, "1752")
    desired_spec = {
        "name": "Retail and more",
        "organisation_id": "1863",
        "members": [
            {"organisation_id": "1863", "purposes": ["INSIGHTS"]},
            {"organisation_id": "1900", "purposes": ["ACTIVATION"]},
            {"organisation_id": "1581", "purposes": ["INSIGHTS", "ACTIVATION"]},
        ],
    }
    reset_counters(url)
    updated = p.update(
        KIND, rid, {"name": desired_spec["name"], "members": desired_spec["members"]}, NO_CHECK
    )
    assert dict(updated.fields) == p.normalize(KIND, desired_spec)
    assert updated.status == "invited: 1581, 1900"
    assert routes(url) == {
        "mediarithmics GET get_clean_room": 2,
        "mediarithmics PUT update_clean_room": 1,
        "mediarithmics POST invite_organisation": 2,
        "mediarithmics PUT update_membership": 1,
        "mediarithmics DELETE archive_membership": 1,
    }
    again = p.read(KIND, [rid])[rid]
    assert dict(again.fields) == p.normalize(KIND, desired_spec)  # apply then plan: nothing left to do
    raw = requests.get(f"{url}/mediarithmics/v1/clean_rooms/{rid}", headers=AUTH, timeout=5).json()["data"]
    archived = [m for m in raw["clean_room_organisations"] if m["archived"]]
    assert [(m["organisation_id"], m["archived_by"]) for m in archived] == [("1752", "1001")]
    # re-adding the archived member re-invites it
    back = p.update(
        KIND,
        rid,
        {"members": [*desired_spec["members"], {"organisation_id": "1752", "purposes": ["INSIGHTS"]}]},
        NO_CHECK,
    )
    assert "1752" in [m["organisation_id"] for m in back.fields["members"]]
    assert back.status == "invited: 1581, 1752, 1900"


def test_update_refuses_owner_removal_and_owner_change(url: str) -> None:
    p = provider(url, writes=True)
    rid = p.create(KIND, spec()).remote_id
    reset_counters(url)
    with pytest.raises(ProviderError, match="owner organisation 1863 cannot be removed"):
        p.update(
            KIND,
            rid,
            {"name": "New", "members": [{"organisation_id": "1752", "purposes": ["INSIGHTS"]}]},
            NO_CHECK,
        )
    with pytest.raises(ProviderError, match="organisation_id cannot change"):
        p.update(KIND, rid, {"organisation_id": "1752"}, NO_CHECK)
    assert writes_seen(url) == 0


def test_delete_archives_the_room(url: str) -> None:
    p = provider(url, writes=True)
    rid = p.create(KIND, spec()).remote_id
    p.delete(KIND, rid, NO_CHECK)
    assert p.read(KIND, [rid]) == {}
    p.delete(KIND, rid, NO_CHECK)  # already gone: nothing to do


# -- drift -----------------------------------------------------------------------------------------
def test_out_of_band_archive_shows_as_a_difference(url: str) -> None:
    p = provider(url, writes=True)
    rid = p.create(KIND, spec()).remote_id
    accept(url, rid, "1752")
    previous = p.read(KIND, [rid])[rid]
    oob(url, "DELETE", f"/clean_rooms/{rid}/clean_room_organisations/1752")
    live = p.read(KIND, [rid])[rid]
    assert differences(dict(previous.fields), dict(live.fields)) == {"1752": (["INSIGHTS"], None)}
    assert live.fields["name"] == previous.fields["name"]
    assert live.fingerprint != previous.fingerprint


def test_out_of_band_purpose_removal_shows_as_a_difference(url: str) -> None:
    seed_docs(url)
    p = provider(url)
    previous = p.read(KIND, ["21"])["21"]
    oob(url, "PUT", "/clean_rooms/21/clean_room_organisations/1752", {"purposes": ["ACTIVATION"]})
    live = p.read(KIND, ["21"])["21"]
    assert differences(dict(previous.fields), dict(live.fields)) == {
        "1752": (["INSIGHTS", "ACTIVATION"], ["ACTIVATION"])
    }
    assert live.fingerprint != previous.fingerprint
    desired = p.normalize(KIND, dict(previous.fields))
    assert desired != dict(live.fields)  # the plan would put the purpose back


def test_fingerprint_moves_with_last_modified_even_when_fields_do_not(url: str) -> None:
    seed_docs(url)
    p = provider(url)
    previous = p.read(KIND, ["22"])["22"]
    oob(url, "PUT", "/clean_rooms/22/clean_room_organisations/1752", {"purposes": ["INSIGHTS"]})
    oob(url, "PUT", "/clean_rooms/22/clean_room_organisations/1752", {"purposes": ["ACTIVATION"]})
    live = p.read(KIND, ["22"])["22"]
    assert live.fields == previous.fields
    assert live.fingerprint != previous.fingerprint
    assert fingerprint(live.fields) == fingerprint(previous.fields)  # only last_modified_ts moved
    assert p.precondition_for(live).value != p.precondition_for(previous).value


# -- errors and configuration ----------------------------------------------------------------------
def test_auth_error_carries_vendor_message_without_token(url: str) -> None:
    secret = "s3cret-token-value"
    p = provider(url, token=secret)
    with pytest.raises(AuthError) as info:
        p.read(KIND, ["22"])
    text = str(info.value)
    assert "GET" in text and "/mediarithmics/v1/clean_rooms" in text and "HTTP 401" in text
    assert "[INVALID_AUTHENTICATION]" in text and "invalid API token" in text and "error_id" in text
    assert secret not in text and secret not in repr(p.config)


def test_workspace_options_are_checked(url: str) -> None:
    config = ProviderConfig(
        name="mediarithmics", endpoint=url, credentials={"token": TOKEN}, options={"writes": "yes"}
    )
    with pytest.raises(WorkspaceError, match="writes: expected 'enabled' or 'disabled'"):
        MediarithmicsProvider(config)
    with pytest.raises(WorkspaceError, match="organisation_id"):
        provider(url, organisation_id="acme")
    with pytest.raises(WorkspaceError, match="page_size"):
        provider(url, page_size=0)
    sandbox = MediarithmicsProvider(
        ProviderConfig(name="mediarithmics", endpoint="sandbox", credentials={"token": TOKEN})
    )
    with pytest.raises(WorkspaceError, match="'sandbox' must be resolved"):
        sandbox.read(KIND, ["1"])
    no_token = MediarithmicsProvider(ProviderConfig(name="mediarithmics", endpoint=f"{url}/mediarithmics"))
    with pytest.raises(WorkspaceError, match="no API token"):
        no_token.read(KIND, ["1"])
    with pytest.raises(ProviderError, match="no kind 'Campaign'"):
        provider(url).read("Campaign", ["1"])
    assert provider(url, rate_limit=5).request_budget() == 5.0


# -- schema and example ----------------------------------------------------------------------------
def test_example_manifests_validate() -> None:
    document_schema = load_schema("mediarithmics/CleanRoom.schema.json")
    kind_schema = MediarithmicsProvider.kinds[KIND].schema
    files = sorted((ROOT / "examples" / "mediarithmics").glob("*.yaml"))
    manifests = [f for f in files if f.name != "reconciler.yaml"]
    assert manifests
    for path in manifests:
        text = path.read_text(encoding="utf-8")
        assert text.startswith(
            "# yaml-language-server: $schema=../../schemas/mediarithmics/CleanRoom.schema.json"
        )
        for doc in yaml.safe_load_all(text):
            jsonschema.Draft202012Validator(document_schema).validate(doc)
            jsonschema.Draft202012Validator(kind_schema).validate(doc["spec"])
    bad = {
        "name": "x",
        "organisation_id": "1863",
        "members": [{"organisation_id": "1752", "purposes": ["SPYING"]}],
    }
    assert list(jsonschema.Draft202012Validator(kind_schema).iter_errors(bad))
    workspace = yaml.safe_load(
        (ROOT / "examples" / "mediarithmics" / "reconciler.yaml").read_text(encoding="utf-8")
    )
    block = workspace["providers"]["mediarithmics"]
    assert block == {"endpoint": "sandbox", "organisation_id": "1863"}  # observe-only by default
