"""State: what reconciler knows it manages. The backend interface and its values.

State maps each managed address to its remote id, last-applied spec, version/fingerprint,
dependencies and lifecycle flags, under a ``lineage`` (fixed at creation) and a ``serial``
(bumped on every write). Saved plans record lineage+serial; ``apply FILE`` refuses a plan whose
numbers no longer match.

Durability contract (DESIGN §3), which every backend must keep (the rules they share are in
:mod:`reconciler.state.ledger`, the stored JSON in :mod:`reconciler.state.codec`, lock holders in
:mod:`reconciler.state.holders`):

- every resource change is durable before the next write begins (``record`` returns only once
  it is persisted);
- before each remote write the executor records an *intent* in the journal; after it, the
  *outcome*. Intents without outcome after a crash are returned by ``unfinished_intents`` so the
  engine can look the object up by natural key and adopt it instead of creating twice;
- one writer at a time: ``lock`` fails at once naming the holder (or waits ``timeout``); a lock
  left by a holder that is known to be dead is cleared and *said* (``broken_locks``, and the
  reporter set with :meth:`StateBackend.set_reporter`, which the CLI points at its warnings).

The engine only talks to :class:`StateBackend`. Backends: ``reconciler.state.local`` (files) and
``reconciler.state.postgres`` (PostgreSQL, advisory locks); ``reconciler.state.open_backend``
picks one from the workspace's ``state:`` block.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResourceState:
    """One managed object, as last applied."""

    address: str
    provider: str
    kind: str
    remote_id: str
    applied_spec: Mapping[str, Any]  # resolved spec (refs replaced by ids) as last applied
    fingerprint: str  # of the normalised live object after the last write/read
    version: int | None = None
    parent_ids: Mapping[str, str] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    prevent_destroy: bool = False
    on_delete: str | None = None
    status: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "provider": self.provider,
            "kind": self.kind,
            "remote_id": self.remote_id,
            "applied_spec": dict(self.applied_spec),
            "fingerprint": self.fingerprint,
        }
        if self.version is not None:
            data["version"] = self.version
        if self.parent_ids:
            data["parent_ids"] = dict(self.parent_ids)
        if self.dependencies:
            data["dependencies"] = list(self.dependencies)
        if self.prevent_destroy:
            data["prevent_destroy"] = True
        if self.on_delete:
            data["on_delete"] = self.on_delete
        if self.status:
            data["status"] = self.status
        return data

    @classmethod
    def from_json(cls, address: str, data: Mapping[str, Any]) -> ResourceState:
        return cls(
            address=address,
            provider=data["provider"],
            kind=data["kind"],
            remote_id=str(data["remote_id"]),
            applied_spec=data.get("applied_spec", {}),
            fingerprint=data.get("fingerprint", ""),
            version=data.get("version"),
            parent_ids=data.get("parent_ids", {}),
            dependencies=tuple(data.get("dependencies", ())),
            prevent_destroy=bool(data.get("prevent_destroy", False)),
            on_delete=data.get("on_delete"),
            status=data.get("status"),
        )


@dataclass(frozen=True)
class StateSnapshot:
    lineage: str
    serial: int
    resources: Mapping[str, ResourceState]

    def get(self, address: str) -> ResourceState | None:
        return self.resources.get(address)


@dataclass(frozen=True)
class LockInfo:
    """Who holds the state lock. ``id`` is what ``reconciler state unlock`` takes.

    ``pid_scope`` says where ``pid`` means something (this boot of the host and its PID
    namespace, see :mod:`reconciler.state.holders`); empty for locks written before it existed.
    """

    id: str
    who: str  # user@host
    pid: int
    operation: str  # plan | apply | destroy | import | state rm ...
    created: str  # ISO-8601 UTC
    pid_scope: str = ""

    def describe(self) -> str:
        return f"lock {self.id} held by {self.who} (pid {self.pid}) for '{self.operation}' since {self.created}"


@dataclass(frozen=True)
class Intent:
    """A remote write about to happen (journal entry)."""

    id: str
    address: str
    action: str  # create | update | replace | delete
    provider: str
    kind: str
    spec: Mapping[str, Any]  # resolved spec (creates: what to look up by natural key)
    remote_id: str | None = None


@dataclass(frozen=True)
class StateDump:
    """Everything a backend holds, for ``state pull``/``push`` and ``state migrate``: lineage,
    serial, every resource and the unfinished intents."""

    lineage: str
    serial: int
    resources: Mapping[str, ResourceState]
    intents: tuple[Intent, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing recorded yet (a fresh state: its lineage may still be replaced)."""
        return self.serial == 0 and not self.resources and not self.intents


