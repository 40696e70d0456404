"""Clean rooms, their roles and users, partners and invitations (reference §1.4, §1.5).

Quirks reproduced: requests say ``type``/``parameters`` while responses say
``cleanRoomTypeId``/``cleanRoomParameters`` (values always strings, booleans coerced as Jackson
does); ``startAt``/``endAt`` go in as ``yyyy-mm-dd`` and come back as date-times; the type is
fixed at creation; a partner exists only after the invitee accepts (no accept endpoint: the
sandbox control ``/_sandbox/liveramp/invitations/<id>/accept`` stands for the invitee);
invitations carry PascalCase ``InvitorEmail``/``Status``; a room past its ``endAt`` is read-only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.sandbox.liveramp import reference as ref
from reconciler.sandbox.liveramp.common import (
    BackendBase,
    LiveRampError,
    as_string,
    bad_request,
    not_found,
    parse_date,
    public,
    require_object,
)

REGIONS = frozenset({"REGION_EU", "REGION_US", "REGION_APAC", "REGION_AFRICA", "REGION_UAE"})
SUB_REGIONS = frozenset(
    "SUB_REGION_" + s
    for s in ("EAST1", "WEST1", "NORTH1", "SOUTH1", "CENTRAL1", "NORTHEAST1", "SOUTHEAST1", "ME_CENTRAL1", "EU_WEST4", "EAST2")
)
CLOUDS = frozenset({"CLOUD_AWS", "CLOUD_GCP", "CLOUD_AZURE"})
FLAGS = frozenset({"ENABLE_EXPORT", "ENABLE_VIEW_QUERY", "ENABLE_HABU_INTELLIGENCE", "ENABLE_PAIR", "ENABLE_OPJA"})
FREE_PARAMETERS = frozenset({"DATA_DECIBEL", "CROWD_SIZE"})
DEFAULT_NOTE = (
    "We are making some insights based on our data available to you in a Clean Room and would like to "
    "invite you to take a look. Getting started is super easy."
)


class RoomsMixin(BackendBase):
    # -- types -----------------------------------------------------------------------------------
    def cleanroom_types(self) -> list[dict[str, Any]]:
        return ref.cleanroom_types()

    def _type_by_name(self, name: Any) -> dict[str, Any]:
        for t in ref.cleanroom_types():
            if t["name"] == name:
                return t
        known = ", ".join(t["name"] for t in ref.cleanroom_types())
        raise bad_request(f"Invalid clean room type '{name}'; expected one of: {known}")

    # -- clean rooms ------------------------------------------------------------------------------
    def render_cleanroom(self, doc: dict[str, Any]) -> dict[str, Any]:
        out = public(doc)
        out["startAt"] = f"{doc['startAt']}T00:00:00.000+00:00"
        if doc.get("endAt"):
            out["endAt"] = f"{doc['endAt']}T00:00:00.000+00:00"
        out["partners"] = sorted(p["name"] for p in self.all("partners") if p["_cleanRoomId"] == doc["id"])
        out["questionsCount"] = sum(1 for q in self.all("crqs") if q["cleanroomId"] == doc["id"])
        out["status"] = "COMPLETED" if self._ended(doc) else "ACTIVE"
        return out

    def _ended(self, doc: dict[str, Any]) -> bool:
        end = doc.get("endAt")
        today = datetime.fromtimestamp(self.now(), UTC).date().isoformat()
        return isinstance(end, str) and end < today

    def require_open(self, room: dict[str, Any], action: str) -> None:
        if self._ended(room):
            raise bad_request(f"Clean room {room['id']} ended on {room['endAt']}: cannot {action}")

    def _cleanroom_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("name is required")
        if body.get("type") is None:
            raise bad_request("type is required")
        start = parse_date(body.get("startAt"), "startAt")
        end = parse_date(body["endAt"], "endAt") if body.get("endAt") else None
        if end and end < start:
            raise bad_request("endAt must not be before startAt")
        description = body.get("description") or ""
        if not isinstance(description, str):
            raise bad_request("description must be a string")
        return {
            "name": name,
            "description": description,
            "startAt": start,
            "endAt": end,
            "cleanRoomTypeId": self._type_by_name(body.get("type"))["id"],
            "cleanRoomParameters": self._parameters(body.get("parameters")),
        }

    def _parameters(self, raw: Any) -> dict[str, str]:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise bad_request("parameters must be an object of string values")
        params = {str(k): as_string(v) for k, v in raw.items()}
        for key in ("CLOUD", "REGION"):
            if not params.get(key):
                raise bad_request(f"parameters.{key} is required")
        checks = {"REGION": REGIONS, "SUB_REGION": SUB_REGIONS, "CLOUD": CLOUDS}
        for key, value in params.items():
            if key in checks:
                if value not in checks[key]:
                    raise bad_request(f"parameters.{key}: '{value}' is not one of {sorted(checks[key])}")
            elif key in FLAGS:
                if value not in ("true", "false"):
                    raise bad_request(f"parameters.{key} must be \"true\" or \"false\"")
            elif key not in FREE_PARAMETERS:
                known = sorted(set(checks) | FLAGS | FREE_PARAMETERS)
                raise bad_request(f"Unknown clean room parameter '{key}'; known: {known}")
        return dict(sorted(params.items()))

    def list_cleanrooms(self, client: dict[str, Any]) -> list[dict[str, Any]]:
        rooms = [r for r in self.all("cleanrooms") if r["_org"] == client["_org"]]
        return [self.render_cleanroom(r) for r in rooms]

    def get_cleanroom(self, room_id: str) -> dict[str, Any]:
        return self.must("cleanrooms", room_id, "Cleanroom")

    def create_cleanroom(self, client: dict[str, Any], body: Any) -> dict[str, Any]:
        fields = self._cleanroom_fields(require_object(body, "create cleanroom"))
        if any(r["name"] == fields["name"] for r in self.all("cleanrooms") if r["_org"] == client["_org"]):
            raise LiveRampError(409, f"A clean room named '{fields['name']}' already exists")
        doc = {
            "id": self.new_id(),
            "displayId": self.display_id("cleanrooms", "CR"),
            **fields,
            "ownerOrganization": ref.ORG_NAME,
            "timeAudit": self.time_audit(),
            "_org": client["_org"],
        }
        self.put("cleanrooms", doc)
        for role in ref.OWNER_ROLES:
            self._add_role(doc["id"], role, client["_org"])
        api_user = self._org_user(client["_user"], client["_org"])
        self._add_user(doc, api_user, self.role_by_name(doc["id"], "Administrator", client["_org"]), client)
        return doc

    def update_cleanroom(self, client: dict[str, Any], room_id: str, body: Any) -> dict[str, Any]:
        doc = self.get_cleanroom(room_id)
        fields = self._cleanroom_fields(require_object(body, "update cleanroom"))
        if fields["cleanRoomTypeId"] != doc["cleanRoomTypeId"]:
            raise bad_request("The clean room type cannot be changed after creation")
        clash = [r for r in self.all("cleanrooms") if r["_org"] == doc["_org"] and r["name"] == fields["name"]]
        if any(r["id"] != room_id for r in clash):
            raise bad_request(f"A clean room named '{fields['name']}' already exists")
        doc.update(fields)
        doc["timeAudit"] = self.time_audit(doc["timeAudit"]["createdAt"])
        return self.put("cleanrooms", doc)

    def delete_cleanroom(self, room_id: str) -> dict[str, Any]:
        self.get_cleanroom(room_id)
        for coll, key in (
            ("datasets", "cleanRoomId"),
            ("invitations", "cleanRoomId"),
            ("partners", "_cleanRoomId"),
            ("cr_users", "cleanRoomId"),
            ("roles", "cleanRoomId"),
        ):
            for doc in self.all(coll):
                if doc.get(key) == room_id:
                    self.delete(coll, doc["id"])
        for crq in self.all("crqs"):
            if crq["cleanroomId"] == room_id:
                self.delete_crq(crq["id"])
        self.delete("cleanrooms", room_id)
        return {"success": True}

    def delete_crq(self, crq_id: str) -> dict[str, Any]:  # implemented by the questions mixin
        raise NotImplementedError

    def stakeholders(self, room_id: str) -> list[dict[str, Any]]:
        room = self.get_cleanroom(room_id)
        out = [{"organizationId": room["_org"], "organizationName": ref.ORG_NAME, "ownership": "OWNER"}]
        for partner in self.all("partners"):
            if partner["_cleanRoomId"] == room_id:
                out.append(
                    {"organizationId": partner["partnerOrganizationId"], "organizationName": partner["name"], "ownership": "PARTNER"}
                )
        return out

    # -- roles -----------------------------------------------------------------------------------
    def _add_role(self, room_id: str, name: str, org_id: str) -> dict[str, Any]:
        return self.put("roles", {"id": self.new_id(), "name": name, "cleanRoomId": room_id, "organizationId": org_id})

    def roles(self, room_id: str, org_id: str | None = None) -> list[dict[str, Any]]:
        self.get_cleanroom(room_id)
        return [public(r) for r in self.all("roles") if r["cleanRoomId"] == room_id and (org_id is None or r["organizationId"] == org_id)]

    def role(self, room_id: str, role_id: str, org_id: str | None = None) -> dict[str, Any]:
        for r in self.roles(room_id, org_id):
            if r["id"] == role_id:
                return r
        raise not_found("Cleanroom role", role_id)

    def role_by_name(self, room_id: str, name: str, org_id: str) -> dict[str, Any]:
        for r in self.roles(room_id, org_id):
            if r["name"] == name:
                return r
        known = sorted(r["name"] for r in self.roles(room_id, org_id))
        raise bad_request(f"Unknown clean room role '{name}'; known: {known}")

    # -- clean-room users ------------------------------------------------------------------------
    def org_users(self, org_id: str) -> list[dict[str, Any]]:
        return [u for u in self.all("org_users") if u["_organizationId"] == org_id]

    def _org_user(self, email: str, org_id: str) -> dict[str, Any]:
        for u in self.org_users(org_id):
            if u["user"]["email"].lower() == str(email).lower():
                return u
        raise not_found("User in organization", str(email))

    def _add_user(self, room: dict[str, Any], org_user: dict[str, Any], role: dict[str, Any], client: dict[str, Any]) -> dict[str, Any]:
        doc = {
            "id": self.new_id(),
            "cleanRoomId": room["id"],
            "user": dict(org_user["user"]),
            "timeAudit": self.time_audit(),
            "userAudit": {"createdBy": client["_user"], "updatedBy": client["_user"]},
            "role": role,
            "_org": org_user["_organizationId"],
        }
        return self.put("cr_users", doc)

    def list_users(self, room_id: str, email: str | None = None) -> list[dict[str, Any]]:
        room = self.get_cleanroom(room_id)
        users = [u for u in self.all("cr_users") if u["cleanRoomId"] == room_id and u["_org"] == room["_org"]]
        if email:
            users = [u for u in users if u["user"]["email"].lower() == email.lower()]
        return [public(u) for u in users]

    def get_user(self, room_id: str, user_id: str) -> dict[str, Any]:
        doc = self.must("cr_users", user_id, "Cleanroom user")
        if doc["cleanRoomId"] != room_id:
            raise not_found("Cleanroom user", user_id)
        return doc

    def add_user(self, client: dict[str, Any], room_id: str, body: Any) -> dict[str, Any]:
        room = self.get_cleanroom(room_id)
        body = require_object(body, "add cleanroom user")
        if body.get("email"):
            org_user = self._org_user(body["email"], room["_org"])
        elif body.get("userId"):
            org_user = self.must("org_users", str(body["userId"]), "User")
        else:
            raise bad_request("email is required")
        if body.get("role"):
            role = self.role_by_name(room_id, str(body["role"]), room["_org"])
        elif body.get("roleId"):
            role = self.role(room_id, str(body["roleId"]), room["_org"])
        else:
            raise bad_request("role is required")
        email = org_user["user"]["email"].lower()
        if any(u["user"]["email"].lower() == email for u in self.list_users(room_id)):
            raise LiveRampError(409, f"User {org_user['user']['email']} is already a member of clean room {room_id}")
        return public(self._add_user(room, org_user, role, client))

    def set_user_role(self, client: dict[str, Any], room_id: str, user_id: str, role_id: str, partner_id: str | None = None) -> dict[str, Any]:
        room = self.get_cleanroom(room_id)
        user = self.get_user(room_id, user_id)
        if partner_id is not None:
            partner = self.get_partner(room_id, partner_id)
            if user["_org"] != partner["partnerOrganizationId"]:
                raise not_found("Cleanroom partner user", user_id)
            role = self.role(room_id, role_id, partner["partnerOrganizationId"])
            if role["name"] in ref.PROTECTED_ROLES:
                raise LiveRampError(403, f"The role '{role['name']}' cannot be assigned through the API")
        else:
            if user["_org"] != room["_org"]:
                raise not_found("Cleanroom user", user_id)
            role = self.role(room_id, role_id, room["_org"])
            if role["name"] == "Partner Administrator":
                raise LiveRampError(403, "The role 'Partner Administrator' cannot be assigned through the API")
        user["role"] = role
        user["timeAudit"] = self.time_audit(user["timeAudit"]["createdAt"])
        user["userAudit"] = {**user["userAudit"], "updatedBy": client["_user"]}
        return public(self.put("cr_users", user))

    def remove_user(self, room_id: str, user_id: str, partner_id: str | None = None) -> dict[str, Any]:
        user = self.get_user(room_id, user_id)
        if partner_id is not None and user["_org"] != self.get_partner(room_id, partner_id)["partnerOrganizationId"]:
            raise not_found("Cleanroom partner user", user_id)
        self.delete("cr_users", user_id)
        return {"success": True}

    # -- invitations and partners ----------------------------------------------------------------
    def invite_partner(self, client: dict[str, Any], room_id: str, body: Any) -> dict[str, Any]:
        room = self.get_cleanroom(room_id)
        self.require_open(room, "invite partners")
        body = require_object(body, "add cleanroom partner")
        email = body.get("partnerAdminEmail")
        if not isinstance(email, str) or "@" not in email:
            raise bad_request("partnerAdminEmail must be an email address")
        if email.lower().endswith("@" + ref.ORG_DOMAIN):
            raise bad_request("A partner cannot belong to the clean room owner's organization")
        for inv in self.all("invitations"):
            if inv["cleanRoomId"] == room_id and inv["partnerAdminEmail"].lower() == email.lower() and inv["Status"] in ("PENDING", "ACCEPTED"):
                raise bad_request(f"{email} already has a {inv['Status'].lower()} invitation to this clean room")
        note = body.get("invitationNote")
        doc = {
            "id": self.new_id(),
            "organizationId": room["_org"],
            "cleanRoomId": room_id,
            "invitationNote": note if isinstance(note, str) and note else DEFAULT_NOTE,
            "partnerAdminEmail": email,
            "InvitorEmail": client["_user"],
            "Status": "PENDING",
            "timeAudit": self.time_audit(),
        }
        return public(self.put("invitations", doc))

    def list_invitations(self, room_id: str) -> list[dict[str, Any]]:
        self.get_cleanroom(room_id)
        return [public(i) for i in self.all("invitations") if i["cleanRoomId"] == room_id]

    def cancel_invitation(self, room_id: str, invitation_id: str | None = None, email: str | None = None) -> dict[str, Any]:
        self.get_cleanroom(room_id)
        for inv in self.all("invitations"):
            if inv["cleanRoomId"] != room_id:
                continue
            if (invitation_id and inv["id"] == invitation_id) or (email and inv["partnerAdminEmail"].lower() == email.lower() and inv["Status"] == "PENDING"):
                if inv["Status"] == "ACCEPTED":
                    raise bad_request("The invitation was accepted: remove the partner instead")
                self.delete("invitations", inv["id"])
                return public(inv)
        raise not_found("Invitation", invitation_id or str(email))

    def answer_invitation(self, invitation_id: str, accept: bool, organization_name: str | None = None) -> dict[str, Any]:
        """Sandbox control: the invitee accepts or declines (the real API has no call for it)."""
        inv = self.must("invitations", invitation_id, "Invitation")
        if inv["Status"] != "PENDING":
            raise bad_request(f"Invitation {invitation_id} is {inv['Status']}, not PENDING")
        inv["timeAudit"] = self.time_audit(inv["timeAudit"]["createdAt"])
        if not accept:
            inv["Status"] = "DECLINED"
            return public(self.put("invitations", inv))
        room = self.get_cleanroom(inv["cleanRoomId"])
        domain = inv["partnerAdminEmail"].split("@", 1)[1].lower()
        org = self.get("orgs", ref.stable_id("org", domain))
        if org is None:
            org = self.put("orgs", {"id": ref.stable_id("org", domain), "name": organization_name or domain})
        inv["Status"] = "ACCEPTED"
        inv["partnerOrganizationId"] = org["id"]
        self.put("invitations", inv)
        partner = self.put(
            "partners",
            {
                "id": self.new_id(),
                "partnerOrganizationId": org["id"],
                "name": org["name"],
                "_cleanRoomId": room["id"],
                "_invitationId": inv["id"],
            },
        )
        for role in ref.PARTNER_ROLES:
            self._add_role(room["id"], role, org["id"])
        email = inv["partnerAdminEmail"]
        org_user = self.get("org_users", ref.stable_id("user", email.lower()))
        if org_user is None:
            org_user = self.put("org_users", ref.org_user(email, email.split("@")[0], "Organization Admin", org["id"]))
        admin_role = self.role_by_name(room["id"], "Partner Administrator", org["id"])
        self._add_user(room, org_user, admin_role, {"_user": email})
        return {"invitation": public(inv), "partner": self.render_partner(partner)}

    def render_partner(self, partner: dict[str, Any]) -> dict[str, Any]:
        users = [
            public(u) for u in self.all("cr_users")
            if u["cleanRoomId"] == partner["_cleanRoomId"] and u["_org"] == partner["partnerOrganizationId"]
        ]
        return {**public(partner), "userCount": len(users), "cleanRoomUsers": users}

    def list_partners(self, room_id: str) -> list[dict[str, Any]]:
        self.get_cleanroom(room_id)
        return [self.render_partner(p) for p in self.all("partners") if p["_cleanRoomId"] == room_id]

    def get_partner(self, room_id: str, partner_id: str) -> dict[str, Any]:
        doc = self.must("partners", partner_id, "Cleanroom partner")
        if doc["_cleanRoomId"] != room_id:
            raise not_found("Cleanroom partner", partner_id)
        return doc

    def remove_partner(self, room_id: str, partner_id: str) -> dict[str, Any]:
        partner = self.get_partner(room_id, partner_id)
        org_id = partner["partnerOrganizationId"]
        for coll, key in (("cr_users", "_org"), ("roles", "organizationId")):
            for doc in self.all(coll):
                if doc.get("cleanRoomId") == room_id and doc.get(key) == org_id:
                    self.delete(coll, doc["id"])
        self.delete("invitations", partner["_invitationId"])
        self.delete("partners", partner_id)
        return {"success": True}
