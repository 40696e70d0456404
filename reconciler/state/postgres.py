"""PostgreSQL state backend (psycopg 3): one row per resource, the journal in the same
transaction, and a lock that dies with its holder's connection. For teams whose CI runs on many
machines; settings and the connection string (a secret) are in :mod:`reconciler.state.pgconn`.

Tables (:mod:`reconciler.state.pgschema`), in the configured schema (created when missing), every
row keyed by ``workspace`` so that several workspaces or environments share one database without
seeing each other:

``workspaces`` (workspace, format_version, lineage, serial, created, updated)
    The header. ``lineage`` is fixed when the row is made (the first reader makes it, as the local
    backend makes its first state file); ``serial`` is bumped by one per resource change.
``resources`` (workspace, address, serial, data jsonb)
    One row per managed address; ``data`` is :meth:`ResourceState.to_json`.
``journal`` (workspace, seq, op, serial, address, intent_id, data jsonb, at)
    The write-ahead journal, with the local journal's entries: ``record``/``forget`` (the change
    and the serial it produced), ``intent`` and ``outcome``.
``locks`` (workspace, id, holder, pid, host, operation, started, pid_scope, session_pid)
    Who holds the lock, for messages; the lock itself is an advisory lock (below).

Every change is one transaction that first updates the workspace's header row (``serial + 1``):
that row lock orders all writers of a workspace, so the serial is bumped atomically and the
resource row and its journal entry are committed together. While this instance holds the lock it
is the only writer, so each change is a single statement (its own transaction: the header update,
the resource row and the journal row in one ``WITH ... RETURNING``) and an intent or outcome a
single insert; without the lock (tools, tests) a write also locks the header row first so that
journal rows become visible in ``seq`` order. A backend instance mirrors the state in a
:class:`~reconciler.state.ledger.Ledger` and follows other writers by replaying journal rows it
has not seen, under the rules every backend shares (a change the mirror holds is skipped, a gap
in serials means rows were trimmed: reload everything). Rows are checked by
:mod:`reconciler.state.codec` like the local files' entries: a damaged row is a StateError naming
the table and the address or intent.

Lock: a session-level advisory lock ``pg_advisory_lock(LOCK_CLASS, hash(schema, workspace))``
held by the command's own connection, so a runner that dies (SIGKILL, a lost machine) releases it
with its connection and the next run gets it at once; the ``locks`` row names the holder (id,
user@host, pid, operation, time). A row whose advisory lock is no longer held is stale: the next
run replaces it and says so (``cleared_stale_lock``). ``--lock-timeout`` waits in PostgreSQL's lock
queue (``lock_timeout``). Writes without the lock are allowed unless another session holds it
(checked with a shared transaction-level try-lock on the same key). ``state unlock`` removes a
stale row; a lock whose session is still connected is refused unless ``--force``, which ends that
session (``pg_terminate_backend``; the role needs the right to). If this process loses the
connection that held its lock, it writes nothing more (LockError) instead of reconnecting unlocked.

``release_lock`` trims the journal (applied changes and finished intents; unfinished intents stay)
before it lets go, as the local backend compacts.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from reconciler.errors import LockError, StateError
from reconciler.gcpause import gc_paused
from reconciler.state import codec, holders
from reconciler.state.base import Intent, LockInfo, ResourceState, StateDump
from reconciler.state.codec import FORMAT_VERSION
from reconciler.state.ledger import Ledger, MirroredBackend, Mismatch
from reconciler.state.pgconn import PgTarget, connect, driver_message
from reconciler.state.pgschema import FORGET_ONE, HOLDER_PID, RECORD_ONE, ensure_schema


class PostgresBackend(MirroredBackend):
    """State in PostgreSQL: see the module docstring for the tables and guarantees."""

    def __init__(self, target: PgTarget, *, poll_interval: float = 0.05) -> None:
        super().__init__()
        self.target = target
        self._poll_interval = poll_interval
        self._conn: Any = None
        self._mutex = threading.RLock()
        self._ledger = Ledger()
        self._loaded = False
        self._seq = 0  # the last journal row the mirror has replayed
        self._held: str | None = None  # id of the lock this instance holds
        self._lost_lock = False
        self._t = {name: sql.Identifier(target.schema, name) for name in ("workspaces", "resources", "journal", "locks")}

    def __repr__(self) -> str:
        return f"PostgresBackend({self.target.where!r})"

    @property
    def where(self) -> str:
        return self.target.where

    # -- connection ------------------------------------------------------------------------------

    def _connection(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if self._held is not None or self._lost_lock:
            self._lost_lock = True
            raise LockError(
                f"the connection to {self.where} that held the state lock was lost, so the lock is gone; "
                "nothing more is written by this run: run the command again"
            )
        conn = connect(self.target)
        self._conn = conn
        try:
            ensure_schema(conn, self.target)
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (workspace, format_version, lineage, serial) VALUES (%s, %s, %s, 0) "
                    "ON CONFLICT (workspace) DO NOTHING"
                ).format(self._t["workspaces"]),
                (self.target.workspace, FORMAT_VERSION, str(uuid.uuid4())),
            )  # the first creator's lineage wins
        except psycopg.Error as exc:
            self.close()
            raise StateError(f"{self.where}: cannot prepare the state: {driver_message(self.target, exc)}") from None
        except BaseException:
            self.close()
            raise
        return conn

    @contextmanager
    def _db(self, what: str) -> Iterator[Any]:
        """The connection, with driver errors turned into StateErrors naming ``what`` (scrubbed)."""
        with self._mutex:
            conn = self._connection()
            try:
                yield conn
            except psycopg.OperationalError as exc:
                if conn.closed and self._held is not None:
                    self._lost_lock = True
                raise StateError(f"{self.where}: {what}: {driver_message(self.target, exc)}") from None
            except psycopg.Error as exc:
                raise StateError(f"{self.where}: {what}: {driver_message(self.target, exc)}") from None

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            self._held, self._lost_lock = None, False

    # -- the mirror ------------------------------------------------------------------------------

    def _header(self, conn: Any, *, for_update: bool = False, bump: int = 0) -> tuple[str, int]:
        """The workspace's (lineage, serial). With ``for_update`` the row is locked until the
        transaction ends (every write starts here) and its serial raised by ``bump``."""
        if for_update:
            row = conn.execute(
                sql.SQL(
                    "UPDATE {} SET serial = serial + %s, updated = now() WHERE workspace = %s "
                    "RETURNING lineage, serial, format_version"
                ).format(self._t["workspaces"]),
                (bump, self.target.workspace),
            ).fetchone()
        else:
            row = conn.execute(
                sql.SQL("SELECT lineage, serial, format_version FROM {} WHERE workspace = %s").format(
                    self._t["workspaces"]
                ),
                (self.target.workspace,),
            ).fetchone()
        if row is None:
            raise StateError(f"{self.where}: the workspace's row in the workspaces table is gone")
        lineage, serial, version = row
        if version != FORMAT_VERSION:
            newer = "was written by a newer reconciler" if version > FORMAT_VERSION else "is not supported"
            raise StateError(
                f"{self.where}: workspaces row: format_version {version} {newer}; "
                f"this version reads format_version {FORMAT_VERSION}"
            )
        return str(lineage), int(serial)

    def _load(self, conn: Any, header: tuple[str, int]) -> None:
        """Everything, as of ``header`` (inside a transaction that sees one consistent state:
        repeatable read, or holding the header row that every writer must lock)."""
        ledger = self._ledger
        lineage, serial = header
        (every,) = conn.execute(  # one JSON text for all rows: one json.loads, not one per row
            sql.SQL("SELECT coalesce(json_object_agg(address, data), '{{}}')::text FROM {} WHERE workspace = %s").format(
                self._t["resources"]
            ),
            (self.target.workspace,),
        ).fetchone()
        journal = conn.execute(
            sql.SQL(
                "SELECT seq, op, serial, address, intent_id, data::text FROM {} "
                "WHERE workspace = %s AND op IN ('intent', 'outcome') ORDER BY seq"
            ).format(self._t["journal"]),
            (self.target.workspace,),
        ).fetchall()
        (last,) = conn.execute(
            sql.SQL("SELECT coalesce(max(seq), 0) FROM {} WHERE workspace = %s").format(self._t["journal"]),
            (self.target.workspace,),
        ).fetchone()
        resources: dict[str, ResourceState] = {}
        with gc_paused():
            raw = _json(every, f"{self.where}: resources")
            for address, data in raw.items():
                resource = codec.fast_resource(address, data)
                if resource is None:
                    try:
                        resource = codec.parse_resource(address, data, "resource")
                    except ValueError as exc:
                        raise StateError(f"{self.where}: resources row {address!r}: {exc}") from None
                resources[address] = resource
        ledger.load_base(lineage, serial, resources, raw)
        self._seq = 0
        self._replay(journal)
        self._seq = int(last)
        self._loaded = True

    def _replay(self, rows: Iterable[tuple[Any, ...]]) -> None:
        ledger = self._ledger
        for seq, op, serial, address, intent_id, text in rows:
            where = f"{self.where}: journal row {seq}"
            data = _json(text, where) if text is not None else None
            try:
                if op in ("record", "forget"):
                    resource = codec.parse_resource(address, data, "record.resource") if op == "record" else None
                    ledger.replay_change(int(serial), address, resource, data, where)
                elif op == "intent":
                    if not isinstance(data, dict):
                        raise ValueError("intent: expected an object")
                    ledger.replay_intent(codec.parse_intent(data, "intent"))
                else:
                    ledger.replay_outcome(str(intent_id))
            except ValueError as exc:
                raise StateError(f"{where}: {exc}") from None
            self._seq = max(self._seq, int(seq))

    def _follow(self, conn: Any, header: tuple[str, int]) -> None:
        """Replay journal rows written since the mirror's last one (or reload everything)."""
        ledger = self._ledger
        lineage, serial = header
        if not self._loaded or lineage != ledger.lineage or serial < ledger.serial:
            self._load(conn, header)
            return
        rows = conn.execute(
            sql.SQL(
                "SELECT seq, op, serial, address, intent_id, data::text FROM {} "
                "WHERE workspace = %s AND seq > %s ORDER BY seq"
            ).format(self._t["journal"]),
            (self.target.workspace, self._seq),
        ).fetchall()
        try:
            self._replay(rows)
        except Mismatch:
            self._load(conn, header)
            return
        if ledger.serial != serial:  # the journal was trimmed since we last looked
            self._load(conn, header)

    def _sync(self, what: str = "cannot read the state") -> None:
        with self._db(what) as conn:
            try:
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    self._follow(conn, self._header(conn))
            except BaseException:
                self._loaded = False
                raise

    # -- writing ---------------------------------------------------------------------------------

    @contextmanager
    def _write(self, what: str, bump: int = 0) -> Iterator[tuple[Any, int]]:
        """A write transaction: the header row locked (serial + ``bump``), the mirror up to date,
        the lock checked. Yields (connection, the serial before this write)."""
        with self._db(what) as conn:
            try:
                with conn.transaction():
                    lineage, serial = self._header(conn, for_update=True, bump=bump)
                    self._follow(conn, (lineage, serial - bump))
                    self._check_writable(conn)
                    yield conn, serial - bump
            except BaseException:
                self._loaded = False  # the mirror may hold what was rolled back
                raise

    def _check_writable(self, conn: Any) -> None:
        if self._held is not None:
            return
        (free,) = conn.execute("SELECT pg_try_advisory_xact_lock_shared(%s::int4, %s::int4)", self.target.lock_key).fetchone()
        if not free:
            raise LockError(f"refusing to write {self.where}: {self._locked_message(conn)}")

    def _journal(self, conn: Any, op: str, *, serial: int | None = None, address: str | None = None,
                 intent_id: str | None = None, data: str | None = None) -> int:
        (seq,) = conn.execute(
            sql.SQL(
                "INSERT INTO {} (workspace, op, serial, address, intent_id, data) "
                "VALUES (%s, %s, %s, %s, %s, %s::jsonb) RETURNING seq"
            ).format(self._t["journal"]),
            (self.target.workspace, op, serial, address, intent_id, data),
        ).fetchone()
        return int(seq)

    def _fast(self) -> bool:
        """Holding the lock, this instance is the only writer and its mirror is current: each
        write is one statement (its own transaction), with no journal rows to follow first."""
        return self._held is not None and self._loaded

    def _applied(self, serial: int, seq: int, address: str, resource: ResourceState | None, raw: Any) -> None:
        """Mirror a change this instance just committed (under the mutex)."""
        if serial == self._ledger.serial + 1:
            self._ledger.apply_change(serial, address, resource, raw)
            self._seq = max(self._seq, seq)
        else:  # pragma: no cover - someone wrote beside us: read everything again
            self._loaded = False

    def record(self, resource: ResourceState) -> int:
        return self.record_many([resource])

    def record_many(self, resources: Iterable[ResourceState]) -> int:
        """Record resources; each gets its own serial and journal row, as if recorded one by one
        (several in one transaction)."""
        prepared = [codec.resource_entry(rs) for rs in resources]
        if not prepared:
            return self.read().serial
        what = f"cannot record {prepared[0][1].address}"
        with self._mutex:
            if len(prepared) == 1 and self._fast():
                text, canonical, raw = prepared[0]
                with self._db(what) as conn:
                    serial, seq = conn.execute(
                        self._sql(RECORD_ONE), {"ws": self.target.workspace, "address": canonical.address, "data": text}
                    ).fetchone()
                    self._applied(int(serial), int(seq), canonical.address, canonical, raw)
                return int(serial)
            with self._write(what, bump=len(prepared)) as (conn, before):
                rows = [(self.target.workspace, c.address, before + n, text) for n, (text, c, _raw) in enumerate(prepared, 1)]
                with conn.cursor() as cur:
                    cur.executemany(
                        sql.SQL(
                            "INSERT INTO {} (workspace, address, serial, data) VALUES (%s, %s, %s, %s::jsonb) "
                            "ON CONFLICT (workspace, address) DO UPDATE SET serial = EXCLUDED.serial, data = EXCLUDED.data"
                        ).format(self._t["resources"]),
                        rows,
                    )
                    cur.executemany(
                        sql.SQL(
                            "INSERT INTO {} (workspace, op, serial, address, data) VALUES (%s, 'record', %s, %s, %s::jsonb)"
                        ).format(self._t["journal"]),
                        [(w, s, a, t) for w, a, s, t in rows],
                    )
                (last,) = conn.execute(
                    sql.SQL("SELECT max(seq) FROM {} WHERE workspace = %s").format(self._t["journal"]),
                    (self.target.workspace,),
                ).fetchone()
                for n, (_text, canonical, raw) in enumerate(prepared, 1):
                    self._ledger.apply_change(before + n, canonical.address, canonical, raw)
                self._seq = int(last)
            return before + len(prepared)

    def forget(self, address: str) -> int:
        if not isinstance(address, str) or not address:
            raise StateError("cannot forget a resource without an address")
        what = f"cannot forget {address}"
        with self._mutex:
            if self._fast():
                with self._db(what) as conn:
                    serial, seq = conn.execute(
                        self._sql(FORGET_ONE), {"ws": self.target.workspace, "address": address}
                    ).fetchone()
                    self._applied(int(serial), int(seq), address, None, None)
                return int(serial)
            with self._write(what, bump=1) as (conn, before):
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE workspace = %s AND address = %s").format(self._t["resources"]),
                    (self.target.workspace, address),
                )
                seq = self._journal(conn, "forget", serial=before + 1, address=address)
                self._ledger.apply_change(before + 1, address, None, None)
                self._seq = seq
            return before + 1

    def begin_intent(self, intent: Intent) -> None:
        data, canonical = codec.intent_entry(intent)
        what = f"cannot journal intent for {intent.address}"
        with self._mutex:
            if self._fast():
                self._ledger.check_begin(intent.id, f"of {self.where}")
                with self._db(what) as conn:
                    seq = self._journal(conn, "intent", address=intent.address, intent_id=intent.id, data=codec.dumps(data))
                    self._ledger.replay_intent(canonical)
                    self._seq = max(self._seq, seq)
                return
            with self._write(what) as (conn, _):
                self._ledger.check_begin(intent.id, f"of {self.where}")
                seq = self._journal(conn, "intent", address=intent.address, intent_id=intent.id, data=codec.dumps(data))
                self._ledger.replay_intent(canonical)
                self._seq = seq

    def end_intent(self, intent_id: str, outcome: str) -> None:
        codec.check_outcome(outcome)
        what = f"cannot journal the outcome of intent {intent_id}"
        with self._mutex:
            if self._fast():
                if not self._ledger.needs_outcome(intent_id, f"of {self.where}"):
                    return  # already ended: nothing more to make durable
                with self._db(what) as conn:
                    seq = self._journal(conn, "outcome", intent_id=intent_id, data=codec.dumps({"outcome": outcome}))
                    self._ledger.replay_outcome(intent_id)
                    self._seq = max(self._seq, seq)
                return
            with self._write(what) as (conn, _):
                if not self._ledger.needs_outcome(intent_id, f"of {self.where}"):
                    return  # already ended: nothing more to make durable
                seq = self._journal(conn, "outcome", intent_id=intent_id, data=codec.dumps({"outcome": outcome}))
                self._ledger.replay_outcome(intent_id)
                self._seq = seq

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(**{name[0]: table for name, table in self._t.items()})

    def restore(self, dump: StateDump) -> None:
        entries = [codec.resource_entry(rs) for rs in dump.resources.values()]
        intents = [codec.intent_entry(i) for i in dump.intents]
        with self._write("cannot replace the state") as (conn, _):
            ws = self.target.workspace
            conn.execute(
                sql.SQL("UPDATE {} SET lineage = %s, serial = %s, updated = now() WHERE workspace = %s").format(
                    self._t["workspaces"]
                ),
                (dump.lineage, dump.serial, ws),
            )
            for table in ("resources", "journal"):
                conn.execute(sql.SQL("DELETE FROM {} WHERE workspace = %s").format(self._t[table]), (ws,))
            with conn.cursor() as cur:
                with cur.copy(
                    sql.SQL("COPY {} (workspace, address, serial, data) FROM STDIN").format(self._t["resources"])
                ) as copy:
                    for text, canonical, _raw in entries:
                        copy.write_row((ws, canonical.address, dump.serial, text))
                cur.executemany(
                    sql.SQL(
                        "INSERT INTO {} (workspace, op, address, intent_id, data) VALUES (%s, 'intent', %s, %s, %s::jsonb)"
                    ).format(self._t["journal"]),
                    [(ws, c.address, c.id, codec.dumps(d)) for d, c in intents],
                )
        self._loaded = False

    def trim_journal(self) -> None:
        """Drop applied changes and finished intents from the journal (unfinished intents stay)."""
        with self._write("cannot trim the journal") as (conn, _):
            conn.execute(
                sql.SQL(
                    "DELETE FROM {j} WHERE workspace = %s AND (op <> 'intent' OR intent_id IN "
                    "(SELECT intent_id FROM {j} WHERE workspace = %s AND op = 'outcome'))"
                ).format(j=self._t["journal"]),
                (self.target.workspace, self.target.workspace),
            )

    # -- lock ------------------------------------------------------------------------------------

    def _lock_row(self, conn: Any) -> tuple[LockInfo, int] | None:
        row = conn.execute(
            sql.SQL(
                "SELECT id, holder, pid, operation, started, pid_scope, session_pid FROM {} WHERE workspace = %s"
            ).format(self._t["locks"]),
            (self.target.workspace,),
        ).fetchone()
        if row is None:
            return None
        lock_id, who, pid, operation, started, scope, session = row
        return LockInfo(lock_id, who, int(pid), operation, started, scope), int(session)

    def _holder_session(self, conn: Any) -> int | None:
        row = conn.execute(HOLDER_PID, self.target.lock_key).fetchone()
        return int(row[0]) if row else None

    def _live_holder(self, conn: Any) -> tuple[LockInfo | None, int | None]:
        """(the lock row, if it is the live holder's; the session holding the advisory lock)."""
        for attempt in range(10):
            session = self._holder_session(conn)
            row = self._lock_row(conn)
            if session is None:
                return None, None
            if row is not None and row[1] == session:
                return row[0], session
            time.sleep(0.01 * (attempt + 1))  # the holder got the lock and is writing its row
        return None, session

    def _locked_message(self, conn: Any, waited: float = 0.0) -> str:
        holder, session = self._live_holder(conn)
        if holder is None:
            return (
                f"state {self.where} is locked by PostgreSQL session {session} (it has not named itself yet); "
                "wait for it to finish, or use --lock-timeout SECONDS to wait for it"
            )
        return holders.held_message(self.where, holder, waited, holders.Liveness.ALIVE)

    def acquire_lock(self, operation: str, timeout: float = 0.0) -> LockInfo:
        info = holders.new_lock(operation)
        key = self.target.lock_key
        with self._db("cannot take the state lock") as conn:
            if self._held is not None:
                raise LockError(f"state {self.where} is already locked by this process (lock {self._held})")
            self._header(conn)  # the workspace row exists before its lock row
            if timeout > 0:
                try:
                    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{int(timeout * 1000)}ms")))
                    conn.execute("SELECT pg_advisory_lock(%s::int4, %s::int4)", key)
                    got = True
                except psycopg.errors.LockNotAvailable:
                    got = False
                finally:
                    conn.execute("RESET lock_timeout")
            else:
                (got,) = conn.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", key).fetchone()
            if not got:
                raise LockError(self._locked_message(conn, max(0.0, timeout)))
            try:
                with conn.transaction():
                    stale = self._lock_row(conn)
                    conn.execute(
                        sql.SQL(
                            "INSERT INTO {} (workspace, id, holder, pid, host, operation, started, pid_scope, session_pid) "
                            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, pg_backend_pid()) ON CONFLICT (workspace) DO UPDATE SET "
                            "id = EXCLUDED.id, holder = EXCLUDED.holder, pid = EXCLUDED.pid, host = EXCLUDED.host, "
                            "operation = EXCLUDED.operation, started = EXCLUDED.started, pid_scope = EXCLUDED.pid_scope, "
                            "session_pid = EXCLUDED.session_pid"
                        ).format(self._t["locks"]),
                        (self.target.workspace, info.id, info.who, info.pid, info.who.rpartition("@")[2],
                         info.operation, info.created, info.pid_scope),
                    )
            except BaseException:
                conn.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", key)
                raise
            self._held = info.id
        if stale is not None:
            self.cleared_stale_lock(stale[0], "its database session has ended")
        return info

    def release_lock(self, lock: LockInfo) -> None:
        with self._mutex:
            if self._held != lock.id:
                return
            if self._lost_lock or self._conn is None or self._conn.closed:
                self._held, self._lost_lock = None, False  # its session is gone, and the lock with it
                return
            try:
                self.trim_journal()
            except StateError:
                pass  # the journal still holds everything: trimmed next time
            try:
                with self._db("cannot release the state lock") as conn:
                    conn.execute(
                        sql.SQL("DELETE FROM {} WHERE workspace = %s AND id = %s").format(self._t["locks"]),
                        (self.target.workspace, lock.id),
                    )
                    conn.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", self.target.lock_key)
            finally:
                self._held = None

    def current_lock(self) -> LockInfo | None:
        with self._db("cannot read the state lock") as conn:
            return self._live_holder(conn)[0]

    def force_unlock(self, lock_id: str, *, force: bool = False) -> None:
        with self._db("cannot unlock the state") as conn:
            found = self._lock_row(conn)
            if found is None:
                raise LockError(f"state {self.where} is not locked (no lock {lock_id})")
            row, session = found
            if row.id != lock_id:
                raise LockError(
                    f"lock id {lock_id} does not match the lock on {self.where}: {row.describe()}; nothing removed"
                )
            if self._held == lock_id:
                self.release_lock(row)
                return
            if self._holder_session(conn) == session:
                if not force:
                    raise LockError(holders.refuse_live_unlock(
                        self.where, row, f"its database session (PostgreSQL pid {session}) is still connected"
                    ))
                (ended,) = conn.execute("SELECT pg_terminate_backend(%s, 5000)", (session,)).fetchone()
                if not ended:
                    raise LockError(f"could not end the holder's database session (PostgreSQL pid {session})")
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s AND id = %s").format(self._t["locks"]),
                (self.target.workspace, lock_id),
            )


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # pragma: no cover - jsonb is always valid JSON
        raise StateError(f"{where}: invalid JSON ({exc})") from None
