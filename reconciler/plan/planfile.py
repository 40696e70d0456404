"""Saved plans (``plan --out FILE``, ``apply FILE``): a Plan as a JSON file, and back.

The file is JSON with a format marker::

    {"format": "reconciler-plan", "format_version": 1, "lineage": ..., "serial": ...,
     "changes": [...], "drift": [...], "warnings": [...], "targets": [...], "options": {...},
     "integrity": "sha256:..."}

``integrity`` is the SHA-256 of the rest (the body) as canonical JSON (keys sorted, no spaces,
UTF-8): a plan edited after ``plan --out`` (another remote id, other values, a flag turned off)
is refused on reading, and so is one without it. It is a checksum, not a signature: whoever can
write the file can recompute it, so ``apply FILE`` also checks every change against the state
(:mod:`reconciler.plan.verify`).

Each change keeps everything apply needs: action, remote id, before/after (Refs as
``{"$ref": address}``), field changes, precondition, dependencies, reason, status, manual
steps, lifecycle flags and the outside changes it reverts. Writes are atomic (temp file,
fsync, rename). Reading checks the marker, the version and every field against
:data:`PLANFILE_SCHEMA`; anything else raises :class:`PlanFileError` naming the file (and the
line, for JSON syntax errors). Plans never contain secrets: specs carry ids and names only,
credentials live in the workspace file.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from reconciler.attribution import Attribution
from reconciler.errors import Location, PlanFileError
from reconciler.fsutil import atomic_write
from reconciler.model import Address
from reconciler.plan.model import Action, Change, FieldChange, Plan, value_from_json, value_to_json
from reconciler.providers.base import Precondition, PreconditionKind

FORMAT = "reconciler-plan"
FORMAT_VERSION = 1
MAX_PLAN_BYTES = 1024 * 1024 * 1024  # a file larger than this is not a plan we wrote

_STRINGS = {"type": "array", "items": {"type": "string"}}
_NULLABLE_STRING = {"type": ["string", "null"]}
_SPEC = {"type": ["object", "null"]}

_CHANGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["address", "provider", "kind", "action"],
    "additionalProperties": False,
    "properties": {
        "address": {"type": "string"},
        "provider": {"type": "string"},
        "kind": {"type": "string"},
        "action": {"enum": [a.value for a in Action]},
        "remote_id": _NULLABLE_STRING,
        "before": _SPEC,
        "after": _SPEC,
        "field_changes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "before", "after"],
                "additionalProperties": False,
                "properties": {"path": {"type": "string", "minLength": 1}, "before": {}, "after": {}},
            },
        },
        "precondition": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["kind", "value"],
                    "additionalProperties": False,
                    "properties": {
                        "kind": {"enum": [k.value for k in PreconditionKind]},
                        "value": {"type": ["integer", "string", "null"]},
                    },
                },
            ]
        },
        "depends_on": _STRINGS,
        "reason": {"type": "string"},
        "replace_paths": _STRINGS,
        "status": _NULLABLE_STRING,
        "manual_steps": _STRINGS,
        "prevent_destroy": {"type": "boolean"},
        "on_delete": _NULLABLE_STRING,
        "deactivates": {"type": "boolean"},
        "lifecycle": _STRINGS,
        "reverts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path"],
                "additionalProperties": False,
                "properties": {
                    "path": {"type": "string", "minLength": 1},
                    "user": _NULLABLE_STRING,
                    "when": _NULLABLE_STRING,
                    "overwrite": {"type": "boolean"},
                },
            },
        },
    },
}

PLANFILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "reconciler saved plan",
    "type": "object",
    "required": ["format", "format_version", "lineage", "serial", "changes"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": FORMAT},
        "format_version": {"const": FORMAT_VERSION},
        "lineage": {"type": "string"},
        "serial": {"type": "integer", "minimum": 0},
        "changes": {"type": "array", "items": {"$ref": "#/$defs/change"}},
        "drift": {"type": "array", "items": {"$ref": "#/$defs/change"}},
        "warnings": _STRINGS,
        "targets": _STRINGS,
        "options": {"type": "object"},
        "integrity": {"type": "string"},
    },
    "$defs": {"change": _CHANGE_SCHEMA},
}

_VALIDATOR = Draft202012Validator(PLANFILE_SCHEMA)


# -- writing --------------------------------------------------------------------------------
def change_to_json(change: Change) -> dict[str, Any]:
    return {
        "address": change.address,
        "provider": change.provider,
        "kind": change.kind,
        "action": change.action.value,
        "remote_id": change.remote_id,
        "before": value_to_json(change.before) if change.before is not None else None,
        "after": value_to_json(change.after) if change.after is not None else None,
        "field_changes": [
            {"path": fc.path, "before": value_to_json(fc.before), "after": value_to_json(fc.after)}
            for fc in change.field_changes
        ],
        "precondition": change.precondition.to_json() if change.precondition is not None else None,
        "depends_on": list(change.depends_on),
        "reason": change.reason,
        "replace_paths": list(change.replace_paths),
        "status": change.status,
        "manual_steps": list(change.manual_steps),
        "prevent_destroy": change.prevent_destroy,
        "on_delete": change.on_delete,
        "deactivates": change.deactivates,
        "lifecycle": list(change.lifecycle),
        "reverts": [a.to_json() for a in change.reverts],
    }


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "changes": [change_to_json(c) for c in plan.changes],
        "drift": [change_to_json(c) for c in plan.drift],
        "warnings": list(plan.warnings),
        "targets": list(plan.targets),
        "options": value_to_json(dict(plan.options)),
    }


def integrity(body: Mapping[str, Any]) -> str:
    """The integrity hash of a plan file's body (everything but ``integrity``)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_replaceable(path: str | os.PathLike[str]) -> None:
    """Refuse to write a plan over anything but a plan: ``plan --out`` is not a way to lose a
    manifest, a state file or a key. A missing file is fine; an existing one must carry the plan
    marker (a plan of any version or integrity)."""
    target = Path(path)
    try:
        info = target.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PlanFileError(f"{target}: cannot write the plan file: {exc.strerror or exc}") from None
    refuse = PlanFileError(
        f"{target}: exists and is not a reconciler plan; plan --out replaces only a plan it wrote "
        "(choose another file name, or remove the file first)"
    )
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_PLAN_BYTES:
        raise refuse
    try:
        data = json.loads(target.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        raise refuse from None
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise refuse


def save_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write ``plan`` to ``path`` atomically (a reader sees the old file or the whole new one),
    mode 0600 like the state (a plan names every live object it touches), with its integrity
    hash. The hash is taken over the body as it reads back (JSON has one spelling per value).
    An existing file is replaced only if it is a plan (:func:`check_replaceable`)."""
    target = Path(path)
    check_replaceable(target)
    body = json.loads(json.dumps(plan_to_json(plan), ensure_ascii=False))
    text = json.dumps({**body, "integrity": integrity(body)}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    try:
        atomic_write(target, text.encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise PlanFileError(f"{target}: cannot write the plan file: {exc.strerror or exc}") from None


# -- reading --------------------------------------------------------------------------------
def _json_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _not_a_plan(path: Path, detail: str) -> PlanFileError:
    return PlanFileError(f"{path}: not a reconciler plan: {detail}")


def load_plan(path: str | os.PathLike[str], refused: str = "nothing was applied") -> Plan:
    """Read a saved plan. Raises :class:`PlanFileError` naming the file for anything else;
    ``refused`` says what a refused (edited) plan file means for the command reading it
    (``show`` applies nothing: it says the file cannot be shown)."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise PlanFileError(f"{source}: plan file not found") from None
    except OSError as exc:
        raise PlanFileError(f"{source}: cannot read the plan file: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _not_a_plan(
            source, "the file is not UTF-8 text (is it a binary or a Terraform plan?)"
        ) from None
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"not a reconciler plan: invalid JSON: {exc.msg} (column {exc.colno})",
            location=Location(str(source), exc.lineno),
        ) from None
    except RecursionError:
        raise _not_a_plan(source, "the JSON is nested too deeply to be a plan") from None
    return plan_from_json(data, source, refused)


