"""The MediaMath Execution & Management API v2.0 emulator: routes, auth, handlers, control hooks.

Mounted at ``/mediamath`` (standing for ``https://api.mediamath.com``); paths below it are the real
ones under ``/api/v2.0``:

- ``POST /login`` (form ``user``, ``password``; ``api_key`` in the query) and ``GET /session``
  (cookie or ``Authorization: Bearer``) answer the user and a ``<session>`` and set the
  ``adama_session`` cookie; ``POST /logout`` ends the session. Every call made with the cookie
  must carry a known ``api_key`` too (401 ``auth_error`` otherwise); bearer calls need none.
- ``GET /{collection}[/limit/{rel.chain}={id}]`` with ``page_limit``, ``page_offset``, ``sort_by``,
  ``full``, ``with``, ``q``; ``GET /{collection}/{id}[?with=..]``; ``POST /{collection}`` creates;
  ``POST /{collection}/{id}`` updates (``version`` required); ``GET /{collection}/{id}/history``.
- ``/campaigns/{cid}/budget_flights[/{id}[/delete|/history]]`` and the top-level ``/budget_flights``.
- ``GET``/``POST /strategies/{id}/target_dimensions/{n}``: a strategy's targeting per dimension,
  without version, written with the seeded ``target_values`` (see :mod:`.targeting`).
- ``POST /strategies/{id}/audience_segments``: segments included or excluded (``segments.N.id``,
  a negative id removes), listed in ``strategy_audience_segments``; the seeded
  ``audience_segments`` tree (see :mod:`.audiences`).
- ``POST /strategies/{id}/supplies`` / ``/deals``: the strategy's supply sources and deals
  (repeated ``supply_source_ids`` / ``deal_ids``, replacing the set), listed in
  ``strategy_supply_sources`` / ``strategy_deals`` (see :mod:`.supplies`); ``/site_lists`` the same
  (repeated ``site_list_ids`` of the organisation's seeded ``site_lists``), listed in
  ``strategy_site_lists``.
- ``POST /strategies/{id}/domain_restrictions``: the strategy's included / excluded domains
  (``domains.N.domain``, ``domains.N.restriction``, replacing the set), listed in
  ``strategy_domain_restrictions`` (see :mod:`.domains`).
- Collections: organizations, agencies, advertisers, campaigns, strategies, budget_flights,
  concepts (an advertiser's creative groups) and strategy_concepts (a concept assigned to a
  strategy of the same advertiser, once; deleted with ``POST /strategy_concepts/{id}/delete`` and
  its version), strategy_day_parts (days of ``MTWRFSU`` and hours when a strategy bids; deleted the
  same way), ad_servers, verticals (reference data, read-only) and users (read-only); contacts,
  contracts, pixel_bundles, vendors, vendor_contracts, target_dimensions and target_values
  (read-only, seeded) for the relations the vendor's SDK asks for with ``with=``
  (billing/sales/traffic contacts, an organisation's contracts, a campaign's ``merit_pixel`` and
  ``vendor_contracts``) and ``/limit/vendor_contracts.vendor=ID``.
  ``with=currency``, ``time_zone`` and ``seats`` (named by the reference, entity undescribed) are
  accepted and nest nothing.

Answers are XML unless ``Accept`` mentions json (``application/vnd.mediamath.v1+json``). Errors:
400 ``invalid`` (with ``field-error``s), 401 ``auth_required`` / ``auth_error``, 403 ``denied``
(outside the user's organisation), 404 ``not_found``, 409 ``conflict`` ("Version Conflict"), 429
(JSON ``{"meta": {"status": "error"}}`` with ``Retry-After`` and ``X-RateLimit-*`` headers).

Control hooks (``/_sandbox/mediamath/<action>``, JSON bodies): ``edit`` (out-of-band update as
another user, default ``jdoe``), ``delete`` (out-of-band delete), ``token`` (issue a bearer token),
``get`` (a stored entity). Seeds: ``default``, ``estate``, ``entities`` (see :mod:`.seeds`).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.base import Emulator, EmulatorError, RateLimit, json_response
from reconciler.sandbox.info import EmulatorInfo
from reconciler.sandbox.mediamath.audiences import LINKS, Audiences
from reconciler.sandbox.mediamath.domains import LINKS as DOMAIN_LINKS
from reconciler.sandbox.mediamath.domains import DomainRestrictions
from reconciler.sandbox.mediamath.models import DT_FORMAT, ENTITY_TYPES, EntityType
from reconciler.sandbox.mediamath.query import (
    ListParams,
    Resolver,
    parse_list_params,
    parse_page,
    parse_withs,
    select,
)
from reconciler.sandbox.mediamath.render import (
    Format,
    Renderer,
    called_on_json,
    error_body,
)
from reconciler.sandbox.mediamath.repo import API, Repo, ValidationFailed
from reconciler.sandbox.mediamath.seeds import (
    backfill_lookups,
    describe_seeds,
    load_default,
    load_entities,
    load_estate,
)
from reconciler.sandbox.mediamath.supplies import PICK_SETS, Picks
from reconciler.sandbox.mediamath.targeting import Targeting, submitted_lists

P = "/api/v2.0"
SESSION_COOKIE = "adama_session"
SESSION_TTL = 86400.0
DEFAULT_EDITOR = "jdoe"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def negotiate(request: Request) -> Format:
    return Format.JSON if "json" in request.headers.get("Accept", "").lower() else Format.XML


class MediaMathEmulator(Emulator):
    name = "mediamath"
    demo_credentials = {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"}
    default_rate_limit = RateLimit(rate=40.0, burst=200.0, max_concurrent_writes=150)
    rules = [
        Rule(f"{P}/login", methods=["POST"], endpoint="login"),
        Rule(f"{P}/logout", methods=["POST"], endpoint="logout"),
        Rule(f"{P}/session", methods=["GET"], endpoint="session"),
        Rule(f"{P}/campaigns/<int:cid>/budget_flights", methods=["GET"], endpoint="list_campaign_flights"),
        Rule(f"{P}/campaigns/<int:cid>/budget_flights", methods=["POST"], endpoint="create_campaign_flight"),
        Rule(f"{P}/campaigns/<int:cid>/budget_flights/<int:fid>", methods=["GET"], endpoint="get_campaign_flight"),
        Rule(f"{P}/campaigns/<int:cid>/budget_flights/<int:fid>", methods=["POST"],
             endpoint="update_campaign_flight"),
        Rule(f"{P}/campaigns/<int:cid>/budget_flights/<int:fid>/delete", methods=["POST"],
             endpoint="delete_campaign_flight"),
        Rule(f"{P}/campaigns/<int:cid>/budget_flights/<int:fid>/history", methods=["GET"],
             endpoint="campaign_flight_history"),
        Rule(f"{P}/strategies/<int:sid>/target_dimensions/<int:dim>", methods=["GET"], endpoint="get_target_dimension"),
        Rule(f"{P}/strategies/<int:sid>/target_dimensions/<int:dim>", methods=["POST"],
             endpoint="set_target_dimension"),
        Rule(f"{P}/strategies/<int:sid>/<any(supplies, deals, site_lists):picked>", methods=["POST"], endpoint="set_picks"),
        Rule(f"{P}/strategies/<int:sid>/<any(supplies, deals, site_lists):picked>", methods=["GET"], endpoint="get_picks"),
        Rule(f"{P}/strategies/<int:sid>/domain_restrictions", methods=["POST"], endpoint="set_domain_restrictions"),
        Rule(f"{P}/strategies/<int:sid>/domain_restrictions", methods=["GET"], endpoint="get_domain_restrictions"),
        Rule(f"{P}/strategies/<int:sid>/audience_segments", methods=["POST"], endpoint="set_audience_segments"),
        Rule(f"{P}/strategies/<int:sid>/audience_segments", methods=["GET"], endpoint="get_audience_segments"),
        Rule(f"{P}/<coll>", methods=["GET"], endpoint="list_entities"),
        Rule(f"{P}/<coll>/limit/<limit>", methods=["GET"], endpoint="list_entities"),
        Rule(f"{P}/<coll>", methods=["POST"], endpoint="create_entity"),
        Rule(f"{P}/<coll>/<int:entity_id>", methods=["GET"], endpoint="get_entity"),
        Rule(f"{P}/<coll>/<int:entity_id>", methods=["POST"], endpoint="update_entity"),
        Rule(f"{P}/<coll>/<int:entity_id>/delete", methods=["POST"], endpoint="delete_entity"),
        Rule(f"{P}/<coll>/<int:entity_id>/history", methods=["GET"], endpoint="entity_history"),
    ]

    def __init__(self, store: Any, sandbox: Any) -> None:
        super().__init__(store, sandbox)
        self.repo = Repo(store)
        self.targeting = Targeting(self.repo)
        self.audiences = Audiences(self.repo)
        self.picks = Picks(self.repo)
        self.domains = DomainRestrictions(self.repo)
        self._local = threading.local()
        if not store.count(API, "users"):
            # a data file made before this emulator existed is not reset by the Sandbox (other APIs
            # have their ``_meta``): load the default seed here (no ``_meta`` of ours, so a fresh
            # store is still reset as a whole)
            with store.transaction():
                load_default(self.repo)
        else:  # a data file of an older sandbox: add the lookups it lacks (audience segments, deals...)
            with store.transaction():
                backfill_lookups(self.repo)

    # -- lifecycle hooks ---------------------------------------------------------------------------
    def reset(self) -> None:
        super().reset()
        load_default(self.repo)

    def seed(self, name: str | None, data: Any) -> Any:
        if name == "default":
            self.reset()
            return {"seeded": "default"}
        if name == "estate":
            return load_estate(self.repo, data or {})
        if name in ("entities", None) and isinstance(data, dict):
            return {"created": load_entities(self.repo, data)}
        raise EmulatorError(404, "not_found", f"mediamath has no seed {name!r}")

    def describe(self) -> EmulatorInfo:
        return EmulatorInfo(
            self.name, "/mediamath/api/v2.0", "MediaMath Execution & Management API v2.0 (XML; JSON on request)",
            "https://api.mediamath.com/api/v2.0", tuple(self.demo_credentials.items()), describe_seeds(),
            ("POST /login?api_key=... with user/password sets the adama_session cookie; every call carries api_key",),
        )

    def control(self, action: str, request: Request) -> Any:
        body: dict[str, Any] = request.get_json(silent=True) or {}
        try:
            if action == "edit" and request.method == "POST":
                return self._control_edit(body)
            if action == "delete" and request.method == "POST":
                coll, id_ = self._control_target(body)
                user = self._find_user(body.get("user", DEFAULT_EDITOR))
                doc = self.repo.delete(coll, id_, body.get("version"), user, check_version="version" in body)
                return {"deleted": {"collection": coll, "id": doc["id"]}}
            if action == "token" and request.method == "POST":
                user = self._find_user(body.get("user", self.demo_credentials["username"]))
                try:
                    ttl = float(body.get("expires_in", SESSION_TTL))
                except (TypeError, ValueError):
                    raise EmulatorError(400, "invalid", "expires_in must be a number of seconds") from None
                token = secrets.token_urlsafe(32)
                self.store.put(API, "_tokens", _hash(token), {"user_id": user["id"], "expires": time.time() + ttl})
                return {"access_token": token, "token_type": "Bearer", "expires_in": int(ttl), "user_id": user["id"]}
            if action == "get":
                args: Mapping[str, Any] = body or request.args
                coll, id_ = self._control_target(args)
                found = self.repo.get(coll, id_)
                if found is None:
                    raise EmulatorError(404, "not_found", f"{coll} {id_} not found")
                return self._plain(coll, found)
        except ValidationFailed as exc:
            detail = "; ".join(f"{e.name}: {e.error}" for e in exc.errors)
            raise EmulatorError(400, "invalid", f"Validation errors: {detail}") from None
        return super().control(action, request)

    def _control_target(self, body: Mapping[str, Any]) -> tuple[str, int]:
        coll = str(body.get("collection", ""))
        if coll not in ENTITY_TYPES:
            raise EmulatorError(400, "invalid", f"unknown collection {coll!r}")
        try:
            return coll, int(body.get("id", ""))
        except (TypeError, ValueError):
            raise EmulatorError(400, "invalid", "id must be an integer") from None

    def _control_edit(self, body: Mapping[str, Any]) -> Any:
        coll, id_ = self._control_target(body)
        fields = body.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise EmulatorError(400, "invalid", "fields must be a non-empty object")
        user = self._find_user(body.get("user", DEFAULT_EDITOR))
        form = {k: ("" if v is None else v) for k, v in fields.items()}
        if "version" in body:
            form["version"] = body["version"]
        doc = self.repo.update(coll, id_, form, user, check_version="version" in body)
        history, _ = self.repo.history(coll, id_)
        return {"entity": self._plain(coll, doc), "history": history[-1]}

    def _plain(self, coll: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        renderer = Renderer(Resolver(self.repo), Format.JSON)
        return renderer.entity_json(coll, doc, lambda _: True, ())

    def _find_user(self, ref: Any) -> dict[str, Any]:
        for user in self.repo.all("users"):
            if str(ref) in (user.get("name"), str(user["id"])):
                return user
        raise EmulatorError(400, "invalid", f"unknown user {ref!r}")

    # -- dispatch and errors -----------------------------------------------------------------------
    def dispatch(self, request: Request, path: str) -> Response:
        self._local.fmt = negotiate(request)
        try:
            adapter = self.url_map.bind("sandbox", path_info=path)
            try:
                endpoint, args = adapter.match(path, method=request.method)
            except MethodNotAllowed:
                return self.error_response(405, "not_found", f"{request.method} is not allowed on {path}")
            except NotFound:
                return self.error_response(404, "not_found", "Not found")
            except HTTPException as exc:
                return self.error_response(exc.code or 400, "bad_request", str(exc))
            handler: Callable[..., Response] = getattr(self, str(endpoint))
            try:
                return handler(request, **args)
            except ValidationFailed as exc:
                return self._respond(error_body(self._local.fmt, exc.code, exc.message, exc.errors), exc.status)
            except EmulatorError as exc:
                return self.error_response(exc.status, exc.code, exc.message, exc.headers)
        finally:
            self._local.fmt = None

    def error_response(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        headers = dict(headers or {})
        if status == 429:
            return self._rate_limited(message, headers)
        fmt: Format | None = getattr(self._local, "fmt", None)
        if fmt is None:  # gateway-level answers (injected faults) come before content negotiation
            fmt = Format.JSON
            code = "error" if status >= 500 else code
        return self._respond(error_body(fmt, code, message), status, headers, fmt)

    def internal_error(self, request: Request) -> Response:
        fmt = negotiate(request)
        return self._respond(error_body(fmt, "error", "Internal error (the sandbox failed; see its log)"), 500, fmt=fmt)

    def _rate_limited(self, message: str, headers: dict[str, str]) -> Response:
        limit = self.rate_limit
        retry = headers.get("Retry-After", "1")
        headers.setdefault("Retry-After", retry)
        headers["X-RateLimit-Limit"] = f"{limit.rate:g}"
        headers["X-RateLimit-Remaining"] = str(max(0, int(limit.tokens)))
        headers["X-RateLimit-Reset"] = retry
        if limit.max_concurrent_writes:
            headers["X-Concurrency-Remaining"] = str(max(0, limit.max_concurrent_writes - limit.writes_in_flight))
        body = {
            "errors": [{"code": "rate_limit_exceeded", "message": message}],
            "meta": {"status": "error", "uuid": str(uuid.uuid4()), "called_on": called_on_json()},
        }
        return json_response(body, 429, headers)

    def _respond(self, body: str, status: int = 200, headers: dict[str, str] | None = None,
                 fmt: Format | None = None) -> Response:
        fmt = fmt or getattr(self._local, "fmt", None) or Format.XML
        return Response(body, status=status, headers=headers, content_type=fmt.content_type)

    def _renderer(self) -> Renderer:
        return Renderer(Resolver(self.repo), self._local.fmt)

    # -- auth --------------------------------------------------------------------------------------
    def _user(self, request: Request) -> dict[str, Any]:
        header = request.headers.get("Authorization", "")
        now = time.time()
        if header[:7].lower() == "bearer ":
            record = self.store.get(API, "_tokens", _hash(header[7:].strip()))
            if record is None or record["expires"] < now:
                raise EmulatorError(401, "auth_error", "Authentication error")
        else:
            sid = request.cookies.get(SESSION_COOKIE)
            if not sid:
                raise EmulatorError(401, "auth_required", "Authentication required")
            self._check_api_key(request)
            record = self.store.get(API, "_sessions", _hash(sid))
            if record is None or record["expires"] < now:
                raise EmulatorError(401, "auth_required", "Authentication required (session expired or unknown)")
        user = self.repo.get("users", record["user_id"])
        if user is None or not user.get("active", True):
            raise EmulatorError(401, "auth_error", "Authentication error")
        return user

    def _new_session(self, user: Mapping[str, Any]) -> tuple[str, float]:
        now = time.time()
        for record in self.store.all(API, "_sessions"):
            if record["expires"] < now:
                self.store.delete(API, "_sessions", record["key"])
        sid = secrets.token_hex(20)
        expires = now + SESSION_TTL
        key = _hash(sid)
        self.store.put(API, "_sessions", key, {"key": key, "user_id": user["id"], "expires": expires})
        return sid, expires

    def _session_response(self, user: Mapping[str, Any], sid: str, expires: float) -> Response:
        now = datetime.now(UTC)
        ends = datetime.fromtimestamp(expires, UTC)
        body = self._renderer().session(user, sid, now.strftime(DT_FORMAT), ends.strftime(DT_FORMAT))
        response = self._respond(body)
        response.set_cookie(SESSION_COOKIE, sid, max_age=int(SESSION_TTL), path="/", httponly=True)
        return response

    def _check_api_key(self, request: Request) -> None:
        """Calls with the session cookie carry the application's ``api_key`` (query or form), as the
        vendor's SDK sends it on every request; the API gateway refuses any call without a known
        one. Bearer-token calls (the OAuth modes) carry none."""
        api_key = request.args.get("api_key") or request.form.get("api_key")
        known_keys = {u.get("api_key") for u in self.repo.all("users")}
        if not api_key or api_key not in known_keys:
            raise EmulatorError(401, "auth_error", "Invalid or missing api_key")

    def login(self, request: Request) -> Response:
        self._check_api_key(request)
        name, password = request.form.get("user", ""), request.form.get("password", "")
        for user in self.repo.all("users"):
            if user.get("name") == name and user.get("active", True) and secrets.compare_digest(
                str(user.get("password", "")), password
            ):
                sid, expires = self._new_session(user)
                return self._session_response(user, sid, expires)
        raise EmulatorError(401, "invalid", "Login Incorrect")

    def logout(self, request: Request) -> Response:
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            self.store.delete(API, "_sessions", _hash(sid))
        response = self._respond(self._renderer().status_only())
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    def session(self, request: Request) -> Response:
        user = self._user(request)
        sid = request.cookies.get(SESSION_COOKIE)
        record = self.store.get(API, "_sessions", _hash(sid)) if sid else None
        if record is None or record["user_id"] != user["id"] or record["expires"] < time.time():
            sid, expires = self._new_session(user)
        else:
            expires = record["expires"]
        assert sid is not None
        return self._session_response(user, sid, expires)

    # -- collections -------------------------------------------------------------------------------
    def _etype(self, coll: str) -> EntityType:
        etype = ENTITY_TYPES.get(coll)
        if etype is None:
            raise EmulatorError(404, "not_found", f"Unknown collection {coll!r}")
        return etype

    def _next_page(self, request: Request, params: ListParams, shown: int, total: int) -> str | None:
        if params.offset + shown >= total:
            return None
        args = request.args.copy()
        args["page_offset"] = str(params.offset + params.limit)
        args["page_limit"] = str(params.limit)
        return f"{request.base_url}?{urlencode(list(args.items(multi=True)))}"

    def list_entities(self, request: Request, coll: str, limit: str | None = None) -> Response:
        user = self._user(request)
        etype = self._etype(coll)
        params = parse_list_params(etype, request.args, limit)
        resolver = Resolver(self.repo)
        docs, total = select(resolver, coll, params, user.get("organization_id"))
        body = Renderer(resolver, self._local.fmt).collection(
            coll, docs, total, params.offset, params.is_full, params.withs,
            self._next_page(request, params, len(docs), total),
        )
        return self._respond(body)

    def get_entity(self, request: Request, coll: str, entity_id: int) -> Response:
        user = self._user(request)
        etype = self._etype(coll)
        doc = self.repo.get(coll, entity_id)
        if doc is None:
            raise EmulatorError(404, "not_found", f"{etype.type} {entity_id} not found")
        self.repo.require_access(coll, doc, user)
        withs = parse_withs(etype, request.args.getlist("with"))
        return self._respond(self._renderer().single(coll, doc, withs))

    def _form(self, request: Request) -> dict[str, Any]:
        if request.mimetype == "application/json":
            data = request.get_json(silent=True)
            if not isinstance(data, dict):
                raise ValidationFailed([], "Request body must be a JSON object or a form")
            return {k: ("" if v is None else v) for k, v in data.items()}
        return {k: request.form.get(k) for k in request.form}

    def create_entity(self, request: Request, coll: str) -> Response:
        user = self._user(request)
        etype = self._etype(coll)
        if not etype.creatable:
            raise EmulatorError(403, "denied", f"{etype.collection} cannot be created through this API")
        doc = self.repo.create(coll, self._form(request), user)
        return self._respond(self._renderer().single(coll, doc))

    def update_entity(self, request: Request, coll: str, entity_id: int) -> Response:
        user = self._user(request)
        etype = self._etype(coll)
        if not etype.updatable:
            raise EmulatorError(403, "denied", f"{etype.collection} are read-only")
        doc = self.repo.update(coll, entity_id, self._form(request), user)
        return self._respond(self._renderer().single(coll, doc))

    def delete_entity(self, request: Request, coll: str, entity_id: int) -> Response:
        user = self._user(request)
        self._etype(coll)
        if coll not in ("budget_flights", "strategy_concepts", "strategy_day_parts"):
            raise EmulatorError(404, "not_found", f"{coll} cannot be deleted")
        form = self._form(request)
        doc = self.repo.delete(coll, entity_id, form.get("version"), user)
        return self._respond(self._renderer().single(coll, doc))

    def entity_history(self, request: Request, coll: str, entity_id: int) -> Response:
        user = self._user(request)
        etype = self._etype(coll)
        doc = self.repo.get(coll, entity_id)
        entries, org_id = self.repo.history(coll, entity_id)
        if doc is not None:
            self.repo.require_access(coll, doc, user)
        elif not entries:
            raise EmulatorError(404, "not_found", f"{etype.type} {entity_id} not found")
        elif org_id != user.get("organization_id"):
            raise EmulatorError(403, "denied", "Permission denied")
        limit, offset = parse_page(request.args)
        newest_first = list(reversed(entries))
        page = newest_first[offset : offset + limit]
        return self._respond(self._renderer().history(page, len(entries), offset))

    # -- budget flights below a campaign ------------------------------------------------------------
    def _campaign(self, user: Mapping[str, Any], cid: int) -> dict[str, Any]:
        campaign = self.repo.get("campaigns", cid)
        if campaign is None:
            raise EmulatorError(404, "not_found", f"campaign {cid} not found")
        self.repo.require_access("campaigns", campaign, user)
        return campaign

    def _flight(self, user: Mapping[str, Any], cid: int, fid: int) -> dict[str, Any]:
        self._campaign(user, cid)
        flight = self.repo.get("budget_flights", fid)
        if flight is None or flight.get("campaign_id") != cid:
            raise EmulatorError(404, "not_found", f"budget_flight {fid} not found in campaign {cid}")
        return flight

    def list_campaign_flights(self, request: Request, cid: int) -> Response:
        user = self._user(request)
        self._campaign(user, cid)
        params = parse_list_params(ENTITY_TYPES["budget_flights"], request.args)
        resolver = Resolver(self.repo)
        candidates = resolver.children("budget_flights", "campaign_id", cid)
        docs, total = select(resolver, "budget_flights", params, user.get("organization_id"), candidates)
        body = Renderer(resolver, self._local.fmt).collection(
            "budget_flights", docs, total, params.offset, lambda _: True, params.withs,
            self._next_page(request, params, len(docs), total),
        )
        return self._respond(body)

    def create_campaign_flight(self, request: Request, cid: int) -> Response:
        user = self._user(request)
        self._campaign(user, cid)
        form = self._form(request)
        if form.get("campaign_id") not in (None, "", str(cid), cid):
            raise EmulatorError(400, "invalid", "campaign_id does not match the URL")
        doc = self.repo.create("budget_flights", {**form, "campaign_id": cid}, user)
        return self._respond(self._renderer().single("budget_flights", doc))

    def get_campaign_flight(self, request: Request, cid: int, fid: int) -> Response:
        user = self._user(request)
        doc = self._flight(user, cid, fid)
        withs = parse_withs(ENTITY_TYPES["budget_flights"], request.args.getlist("with"))
        return self._respond(self._renderer().single("budget_flights", doc, withs))

    def update_campaign_flight(self, request: Request, cid: int, fid: int) -> Response:
        user = self._user(request)
        self._flight(user, cid, fid)
        doc = self.repo.update("budget_flights", fid, self._form(request), user)
        return self._respond(self._renderer().single("budget_flights", doc))

    def delete_campaign_flight(self, request: Request, cid: int, fid: int) -> Response:
        user = self._user(request)
        self._flight(user, cid, fid)
        doc = self.repo.delete("budget_flights", fid, self._form(request).get("version"), user)
        return self._respond(self._renderer().single("budget_flights", doc))

    def campaign_flight_history(self, request: Request, cid: int, fid: int) -> Response:
        flight = self.repo.get("budget_flights", fid)
        if flight is not None and flight.get("campaign_id") != cid:
            raise EmulatorError(404, "not_found", f"budget_flight {fid} not found in campaign {cid}")
        return self.entity_history(request, "budget_flights", fid)

    # -- targeting below a strategy ---------------------------------------------------------------
    def _strategy(self, user: Mapping[str, Any], sid: int) -> dict[str, Any]:
        strategy = self.repo.get("strategies", sid)
        if strategy is None:
            raise EmulatorError(404, "not_found", f"strategy {sid} not found")
        self.repo.require_access("strategies", strategy, user)
        return strategy

    def _target_dimension_body(self, sid: int, dim: int) -> str:
        lists = self.targeting.lists(sid, dim)
        return self._renderer().target_dimension(
            self.targeting.values(lists["include"]), self.targeting.values(lists["exclude"])
        )

    def get_target_dimension(self, request: Request, sid: int, dim: int) -> Response:
        self._strategy(self._user(request), sid)
        self.targeting.dimension(dim)
        return self._respond(self._target_dimension_body(sid, dim))

    def set_target_dimension(self, request: Request, sid: int, dim: int) -> Response:
        user = self._user(request)
        strategy = self._strategy(user, sid)
        if request.mimetype == "application/json":
            body = self._form(request)
            lists = submitted_lists(body, body.get)
        else:
            lists = submitted_lists(request.form, request.form.getlist)
        self.targeting.write(strategy, dim, lists, user)
        return self._respond(self._target_dimension_body(sid, dim))

    def _audience_body(self, request: Request, sid: int) -> str:
        docs = self.audiences.of(sid)
        params = parse_list_params(self._etype(LINKS), request.args)
        return Renderer(Resolver(self.repo), self._local.fmt).collection(
            LINKS, docs, len(docs), 0, params.is_full, params.withs)

    def get_audience_segments(self, request: Request, sid: int) -> Response:
        self._strategy(self._user(request), sid)
        return self._respond(self._audience_body(request, sid))

    def set_audience_segments(self, request: Request, sid: int) -> Response:
        user = self._user(request)
        strategy = self._strategy(user, sid)
        self.audiences.write(strategy, self._form(request), user)
        return self._respond(self._audience_body(request, sid))

    def _picks_body(self, request: Request, picked: str, sid: int) -> str:
        picks = PICK_SETS[picked]
        docs = self.picks.of(picks, sid)
        params = parse_list_params(self._etype(picks.links), request.args)
        return Renderer(Resolver(self.repo), self._local.fmt).collection(
            picks.links, docs, len(docs), 0, params.is_full, params.withs)

    def get_picks(self, request: Request, sid: int, picked: str) -> Response:
        self._strategy(self._user(request), sid)
        return self._respond(self._picks_body(request, picked, sid))

    def set_picks(self, request: Request, sid: int, picked: str) -> Response:
        user = self._user(request)
        strategy = self._strategy(user, sid)
        if request.mimetype == "application/json":
            body = self._form(request)
            self.picks.write(PICK_SETS[picked], strategy, body, body.get, user)
        else:
            self.picks.write(PICK_SETS[picked], strategy, request.form, request.form.getlist, user)
        return self._respond(self._picks_body(request, picked, sid))

    def _domains_body(self, request: Request, sid: int) -> str:
        docs = self.domains.of(sid)
        params = parse_list_params(self._etype(DOMAIN_LINKS), request.args)
        return Renderer(Resolver(self.repo), self._local.fmt).collection(
            DOMAIN_LINKS, docs, len(docs), 0, params.is_full, params.withs)

    def get_domain_restrictions(self, request: Request, sid: int) -> Response:
        self._strategy(self._user(request), sid)
        return self._respond(self._domains_body(request, sid))

    def set_domain_restrictions(self, request: Request, sid: int) -> Response:
        user = self._user(request)
        strategy = self._strategy(user, sid)
        self.domains.write(strategy, self._form(request), user)
        return self._respond(self._domains_body(request, sid))
