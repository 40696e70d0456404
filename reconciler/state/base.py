"""State: what reconciler knows it manages. The backend interface and its values.

State maps each managed address to its remote id, last-applied spec, version/fingerprint,
dependencies and lifecycle flags, under a ``lineage`` (fixed at creation) and a ``serial``
(bumped on every write). Saved plans record lineage+serial; ``apply FILE`` refuses a plan whose
numbers no longer match.

Durability contract (DESIGN §3), which every backend must keep:

- every resource change is durable before the next write begins (``record`` returns only once
  it is persisted);
- before each remote write the executor records an *intent* in the journal; after it, the
  *outcome*. Intents without outcome after a crash are returned by ``unfinished_intents`` so the
  engine can look the object up by natural key and adopt it instead of creating twice;
- one writer at a time: ``lock`` fails at once naming the holder (or waits ``timeout``).

The engine only talks to :class:`StateBackend`; the local file backend lives in
``reconciler.state.local``; a PostgreSQL backend (advisory locks) can implement the same class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


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
    """Who holds the state lock. ``id`` is what ``reconciler state unlock`` takes."""

    id: str
    who: str  # user@host
    pid: int
    operation: str  # plan | apply | destroy | import | state rm ...
    created: str  # ISO-8601 UTC

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


class StateBackend(ABC):
    """Where state, journal and lock live."""

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
    def force_unlock(self, lock_id: str) -> None:
        """Remove a lock by id (``reconciler state unlock``); LockError if the id differs."""

    @contextmanager
    def locked(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        info = self.acquire_lock(operation, timeout)
        try:
            yield info
        finally:
            self.release_lock(info)
