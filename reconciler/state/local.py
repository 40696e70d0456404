"""Local file state backend: a JSON snapshot, a write-ahead journal and a lock file, side by side.

Files (default directory ``.reconciler/`` beside ``reconciler.yaml``; for a state path other than
``state.json`` the journal is ``<stem>.journal.jsonl`` and the lock ``<stem>.lock``):

``state.json`` (the snapshot)
    ``{"format_version": 1, "lineage": "<uuid4>", "serial": N, "resources": {address: ...}}`` where
    each resource is :meth:`ResourceState.to_json`. Compact JSON with sorted keys (deterministic,
    diffable, well under 2 KB per resource). Always replaced atomically: a temp file in the same
    directory is written, flushed and fsynced, ``os.replace``-d over the old one, and the directory
    is fsynced. ``lineage`` is made once, with the first state, and never changes.

``journal.jsonl`` (the write-ahead journal)
    Append-only, one compact JSON object per line, each line flushed and fsynced before the call
    that wrote it returns. Line 1 is a header ``{"op": "header", "lineage", "serial",
    "format_version"}`` naming the snapshot serial the journal continues from. Then:
    ``record`` (serial, address, full resource), ``forget`` (serial, address), ``intent`` (the
    :class:`Intent` fields) and ``outcome`` (intent id + ``done|failed|recovered``).
    ``record``/``forget`` append one durable line and bump the serial by one, so every resource
    change is durable at once for O(1) cost instead of a whole-file rewrite. ``read`` = snapshot +
    replay of the journal: entries whose serial the snapshot already holds are skipped (that is
    what makes a crash between the two compaction steps harmless), a gap in serials is an error.
    ``unfinished_intents`` are the intents without an outcome line (journal order). Beginning an
    intent id twice is an error; ending one twice is a no-op; ending an unknown id is an error.
    ``record_many`` (bulk import) writes one line per resource with a single fsync. A read of a
    state that does not exist yet creates it (empty, fresh lineage) so that a saved plan's
    lineage stays valid.

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

Lock: ``state.lock``, created with ``O_CREAT|O_EXCL`` and holding the :class:`LockInfo` as JSON
(id, who = user@host, pid, operation, created). A held lock is a :class:`LockError` naming the
holder; if the holder's pid is on this host and no longer running the message says so and how to
clear it (``reconciler state unlock <id>``). Locks are never broken automatically. Writes
(record/forget/intents) are refused while another process holds the lock; with no lock at all
they are allowed (tools and tests). Every instance on the same file in one process shares one
re-entrant mutex, so the executor's threads may call record/forget/begin/end concurrently.

Several readers may look at the files while one writer appends: each call re-checks the files
(two ``stat`` calls) and replays only what was appended since. File-system failures (disk full,
a path that is not a directory) are StateErrors naming the file. Nothing here logs resource
contents.

Speed (14,000 realistic resources, ~840 bytes each): loading is dominated by ``json.loads``;
resources are type-checked by a fast path (:func:`_fast_resource`, the detailed messages come
from :func:`_explain_resource`) with the cyclic GC paused, and saving re-encodes the JSON kept
from loading/recording instead of calling ``to_json`` again.
"""

from __future__ import annotations

import contextlib
import gc
import getpass
import json
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

from filelock import FileLock

from reconciler.errors import LockError, StateError
from reconciler.fsutil import atomic_write, fsync_dir
from reconciler.state.base import Intent, LockInfo, ResourceState, StateBackend, StateSnapshot

_LOG = logging.getLogger(__name__)

FORMAT_VERSION = 1
DEFAULT_STATE_PATH = ".reconciler/state.json"
OUTCOMES = ("done", "failed", "recovered")
COMPACT_EVERY = 256

_SNAPSHOT_KEYS = frozenset({"format_version", "lineage", "serial", "resources"})
_RESOURCE_KEYS = frozenset(
    {
        "provider",
        "kind",
        "remote_id",
        "applied_spec",
        "fingerprint",
        "version",
        "parent_ids",
        "dependencies",
        "prevent_destroy",
        "on_delete",
        "status",
    }
)
_INTENT_KEYS = ("id", "address", "action", "provider", "kind", "spec", "remote_id")

