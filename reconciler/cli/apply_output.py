"""How an apply reads: one line per resource that changed (or did not apply), nothing for the
unchanged ones, and a closing summary in plain words.

The verbs say what happened to the live object, not what the engine called it:

- ``created``, ``updated``, ``replaced``, ``adopted`` (it existed already: found by its natural
  key and taken into state), ``forgotten`` (removed from state, the live object left in place);
- ``deactivated``: MediaMath has no delete for agencies, advertisers, campaigns and strategies;
  their "delete" sets ``status=0`` and forgets them. Such objects are never called "deleted";
- ``deleted``: really deleted (a MediaMath budget flight, a LiveRamp question...);
- ``skipped because ...``, ``failed: ...``, ``conflict: ...``; console steps are listed last.

Unchanged resources (``no-op``) print nothing and are counted in the summary::

    Apply complete: 2 created, 3 updated, 1 deactivated; 344 unchanged.
    API requests: 41; retries: 8 (429: 5, 5xx: 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.apply.result import ApplyResult, Outcome, ResourceResult
from reconciler.plan.model import Action, Change, Plan

# verbs in the order the summary lists them
CHANGED_VERBS = ("created", "adopted", "updated", "replaced", "deactivated", "deleted", "forgotten",
                 "lifecycle recorded")
PROBLEM_VERBS = ("failed", "conflict", "skipped")
PENDING_VERBS = ("console step pending", "waiting for a console step")
UNCHANGED = "unchanged"


def verb(result: ResourceResult, change: Change | None) -> str:
    """What happened to one resource, as the summary counts it."""
    outcome = result.outcome
    if outcome is Outcome.FAILED:
        return "failed"
    if outcome is Outcome.CONFLICT:
        return "conflict"
    if outcome is Outcome.SKIPPED:
        return "skipped"
    if outcome is Outcome.MANUAL:
        return "console step pending"
    if outcome is Outcome.WAITING:
        return "waiting for a console step"
    deactivates = change is not None and change.deactivates
    match result.action:
        case Action.CREATE:
            return "adopted" if result.message.startswith("adopted") else "created"
        case Action.UPDATE:
            return "updated"
        case Action.REPLACE:
            return "replaced"
        case Action.DELETE:
            return "deactivated" if deactivates else "deleted"
        case Action.ADOPT:
            return "adopted"
        case Action.ABANDON:
            return "forgotten"
        case _:
            return "lifecycle recorded" if change is not None and change.lifecycle else UNCHANGED


def _after(message: str, prefix: str) -> str:
    """``message`` without a leading ``prefix`` and the separator after it."""
    if prefix and message.startswith(prefix):
        return message[len(prefix):].lstrip(":; ").strip()
    return message


def line(result: ResourceResult, change: Change | None) -> str | None:
    """The line for one finished resource, or None for an unchanged one."""
    address, message = result.address, result.message
    word = verb(result, change)
    new_id = result.remote_id
    ident = f" (id {new_id})" if new_id else ""
    match word:
        case "failed" | "conflict":
            return f"{address}: {word}: {message}"
        case "skipped":
            return f"{address}: skipped because {message}"
        case "console step pending":
            return f"{address}: needs a console step (listed at the end)"
        case "waiting for a console step":
            return f"{address}: {message}"
        case "created":
            return f"{address}: created{ident}"
        case "adopted":
            return f"{address}: {message}"
        case "updated" | "deleted":
            rest = _after(message, f"{word} {new_id}")
            if result.outcome is Outcome.REBASED:  # "rebased: the object changed since the plan ..."
                return f"{address}: rebased, then {word}{ident}: {_after(rest, 'rebased')}"
            return f"{address}: {word}{ident}" + (f": {rest}" if rest else "")
        case "deactivated":
            rest = _after(message, f"deleted {new_id}")
            if result.outcome is Outcome.REBASED:
                return f"{address}: rebased, then deactivated (status=0) and forgotten{ident}: {_after(rest, 'rebased')}"
            return f"{address}: deactivated (status=0) and forgotten{ident}" + (f": {rest}" if rest else "")
        case "replaced":
            old = change.remote_id if change is not None else None
            gone = "deactivated (status=0)" if change is not None and change.deactivates else "deleted"
            notes = [part for part in message.split("; ") if part.startswith(("rebased", "forced"))]
            text = f"{address}: replaced: {old or 'the old object'} {gone}, {new_id or 'a new one'} created"
            return text + (f"; {'; '.join(notes)}" if notes else "")
        case "forgotten":
            return f"{address}: forgotten: removed from state, the live object is left in place"
        case "lifecycle recorded":
            return f"{address}: lifecycle recorded in state (the live object is unchanged)"
        case _:
            if "not refreshed" in message:  # unchanged, but something is worth saying
                return f"{address}: unchanged; {_after(message, 'no changes')}"
            return None


@dataclass
class ApplyTally:
    """Counts and lines as results arrive (``add``), then the summary (``summary``)."""

    plan: Plan
    counts: dict[str, int] = field(default_factory=dict)
    _changes: Mapping[str, Change] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._changes = {c.address: c for c in self.plan.changes}

    def add(self, result: ResourceResult) -> str | None:
        change = self._changes.get(result.address)
        word = verb(result, change)
        self.counts[word] = self.counts.get(word, 0) + 1
        return line(result, change)

    def changed(self) -> dict[str, int]:
        """What changed so far, in summary order (for the progress display)."""
        return {w: self.counts[w] for w in (*CHANGED_VERBS, *PROBLEM_VERBS) if self.counts.get(w)}

    def summary(self, result: ApplyResult) -> str:
        """``Apply complete: 2 created, 3 updated, 1 deactivated; 344 unchanged.``"""
        counts: dict[str, int] = {}
        for r in result.results:
            word = verb(r, self._changes.get(r.address))
            counts[word] = counts.get(word, 0) + 1
        parts = [f"{counts[w]} {w}" for w in (*CHANGED_VERBS, *PROBLEM_VERBS, *PENDING_VERBS) if counts.get(w)]
        head = "Apply finished with problems" if result.has_failures else "Apply complete"
        text = f"{head}: {', '.join(parts) if parts else 'nothing to change'}"
        if counts.get(UNCHANGED):
            text += f"; {counts[UNCHANGED]} unchanged"
        return text + "."


def run_requests(budget: Mapping[str, int], before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """What the whole run sent (the HTTP clients' counters ``after`` minus ``before``: login,
    refresh, spend reports, history and writes), with the apply's own retry counts where they
    are larger (the executor also retries writes above the HTTP layer)."""
    sent = {key: max(0, after.get(key, 0) - before.get(key, 0)) for key in after}
    return {key: max(sent.get(key, 0), budget.get(key, 0)) for key in sorted(set(sent) | set(budget))}


def requests_line(budget: Mapping[str, int]) -> str:
    """``API requests: 41; retries: 8 (429: 5, 5xx: 3).`` (the run's load on the vendors' APIs:
    every HTTP request its providers sent, the refresh included)."""
    requests = budget.get("requests", 0)
    retries = budget.get("retries", 0)
    causes = [
        f"{label}: {budget[key]}"
        for key, label in (("rate_limited", "429"), ("server_errors", "5xx"), ("transport_errors", "no answer"))
        if budget.get(key)
    ]
    text = f"API requests: {requests}; "
    if not retries and not causes:
        return text + "no retries."
    return text + f"retries: {retries}" + (f" ({', '.join(causes)})" if causes else "") + "."
