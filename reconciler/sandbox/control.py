"""The sandbox's control API under ``/_sandbox/`` (DESIGN §7): who may call it, what it accepts.

:func:`handle` serves ``reset``, ``seed``, ``faults``, ``counters``, ``rate-limits/<api>`` and the
emulators' own hooks ``/_sandbox/<api>/<action>`` for a :class:`~reconciler.sandbox.base.Sandbox`.

- **Local callers only.** The sandbox is for one machine: a request whose ``Host`` is not a
  loopback name (``127.0.0.1``, ``localhost``, ``[::1]``, any ``127.x.y.z``), or that carries an
  ``Origin`` other than such a host, is refused with 403 before anything runs. That stops DNS
  rebinding (a web page whose own name resolves to 127.0.0.1: its requests carry its ``Host``) and
  cross-site requests from a browser (they carry the page's ``Origin``).
- **JSON bodies.** A body must be a JSON object sent as ``Content-Type: application/json`` (a form
  or plain text is a 400 saying so: it is also what a browser could send cross-site without asking
  first). Bodies of ``seed``, ``faults`` and ``rate-limits`` are checked against JSON Schemas
  (:data:`SEED_SCHEMA`, :data:`FAULTS_SCHEMA`, :data:`RATE_LIMIT_SCHEMA`) before anything changes:
  unknown keys, wrong types and out-of-range values are 400s naming the field.
- Every answer is JSON ``{"error": ...}`` on failure; an unexpected exception is a JSON 500.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.base import EmulatorError, json_response

if TYPE_CHECKING:
    from reconciler.sandbox.base import Sandbox

log = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
FAULT_KINDS = ("429", "429-bare", "5xx", "drop")
_SHARE = {"type": "number", "minimum": 0, "maximum": 1}
_NON_NEGATIVE = {"type": "number", "minimum": 0}

SEED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["api"],
    "additionalProperties": False,
    "properties": {"api": {"type": "string"}, "name": {"type": ["string", "null"]}, "data": {}},
}
FAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "latency_ms": _NON_NEGATIVE,
        "fault_rate": _SHARE,
        "weights": {
            "type": "object",
            "additionalProperties": False,
            "properties": {kind: _NON_NEGATIVE for kind in FAULT_KINDS},
        },
        "retry_after": _NON_NEGATIVE,
        "latency_spike_rate": _SHARE,
        "latency_spike_ms": _NON_NEGATIVE,
        "seed": {"type": ["integer", "null"]},
        "only_writes": {"type": "boolean"},
    },
}
RATE_LIMIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "rate": _NON_NEGATIVE,
        "burst": _NON_NEGATIVE,
        "max_concurrent_writes": {"type": "integer", "minimum": 0},
    },
}
_VALIDATORS = {id(s): Draft202012Validator(s) for s in (SEED_SCHEMA, FAULTS_SCHEMA, RATE_LIMIT_SCHEMA)}


class ControlError(Exception):
    """A control request refused: ``status`` and a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a hostname, an IP address, optionally ``[v6]``) names this machine."""
    if not host:
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def foreign_caller(request: Request) -> str | None:
    """Why a control request does not come from this machine's own programs (None when it does)."""
    try:
        host = urlsplit(f"//{request.host}").hostname
    except ValueError:
        host = None
    if not is_loopback(host):
        return f"Host {request.host!r} is not this machine (the control API answers loopback hosts only)"
    origin = request.headers.get("Origin")
    if origin is not None:
        try:
            origin_host = urlsplit(origin).hostname
        except ValueError:
            origin_host = None
        if not is_loopback(origin_host):
            return f"Origin {origin!r} is not this machine (cross-site requests are refused)"
    return None


def json_body(request: Request) -> Any:
    """The request's JSON body (None when there is none); 400 for anything but JSON."""
    if not request.get_data(cache=True):
        return None
    if request.mimetype != "application/json":
        sent = request.content_type or "no Content-Type"
        raise ControlError(400, f"send the body as JSON with Content-Type: application/json (got {sent})")
    body = request.get_json(silent=True)
    if body is None:
        raise ControlError(400, "the body is not valid JSON")
    return body


def checked(body: Any, schema: dict[str, Any], what: str) -> dict[str, Any]:
    """``body`` (None means ``{}``) once it satisfies ``schema``; else a 400 naming the field."""
    value = {} if body is None else body
    error = best_match(_VALIDATORS[id(schema)].iter_errors(value))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        raise ControlError(400, f"{what}: {where + ': ' if where else ''}{error.message}")
    assert isinstance(value, dict)
    return value


def handle(sandbox: Sandbox, request: Request, path: str) -> Response:
    """Answer one ``/_sandbox/<path>`` request (always JSON)."""
    try:
        refused = foreign_caller(request)
        if refused is not None:
            raise ControlError(403, refused)
        return _dispatch(sandbox, request, path)
    except ControlError as exc:
        return json_response({"error": exc.message}, exc.status)
    except EmulatorError as exc:
        return json_response({"error": exc.message}, exc.status)
    except Exception:  # a bug: answer JSON, never the server's HTML page
        log.exception("sandbox control request failed: %s /_sandbox%s", request.method, path)
        return json_response({"error": "internal error in the sandbox (see its log)"}, 500)


def _dispatch(sandbox: Sandbox, request: Request, path: str) -> Response:
    parts = [p for p in path.split("/") if p]
    action = parts[0] if parts else ""
    body = json_body(request)
    post = request.method == "POST"
    if action == "reset" and post:
        sandbox.reset()
        return json_response({"reset": True})
    if action == "faults" and request.method in ("GET", "POST"):
        if post:
            return json_response(asdict(sandbox.set_faults(**checked(body, FAULTS_SCHEMA, "faults"))))
        return json_response(asdict(sandbox.faults))
    if action == "counters" and request.method in ("GET", "DELETE"):
        with sandbox.lock:
            if request.method == "DELETE":
                sandbox.counters.clear()
            return json_response({"total": sum(sandbox.counters.values()), "routes": dict(sorted(sandbox.counters.items()))})
    if action == "rate-limits" and len(parts) == 2 and parts[1] in sandbox.emulators:
        if post:
            settings = checked(body, RATE_LIMIT_SCHEMA, f"rate-limits/{parts[1]}")
            return json_response(asdict(sandbox.set_rate_limit(parts[1], **settings)))
        return json_response(asdict(sandbox.emulators[parts[1]].rate_limit))
    if action == "seed" and post:
        if body is None:
            raise ControlError(400, 'seed needs a JSON body {"api": ..., "name": ..., "data": ...}')
        spec = checked(body, SEED_SCHEMA, "seed")
        emulator = sandbox.emulators.get(spec["api"])
        if emulator is None:
            raise ControlError(400, f"seed: unknown api {spec['api']!r} (one of {', '.join(sorted(sandbox.emulators))})")
        with sandbox.store.transaction():
            return json_response(emulator.seed(spec.get("name"), spec.get("data")))
    if action in sandbox.emulators and len(parts) >= 2:
        if body is not None and not isinstance(body, Mapping):
            raise ControlError(400, f"{action}: the body must be a JSON object")
        with sandbox.store.transaction():
            return json_response(sandbox.emulators[action].control("/".join(parts[1:]), request))
    raise ControlError(404, f"unknown control endpoint {request.method} /_sandbox/{path.lstrip('/')}")