def plan_from_json(data: Any, source: Path, refused: str = "nothing was applied") -> Plan:
    if not isinstance(data, Mapping):
        raise _not_a_plan(source, f"expected a JSON object, found {type(data).__name__}")
    if "format" not in data and "resource_changes" in data:
        raise _not_a_plan(
            source,
            "this is a plan rendered as JSON (plan --format json), not a saved plan; save one with plan --out FILE",
        )
    if data.get("format") != FORMAT:
        raise _not_a_plan(source, f"the format marker is {data.get('format')!r}, expected {FORMAT!r}")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise _not_a_plan(
            source,
            f"format_version {version!r} is not supported (this reconciler reads version {FORMAT_VERSION}); "
            "re-run plan with this version",
        )
    error = best_match(_VALIDATOR.iter_errors(data))
    if error is not None:
        raise _not_a_plan(source, f"{_json_path(error.absolute_path)}: {error.message}")
    _check_integrity(data, source, refused)
    try:
        return Plan(
            lineage=data["lineage"],
            serial=data["serial"],
            changes=tuple(_change(c, source, f"changes[{i}]") for i, c in enumerate(data["changes"])),
            drift=tuple(_change(c, source, f"drift[{i}]") for i, c in enumerate(data.get("drift", []))),
            warnings=tuple(data.get("warnings", [])),
            targets=tuple(data.get("targets", [])),
            options=dict(data.get("options", {})),
        )
    except ValueError as exc:  # an address or a {"$ref"} that does not parse
        raise _not_a_plan(source, str(exc)) from None


