"""Realistic state values for the state tests (shaped like MediaMath strategies)."""

from __future__ import annotations

import hashlib

from reconciler.state.base import Intent, ResourceState


def strategy(i: int, *, version: int | None = None) -> ResourceState:
    """A strategy as the executor records it: ~17 applied fields, parent id, dependency, version."""
    advertiser = i % 20
    campaign = i // 10
    name = f"adv{advertiser:02d}-camp{campaign:04d}-strat{i:05d}"
    campaign_address = f"mediamath.Campaign/adv{advertiser:02d}-camp{campaign:04d}"
    spec = {
        "name": f"Advertiser {advertiser:02d} / Campaign {campaign:04d} / Strategy {i} - prospecting display",
        "campaign_id": 2_000_000 + campaign,
        "status": i % 3 != 0,
        "type": "REM",
        "goal_type": "cpa",
        "goal_value": round(10 + (i % 50) * 0.25, 2),
        "budget": f"{1500 + i % 700}.00",
        "pacing_type": "even",
        "pacing_interval": "day",
        "pacing_amount": f"{250 + i % 40}.50",
        "frequency_type": "asap",
        "frequency_interval": "day",
        "frequency_amount": 5 + i % 4,
        "bid_price": 3.25,
        "max_bid": 6.5,
        "media_type": "DISPLAY",
        "use_campaign_start": True,
        "use_campaign_end": True,
        "start_date": "2025-01-01T00:00:00+00:00",
        "end_date": "2025-12-31T23:59:59+00:00",
    }
    return ResourceState(
        address=f"mediamath.Strategy/{name}",
        provider="mediamath",
        kind="Strategy",
        remote_id=str(4_000_000 + i),
        applied_spec=spec,
        fingerprint=hashlib.sha256(name.encode()).hexdigest(),
        version=version if version is not None else 1 + i % 7,
        parent_ids={"campaign_id": str(2_000_000 + campaign)},
        dependencies=(campaign_address,),
        status="active",
    )


FULL = ResourceState(  # every field set, with nested JSON and non-ASCII text
    address="mediamath.Strategy/full",
    provider="mediamath",
    kind="Strategy",
    remote_id="123",
    applied_spec={"name": "Full", "nested": {"b": [1, 2.5, None, True], "a": "ü"}, "n": 3},
    fingerprint="abc",
    version=7,
    parent_ids={"campaign_id": "55"},
    dependencies=("mediamath.Campaign/c", "mediamath.Advertiser/a"),
    prevent_destroy=True,
    on_delete="abandon",
    status="active",
)


def simple(name: str, remote_id: str = "1", **spec: object) -> ResourceState:
    return ResourceState(
        address=f"test.Thing/{name}",
        provider="test",
        kind="Thing",
        remote_id=remote_id,
        applied_spec=dict(spec),
        fingerprint=f"fp-{name}",
    )


def intent(n: int, action: str = "create") -> Intent:
    return Intent(
        id=f"intent-{n:04d}",
        address=f"test.Thing/t{n}",
        action=action,
        provider="test",
        kind="Thing",
        spec={"name": f"t{n}", "parent": "p1"},
        remote_id=None if action == "create" else str(n),
    )
