"""A small provider whose "remote API" is a JSON file: it stands in for a vendor in engine tests.

Several processes see the same remote data (the file is guarded by ``filelock``), so CLI tests can
run ``apply`` in a subprocess, SIGKILL it and run it again. Kinds:

- ``Folder`` {name, color (red|green|blue), size, labels (map), region (immutable: eu|us)};
  natural key (name). Deleting a folder that still holds items fails with HTTP 409.
- ``Item`` {name, folder_id (ref to a Folder), price (stored as a money string, read back as a
  number: a vendor quirk the provider normalises), tags (list)}; natural key (folder_id, name).

Names are not unique remotely (like the real APIs), so a blindly retried create shows up as a
duplicate. Every write bumps an integer ``version``; ``update``/``delete`` with a stale VERSION
precondition raise :class:`PreconditionFailed`.

Options (``ProviderConfig.options``):

- ``data_file``: the remote data (default ``<workspace>/.memory-remote.json``).
- ``block_after_create`` + ``signal_file``: after creating the object with that name remotely,
  touch ``reached_file`` (default ``<signal_file>.reached``) and wait until ``signal_file``
  exists before returning: a test can SIGKILL between the remote create and the state record.
- ``fail_rate`` (0..1), ``seed``, ``fail_mode`` (``before`` | ``after`` | ``mixed``): writes raise
  ServerError or RateLimitedError at random; ``after`` means the write landed but its answer was
  lost. ``retry_after`` (seconds) goes on injected 429s.
- ``latency``: seconds each call takes (outside the lock, so concurrent calls overlap).
- ``history`` (default true): record who/when/old/new for every change.
- ``versioned`` (default true): with false, reads carry no version, so the engine guards writes
  with fingerprints (like an API without optimistic locking).

Test helpers: :meth:`MemoryProvider.fail_next` (one-shot faults), :meth:`edit_out_of_band`,
:meth:`delete_out_of_band`, :meth:`objects`, :meth:`stats`, ``calls`` and ``max_in_flight``.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from filelock import FileLock
from jsonschema import Draft202012Validator

from reconciler.errors import APIError, NotFoundError, RateLimitedError, ServerError
from reconciler.model import HistoryEntry, LiveObject
from reconciler.providers.base import (
    KindInfo,
    Precondition,
    PreconditionFailed,
    PreconditionKind,
    Provider,
    ProviderConfig,
    natural_key_of,
)

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / "memory"
ENDPOINT = "memory://local"


def _schema(kind: str) -> dict[str, Any]:
    with (SCHEMA_DIR / f"{kind}.schema.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


KINDS: dict[str, KindInfo] = {
    "Folder": KindInfo(
        name="Folder",
        schema=_schema("Folder"),
        natural_key=("name",),
        immutable_fields=frozenset({"region"}),
    ),
    "Item": KindInfo(
        name="Item",
        schema=_schema("Item"),
        natural_key=("folder_id", "name"),
        parent_field="folder_id",
    ),
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "Folder": {"color": "blue", "size": 0, "labels": {}, "region": "eu"},
    "Item": {"price": "0.00", "tags": []},
}
PREFIX = {"Folder": "folder", "Item": "item"}


@dataclass
class _Fault:
    op: str
    after: bool
    error: str
    name: str | None
    times: int


class MemoryProvider(Provider):
    """The ``memory`` provider: remote objects live in a JSON file shared by processes."""

    name = "memory"
    kinds = KINDS

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        opts = config.options
        self.data_file = Path(opts.get("data_file") or (config.workspace_dir / ".memory-remote.json"))
        self._file_lock = FileLock(str(self.data_file) + ".lock")
        self._lock = threading.Lock()
        self.block_after_create: str | None = opts.get("block_after_create")
        self.signal_file = Path(opts["signal_file"]) if opts.get("signal_file") else None
        reached = opts.get("reached_file") or (f"{self.signal_file}.reached" if self.signal_file else None)
        self.reached_file = Path(reached) if reached else None
        self.block_timeout = float(opts.get("block_timeout", 120.0))
        self.fail_rate = float(opts.get("fail_rate", 0.0))
        self.fail_mode = str(opts.get("fail_mode", "mixed"))
        self.retry_after = float(opts.get("retry_after", 0.01))
        self.latency = float(opts.get("latency", 0.0))
        self.keep_history = bool(opts.get("history", True))
        self.versioned = bool(opts.get("versioned", True))
        self._random = random.Random(opts.get("seed", 0))
        self._faults: list[_Fault] = []
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    @classmethod
    def at(cls, data_file: str | os.PathLike[str], **options: Any) -> MemoryProvider:
        """A provider on ``data_file`` with the given options (test convenience)."""
        config = ProviderConfig(name="memory", endpoint=ENDPOINT, options={"data_file": str(data_file), **options})
        return cls(config)

    # -- the remote store --------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        if not self.data_file.exists():
            return {"next_id": 1, "objects": {k: {} for k in KINDS}, "history": {}}
        with self.data_file.open(encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
        return data

    def _save(self, data: dict[str, Any]) -> None:
        self.data_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.data_file.parent, prefix=".memory-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, sort_keys=True, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.data_file)

    @contextmanager
    def _store(self) -> Iterator[dict[str, Any]]:
        """The remote data under the cross-process lock; saved when the block ends cleanly."""
        with self._lock, self._file_lock:
            data = self._load()
            yield data
            self._save(data)

    @contextmanager
    def _call(self, op: str) -> Iterator[None]:
        with self._lock:
            self.calls[op] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    # -- faults ---------------------------------------------------------------------------------
    def fail_next(
        self, op: str, *, after: bool = False, error: str = "server", name: str | None = None, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of ``op`` (create|update|delete|read) fail.

        ``after``: the write lands, then the answer is lost. ``error``: server | rate_limited |
        bad_request. ``name``: only for the object with that spec name.
        """
        with self._lock:
            self._faults.append(_Fault(op, after, error, name, times))

    def _faults_for(self, op: str, name: str | None) -> tuple[str | None, str | None]:
        """(error before the write, error after it) for one call: one-shot faults first, then one
        random draw per write call (``fail_rate``), so the sequence is fixed by ``seed``."""
        with self._lock:
            found: list[str | None] = [None, None]
            for after in (False, True):
                for fault in self._faults:
                    if fault.op == op and fault.after == after and fault.name in (None, name):
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                        found[after] = fault.error
                        break
            drawn = found == [None, None] and op != "read" and self.fail_rate > 0
            if drawn and self._random.random() < self.fail_rate:
                mode = self.fail_mode if self.fail_mode != "mixed" else self._random.choice(("before", "after"))
                found[mode == "after"] = self._random.choice(("server", "rate_limited"))
            return found[0], found[1]

    def _raise(self, error: str | None, op: str, url: str, *, after: bool) -> None:
        if error is None:
            return
        method = {"create": "POST", "update": "PUT", "delete": "DELETE", "read": "GET"}[op]
        with self._lock:
            self.errors[error] += 1
            if after:
                self.errors[f"{op}_landed_{error}"] += 1
        if error == "rate_limited":
            raise RateLimitedError("too many requests (injected)", method=method, url=url, status=429,
                                   retry_after=self.retry_after)
        if error == "bad_request":
            raise APIError("bad request (injected)", method=method, url=url, status=400)
        raise ServerError("internal error (injected)", method=method, url=url, status=503)

    # -- value conversions --------------------------------------------------------------------------
    @staticmethod
    def _money(value: Any, url: str) -> str:
        try:
            return f"{Decimal(str(value)):.2f}"
        except InvalidOperation:
            raise APIError(f"price {value!r} is not a number", method="POST", url=url, status=400) from None

    def _to_remote(self, kind: str, fields: Mapping[str, Any], url: str) -> dict[str, Any]:
        out = dict(fields)
        if kind == "Item" and "price" in out:
            out["price"] = self._money(out["price"], url)
        return out

    @staticmethod
    def _from_remote(kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        out = json.loads(json.dumps(fields))
        if kind == "Item" and "price" in out:
            out["price"] = float(out["price"])
        return dict(out)

    def _live(self, kind: str, remote_id: str, record: Mapping[str, Any]) -> LiveObject:
        return LiveObject(
            kind=kind,
            remote_id=remote_id,
            fields=self._from_remote(kind, record["fields"]),
            version=int(record["version"]) if self.versioned else None,
        )

    def _validate(self, kind: str, fields: Mapping[str, Any], method: str, url: str) -> None:
        candidate = self._from_remote(kind, fields)
        errors = sorted(Draft202012Validator(KINDS[kind].schema).iter_errors(candidate), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = ".".join(str(p) for p in first.path) or "(body)"
            raise APIError(f"{where}: {first.message}", method=method, url=url, status=400)

    def _kind(self, kind: str) -> None:
        if kind not in KINDS:
            raise APIError(f"unknown kind {kind!r}", url=f"{ENDPOINT}/{kind}", status=404)

    def _record_history(
        self, data: dict[str, Any], remote_id: str, user: str, action: str,
        old: Mapping[str, Any], new: Mapping[str, Any],
    ) -> None:
        if not self.keep_history:
            return
        when = datetime.now(UTC).isoformat(timespec="microseconds")
        entries = data["history"].setdefault(remote_id, [])
        if action != "update":
            entries.append({"when": when, "user": user, "action": action, "field": None, "old": None, "new": None})
            return
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                entries.append({"when": when, "user": user, "action": action, "field": key,
                                "old": old.get(key), "new": new.get(key)})

    # -- reading ----------------------------------------------------------------------------------
    def read(self, kind: str, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        self._kind(kind)
        with self._call("read"):
            self._raise(self._faults_for("read", None)[0], "read", f"{ENDPOINT}/{kind}", after=False)
            with self._lock, self._file_lock:
                objects = self._load()["objects"].get(kind, {})
            return {rid: self._live(kind, rid, objects[rid]) for rid in sorted(set(remote_ids)) if rid in objects}

    def list_children(self, kind: str, parent_id: str | None) -> list[LiveObject]:
        self._kind(kind)
        with self._call("list"), self._lock, self._file_lock:
            objects = self._load()["objects"].get(kind, {})
        parent_field = KINDS[kind].parent_field
        out = [
            self._live(kind, rid, rec)
            for rid, rec in objects.items()
            if parent_id is None or parent_field is None or rec["fields"].get(parent_field) == parent_id
        ]
        return sorted(out, key=lambda o: _id_order(o.remote_id))

    def find_existing(self, kind: str, specs: Sequence[Mapping[str, Any]]) -> list[list[LiveObject]]:
        """One "find" call (a search endpoint) for all specs, matched on the natural key."""
        self._kind(kind)
        info = KINDS[kind]
        with self._call("find"), self._lock, self._file_lock:
            objects = self._load()["objects"].get(kind, {})
        lives = [self._live(kind, rid, objects[rid]) for rid in sorted(objects, key=_id_order)]
        keys = [natural_key_of(info, self.normalize(kind, spec)) for spec in specs]
        return [[o for o in lives if key is not None and natural_key_of(info, o.fields) == key] for key in keys]

    def history(self, kind: str, remote_id: str) -> list[HistoryEntry]:
        with self._lock, self._file_lock:
            entries = self._load()["history"].get(remote_id, [])
        return [HistoryEntry(**e) for e in entries]

    def normalize(self, kind: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if kind == "Item" and isinstance(out.get("price"), (int, float, str)):
            try:
                out["price"] = float(Decimal(str(out["price"])).quantize(Decimal("0.01")))
            except InvalidOperation:
                pass
        return out

    # -- writing ----------------------------------------------------------------------------------
    def create(self, kind: str, spec: Mapping[str, Any]) -> LiveObject:
        self._kind(kind)
        url = f"{ENDPOINT}/{kind}"
        name = str(spec.get("name"))
        with self._call("create"):
            fail_before, fail_after = self._faults_for("create", name)
            self._raise(fail_before, "create", url, after=False)
            with self._store() as data:
                fields = {**DEFAULTS[kind], **self._to_remote(kind, spec, url)}
                self._validate(kind, fields, "POST", url)
                if kind == "Item" and fields["folder_id"] not in data["objects"]["Folder"]:
                    raise APIError(f"folder_id {fields['folder_id']!r} does not exist", method="POST",
                                   url=url, status=400)
                remote_id = f"{PREFIX[kind]}-{data['next_id']}"
                data["next_id"] += 1
                record = {"fields": fields, "version": 1}
                data["objects"][kind][remote_id] = record
                self._record_history(data, remote_id, "reconciler", "add", {}, fields)
            live = self._live(kind, remote_id, record)
            if self.block_after_create is not None and name == self.block_after_create:
                self._block()
            self._raise(fail_after, "create", url, after=True)
            return live

    def _block(self) -> None:
        if self.reached_file is not None:
            self.reached_file.touch()
        if self.signal_file is None:
            return
        deadline = time.monotonic() + self.block_timeout
        while not self.signal_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    def _check_precondition(self, kind: str, remote_id: str, record: Mapping[str, Any],
                            precondition: Precondition) -> None:
        if precondition.kind is PreconditionKind.VERSION and self.versioned and precondition.value != record["version"]:
            raise PreconditionFailed(
                f"memory.{kind} {remote_id}: version {precondition.value} is stale (current {record['version']})",
                current=self._live(kind, remote_id, record),
            )

    def update(
        self, kind: str, remote_id: str, changes: Mapping[str, Any], precondition: Precondition
    ) -> LiveObject:
        self._kind(kind)
        url = f"{ENDPOINT}/{kind}/{remote_id}"
        with self._call("update"):
            fail_before, fail_after = self._faults_for("update", changes.get("name"))
            self._raise(fail_before, "update", url, after=False)
            with self._store() as data:
                record = data["objects"][kind].get(remote_id)
                if record is None:
                    raise NotFoundError(f"{kind} {remote_id} not found", method="PUT", url=url, status=404)
                self._check_precondition(kind, remote_id, record, precondition)
                remote_changes = self._to_remote(kind, changes, url)
                for field_name in sorted(KINDS[kind].immutable_fields & set(remote_changes)):
                    if remote_changes[field_name] != record["fields"].get(field_name):
                        raise APIError(f"{field_name} is immutable", method="PUT", url=url, status=400)
                new_fields = {**record["fields"], **remote_changes}
                self._validate(kind, new_fields, "PUT", url)
                self._record_history(data, remote_id, "reconciler", "update", record["fields"], new_fields)
                record["fields"] = new_fields
                record["version"] += 1
            live = self._live(kind, remote_id, record)
            self._raise(fail_after, "update", url, after=True)
            return live

    def delete(self, kind: str, remote_id: str, precondition: Precondition) -> None:
        self._kind(kind)
        url = f"{ENDPOINT}/{kind}/{remote_id}"
        with self._call("delete"):
            fail_before, fail_after = self._faults_for("delete", None)
            self._raise(fail_before, "delete", url, after=False)
            with self._store() as data:
                record = data["objects"][kind].get(remote_id)
                if record is None:
                    raise NotFoundError(f"{kind} {remote_id} not found", method="DELETE", url=url, status=404)
                self._check_precondition(kind, remote_id, record, precondition)
                if kind == "Folder" and any(i["fields"].get("folder_id") == remote_id
                                            for i in data["objects"]["Item"].values()):
                    raise APIError(f"folder {remote_id} is not empty", method="DELETE", url=url, status=409)
                del data["objects"][kind][remote_id]
                self._record_history(data, remote_id, "reconciler", "delete", {}, {})
            self._raise(fail_after, "delete", url, after=True)

    # -- test helpers -----------------------------------------------------------------------------
    def edit_out_of_band(self, kind: str, remote_id: str, fields: Mapping[str, Any], user: str = "someone") -> LiveObject:
        """Another writer changes an object (bumps its version, recorded in history as ``user``)."""
        url = f"{ENDPOINT}/{kind}/{remote_id}"
        with self._store() as data:
            record = data["objects"][kind][remote_id]
            new_fields = {**record["fields"], **self._to_remote(kind, fields, url)}
            self._record_history(data, remote_id, user, "update", record["fields"], new_fields)
            record["fields"] = new_fields
            record["version"] += 1
        return self._live(kind, remote_id, record)

    def delete_out_of_band(self, kind: str, remote_id: str, user: str = "someone") -> None:
        with self._store() as data:
            del data["objects"][kind][remote_id]
            self._record_history(data, remote_id, user, "delete", {}, {})

    def objects(self, kind: str) -> list[LiveObject]:
        """Every remote object of ``kind`` (no request counted)."""
        with self._lock, self._file_lock:
            objects = self._load()["objects"].get(kind, {})
        return sorted((self._live(kind, rid, rec) for rid, rec in objects.items()), key=lambda o: _id_order(o.remote_id))

    def stats(self) -> dict[str, int]:
        """Request counters in the executor's error-budget vocabulary."""
        with self._lock:
            return {
                "requests": sum(self.calls.values()),
                "retries": 0,
                "rate_limited": self.errors["rate_limited"],
                "server_errors": self.errors["server"],
                "transport_errors": 0,
            }


def _id_order(remote_id: str) -> tuple[str, int]:
    prefix, _, number = remote_id.rpartition("-")
    return (prefix, int(number) if number.isdigit() else 0)
