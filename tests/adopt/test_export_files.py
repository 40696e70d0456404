"""What ``reconciler export`` writes is what a user would commit, and how it writes it.

Aspects covered, against the sandbox over real HTTP:

- commit-ready MediaMath manifests (issue 15, item 4): no value equal to its schema's ``default``
  (the schemas declare the documented defaults, so ``bid_aggressiveness: 50`` and friends are
  gone), ids in the schema's type (``ad_server_id: 9``, not ``'9'``), a budget flight without a
  name addressed by its campaign's name and start day, and a ``$schema`` line that is a relative
  path into the workspace's own copy of the schemas (written by export, equal to the installed
  ones, each document valid against the file it names), so it works for a colleague's clone; the
  next ``plan`` is empty and ``drift`` finds nothing; a second export reuses the copy;
  ``--schema-base URL`` writes URLs and no copy;
- a workspace file written by export points at its own copy too;
- the LiveRamp export keeps no default either (it never had one);
- hostile files in the output directory (issue 16, item 6): a symbolic link planted under the
  temporary name the old export used is never written through (the file it points at is
  unchanged), and one planted under a manifest's name makes export refuse, naming it, without
  creating the file it points at; :func:`reconciler.fsutil.create_new` itself never replaces a
  name that exists, a dangling link included.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from reconciler.manifest.yamlsource import load_documents
from reconciler.providers.base import schemas_dir
from reconciler.sandbox import SandboxServer
from tests.adopt.conftest import (
    SANDBOX_ENV,
    Workspace,
    applied_liveramp_example,
    changed,
    sandbox_workspace,
    seed,
)

ESTATE = {"agencies": 1, "advertisers": 1, "campaigns": 1, "strategies": 2, "budget_flights": 2}
SCHEMA_LINE = "# yaml-language-server: $schema="


def documents(path: Path) -> list[dict[str, Any]]:
    return [d.value for d in load_documents(path.read_text(encoding="utf-8"), path.name) if d is not None]


def schema_paths(path: Path) -> set[str]:
    return {line[len(SCHEMA_LINE):] for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(SCHEMA_LINE)}


def assert_no_defaults(out: Path) -> int:
    """Every exported spec value differs from its property's schema default; returns the count checked."""
    checked = 0
    for path in sorted(out.glob("*.yaml")):
        (reference,) = schema_paths(path)
        schema = json.loads((path.parent / reference).read_text(encoding="utf-8"))
        props = schema["$defs"]["spec"]["properties"] if "$defs" in schema and "spec" in schema["$defs"] else {}
        for doc in documents(path):
            for name, value in doc["spec"].items():
                prop = props.get(name, {})
                assert "default" not in prop or prop["default"] != value, (path.name, doc["metadata"]["name"], name)
                checked += 1
    return checked


