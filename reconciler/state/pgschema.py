"""The PostgreSQL state backend's tables and the statements that are more than one line: the
schema (created when missing: four tables, see :mod:`reconciler.state.postgres`), the single
statements that record or forget a resource while the lock is held, and the query that finds the
session holding a workspace's advisory lock.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from reconciler.errors import StateError
from reconciler.state.pgconn import PgTarget, driver_message

DDL = """
CREATE TABLE IF NOT EXISTS {s}.workspaces (
    workspace text PRIMARY KEY,
    format_version integer NOT NULL,
    lineage text NOT NULL,
    serial bigint NOT NULL CHECK (serial >= 0),
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {s}.resources (
    workspace text NOT NULL REFERENCES {s}.workspaces ON DELETE CASCADE,
    address text NOT NULL,
    serial bigint NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (workspace, address)
);
CREATE TABLE IF NOT EXISTS {s}.journal (
    workspace text NOT NULL REFERENCES {s}.workspaces ON DELETE CASCADE,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    op text NOT NULL CHECK (op IN ('record', 'forget', 'intent', 'outcome')),
    serial bigint,
    address text,
    intent_id text,
    data jsonb,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS journal_intent_once ON {s}.journal (workspace, intent_id, op)
    WHERE intent_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.locks (
    workspace text PRIMARY KEY REFERENCES {s}.workspaces ON DELETE CASCADE,
    id text NOT NULL,
    holder text NOT NULL,
    pid integer NOT NULL,
    host text NOT NULL,
    operation text NOT NULL,
    started text NOT NULL,
    pid_scope text NOT NULL DEFAULT '',
    session_pid integer NOT NULL
);
"""

# One statement per change while holding the lock (see ``_fast``): the header row's update orders
# it, the resource row and the journal row are written with the serial it returned.
RECORD_ONE = """
WITH h AS (UPDATE {w} SET serial = serial + 1, updated = now() WHERE workspace = %(ws)s RETURNING serial),
r AS (INSERT INTO {r} (workspace, address, serial, data) SELECT %(ws)s, %(address)s, h.serial, %(data)s::jsonb FROM h
      ON CONFLICT (workspace, address) DO UPDATE SET serial = EXCLUDED.serial, data = EXCLUDED.data),
j AS (INSERT INTO {j} (workspace, op, serial, address, data)
      SELECT %(ws)s, 'record', h.serial, %(address)s, %(data)s::jsonb FROM h RETURNING seq)
SELECT h.serial, j.seq FROM h, j
"""
FORGET_ONE = """
WITH h AS (UPDATE {w} SET serial = serial + 1, updated = now() WHERE workspace = %(ws)s RETURNING serial),
r AS (DELETE FROM {r} WHERE workspace = %(ws)s AND address = %(address)s),
j AS (INSERT INTO {j} (workspace, op, serial, address) SELECT %(ws)s, 'forget', h.serial, %(address)s FROM h RETURNING seq)
SELECT h.serial, j.seq FROM h, j
"""

HOLDER_PID = """
SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock' AND objsubid = 2
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND classid = %s::oid AND objid = %s::oid
"""


def ensure_schema(conn: Any, target: PgTarget) -> None:
    """Create the schema (if missing) and the tables (if missing), one process at a time."""
    schema = sql.Identifier(target.schema)
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s::int4, 0)", (target.lock_key[0],))
            exists = conn.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (target.schema,)
            ).fetchone()
            if not exists:  # CREATE SCHEMA needs a privilege a role may lack when it exists already
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            conn.execute(sql.SQL(DDL).format(s=schema))
    except psycopg.Error as exc:
        raise StateError(
            f"{target.where}: cannot create the state tables: {driver_message(target, exc)}"
        ) from None