Reporter = Callable[[str], None]


class StateBackend(ABC):
    """Where state, journal and lock live."""

    broken_locks: list[LockInfo]  # locks of dead holders this instance cleared (said through the reporter)
    _reporter: Reporter | None = None

    def __init__(self) -> None:
        self.broken_locks = []

    @property
    @abstractmethod
    def where(self) -> str:
        """Where the state lives, for messages (never a secret: no password)."""

    def set_reporter(self, reporter: Reporter | None) -> None:
        """Where notices go (a stale lock cleared ...); without one they are logged as warnings."""
        self._reporter = reporter

    def report(self, message: str) -> None:
        if self._reporter is not None:
            self._reporter(message)
        else:
            _LOG.warning("%s", message)

    def cleared_stale_lock(self, holder: LockInfo, why: str) -> None:
        """Remember and say that a dead holder's lock was cleared (every command says so)."""
        self.broken_locks.append(holder)
        self.report(f"cleared a stale lock left by a run that is no longer running ({why}): {holder.describe()}")

    def close(self) -> None:
        """Let go of connections and files (the lock is not released: use ``release_lock``)."""
        return None  # nothing held open by default

    @abstractmethod
    def read(self) -> StateSnapshot:
        """Current state (journal outcomes already applied). Creates an empty state if none."""

    @abstractmethod
    def record(self, resource: ResourceState) -> int:
        """Add or replace one resource durably; returns the new serial."""

    @abstractmethod
    def forget(self, address: str) -> int:
        """Remove one resource durably; returns the new serial."""

    @abstractmethod
    def begin_intent(self, intent: Intent) -> None:
        """Durably journal a write before it is sent."""

    @abstractmethod
    def end_intent(self, intent_id: str, outcome: str) -> None:
        """Durably journal a write's outcome: ``done`` | ``failed`` | ``recovered``."""

    @abstractmethod
    def unfinished_intents(self) -> list[Intent]:
        """Intents with no outcome (a crash happened mid-write)."""

    @abstractmethod
    def acquire_lock(self, operation: str, timeout: float = 0.0) -> LockInfo:
        """Take the lock or raise LockError naming the holder (after waiting ``timeout`` s)."""

    @abstractmethod
    def release_lock(self, lock: LockInfo) -> None: ...

    @abstractmethod
    def current_lock(self) -> LockInfo | None: ...

    @abstractmethod
    def force_unlock(self, lock_id: str, *, force: bool = False) -> None:
        """Remove a lock by id (``reconciler state unlock``); LockError if the id differs, or if
        its holder is known to be alive and not ``force``."""

    def dump(self) -> StateDump:
        """Everything this backend holds (take the lock first for a consistent copy)."""
        snapshot = self.read()
        return StateDump(snapshot.lineage, snapshot.serial, snapshot.resources, tuple(self.unfinished_intents()))

    @abstractmethod
    def restore(self, dump: StateDump) -> None:
        """Replace everything by ``dump``, its lineage and serial included, in one durable step
        (the caller holds the lock). Used by ``state push`` and ``state migrate``."""

    @contextmanager
    def locked(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        info = self.acquire_lock(operation, timeout)
        try:
            yield info
        finally:
            self.release_lock(info)
