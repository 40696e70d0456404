"""Moving a whole state between backends: ``state migrate``, ``state pull`` and ``state push``.

A state moves whole: lineage, serial, every resource and the unfinished intents (a crashed
create is still found by natural key after the move). The rules, as Terraform's ``state push``
has them, plus the ones a migration needs:

- the target is *empty* (serial 0, nothing recorded: a state nobody used yet): it takes the
  source's lineage and serial exactly, so saved plans stay valid across the move;
- the target holds the same lineage at the same serial and the same content: nothing to do
  (``UP_TO_DATE``), which makes a migration safe to run again;
- the same lineage at a lower serial: it is replaced (the source is newer);
- another lineage, or the same lineage at the same or a higher serial with other content: refused,
  naming both, because it would throw away someone's state. ``push --force`` replaces it anyway and,
  for the same lineage, gives it the next serial (never an old serial with new content: a plan
  saved against that serial must become stale). ``migrate`` has no force: empty the target first.

Both states are locked while a migration copies (the source so that no apply runs meanwhile).
A state nothing was ever written to (a local state with no file yet) has nothing to move:
``migrate`` and ``pull`` say so and change nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from reconciler.errors import InputError, StateError
from reconciler.state import codec
from reconciler.state.base import StateBackend, StateDump


class Outcome(enum.Enum):
    COPIED = "copied"
    UP_TO_DATE = "up to date"


@dataclass(frozen=True)
class Transfer:
    outcome: Outcome
    lineage: str
    serial: int
    resources: int
    intents: int

    def describe(self) -> str:
        intents = f", {self.intents} unfinished intent{'s' if self.intents != 1 else ''}" if self.intents else ""
        return f"lineage {self.lineage}, serial {self.serial}, {self.resources} resources{intents}"


def migrate(source: StateBackend, target: StateBackend, lock_timeout: float = 0.0) -> Transfer:
    """Copy ``source`` into ``target`` under both locks (see the module docstring)."""
    if source.where == target.where:
        raise InputError(f"--to names the workspace's current state ({source.where}); nothing to migrate")
    with source.locked("state migrate", lock_timeout), target.locked("state migrate", lock_timeout):
        return put(target, written(source, "migrate"), force=False, verb="migrate")


def written(source: StateBackend, verb: str) -> StateDump:
    """``source``'s whole state; a StateError when nothing was ever written to it."""
    dump = source.dump()
    if not dump.lineage:
        raise StateError(f"nothing to {verb}: {source.where} holds no state yet (nothing was applied or imported)")
    return dump


def push(target: StateBackend, dump: StateDump, *, force: bool, lock_timeout: float = 0.0) -> Transfer:
    with target.locked("state push", lock_timeout):
        return put(target, dump, force=force, verb="push")


def put(target: StateBackend, dump: StateDump, *, force: bool, verb: str) -> Transfer:
    """Write ``dump`` into ``target`` if the lineage/serial rules allow it (the caller holds its lock)."""
    current = target.dump()
    if same(current, dump):
        return _result(Outcome.UP_TO_DATE, current)
    if not current.empty and not force:
        hint = "empty it first" if verb == "migrate" else "use --force to replace it anyway"
        if current.lineage != dump.lineage:
            raise StateError(
                f"refusing to {verb}: {target.where} holds another state (lineage {current.lineage}, serial "
                f"{current.serial}, {len(current.resources)} resources), not lineage {dump.lineage}; {hint}"
            )
        if current.serial >= dump.serial:
            raise StateError(
                f"refusing to {verb}: {target.where} is at serial {current.serial}, "
                f"{'newer than' if current.serial > dump.serial else 'as new as but different from'} serial "
                f"{dump.serial} of lineage {dump.lineage}: that would roll it back; {hint}"
            )
    if not current.empty and current.lineage == dump.lineage and dump.serial <= current.serial:
        dump = replace(dump, serial=current.serial + 1)  # forced: never reuse a serial
    target.restore(dump)
    return _result(Outcome.COPIED, dump)


def same(a: StateDump, b: StateDump) -> bool:
    return (a.lineage, a.serial, dict(a.resources), a.intents) == (b.lineage, b.serial, dict(b.resources), b.intents)


def _result(outcome: Outcome, dump: StateDump) -> Transfer:
    return Transfer(outcome, dump.lineage, dump.serial, len(dump.resources), len(dump.intents))


def encode(dump: StateDump) -> bytes:
    """A ``state pull`` document: the local snapshot format, plus ``intents`` when some are unfinished."""
    raw = {address: rs.to_json() for address, rs in sorted(dump.resources.items())}
    return codec.encode_document(dump.lineage, dump.serial, raw, list(dump.intents)) + b"\n"


def decode(raw: bytes, where: str) -> StateDump:
    """A ``state pull`` document (or a local ``state.json``) read back for ``state push``."""
    lineage, serial, resources, _raw, intents = codec.decode_document(raw, where, allow_intents=True)
    return StateDump(lineage, serial, resources, tuple(intents))
