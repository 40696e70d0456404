"""Values apply takes and returns: options, per-resource outcomes and the run's result.

An :class:`ApplyResult` lists one :class:`ResourceResult` per change (sorted by address) and the
run's *error budget*: requests sent, retries, and the 429 / 5xx / transport failures met on the
way, so a CI log shows how close a run came to the vendors' limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.attribution import Attribution, by_whom, overlapping
from reconciler.errors import ApplyError
from reconciler.plan.model import Action

# (field, planned_before, ours, theirs): the plan's view, what we want, what is live now.
ConflictField = tuple[str, Any, Any, Any]

BUDGET_KEYS = ("requests", "retries", "rate_limited", "server_errors", "transport_errors")

def conflict_way_out(addresses: Sequence[str], saved_plan: str | None = None, stale: bool = False) -> str:
    """The way out of conflicts, said once after the list of failures.

    ``saved_plan`` names the plan file this run applied (None: planned from the manifests), and
    ``stale`` says whether this run moved the state's serial (it recorded what it did apply), so
    that ``apply FILE`` now refuses the file as stale. If it did not (the conflicting changes were
    all there was), the file is still fresh, and applying it again only meets the same conflict."""
    overwrite = ("The other writers' values were kept. To overwrite them, plan and apply again from the manifests: "
                 "'reconciler apply --force-conflicts'")
    if saved_plan is not None and stale:
        overwrite += (f" (not with the saved plan: this run changed the state, so {saved_plan} is stale now; "
                      "the new plan shows whose changes it overwrites)")
    else:
        overwrite += " (the new plan shows whose changes it overwrites)"
    again = ""
    if saved_plan is not None and not stale:
        again = (f" Applying {saved_plan} again meets the same conflict: this run changed nothing in the state, "
                 "and the plan still sets what they changed.")
    return (
        f"{overwrite}; or review first with 'reconciler plan'.{again} To keep their values instead, write them "
        f"into the manifests: 'reconciler drift --accept {' '.join(sorted(addresses))}'."
    )


@dataclass(frozen=True)
class ApplyOptions:
    """How apply runs. ``retry_*`` bound the engine's own backoff (create/update/delete retries)."""

    parallelism: int = 8
    force_conflicts: bool = False
    max_attempts: int = 5
    retry_base_delay: float = 0.2
    retry_max_delay: float = 10.0

    def __post_init__(self) -> None:
        if self.parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


class Outcome(StrEnum):
    DONE = "done"  # the change is applied (or was already live)
    REBASED = "rebased"  # someone else changed other fields; re-read, rebased and applied
    FAILED = "failed"  # an error; nothing more was tried
    CONFLICT = "conflict"  # someone else changed a field we set; nothing written
    SKIPPED = "skipped"  # a dependency did not apply
    MANUAL = "manual"  # the API cannot do it; a human must (a console step is pending)
    WAITING = "waiting"  # depends on a pending console step: made once the step is done

    @property
    def ok(self) -> bool:
        return self in (Outcome.DONE, Outcome.REBASED)

    @property
    def pending(self) -> bool:
        """Not applied because a human step comes first: listed, but not a failure of the run."""
        return self in (Outcome.MANUAL, Outcome.WAITING)


BLOCKING = frozenset({Outcome.FAILED, Outcome.CONFLICT, Outcome.SKIPPED})


@dataclass(frozen=True)
class ResourceResult:
    address: str
    action: Action
    outcome: Outcome
    message: str = ""
    conflict_fields: tuple[ConflictField, ...] = ()
    remote_id: str | None = None
    other_writers: tuple[Attribution, ...] = ()  # who changed the conflicting fields, and when

    def writer_of(self, field: str) -> Attribution | None:
        """Who set ``field`` (a conflicting one) outside this run, where the API says."""
        return next((a for a in self.other_writers if overlapping(a.path, field)), None)

    def describe(self) -> str:
        """One line (plus one per conflicting field) for logs and the CLI."""
        head = f"{self.address}: {self.action.value} {self.outcome.value}"
        lines = [f"{head}: {self.message}" if self.message else head]
        for name, before, ours, theirs in self.conflict_fields:
            writer = self.writer_of(name)
            by = f" (set {by_whom(writer)})" if writer is not None and writer.user else ""
            lines.append(f"    {name}: planned from {before!r}, ours {ours!r}, theirs {theirs!r}{by}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ApplyResult:
    results: tuple[ResourceResult, ...]
    error_budget: Mapping[str, int] = field(default_factory=dict)

    @property
    def has_failures(self) -> bool:
        """True when something the APIs could do did not apply (failed, conflict, skipped).
        Pending console steps (and what waits for them) are not failures: see ``pending``."""
        return any(not (r.outcome.ok or r.outcome.pending) for r in self.results)

    @property
    def pending(self) -> tuple[ResourceResult, ...]:
        """Console steps still to do (MANUAL) and the changes waiting for them (WAITING)."""
        return tuple(r for r in self.results if r.outcome.pending)

    @property
    def conflicts(self) -> tuple[ResourceResult, ...]:
        return tuple(r for r in self.results if r.outcome is Outcome.CONFLICT)

    @property
    def failures(self) -> tuple[ResourceResult, ...]:
        return tuple(r for r in self.results if not (r.outcome.ok or r.outcome.pending))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.outcome.value] = out.get(r.outcome.value, 0) + 1
        return dict(sorted(out.items()))

    def get(self, address: str) -> ResourceResult | None:
        return next((r for r in self.results if r.address == address), None)

    def error(self) -> ApplyError | None:
        """The ApplyError the CLI raises (exit 3 with conflicts, else 1), or None if all applied."""
        failures = self.failures
        if not failures:
            return None
        summary = ", ".join(f"{n} {k}" for k, n in self.counts().items())
        lines = [f"apply finished with problems ({summary}):"]
        lines += [r.describe() for r in failures]
        if self.conflicts:
            lines.append(conflict_way_out([r.address for r in self.conflicts]))
        return ApplyError("\n".join(lines), conflicts=len(self.conflicts))
