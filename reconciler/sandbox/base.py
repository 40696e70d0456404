"""Sandbox base: the pieces every API emulator shares (DESIGN §7).

- :class:`Store`: a SQLite document store (``.reconciler/sandbox.sqlite`` or ``:memory:``) with a
  write-through in-memory cache, so data survives restarts and large estates list fast.
- :class:`Emulator`: base class of one vendor API. A subclass declares ``name`` (``mediamath``),
  a werkzeug ``Map`` of routes whose endpoints are method names, and renders errors in the
  vendor's own shape (``error_response``). It never imports providers or the engine.
- :class:`Sandbox`: the WSGI app serving every emulator under ``/<name>`` (the prefix stands for
  the vendor's host; below it the paths are the real ones), plus control endpoints under
  ``/_sandbox/`` (:mod:`.control`: ``reset``, ``seed``, ``faults``, ``counters``, ``rate-limits``
  and ``/_sandbox/<api>/<action>`` for emulator-specific hooks; loopback callers only). A handler
  that fails unexpectedly rolls back its writes and answers the API's own 500
  (:meth:`Emulator.internal_error`), never an HTML page.
- Fault injection (latency, 429 with ``Retry-After``, 5xx, dropped connections) and a per-API
  token-bucket rate limiter with a concurrent-writes cap, applied before an emulator sees a request.
- :class:`SandboxServer`: a threaded HTTP(S) server on any port (0 picks a free one).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.info import EmulatorInfo

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
log = logging.getLogger(__name__)


class Store:
    """Thread-safe JSON document store: ``(api, collection, id) -> dict``.

    Reads are served from memory; every write goes to SQLite in the same call (autocommit
    unless inside ``transaction()``), so a restart with the same file sees the same data.
    """

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL" if path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS docs (api TEXT, coll TEXT, id TEXT, body TEXT, PRIMARY KEY (api, coll, id))"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS seq (api TEXT, coll TEXT, next INTEGER, PRIMARY KEY (api, coll))")
        self._cache: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._depth = 0
        self._load()

    def _load(self) -> None:
        for api, coll, id_, body in self._db.execute("SELECT api, coll, id, body FROM docs ORDER BY rowid"):
            self._cache.setdefault((api, coll), {})[id_] = json.loads(body)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes atomically (nested calls join the outer transaction)."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                    self._cache.clear()
                    self._load()
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    def next_id(self, api: str, coll: str, start: int = 1) -> int:
        with self.transaction():
            row = self._db.execute("SELECT next FROM seq WHERE api=? AND coll=?", (api, coll)).fetchone()
            value = row[0] if row else start
            self._db.execute("INSERT OR REPLACE INTO seq VALUES (?, ?, ?)", (api, coll, value + 1))
            return int(value)

    def put(self, api: str, coll: str, id_: str | int, doc: dict[str, Any]) -> dict[str, Any]:
        key = str(id_)
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?)", (api, coll, key, json.dumps(doc)))
            self._cache.setdefault((api, coll), {})[key] = doc
        return doc

    def get(self, api: str, coll: str, id_: str | int) -> dict[str, Any] | None:
        with self.lock:
            return self._cache.get((api, coll), {}).get(str(id_))

    def delete(self, api: str, coll: str, id_: str | int) -> bool:
        key = str(id_)
        with self.transaction():
            self._db.execute("DELETE FROM docs WHERE api=? AND coll=? AND id=?", (api, coll, key))
            return self._cache.get((api, coll), {}).pop(key, None) is not None

    def all(self, api: str, coll: str) -> list[dict[str, Any]]:
        """Every document of a collection, in insertion order (a snapshot list)."""
        with self.lock:
            return list(self._cache.get((api, coll), {}).values())

    def count(self, api: str, coll: str) -> int:
        with self.lock:
            return len(self._cache.get((api, coll), {}))

    def clear(self, api: str | None = None) -> None:
        with self.transaction():
            if api is None:
                self._db.execute("DELETE FROM docs")
                self._db.execute("DELETE FROM seq")
                self._cache.clear()
            else:
                self._db.execute("DELETE FROM docs WHERE api=?", (api,))
                self._db.execute("DELETE FROM seq WHERE api=?", (api,))
                for key in [k for k in self._cache if k[0] == api]:
                    del self._cache[key]

    def close(self) -> None:
        with self.lock:
            self._db.close()


@dataclass
class FaultSettings:
    """What the sandbox does to API requests (never to ``/_sandbox``)."""

    latency_ms: float = 0.0  # added to every API request
    fault_rate: float = 0.0  # share of API requests that fail
    # how failures split (weights): 429 with Retry-After, 429 without, 5xx, dropped connection
    weights: dict[str, float] = field(default_factory=lambda: {"429": 1.0, "429-bare": 0.0, "5xx": 1.0, "drop": 0.0})
    retry_after: float = 0.05  # seconds announced in Retry-After (kept small so tests stay fast)
    latency_spike_rate: float = 0.0  # share of requests that get ``latency_spike_ms`` more
    latency_spike_ms: float = 0.0
    seed: int | None = None
    only_writes: bool = False  # inject only on POST/PUT/PATCH/DELETE


@dataclass
class RateLimit:
    """Token bucket per API: ``rate`` requests/s refilled, ``burst`` capacity, write concurrency."""

    rate: float = 0.0  # 0 = unlimited
    burst: float = 0.0
    max_concurrent_writes: int = 0  # 0 = unlimited
    tokens: float = field(default=0.0, repr=False)
    stamp: float = field(default=0.0, repr=False)
    writes_in_flight: int = field(default=0, repr=False)


class Emulator:
    """One vendor API. Subclasses set ``name``, ``rules`` and implement handlers.

    Handlers are methods named by each Rule's ``endpoint`` and take ``(request, **url_args)``,
    returning a werkzeug Response. Raise :class:`EmulatorError` (or a subclass's own) for
    vendor-shaped errors via ``error_response``.
    """

    name: str = ""  # unique: counters, control endpoints and seeds use it
    mount: str = ""  # URL prefix standing for the vendor host (defaults to ``name``)
    subpath: str = ""  # several emulators may share a mount: the longest matching subpath wins
    rules: list[Rule] = []
    default_rate_limit: RateLimit = RateLimit()

    def __init__(self, store: Store, sandbox: Sandbox) -> None:
        self.store = store
        self.sandbox = sandbox
        self.url_map = Map(list(self._fresh_rules()), strict_slashes=False)
        self.rate_limit = RateLimit(**{k: v for k, v in asdict(self.default_rate_limit).items()})

    def _fresh_rules(self) -> Iterable[Rule]:
        for rule in self.rules:
            yield rule.empty()

    # -- hooks for subclasses --------------------------------------------------------------------
    def reset(self) -> None:
        """Clear this API's data and load its default seed (reference data, demo users)."""
        self.store.clear(self.name)

    def seed(self, name: str | None, data: Any) -> Any:
        """Load named seed data or a data payload. Returns a JSON-able summary."""
        raise EmulatorError(404, "not_found", f"{self.name} has no seed '{name}'")

    def control(self, action: str, request: Request) -> Any:
        """``/_sandbox/<api>/<action>`` hooks (accept an invitation, out-of-band edits...)."""
        raise EmulatorError(404, "not_found", f"{self.name} has no control action '{action}'")

    def describe(self) -> EmulatorInfo:
        """What a newcomer needs: mount, demo credentials, seeds (``reconciler sandbox info``)."""
        credentials = getattr(self, "demo_credentials", {}) or {}
        return EmulatorInfo(self.name, f"/{self.mount or self.name}{self.subpath}", self.name, "", tuple(credentials.items()), ())

    def error_response(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        """Render an error in the vendor's shape. Subclasses override."""
        body = json.dumps({"status": status, "code": code, "message": message})
        return Response(body, status=status, headers=headers, content_type="application/json")

    def internal_error(self, request: Request) -> Response:
        """The answer to a request whose handler failed unexpectedly: a 500 in the API's own error
        shape (never an HTML page), so a client sees a server fault, not a garbled answer."""
        return self.error_response(500, "internal_error", "Internal Server Error (the sandbox failed; see its log)")

    def is_write(self, request: Request) -> bool:
        return request.method in WRITE_METHODS

    # -- dispatch --------------------------------------------------------------------------------
    def route_of(self, path: str, method: str) -> tuple[str, dict[str, Any]] | None:
        adapter = self.url_map.bind("sandbox", path_info=path)
        try:
            endpoint, args = adapter.match(path, method=method)
        except (NotFound, MethodNotAllowed):
            return None
        return str(endpoint), dict(args)

    def dispatch(self, request: Request, path: str) -> Response:
        adapter = self.url_map.bind("sandbox", path_info=path)
        try:
            endpoint, args = adapter.match(path, method=request.method)
        except MethodNotAllowed:
            return self.error_response(405, "method_not_allowed", f"{request.method} not allowed on {path}")
        except NotFound:
            return self.error_response(404, "not_found", f"no route {request.method} {path}")
        except HTTPException as exc:  # e.g. RequestRedirect
            return self.error_response(exc.code or 400, "bad_request", str(exc))
        handler: Callable[..., Response] = getattr(self, str(endpoint))
        try:
            return handler(request, **args)
        except EmulatorError as exc:
            return self.error_response(exc.status, exc.code, exc.message, exc.headers)


class EmulatorError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers, content_type="application/json")


class Sandbox:
    """WSGI app: emulators under ``/<name>``, control endpoints under ``/_sandbox``."""

    def __init__(self, store: Store, emulator_classes: Iterable[type[Emulator]]) -> None:
        self.store = store
        self.emulators: dict[str, Emulator] = {}
        for cls in emulator_classes:
            emulator = cls(store, self)
            self.emulators[emulator.name] = emulator
        self.faults = FaultSettings()
        self._rng = random.Random()
        self.counters: Counter[str] = Counter()
        self.lock = threading.RLock()
        fresh = [e for e in self.emulators.values() if not store.count(e.name, "_meta")]
        if fresh:  # a new data file, or one made before these emulators existed
            with store.transaction():
                for emulator in fresh:
                    emulator.reset()
                    store.put(emulator.name, "_meta", "seeded", {"at": time.time()})

    def emulator_for(self, mount: str, path: str) -> Emulator | None:
        best: Emulator | None = None
        for emulator in self.emulators.values():
            matches = (emulator.mount or emulator.name) == mount and path.startswith(emulator.subpath)
            if matches and (best is None or len(emulator.subpath) > len(best.subpath)):
                best = emulator
        return best

    # -- control ---------------------------------------------------------------------------------
    def reset(self) -> None:
        with self.store.transaction():
            for emulator in self.emulators.values():
                emulator.reset()
                self.store.put(emulator.name, "_meta", "seeded", {"at": time.time()})
        with self.lock:
            self.counters.clear()

    def set_faults(self, **settings: Any) -> FaultSettings:
        with self.lock:
            self.faults = FaultSettings(**{**asdict(FaultSettings()), **settings})
            self._rng = random.Random(self.faults.seed)
            return self.faults

    def set_rate_limit(self, api: str, **settings: Any) -> RateLimit:
        with self.lock:
            emulator = self.emulators[api]
            emulator.rate_limit = RateLimit(**{**asdict(emulator.default_rate_limit), **settings})
            emulator.rate_limit.tokens = emulator.rate_limit.burst
            emulator.rate_limit.stamp = time.monotonic()
            return emulator.rate_limit

    def count(self, api: str | None = None, method: str | None = None, prefix: str = "") -> int:
        """Requests counted so far, filtered by API, method and route prefix."""
        total = 0
        with self.lock:
            for key, n in self.counters.items():
                k_api, k_method, k_route = key.split(" ", 2)
                if api and k_api != api:
                    continue
                if method and k_method != method:
                    continue
                if prefix and not k_route.startswith(prefix):
                    continue
                total += n
        return total

    # -- faults and limits -------------------------------------------------------------------------
    def _pick_fault(self, request: Request) -> str | None:
        f = self.faults
        if f.only_writes and request.method not in WRITE_METHODS:
            return None
        with self.lock:
            if f.fault_rate <= 0 or self._rng.random() >= f.fault_rate:
                return None
            kinds = [k for k, w in f.weights.items() if w > 0]
            weights = [f.weights[k] for k in kinds]
            return self._rng.choices(kinds, weights)[0] if kinds else None

    def _take_token(self, emulator: Emulator) -> float | None:
        """None if allowed, else seconds until a token is available."""
        limit = emulator.rate_limit
        if limit.rate <= 0:
            return None
        with self.lock:
            now = time.monotonic()
            if limit.stamp == 0.0:
                limit.stamp, limit.tokens = now, limit.burst
            limit.tokens = min(limit.burst, limit.tokens + (now - limit.stamp) * limit.rate)
            limit.stamp = now
            if limit.tokens >= 1.0:
                limit.tokens -= 1.0
                return None
            return (1.0 - limit.tokens) / limit.rate

    def _api_request(self, emulator: Emulator, request: Request, path: str) -> Response:
        route = emulator.route_of(path, request.method)
        route_key = route[0] if route else path
        with self.lock:
            self.counters[f"{emulator.name} {request.method} {route_key}"] += 1
        f = self.faults
        delay = f.latency_ms
        if f.latency_spike_rate and self._rng.random() < f.latency_spike_rate:
            delay += f.latency_spike_ms
        if delay:
            time.sleep(delay / 1000.0)
        wait = self._take_token(emulator)
        if wait is not None:
            retry = max(1, int(wait + 0.999))
            return emulator.error_response(429, "rate_limited", "Too Many Requests", {"Retry-After": str(retry)})
        fault = self._pick_fault(request)
        if fault == "429":
            return emulator.error_response(
                429, "rate_limited", "Too Many Requests", {"Retry-After": f"{self.faults.retry_after:g}"}
            )
        if fault == "429-bare":
            return emulator.error_response(429, "rate_limited", "Too Many Requests")
        if fault == "5xx":
            return emulator.error_response(503, "error", "Service Unavailable (injected)")
        if fault == "drop":
            raise _DropConnection()
        is_write = emulator.is_write(request)
        limit = emulator.rate_limit
        if is_write and limit.max_concurrent_writes:
            with self.lock:
                if limit.writes_in_flight >= limit.max_concurrent_writes:
                    return emulator.error_response(
                        429, "rate_limited", "Too many concurrent writes", {"Retry-After": "1"}
                    )
                limit.writes_in_flight += 1
        try:
            with self.store.transaction() if is_write else contextlib.nullcontext():
                return emulator.dispatch(request, path)
        except Exception:  # a bug: its writes are rolled back; the client gets the API's own 500
            log.exception("%s: %s %s failed", emulator.name, request.method, path)
            return emulator.internal_error(request)
        finally:
            if is_write and limit.max_concurrent_writes:
                with self.lock:
                    limit.writes_in_flight -= 1

    # -- WSGI ------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        path = request.path
        try:
            if path.startswith("/_sandbox/") or path == "/_sandbox":
                from reconciler.sandbox.control import handle

                response = handle(self, request, path[len("/_sandbox") :])
            else:
                mount, _, rest = path.lstrip("/").partition("/")
                emulator = self.emulator_for(mount, "/" + rest)
                if emulator is None:
                    response = json_response({"error": f"no emulator mounted at /{mount}"}, 404)
                else:
                    response = self._api_request(emulator, request, "/" + rest)
        except _DropConnection:
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            response = Response(b"", status=500)
        except Exception:  # never werkzeug's HTML error page
            log.exception("sandbox: %s %s failed", request.method, path)
            response = json_response({"error": "internal error in the sandbox (see its log)"}, 500)
        return response(environ, start_response)


class _DropConnection(Exception):
    pass


class SandboxServer:
    """Serve a Sandbox on 127.0.0.1 in a daemon thread. ``port=0`` picks a free port."""

    def __init__(
        self, app: Sandbox, host: str = "127.0.0.1", port: int = 0, ssl_context: Any = None
    ) -> None:
        self.app = app
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True, ssl_context=ssl_context)
        self.host = host
        self.port = self._server.server_port
        self.scheme = "https" if ssl_context else "http"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
