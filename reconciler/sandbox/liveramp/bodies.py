"""Request bodies of the LiveRamp emulator, type-checked against the vendor's own schemas before use.

The real API deserialises every JSON body into typed objects first (Spring + Jackson): an object
where a string, enum or boolean belongs is a 400 before any handler runs. The emulator does the
same: :func:`check` validates a body against the request schema the vendor's OpenAPI file
declares for that operation, reduced to its *shape* (``type``, ``properties``, ``items``,
``additionalProperties``; ``$ref`` inlined), with Jackson's default coercions (:data:`JACKSON`):
any scalar where a string belongs, ``"true"``/``"false"`` for a boolean, numeric text for a
number, ``null`` anywhere. Objects and arrays are never coerced. Required fields, enum values and
formats stay with the handlers, which answer them with the API's own messages; unknown
properties are ignored, as by Jackson. The shapes are extracted once into ``request_bodies.json`` beside this module (the
sandbox never reads the vendor file at run time); ``python -m reconciler.sandbox.liveramp.bodies
SPEC.yml`` regenerates it, and a test checks it still matches ``tests/vendor/``.

Defects of the spec corrected here (reference ``clean-room-apis.md`` §1.10), in :data:`CORRECTIONS`:
dataset ownership and question permissions are documented as query parameters but are JSON bodies
(LiveRamp's SDK cites the server's controller); ``Measure.noise`` is boolean in the spec and an
integer in LiveRamp's SDK (both accepted).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from reconciler.sandbox.liveramp.common import bad_request
from reconciler.sandbox.specdata import regenerate

BODIES_FILE = Path(__file__).with_name("request_bodies.json")
WRITE_METHODS = ("post", "put", "patch", "delete")
_SHAPE_KEYS = ("type", "properties", "items", "additionalProperties")
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}

# operation key -> shape, for bodies the spec gets wrong (see the module docstring)
CORRECTIONS: dict[str, Any] = {
    "POST /cleanroom-questions/{}/datasets-ownership": {
        "type": "array",
        "items": {"type": "object", "properties": {"organizationId": {"type": "string"}, "macro": {"type": "string"}}},
    },
    "POST /cleanroom-questions/{}/cleanroom-question-permissions": {
        "type": "array",
        "items": {"type": "object", "properties": {"permission": {"type": "string"}, "access": {"type": "string"}}},
    },
}
WIDENED = {("Measure", "noise"): ["boolean", "integer"]}


def _number_text(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or _number_text(value)


# Jackson's default coercions (Spring Boot's ObjectMapper): what it deserialises into each type.
JACKSON = Draft4Validator.TYPE_CHECKER.redefine_many({
    "string": lambda _, v: v is None or isinstance(v, (str, int, float, bool)),
    "boolean": lambda _, v: v is None or isinstance(v, bool) or v in ("true", "false"),
    "integer": lambda _, v: v is None or _is_number(v),
    "number": lambda _, v: v is None or _is_number(v),
    "object": lambda _, v: v is None or isinstance(v, dict),
    "array": lambda _, v: v is None or isinstance(v, list),
})
_Validator = validators.extend(Draft4Validator, type_checker=JACKSON)


def operation_key(method: str, path: str) -> str:
    """``POST /cleanrooms/{}/users`` for the spec's ``/cleanrooms/{cleanroomId}/users`` and the
    emulator's ``/v1/cleanrooms/<room>/users`` alike."""
    parts = [p for p in path.removeprefix("/v1").split("/") if p]
    return f"{method.upper()} /" + "/".join("{}" if p[:1] in "{<" else p for p in parts)


def _shape(schema: Any, components: Mapping[str, Any], seen: tuple[str, ...] = (), owner: str = "") -> Any:
    """The type shape of one (sub)schema, ``$ref`` inlined (a recursive reference becomes ``{}``)."""
    if not isinstance(schema, Mapping):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        return {} if name in seen else _shape(components.get(name, {}), components, (*seen, name), name)
    out: dict[str, Any] = {k: schema[k] for k in ("type",) if k in schema}
    if "properties" in schema:
        out.setdefault("type", "object")
        out["properties"] = {
            prop: ({"type": WIDENED[(owner, prop)]} if (owner, prop) in WIDENED else _shape(sub, components, seen))
            for prop, sub in sorted(schema["properties"].items())
        }
    if "items" in schema:
        out["items"] = _shape(schema["items"], components, seen)
    if isinstance(schema.get("additionalProperties"), Mapping):
        out["additionalProperties"] = _shape(schema["additionalProperties"], components, seen)
    return out


def extract(spec: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The shapes of the request bodies of the operations ``keys`` (JSON-able), corrections applied."""
    wanted = set(keys)
    components = spec.get("components", {}).get("schemas", {})
    out: dict[str, Any] = {}
    for path, item in sorted(spec["paths"].items()):
        for method in WRITE_METHODS:
            op = item.get(method)
            key = operation_key(method, path)
            if not isinstance(op, Mapping) or key not in wanted:
                continue
            content = (op.get("requestBody") or {}).get("content", {})
            schema = (content.get("application/json") or {}).get("schema")
            if schema is not None:
                out[key] = _shape(schema, components)
    out.update({k: v for k, v in CORRECTIONS.items() if k in wanted})
    return dict(sorted(out.items()))


@cache
def _validators() -> dict[str, Any]:
    with BODIES_FILE.open(encoding="utf-8") as fh:
        shapes: dict[str, Any] = json.load(fh)
    return {key: _Validator(shape) for key, shape in shapes.items()}


def known(key: str) -> bool:
    return key in _validators()


def check(key: str, body: Any) -> Any:
    """``body`` if it has the shape the API expects for operation ``key``; else the API's 400."""
    validator = _validators().get(key)
    if validator is None:
        raise AssertionError(f"no request body shape for {key}: regenerate {BODIES_FILE.name}")
    error = best_match(validator.iter_errors(body))
    if error is not None:
        raise bad_request(_message(error))
    return body


def _message(error: ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".") or "body"
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        wanted = " or ".join(f"{'an' if t[0] in 'aeiou' else 'a'} {t}" for t in expected)
        got = _JSON_TYPES.get(type(error.instance), type(error.instance).__name__)
        return f"JSON parse error: {where}: cannot deserialize {got} as {wanted}"
    return f"JSON parse error: {where}: {error.message}"


def main(argv: list[str]) -> int:  # pragma: no cover - maintenance tool
    from reconciler.sandbox.liveramp.app import body_operations  # the app imports this module

    return regenerate(argv, __name__, BODIES_FILE, lambda spec: extract(spec, body_operations()))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
