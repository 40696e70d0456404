"""Secrets never reach manifest fields, and what may name live objects is kept private (issue 16.2).

Aspects covered:
- a workspace variable named in ``sensitive:`` (here given by a ``--var-file``, as a team keeps
  a partner key out of git) is refused in a manifest, as ``${var:NAME}`` and inside an
  expression, with file, line and field; the message never holds the value;
- a ``--var`` of the wrong type for a sensitive variable is refused without echoing the value;
- ``plan --out`` writes the plan file mode 0600 like the state, also when it replaces an
  existing plan file that was 0644.
"""

from __future__ import annotations

import stat
import textwrap
from pathlib import Path

import pytest

from reconciler.errors import InterpolationError, WorkspaceError
from reconciler.manifest import KindTable, Selection, load_manifests, load_workspace_config
from reconciler.providers.base import KindInfo
from tests.cli.conftest import Workspace

SECRET = "Partner-Key-7781-QXZ"
KINDS = KindTable({"mediamath": {"Advertiser": KindInfo("Advertiser", {"type": "object"})}})


def workspace(root: Path, manifest_name: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text(textwrap.dedent("""\
        apiVersion: reconciler/v1
        kind: Workspace
        variables: {partner_key: "", limit: 3}
        sensitive: [partner_key, limit]
        """), encoding="utf-8")
    (root / "secrets.yaml").write_text(f"partner_key: {SECRET}\n", encoding="utf-8")
    (root / "manifests").mkdir()
    (root / "manifests" / "a.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: mediamath/v1
        kind: Advertiser
        metadata: {{name: a}}
        spec:
          agency_id: 1
          name: "{manifest_name}"
        """), encoding="utf-8")
    return root


@pytest.mark.parametrize("written", ["${var:partner_key}", "key ${var:partner_key}", "${upper(var.partner_key)}"])
def test_a_variable_marked_sensitive_is_refused_in_a_manifest(tmp_path: Path, written: str) -> None:
    root = workspace(tmp_path / "ws", written)
    config = load_workspace_config(root, {}, selection=Selection(var_files=(root / "secrets.yaml",)))
    assert config.variables["partner_key"] == SECRET  # the var file gave it
    with pytest.raises(InterpolationError) as info:
        load_manifests([root / "manifests"], config=config, kind_lookup=KINDS, known_providers=("mediamath",), env={})
    message = str(info.value)
    assert message.startswith("manifests/a.yaml:6: spec.name: "), message
    assert "partner_key" in message and SECRET not in message


def test_a_sensitive_var_of_the_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws", "plain")
    with pytest.raises(WorkspaceError) as info:
        load_workspace_config(root, {}, selection=Selection(variables={"limit": SECRET}))
    assert str(info.value) == "--var limit=(sensitive): expected a number, like the declared value (sensitive)"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_saved_plans_are_private_like_the_state(ws: Workspace, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.plan"
    assert ws.run("plan", "--out", str(fresh)).code == 0
    assert mode(fresh) == 0o600
    shared = tmp_path / "shared.plan"
    assert ws.run("plan", "--out", str(shared)).code == 0
    shared.chmod(0o644)  # an older reconciler wrote plans 0644
    assert ws.run("plan", "--out", str(shared)).code == 0
    assert mode(shared) == 0o600
