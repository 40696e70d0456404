"""Semantic checks of mediarithmics clean-room specs, run by ``validate`` (no credentials, no
calls): each organisation is listed once among the members (members are a set keyed by
organisation). Whether the owner must be among them depends on the room (the documented room 21
is owned by 1581, which is not a member), so that is left to the API at create time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.providers.base import RelatedSpec, SpecProblem


def members_rules(values: Mapping[str, Any], related: RelatedSpec) -> Iterable[SpecProblem]:
    members = [m for m in values.get("members") or [] if isinstance(m, Mapping)]
    ids = [str(m.get("organisation_id")) for m in members]
    return [
        SpecProblem(f"members.{index}.organisation_id", f"organisation {org} is listed twice")
        for index, org in enumerate(ids)
        if org in ids[:index]
    ]