def control(server: SandboxServer, path: str, body: dict[str, Any]) -> Any:
    response = requests.post(f"{server.url}/_sandbox/{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_mediamath_export_is_commit_ready(sandbox: SandboxServer, sandbox_ws: Workspace) -> None:
    created = seed(sandbox, "mediamath", "estate", ESTATE)["created"]
    for flight in created["budget_flights"]:  # flights need no name: theirs is made from campaign + start
        control(sandbox, "mediamath/edit", {"collection": "budget_flights", "id": flight, "fields": {"name": None}})
    sandbox_ws.ok("export", "--provider", "mediamath", "--advertiser", str(created["advertisers"][0]))
    out = sandbox_ws.root / "mediamath"

    assert assert_no_defaults(out) > 20
    (advertiser,) = documents(out / "advertiser.yaml")
    assert advertiser["spec"]["ad_server_id"] == 9 and isinstance(advertiser["spec"]["vertical_id"], int)
    assert advertiser["spec"]["agency_id"] == created["agencies"][0]  # outside the scope: a literal integer
    (campaign,) = documents(out / "campaign.yaml")
    assert campaign["spec"]["ad_server_id"] == 9
    assert "bid_aggressiveness" not in json.dumps([d["spec"] for d in documents(out / "strategy.yaml")])
    flights = [d["metadata"]["name"] for d in documents(out / "budget-flight.yaml")]
    assert flights == ["estate-campaign-1-2025-01-01", "estate-campaign-1-2025-01-11"]

    installed = schemas_dir()
    for path in sorted(out.glob("*.yaml")):
        (reference,) = schema_paths(path)
        assert not reference.startswith("/") and reference.startswith("../schemas/mediamath/"), reference
        target = (path.parent / reference).resolve()
        assert sandbox_ws.root.resolve() in target.parents  # inside the workspace: works in any clone
        assert target.read_bytes() == (installed / "mediamath" / target.name).read_bytes()
        validator = Draft202012Validator(json.loads(target.read_text(encoding="utf-8")))
        for doc in documents(path):
            assert not list(validator.iter_errors(doc)), doc["metadata"]["name"]

    result = sandbox_ws.run("plan", "--detailed-exitcode")
    assert result.code == 0 and "No changes." in result.out, result.text
    assert sandbox_ws.run("drift").code == 0

    copy = sandbox_ws.root / "schemas" / "mediamath" / "Campaign.schema.json"
    stamp = copy.stat().st_mtime_ns
    other = seed(sandbox, "mediamath", "estate", {"advertisers": 1, "campaigns": 1, "prefix": "Other"})["created"]
    sandbox_ws.ok("export", "--provider", "mediamath", "--advertiser", str(other["advertisers"][0]), "--out", "more")
    assert copy.stat().st_mtime_ns == stamp
    assert schema_paths(sandbox_ws.root / "more" / "campaign.yaml") == {"../schemas/mediamath/Campaign.schema.json"}


def test_schema_base_writes_urls_and_no_copy(sandbox: SandboxServer, sandbox_ws: Workspace) -> None:
    created = seed(sandbox, "mediamath", "estate", {"campaigns": 1})["created"]
    base = "https://schemas.example.com/reconciler/v0.1"
    sandbox_ws.ok("export", "--provider", "mediamath", "--campaign", str(created["campaigns"][0]), "--schema-base", base)
    assert schema_paths(sandbox_ws.root / "mediamath" / "campaign.yaml") == {f"{base}/mediamath/Campaign.schema.json"}
    assert not (sandbox_ws.root / "schemas").exists()


def test_a_written_workspace_file_points_at_its_own_copy(sandbox: SandboxServer, tmp_path: Path) -> None:
    seed(sandbox, "mediarithmics", "docs")
    ws = Workspace(tmp_path / "new", dict(SANDBOX_ENV))
    ws.root.mkdir()
    ws.ok("export", "--provider", "mediarithmics", "--organisation", "1863", "--endpoint", f"{sandbox.url}/mediarithmics")
    assert schema_paths(ws.root / "reconciler.yaml") == {"schemas/workspace.schema.json"}
    assert (ws.root / "schemas" / "workspace.schema.json").read_bytes() == (schemas_dir() / "workspace.schema.json").read_bytes()
    (reference,) = schema_paths(ws.root / "mediarithmics" / "clean-room.yaml")
    assert (ws.root / "mediarithmics" / reference).is_file()
    assert changed(ws.plan_json()) == {}


def test_liveramp_export_has_no_defaults(sandbox: SandboxServer, tmp_path: Path) -> None:
    origin = applied_liveramp_example(sandbox, tmp_path / "origin")
    room = origin.snapshot().resources["liveramp.Cleanroom/retail-insights"].remote_id
    adopter = Workspace(tmp_path / "adopter", dict(SANDBOX_ENV))
    adopter.root.mkdir()
    adopter.write("reconciler.yaml", sandbox_workspace(sandbox.url))
    adopter.ok("export", "--provider", "liveramp", "--cleanroom", room)
    assert assert_no_defaults(adopter.root / "liveramp") > 10
    assert changed(adopter.plan_json()) == {}


# -- hostile files in the output directory ---------------------------------------------------------
def test_a_symlink_planted_under_a_temporary_name_is_not_written_through(
    sandbox: SandboxServer, sandbox_ws: Workspace, tmp_path: Path
) -> None:
    created = seed(sandbox, "mediamath", "estate", {"campaigns": 1})["created"]
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    out = sandbox_ws.root / "mediamath"
    out.mkdir()
    for kind in ("advertiser", "campaign", "budget-flight", "strategy"):  # the names the old export used
        (out / f".{kind}.yaml.tmp").symlink_to(victim)
    sandbox_ws.ok("export", "--provider", "mediamath", "--advertiser", str(created["advertisers"][0]))
    assert victim.read_text() == "keep me\n"
    assert (out / "campaign.yaml").is_file() and not (out / "campaign.yaml").is_symlink()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") and not p.is_symlink()]


def test_a_symlink_planted_under_a_manifest_name_is_refused(
    sandbox: SandboxServer, sandbox_ws: Workspace, tmp_path: Path
) -> None:
    created = seed(sandbox, "mediamath", "estate", {"campaigns": 1})["created"]
    outside = tmp_path / "outside"
    outside.mkdir()
    out = sandbox_ws.root / "mediamath"
    out.mkdir()
    (out / "campaign.yaml").symlink_to(outside / "planted.yaml")  # dangling: exists() says False
    result = sandbox_ws.run("export", "--provider", "mediamath", "--advertiser", str(created["advertisers"][0]))
    # refused before anything is written: the manifests (the planted link among them) must load first
    assert result.code == 1 and "planted.yaml" in result.err, result.text
    assert list(outside.iterdir()) == []
    assert not os.path.exists(out / "advertiser.yaml")  # nothing written, nothing recorded
    assert sandbox_ws.snapshot().resources == {}


def test_create_new_never_replaces_a_name(tmp_path: Path) -> None:
    from reconciler.fsutil import create_new

    target = tmp_path / "elsewhere.txt"
    (tmp_path / "link.yaml").symlink_to(target)  # dangling
    with pytest.raises(FileExistsError):
        create_new(tmp_path / "link.yaml", b"x")
    assert not target.exists() and (tmp_path / "link.yaml").is_symlink()
    create_new(tmp_path / "new.yaml", b"data")
    assert (tmp_path / "new.yaml").read_bytes() == b"data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.yaml", "new.yaml"]  # no temporary left
