"""The MediaMath Reporting API v2 emulator (seed 002, ``mediamath-reporting-api-v2.openapi.yaml``).

Mounted below ``/mediamath`` (standing for ``https://api.mediamath.com``) at the real path:
``POST /mediamath/reporting/v2/<dataset>`` with a JSON body and ``Authorization: Bearer <JWT>``
(see :mod:`.auth`; the ``adama_session`` cookie is refused). Ten datasets with the spec's field
lists (:mod:`.catalog`); ``performance`` is complete, the others answer with the same synthetic
delivery under their own field names.

- With ``pagination``: ``{"meta": {page_index, total_pages, items_count, total_items_count,
  status: "OK"}, "results": [...]}`` (``application/json``).
- Without: a stream (``application/jsonl``), produced lazily in chunks: a header line
  ``{"fields": [{"name": ..}], "total_items_count": N}``, data lines, a ``{"meta": {}}`` line every
  ``meta_every`` rows, and on failure an error line that ends the stream.
- Errors: ``{"error_code", "request_id", "message"}`` (400 ``BadRequest``, 401 ``Unauthorized``,
  404 ``NotFound``, 405, 429 ``TooManyRequests``, 5xx).

Metrics are synthetic and deterministic (:mod:`.metrics`) for the campaigns and strategies of the
MediaMath v2.0 emulator (:mod:`.entities`).

Control hooks (``/_sandbox/mediamath-reporting/<action>``, JSON):

- ``clock`` ``{"now": "2026-03-01T12:00:00Z" | null}``: the sandbox's "now" (null: real time);
- ``spend`` ``{"campaign_id" | "strategy_id": ID, "spend": 4250.13 | null}``: make that entity's
  spend to date exactly this (delivery then stops), or drop the override;
- ``stream`` ``{"fail_after", "error_code", "message", "truncate_after", "count_skew",
  "drop_every", "unknown_total", "meta_every"}``: stream faults for tests ({} restores defaults);
- ``token`` ``{"user": "demo"}``: a sandbox-signed JWT for that user.

Seeds (``/_sandbox/seed`` with ``api: mediamath-reporting``): ``synthetic`` ``{"campaigns": C,
"strategies_per_campaign": S, "start_date", "end_date", "total_budget", "strategy_budget"}`` adds
C*S virtual strategies that exist only here (for the 1,000,000-row benchmark); ``default`` resets.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.base import Emulator, EmulatorError, json_response
from reconciler.sandbox.info import EmulatorInfo, SeedInfo
from reconciler.sandbox.mediamath_reporting.auth import TokenRejected, check_bearer, issue_jwt
from reconciler.sandbox.mediamath_reporting.catalog import datasets
from reconciler.sandbox.mediamath_reporting.entities import EntitySource, live_end
from reconciler.sandbox.mediamath_reporting.query import BadRequest, Query, parse_query
from reconciler.sandbox.mediamath_reporting.rows import Partitioned, ResultSet, result_set
from reconciler.sandbox.mediamath_reporting.windows import WindowError, parse_rfc3339

CHUNK_ROWS = 512
STREAM_TYPE = "application/jsonl"
_ID_CHARS = string.ascii_letters + string.digits
_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
          415: "UnsupportedMediaType", 429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
          503: "ServiceUnavailable", 504: "GatewayTimeout"}
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def request_id() -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(32))


def _campaign_scope(query: Query) -> set[int] | None:
    """Campaign ids a top-level ``campaign_id =`` filter limits the query to (a shortcut only:
    the filters are still applied to every entity)."""
    scope: set[int] | None = None
    for f in query.filters:
        if f.op == "=" and f.field == "campaign_id":
            values = f.value if isinstance(f.value, list) else [f.value]
            try:
                ids = {int(v) for v in values if not isinstance(v, bool)}
            except (TypeError, ValueError):
                return None
            scope = ids if scope is None else scope & ids
    return scope


@dataclass
class StreamFaults:
    meta_every: int = 1000  # a {"meta":{}} line after every N data rows (0: never)
    fail_after: int | None = None  # error line after N data rows
    error_code: str = "InternalServerError"
    message: str = "the query failed while streaming results"
    truncate_after: int | None = None  # end the stream after N data rows, without an error line
    count_skew: int = 0  # added to the header's total_items_count
    drop_every: int | None = None  # silently leave out every Nth row
    unknown_total: bool = False  # header says -1


class ReportingEmulator(Emulator):
    name = "mediamath-reporting"
    mount = "mediamath"
    subpath = "/reporting"
    rules = [Rule("/reporting/v2/<dataset>", methods=["POST"], endpoint="query")]

    # -- lifecycle ----------------------------------------------------------------------------------
    def describe(self) -> EmulatorInfo:
        return EmulatorInfo(
            self.name, "/mediamath/reporting/v2", "MediaMath Reporting API v2 (ten datasets, paged or NDJSON stream)",
            "https://api.mediamath.com/reporting/v2", (("Authorization", "Bearer <token from /mediamath-auth/oauth/token>"),),
            (
                SeedInfo("default", "synthetic, deterministic metrics for the MediaMath emulator's campaigns and strategies"),
                SeedInfo("synthetic", 'virtual strategies for benchmarks: data {"campaigns", "strategies_per_campaign", '
                         '"start_date", "end_date", "total_budget", "strategy_budget"}'),
            ),
            ("the adama_session cookie is refused, as by the real API",),
        )

    def seed(self, name: str | None, data: Any) -> Any:
        if name == "default":
            self.reset()
            return {"seeded": "default"}
        if name == "synthetic":
            params = self._synthetic_params(data or {})
            self.store.put(self.name, "_settings", "synthetic", params)
            return {"seeded": "synthetic", **params}
        return super().seed(name, data)

    @staticmethod
    def _synthetic_params(data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            campaigns = int(data.get("campaigns", 1))
            per = int(data.get("strategies_per_campaign", 1))
        except (TypeError, ValueError):
            raise EmulatorError(400, "invalid", "campaigns and strategies_per_campaign must be integers") from None
        if campaigns < 0 or per < 0 or campaigns * per > 1_000_000:
            raise EmulatorError(400, "invalid", "at most 1,000,000 synthetic strategies")
        out: dict[str, Any] = {"campaigns": campaigns, "strategies_per_campaign": per}
        for key in ("start_date", "end_date"):
            if key not in data:
                raise EmulatorError(400, "invalid", f"{key} is required (RFC 3339)")
            try:
                out[key] = parse_rfc3339(data[key], key).strftime("%Y-%m-%dT%H:%M:%S")
            except WindowError as exc:
                raise EmulatorError(400, "invalid", str(exc)) from None
        out["total_budget"] = str(data.get("total_budget", "1000000.00"))
        out["strategy_budget"] = str(data.get("strategy_budget", "10000.00"))
        return out

    def now(self) -> datetime:
        clock = self.store.get(self.name, "_settings", "clock")
        if clock and clock.get("now"):
            return datetime.fromisoformat(clock["now"])
        return datetime.now(UTC)

    def faults(self) -> StreamFaults:
        doc = self.store.get(self.name, "_settings", "stream")
        return StreamFaults(**{k: v for k, v in (doc or {}).items() if k != "id"})

    def control(self, action: str, request: Request) -> Any:
        body: Any = request.get_json(silent=True) if request.data else {}
        body = body if isinstance(body, dict) else {}
        if action == "clock":
            if request.method == "POST":
                value = body.get("now")
                if value is not None:
                    try:
                        value = parse_rfc3339(value, "now").isoformat()
                    except WindowError as exc:
                        raise EmulatorError(400, "invalid", str(exc)) from None
                self.store.put(self.name, "_settings", "clock", {"now": value})
            return {"now": self.now().strftime("%Y-%m-%dT%H:%M:%SZ")}
        if action == "stream":
            if request.method == "POST":
                try:
                    faults = StreamFaults(**body)
                except TypeError as exc:
                    raise EmulatorError(400, "invalid", f"unknown stream setting: {exc}") from None
                self.store.put(self.name, "_settings", "stream", asdict(faults))
            return asdict(self.faults())
        if action == "spend" and request.method == "POST":
            return self._set_spend(body)
        if action == "token" and request.method == "POST":
            wanted = str(body.get("user", "demo"))
            for user in self.store.all("mediamath", "users"):
                if wanted in (user.get("name"), str(user.get("id"))):
                    ttl = int(body.get("expires_in", 86400))
                    return {"access_token": issue_jwt(self.store, user, ttl), "token_type": "Bearer", "expires_in": ttl}
            raise EmulatorError(400, "invalid", f"unknown user {wanted!r}")
        return super().control(action, request)

    def _set_spend(self, body: Mapping[str, Any]) -> Any:
        now = self.now()
        source = EntitySource(self.store, self.name)
        if body.get("strategy_id") is not None:
            sid = int(body["strategy_id"])
            entities = [e for e in source.entities(now, with_overrides=False) if e.kind == "strategy" and e.id == sid]
            what = f"strategy {sid}"
        elif body.get("campaign_id") is not None:
            cid = int(body["campaign_id"])
            entities = list(source.entities(now, with_overrides=False, campaign_ids={cid}))
            what = f"campaign {cid}"
        else:
            raise EmulatorError(400, "invalid", "campaign_id or strategy_id is required")
        if not entities:
            raise EmulatorError(404, "not_found", f"{what} does not exist (or has no start/end dates)")
        if body.get("spend") is None:
            for entity in entities:
                self.store.delete(self.name, "spend", entity.key)
            return {"entity": what, "spend": None}
        try:
            target = Decimal(str(body["spend"])).quantize(Decimal("0.01"), ROUND_HALF_UP)
        except InvalidOperation:
            raise EmulatorError(400, "invalid", "spend must be a number") from None
        if target < 0:
            raise EmulatorError(400, "invalid", "spend must not be negative")
        elapsed = [max(0, live_end(e, now) - e.start) for e in entities]
        natural = [e.series.spend(k) for e, k in zip(entities, elapsed, strict=True)]
        total = sum(natural)
        if total <= 0:
            raise EmulatorError(400, "invalid", f"{what} has not delivered yet at {now:%Y-%m-%dT%H:%M:%SZ}; "
                                "move the clock or its start_date first")
        cents = int(target * 100)
        shares = [cents * n / total for n in natural]
        alloc = [int(s) for s in shares]
        for i in sorted(range(len(shares)), key=lambda i: shares[i] - alloc[i], reverse=True)[: cents - sum(alloc)]:
            alloc[i] += 1
        for entity, k, n, c in zip(entities, elapsed, natural, alloc, strict=True):
            scale = (c / 100.0) / n if n > 0 else 1.0
            self.store.put(self.name, "spend", entity.key, {"key": entity.key, "scale": scale, "freeze": k})
        return {"entity": what, "spend": float(target), "entities": len(entities)}

    # -- errors -------------------------------------------------------------------------------------
    def error_response(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        vendor = code if code[:1].isupper() else _CODES.get(status, "InternalServerError" if status >= 500 else "BadRequest")
        rid = request_id()
        body = {"error_code": vendor, "request_id": rid, "message": message}
        return json_response(body, status, {**(headers or {}), "X-Request-Id": rid})

    def is_write(self, request: Request) -> bool:
        return False  # POST here only reads: no write transaction, no concurrent-writes cap

    # -- the API ------------------------------------------------------------------------------------
    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header:
            if "adama_session" in request.cookies:
                raise EmulatorError(401, "Unauthorized", "Authentication is only done via JWT tokens: "
                                    "the adama_session cookie is not supported")
            raise EmulatorError(401, "Unauthorized", "missing Authorization: Bearer token")
        try:
            check_bearer(self.store, header)
        except TokenRejected as exc:
            raise EmulatorError(401, "Unauthorized", str(exc)) from None

    def query(self, request: Request, dataset: str) -> Response:
        self._authenticate(request)
        info = datasets().get(dataset)
        if info is None:
            raise EmulatorError(404, "NotFound", f"dataset does not exist: {dataset}")
        if request.mimetype != "application/json":
            raise EmulatorError(400, "BadRequest", "the request body must be JSON (Content-Type: application/json)")
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            raise EmulatorError(400, "BadRequest", "the request body is not valid JSON") from None
        now = self.now()
        try:
            query = parse_query(info, body, now)
        except BadRequest as exc:
            raise EmulatorError(400, "BadRequest", str(exc)) from None
        entities = EntitySource(self.store, self.name).entities(now, campaign_ids=_campaign_scope(query))
        result = result_set(query, entities, now)
        if query.page is not None:
            return self._paged(result)
        return self._stream(result)

    def _paged(self, result: ResultSet | Partitioned) -> Response:
        index, size = result.query.page or (0, 1)
        total = result.count()
        rows = []
        start = index * size
        for i, row in enumerate(result.rows()):
            if i >= start + size:
                break
            if i >= start:
                rows.append(row)
        meta = {"page_index": index, "total_pages": -(-total // size), "items_count": len(rows),
                "total_items_count": total, "status": "OK"}
        return Response(_dumps({"meta": meta, "results": rows}), status=200, content_type="application/json")

    def _stream(self, result: ResultSet | Partitioned) -> Response:
        faults = self.faults()
        query = result.query
        total = result.count()
        if query.max_results is not None:
            total = min(total, query.max_results)
        announced = -1 if faults.unknown_total else total + faults.count_skew
        header = {"fields": [{"name": name} for name in query.header], "total_items_count": announced}
        rid = request_id()

        def generate() -> Iterator[bytes]:
            chunk: list[str] = [_dumps(header)]
            sent = 0
            try:
                for position, row in enumerate(result.rows(), 1):
                    if query.max_results is not None and sent >= query.max_results:
                        break
                    if faults.fail_after is not None and sent >= faults.fail_after:
                        chunk.append(_dumps({"error_code": faults.error_code, "request_id": rid,
                                             "message": faults.message}))
                        break
                    if faults.truncate_after is not None and sent >= faults.truncate_after:
                        break
                    if faults.drop_every and position % faults.drop_every == 0:
                        continue
                    chunk.append(_dumps(row))
                    sent += 1
                    if faults.meta_every and sent % faults.meta_every == 0:
                        chunk.append('{"meta":{}}')
                    if len(chunk) >= CHUNK_ROWS:
                        yield ("\n".join(chunk) + "\n").encode()
                        chunk = []
            except Exception as exc:  # noqa: BLE001 - the stream's own error line reports it
                chunk.append(_dumps({"error_code": "InternalServerError", "request_id": rid,
                                     "message": f"query failed: {type(exc).__name__}"}))
            if chunk:
                yield ("\n".join(chunk) + "\n").encode()

        return Response(generate(), status=200, content_type=STREAM_TYPE, headers={"X-Request-Id": rid},
                        direct_passthrough=True)
