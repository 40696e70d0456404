"""Kinds ``Cleanroom``, ``CleanroomPartner`` and ``CleanroomUser``.

- Cleanroom: natural key ``name``. The manifest says ``type`` and ``parameters`` like the
  request; answers say ``cleanRoomTypeId`` (mapped back to the name through
  ``/cleanrooms/cleanroom-types``) and ``cleanRoomParameters`` (string values: ``true`` becomes
  ``"true"``). Dates compare as ``yyyy-mm-dd``. ``type`` is fixed at creation. PUT takes the
  whole object, so updates send the live object with the changes applied. Removing the
  manifest abandons the room unless ``lifecycle.on_delete: delete``.
- CleanroomPartner: an invitation (``partner_admin_email`` per clean room) that becomes a
  partner when the invitee accepts; ``LiveObject.status`` is ``invited`` until then
  (``accepted``/``declined`` after). Remote id ``<cleanroom id>:<invitation id>``. The note is
  only sent with the invitation (write-only).
- CleanroomUser: an organisation user with a clean-room role (by name); remote id
  ``<cleanroom id>:<clean-room user id>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import ProviderError
from reconciler.model import LiveObject, OnDelete
from reconciler.providers.base import KindInfo, load_schema
from reconciler.providers.liveramp import checks
from reconciler.providers.liveramp.convert import as_id, day, flag_string, join_id, split_id
from reconciler.providers.liveramp.kind import Kind

INVITE_STATUS = {"PENDING": "invited", "ACCEPTED": "accepted", "DECLINED": "declined"}


class CleanroomKind(Kind):
    info = KindInfo(
        name="Cleanroom",
        schema=load_schema("liveramp/Cleanroom.schema.json"),
        natural_key=("name",),
        unique_key=True,  # the API refuses a second one
        immutable_fields=frozenset({"type"}),
        default_on_delete=OnDelete.ABANDON,
        checks=(checks.cleanroom_dates,),
        vendor_fields={"startAt": "start_at", "endAt": "end_at", "cleanRoomParameters": "parameters"},
    )

    def _live(self, raw: Mapping[str, Any]) -> LiveObject:
        type_id = str(raw.get("cleanRoomTypeId", ""))
        fields: dict[str, Any] = {
            "name": raw.get("name", ""),
            "description": raw.get("description", ""),
            "type": self.client.type_names().get(type_id, type_id),
            "start_at": day(raw.get("startAt")),
            "parameters": {str(k): str(v) for k, v in sorted((raw.get("cleanRoomParameters") or {}).items())},
        }
        if raw.get("endAt"):
            fields["end_at"] = day(raw["endAt"])
        return LiveObject(self.name, str(raw["id"]), fields)

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "parameters" in out:
            out["parameters"] = {str(k): flag_string(v) for k, v in sorted((out["parameters"] or {}).items())}
        for key in ("start_at", "end_at"):
            if key in out:
                out[key] = day(out[key])
        if out.get("end_at") is None:
            out.pop("end_at", None)
        return out

    def _all(self) -> list[Mapping[str, Any]]:
        return list(self.client.paged("/cleanrooms"))

    def read(self, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        wanted = set(remote_ids)
        return {str(r["id"]): self._live(r) for r in self._all() if str(r["id"]) in wanted}

    def list_children(self, parent_id: str | None) -> list[LiveObject]:
        return [self._live(r) for r in self._all()]


    @staticmethod
    def _body(spec: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": spec["name"],
            "description": spec.get("description", ""),
            "type": spec["type"],
            "startAt": spec["start_at"],
            "parameters": dict(spec.get("parameters") or {}),
        }
        if spec.get("end_at"):
            body["endAt"] = spec["end_at"]
        return body

    def create(self, spec: Mapping[str, Any]) -> LiveObject:
        return self._live(self.client.call("POST", "/cleanrooms", json=self._body(self.normalize(spec))))

    def write(self, current: LiveObject, desired: dict[str, Any]) -> LiveObject:
        return self._live(self.client.call("PUT", f"/cleanrooms/{current.remote_id}", json=self._body(desired)))

    def delete(self, current: LiveObject) -> None:
        self.client.call("DELETE", f"/cleanrooms/{current.remote_id}")


class CleanroomPartnerKind(Kind):
    info = KindInfo(
        name="CleanroomPartner",
        schema=load_schema("liveramp/CleanroomPartner.schema.json"),
        natural_key=("cleanroom_id", "partner_admin_email"),
        unique_key=True,  # the API refuses a second one
        parent_field="cleanroom_id",
        immutable_fields=frozenset({"cleanroom_id", "partner_admin_email"}),
        write_only_fields=frozenset({"invitation_note"}),
    )

    def _live(self, raw: Mapping[str, Any]) -> LiveObject:
        room = str(raw["cleanRoomId"])
        fields = {
            "cleanroom_id": room,
            "partner_admin_email": str(raw.get("partnerAdminEmail", "")).lower(),
            "invitation_note": raw.get("invitationNote", ""),
        }
        status = str(raw.get("Status", ""))
        return LiveObject(self.name, join_id(room, str(raw["id"])), fields, status=INVITE_STATUS.get(status, status.lower() or None))

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "cleanroom_id" in out:
            out["cleanroom_id"] = as_id(out["cleanroom_id"])
        if "partner_admin_email" in out:
            out["partner_admin_email"] = str(out["partner_admin_email"]).lower()
        return out

    def _invitations(self, room: str) -> list[Mapping[str, Any]]:
        answer = self.client.get(f"/cleanrooms/{room}/invitations") or []
        return [answer] if isinstance(answer, Mapping) else list(answer)  # the spec types it as one object

    def read(self, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        return self.read_under_parents(
            remote_ids, lambda room: (self._live(raw) for raw in self._invitations(room))
        )

    def list_children(self, parent_id: str | None) -> list[LiveObject]:
        rooms = [parent_id] if parent_id else [str(r["id"]) for r in self.client.paged("/cleanrooms")]
        return [self._live(raw) for room in rooms for raw in self._invitations(room)]

    def find_all(self, specs: Sequence[Mapping[str, Any]]) -> list[list[LiveObject]]:
        """An email may have several invitations in a room (declined, then invited again): the
        live ones (invited or accepted) are the match when there are any, else the first listed."""
        out = []
        for matches in super().find_all(specs):
            active = [m for m in matches if m.status in ("invited", "accepted")]
            out.append(active or matches[:1])
        return out

    def create(self, spec: Mapping[str, Any]) -> LiveObject:
        spec = self.normalize(spec)
        body = {"partnerAdminEmail": spec["partner_admin_email"]}
        if spec.get("invitation_note"):
            body["invitationNote"] = spec["invitation_note"]
        return self._live(self.client.call("POST", f"/cleanrooms/{spec['cleanroom_id']}/partners", json=body))

    def write(self, current: LiveObject, desired: dict[str, Any]) -> LiveObject:
        if desired.get("invitation_note") != current.fields.get("invitation_note"):
            raise ProviderError(
                f"liveramp CleanroomPartner {current.remote_id}: an invitation note cannot change after the invitation was sent"
            )
        return current

    def delete(self, current: LiveObject) -> None:
        room, invitation = split_id(current.remote_id, self.name)
        if current.status == "accepted":
            raw = next((r for r in self._invitations(room) if str(r.get("id")) == invitation), {})
            org = raw.get("partnerOrganizationId")
            for partner in self.client.get(f"/cleanrooms/{room}/partners") or []:
                if partner.get("partnerOrganizationId") == org:
                    self.client.call("DELETE", f"/cleanrooms/{room}/partners/{partner['id']}")
                    return
        self.client.call("DELETE", f"/cleanrooms/{room}/invitations/{invitation}")


class CleanroomUserKind(Kind):
    info = KindInfo(
        name="CleanroomUser",
        schema=load_schema("liveramp/CleanroomUser.schema.json"),
        natural_key=("cleanroom_id", "email"),
        unique_key=True,  # the API refuses a second one
        parent_field="cleanroom_id",
        immutable_fields=frozenset({"cleanroom_id", "email"}),
    )

    def _live(self, raw: Mapping[str, Any]) -> LiveObject:
        room = str(raw["cleanRoomId"])
        email = str((raw.get("user") or {}).get("email", "")).lower()
        fields = {
            "cleanroom_id": room,
            "email": email,
            "role": str((raw.get("role") or {}).get("name", "")),
        }
        # a user who added themselves: the API user, made the room's Administrator when the API
        # created the room (a person cannot add themselves in the console)
        added_by = str((raw.get("userAudit") or {}).get("createdBy") or "").lower()
        return LiveObject(self.name, join_id(room, str(raw["id"])), fields, observed={"self_added": added_by == email})

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "cleanroom_id" in out:
            out["cleanroom_id"] = as_id(out["cleanroom_id"])
        if "email" in out:
            out["email"] = str(out["email"]).lower()
        return out

    def read(self, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        return self.read_under_parents(remote_ids, self._users)

    def list_children(self, parent_id: str | None) -> list[LiveObject]:
        rooms = [parent_id] if parent_id else [str(r["id"]) for r in self.client.paged("/cleanrooms")]
        return [live for room in rooms for live in self._users(room)]

    def _users(self, room: str) -> list[LiveObject]:
        return [self._live(raw) for raw in self.client.get(f"/cleanrooms/{room}/users") or []]

    def create(self, spec: Mapping[str, Any]) -> LiveObject:
        spec = self.normalize(spec)
        raw = self.client.call("POST", f"/cleanrooms/{spec['cleanroom_id']}/users", json={"email": spec["email"], "role": spec["role"]})
        return self._live(raw)

    def write(self, current: LiveObject, desired: dict[str, Any]) -> LiveObject:
        room, user = split_id(current.remote_id, self.name)
        if desired.get("role") == current.fields.get("role"):
            return current
        roles = self.client.get(f"/cleanrooms/{room}/cleanRoomRoles") or []
        role = next((r for r in roles if r.get("name") == desired.get("role")), None)
        if role is None:
            known = ", ".join(sorted(str(r.get("name")) for r in roles))
            raise ProviderError(f"liveramp CleanroomUser {current.remote_id}: clean room {room} has no role '{desired.get('role')}' (roles: {known})")
        return self._live(self.client.call("PUT", f"/cleanrooms/{room}/users/{user}/cleanRoomRoles/{role['id']}"))

    def delete(self, current: LiveObject) -> None:
        room, user = split_id(current.remote_id, self.name)
        self.client.call("DELETE", f"/cleanrooms/{room}/users/{user}")
