"""``reconciler state migrate`` / ``state pull`` / ``state push`` through the command line, on the
local backend and a real PostgreSQL.

Covers: local -> PostgreSQL -> local round trip keeping lineage, serial, every resource and the
unfinished intent (and the workspace then works on PostgreSQL: list, a new record); a migration
run again copies nothing; a target holding another lineage, or a newer serial of the same one, is
refused and left as it was; ``pull`` to a 0600 file (never over an existing one) and to stdout;
``push`` of a backup into an empty state, refused for an older serial or another lineage unless
``--force`` (which gives the next serial); a literal password in ``--to`` refused without echoing
it; the connection string never printed.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from reconciler.state import open_backend
from reconciler.state.base import StateDump
from tests.support.cli import invoke
from tests.support.postgres import PASSWORD, Cluster

from .factory import intent, strategy

PG_TO = '{{backend: postgres, url: "${{env:RECONCILER_PG_URL}}", schema: {schema}}}'


def workspace(root: Path, state: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text(f"apiVersion: reconciler/v1\nkind: Workspace\n{state}")
    return root


def fill(root: Path, count: int = 40) -> StateDump:
    backend = open_backend(None, root)
    for n in range(count):
        backend.record(strategy(n))
    backend.forget(strategy(3).address)
    backend.begin_intent(intent(1))  # a create in flight when the last run died
    return backend.dump()


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text and "Pg-Secret" not in text


def test_local_to_postgres_to_local_round_trip(tmp_path: Path, pg_cluster: Cluster) -> None:
    root = workspace(tmp_path / "ws")
    before = fill(root)
    schema = pg_cluster.fresh_schema()
    env = {"RECONCILER_PG_URL": pg_cluster.url()}

    moved = invoke(root, "state", "migrate", "--to", PG_TO.format(schema=schema), env=env)
    assert moved.code == 0, moved
    assert f"Copied the state (lineage {before.lineage}, serial {before.serial}, 39 resources, 1 unfinished intent)" in moved.out
    assert "Now set the state: block of reconciler.yaml" in moved.out
    assert_no_secret(moved.out, moved.err)
    pg = open_backend({"backend": "postgres", "url": pg_cluster.url(), "schema": schema}, root)
    assert pg.dump() == before

    again = invoke(root, "state", "migrate", "--to", PG_TO.format(schema=schema), env=env)
    assert again.code == 0 and "already holds this state" in again.out and "nothing copied" in again.out, again

    # the workspace switches to PostgreSQL and goes on from the same lineage and serial
    workspace(root, f'state: {{backend: postgres, url: "${{env:RECONCILER_PG_URL}}", schema: {schema}}}\n')
    listed = invoke(root, "state", "list", env=env)
    assert listed.code == 0 and listed.out.split() == sorted(before.resources), listed
    assert pg.record(strategy(100)) == before.serial + 1
    after_pg = pg.dump()

    back = invoke(root, "state", "migrate", "--to", "{backend: local, path: back/state.json}", env=env)
    assert back.code == 0, back
    local = open_backend({"path": "back/state.json"}, root)
    assert local.dump() == after_pg
    assert (after_pg.lineage, after_pg.serial) == (before.lineage, before.serial + 1)
    assert set(after_pg.resources) == set(before.resources) | {strategy(100).address}
    assert after_pg.intents == (intent(1),)
    pg.close()


def test_migrate_refuses_another_lineage_or_a_newer_target(tmp_path: Path, pg_settings: dict[str, Any]) -> None:
    root = workspace(tmp_path / "ws")
    fill(root, 5)
    env = {"RECONCILER_PG_URL": pg_settings["url"]}
    to = PG_TO.format(schema=pg_settings["schema"])
    other = open_backend(pg_settings, root)
    other.record(strategy(77))  # someone else's state already lives there
    theirs = other.dump()

    refused = invoke(root, "state", "migrate", "--to", to, env=env)
    assert refused.code == 1, refused
    assert "refusing to migrate" in refused.err and f"holds another state (lineage {theirs.lineage}" in refused.err
    assert "Traceback" not in refused.text
    assert_no_secret(refused.out, refused.err)
    assert other.dump() == theirs

    with other.locked("state push"):
        other.restore(StateDump(open_backend(None, root).read().lineage, 99, {}, ()))
    newer = invoke(root, "state", "migrate", "--to", to, env=env)
    assert newer.code == 1 and "is at serial 99, newer than serial 6" in newer.err, newer
    other.close()


def test_pull_and_push_check_lineage_and_serial(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws")
    for command in (("pull",), ("migrate", "--to", "{backend: local, path: other.json}")):
        nothing = invoke(root, "state", *command)  # never written: nothing to move, nothing made
        assert nothing.code == 1 and "holds no state yet" in nothing.err, nothing
    assert not (root / ".reconciler" / "state.json").exists() and not (root / "other.json").exists()
    before = fill(root, 6)
    backup = tmp_path / "backup.json"
    pulled = invoke(root, "state", "pull", str(backup))
    assert pulled.code == 0, pulled
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    document = json.loads(backup.read_text())
    assert (document["lineage"], document["serial"], len(document["resources"])) == (before.lineage, 7, 5)
    assert document["intents"][0]["id"] == intent(1).id
    to_stdout = invoke(root, "state", "pull")
    assert json.loads(to_stdout.out) == document
    assert invoke(root, "state", "pull", str(backup)).code == 1  # never over an existing file

    fresh = workspace(tmp_path / "fresh")
    pushed = invoke(fresh, "state", "push", str(backup))
    assert pushed.code == 0 and "Pushed" in pushed.out, pushed
    assert open_backend(None, fresh).dump() == before
    assert "already holds this state" in invoke(fresh, "state", "push", str(backup)).out

    open_backend(None, fresh).record(strategy(50))  # the state moved on: the backup is older
    older = invoke(fresh, "state", "push", str(backup))
    assert older.code == 1 and "is at serial 8, newer than serial 7" in older.err and "--force" in older.err, older
    forced = invoke(fresh, "state", "push", str(backup), "--force")
    assert forced.code == 0, forced
    restored = open_backend(None, fresh).dump()
    assert (restored.serial, dict(restored.resources)) == (9, dict(before.resources))  # the next serial

    stranger = workspace(tmp_path / "stranger")
    fill(stranger, 2)
    other = invoke(stranger, "state", "push", str(backup))
    assert other.code == 1 and "holds another state" in other.err, other

    backup.write_text('{"format_version": 1, "lineage": "x"}')
    broken = invoke(fresh, "state", "push", str(backup))
    assert broken.code == 1 and f"{backup}: state: missing field 'serial'" in broken.err, broken


@pytest.mark.parametrize(
    "to",
    [
        '{backend: postgres, url: "postgresql://ops:Hunter2-Secret@db/state"}',
        "{backend: postgres, url: 'host=db password=Hunter2-Secret'}",
    ],
)
def test_a_literal_password_in_to_is_refused_without_echo(tmp_path: Path, to: str) -> None:
    root = workspace(tmp_path / "ws")
    refused = invoke(root, "state", "migrate", "--to", to)
    assert refused.code == 1
    assert "--to:1: state.url: a connection string with a password is not allowed" in refused.err
    assert "Hunter2" not in refused.text
