"""What every state backend stores, as JSON: encoding and checking resources, intents and locks.

Both backends keep the same values in the same JSON shape: a resource is
:meth:`ResourceState.to_json` (the local backend's snapshot and journal lines, the PostgreSQL
backend's ``resources.data`` column), an intent is :func:`intent_to_json`, a lock is
:func:`lock_to_json`. Everything read back from a file or a row goes through the checks here, so
a damaged entry is the same :class:`~reconciler.errors.StateError` (naming the field) whichever
backend holds it. ``ValueError`` messages are prefixed by the caller with where the entry was
(a file and line, a table and key).

Resources are checked by a fast path (:func:`fast_resource`, run once per resource on every
load) and, only when it refuses, by :func:`explain_resource` for the message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, TypeGuard

from reconciler.errors import StateError
from reconciler.model import ADDRESS_RE
from reconciler.state.base import Intent, LockInfo, ResourceState

FORMAT_VERSION = 1
OUTCOMES = ("done", "failed", "recovered")

SNAPSHOT_KEYS = frozenset({"format_version", "lineage", "serial", "resources"})
RESOURCE_KEYS = frozenset(
    {
        "provider",
        "kind",
        "remote_id",
        "applied_spec",
        "fingerprint",
        "version",
        "parent_ids",
        "dependencies",
        "prevent_destroy",
        "on_delete",
        "status",
    }
)
INTENT_KEYS = ("id", "address", "action", "provider", "kind", "spec", "remote_id")


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys: the one spelling every backend stores."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def require_str(data: Mapping[str, Any], key: str, where: str) -> str:
    if key not in data:
        raise ValueError(f"{where}: missing field '{key}'")
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}.{key}: expected a non-empty string, got {type_name(value)}")
    return value


_MISSING: Any = object()


def parse_resource(address: str, data: Any, where: str) -> ResourceState:
    """Validate one stored resource entry; ValueError names the offending field."""
    resource = fast_resource(address, data)
    if resource is None:
        explain_resource(address, data, where)  # raises with the first bad field
        resource = ResourceState.from_json(address, data)  # pragma: no cover - the two checks agree
    return resource


def fast_resource(address: Any, data: Any) -> ResourceState | None:
    """What ``ResourceState.from_json`` does, with every type checked; None if anything is off.

    This runs once per resource on every load, so it is written for speed; the messages come
    from :func:`explain_resource`.
    """
    if type(data) is not dict or type(address) is not str or not address or not data.keys() <= RESOURCE_KEYS:
        return None
    get = data.get
    provider, kind, remote_id = get("provider"), get("kind"), get("remote_id")
    if type(provider) is not str or not provider or type(kind) is not str or not kind:
        return None
    parsed = ADDRESS_RE.match(address)
    if parsed is None or parsed["provider"] != provider or parsed["kind"] != kind:
        return None
    if type(remote_id) is not str or not remote_id:
        if type(remote_id) is not int:
            return None
        remote_id = str(remote_id)
    spec = get("applied_spec", _MISSING)
    if spec is _MISSING:
        spec = {}
    elif type(spec) is not dict:
        return None
    parents = get("parent_ids", _MISSING)
    if parents is _MISSING:
        parents = {}
    elif type(parents) is not dict:
        return None
    else:
        for value in parents.values():
            if type(value) is not str:
                return None
    dependencies = get("dependencies", ())
    if type(dependencies) is not tuple:
        if type(dependencies) is not list:
            return None
        for value in dependencies:
            if type(value) is not str:
                return None
        dependencies = tuple(dependencies)
    fingerprint, version, prevent = get("fingerprint", ""), get("version"), get("prevent_destroy", False)
    on_delete, status = get("on_delete"), get("status")
    if (
        type(fingerprint) is not str
        or (version is not None and type(version) is not int)
        or type(prevent) is not bool
        or (on_delete is not None and type(on_delete) is not str)
        or (status is not None and type(status) is not str)
    ):
        return None
    return ResourceState(
        address,
        provider,
        kind,
        remote_id,
        spec,
        fingerprint,
        version,
        parents,
        dependencies,
        prevent,
        on_delete,
        status,
    )


def explain_resource(address: str, data: Any, where: str) -> None:
    """The detailed check: raises ValueError naming the first bad field."""
    if not isinstance(address, str) or not address:
        raise ValueError(f"{where}: the address must be a non-empty string")
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type_name(data)}")
    unknown = sorted(set(data) - RESOURCE_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown field '{unknown[0]}'")
    provider = require_str(data, "provider", where)
    kind = require_str(data, "kind", where)
    parsed = ADDRESS_RE.match(address)
    if parsed is None:
        raise ValueError(
            f"{where}: {address!r} is not an address (provider.Kind/name); the state file was edited or damaged: "
            "fix or remove the entry (reconciler never deletes what it cannot name)"
        )
    if (parsed["provider"], parsed["kind"]) != (provider, kind):
        raise ValueError(
            f"{where}: the address names {parsed['provider']}.{parsed['kind']} but the entry says "
            f"{provider}.{kind}; the state file was edited or damaged"
        )
    if "remote_id" not in data:
        raise ValueError(f"{where}: missing field 'remote_id'")
    remote_id = data["remote_id"]
    if not (isinstance(remote_id, str) and remote_id) and not is_int(remote_id):
        raise ValueError(f"{where}.remote_id: expected a non-empty string, got {type_name(remote_id)}")
    checks: tuple[tuple[str, Any, str], ...] = (
        ("applied_spec", lambda v: isinstance(v, dict), "an object"),
        ("fingerprint", lambda v: isinstance(v, str), "a string"),
        ("version", lambda v: v is None or is_int(v), "an integer"),
        (
            "parent_ids",
            lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
            "an object of strings",
        ),
        (
            "dependencies",
            lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
            "an array of strings",
        ),
        ("prevent_destroy", lambda v: isinstance(v, bool), "a boolean"),
        ("on_delete", lambda v: v is None or isinstance(v, str), "a string"),
        ("status", lambda v: v is None or isinstance(v, str), "a string"),
    )
    for key, ok, expected in checks:
        if key in data and not ok(data[key]):
            raise ValueError(f"{where}.{key}: expected {expected}, got {type_name(data[key])}")


def intent_to_json(intent: Intent) -> dict[str, Any]:
    return {
        "id": intent.id,
        "address": intent.address,
        "action": intent.action,
        "provider": intent.provider,
        "kind": intent.kind,
        "spec": dict(intent.spec),
        "remote_id": intent.remote_id,
    }


def parse_intent(data: Mapping[str, Any], where: str) -> Intent:
    for key in ("id", "address", "action", "provider", "kind"):
        require_str(data, key, where)
    spec = data.get("spec", {})
    if not isinstance(spec, dict):
        raise ValueError(f"{where}.spec: expected an object, got {type_name(spec)}")
    remote_id = data.get("remote_id")
    if remote_id is not None and not isinstance(remote_id, str) and not is_int(remote_id):
        raise ValueError(f"{where}.remote_id: expected a string or null, got {type_name(remote_id)}")
    return Intent(
        id=data["id"],
        address=data["address"],
        action=data["action"],
        provider=data["provider"],
        kind=data["kind"],
        spec=spec,
        remote_id=None if remote_id is None else str(remote_id),
    )


def lock_to_json(info: LockInfo) -> dict[str, Any]:
    data = asdict(info)
    if not info.pid_scope:
        del data["pid_scope"]
    return data


def parse_lock(raw: bytes | str | Mapping[str, Any]) -> LockInfo:
    """A lock as stored (JSON text or an already decoded object); ValueError names the field."""
    data = raw if isinstance(raw, Mapping) else json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type_name(data)}")
    for key in ("id", "who", "operation", "created"):
        if not isinstance(data.get(key), str):
            raise ValueError(f"field '{key}' is missing or not a string")
    if not is_int(data.get("pid")):
        raise ValueError("field 'pid' is missing or not an integer")
    scope = data.get("pid_scope", "")
    if not isinstance(scope, str):
        raise ValueError("field 'pid_scope' is not a string")
    return LockInfo(
        id=data["id"],
        who=data["who"],
        pid=data["pid"],
        operation=data["operation"],
        created=data["created"],
        pid_scope=scope,
    )


# -- entries about to be written ------------------------------------------------------------------


def resource_entry(resource: ResourceState) -> tuple[str, ResourceState, dict[str, Any]]:
    """Check ``resource`` before anything is written: its JSON text, its canonical (re-read) form
    and that JSON as a dict. A value JSON cannot hold, or a field of the wrong type, is a
    StateError naming the address."""
    try:
        text = dumps(resource.to_json())
    except (TypeError, ValueError) as exc:
        raise StateError(f"{resource.address}: the resource cannot be stored as JSON: {exc}") from exc
    raw = json.loads(text)
    try:
        canonical = parse_resource(resource.address, raw, resource.address or "resource")
    except ValueError as exc:
        raise StateError(f"cannot record {resource.address or 'a resource'}: {exc}") from exc
    return text, canonical, raw


def intent_entry(intent: Intent) -> tuple[dict[str, Any], Intent]:
    """Check ``intent`` before it is journaled: its JSON object and its canonical form."""
    try:
        data = json.loads(dumps(intent_to_json(intent)))
        canonical = parse_intent(data, "intent")
    except (TypeError, ValueError) as exc:
        raise StateError(f"cannot journal intent for {intent.address}: {exc}") from exc
    return data, canonical


def check_outcome(outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")


# -- whole states (snapshot files, ``state pull`` documents) ---------------------------------------


def json_object(raw: bytes | str, where: str, what: str) -> dict[str, Any]:
    """``raw`` as a JSON object, or a StateError ``WHERE: not a WHAT: ...``."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise StateError(f"{where}: not a {what}: invalid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise StateError(f"{where}: not a {what}: expected a JSON object, got {type_name(data)}")
    return data


