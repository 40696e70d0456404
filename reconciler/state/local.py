"""Local file state backend: a JSON snapshot, a write-ahead journal and a lock file, side by side.

Files (default directory ``.reconciler/`` beside ``reconciler.yaml``; for a state path other than
``state.json`` the journal is ``<stem>.journal.jsonl`` and the lock ``<stem>.lock``):

``state.json`` (the snapshot)
    ``{"format_version": 1, "lineage": "<uuid4>", "serial": N, "resources": {address: ...}}`` where
    each resource is :meth:`ResourceState.to_json` (:mod:`reconciler.state.codec`). Compact JSON with
    sorted keys (deterministic, diffable, well under 2 KB per resource). Always replaced atomically:
    a temp file in the same directory is written, flushed and fsynced, ``os.replace``-d over the old
    one, and the directory is fsynced. ``lineage`` is made once, with the first state, and never
    changes (``state push`` and ``state migrate`` may replace a whole state, lineage included).

``journal.jsonl`` (the write-ahead journal)
    Append-only, one compact JSON object per line, each line flushed and fsynced before the call
    that wrote it returns. Line 1 is a header ``{"op": "header", "lineage", "serial",
    "format_version"}`` naming the snapshot serial the journal continues from. Then:
    ``record`` (serial, address, full resource), ``forget`` (serial, address), ``intent`` (the
    :class:`Intent` fields) and ``outcome`` (intent id + ``done|failed|recovered``).
    ``record``/``forget`` append one durable line and bump the serial by one, so every resource
    change is durable at once for O(1) cost instead of a whole-file rewrite. ``read`` = snapshot +
    replay of the journal by the rules every backend shares (:mod:`reconciler.state.ledger`:
    entries the snapshot already holds are skipped, a gap in serials is an error, intents stay
    unfinished until their outcome). ``record_many`` (bulk import) writes one line per resource
    with a single fsync. Reading a state that does not exist yet writes nothing (``plan`` and
    ``validate`` leave no file behind): it reads as empty, with lineage ``""`` and serial 0. The
    first write creates the file (empty, a fresh lineage) and then bumps the serial, so a plan
    saved against the missing state is stale once anyone else has written one.

Compaction rewrites the snapshot atomically, then rewrites the journal (header + unfinished
intents only), also atomically. It runs on ``release_lock`` and when the journal passes
``compact_every`` (256) entries *and* is at least half the snapshot's size: the second condition
keeps the cost of compaction proportional to what was appended (a 14,000-resource snapshot is
~10 MB; rewriting it every 256 entries would stall a rate-limited apply).

Crash safety: a line counts only once its newline is on disk. A torn last line (crash mid-append)
is ignored and cut off before the next append. Any other unparseable or ill-formed line, a
journal from another lineage or newer than its snapshot, or a snapshot that is not a state (not
JSON, not an object, wrong format_version, missing lineage/serial, a resource entry without
provider/kind/remote_id ...) raises :class:`~reconciler.errors.StateError` naming the file (and
the journal line): never a traceback.

Lock: ``state.lock`` (:mod:`reconciler.state.lockfile`), created with ``O_CREAT|O_EXCL`` and holding
the :class:`LockInfo` as JSON (id, who = user@host, pid, operation, created, pid_scope: see
:mod:`reconciler.state.holders`). A
held lock is a :class:`LockError` naming the holder. **Dead holders are cleared automatically:**
when a command finds the lock taken by a process of the same ``pid_scope`` (this boot of this host,
the same PID namespace) that is no longer running, it removes that lock file and takes the lock,
and says so (a warning naming the cleared lock, through the backend's reporter: every command
that takes the lock prints it). A holder that still runs, or that this process cannot judge
(another host, another container's PID namespace, a lock file without ``pid_scope``), is never
cleared automatically: the message names it and ``reconciler state unlock ID`` removes it (refused
for a holder still running here unless ``--force``). Writes (record/forget/intents) are refused
while another process holds the lock; with no lock at all they are allowed (tools and tests).
Every instance on the same file in one process shares one re-entrant mutex, so the executor's
threads may call record/forget/begin/end concurrently.

Several readers may look at the files while one writer appends: each call re-checks the files
(two ``stat`` calls) and replays only what was appended since. File-system failures (disk full,
a path that is not a directory) are StateErrors naming the file. Nothing here logs resource
contents.

Speed (14,000 realistic resources, ~840 bytes each): loading is dominated by ``json.loads``;
resources are type-checked by :func:`reconciler.state.codec.fast_resource` with the cyclic GC
paused, and saving re-encodes the JSON kept from loading/recording instead of calling ``to_json``
again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import LockError, StateError
from reconciler.fsutil import atomic_write, fsync_dir
from reconciler.gcpause import gc_paused
from reconciler.state import codec, holders
from reconciler.state.base import Intent, LockInfo, ResourceState, StateDump
from reconciler.state.codec import FORMAT_VERSION, OUTCOMES, dumps
from reconciler.state.holders import Liveness
from reconciler.state.ledger import Ledger, MirroredBackend, Mismatch
from reconciler.state.lockfile import LockFile, UnreadableLock, write_all

_LOG = logging.getLogger(__name__)

DEFAULT_STATE_PATH = ".reconciler/state.json"
COMPACT_EVERY = 256

_MUTEXES: dict[str, threading.RLock] = {}
_MUTEXES_GUARD = threading.Lock()


def _mutex_for(path: Path) -> threading.RLock:
    """One re-entrant mutex per state file per process, shared by every instance on it."""
    key = os.path.realpath(path)
    with _MUTEXES_GUARD:
        return _MUTEXES.setdefault(key, threading.RLock())


@contextlib.contextmanager
def _os_errors(what: str) -> Iterator[None]:
    """Turn an OSError (disk full, permissions ...) into a StateError naming the file."""
    try:
        yield
    except OSError as exc:
        raise StateError(f"{what}: {exc.strerror or exc}") from exc


def _snapshot_sig(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class LocalBackend(MirroredBackend):
    """State in local files: see the module docstring for the format and guarantees."""

    def __init__(self, path: Path, *, compact_every: int = COMPACT_EVERY, poll_interval: float = 0.1) -> None:
        super().__init__()
        self.path = Path(path)
        directory = self.path.parent
        stem = self.path.stem or self.path.name
        self.journal_path = directory / ("journal.jsonl" if stem == "state" else f"{stem}.journal.jsonl")
        self.lock_path = directory / f"{stem}.lock"
        self._lock = LockFile(self.lock_path, self.path)
        self._compact_every = max(1, compact_every)
        self._poll_interval = poll_interval
        self._mutex = _mutex_for(self.path)
        self._held: set[str] = set()  # ids of locks this instance took
        self._ledger = Ledger()
        self._reset()

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.path)!r})"

    @property
    def where(self) -> str:
        return str(self.path)

    # -- in-memory mirror of the files ------------------------------------------------------------

    def _reset(self) -> None:
        self._loaded = False
        self._ledger.reset()
        self._snap_sig: tuple[int, int, int, int] | None = None
        self._snap_bytes = 0
        self._journal_id: tuple[int, int] | None = None
        self._journal_offset = 0  # bytes of complete lines consumed
        self._journal_lines = 0  # complete lines consumed (line numbers for messages)
        self._journal_entries = 0  # entries after the header

    def _sync(self) -> None:
        """Bring the mirror up to date with the files (cheap when nothing changed)."""
        try:
            with _os_errors(f"{self.path}: cannot read the state"):
                self._sync_files()
        except BaseException:
            self._loaded = False  # half-replayed: start from the files again next time
            raise

    def _sync_files(self) -> None:
        try:
            st: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if not self._loaded or st is None or _snapshot_sig(st) != self._snap_sig:
            self._load()
            return
        try:
            jst = os.stat(self.journal_path)
        except FileNotFoundError:
            if self._journal_id is not None:
                self._load()
            return
        if (jst.st_dev, jst.st_ino) != self._journal_id or jst.st_size < self._journal_offset:
            self._load()
        elif jst.st_size > self._journal_offset and not self._read_journal():
            self._load()  # replaced between the stat and the open

    def _load(self) -> None:
        for attempt in range(5):
            try:
                self._load_once()
                return
            except Mismatch:
                before = self._snap_sig
                try:
                    now: tuple[int, int, int, int] | None = _snapshot_sig(os.stat(self.path))
                except FileNotFoundError:
                    now = None
                if now == before:
                    raise
                time.sleep(0.005 * (attempt + 1))  # a compaction replaced the files under us
        self._load_once()

    def _load_once(self) -> None:
        self._reset()
        if not self._read_snapshot():
            if self._journal_has_lines():
                raise StateError(
                    f"{self.path}: the state file is missing but its journal {self.journal_path} exists; "
                    "restore the state file (or move the journal away to start from an empty state)"
                )
            self._loaded = True  # nothing on disk: an empty state, lineage "" (see _before_write)
            return
        self._read_journal()
        self._loaded = True

    def _read_snapshot(self) -> bool:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - fstat needs the open handle
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StateError(f"{self.path}: cannot read the state file: {exc.strerror or exc}") from exc
        with handle:
            st = os.fstat(handle.fileno())
            raw = handle.read()
        with gc_paused():
            lineage, serial, resources, raw_resources, _ = codec.decode_document(raw, str(self.path))
        self._ledger.load_base(lineage, serial, resources, raw_resources)
        self._snap_sig = _snapshot_sig(st)
        self._snap_bytes = len(raw)
        return True

    def _journal_has_lines(self) -> bool:
        try:
            return os.stat(self.journal_path).st_size > 0
        except FileNotFoundError:
            return False

    def _create_initial(self) -> None:
        """Write an empty state with a fresh lineage, unless another process just did."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = codec.encode_document(str(uuid.uuid4()), 0, {})
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, self.path)  # atomic create-if-absent: the first creator's lineage wins
            except FileExistsError:
                pass
            except OSError:  # file system without hard links
                os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        fsync_dir(self.path.parent)

    def _read_journal(self) -> bool:
        """Replay complete journal lines appended since the last call.

        Returns False (having read nothing) if the journal is no longer the file read before.
        """
        try:
            handle = open(self.journal_path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return self._journal_id is None  # gone since we read it: reload
        except OSError as exc:
            raise StateError(f"{self.journal_path}: cannot read the journal: {exc.strerror or exc}") from exc
        with handle:
            st = os.fstat(handle.fileno())
            if self._journal_id is not None and (st.st_dev, st.st_ino) != self._journal_id:
                return False
            handle.seek(self._journal_offset)
            raw = handle.read()
        self._journal_id = (st.st_dev, st.st_ino)
        end = raw.rfind(b"\n")
        if end < 0:
            return True  # nothing, or only a torn last line (crash mid-append): ignored
        for line in raw[:end].split(b"\n"):
            self._journal_lines += 1
            if line.strip():
                self._replay(line, self._journal_lines)
        self._journal_offset += end + 1
        return True

    def _replay(self, line: bytes, lineno: int) -> None:
        where = f"{self.journal_path}:{lineno}"
        entry = codec.json_object(line, where, "journal entry")
        op = entry.get("op")
        try:
            if lineno == 1 or op == "header":
                self._replay_header(entry, where, lineno)
                return
            self._journal_entries += 1
            if op in ("record", "forget"):
                self._replay_change(op, entry, where)
            elif op == "intent":
                self._ledger.replay_intent(codec.parse_intent(entry, "intent"))
            elif op == "outcome":
                intent_id = codec.require_str(entry, "id", "outcome")
                outcome = codec.require_str(entry, "outcome", "outcome")
                if outcome not in OUTCOMES:
                    raise ValueError(
                        f"outcome.outcome: expected one of {', '.join(OUTCOMES)}, got '{outcome}'"
                    )
                self._ledger.replay_outcome(intent_id)
            else:
                raise ValueError(f"unknown op {op!r} (expected record, forget, intent or outcome)")
        except ValueError as exc:
            raise StateError(f"{where}: {exc}") from exc

    def _replay_header(self, entry: Mapping[str, Any], where: str, lineno: int) -> None:
        if entry.get("op") != "header" or lineno != 1:
            raise ValueError("a journal header must be line 1, and line 1 must be a header")
        if entry.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported journal format_version {entry.get('format_version')!r}")
        lineage = codec.require_str(entry, "lineage", "header")
        serial = entry.get("serial")
        if not codec.is_int(serial):
            raise ValueError(f"header.serial: expected an integer, got {codec.type_name(serial)}")
        ledger = self._ledger
        if lineage != ledger.lineage:
            raise Mismatch(
                f"{where}: the journal belongs to state lineage {lineage} but {self.path} has lineage "
                f"{ledger.lineage}; they are from different states"
            )
        if serial > ledger.serial:
            raise Mismatch(
                f"{where}: the journal continues from serial {serial} but {self.path} is at serial "
                f"{ledger.serial}: the state file is older than its journal (restored from a backup?)"
            )

    def _replay_change(self, op: str, entry: Mapping[str, Any], where: str) -> None:
        serial = entry.get("serial")
        if not codec.is_int(serial):
            raise ValueError(f"{op}.serial: expected an integer, got {codec.type_name(serial)}")
        address = codec.require_str(entry, "address", op)
        resource = raw = None
        if op == "record":
            if "resource" not in entry:
                raise ValueError("record: missing field 'resource'")
            raw = entry["resource"]
            resource = codec.parse_resource(address, raw, "record.resource")
        self._ledger.replay_change(serial, address, resource, raw, where)

    # -- writing ----------------------------------------------------------------------------------

    def _before_write(self) -> None:
        """Refuse writes while another process holds the lock; make the state file on the first
        write (the caller holds the mutex and has synced)."""
        holder = self._lock.holder()
        if not (holder is None or holder.id in self._held or holders.is_this_process(holder)):
            raise LockError(f"refusing to write {self.path}: {self._held_message(holder)}")
        if self._snap_sig is None:
            with _os_errors(f"{self.path}: cannot create the state file"):
                self._create_initial()
            self._load()
            if self._snap_sig is None:  # pragma: no cover - removed between create and read
                raise StateError(f"{self.path}: the state file vanished while it was being created")

    def _header_line(self) -> str:
        header = {
            "op": "header",
            "format_version": FORMAT_VERSION,
            "lineage": self._ledger.lineage,
            "serial": self._ledger.serial,
        }
        return dumps(header)

    def _append(self, lines: list[str]) -> None:
        """Append ``lines`` as one durable write (header first if the journal has none)."""
        entries = len(lines)
        if self._journal_lines == 0:
            lines = [self._header_line(), *lines]
        payload = "".join(f"{line}\n" for line in lines).encode()
        created = self._journal_id is None
        with _os_errors(f"{self.journal_path}: cannot append to the journal"):
            fd = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                st = os.fstat(fd)
                if st.st_size > self._journal_offset:
                    os.ftruncate(fd, self._journal_offset)  # cut a torn last line before appending
                write_all(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
        if created:
            fsync_dir(self.journal_path.parent)
        self._journal_id = (st.st_dev, st.st_ino)
        self._journal_offset += len(payload)
        self._journal_lines += len(lines)
        self._journal_entries += entries

    def _maybe_compact(self) -> None:
        if self._journal_entries < self._compact_every or self._journal_offset * 2 < self._snap_bytes:
            return
        try:
            self._compact()
        except OSError as exc:  # the journal still holds everything: not fatal
            _LOG.warning("could not compact %s: %s", self.path, exc)

    def _compact(self) -> None:
        ledger = self._ledger
        payload = codec.encode_document(ledger.lineage, ledger.serial, ledger.raw)
        st = atomic_write(self.path, payload)
        self._snap_sig = _snapshot_sig(st)
        self._snap_bytes = len(payload)
        lines = [self._header_line()] + [
            dumps({"op": "intent", **codec.intent_to_json(i)}) for i in ledger.intents.values()
        ]
        journal = "".join(f"{line}\n" for line in lines).encode()
        jst = atomic_write(self.journal_path, journal)
        self._journal_id = (jst.st_dev, jst.st_ino)
        self._journal_offset = len(journal)
        self._journal_lines = len(lines)
        self._journal_entries = len(lines) - 1
        _LOG.debug("compacted %s at serial %d (%d resources)", self.path, ledger.serial, len(ledger.resources))

    def _cleanup_temp_files(self) -> None:
        """Remove temp files a crashed compaction left (only called while holding the lock)."""
        for name in (self.path.name, self.journal_path.name):
            for leftover in self.path.parent.glob(f".{name}.*.tmp"):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def record(self, resource: ResourceState) -> int:
        return self.record_many([resource])

    def record_many(self, resources: Iterable[ResourceState]) -> int:
        """Record several resources with one fsync (bulk import); returns the last serial.

        Each resource still gets its own journal line and serial, as if recorded one by one.
        """
        prepared = [codec.resource_entry(rs) for rs in resources]
        with self._mutex:
            self._sync()
            ledger = self._ledger
            if not prepared:
                return ledger.serial
            self._before_write()
            serial = ledger.serial
            lines = []
            for text, canonical, _raw in prepared:
                serial += 1
                lines.append(
                    f'{{"address":{dumps(canonical.address)},"op":"record","resource":{text},"serial":{serial}}}'
                )
            self._append(lines)
            first = ledger.serial + 1
            for offset, (_text, canonical, raw) in enumerate(prepared):
                ledger.apply_change(first + offset, canonical.address, canonical, raw)
            self._maybe_compact()
            return serial

    def forget(self, address: str) -> int:
        if not isinstance(address, str) or not address:
            raise StateError("cannot forget a resource without an address")
        with self._mutex:
            self._sync()
            self._before_write()
            serial = self._ledger.serial + 1
            self._append([dumps({"op": "forget", "serial": serial, "address": address})])
            self._ledger.apply_change(serial, address, None, None)
            self._maybe_compact()
            return serial

    def begin_intent(self, intent: Intent) -> None:
        data, canonical = codec.intent_entry(intent)
        with self._mutex:
            self._sync()
            self._ledger.check_begin(intent.id, str(self.journal_path))
            self._before_write()
            self._append([dumps({"op": "intent", **data})])
            self._ledger.replay_intent(canonical)
            self._maybe_compact()

    def end_intent(self, intent_id: str, outcome: str) -> None:
        codec.check_outcome(outcome)
        with self._mutex:
            self._sync()
            if not self._ledger.needs_outcome(intent_id, str(self.journal_path)):
                return  # already ended: nothing more to make durable
            self._before_write()
            self._append([dumps({"op": "outcome", "id": intent_id, "outcome": outcome})])
            self._ledger.replay_outcome(intent_id)
            self._maybe_compact()

    def compact(self) -> None:
        """Fold the journal into the snapshot now (keeps unfinished intents)."""
        with self._mutex:
            self._sync()
            self._before_write()
            with _os_errors(f"{self.path}: cannot compact the state"):
                self._compact()

    def restore(self, dump: StateDump) -> None:
        """Replace snapshot and journal by ``dump`` (lineage and serial included)."""
        entries = [codec.resource_entry(rs) for rs in dump.resources.values()]
        intents = [codec.intent_entry(i)[1] for i in dump.intents]
        with self._mutex:
            self._sync()
            self._before_write()
            ledger = self._ledger
            ledger.load_base(
                dump.lineage,
                dump.serial,
                {canonical.address: canonical for _t, canonical, _r in entries},
                {canonical.address: raw for _t, canonical, raw in entries},
            )
            for intent in intents:
                ledger.replay_intent(intent)
            try:
                with _os_errors(f"{self.path}: cannot write the state"):
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._compact()
            finally:
                self._loaded = False  # read the files again next time, whatever happened

    # -- lock -------------------------------------------------------------------------------------

    def _held_message(self, holder: LockInfo, waited: float = 0.0) -> str:
        return holders.held_message(str(self.path), holder, waited, holders.liveness(holder))

    def acquire_lock(self, operation: str, timeout: float = 0.0) -> LockInfo:
        deadline = time.monotonic() + max(0.0, timeout)
        with _os_errors(f"{self.lock_path}: cannot create the lock"):
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            info = holders.new_lock(operation)
            if self._lock.create(info):
                with self._mutex:
                    self._held.add(info.id)
                return info
            dead = self._lock.remove_if_dead()
            if dead is not None:
                self.cleared_stale_lock(dead, f"pid {dead.pid} has exited")
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                holder = self._lock.holder()
                if holder is None:
                    continue  # released just now: try again
                raise LockError(self._held_message(holder, max(0.0, timeout)))
            time.sleep(min(self._poll_interval, remaining))

    def release_lock(self, lock: LockInfo) -> None:
        with self._mutex:
            try:
                holder = self._lock.read()
            except UnreadableLock:
                holder = None
            if holder is None or holder.id != lock.id:
                self._held.discard(lock.id)
                _LOG.warning(
                    "lock %s on %s is no longer ours; leaving the lock file alone", lock.id, self.path
                )
                return
            try:
                self._sync()
                self._cleanup_temp_files()
                if self._journal_entries > len(self._ledger.intents):
                    self._compact()
            except (OSError, StateError) as exc:  # the journal still holds everything
                _LOG.warning("could not compact %s on unlock: %s", self.path, exc)
            finally:
                self._lock.remove()
                self._held.discard(lock.id)

    def current_lock(self) -> LockInfo | None:
        return self._lock.holder()

    def force_unlock(self, lock_id: str, *, force: bool = False) -> None:
        with self._mutex:
            holder = self.current_lock()
            if holder is None:
                raise LockError(f"state {self.path} is not locked (no lock {lock_id})")
            if holder.id != lock_id:
                raise LockError(
                    f"lock id {lock_id} does not match the lock on {self.path}: {holder.describe()}; nothing removed"
                )
            if not force and holders.liveness(holder) is Liveness.ALIVE and holder.id not in self._held:
                raise LockError(
                    holders.refuse_live_unlock(str(self.path), holder, f"process {holder.pid} is still running on this host")
                )
            self._lock.remove()
            self._held.discard(lock_id)
