"""Manual steps: what a human does in the mediarithmics console for a change the API cannot make.

One step per needed call, worded as an instruction and naming every value, e.g.
``In the mediarithmics console, open Clean rooms › Retail › Members, invite organisation 1752 with
purposes INSIGHTS, ACTIVATION``. Pure functions over normalised specs (see ``normalize``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.providers.mediarithmics.normalize import MemberOp, OpKind, member_ops

CONSOLE = "In the mediarithmics console"


def _purposes(purposes: Sequence[str]) -> str:
    return ", ".join(purposes)


def _room(name: str) -> str:
    return f"Clean rooms › {name}"


def _unknown(label: str) -> str:
    """Where to go when the room's current name is not known: ``label`` names it another way."""
    return f"(the clean room {label})"


def create_steps(spec: Mapping[str, Any]) -> list[str]:
    """Create the room as its owner organisation, then invite every other member."""
    name = str(spec.get("name"))
    owner = str(spec.get("organisation_id"))
    members = list(spec.get("members") or [])
    own = next((m for m in members if m["organisation_id"] == owner), None)
    with_purposes = f" with purposes {_purposes(own['purposes'])}" if own else ""
    steps = [
        f"{CONSOLE}, acting as organisation {owner}, open Clean rooms and create a clean room "
        f"named '{name}'{with_purposes}"
    ]
    others = [m for m in members if m["organisation_id"] != owner]
    steps += [
        member_step(name, MemberOp(OpKind.INVITE, m["organisation_id"], tuple(m["purposes"]))) for m in others
    ]
    return steps


def member_step(room_name: str, op: MemberOp) -> str:
    where = f"{CONSOLE}, open {_room(room_name)} › Members"
    if op.kind is OpKind.INVITE:
        return f"{where}, invite organisation {op.organisation_id} with purposes {_purposes(op.purposes)}"
    if op.kind is OpKind.SET_PURPOSES:
        return (
            f"{where}, set the purposes of organisation {op.organisation_id} to {_purposes(op.purposes)} "
            f"(now {_purposes(op.old_purposes)})"
        )
    return f"{where}, archive the membership of organisation {op.organisation_id}"


def update_steps(label: str, after: Mapping[str, Any], before: Mapping[str, Any] | None) -> list[str]:
    """Steps for an update; exact per member when the live fields (``before``) are known.

    ``label`` identifies the room when ``before`` does not give its name
    (``managed as mediarithmics.CleanRoom/x``, ``with id 22``)."""
    old_name = str(before["name"]) if before and before.get("name") else None
    name = old_name or _unknown(label)
    steps: list[str] = []
    if "name" in after and after["name"] != old_name:
        steps.append(f"{CONSOLE}, open {_room(name)} and rename the clean room to '{after['name']}'")
        name = str(after["name"])
    if "organisation_id" in after and (
        before is None or after["organisation_id"] != before.get("organisation_id")
    ):
        steps.append(
            f"{CONSOLE}, the owner of {_room(name)} cannot change: create a new clean room owned by "
            f"organisation {after['organisation_id']} and archive this one"
        )
    if "members" in after:
        desired = list(after["members"])
        if before is not None and "members" in before:
            steps += [member_step(name, op) for op in member_ops(list(before["members"]), desired)]
        else:
            wanted = "; ".join(f"{m['organisation_id']} ({_purposes(m['purposes'])})" for m in desired)
            steps.append(
                f"{CONSOLE}, open {_room(name)} › Members and make the active members exactly: {wanted} "
                "(invite missing organisations, set these purposes, archive any other membership)"
            )
    return steps


def delete_steps(label: str, before: Mapping[str, Any] | None) -> list[str]:
    name = str(before["name"]) if before and before.get("name") else _unknown(label)
    return [f"{CONSOLE}, open {_room(name)} and archive the clean room"]