_MUTEXES: dict[str, threading.RLock] = {}
_MUTEXES_GUARD = threading.Lock()


def _mutex_for(path: Path) -> threading.RLock:
    """One re-entrant mutex per state file per process, shared by every instance on it."""
    key = os.path.realpath(path)
    with _MUTEXES_GUARD:
        return _MUTEXES.setdefault(key, threading.RLock())


# -- JSON helpers ------------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_str(data: Mapping[str, Any], key: str, where: str) -> str:
    if key not in data:
        raise ValueError(f"{where}: missing field '{key}'")
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}.{key}: expected a non-empty string, got {_type_name(value)}")
    return value


_MISSING: Any = object()


def _parse_resource(address: str, data: Any, where: str) -> ResourceState:
    """Validate one stored resource entry; ValueError names the offending field."""
    resource = _fast_resource(address, data)
    if resource is None:
        _explain_resource(address, data, where)  # raises with the first bad field
        resource = ResourceState.from_json(address, data)  # pragma: no cover - the two checks agree
    return resource


def _fast_resource(address: Any, data: Any) -> ResourceState | None:
    """What ``ResourceState.from_json`` does, with every type checked; None if anything is off.

    This runs once per resource on every load, so it is written for speed; the messages come
    from :func:`_explain_resource`.
    """
    if type(data) is not dict or type(address) is not str or not address or not data.keys() <= _RESOURCE_KEYS:
        return None
    get = data.get
    provider, kind, remote_id = get("provider"), get("kind"), get("remote_id")
    if type(provider) is not str or not provider or type(kind) is not str or not kind:
        return None
    if type(remote_id) is not str or not remote_id:
        if type(remote_id) is not int:
            return None
        remote_id = str(remote_id)
    spec = get("applied_spec", _MISSING)
    if spec is _MISSING:
        spec = {}
    elif type(spec) is not dict:
        return None
    parents = get("parent_ids", _MISSING)
    if parents is _MISSING:
        parents = {}
    elif type(parents) is not dict:
        return None
    else:
        for value in parents.values():
            if type(value) is not str:
                return None
    dependencies = get("dependencies", ())
    if type(dependencies) is not tuple:
        if type(dependencies) is not list:
            return None
        for value in dependencies:
            if type(value) is not str:
                return None
        dependencies = tuple(dependencies)
    fingerprint, version, prevent = get("fingerprint", ""), get("version"), get("prevent_destroy", False)
    on_delete, status = get("on_delete"), get("status")
    if (
        type(fingerprint) is not str
        or (version is not None and type(version) is not int)
        or type(prevent) is not bool
        or (on_delete is not None and type(on_delete) is not str)
        or (status is not None and type(status) is not str)
    ):
        return None
    return ResourceState(
        address,
        provider,
        kind,
        remote_id,
        spec,
        fingerprint,
        version,
        parents,
        dependencies,
        prevent,
        on_delete,
        status,
    )


