"""Hand-built inputs for plan and drift tests: kinds, provider views, state and live objects.

The builder is pure, so these plain values are the real inputs (no provider or HTTP needed).
``make_plan`` builds a plan and, for every scenario, validates its JSON against the published
``schemas/plan.schema.json`` and round-trips it through a saved plan file.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from reconciler.diff import FieldDiffer
from reconciler.errors import Location
from reconciler.model import Address, DesiredResource, Lifecycle, LiveObject, OnDelete, Ref
from reconciler.plan.builder import PlanInput, ProviderView, build_plan
from reconciler.plan.model import Plan
from reconciler.plan.planfile import load_plan, save_plan
from reconciler.plan.render import render_json
from reconciler.providers.base import KindInfo, ManualStep, Precondition, PreconditionKind
from reconciler.state.base import ResourceState, StateSnapshot

ROOT = Path(__file__).resolve().parents[2]
PLAN_SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
PLAN_VALIDATOR = Draft202012Validator(PLAN_SCHEMA)

KINDS: dict[str, dict[str, KindInfo]] = {
    "mediamath": {
        "Organization": KindInfo("Organization", {}, read_only=True),
        "Advertiser": KindInfo("Advertiser", {}, natural_key=("agency_id", "name")),
        "Campaign": KindInfo(
            "Campaign",
            {},
            natural_key=("advertiser_id", "name"),
            parent_field="advertiser_id",
            immutable_fields=frozenset({"advertiser_id"}),
            write_only_fields=frozenset({"secret_note"}),
        ),
        "Strategy": KindInfo("Strategy", {}, natural_key=("campaign_id", "name"), parent_field="campaign_id"),
    },
    "liveramp": {
        "Cleanroom": KindInfo("Cleanroom", {}, default_on_delete=OnDelete.ABANDON),
        "CleanroomDataset": KindInfo("CleanroomDataset", {}, deletable=False),
        "CleanroomPartner": KindInfo("CleanroomPartner", {}, natural_key=("cleanroom_id", "email")),
    },
    "mediarithmics": {
        "CleanRoom": KindInfo("CleanRoom", {}),
    },
}


def money(value: Any) -> Any:
    """mediamath's normaliser quirk: budgets may be written as strings like ``"500.00"``."""
    if isinstance(value, str):
        try:
            return round(float(value), 2)
        except ValueError:
            return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(float(value), 2)
    return value


@dataclass
class Calls:
    """Counts calls to the provider hooks so tests can see them used."""

    normalize: int = 0
    manual: list[tuple[str, str, str]] = field(default_factory=list)


def views(
    *,
    normalize: bool = True,
    manual: Mapping[tuple[str, str], str] | None = None,
    calls: Calls | None = None,
) -> dict[str, ProviderView]:
    """One ProviderView per provider. ``manual`` maps (kind, action) -> the step text."""
    calls = calls if calls is not None else Calls()
    manual = manual or {}

    def make(provider: str) -> ProviderView:
        def kind_info(kind: str) -> KindInfo:
            return KINDS[provider][kind]

        def norm(kind: str, spec: Mapping[str, Any]) -> dict[str, Any]:
            calls.normalize += 1
            out = dict(spec)
            if normalize and provider == "mediamath" and "total_budget" in out:
                out["total_budget"] = money(out["total_budget"])
            return out

        def precondition_for(live: LiveObject) -> Precondition:
            if live.version is not None:
                return Precondition(PreconditionKind.VERSION, live.version)
            return Precondition(PreconditionKind.FINGERPRINT, live.fingerprint)

        def manual_steps(
            kind: str,
            action: str,
            address: str,
            changes: Mapping[str, Any],
            before: Mapping[str, Any] | None = None,
        ) -> list[ManualStep] | None:
            calls.manual.append((kind, action, address))
            text = manual.get((kind, action))
            if text is None:
                return None
            return [ManualStep(f"{text} ({address}: {', '.join(sorted(changes)) or 'whole object'})")]

        return ProviderView(kind_info, norm, precondition_for, manual_steps)

    return {p: make(p) for p in KINDS}


def ref(address: str) -> Ref:
    return Ref(Address.parse(address))


def desired(
    address: str,
    spec: Mapping[str, Any],
    *,
    ignore: Sequence[str] = (),
    prevent_destroy: bool = False,
    on_delete: OnDelete | None = None,
) -> DesiredResource:
    return DesiredResource(
        address=Address.parse(address),
        spec=dict(spec),
        location=Location("manifests/main.yaml", 1),
        lifecycle=Lifecycle(
            prevent_destroy=prevent_destroy, ignore_changes=tuple(ignore), on_delete=on_delete
        ),
    )


