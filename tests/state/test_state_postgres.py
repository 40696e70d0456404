"""What the PostgreSQL backend does beyond the contract every backend keeps (which
``test_state_contract.py``, ``test_state_lock.py`` and ``test_state_crash.py`` hold it to).

Covers, on the session's throwaway cluster: the tables (one row per resource, its journal row
written in the same transaction as the serial bump, the lock row naming holder, pid, host and
operation); the journal trimmed when the lock is released, unfinished intents kept; workspace keys
keeping two states apart in one schema (lineage, resources, locks); a damaged resource or journal
row, and a header of a newer format, as StateErrors naming the table and the row; an unreachable
server and a wrong password as errors that name the target without the password; ``state unlock``
refusing a lock whose session is still connected, and ``--force`` ending that session (whose
holder then writes nothing more instead of carrying on unlocked).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from reconciler.errors import LockError, StateError
from reconciler.state import open_backend
from reconciler.state.postgres import PostgresBackend
from tests.support.postgres import PASSWORD, Cluster, free_port

from .factory import intent, simple, strategy


def backend(settings: dict[str, Any], **changes: Any) -> PostgresBackend:
    opened = open_backend({**settings, **changes}, __import__("pathlib").Path("."))
    assert isinstance(opened, PostgresBackend)
    return opened


def rows(settings: dict[str, Any], query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings["url"], autocommit=True) as conn:
        conn.execute(f"SET search_path = {settings['schema']}")
        return conn.execute(query, args).fetchall()


def test_a_resource_row_and_its_journal_row_per_change_and_a_lock_row_naming_the_holder(
    pg_settings: dict[str, Any],
) -> None:
    state = backend(pg_settings)
    lock = state.acquire_lock("apply")
    state.begin_intent(intent(1))
    assert state.record(strategy(1)) == 1
    state.end_intent(intent(1).id, "done")
    state.begin_intent(intent(2))
    assert rows(pg_settings, "SELECT workspace, serial FROM workspaces") == [("default", 1)]
    assert rows(pg_settings, "SELECT address, serial, data->>'remote_id' FROM resources") == [
        (strategy(1).address, 1, strategy(1).remote_id)
    ]
    assert rows(pg_settings, "SELECT op, serial, coalesce(address, intent_id) FROM journal ORDER BY seq") == [
        ("intent", None, intent(1).address),
        ("record", 1, strategy(1).address),
        ("outcome", None, intent(1).id),
        ("intent", None, intent(2).address),
    ]
    [(lock_id, holder, pid, host, operation, started)] = rows(
        pg_settings, "SELECT id, holder, pid, host, operation, started FROM locks"
    )
    assert (lock_id, holder, pid, operation, started) == (lock.id, lock.who, lock.pid, "apply", lock.created)
    assert holder.endswith(f"@{host}")

    state.release_lock(lock)  # trims what is applied and finished; the unfinished intent stays
    assert rows(pg_settings, "SELECT op, address FROM journal") == [("intent", intent(2).address)]
    assert rows(pg_settings, "SELECT count(*) FROM locks") == [(0,)]
    assert backend(pg_settings).unfinished_intents() == [intent(2)]
    state.close()


def test_workspace_keys_keep_states_apart(pg_settings: dict[str, Any]) -> None:
    prod, staging = backend(pg_settings, workspace="prod"), backend(pg_settings, workspace="staging")
    prod.record(simple("a"))
    prod.record(simple("b"))
    staging.record(simple("c"))
    assert prod.read().lineage != staging.read().lineage
    assert (prod.read().serial, set(prod.read().resources)) == (2, {"test.Thing/a", "test.Thing/b"})
    assert (staging.read().serial, set(staging.read().resources)) == (1, {"test.Thing/c"})
    with prod.locked("apply"):
        with staging.locked("apply"):  # another workspace's lock is another lock
            staging.forget("test.Thing/c")
        with pytest.raises(LockError, match="workspace prod"):
            backend(pg_settings, workspace="prod").acquire_lock("apply")
    assert backend(pg_settings, workspace="prod").read().serial == 2
    prod.close()
    staging.close()


def test_damaged_rows_are_clear_errors_naming_the_table_and_row(pg_settings: dict[str, Any]) -> None:
    state = backend(pg_settings)
    state.record(strategy(1))
    state.begin_intent(intent(4))
    rows(pg_settings, "UPDATE resources SET data = jsonb_set(data, '{remote_id}', '[1]') RETURNING 1")
    with pytest.raises(StateError) as caught:
        backend(pg_settings).read()
    assert f"(schema {pg_settings['schema']}, workspace default): resources row '{strategy(1).address}': " in str(caught.value)
    assert "remote_id: expected a non-empty string, got an array" in str(caught.value)

    rows(pg_settings, "UPDATE resources SET data = jsonb_set(data, '{remote_id}', '\"9\"') RETURNING 1")
    rows(pg_settings, "UPDATE journal SET data = data - 'kind' WHERE op = 'intent' RETURNING 1")
    with pytest.raises(StateError, match=r"journal row \d+: intent: missing field 'kind'"):
        backend(pg_settings).unfinished_intents()

    rows(pg_settings, "UPDATE workspaces SET format_version = 2 RETURNING 1")
    with pytest.raises(StateError, match="format_version 2 was written by a newer reconciler"):
        backend(pg_settings).read()
    state.close()


def test_connection_errors_name_the_target_never_the_password(pg_cluster: Cluster) -> None:
    port = free_port()
    down = backend({"backend": "postgres", "url": pg_cluster.url().replace(str(pg_cluster.port), str(port)), "schema": "x"})
    with pytest.raises(StateError) as caught:
        down.read()
    message = str(caught.value)
    assert message.startswith(f"cannot connect to the PostgreSQL state at postgresql://reconciler@127.0.0.1:{port}/reconciler")
    assert PASSWORD not in message and "Pg-Secret" not in message

    wrong = backend({"backend": "postgres", "url": pg_cluster.url().replace("Pg-Secret", "Not-The-Secret"), "schema": "x"})
    with pytest.raises(StateError) as caught:
        wrong.read()
    assert "password authentication failed" in str(caught.value)
    assert "Not-The-Secret" not in str(caught.value) and "Pg-Secret" not in str(caught.value)


def test_unlock_refuses_a_connected_holder_unless_forced(pg_settings: dict[str, Any]) -> None:
    holder = backend(pg_settings)
    held = holder.acquire_lock("apply")
    other = backend(pg_settings)
    with pytest.raises(LockError) as caught:
        other.force_unlock(held.id)
    assert "its database session (PostgreSQL pid" in str(caught.value) and "--force" in str(caught.value)
    assert other.current_lock() == held

    other.force_unlock(held.id, force=True)  # ends the holder's session
    assert other.current_lock() is None
    with pytest.raises(StateError):
        holder.record(simple("a"))  # the connection is gone ...
    with pytest.raises(LockError, match="that held the state lock was lost"):
        holder.record(simple("a"))  # ... and with it the lock: no unlocked writes
    with pytest.raises(LockError, match="that held the state lock was lost"), holder.locked("x"):
        pass  # not while the lost lock is still "held" either
    holder.release_lock(held)  # says nothing more: the lock went with the session
    assert other.read().serial == 0
    again = other.acquire_lock("apply")
    assert other.broken_locks == []  # the forced unlock removed the row
    other.release_lock(again)
    holder.close()
    other.close()
