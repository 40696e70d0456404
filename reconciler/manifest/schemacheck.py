"""JSON Schema (Draft 2020-12) checks whose errors read ``file:line: field.path: message``.

jsonschema reports every violation; users want the one that explains the problem. This module
picks it with ``jsonschema.exceptions.best_match``, turns its instance path into our dotted
field path (pointing at the offending key itself for unknown fields) and writes a message that
is short for collections (jsonschema would print the whole mapping) and can be redacted where
values may be secrets.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from reconciler.providers.base import load_schema

JSON_TYPES = {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer", float: "number"}


@cache
def packaged_validator(name: str) -> Draft202012Validator:
    """A validator for one of reconciler's own schemas (``manifest.schema.json``...)."""
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return validator_for(schema)


def validator_for(schema: Mapping[str, Any]) -> Draft202012Validator:
    """A Draft 2020-12 validator that also asserts ``format`` (date, date-time, email...)."""
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def pick(errors: Iterable[ValidationError]) -> ValidationError | None:
    """The most useful error of a validation run, or None when there is none."""
    return best_match(errors)


def a_type(value: Any) -> str:
    """``type_name`` with its article: "an integer", "a list"."""
    name = type_name(value)
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return JSON_TYPES.get(type(value), type(value).__name__)


def unexpected_keys(error: ValidationError) -> list[str]:
    """For an additionalProperties/unevaluatedProperties error: the offending keys."""
    if error.validator not in ("additionalProperties", "unevaluatedProperties") or not isinstance(
        error.instance, dict
    ):
        return []
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    known = set(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return sorted(k for k in error.instance if k not in known and not any(p.search(k) for p in patterns))


def field_path(error: ValidationError, prefix: str = "") -> str:
    """Dotted path of the error; for unknown fields, the path of the (first) unknown key."""
    parts = [str(p) for p in error.absolute_path]
    extra = unexpected_keys(error)
    if extra:
        parts.append(extra[0])
    elif "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        parts.append(error.instance)  # a bad key: point at the key itself
    path = ".".join(parts)
    if prefix:
        return f"{prefix}.{path}" if path else prefix
    return path


def message(error: ValidationError, *, redact: bool = False) -> str:
    """A one-line message; never prints a whole collection, and no values at all if ``redact``."""
    validator = error.validator
    extra = unexpected_keys(error)
    if extra:
        allowed = (
            sorted((error.schema or {}).get("properties", {})) if isinstance(error.schema, Mapping) else []
        )
        names = ", ".join(repr(k) for k in extra)
        text = f"unknown field{'s' if len(extra) > 1 else ''} {names}"
        close = [m for k in extra for m in difflib.get_close_matches(k, allowed, n=1)]
        if close:
            return f"{text}; did you mean {' / '.join(repr(c) for c in close)}?"
        return f"{text} (allowed: {', '.join(allowed)})" if allowed else text
    if validator == "required" or validator == "dependentRequired":
        return str(error.message)
    scalar = not isinstance(error.instance, (dict, list))
    if validator == "enum" and isinstance(error.instance, str) and not redact:
        return f"{error.message}{did_you_mean(error.instance, error.validator_value)}"
    if scalar and not redact and not (error.instance is None and validator == "type"):
        return str(error.message)
    got = type_name(error.instance)
    if validator == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
        empty = " (an empty value)" if error.instance is None else ""
        return f"expected {expected_text}, got {got}{empty}"
    if validator in ("enum", "const") and not redact:
        return f"{got} value is not allowed; must be {_listing(error.validator_value)}"
    if redact:
        return f"value (hidden) does not satisfy '{validator}'"
    return _collection_message(error, got)


def did_you_mean(word: str, choices: Iterable[Any]) -> str:
    """``; did you mean 'cpa'?`` for the closest of ``choices`` (strings only), else ``""``.

    A word that is the start of exactly one choice (``prod`` for ``production``) counts as close."""
    names = [c for c in choices if isinstance(c, str)]
    close = difflib.get_close_matches(word, names, n=1)
    if not close and word:
        close = [c for c in names if c.startswith(word)]
    return f"; did you mean {close[0]!r}?" if len(close) == 1 else ""


def _collection_message(error: ValidationError, got: str) -> str:
    validator = error.validator
    value = error.validator_value
    if validator in ("minItems", "maxItems", "minProperties", "maxProperties"):
        word = "at least" if validator.startswith("min") else "at most"
        unit = "item" if validator.endswith("Items") else "field"
        return f"{got} must have {word} {value} {unit}{'s' if value != 1 else ''}"
    if validator == "uniqueItems":
        return "list items must be unique"
    if validator in ("oneOf", "anyOf"):
        return f"{got} does not match any allowed shape ({validator})"
    return f"{got} does not satisfy '{validator}'"


def _listing(value: Any) -> str:
    if isinstance(value, list):
        return "one of " + ", ".join(json.dumps(v) for v in value)
    return json.dumps(value)


ErrorFilter = Callable[[ValidationError], bool]


def relevant_errors(
    validator: Draft202012Validator, instance: Any, ignore: ErrorFilter | None = None
) -> list[ValidationError]:
    """Every error of ``instance`` except those ``ignore`` accepts."""
    errors = list(validator.iter_errors(instance))
    return [e for e in errors if not ignore(e)] if ignore else errors
