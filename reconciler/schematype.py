"""Type a live value as a kind's schema wants it, for what users read and what ``drift --accept`` writes.

Providers compare values in a canonical form in which some are text: MediaMath ids are strings
(``"13"``) although a manifest writes ``vertical_id: 13``. Written back into a manifest as they
are, they would turn ``13`` into ``"13"``; shown as they are, ``drift`` reads
``vertical_id "12" -> "13"``. :func:`typed` reads such a text as the integer, number or boolean
the field's JSON Schema allows (``type`` naming ``integer``, ``number`` or ``boolean``), only
when the text parses as one; anything else is left as it is. Where the manifest writes the field
as text (``vertical_id: "12"``), ``written`` keeps it text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.model import parse_field_path

_INTEGER = re.compile(r"^-?(0|[1-9][0-9]*)$")
_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
_DEPTH = 32


def field_schema(schema: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
    """The schema of ``path`` (``vertical_id``, ``settings.retention_days``, ``members[7].role``)
    inside a spec's ``schema``, following local ``$ref`` and list ``items``; None if not found."""
    node: Mapping[str, Any] | None = _resolve(schema, schema)
    for part in parse_field_path(path):
        if node is None:
            return None
        properties = node.get("properties") or {}
        items = node.get("items")
        if not part.member and isinstance(properties.get(part.key), Mapping):
            node = _resolve(properties[part.key], schema)
        elif (part.member or part.key.isdigit()) and isinstance(items, Mapping):
            node = _resolve(items, schema)
        else:
            return None
    return node


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for _ in range(_DEPTH):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return node
        if not ref.startswith("#/"):
            return None
        target: Any = root
        for key in ref[2:].split("/"):
            target = target.get(key) if isinstance(target, Mapping) else None
        if not isinstance(target, Mapping):
            return None
        node = target
    return None


def _types(node: Mapping[str, Any]) -> frozenset[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return frozenset({kind})
    if isinstance(kind, list):
        return frozenset(k for k in kind if isinstance(k, str))
    return frozenset()


def typed(value: Any, node: Mapping[str, Any] | None, written: Any = None) -> Any:
    """``value`` as the schema ``node`` types it: a text reading as an integer, number or boolean
    the schema allows becomes one, unless the manifest writes the field as text (``written`` is a
    ``str``). Other values, and texts that do not parse, are returned unchanged."""
    if not isinstance(value, str) or node is None or isinstance(written, str):
        return value
    types = _types(node)
    if "integer" in types and _INTEGER.match(value):
        return int(value)
    if "number" in types and _NUMBER.match(value):
        number = float(value)
        return int(number) if number.is_integer() and _INTEGER.match(value) else number
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    return value


def typed_at(schema: Mapping[str, Any] | None, path: str, value: Any, written: Any = None) -> Any:
    """:func:`typed` with the node of ``path`` in the spec ``schema`` (None: unchanged)."""
    return value if schema is None else typed(value, field_schema(schema, path), written)
