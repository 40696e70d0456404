"""Emulator of the mediarithmics clean-room API, mounted at ``/mediarithmics``.

``/mediarithmics`` stands for ``https://api.mediarithmics.com``; below it the paths are the real
ones (``/mediarithmics/v1/clean_rooms`` answers what ``https://api.mediarithmics.com/v1/clean_rooms``
would).

Documented by mediarithmics (reproduced shape for shape, see ``seeds/000_*.txt``):

- ``GET /v1/clean_rooms?organisation_id=ID`` -> ``{"status": "ok", "data": [...], "count",
  "total", "first_result", "max_results"}``, paged with ``first_result`` (offset, default 0) and
  ``max_results`` (page size, default 2147483647, i.e. everything). A room is listed for an
  organisation that owns it (``organisation_id``) or holds a non-archived membership in it;
  newest room first.
- ``GET /v1/clean_rooms/{clean_room_id}`` -> ``{"status": "ok", "data": {...}}``.
- A clean room is ``{clean_room_id, organisation_id, name, clean_room_organisations[]}``; each
  membership is ``{clean_room_id, organisation_id, organisation_name, owner, status, created_by,
  created_ts, last_modified_by, last_modified_ts, archived, archived_by, archived_ts, purposes}``.
  Ids are JSON strings, timestamps epoch milliseconds, absent values explicit ``null``.
- Auth: the API token itself in ``Authorization`` (no ``Bearer`` prefix).
- Errors: ``{"status": "error", "error": message, "error_code": CODE, "error_id": uuid}`` with
  the HTTP status code. The ``error_code`` values are the sandbox's own choice (mediarithmics does
  not publish its list): ``AUTHENTICATION_REQUIRED`` / ``INVALID_AUTHENTICATION`` (401),
  ``ACCESS_DENIED`` (403), ``RESOURCE_NOT_FOUND`` (404), ``BAD_REQUEST`` (400), ``CONFLICT`` (409),
  ``METHOD_NOT_ALLOWED`` (405), ``TOO_MANY_REQUESTS`` (429), ``SERVICE_UNAVAILABLE`` (5xx).

SANDBOX EXTENSIONS (not mediarithmics API: mediarithmics documents no clean-room writes; these
endpoints are defined by this sandbox so that reconciler's opt-in ``writes: enabled`` mode can be
exercised; they follow the house style of the documented reads, and every write answers
``{"status": "ok", "data": ...}``):

- ``POST /v1/clean_rooms`` ``{"organisation_id", "name", "clean_room_organisations":
  [{"organisation_id", "purposes"}]}``: create a room. The list must include ``organisation_id``,
  whose membership becomes the owner membership (``owner: true``, ``ACCEPTED``); every other
  organisation is invited (``PENDING``). A second room with the same name under the same
  organisation is refused (409).
- ``PUT /v1/clean_rooms/{id}`` ``{"name"}``: rename. ``organisation_id`` cannot change. The room
  has no timestamps of its own, so the rename is recorded on the owner membership's
  ``last_modified_by``/``last_modified_ts``.
- ``DELETE /v1/clean_rooms/{id}``: archive the room (every membership archived; the room is no
  longer listed and its GET answers 404).
- ``GET /v1/clean_rooms/{id}/clean_room_organisations``: the memberships (list wrapper).
- ``POST /v1/clean_rooms/{id}/clean_room_organisations`` ``{"organisation_id", "purposes"}``:
  invite an organisation (membership ``PENDING``). Re-inviting an archived or declined
  membership re-opens it as ``PENDING``; inviting a pending or accepted member is a 409.
- ``PUT /v1/clean_rooms/{id}/clean_room_organisations/{organisation_id}`` ``{"purposes"}``:
  change a membership's purposes.
- ``DELETE /v1/clean_rooms/{id}/clean_room_organisations/{organisation_id}``: archive a
  membership (``archived: true``, ``archived_by``, ``archived_ts``); the owner membership cannot
  be archived this way.
- Control endpoints (no token; they act as the invited organisation):
  ``POST /_sandbox/mediarithmics/accept`` and ``/_sandbox/mediarithmics/decline`` with
  ``{"clean_room_id", "organisation_id", "user_id"?}`` turn a ``PENDING`` membership into
  ``ACCEPTED`` or ``DECLINED``.

Every modification sets ``last_modified_by`` (the acting user id) and ``last_modified_ts``
(strictly increasing per membership); creations set ``created_by``/``created_ts`` and leave the
``last_modified_*`` fields null, as in the documented example. Purposes are ``INSIGHTS`` and
``ACTIVATION``.

Seeds: the default reset loads three organisations (1581, 1752, 1863) and the demo user, whose
token ``demo-token`` (``demo_credentials``) can act for all three. ``POST /_sandbox/seed
{"api": "mediarithmics", "name": "docs"}`` loads the two clean rooms of the documented list
example verbatim; ``{"api": "mediarithmics", "data": {"organisations": [...], "users": [...],
"clean_rooms": [...]}}`` loads arbitrary data (users as ``{"user_id", "organisations",
"tokens"}``).
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.base import Emulator, EmulatorError, json_response
from reconciler.sandbox.info import EmulatorInfo, Entry, SeedInfo
from reconciler.sandbox.mediarithmics.data import ORGANISATIONS, USERS, docs_clean_rooms

PURPOSES = ("INSIGHTS", "ACTIVATION")
STATUSES = ("PENDING", "ACCEPTED", "DECLINED")
MAX_RESULTS_DEFAULT = 2147483647
FIRST_ROOM_ID = 100  # rooms created through the extension start here (the docs seed uses 21, 22)

ROOMS = "clean_rooms"
ORGS = "organisations"
USERS_COLL = "users"
TOKENS = "api_tokens"

# base-class error codes -> the mediarithmics-style codes this emulator answers with
_CODES = {
    "not_found": "RESOURCE_NOT_FOUND",
    "method_not_allowed": "METHOD_NOT_ALLOWED",
    "bad_request": "BAD_REQUEST",
    "rate_limited": "TOO_MANY_REQUESTS",
    "error": "SERVICE_UNAVAILABLE",
}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _id_sort_key(value: str) -> tuple[int, str]:
    return (len(value), value)  # numeric strings sort numerically


class MediarithmicsEmulator(Emulator):
    name = "mediarithmics"
    demo_credentials = {"token": "demo-token"}
    rules = [
        Rule("/v1/clean_rooms", methods=["GET"], endpoint="list_clean_rooms"),
        Rule("/v1/clean_rooms", methods=["POST"], endpoint="create_clean_room"),
        Rule("/v1/clean_rooms/<room_id>", methods=["GET"], endpoint="get_clean_room"),
        Rule("/v1/clean_rooms/<room_id>", methods=["PUT"], endpoint="update_clean_room"),
        Rule("/v1/clean_rooms/<room_id>", methods=["DELETE"], endpoint="archive_clean_room"),
        Rule(
            "/v1/clean_rooms/<room_id>/clean_room_organisations", methods=["GET"], endpoint="list_memberships"
        ),
        Rule(
            "/v1/clean_rooms/<room_id>/clean_room_organisations",
            methods=["POST"],
            endpoint="invite_organisation",
        ),
        Rule(
            "/v1/clean_rooms/<room_id>/clean_room_organisations/<org_id>",
            methods=["PUT"],
            endpoint="update_membership",
        ),
        Rule(
            "/v1/clean_rooms/<room_id>/clean_room_organisations/<org_id>",
            methods=["DELETE"],
            endpoint="archive_membership",
        ),
    ]

    # -- base hooks ------------------------------------------------------------------------------
    def describe(self) -> EmulatorInfo:
        entries = [
            *(Entry("organisation", o["organisation_id"], o["organisation_name"]) for o in ORGANISATIONS),
            *(Entry("user", str(u["user_id"]), str(u["email"]), f"token {', '.join(u['tokens'])}; acts for organisations "
                    f"{', '.join(u['organisations'])}") for u in USERS),
        ]
        rooms = docs_clean_rooms()
        docs = tuple(Entry("clean_room", r["clean_room_id"], r["name"], f"owned by {r['organisation_id']}") for r in rooms)
        return EmulatorInfo(
            self.name, "/mediarithmics/v1", "mediarithmics clean rooms (documented reads + sandbox-only writes)",
            "https://api.mediarithmics.com/v1", tuple(self.demo_credentials.items()),
            (
                SeedInfo("default", "loaded by every reset (no clean rooms yet)", tuple(entries)),
                SeedInfo("docs", "the two clean rooms of the vendor's documented list example, verbatim", docs),
                SeedInfo("data", 'arbitrary data: {"organisations": [...], "users": [...], "clean_rooms": [...]}'),
            ),
            ("the token goes as-is in Authorization (no Bearer)",
             "writes exist only in the sandbox (see README); POST /_sandbox/mediarithmics/accept answers an invitation"),
        )

    def reset(self) -> None:
        super().reset()
        self._load({"organisations": ORGANISATIONS, "users": USERS})

    def seed(self, name: str | None, data: Any) -> Any:
        if name == "docs":
            rooms = docs_clean_rooms()
            self._load({"clean_rooms": rooms})
            return {"clean_rooms": [r["clean_room_id"] for r in rooms]}
        if name in (None, "data") and isinstance(data, dict):
            return self._load(data)
        if name is None:
            raise EmulatorError(400, "bad_request", "seed needs a name ('docs') or a data object")
        return super().seed(name, data)

    def control(self, action: str, request: Request) -> Any:
        if action in ("accept", "decline") and request.method == "POST":
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                raise EmulatorError(400, "bad_request", "expected a JSON object")
            return self._answer_invitation(body, "ACCEPTED" if action == "accept" else "DECLINED")
        return super().control(action, request)

    def error_response(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        body = {
            "status": "error",
            "error": message,
            "error_code": _CODES.get(code, code),
            "error_id": str(uuid.uuid4()),
        }
        return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")

    # -- documented reads ------------------------------------------------------------------------
    def list_clean_rooms(self, request: Request) -> Response:
        user = self._user(request)
        org = request.args.get("organisation_id")
        if not org:
            raise EmulatorError(400, "BAD_REQUEST", "query parameter organisation_id is required")
        if not org.isdigit():
            raise EmulatorError(400, "BAD_REQUEST", f"organisation_id must be a number, got {org!r}")
        self._require_org(user, org)
        first = self._int_arg(request, "first_result", 0)
        size = self._int_arg(request, "max_results", MAX_RESULTS_DEFAULT)
        rooms = [doc["room"] for doc in self._rooms() if self._listed_for(doc["room"], org)]
        rooms.sort(key=lambda r: _id_sort_key(r["clean_room_id"]), reverse=True)
        page = rooms[first : first + size]
        return json_response(
            {
                "status": "ok",
                "data": copy.deepcopy(page),
                "count": len(page),
                "total": len(rooms),
                "first_result": first,
                "max_results": size,
            }
        )

    def get_clean_room(self, request: Request, room_id: str) -> Response:
        user = self._user(request)
        room = self._room(room_id)
        orgs = {room["organisation_id"], *(m["organisation_id"] for m in room["clean_room_organisations"])}
        if not orgs & set(user["organisations"]):
            raise EmulatorError(403, "ACCESS_DENIED", f"no access to clean room {room_id}")
        return json_response({"status": "ok", "data": copy.deepcopy(room)})

    # -- sandbox extensions: clean rooms ---------------------------------------------------------
    def create_clean_room(self, request: Request) -> Response:
        user = self._user(request)
        body = self._body(request)
        org = self._org_id(body.get("organisation_id"), "organisation_id")
        self._require_org(user, org)
        name = self._name(body.get("name"))
        entries = body.get("clean_room_organisations")
        if not isinstance(entries, list) or not entries:
            raise EmulatorError(400, "BAD_REQUEST", "clean_room_organisations must be a non-empty list")
        members: list[tuple[str, list[str]]] = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise EmulatorError(400, "BAD_REQUEST", f"clean_room_organisations[{i}] must be an object")
            member = self._org_id(
                entry.get("organisation_id"), f"clean_room_organisations[{i}].organisation_id"
            )
            self._organisation(member)
            if any(member == m for m, _ in members):
                raise EmulatorError(400, "BAD_REQUEST", f"organisation {member} is listed twice")
            members.append(
                (member, self._purposes(entry.get("purposes"), f"clean_room_organisations[{i}].purposes"))
            )
        if org not in [m for m, _ in members]:
            raise EmulatorError(
                400, "BAD_REQUEST", f"clean_room_organisations must include the owner organisation {org}"
            )
        self._check_unique_name(org, name, None)
        room_id = self._new_room_id()
        now = _now_ms()
        members.sort(key=lambda m: m[0] != org)  # owner first, then in the order given
        memberships = [
            self._new_membership(
                room_id,
                m,
                purposes,
                owner=(m == org),
                status="ACCEPTED" if m == org else "PENDING",
                user_id=user["user_id"],
                now=now,
            )
            for m, purposes in members
        ]
        room = {
            "clean_room_id": room_id,
            "organisation_id": org,
            "name": name,
            "clean_room_organisations": memberships,
        }
        self._save(room)
        return json_response({"status": "ok", "data": copy.deepcopy(room)})

    def update_clean_room(self, request: Request, room_id: str) -> Response:
        user = self._user(request)
        room = copy.deepcopy(self._room(room_id))
        self._require_admin(user, room)
        body = self._body(request)
        for key in ("clean_room_id", "organisation_id"):
            if key in body and str(body[key]) != room[key]:
                raise EmulatorError(400, "BAD_REQUEST", f"{key} cannot be changed")
        if "name" not in body:
            raise EmulatorError(400, "BAD_REQUEST", "name is required")
        name = self._name(body["name"])
        if name != room["name"]:
            self._check_unique_name(room["organisation_id"], name, room_id)
            room["name"] = name
            owner = next((m for m in room["clean_room_organisations"] if m["owner"]), None)
            if owner is not None:
                self._touch(owner, user["user_id"])
            self._save(room)
        return json_response({"status": "ok", "data": copy.deepcopy(room)})

    def archive_clean_room(self, request: Request, room_id: str) -> Response:
        user = self._user(request)
        room = copy.deepcopy(self._room(room_id))
        self._require_admin(user, room)
        for membership in room["clean_room_organisations"]:
            if not membership["archived"]:
                self._archive(membership, user["user_id"])
        self._save(room, archived=True)
        return json_response({"status": "ok", "data": copy.deepcopy(room)})

    # -- sandbox extensions: memberships ---------------------------------------------------------
    def list_memberships(self, request: Request, room_id: str) -> Response:
        user = self._user(request)
        room = self._room(room_id)
        orgs = {room["organisation_id"], *(m["organisation_id"] for m in room["clean_room_organisations"])}
        if not orgs & set(user["organisations"]):
            raise EmulatorError(403, "ACCESS_DENIED", f"no access to clean room {room_id}")
        data = copy.deepcopy(room["clean_room_organisations"])
        return json_response(
            {"status": "ok", "data": data, "count": len(data), "first_result": 0, "max_results": len(data)}
        )

    def invite_organisation(self, request: Request, room_id: str) -> Response:
        user = self._user(request)
        room = copy.deepcopy(self._room(room_id))
        self._require_admin(user, room)
        body = self._body(request)
        org = self._org_id(body.get("organisation_id"), "organisation_id")
        self._organisation(org)
        purposes = self._purposes(body.get("purposes"), "purposes")
        existing = self._find_membership(room, org)
        if existing is None:
            membership = self._new_membership(
                room_id, org, purposes, owner=False, status="PENDING", user_id=user["user_id"], now=_now_ms()
            )
            room["clean_room_organisations"].append(membership)
        elif existing["archived"] or existing["status"] == "DECLINED":
            membership = existing
            membership.update(
                status="PENDING", archived=False, archived_by=None, archived_ts=None, purposes=purposes
            )
            self._touch(membership, user["user_id"])
        else:
            raise EmulatorError(
                409,
                "CONFLICT",
                f"organisation {org} is already a member of clean room {room_id} ({existing['status']})",
            )
        self._save(room)
        return json_response({"status": "ok", "data": copy.deepcopy(membership)})

    def update_membership(self, request: Request, room_id: str, org_id: str) -> Response:
        user = self._user(request)
        room = copy.deepcopy(self._room(room_id))
        self._require_admin(user, room)
        membership = self._active_membership(room, org_id)
        purposes = self._purposes(self._body(request).get("purposes"), "purposes")
        if purposes != membership["purposes"]:
            membership["purposes"] = purposes
            self._touch(membership, user["user_id"])
            self._save(room)
        return json_response({"status": "ok", "data": copy.deepcopy(membership)})

    def archive_membership(self, request: Request, room_id: str, org_id: str) -> Response:
        user = self._user(request)
        room = copy.deepcopy(self._room(room_id))
        membership = self._active_membership(room, org_id)
        if org_id not in user["organisations"]:  # a member may leave; otherwise the owner acts
            self._require_admin(user, room)
        if membership["owner"]:
            raise EmulatorError(
                400, "BAD_REQUEST", "the owner membership cannot be archived: archive the clean room instead"
            )
        self._archive(membership, user["user_id"])
        self._save(room)
        return json_response({"status": "ok", "data": copy.deepcopy(membership)})

    # -- control: the invitee answers --------------------------------------------------------------
    def _answer_invitation(self, body: dict[str, Any], status: str) -> dict[str, Any]:
        room_id = str(body.get("clean_room_id", ""))
        org = self._org_id(body.get("organisation_id"), "organisation_id")
        room = copy.deepcopy(self._room(room_id))
        membership = self._active_membership(room, org)
        if membership["status"] != "PENDING":
            raise EmulatorError(
                409, "CONFLICT", f"membership of {org} in clean room {room_id} is {membership['status']}"
            )
        user_id = body.get("user_id")
        if user_id is None:
            users = sorted(
                (u for u in self.store.all(self.name, USERS_COLL) if org in u["organisations"]),
                key=lambda u: _id_sort_key(u["user_id"]),
            )
            user_id = users[0]["user_id"] if users else None
        membership["status"] = status
        self._touch(membership, None if user_id is None else str(user_id))
        self._save(room)
        return {"status": "ok", "data": copy.deepcopy(membership)}

    # -- helpers ---------------------------------------------------------------------------------
    def _load(self, data: dict[str, Any]) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        orgs = data.get("organisations") or []
        for org in orgs:
            org_id = self._org_id(org.get("organisation_id"), "organisations[].organisation_id")
            self.store.put(
                self.name,
                ORGS,
                org_id,
                {"organisation_id": org_id, "organisation_name": str(org.get("organisation_name", ""))},
            )
        summary["organisations"] = len(orgs)
        users = data.get("users") or []
        for user in users:
            user_id = str(user["user_id"])
            doc = {
                "user_id": user_id,
                "email": user.get("email"),
                "organisations": sorted(str(o) for o in user.get("organisations", [])),
            }
            self.store.put(self.name, USERS_COLL, user_id, doc)
            for token in user.get("tokens", []):
                self.store.put(self.name, TOKENS, str(token), {"user_id": user_id})
        summary["users"] = len(users)
        rooms = data.get("clean_rooms") or []
        for room in rooms:
            if not isinstance(room, dict) or "clean_room_id" not in room:
                raise EmulatorError(400, "bad_request", "each clean room needs a clean_room_id")
            for membership in room.get("clean_room_organisations", []):
                org_id = str(membership.get("organisation_id"))
                if self.store.get(self.name, ORGS, org_id) is None:
                    self.store.put(
                        self.name,
                        ORGS,
                        org_id,
                        {"organisation_id": org_id, "organisation_name": membership.get("organisation_name")},
                    )
            self._save(copy.deepcopy(room))
        summary["clean_rooms"] = len(rooms)
        return summary

    def _user(self, request: Request) -> dict[str, Any]:
        header = request.headers.get("Authorization")
        if not header:
            raise EmulatorError(
                401, "AUTHENTICATION_REQUIRED", "missing Authorization header (expected an API token)"
            )
        token = self.store.get(self.name, TOKENS, header.strip())
        user = self.store.get(self.name, USERS_COLL, token["user_id"]) if token else None
        if user is None:
            hint = (
                " (send the token itself, without a 'Bearer' prefix)"
                if header.lower().startswith("bearer ")
                else ""
            )
            raise EmulatorError(401, "INVALID_AUTHENTICATION", f"invalid API token{hint}")
        return user

    def _require_org(self, user: dict[str, Any], org: str) -> None:
        if org not in user["organisations"]:
            raise EmulatorError(403, "ACCESS_DENIED", f"no access to organisation {org}")

    def _require_admin(self, user: dict[str, Any], room: dict[str, Any]) -> None:
        """The room's organisation or its owner membership's organisation may administer it."""
        admins = {room["organisation_id"]} | {
            m["organisation_id"] for m in room["clean_room_organisations"] if m["owner"]
        }
        if not admins & set(user["organisations"]):
            raise EmulatorError(
                403, "ACCESS_DENIED", f"only the owner of clean room {room['clean_room_id']} may do this"
            )

    def _rooms(self) -> list[dict[str, Any]]:
        return [doc for doc in self.store.all(self.name, ROOMS) if not doc.get("archived")]

    def _room(self, room_id: str) -> dict[str, Any]:
        doc = self.store.get(self.name, ROOMS, room_id)
        if doc is None or doc.get("archived"):
            raise EmulatorError(404, "RESOURCE_NOT_FOUND", f"clean room {room_id} not found")
        return doc["room"]

    def _save(self, room: dict[str, Any], archived: bool = False) -> None:
        self.store.put(self.name, ROOMS, room["clean_room_id"], {"room": room, "archived": archived})

    @staticmethod
    def _listed_for(room: dict[str, Any], org: str) -> bool:
        if room["organisation_id"] == org:
            return True
        return any(
            m["organisation_id"] == org and not m["archived"] for m in room["clean_room_organisations"]
        )

    def _new_room_id(self) -> str:
        while True:
            candidate = str(self.store.next_id(self.name, ROOMS, FIRST_ROOM_ID))
            if self.store.get(self.name, ROOMS, candidate) is None:
                return candidate

    def _check_unique_name(self, org: str, name: str, room_id: str | None) -> None:
        for doc in self._rooms():
            room = doc["room"]
            if room["organisation_id"] == org and room["name"] == name and room["clean_room_id"] != room_id:
                raise EmulatorError(
                    409,
                    "CONFLICT",
                    f"clean room {room['clean_room_id']} of organisation {org} is already named {name!r}",
                )

    def _organisation(self, org: str) -> dict[str, Any]:
        doc = self.store.get(self.name, ORGS, org)
        if doc is None:
            raise EmulatorError(400, "BAD_REQUEST", f"unknown organisation {org}")
        return doc

    def _new_membership(
        self, room_id: str, org: str, purposes: list[str], *, owner: bool, status: str, user_id: str, now: int
    ) -> dict[str, Any]:
        return {
            "clean_room_id": room_id,
            "organisation_id": org,
            "organisation_name": self._organisation(org)["organisation_name"],
            "owner": owner,
            "status": status,
            "created_by": user_id,
            "created_ts": now,
            "last_modified_by": None,
            "last_modified_ts": None,
            "archived": False,
            "archived_by": None,
            "archived_ts": None,
            "purposes": purposes,
        }

    @staticmethod
    def _find_membership(room: dict[str, Any], org: str) -> dict[str, Any] | None:
        return next((m for m in room["clean_room_organisations"] if m["organisation_id"] == org), None)

    def _active_membership(self, room: dict[str, Any], org: str) -> dict[str, Any]:
        membership = self._find_membership(room, org)
        if membership is None or membership["archived"]:
            raise EmulatorError(
                404,
                "RESOURCE_NOT_FOUND",
                f"organisation {org} has no active membership in clean room {room['clean_room_id']}",
            )
        return membership

    @staticmethod
    def _touch(membership: dict[str, Any], user_id: str | None) -> int:
        floor = max(membership["last_modified_ts"] or 0, membership["created_ts"] or 0) + 1
        now = max(_now_ms(), floor)
        membership["last_modified_by"] = user_id
        membership["last_modified_ts"] = now
        return now

    def _archive(self, membership: dict[str, Any], user_id: str) -> None:
        now = self._touch(membership, user_id)
        membership.update(archived=True, archived_by=user_id, archived_ts=now)

    # -- input validation --------------------------------------------------------------------------
    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise EmulatorError(400, "BAD_REQUEST", "the request body must be a JSON object")
        return body

    @staticmethod
    def _int_arg(request: Request, name: str, default: int) -> int:
        raw = request.args.get(name)
        if raw is None or raw == "":
            return default
        if not raw.isdigit():
            raise EmulatorError(400, "BAD_REQUEST", f"{name} must be a non-negative integer, got {raw!r}")
        return int(raw)

    @staticmethod
    def _org_id(value: Any, field: str) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).isdigit():
            raise EmulatorError(
                400, "BAD_REQUEST", f"{field} must be an organisation id (digits), got {value!r}"
            )
        return str(value)

    @staticmethod
    def _name(value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > 255:
            raise EmulatorError(
                400, "BAD_REQUEST", "name must be a non-empty string of at most 255 characters"
            )
        return value

    @staticmethod
    def _purposes(value: Any, field: str) -> list[str]:
        if not isinstance(value, list) or not value:
            raise EmulatorError(
                400, "BAD_REQUEST", f"{field} must be a non-empty list of {', '.join(PURPOSES)}"
            )
        for purpose in value:
            if purpose not in PURPOSES:
                raise EmulatorError(
                    400, "BAD_REQUEST", f"{field}: unknown purpose {purpose!r} (known: {', '.join(PURPOSES)})"
                )
        if len(set(value)) != len(value):
            raise EmulatorError(400, "BAD_REQUEST", f"{field} lists a purpose twice")
        return list(value)
