"""Pure translation between mediarithmics clean rooms and the ``CleanRoom`` spec (no I/O).

Live side: a room becomes ``{name, organisation_id, members}`` where ``members`` is the sorted
list of ``{organisation_id, purposes}`` of its memberships that are neither archived nor
declined (pending invitations count: the invitation is made, the partner has to accept). Purposes
are de-duplicated and put in canonical order (``INSIGHTS``, ``ACTIVATION``), so an out-of-band
archive or purpose removal shows as a change of ``members``. Pending and declined invitations are
summarised in ``LiveObject.status``.

The API has no version. The precondition is a fingerprint of the fields *plus* every membership's
status and ``created_ts``/``last_modified_ts``/``archived_ts``, kept in
:attr:`LiveObject.observed` (never compared, never exported), so any change behind our back is
noticed between plan and apply even when it left the compared fields as they were.

Desired side: the same shape from a manifest spec (ids as strings, purposes canonical,
members sorted). :func:`member_ops` lists the membership calls that turn one into the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from reconciler.errors import ProviderError
from reconciler.model import HistoryEntry, LiveObject

KIND = "CleanRoom"
PURPOSES = ("INSIGHTS", "ACTIVATION")


def id_sort_key(value: str) -> tuple[int, str]:
    """Numeric strings sort numerically (``"999"`` before ``"1000"``)."""
    return (len(value), value)


def canonical_purposes(purposes: Sequence[str]) -> list[str]:
    unique = set(purposes)
    known = [p for p in PURPOSES if p in unique]
    return known + sorted(unique - set(PURPOSES))


def organisation_id(value: Any, path: str) -> str:
    """An organisation id as the API writes it (a string of digits)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).isdigit():
        raise ProviderError(f"{KIND}: {path}: {value!r} is not an organisation id")
    return str(value)


def room_to_live(room: Mapping[str, Any]) -> LiveObject:
    """Normalise one clean room as the API returns it."""
    memberships = list(room.get("clean_room_organisations") or [])
    members: list[dict[str, Any]] = [
        {
            "organisation_id": str(m["organisation_id"]),
            "purposes": canonical_purposes(m.get("purposes") or []),
        }
        for m in memberships
        if not m.get("archived") and m.get("status") != "DECLINED"
    ]
    members.sort(key=lambda m: id_sort_key(m["organisation_id"]))
    fields = {
        "name": room.get("name"),
        "organisation_id": str(room.get("organisation_id")),
        "members": members,
    }
    observed = {
        "memberships": sorted(
            (
                [
                    str(m.get("organisation_id")),
                    m.get("status"),
                    bool(m.get("archived")),
                    m.get("created_ts"),
                    m.get("last_modified_ts"),
                    m.get("archived_ts"),
                ]
                for m in memberships
            ),
            key=lambda row: id_sort_key(row[0]),
        ),
        "last_modified_ts": max(
            (
                ts
                for m in memberships
                for ts in (m.get("last_modified_ts"), m.get("created_ts"))
                if isinstance(ts, int)
            ),
            default=None,
        ),
    }
    return LiveObject(
        kind=KIND,
        remote_id=str(room["clean_room_id"]),
        fields=fields,
        status=room_status(memberships),
        observed=observed,
    )


def room_history(room: Mapping[str, Any]) -> list[HistoryEntry]:
    """What the room itself says of who changed it (mediarithmics keeps no change log): each
    membership's ``created_by``, ``last_modified_by`` and ``archived_by`` with their times, as
    changes of ``members[<organisation>]``; the owner membership's last modification also counts
    for ``name`` (a rename is recorded there). Oldest first; users are named ``user <id>``."""
    entries: list[tuple[int, HistoryEntry]] = []
    for m in room.get("clean_room_organisations") or []:
        org = str(m.get("organisation_id"))
        field = f"members[{org}]"
        for who, ts, action in (("created_by", "created_ts", "add"), ("last_modified_by", "last_modified_ts", "update"),
                                ("archived_by", "archived_ts", "delete")):
            user, when = m.get(who), m.get(ts)
            if user is None or not isinstance(when, int):
                continue
            fields = [field, "name"] if action == "update" and m.get("owner") else [field]
            for name in fields:
                entries.append((when, HistoryEntry(_iso(when), f"user {user}", action, name)))
    return [entry for _, entry in sorted(entries, key=lambda pair: pair[0])]


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="seconds")


