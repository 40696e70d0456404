"""The LiveRamp Clean Room API emulator: routes, request parsing, auth and rendering.

Mounted at ``/liveramp`` (standing for ``https://api.habu.com``); the paths below it are the
real ones (``/v1/cleanrooms``...). Every success is 200 JSON, lists are bare arrays, errors use
the live Spring shape ``{status, code, timestamp, message, details}`` (reference §1.3). Only
``/v1/health`` and ``/v1/oauth/token`` are unauthenticated. The base's request-rate limiter
stays off: this API's limits are the token and run budgets.

Seed ``estate`` (``POST /_sandbox/seed {"api": "liveramp", "name": "estate", "data": {...}}``): a
large clean-room estate for benchmarks (see :mod:`.estate`).

Control actions (``/_sandbox/liveramp/<action>``):

- ``invitations/<id>/accept`` | ``invitations/<id>/decline`` (POST, optional
  ``{"organizationName": ...}``): the invitee answers; accepting creates the partner.
- ``tokens`` (GET status; POST ``{limit, window_seconds, lifetime_seconds, reset_budget}``).
- ``runs`` (POST ``{limit, window_seconds, duration_seconds, outcome, reset_budget}``),
  ``runs/<id>/complete`` | ``runs/<id>/fail`` (POST).
- ``counters`` (GET: tokens issued/refused and runs created/refused per client).
- ``clock`` (GET; POST ``{"advance_seconds": N}`` moves the emulator's clock forward).
- ``clients`` (POST ``{client_id, client_secret}``), ``org-users`` (POST ``{email, name, role}``).
- ``state`` (GET: settings, counters and object counts).
- ``objects/<collection>/<id>`` (GET the stored object; POST merges a JSON object into it, an
  out-of-band edit that bypasses the API's rules). Collections: cleanrooms, connections,
  datasets, invitations, partners, cr_users, questions, crqs, schedules, runs.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.base import Emulator, EmulatorError, json_response
from reconciler.sandbox.info import EmulatorInfo, Entry, SeedInfo
from reconciler.sandbox.liveramp import reference as ref
from reconciler.sandbox.liveramp.auth import AuthMixin
from reconciler.sandbox.liveramp.bodies import check as check_body
from reconciler.sandbox.liveramp.bodies import operation_key
from reconciler.sandbox.liveramp.common import DEFAULT_SETTINGS, LiveRampError, bad_request, page, public
from reconciler.sandbox.liveramp.estate import DEFAULTS as ESTATE_DEFAULTS
from reconciler.sandbox.liveramp.estate import load_estate
from reconciler.sandbox.liveramp.questions import QuestionsMixin, parse_json_param

_ROUTES: list[tuple[str, str, tuple[str, ...]]] = [
    ("/v1/health", "health", ("GET",)),
    ("/v1/oauth/token", "token", ("POST",)),
    # clean rooms
    ("/v1/cleanrooms", "cleanrooms", ("GET", "POST")),
    ("/v1/cleanrooms/cleanroom-types", "cleanroom_types", ("GET",)),
    ("/v1/cleanrooms/<room>", "cleanroom", ("GET", "PUT", "DELETE")),
    ("/v1/cleanrooms/<room>/stakeholders", "stakeholders", ("GET",)),
    ("/v1/cleanrooms/<room>/assets", "assets", ("GET",)),
    ("/v1/cleanrooms/<room>/cleanRoomRoles", "roles", ("GET",)),
    ("/v1/cleanrooms/<room>/cleanRoomRoles/<role>", "role", ("GET",)),
    ("/v1/cleanrooms/<room>/users", "users", ("GET", "POST")),
    ("/v1/cleanrooms/<room>/users/<user>", "user", ("GET", "DELETE")),
    ("/v1/cleanrooms/<room>/users/<user>/cleanRoomRoles/<role>", "user_role", ("PUT",)),
    ("/v1/users", "org_users", ("GET",)),
    # partners and invitations
    ("/v1/cleanrooms/<room>/partners", "partners", ("GET", "POST")),
    ("/v1/cleanrooms/<room>/partners/<partner>", "partner", ("GET", "DELETE")),
    ("/v1/cleanrooms/<room>/partners/<partner>/cleanRoomRoles", "partner_roles", ("GET",)),
    ("/v1/cleanrooms/<room>/partners/<partner>/cleanRoomRoles/<role>", "partner_role", ("GET",)),
    ("/v1/cleanrooms/<room>/partners/<partner>/users/<user>", "partner_user", ("DELETE",)),
    ("/v1/cleanrooms/<room>/partners/<partner>/users/<user>/cleanRoomRoles/<role>", "partner_user_role", ("PUT",)),
    ("/v1/cleanrooms/<room>/invitations", "invitations", ("GET", "DELETE")),
    ("/v1/cleanrooms/<room>/invitations/<invitation>", "invitation", ("DELETE",)),
    # data connections and datasets
    ("/v1/data-connections", "connections", ("GET", "POST")),
    ("/v1/data-connections/import-data-types", "import_data_types", ("GET",)),
    ("/v1/data-connections/<connection>", "connection", ("GET", "PUT", "DELETE")),
    ("/v1/data-connections/<connection>/retry", "connection_retry", ("POST",)),
    ("/v1/data-connections/<connection>/field-configurations", "field_configurations", ("GET", "POST")),
    ("/v1/identifier-types", "identifier_types", ("GET",)),
    ("/v1/data-sources", "data_sources", ("GET",)),
    ("/v1/data-sources/<source>", "data_source", ("GET",)),
    ("/v1/data-sources/<source>/data-types", "source_data_types", ("GET",)),
    ("/v1/data-sources/data-types/<data_type>", "data_type", ("GET",)),
    ("/v1/cleanrooms/<room>/datasets", "datasets", ("GET",)),
    ("/v1/cleanrooms/<room>/datasets/configure", "configure_dataset", ("POST",)),
    ("/v1/cleanrooms/<room>/datasets/partner-assignment", "partner_assignment", ("POST",)),
    ("/v1/cleanrooms/<room>/datasets/<dataset>", "dataset", ("GET", "PUT")),
    # questions
    ("/v1/question", "questions", ("POST",)),
    ("/v1/question/<question>", "question", ("GET", "PUT", "DELETE")),
    ("/v1/cleanrooms/<room>/cleanroom-questions", "crqs", ("GET", "POST")),
    ("/v1/cleanrooms/<room>/questions/<question>", "crq_for_question", ("GET",)),
    ("/v1/cleanroom-questions/<crq>", "crq", ("GET", "DELETE")),
    ("/v1/cleanroom-questions/<crq>/compute-capacity", "compute_capacity", ("PATCH",)),
    ("/v1/cleanroom-questions/<crq>/cleanroom-question-parameters", "crq_parameters", ("GET",)),
    ("/v1/cleanroom-questions/<crq>/cleanroom-question-tags", "crq_tags", ("GET",)),
    ("/v1/cleanroom-questions/<crq>/cleanroom-question-permissions", "permissions", ("GET", "POST")),
    ("/v1/cleanroom-questions/<crq>/cleanroom-question-result-shares", "result_shares", ("GET", "PUT")),
    ("/v1/cleanroom-questions/<crq>/datasets-ownership", "ownership", ("POST",)),
    ("/v1/cleanroom-questions/<crq>/datasets", "crq_datasets", ("GET", "POST")),
    ("/v1/cleanroom-questions/<crq>/data-type-options", "data_type_options", ("GET",)),
    # schedules and runs
    ("/v1/cleanroom-questions/<crq>/cleanroom-question-run-schedules", "schedules", ("GET", "POST")),
    ("/v1/cleanroom-questions/<crq>/cleanroom-question-run-schedules/<schedule>", "schedule", ("GET", "PATCH", "DELETE")),
    ("/v1/cleanroom-questions/<crq>/create-run", "create_run", ("POST",)),
    ("/v1/cleanroom-questions/<crq>/cleanroom-question-runs", "runs", ("GET",)),
    ("/v1/cleanroom-question-runs/<run>", "run", ("GET", "DELETE")),
    ("/v1/cleanroom-question-runs/<run>/data", "run_data", ("GET",)),
    ("/v1/cleanroom-question-runs/<run>/data/count", "run_data_count", ("GET",)),
]


ENDPOINT_PATHS = {f"op_{endpoint}": path for path, endpoint, _ in _ROUTES}


def body_operations() -> list[str]:
    """Every write operation the emulator serves, as :func:`.bodies.operation_key` names it."""
    return sorted({
        operation_key(method, path) for path, _, methods in _ROUTES for method in methods if method != "GET"
    })


EDITABLE = frozenset(
    {"cleanrooms", "connections", "datasets", "invitations", "partners", "cr_users", "questions", "crqs", "schedules", "runs"}
)


class Backend(QuestionsMixin, AuthMixin):
    """All of the emulator's state and rules (no HTTP)."""