def _explain_resource(address: str, data: Any, where: str) -> None:
    """The detailed check: raises ValueError naming the first bad field."""
    if not isinstance(address, str) or not address:
        raise ValueError(f"{where}: the address must be a non-empty string")
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {_type_name(data)}")
    unknown = sorted(set(data) - _RESOURCE_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown field '{unknown[0]}'")
    _require_str(data, "provider", where)
    _require_str(data, "kind", where)
    if "remote_id" not in data:
        raise ValueError(f"{where}: missing field 'remote_id'")
    remote_id = data["remote_id"]
    if not (isinstance(remote_id, str) and remote_id) and not _is_int(remote_id):
        raise ValueError(f"{where}.remote_id: expected a non-empty string, got {_type_name(remote_id)}")
    checks: tuple[tuple[str, Any, str], ...] = (
        ("applied_spec", lambda v: isinstance(v, dict), "an object"),
        ("fingerprint", lambda v: isinstance(v, str), "a string"),
        ("version", lambda v: v is None or _is_int(v), "an integer"),
        (
            "parent_ids",
            lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
            "an object of strings",
        ),
        (
            "dependencies",
            lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
            "an array of strings",
        ),
        ("prevent_destroy", lambda v: isinstance(v, bool), "a boolean"),
        ("on_delete", lambda v: v is None or isinstance(v, str), "a string"),
        ("status", lambda v: v is None or isinstance(v, str), "a string"),
    )
    for key, ok, expected in checks:
        if key in data and not ok(data[key]):
            raise ValueError(f"{where}.{key}: expected {expected}, got {_type_name(data[key])}")


def _intent_to_json(intent: Intent) -> dict[str, Any]:
    return {
        "id": intent.id,
        "address": intent.address,
        "action": intent.action,
        "provider": intent.provider,
        "kind": intent.kind,
        "spec": dict(intent.spec),
        "remote_id": intent.remote_id,
    }


def _parse_intent(data: Mapping[str, Any], where: str) -> Intent:
    for key in ("id", "address", "action", "provider", "kind"):
        _require_str(data, key, where)
    spec = data.get("spec", {})
    if not isinstance(spec, dict):
        raise ValueError(f"{where}.spec: expected an object, got {_type_name(spec)}")
    remote_id = data.get("remote_id")
    if remote_id is not None and not isinstance(remote_id, str) and not _is_int(remote_id):
        raise ValueError(f"{where}.remote_id: expected a string or null, got {_type_name(remote_id)}")
    return Intent(
        id=data["id"],
        address=data["address"],
        action=data["action"],
        provider=data["provider"],
        kind=data["kind"],
        spec=spec,
        remote_id=None if remote_id is None else str(remote_id),
    )


def _parse_lock(raw: bytes) -> LockInfo:
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {_type_name(data)}")
    for key in ("id", "who", "operation", "created"):
        if not isinstance(data.get(key), str):
            raise ValueError(f"field '{key}' is missing or not a string")
    if not _is_int(data.get("pid")):
        raise ValueError("field 'pid' is missing or not an integer")
    return LockInfo(
        id=data["id"], who=data["who"], pid=data["pid"], operation=data["operation"], created=data["created"]
    )


# -- process and file helpers ------------------------------------------------------------------------


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process on this host (unknown counts as alive)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, owned by someone else
        return True
    return True


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


@contextlib.contextmanager
def _os_errors(what: str) -> Iterator[None]:
    """Turn an OSError (disk full, permissions ...) into a StateError naming the file."""
    try:
        yield
    except OSError as exc:
        raise StateError(f"{what}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a large acyclic structure is built (a quarter of the load time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _snapshot_sig(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class _JournalMismatch(StateError):
    """Snapshot and journal do not fit together (may be a reader racing a compaction: retried)."""


class _UnreadableLock(Exception):
    pass


class LocalBackend(StateBackend):
    """State in local files: see the module docstring for the format and guarantees."""

    def __init__(self, path: Path, *, compact_every: int = COMPACT_EVERY, poll_interval: float = 0.1) -> None:
        self.path = Path(path)
        directory = self.path.parent
        stem = self.path.stem or self.path.name
        self.journal_path = directory / ("journal.jsonl" if stem == "state" else f"{stem}.journal.jsonl")
        self.lock_path = directory / f"{stem}.lock"
        self._compact_every = max(1, compact_every)
        self._poll_interval = poll_interval
        self._mutex = _mutex_for(self.path)
        self._held: set[str] = set()  # ids of locks this instance took
        self._ended: set[str] = set()  # intents known to have an outcome (kept across reloads)
        self.broken_locks: list[LockInfo] = []  # stale locks of dead local processes we cleared
        self._reset()

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.path)!r})"

    # -- in-memory mirror of the files ------------------------------------------------------------

    def _reset(self) -> None:
        self._loaded = False
        self._lineage = ""
        self._serial = 0
        self._resources: dict[str, ResourceState] = {}
        self._raw: dict[str, dict[str, Any]] = {}  # the same resources as stored JSON (saves re-encoding)
        self._intents: dict[str, Intent] = {}
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
            except _JournalMismatch:
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
            with _os_errors(f"{self.path}: cannot create the state file"):
                self._create_initial()
            if not self._read_snapshot():  # pragma: no cover - removed between create and read
                raise StateError(f"{self.path}: the state file vanished while it was being created")
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
        with _gc_paused():
            lineage, serial, resources, raw_resources = self._decode_snapshot(raw)
        self._lineage = lineage
        self._serial = serial
        self._resources = resources
        self._raw = raw_resources
        self._snap_sig = _snapshot_sig(st)
        self._snap_bytes = len(raw)
        return True

    def _decode_snapshot(
        self, raw: bytes
    ) -> tuple[str, int, dict[str, ResourceState], dict[str, dict[str, Any]]]:
        where = str(self.path)
        if not raw.strip():
            raise StateError(f"{where}: not a reconciler state file: the file is empty")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
            raise StateError(f"{where}: not a reconciler state file: invalid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise StateError(
                f"{where}: not a reconciler state file: expected a JSON object, got {_type_name(data)}"
            )
        if "format_version" not in data:
            raise StateError(f"{where}: not a reconciler state file: missing field 'format_version'")
        version = data["format_version"]
        if not _is_int(version):
            raise StateError(f"{where}: format_version: expected an integer, got {_type_name(version)}")
        if version > FORMAT_VERSION:
            raise StateError(
                f"{where}: format_version {version} was written by a newer reconciler; "
                f"this version reads format_version {FORMAT_VERSION}"
            )
        if version != FORMAT_VERSION:
            raise StateError(
                f"{where}: unsupported format_version {version}; this version reads format_version {FORMAT_VERSION}"
            )
        unknown = sorted(set(data) - _SNAPSHOT_KEYS)
        if unknown:
            raise StateError(f"{where}: unknown field '{unknown[0]}'")
        try:
            lineage = _require_str(data, "lineage", "state")
            if "serial" not in data:
                raise ValueError("state: missing field 'serial'")
            serial = data["serial"]
            if not _is_int(serial) or serial < 0:
                raise ValueError(f"state.serial: expected a non-negative integer, got {_type_name(serial)}")
            if "resources" not in data:
                raise ValueError("state: missing field 'resources'")
            raw_resources = data["resources"]
            if not isinstance(raw_resources, dict):
                raise ValueError(f"state.resources: expected an object, got {_type_name(raw_resources)}")
            resources = {
                address: _parse_resource(address, entry, f"resources[{address!r}]")
                for address, entry in raw_resources.items()
            }
        except ValueError as exc:
            raise StateError(f"{where}: {exc}") from exc
        return lineage, serial, resources, raw_resources

    def _journal_has_lines(self) -> bool:
        try:
            return os.stat(self.journal_path).st_size > 0
        except FileNotFoundError:
            return False

    def _create_initial(self) -> None:
        """Write an empty state with a fresh lineage, unless another process just did."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = _dumps(
            {"format_version": FORMAT_VERSION, "lineage": str(uuid.uuid4()), "serial": 0, "resources": {}}
        ).encode()
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
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
            raise StateError(f"{where}: not a journal entry: invalid JSON ({exc})") from exc
        if not isinstance(entry, dict):
            raise StateError(f"{where}: not a journal entry: expected a JSON object, got {_type_name(entry)}")
        op = entry.get("op")
        try:
            if lineno == 1 or op == "header":
                self._replay_header(entry, where, lineno)
                return
            self._journal_entries += 1
            if op in ("record", "forget"):
                self._replay_change(op, entry, where)
            elif op == "intent":
                intent = _parse_intent(entry, "intent")
                self._intents[intent.id] = intent
            elif op == "outcome":
                intent_id = _require_str(entry, "id", "outcome")
                outcome = _require_str(entry, "outcome", "outcome")
                if outcome not in OUTCOMES:
                    raise ValueError(
                        f"outcome.outcome: expected one of {', '.join(OUTCOMES)}, got '{outcome}'"
                    )
                self._intents.pop(intent_id, None)
                self._ended.add(intent_id)
            else:
                raise ValueError(f"unknown op {op!r} (expected record, forget, intent or outcome)")
        except ValueError as exc:
            raise StateError(f"{where}: {exc}") from exc

    def _replay_header(self, entry: Mapping[str, Any], where: str, lineno: int) -> None:
        if entry.get("op") != "header" or lineno != 1:
            raise ValueError("a journal header must be line 1, and line 1 must be a header")
        if entry.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported journal format_version {entry.get('format_version')!r}")
        lineage = _require_str(entry, "lineage", "header")
        serial = entry.get("serial")
        if not _is_int(serial):
            raise ValueError(f"header.serial: expected an integer, got {_type_name(serial)}")
        if lineage != self._lineage:
            raise _JournalMismatch(
                f"{where}: the journal belongs to state lineage {lineage} but {self.path} has lineage "
                f"{self._lineage}; they are from different states"
            )
        if serial > self._serial:
            raise _JournalMismatch(
                f"{where}: the journal continues from serial {serial} but {self.path} is at serial "
                f"{self._serial}: the state file is older than its journal (restored from a backup?)"
            )

    def _replay_change(self, op: str, entry: Mapping[str, Any], where: str) -> None:
        serial = entry.get("serial")
        if not _is_int(serial):
            raise ValueError(f"{op}.serial: expected an integer, got {_type_name(serial)}")
        address = _require_str(entry, "address", op)
        if op == "record":
            if "resource" not in entry:
                raise ValueError("record: missing field 'resource'")
            resource = _parse_resource(address, entry["resource"], "record.resource")
        if serial <= self._serial:
            return  # already in the snapshot (a crash between the two steps of a compaction)
        if serial != self._serial + 1:
            raise _JournalMismatch(
                f"{where}: entry has serial {serial} but the state is at serial {self._serial}: entries are missing"
            )
        if op == "record":
            self._resources[address] = resource
            self._raw[address] = entry["resource"]
        else:
            self._resources.pop(address, None)
            self._raw.pop(address, None)
        self._serial = serial

    # -- writing ----------------------------------------------------------------------------------

    def _check_writable(self) -> None:
        """Refuse writes while another process holds the lock."""
        try:
            holder = self._read_lock()
        except _UnreadableLock as exc:
            raise LockError(self._unreadable_lock_message(str(exc))) from None
        if holder is None or holder.id in self._held:
            return
        if holder.pid == os.getpid() and holder.who == _who():
            return  # another instance in this process holds it
        raise LockError(f"refusing to write {self.path}: {self._held_message(holder)}")

    def _append(self, lines: list[str]) -> None:
        """Append ``lines`` as one durable write (header first if the journal has none)."""
        entries = len(lines)
        if self._journal_lines == 0:
            header = {
                "op": "header",
                "format_version": FORMAT_VERSION,
                "lineage": self._lineage,
                "serial": self._serial,
            }
            lines = [_dumps(header), *lines]
        payload = "".join(f"{line}\n" for line in lines).encode()
        created = self._journal_id is None
        with _os_errors(f"{self.journal_path}: cannot append to the journal"):
            fd = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                st = os.fstat(fd)
                if st.st_size > self._journal_offset:
                    os.ftruncate(fd, self._journal_offset)  # cut a torn last line before appending
                _write_all(fd, payload)
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
        snapshot = {
            "format_version": FORMAT_VERSION,
            "lineage": self._lineage,
            "serial": self._serial,
            "resources": self._raw,
        }
        payload = _dumps(snapshot).encode()
        st = atomic_write(self.path, payload)
        self._snap_sig = _snapshot_sig(st)
        self._snap_bytes = len(payload)
        header = {
            "op": "header",
            "format_version": FORMAT_VERSION,
            "lineage": self._lineage,
            "serial": self._serial,
        }
        lines = [_dumps(header)] + [
            _dumps({"op": "intent", **_intent_to_json(i)}) for i in self._intents.values()
        ]
        journal = "".join(f"{line}\n" for line in lines).encode()
        jst = atomic_write(self.journal_path, journal)
        self._journal_id = (jst.st_dev, jst.st_ino)
        self._journal_offset = len(journal)
        self._journal_lines = len(lines)
        self._journal_entries = len(lines) - 1
        _LOG.debug("compacted %s at serial %d (%d resources)", self.path, self._serial, len(self._resources))

    def _cleanup_temp_files(self) -> None:
        """Remove temp files a crashed compaction left (only called while holding the lock)."""
        for name in (self.path.name, self.journal_path.name):
            for leftover in self.path.parent.glob(f".{name}.*.tmp"):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    @staticmethod
    def _resource_line(resource: ResourceState) -> tuple[str, ResourceState, dict[str, Any]]:
        """Validate ``resource``; return its JSON text, its canonical (re-read) form and that JSON."""
        try:
            text = _dumps(resource.to_json())
        except (TypeError, ValueError) as exc:
            raise StateError(f"{resource.address}: the resource cannot be stored as JSON: {exc}") from exc
        raw = json.loads(text)
        try:
            canonical = _parse_resource(resource.address, raw, resource.address or "resource")
        except ValueError as exc:
            raise StateError(f"cannot record {resource.address or 'a resource'}: {exc}") from exc
        return text, canonical, raw

    def record(self, resource: ResourceState) -> int:
        return self.record_many([resource])

    def record_many(self, resources: Iterable[ResourceState]) -> int:
        """Record several resources with one fsync (bulk import); returns the last serial.

        Each resource still gets its own journal line and serial, as if recorded one by one.
        """
        prepared = [self._resource_line(rs) for rs in resources]
        with self._mutex:
            self._sync()
            if not prepared:
                return self._serial
            self._check_writable()
            serial = self._serial
            lines = []
            for text, canonical, _raw in prepared:
                serial += 1
                lines.append(
                    f'{{"address":{_dumps(canonical.address)},"op":"record","resource":{text},"serial":{serial}}}'
                )
            self._append(lines)
            for _text, canonical, raw in prepared:
                self._resources[canonical.address] = canonical
                self._raw[canonical.address] = raw
            self._serial = serial
            self._maybe_compact()
            return serial

    def forget(self, address: str) -> int:
        if not isinstance(address, str) or not address:
            raise StateError("cannot forget a resource without an address")
        with self._mutex:
            self._sync()
            self._check_writable()
            serial = self._serial + 1
            self._append([_dumps({"op": "forget", "serial": serial, "address": address})])
            self._resources.pop(address, None)
            self._raw.pop(address, None)
            self._serial = serial
            self._maybe_compact()
            return serial

    def begin_intent(self, intent: Intent) -> None:
        try:
            text = _dumps({"op": "intent", **_intent_to_json(intent)})
            canonical = _parse_intent(json.loads(text), "intent")
        except (TypeError, ValueError) as exc:
            raise StateError(f"cannot journal intent for {intent.address}: {exc}") from exc
        with self._mutex:
            self._sync()
            if intent.id in self._intents or intent.id in self._ended:
                raise StateError(f"intent {intent.id} is already in the journal {self.journal_path}")
            self._check_writable()
            self._append([text])
            self._intents[canonical.id] = canonical
            self._maybe_compact()

    def end_intent(self, intent_id: str, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        with self._mutex:
            self._sync()
            if intent_id not in self._intents:
                if intent_id in self._ended:
                    return  # already ended: nothing more to make durable
                raise StateError(f"no intent {intent_id} in the journal {self.journal_path}")
            self._check_writable()
            self._append([_dumps({"op": "outcome", "id": intent_id, "outcome": outcome})])
            del self._intents[intent_id]
            self._ended.add(intent_id)
            self._maybe_compact()

    def compact(self) -> None:
        """Fold the journal into the snapshot now (keeps unfinished intents)."""
        with self._mutex:
            self._sync()
            self._check_writable()
            with _os_errors(f"{self.path}: cannot compact the state"):
                self._compact()

    # -- reading ----------------------------------------------------------------------------------

    def read(self) -> StateSnapshot:
        with self._mutex:
            self._sync()
            return StateSnapshot(self._lineage, self._serial, dict(sorted(self._resources.items())))

    def unfinished_intents(self) -> list[Intent]:
        with self._mutex:
            self._sync()
            return list(self._intents.values())

    # -- lock -------------------------------------------------------------------------------------

    def _break_dead_lock(self) -> bool:
        """Remove the lock if its holder ran on this host and is no longer running.

        A lock left by a killed run would otherwise block every later run until someone types
        ``reconciler state unlock``. Only a holder on this very host can be known dead; locks
        from other hosts are never broken. The check-and-remove runs under an OS file lock so two
        runs cannot both break it (and remove a fresh lock taken in between). The broken lock is
        kept in ``broken_locks`` so the CLI can say what it cleared.
        """
        with FileLock(str(self.lock_path) + ".guard"):
            try:
                holder = self._read_lock()
            except _UnreadableLock:
                return False
            same_host = holder is not None and holder.who.rpartition("@")[2] == socket.gethostname()
            if holder is None or not same_host or _pid_alive(holder.pid):
                return False
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.lock_path)
            self.broken_locks.append(holder)
            return True

    def _read_lock(self) -> LockInfo | None:
        """The lock file's holder, or None. Retries briefly: a new lock may be mid-write."""
        detail = ""
        for attempt in range(5):
            try:
                raw = self.lock_path.read_bytes()
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise _UnreadableLock(exc.strerror or str(exc)) from exc
            try:
                return _parse_lock(raw)
            except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
                detail = "empty" if not raw.strip() else str(exc)
            time.sleep(0.01 * (attempt + 1))
        raise _UnreadableLock(detail)

    def _unreadable_lock_message(self, detail: str) -> str:
        return (
            f"state {self.path} is locked by {self.lock_path}, which cannot be read ({detail}); "
            "if no other run is active, delete that file"
        )

    def _held_message(self, holder: LockInfo, waited: float = 0.0) -> str:
        message = f"state {self.path} is locked: {holder.describe()}"
        if waited > 0:
            message += f" (still held after waiting {waited:g}s)"
        host = holder.who.rpartition("@")[2]
        if host == socket.gethostname() and not _pid_alive(holder.pid):
            return (
                f"{message}; the holder process is no longer running; if no other run is active, "
                f"clear it with `reconciler state unlock {holder.id}`"
            )
        if waited > 0:
            return message
        return f"{message}; wait for it to finish, or use --lock-timeout SECONDS to wait for it"

    def acquire_lock(self, operation: str, timeout: float = 0.0) -> LockInfo:
        deadline = time.monotonic() + max(0.0, timeout)
        with _os_errors(f"{self.lock_path}: cannot create the lock"):
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            info = LockInfo(
                id=str(uuid.uuid4()),
                who=_who(),
                pid=os.getpid(),
                operation=operation,
                created=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            )
            try:
                fd = os.open(self.lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if self._break_dead_lock():
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    try:
                        holder = self._read_lock()
                    except _UnreadableLock as exc:
                        raise LockError(self._unreadable_lock_message(str(exc))) from None
                    if holder is None:
                        continue  # released just now: try again
                    raise LockError(self._held_message(holder, max(0.0, timeout))) from None
                time.sleep(min(self._poll_interval, remaining))
                continue
            except OSError as exc:
                raise StateError(f"{self.lock_path}: cannot create the lock: {exc.strerror or exc}") from exc
            try:
                _write_all(fd, (_dumps(asdict(info)) + "\n").encode())
                os.fsync(fd)
            except BaseException as exc:
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(self.lock_path)
                if isinstance(exc, OSError):
                    raise StateError(
                        f"{self.lock_path}: cannot write the lock: {exc.strerror or exc}"
                    ) from exc
                raise
            os.close(fd)
            fsync_dir(self.lock_path.parent)
            with self._mutex:
                self._held.add(info.id)
            return info

    def release_lock(self, lock: LockInfo) -> None:
        with self._mutex:
            try:
                holder = self._read_lock()
            except _UnreadableLock:
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
                if self._journal_entries > len(self._intents):
                    self._compact()
            except (OSError, StateError) as exc:  # the journal still holds everything
                _LOG.warning("could not compact %s on unlock: %s", self.path, exc)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.lock_path)
                fsync_dir(self.lock_path.parent)
                self._held.discard(lock.id)

    def current_lock(self) -> LockInfo | None:
        try:
            return self._read_lock()
        except _UnreadableLock as exc:
            raise LockError(self._unreadable_lock_message(str(exc))) from None

    def force_unlock(self, lock_id: str) -> None:
        with self._mutex:
            holder = self.current_lock()
            if holder is None:
                raise LockError(f"state {self.path} is not locked (no lock {lock_id})")
            if holder.id != lock_id:
                raise LockError(
                    f"lock id {lock_id} does not match the lock on {self.path}: {holder.describe()}; nothing removed"
                )
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.lock_path)
            fsync_dir(self.lock_path.parent)
            self._held.discard(lock_id)
