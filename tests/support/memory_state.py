"""An in-memory :class:`StateBackend` for engine unit tests (no files, same contract).

It keeps the durability contract's observable behaviour: ``record``/``forget`` bump the serial,
intents stay "unfinished" until ``end_intent``, and the lock names its holder. ``simulate_crash``
returns a fresh backend holding the same resources and journal, as the next process would see it.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import replace

from reconciler.errors import LockError, StateError
from reconciler.state.base import Intent, LockInfo, ResourceState, StateBackend, StateDump, StateSnapshot


class MemoryStateBackend(StateBackend):
    def __init__(self) -> None:
        super().__init__()
        self.lineage = str(uuid.uuid4())
        self.serial = 0
        self.resources: dict[str, ResourceState] = {}
        self.intents: dict[str, Intent] = {}
        self.outcomes: dict[str, str] = {}
        self.journal: list[tuple[str, str]] = []  # (event, intent id) in order
        self._lock_info: LockInfo | None = None
        self._mutex = threading.Lock()

    @property
    def where(self) -> str:
        return "memory"

    def read(self) -> StateSnapshot:
        with self._mutex:
            return StateSnapshot(self.lineage, self.serial, dict(self.resources))

    def record(self, resource: ResourceState) -> int:
        with self._mutex:
            self.resources[resource.address] = resource
            self.serial += 1
            return self.serial

    def forget(self, address: str) -> int:
        with self._mutex:
            self.resources.pop(address, None)
            self.serial += 1
            return self.serial

    def begin_intent(self, intent: Intent) -> None:
        with self._mutex:
            if intent.id in self.intents:
                raise StateError(f"intent {intent.id} already journaled")
            self.intents[intent.id] = intent
            self.journal.append(("begin", intent.id))

    def end_intent(self, intent_id: str, outcome: str) -> None:
        with self._mutex:
            if intent_id not in self.intents:
                raise StateError(f"no intent {intent_id} in the journal")
            self.outcomes[intent_id] = outcome
            self.journal.append((outcome, intent_id))

    def unfinished_intents(self) -> list[Intent]:
        with self._mutex:
            return [i for iid, i in self.intents.items() if iid not in self.outcomes]

    def acquire_lock(self, operation: str, timeout: float = 0.0) -> LockInfo:
        with self._mutex:
            if self._lock_info is not None:
                raise LockError(f"state is locked: {self._lock_info.describe()}")
            self._lock_info = LockInfo(uuid.uuid4().hex[:12], "tester@localhost", os.getpid(), operation, "now")
            return self._lock_info

    def release_lock(self, lock: LockInfo) -> None:
        with self._mutex:
            if self._lock_info is not None and self._lock_info.id == lock.id:
                self._lock_info = None

    def current_lock(self) -> LockInfo | None:
        return self._lock_info

    def restore(self, dump: StateDump) -> None:
        with self._mutex:
            self.lineage, self.serial = dump.lineage, dump.serial
            self.resources = dict(dump.resources)
            self.intents = {i.id: i for i in dump.intents}
            self.outcomes = {}

    def force_unlock(self, lock_id: str, *, force: bool = False) -> None:
        with self._mutex:
            if self._lock_info is None or self._lock_info.id != lock_id:
                raise LockError(f"no lock with id {lock_id}")
            self._lock_info = None

    def simulate_crash(self) -> MemoryStateBackend:
        """What the next process sees: same resources and journal, no lock."""
        other = MemoryStateBackend()
        other.lineage, other.serial = self.lineage, self.serial
        other.resources = {k: replace(v) for k, v in self.resources.items()}
        other.intents = dict(self.intents)
        other.outcomes = dict(self.outcomes)
        other.journal = list(self.journal)
        return other
