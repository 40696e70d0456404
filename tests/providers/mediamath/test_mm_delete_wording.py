"""What a MediaMath "delete" means, in the plan: the API deletes budget flights only; every other
kind is deactivated (``status=0``) and forgotten, and the plan says so next to the deletion."""

from __future__ import annotations

from reconciler.model import LiveObject
from reconciler.plan.builder import PlanInput, ProviderView, build_plan
from reconciler.plan.model import Action
from reconciler.plan.render import render_text
from reconciler.providers.base import ProviderConfig
from reconciler.providers.mediamath import MediaMathProvider
from reconciler.state.base import ResourceState, StateSnapshot


def _plan_removing(kind: str, remote_id: str, fields: dict[str, object]) -> tuple[bool, str]:
    provider = MediaMathProvider(ProviderConfig("mediamath", "https://api.mediamath.invalid", {"access_token": "x"}))
    try:
        address = f"mediamath.{kind}/gone"
        live = LiveObject(kind, remote_id, fields, version=1)
        state = StateSnapshot("l", 1, {address: ResourceState(address, "mediamath", kind, remote_id, fields, live.fingerprint, 1)})
        plan = build_plan(PlanInput(desired=[], state=state, live={address: live}, found={},
                                    providers={"mediamath": ProviderView.of(provider)}))
    finally:
        provider.close()
    (change,) = plan.changes
    assert change.action is Action.DELETE
    return change.deactivates, render_text(plan)


def test_a_removed_strategy_is_shown_as_deactivated() -> None:
    deactivates, text = _plan_removing("Strategy", "101", {"name": "s", "campaign_id": "7", "status": True})
    assert deactivates
    assert "will be DEACTIVATED (status=0) and forgotten, the API has no delete for it (not in manifests)" in text
    assert "DELETED" not in text and "1 to deactivate, 0 to delete" in text


def test_a_removed_budget_flight_is_really_deleted() -> None:
    deactivates, text = _plan_removing("BudgetFlight", "55", {"campaign_id": "7", "total_budget": "100.00"})
    assert not deactivates and "will be DELETED" in text
    assert "deactivate" not in text.lower()