def room_status(memberships: Sequence[Mapping[str, Any]]) -> str | None:
    """``invited: 1752`` while invitations are pending (``declined: ...`` for refused ones)."""
    active = [m for m in memberships if not m.get("archived")]
    parts = []
    for status, word in (("PENDING", "invited"), ("DECLINED", "declined")):
        orgs = sorted(
            (str(m["organisation_id"]) for m in active if m.get("status") == status), key=id_sort_key
        )
        if orgs:
            parts.append(f"{word}: {', '.join(orgs)}")
    return "; ".join(parts) or None


def owner_membership(room: Mapping[str, Any]) -> str | None:
    """The organisation holding the room's active ``owner: true`` membership, if any."""
    for m in room.get("clean_room_organisations") or []:
        if m.get("owner") and not m.get("archived"):
            return str(m["organisation_id"])
    return None


def normalize_members(members: Any, path: str = "spec.members") -> list[dict[str, Any]]:
    if not isinstance(members, Sequence) or isinstance(members, str):
        raise ProviderError(f"{KIND}: {path}: expected a list of members")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, member in enumerate(members):
        if not isinstance(member, Mapping):
            raise ProviderError(f"{KIND}: {path}[{i}]: expected an object")
        org = organisation_id(member.get("organisation_id"), f"{path}[{i}].organisation_id")
        if org in seen:
            raise ProviderError(f"{KIND}: {path}[{i}].organisation_id: organisation {org} is listed twice")
        seen.add(org)
        purposes = member.get("purposes")
        if not isinstance(purposes, Sequence) or isinstance(purposes, str) or not purposes:
            raise ProviderError(f"{KIND}: {path}[{i}].purposes: expected a non-empty list")
        out.append({"organisation_id": org, "purposes": canonical_purposes([str(p) for p in purposes])})
    out.sort(key=lambda m: id_sort_key(m["organisation_id"]))
    return out


def normalize_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A desired spec in the live object's shape (only the keys the spec sets)."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "organisation_id":
            out[key] = organisation_id(value, "spec.organisation_id")
        elif key == "members":
            out[key] = normalize_members(value)
        else:
            out[key] = value
    return out


class OpKind(StrEnum):
    INVITE = "invite"
    SET_PURPOSES = "set-purposes"
    ARCHIVE = "archive"


@dataclass(frozen=True)
class MemberOp:
    """One membership change: invite, change purposes, or archive."""

    kind: OpKind
    organisation_id: str
    purposes: tuple[str, ...] = ()
    old_purposes: tuple[str, ...] = ()


def member_ops(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]) -> list[MemberOp]:
    """Calls turning normalised ``before`` members into ``after``: invites, then purpose changes,
    then archives, each in organisation order."""
    old = {m["organisation_id"]: tuple(m["purposes"]) for m in before}
    new = {m["organisation_id"]: tuple(m["purposes"]) for m in after}
    invites = [MemberOp(OpKind.INVITE, org, new[org]) for org in new if org not in old]
    changes = [
        MemberOp(OpKind.SET_PURPOSES, org, new[org], old[org])
        for org in new
        if org in old and old[org] != new[org]
    ]
    archives = [MemberOp(OpKind.ARCHIVE, org, (), old[org]) for org in old if org not in new]

    def by_org(op: MemberOp) -> tuple[int, str]:
        return id_sort_key(op.organisation_id)

    return sorted(invites, key=by_org) + sorted(changes, key=by_org) + sorted(archives, key=by_org)
