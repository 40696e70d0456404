"""The replay and bookkeeping rules every state backend shares (one engine, several backends).

A backend stores a *base* (lineage, serial and resources: the local snapshot file, the PostgreSQL
``resources`` rows) and a write-ahead *journal* of what happened since or is under way. Reading it
back means replaying the journal into a :class:`Ledger`, and every write is checked against the
ledger first, whatever the storage:

- a change (``record``/``forget``) carries the serial it produced. One the base already holds
  (``serial <= ledger.serial``) is skipped: that is what makes a crash between writing a new base
  and trimming the journal harmless. The next one must be exactly ``serial + 1``; a gap is a
  :class:`Mismatch` (entries are missing, or a reader raced a writer and must reload);
- an *intent* (a remote write about to be sent) stays unfinished until its *outcome* (``done``,
  ``failed``, ``recovered``); unfinished intents are returned in journal order so a crashed create
  can be found by natural key instead of made twice;
- beginning an intent id twice is an error; ending one twice is a no-op; ending an unknown id is an
  error. Ended ids are remembered across reloads of the same backend instance (the journal may have
  been trimmed in between).

Values are checked by :mod:`reconciler.state.codec` before they reach a ledger.
:class:`MirroredBackend` is the base of the backends that keep such a mirror (all of them).
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from reconciler.errors import StateError
from reconciler.state.base import Intent, ResourceState, StateBackend, StateSnapshot


class Mismatch(StateError):
    """Base and journal do not fit together (may be a reader racing a writer: reload and retry)."""


class Ledger:
    """lineage, serial, resources (with their stored JSON) and unfinished intents, in memory."""

    def __init__(self) -> None:
        self.ended: set[str] = set()  # intents known to have an outcome (kept across reset)
        self.reset()

    def reset(self, lineage: str = "", serial: int = 0) -> None:
        self.lineage = lineage
        self.serial = serial
        self.resources: dict[str, ResourceState] = {}
        self.raw: dict[str, dict[str, Any]] = {}  # the same resources as stored JSON (saves re-encoding)
        self.intents: dict[str, Intent] = {}

    def load_base(
        self,
        lineage: str,
        serial: int,
        resources: dict[str, ResourceState],
        raw: dict[str, dict[str, Any]],
    ) -> None:
        self.reset(lineage, serial)
        self.resources = resources
        self.raw = raw

    # -- replay ------------------------------------------------------------------------------------

    def replay_change(
        self, serial: int, address: str, resource: ResourceState | None, raw: Mapping[str, Any] | None, where: str
    ) -> None:
        """Apply a journaled ``record`` (``resource`` given) or ``forget`` (None) at ``serial``."""
        if serial <= self.serial:
            return  # the base already holds it
        if serial != self.serial + 1:
            raise Mismatch(
                f"{where}: entry has serial {serial} but the state is at serial {self.serial}: entries are missing"
            )
        self.apply_change(serial, address, resource, raw)

    def apply_change(
        self, serial: int, address: str, resource: ResourceState | None, raw: Mapping[str, Any] | None
    ) -> None:
        """A change this process just made durable (or one replayed in order)."""
        if resource is None:
            self.resources.pop(address, None)
            self.raw.pop(address, None)
        else:
            self.resources[address] = resource
            self.raw[address] = dict(raw) if raw is not None else resource.to_json()
        self.serial = serial

    def replay_intent(self, intent: Intent) -> None:
        self.intents[intent.id] = intent

    def replay_outcome(self, intent_id: str) -> None:
        self.intents.pop(intent_id, None)
        self.ended.add(intent_id)

    # -- checks before a write -----------------------------------------------------------------------

    def check_begin(self, intent_id: str, journal: str) -> None:
        if intent_id in self.intents or intent_id in self.ended:
            raise StateError(f"intent {intent_id} is already in the journal {journal}")

    def needs_outcome(self, intent_id: str, journal: str) -> bool:
        """True if ``intent_id`` is unfinished; False if it has ended already (a no-op); an
        unknown id is a StateError."""
        if intent_id in self.intents:
            return True
        if intent_id in self.ended:
            return False
        raise StateError(f"no intent {intent_id} in the journal {journal}")

    # -- views ---------------------------------------------------------------------------------------

    def snapshot(self) -> StateSnapshot:
        return StateSnapshot(self.lineage, self.serial, dict(sorted(self.resources.items())))

    def unfinished(self) -> list[Intent]:
        return list(self.intents.values())


class MirroredBackend(StateBackend):
    """A backend that mirrors its storage in a :class:`Ledger` (``_ledger``), brought up to date
    by ``_sync`` under ``_mutex``: reading is the same for every such backend."""

    _ledger: Ledger
    _mutex: threading.RLock

    @abstractmethod
    def _sync(self) -> None:
        """Replay what was written since the mirror last looked (or load everything)."""

    def read(self) -> StateSnapshot:
        with self._mutex:
            self._sync()
            return self._ledger.snapshot()

    def unfinished_intents(self) -> list[Intent]:
        with self._mutex:
            self._sync()
            return self._ledger.unfinished()