def _check_integrity(data: Mapping[str, Any], source: Path, refused: str = "nothing was applied") -> None:
    """Refuse a plan whose body is not what ``plan --out`` wrote (or that carries no hash)."""
    written = data.get("integrity")
    if written is None:
        raise PlanFileError(
            f"{source}: the plan file has no integrity hash (made by an older reconciler, or not by "
            f"'reconciler plan --out'); {refused}. Run 'reconciler plan --out FILE' again"
        )
    if written != integrity({k: v for k, v in data.items() if k != "integrity"}):
        raise PlanFileError(
            f"{source}: the plan file was changed after 'reconciler plan --out' wrote it (its integrity "
            f"hash does not match its content); {refused}. Apply or show only a plan as saved: run "
            "'reconciler plan --out FILE' again"
        )


def _change(data: Mapping[str, Any], source: Path, where: str) -> Change:
    try:
        address = Address.parse(data["address"])
    except ValueError as exc:
        raise _not_a_plan(source, f"{where}.address: {exc}") from None
    if (address.provider, address.kind) != (data["provider"], data["kind"]):
        raise _not_a_plan(source, f"{where}: provider/kind do not match the address {address}")
    before, after = data.get("before"), data.get("after")
    precondition = data.get("precondition")
    try:
        return Change(
            address=str(address),
            provider=data["provider"],
            kind=data["kind"],
            action=Action(data["action"]),
            remote_id=data.get("remote_id"),
            before=value_from_json(before) if before is not None else None,
            after=value_from_json(after) if after is not None else None,
            field_changes=tuple(
                FieldChange(fc["path"], value_from_json(fc["before"]), value_from_json(fc["after"]))
                for fc in data.get("field_changes", [])
            ),
            precondition=Precondition.from_json(precondition) if precondition is not None else None,
            depends_on=tuple(data.get("depends_on", [])),
            reason=data.get("reason", ""),
            replace_paths=tuple(data.get("replace_paths", [])),
            status=data.get("status"),
            manual_steps=tuple(data.get("manual_steps", [])),
            prevent_destroy=data.get("prevent_destroy", False),
            on_delete=data.get("on_delete"),
            deactivates=data.get("deactivates", False),
            lifecycle=tuple(data.get("lifecycle", [])),
            reverts=tuple(
                Attribution(a["path"], a.get("user"), a.get("when"), bool(a.get("overwrite", False)))
                for a in data.get("reverts", [])
            ),
        )
    except ValueError as exc:
        raise _not_a_plan(source, f"{where}: {exc}") from None