class LiveRampEmulator(Emulator):
    name = "liveramp"
    rules = [Rule(path, endpoint=f"op_{endpoint}", methods=list(methods)) for path, endpoint, methods in _ROUTES]
    demo_credentials = {"client_id": ref.DEMO_CLIENT_ID, "client_secret": ref.DEMO_CLIENT_SECRET}

    def __init__(self, store: Any, sandbox: Any) -> None:
        super().__init__(store, sandbox)
        self.backend = Backend(store)
        self._local = threading.local()

    # -- hooks -----------------------------------------------------------------------------------
    def reset(self) -> None:
        super().reset()
        b = self.backend
        b.add_client(ref.DEMO_CLIENT_ID, ref.DEMO_CLIENT_SECRET)
        for email, name, role in ref.ORG_USERS:
            b.put("org_users", ref.org_user(email, name, role))

    def seed(self, name: str | None, data: Any) -> Any:
        if name == "estate":  # a large estate for benchmarks (see .estate)
            return load_estate(self.backend, data if isinstance(data, dict) else {})
        return super().seed(name, data)

    def describe(self) -> EmulatorInfo:
        entries = [
            Entry("organization", ref.ORG_ID, ref.ORG_NAME, "the API client's organisation: it owns the rooms the client creates"),
            Entry("api_client", ref.DEMO_CLIENT_ID, ref.API_USER_EMAIL, "the demo credentials"),
            *(Entry("org_user", u["user"]["id"], u["user"]["email"], f"{u['user']['name']}, {u['roleName']}")
              for u in (ref.org_user(*user) for user in ref.ORG_USERS)),
            *(Entry("cleanroom_type", t["id"], t["name"], t["displayName"]) for t in ref.cleanroom_types()),
            *(Entry("data_source", s["id"], s["name"], s["displayName"]) for s in ref.data_sources()),
        ]
        limits = (
            f"{DEFAULT_SETTINGS['token_limit']} OAuth tokens per API client per "
            f"{DEFAULT_SETTINGS['token_window_seconds'] // 3600} h (as the real API); reconciler caches and reuses one",
            "invitations stay PENDING until POST /_sandbox/liveramp/invitations/<id>/accept",
        )
        estate = ", ".join(f'"{k}": {v}' for k, v in sorted(ESTATE_DEFAULTS.items()))
        return EmulatorInfo(
            self.name, "/liveramp/v1", "LiveRamp Clean Room API (formerly Habu)", "https://api.habu.com/v1",
            tuple(self.demo_credentials.items()),
            (
                SeedInfo("default", "loaded by every reset (no clean rooms yet)", tuple(entries)),
                SeedInfo("estate", f'a large clean-room estate for benchmarks: data {{{estate}, "prefix": "Estate"}}'),
            ),
            limits,
        )

    def error_response(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        try:
            name = HTTPStatus(status).name
        except ValueError:
            name = "ERROR"
        body = {
            "status": name,
            "code": status,
            "timestamp": datetime.now(UTC).strftime("%d-%m-%Y %H:%M:%S"),
            "message": message,
            "details": f"uri={getattr(self._local, 'path', '/')}",
        }
        response = json_response(body, status, headers)
        response.headers["x-request-id"] = str(uuid.uuid4())
        return response

    def dispatch(self, request: Request, path: str) -> Response:
        self._local.path = path
        route = self.route_of(path, request.method)
        self._local.operation = operation_key(request.method, ENDPOINT_PATHS[route[0]]) if route else None
        try:
            response = super().dispatch(request, path)
        finally:
            self._local.path = "/"
            self._local.operation = None
        response.headers.setdefault("x-request-id", str(uuid.uuid4()))
        return response

    def control(self, action: str, request: Request) -> Any:
        b = self.backend
        parts = action.split("/")
        body = request.get_json(silent=True) if request.data else None
        body = body if isinstance(body, dict) else {}
        post = request.method == "POST"
        if parts[0] == "invitations" and len(parts) == 3 and parts[2] in ("accept", "decline") and post:
            return b.answer_invitation(parts[1], parts[2] == "accept", body.get("organizationName"))
        if parts[0] == "runs" and len(parts) == 3 and parts[2] in ("complete", "fail") and post:
            return b.finish_run(parts[1], "COMPLETED" if parts[2] == "complete" else "FAILED")
        if action == "tokens":
            if post:
                self._apply(body, {"limit": "token_limit", "window_seconds": "token_window_seconds", "lifetime_seconds": "token_lifetime_seconds"})
                if body.get("reset_budget"):
                    b.reset_token_budget()
            return b.token_status()
        if action == "runs" and post:
            self._apply(
                body,
                {"limit": "run_limit", "window_seconds": "run_window_seconds", "duration_seconds": "run_duration_seconds", "outcome": "run_outcome"},
            )
            if body.get("reset_budget"):
                b.clear_budget("run")
            return {k: v for k, v in b.settings().items() if k.startswith("run_")}
        if action == "counters":
            return b.counters()
        if action == "clock":
            if post:
                offset = float(b.settings()["clock_offset_seconds"]) + float(body.get("advance_seconds", 0))
                b.update_settings({"clock_offset_seconds": offset})
            return {"now": b.stamp(), "offset_seconds": b.settings()["clock_offset_seconds"]}
        if action == "clients" and post:
            return public(b.add_client(str(body.get("client_id", "")), str(body.get("client_secret", ""))))
        if action == "org-users" and post:
            email = str(body.get("email", ""))
            if "@" not in email:
                raise EmulatorError(400, "bad_request", "email is required")
            return public(b.put("org_users", ref.org_user(email, str(body.get("name") or email), str(body.get("role") or "Analyst"))))
        if action == "state":
            return b.describe()
        if parts[0] == "objects" and len(parts) == 3 and parts[1] in EDITABLE:
            doc = b.must(parts[1], parts[2], parts[1])
            if post:  # an out-of-band writer: merge fields into the stored object, no API rules
                bad = sorted(k for k in body if k.startswith("_") or k == "id")
                if bad:
                    raise EmulatorError(400, "bad_request", f"cannot edit {bad}")
                doc.update(body)
                b.put(parts[1], doc)
            return public(doc)
        return super().control(action, request)

    def _apply(self, body: dict[str, Any], names: dict[str, str]) -> None:
        unknown = sorted(set(body) - set(names) - {"reset_budget"})
        if unknown:
            raise EmulatorError(400, "bad_request", f"unknown settings {unknown}; known: {sorted(names)}")
        self.backend.update_settings({names[k]: v for k, v in body.items() if k in names})

    # -- request helpers -------------------------------------------------------------------------
    def _client(self, request: Request) -> dict[str, Any]:
        return self.backend.authenticate(request.headers.get("Authorization"))

    def _body(self, request: Request) -> Any:
        """The JSON body, type-checked against the vendor's schema for this operation (:mod:`.bodies`)."""
        if not request.get_data(cache=True):
            return None
        if "json" not in (request.mimetype or ""):
            raise LiveRampError(415, f"Content-Type '{request.content_type}' is not supported")
        data = request.get_json(silent=True)
        if data is None:
            raise bad_request("JSON parse error: the request body is not valid JSON")
        return check_body(self._local.operation, data)

    # -- health and auth -------------------------------------------------------------------------
    def op_health(self, request: Request) -> Response:
        return json_response({"status": "UP", "statusCode": 200, "description": "External API is available", "version": "v1.0.0"})

    def op_token(self, request: Request) -> Response:
        form = {k: v for k, v in request.form.items()}
        return json_response(self.backend.issue_token(request.headers.get("Authorization"), request.content_type or "", form))

    # -- clean rooms -----------------------------------------------------------------------------
    def op_cleanrooms(self, request: Request) -> Response:
        client = self._client(request)
        b = self.backend
        if request.method == "POST":
            return json_response(b.render_cleanroom(b.create_cleanroom(client, self._body(request))))
        return json_response(page(b.list_cleanrooms(client), request.args, 500))

    def op_cleanroom_types(self, request: Request) -> Response:
        self._client(request)
        return json_response(self.backend.cleanroom_types())

    def op_cleanroom(self, request: Request, room: str) -> Response:
        client = self._client(request)
        b = self.backend
        if request.method == "PUT":
            return json_response(b.render_cleanroom(b.update_cleanroom(client, room, self._body(request))))
        if request.method == "DELETE":
            return json_response(b.delete_cleanroom(room))
        return json_response(b.render_cleanroom(b.get_cleanroom(room)))

    def op_stakeholders(self, request: Request, room: str) -> Response:
        self._client(request)
        return json_response(self.backend.stakeholders(room))

    def op_assets(self, request: Request, room: str) -> Response:
        self._client(request)
        return json_response(self.backend.assets(room))

    def op_roles(self, request: Request, room: str) -> Response:
        self._client(request)
        room_doc = self.backend.get_cleanroom(room)
        return json_response(self.backend.roles(room, room_doc["_org"]))

    def op_role(self, request: Request, room: str, role: str) -> Response:
        self._client(request)
        return json_response(self.backend.role(room, role))

    def op_users(self, request: Request, room: str) -> Response:
        client = self._client(request)
        if request.method == "POST":
            return json_response(self.backend.add_user(client, room, self._body(request)))
        return json_response(self.backend.list_users(room, request.args.get("cleanroomUserEmail")))

    def op_user(self, request: Request, room: str, user: str) -> Response:
        self._client(request)
        if request.method == "DELETE":
            return json_response(self.backend.remove_user(room, user))
        return json_response(public(self.backend.get_user(room, user)))

    def op_user_role(self, request: Request, room: str, user: str, role: str) -> Response:
        client = self._client(request)
        return json_response(self.backend.set_user_role(client, room, user, role))

    def op_org_users(self, request: Request) -> Response:
        client = self._client(request)
        users = [public(u) for u in self.backend.org_users(client["_org"])]
        return json_response(page([{"roleName": u["roleName"], "user": u["user"]} for u in users], request.args, 500))

    # -- partners and invitations ----------------------------------------------------------------
    def op_partners(self, request: Request, room: str) -> Response:
        client = self._client(request)
        if request.method == "POST":
            return json_response(self.backend.invite_partner(client, room, self._body(request)))
        return json_response(self.backend.list_partners(room))

    def op_partner(self, request: Request, room: str, partner: str) -> Response:
        self._client(request)
        if request.method == "DELETE":
            return json_response(self.backend.remove_partner(room, partner))
        return json_response(self.backend.render_partner(self.backend.get_partner(room, partner)))

    def op_partner_roles(self, request: Request, room: str, partner: str) -> Response:
        self._client(request)
        org = self.backend.get_partner(room, partner)["partnerOrganizationId"]
        return json_response(self.backend.roles(room, org))

    def op_partner_role(self, request: Request, room: str, partner: str, role: str) -> Response:
        self._client(request)
        org = self.backend.get_partner(room, partner)["partnerOrganizationId"]
        return json_response(self.backend.role(room, role, org))

    def op_partner_user(self, request: Request, room: str, partner: str, user: str) -> Response:
        self._client(request)
        return json_response(self.backend.remove_user(room, user, partner))

    def op_partner_user_role(self, request: Request, room: str, partner: str, user: str, role: str) -> Response:
        client = self._client(request)
        return json_response(self.backend.set_user_role(client, room, user, role, partner))

    def op_invitations(self, request: Request, room: str) -> Response:
        self._client(request)
        if request.method == "DELETE":
            email = request.args.get("partnerEmail")
            if not email:
                raise bad_request("Required request parameter 'partnerEmail' is not present")
            return json_response(self.backend.cancel_invitation(room, email=email))
        return json_response(self.backend.list_invitations(room))

    def op_invitation(self, request: Request, room: str, invitation: str) -> Response:
        self._client(request)
        return json_response(self.backend.cancel_invitation(room, invitation_id=invitation))

    # -- data connections, lookups, datasets -----------------------------------------------------
    def op_connections(self, request: Request) -> Response:
        client = self._client(request)
        if request.method == "POST":
            return json_response(self.backend.create_connection(client, self._body(request)))
        return json_response(self.backend.list_connections(client))

    def op_connection(self, request: Request, connection: str) -> Response:
        self._client(request)
        b = self.backend
        if request.method == "PUT":
            return json_response(b.update_connection(connection, self._body(request)))
        if request.method == "DELETE":
            return json_response(b.delete_connection(connection))
        return json_response(public(b.get_connection(connection)))

    def op_connection_retry(self, request: Request, connection: str) -> Response:
        self._client(request)
        return json_response(self.backend.retry_connection(connection))

    def op_field_configurations(self, request: Request, connection: str) -> Response:
        self._client(request)
        if request.method == "POST":
            return json_response(self.backend.map_field_configurations(connection, self._body(request)))
        return json_response(self.backend.field_configurations(connection))

    def op_import_data_types(self, request: Request) -> Response:
        self._client(request)
        return json_response(ref.data_types())

    def op_identifier_types(self, request: Request) -> Response:
        self._client(request)
        return json_response(ref.identifier_types())

    def op_data_sources(self, request: Request) -> Response:
        self._client(request)
        return json_response(self.backend.data_sources())

    def op_data_source(self, request: Request, source: str) -> Response:
        self._client(request)
        return json_response(self.backend.data_source(source))

    def op_source_data_types(self, request: Request, source: str) -> Response:
        self._client(request)
        self.backend.data_source(source)
        return json_response(ref.data_types())

    def op_data_type(self, request: Request, data_type: str) -> Response:
        self._client(request)
        return json_response(self.backend.data_type(data_type))

    def op_datasets(self, request: Request, room: str) -> Response:
        self._client(request)
        return json_response(self.backend.list_datasets(room))

    def op_configure_dataset(self, request: Request, room: str) -> Response:
        client = self._client(request)
        return json_response(
            self.backend.configure_dataset(client, room, request.args.get("dataConnectionId"), self._body(request))
        )

    def op_partner_assignment(self, request: Request, room: str) -> Response:
        self._client(request)
        return json_response(self.backend.partner_assignment(room, self._body(request)))

    def op_dataset(self, request: Request, room: str, dataset: str) -> Response:
        self._client(request)
        b = self.backend
        if request.method == "PUT":
            return json_response(b.update_dataset(room, dataset, self._body(request)))
        return json_response(b.render_dataset(b.get_dataset(room, dataset)))

    # -- questions -------------------------------------------------------------------------------
    def op_questions(self, request: Request) -> Response:
        client = self._client(request)
        return json_response(self.backend.create_question(client, self._body(request), request.args.get("cleanRoomID")))

    def op_question(self, request: Request, question: str) -> Response:
        self._client(request)
        b = self.backend
        if request.method == "PUT":
            return json_response(b.update_question(question, self._body(request)))
        if request.method == "DELETE":
            return json_response(b.delete_question(question))
        version = request.args.get("version")
        if version is not None and not version.isdigit():
            raise bad_request("version must be an integer")
        return json_response(b.render_question(b.get_question(question), int(version) if version else None))

    def op_crqs(self, request: Request, room: str) -> Response:
        client = self._client(request)
        if request.method == "POST":
            # the spec names the parameter questionId; LiveRamp's SDK sends questionID: accept both
            question = request.args.get("questionId") or request.args.get("questionID")
            return json_response(self.backend.add_crq(client, room, question, request.args.get("isEditable")))
        return json_response(self.backend.list_crqs(room, request.args))

    def op_crq_for_question(self, request: Request, room: str, question: str) -> Response:
        self._client(request)
        return json_response(self.backend.crq_for_question(room, question))

    def op_crq(self, request: Request, crq: str) -> Response:
        self._client(request)
        if request.method == "DELETE":
            return json_response(self.backend.delete_crq(crq))
        return json_response(self.backend.render_crq(self.backend.get_crq(crq)))

    def op_compute_capacity(self, request: Request, crq: str) -> Response:
        self._client(request)
        return json_response(self.backend.set_compute_capacity(crq, self._body(request)))

    def op_crq_parameters(self, request: Request, crq: str) -> Response:
        self._client(request)
        return json_response(self.backend.crq_parameters(crq))

    def op_crq_tags(self, request: Request, crq: str) -> Response:
        self._client(request)
        return json_response(self.backend.crq_tags(crq))

    def op_permissions(self, request: Request, crq: str) -> Response:
        self._client(request)
        if request.method == "POST":
            body = self._body(request)
            if body is None:  # the spec (wrongly) documents the list as a query parameter
                body = parse_json_param(request.args.get("cleanroomQuestionPermissions"), "cleanroomQuestionPermissions")
                body = None if body is None else check_body(self._local.operation, body)
            return json_response(self.backend.set_permissions(crq, body))
        return json_response(self.backend.permissions(crq))

    def op_result_shares(self, request: Request, crq: str) -> Response:
        self._client(request)
        if request.method == "PUT":
            return json_response(self.backend.set_result_shares(crq, self._body(request)))
        return json_response(self.backend.result_shares(crq))

    def op_ownership(self, request: Request, crq: str) -> Response:
        self._client(request)
        body = self._body(request)
        if body is None:  # the spec (wrongly) documents the list as a query parameter
            body = parse_json_param(request.args.get("AssignCleanroomQuestionDatasetRequests"), "AssignCleanroomQuestionDatasetRequests")
            body = None if body is None else check_body(self._local.operation, body)
        return json_response(self.backend.assign_ownership(crq, body))

    def op_crq_datasets(self, request: Request, crq: str) -> Response:
        self._client(request)
        if request.method == "POST":
            return json_response(self.backend.assign_datasets(crq, self._body(request)))
        return json_response(self.backend.crq_datasets(crq))

    def op_data_type_options(self, request: Request, crq: str) -> Response:
        self._client(request)
        return json_response(self.backend.data_type_options(crq, request.args.get("dataType")))

    # -- schedules and runs ----------------------------------------------------------------------
    def op_schedules(self, request: Request, crq: str) -> Response:
        client = self._client(request)
        if request.method == "POST":
            return json_response(self.backend.create_schedule(client, crq, self._body(request)))
        return json_response(self.backend.list_schedules(crq))

    def op_schedule(self, request: Request, crq: str, schedule: str) -> Response:
        client = self._client(request)
        b = self.backend
        if request.method == "PATCH":
            return json_response(b.update_schedule(client, crq, schedule, self._body(request)))
        if request.method == "DELETE":
            return json_response(b.delete_schedule(crq, schedule))
        return json_response(public(b.get_schedule(crq, schedule)))

    def op_create_run(self, request: Request, crq: str) -> Response:
        client = self._client(request)
        return json_response(self.backend.create_run(client, crq, self._body(request)))

    def op_runs(self, request: Request, crq: str) -> Response:
        self._client(request)
        return json_response(self.backend.list_runs(crq, request.args))

    def op_run(self, request: Request, run: str) -> Response:
        self._client(request)
        if request.method == "DELETE":
            return json_response(self.backend.delete_run(run))
        return json_response(public(self.backend.get_run(run)))

    def op_run_data(self, request: Request, run: str) -> Response:
        self._client(request)
        return json_response(self.backend.run_data(run, request.args))

    def op_run_data_count(self, request: Request, run: str) -> Response:
        self._client(request)
        return json_response(self.backend.run_data_count(run))