def resource(
    address: str,
    remote_id: str,
    applied: Mapping[str, Any],
    *,
    version: int | None = None,
    deps: Sequence[str] = (),
    prevent_destroy: bool = False,
    on_delete: str | None = None,
) -> ResourceState:
    a = Address.parse(address)
    return ResourceState(
        address=address,
        provider=a.provider,
        kind=a.kind,
        remote_id=remote_id,
        applied_spec=dict(applied),
        fingerprint="",
        version=version,
        dependencies=tuple(deps),
        prevent_destroy=prevent_destroy,
        on_delete=on_delete,
    )


def live(
    address_or_kind: str,
    remote_id: str,
    fields: Mapping[str, Any],
    *,
    version: int | None = None,
    status: str | None = None,
) -> LiveObject:
    kind = Address.parse(address_or_kind).kind if "/" in address_or_kind else address_or_kind
    return LiveObject(kind=kind, remote_id=remote_id, fields=dict(fields), version=version, status=status)


def snapshot(*resources: ResourceState, lineage: str = "lin-1", serial: int = 7) -> StateSnapshot:
    return StateSnapshot(lineage=lineage, serial=serial, resources={r.address: r for r in resources})


def check_plan_json(plan: Plan) -> dict[str, Any]:
    """render_json(plan), asserted valid against the published plan schema."""
    data = render_json(plan)
    text = json.dumps(data)  # must be plain JSON
    errors = sorted(PLAN_VALIDATOR.iter_errors(json.loads(text)), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    return data


def check_roundtrip(plan: Plan) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        save_plan(plan, path)
        assert load_plan(path) == plan


def make_plan(
    desired_: Sequence[DesiredResource] = (),
    state: StateSnapshot | None = None,
    live_: Mapping[str, LiveObject | None] | None = None,
    found: Mapping[str, LiveObject] | None = None,
    *,
    providers: Mapping[str, ProviderView] | None = None,
    targets: Sequence[str] = (),
    destroy: bool = False,
    differ: FieldDiffer | None = None,
) -> Plan:
    """Build a plan from hand-built inputs; every plan is schema-checked and round-tripped."""
    plan = build_plan(
        PlanInput(
            desired=list(desired_),
            state=state or snapshot(),
            live=dict(live_ or {}),
            found=dict(found or {}),
            providers=providers or views(),
            targets=tuple(targets),
            destroy=destroy,
            differ=differ or FieldDiffer(),
        )
    )
    check_plan_json(plan)
    check_roundtrip(plan)
    return plan


def by_address(plan: Plan) -> dict[str, Any]:
    return {c.address: c for c in plan.changes}


MIXED_CAMPAIGN = {
    "advertiser_id": "101",
    "name": "Summer Sale",
    "status": False,
    "total_budget": 500,
    "targeting": {"geo": ["US"]},
}


def mixed_plan() -> Plan:
    """One plan with every action, a ref unknown until apply, drift, a warning and a status."""
    adv, camp, strat = "mediamath.Advertiser/acme", "mediamath.Campaign/summer", "mediamath.Strategy/old"
    partner, room = "liveramp.CleanroomPartner/agency", "liveramp.Cleanroom/room"
    org, kept = "mediamath.Organization/main", "mediamath.Campaign/kept"
    upd = "mediamath.Campaign/budget"
    state = snapshot(
        resource(camp, "201", MIXED_CAMPAIGN, version=3),
        resource(kept, "202", MIXED_CAMPAIGN, version=1),
        resource(upd, "203", MIXED_CAMPAIGN, version=9),
        resource(strat, "301", {"name": "old", "campaign_id": "201"}, deps=[camp], version=2),
        resource(partner, "p-1", {"email": "a@b.c", "role": "analyst"}),
        resource(room, "cr-1", {"name": "R"}),
    )
    return make_plan(
        [
            desired(org, {"name": "Main"}),
            desired(adv, {"name": "Acme", "agency_id": "7"}),
            desired(
                camp,
                {
                    **MIXED_CAMPAIGN,
                    "total_budget": 700,
                    "advertiser_id": ref(adv),
                    "targeting": {"geo": ["US", "CA"]},
                },
            ),
            desired(kept, MIXED_CAMPAIGN),
            desired(upd, {**MIXED_CAMPAIGN, "total_budget": "750.00", "name": "Budget <b>|`x`"}),
            desired(partner, {"email": "a@b.c", "role": "admin"}),
        ],
        state,
        {
            camp: live(camp, "201", {**MIXED_CAMPAIGN, "total_budget": 650}, version=3),
            kept: live(kept, "202", MIXED_CAMPAIGN, version=1),
            upd: live(upd, "203", MIXED_CAMPAIGN, version=9),
            strat: live(strat, "301", {"name": "old", "campaign_id": "201"}, version=2),
            partner: live(partner, "p-1", {"email": "a@b.c", "role": "analyst"}, status="invited"),
            room: live(room, "cr-1", {"name": "R"}),
        },
        found={org: live(org, "1", {"name": "Main Org"})},
        providers=views(manual={("CleanroomPartner", "update"): "Ask the partner admin to change the role"}),
        targets=(),
    )