def decode_document(
    raw: bytes, where: str, *, what: str = "reconciler state file", allow_intents: bool = False
) -> tuple[str, int, dict[str, ResourceState], dict[str, dict[str, Any]], list[Intent]]:
    """Check a whole state document: ``{"format_version", "lineage", "serial", "resources"}``
    (plus ``"intents"``, the unfinished ones, in a ``state pull`` document when ``allow_intents``).

    Returns lineage, serial, resources, the resources as stored JSON, and intents. Every problem is
    a StateError starting with ``where``.
    """
    if not raw.strip():
        raise StateError(f"{where}: not a {what}: the file is empty")
    data = json_object(raw, where, what)
    if "format_version" not in data:
        raise StateError(f"{where}: not a {what}: missing field 'format_version'")
    version = data["format_version"]
    if not is_int(version):
        raise StateError(f"{where}: format_version: expected an integer, got {type_name(version)}")
    if version > FORMAT_VERSION:
        raise StateError(
            f"{where}: format_version {version} was written by a newer reconciler; "
            f"this version reads format_version {FORMAT_VERSION}"
        )
    if version != FORMAT_VERSION:
        raise StateError(
            f"{where}: unsupported format_version {version}; this version reads format_version {FORMAT_VERSION}"
        )
    allowed = SNAPSHOT_KEYS | {"intents"} if allow_intents else SNAPSHOT_KEYS
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise StateError(f"{where}: unknown field '{unknown[0]}'")
    try:
        lineage = require_str(data, "lineage", "state")
        if "serial" not in data:
            raise ValueError("state: missing field 'serial'")
        serial = data["serial"]
        if not is_int(serial) or serial < 0:
            raise ValueError(f"state.serial: expected a non-negative integer, got {type_name(serial)}")
        if "resources" not in data:
            raise ValueError("state: missing field 'resources'")
        raw_resources = data["resources"]
        if not isinstance(raw_resources, dict):
            raise ValueError(f"state.resources: expected an object, got {type_name(raw_resources)}")
        resources = {
            address: parse_resource(address, entry, f"resources[{address!r}]")
            for address, entry in raw_resources.items()
        }
        raw_intents = data.get("intents", [])
        if not isinstance(raw_intents, list):
            raise ValueError(f"state.intents: expected an array, got {type_name(raw_intents)}")
        intents = []
        for index, entry in enumerate(raw_intents):
            if not isinstance(entry, dict):
                raise ValueError(f"intents[{index}]: expected an object, got {type_name(entry)}")
            intents.append(parse_intent(entry, f"intents[{index}]"))
    except ValueError as exc:
        raise StateError(f"{where}: {exc}") from exc
    return lineage, serial, resources, raw_resources, intents


def encode_document(
    lineage: str, serial: int, raw_resources: Mapping[str, Any], intents: list[Intent] | None = None
) -> bytes:
    """The whole-state document :func:`decode_document` reads (intents only when given)."""
    document: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "lineage": lineage,
        "serial": serial,
        "resources": raw_resources,
    }
    if intents:
        document["intents"] = [intent_to_json(i) for i in intents]
    return dumps(document).encode()
