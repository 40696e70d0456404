"""``stale_reason``: a saved plan refused as stale names the real reason (issue 18.8).

Covers: a plan made before the state existed; a state replaced (another lineage) or rolled back
(older serial); this plan applied in part (a create recorded with the plan's values; an update
whose recorded version is newer than the one the plan read; a delete gone from the state); a
create imported since (in the state with other values); an update whose last-applied values
already equal the plan's but whose version did not move (a drift it reverts) is not "applied";
otherwise the number of writes. Every message ends with the way out.
"""

from __future__ import annotations

from reconciler.apply.stale import WAY_OUT, is_stale, stale_reason
from reconciler.model import Address, Ref
from reconciler.plan.model import Action, Change, Plan
from reconciler.providers.base import Precondition, PreconditionKind
from reconciler.state.base import ResourceState, StateSnapshot

CAMP = "mediamath.Campaign/summer"
S1 = "mediamath.Strategy/s1"
S2 = "mediamath.Strategy/s2"
OLD = "mediamath.Strategy/old"


def rs(address: str, remote_id: str, spec: dict[str, object], version: int | None = None) -> ResourceState:
    kind = address.split(".", 1)[1].split("/")[0]
    return ResourceState(address, "mediamath", kind, remote_id, spec, "fp", version)


def plan(*changes: Change, lineage: str = "L", serial: int = 5) -> Plan:
    return Plan(lineage=lineage, serial=serial, changes=changes)


def update(address: str, after: dict[str, object], version: int) -> Change:
    kind = address.split(".", 1)[1].split("/")[0]
    return Change(address, "mediamath", kind, Action.UPDATE, remote_id="1", before={}, after=after,
                  precondition=Precondition(PreconditionKind.VERSION, version))


def create(address: str, after: dict[str, object]) -> Change:
    kind = address.split(".", 1)[1].split("/")[0]
    return Change(address, "mediamath", kind, Action.CREATE, after=after)


def state(*resources: ResourceState, lineage: str = "L", serial: int = 7) -> StateSnapshot:
    return StateSnapshot(lineage, serial, {r.address: r for r in resources})


def test_numbers_that_match_are_not_stale() -> None:
    assert not is_stale(plan(serial=7), state())
    assert is_stale(plan(serial=5), state())


def test_a_plan_made_before_the_state_existed() -> None:
    text = stale_reason(plan(lineage="", serial=0), state(serial=1))
    assert text.startswith("stale plan: the state did not exist when this plan was made")
    assert text.endswith(WAY_OUT)


def test_a_replaced_or_rolled_back_state() -> None:
    assert "the state was replaced since this plan was made (lineage L, now M" in stale_reason(plan(), state(lineage="M"))
    assert "the state is older than this plan (plan: serial 5; state: serial 3)" in stale_reason(plan(), state(serial=3))


def test_a_plan_applied_in_part_is_said() -> None:
    p = plan(
        create(S1, {"name": "s1", "campaign_id": Ref(Address.parse(CAMP))}),
        update(S2, {"max_bid": 5.5}, version=3),
        Change(OLD, "mediamath", "Strategy", Action.DELETE, remote_id="9", before={"name": "old"}),
    )
    now = state(rs(CAMP, "201", {}), rs(S1, "301", {"name": "s1", "campaign_id": "201"}),
                rs(S2, "302", {"max_bid": 5.5, "budget": 10}, version=4))
    assert stale_reason(p, now).startswith(
        f"stale plan: this plan was applied already, at least in part: {OLD}, {S1}, {S2} are already as this "
        "plan would leave them")


def test_an_update_reverting_a_drift_is_not_taken_for_applied() -> None:
    """Last-applied values equal the plan's (it sets back someone's edit) but nothing was written."""
    p = plan(update(S2, {"max_bid": 5.5}, version=6))
    text = stale_reason(p, state(rs(S2, "302", {"max_bid": 5.5}, version=4)))
    assert "applied already" not in text
    assert "the state was written 2 time(s) since this plan was made (plan: serial 5; state: serial 7)" in text


def test_a_create_imported_since_is_named() -> None:
    p = plan(create(S1, {"name": "s1", "max_bid": 4}))
    text = stale_reason(p, state(rs(S1, "301", {"name": "s1", "max_bid": 9})))
    assert text.startswith(f"stale plan: {S1} entered the state since this plan was made (imported, or created "
                           "by another run).")
