"""Crash recovery: close the journal's unfinished intents before the next plan.

An intent without an outcome means a process died mid-write. For a create we cannot know whether
the request reached the server, so we look the object up by natural key (the same
``Provider.find_existing`` lookup that plan uses to adopt existing objects): found -> record it in
state under the intent's address (adopt, do not create twice); not found -> the create never
landed and the next plan creates it (for a kind whose lookup needs a field the spec lacks,
``KindInfo.findable_with``, the message says the create could not be checked). Interrupted updates and deletes are closed as failed: the
next plan re-reads those objects and decides afresh.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.errors import AmbiguousMatchError, APIError
from reconciler.providers.base import Provider
from reconciler.state.base import Intent, ResourceState, StateBackend

CREATE_ACTIONS = ("create", "replace")


def recover_unfinished(state: StateBackend, providers: Mapping[str, Provider]) -> list[str]:
    """Close every unfinished intent; returns one message per intent describing what was done.

    Intents whose provider is not configured, or whose lookup fails, stay open for a later run.
    """
    messages: list[str] = []
    for intent in sorted(state.unfinished_intents(), key=lambda i: (i.address, i.id)):
        if intent.action in CREATE_ACTIONS:
            messages.append(_recover_create(state, providers.get(intent.provider), intent))
        else:
            state.end_intent(intent.id, "failed")
            target = f" of {intent.remote_id}" if intent.remote_id else ""
            messages.append(f"{intent.address}: an {intent.action}{target} was interrupted; "
                            "the next plan re-reads it and decides")
    return messages


def _recover_create(state: StateBackend, provider: Provider | None, intent: Intent) -> str:
    if provider is None:
        return (f"{intent.address}: an interrupted {intent.action} is still in the journal; provider "
                f"'{intent.provider}' is not configured, so it cannot be looked up yet")
    try:
        found = provider.find_by_natural_key(intent.kind, intent.spec)
    except AmbiguousMatchError as exc:
        state.end_intent(intent.id, "failed")
        return (f"{intent.address}: an interrupted {intent.action} cannot be settled: {exc}; "
                f"import the right one (reconciler import {intent.address} ID)")
    except APIError as exc:
        return f"{intent.address}: an interrupted {intent.action} could not be looked up ({exc}); left for the next run"
    info = provider.kinds.get(intent.kind)
    if found is None or (intent.action == "replace" and found.remote_id == intent.remote_id):
        state.end_intent(intent.id, "failed")
        if info is not None and not info.findable(intent.spec):
            key = ", ".join(f"{k}={intent.spec.get(k)!r}" for k in info.natural_key)
            return (f"{intent.address}: an interrupted create could not be checked: the API cannot find a "
                    f"{intent.kind} without {' or '.join(info.findable_with)}, so it may have landed; the next plan "
                    f"creates it, so if the console already shows one ({key}) import that one instead "
                    f"(reconciler import {intent.address} ID)")
        return f"{intent.address}: the interrupted create had not reached the server; the next plan creates it"
    known = state.read().get(intent.address)
    parent_field = info.parent_field if info is not None else None
    parent_ids = (
        {parent_field: str(intent.spec[parent_field])}
        if parent_field and intent.spec.get(parent_field) is not None else {}
    )
    state.record(ResourceState(
        address=intent.address,
        provider=intent.provider,
        kind=intent.kind,
        remote_id=found.remote_id,
        applied_spec=dict(intent.spec),
        fingerprint=found.fingerprint,
        version=found.version,
        parent_ids=parent_ids,
        dependencies=known.dependencies if known is not None else (),
        prevent_destroy=known.prevent_destroy if known is not None else False,
        on_delete=known.on_delete if known is not None else None,
        status=found.status,
    ))
    state.end_intent(intent.id, "recovered")
    return (f"{intent.address}: the create interrupted by a crash had reached the server; "
            f"adopted {found.remote_id} (found by natural key) instead of creating it twice")
