"""Compiled "is it valid?" checks (fastjsonschema) in front of the jsonschema validators.

jsonschema walks a schema generically, about 0.2 ms per manifest document; fastjsonschema compiles
a schema once into Python code that checks a document many times faster, but it implements
draft 7 and reports only the first problem. So a compiled check is only ever trusted to say
*valid*: when it says no (or when a schema cannot be compiled), the caller runs jsonschema as
before, and every error message is still the one jsonschema's path produces.

That is sound only if a compiled check never accepts what jsonschema (Draft 2020-12, formats
asserted) rejects. Hence:

- a schema is compiled only when every keyword in it means the same in draft 7 as in 2020-12
  (:data:`KEYWORDS`); a schema with any other keyword (``prefixItems``, ``unevaluated*``,
  ``dependent*``, ``$dynamicRef``, ``multipleOf``...) or a nested ``$id`` is left to jsonschema;
- every ``$ref`` (local ``#...`` pointers only) is inlined next to its siblings in an ``allOf``
  (2020-12 applies a ``$ref``'s siblings, draft 7 would drop them); a recursive schema is left to
  jsonschema;
- formats are checked by jsonschema's own ``FORMAT_CHECKER``, never by fastjsonschema's regexes;
- defaults are never written into the instance (``use_default=False``);
- fastjsonschema's remaining differences only reject more (``$`` in a ``pattern`` means end of
  string; a boolean is checked against ``minimum``), which merely sends a document to jsonschema.

References (:func:`reconciler.manifest.validate.check_spec`): a spec is validated with each
reference replaced by its placeholder string (``${ref:mediamath.Campaign/x}``), and jsonschema
errors *at a placeholder's own position* are dropped when they only concern the id's value.
With ``placeholders=True`` the compiled check mirrors that rule: at every position reached
through ``properties``, ``items``, ``additionalProperties``, ``patternProperties``, ``allOf``,
``$ref``, ``then`` and ``else`` (where jsonschema reports the errors at the position itself),
a placeholder is also accepted by a schema that only differs from the original in what
:func:`validate._only_about_id_value` drops: ``type`` that allows a string or an integer, the
value keywords, ``anyOf``/``oneOf`` where some branch fails only so. Under ``anyOf``, ``oneOf``,
``not``, ``if`` and ``contains`` the original schema applies unchanged, as it does for
jsonschema (an error there is reported at the enclosing position, which is never dropped).
The caller must not use the check when a literal string of the spec starts like a placeholder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any
from urllib.parse import unquote

import fastjsonschema
from jsonschema import Draft202012Validator

PLACEHOLDER_PREFIX = "${ref:"  # str(Ref): what validate.check_spec puts in place of a reference
_PLACEHOLDER_FORMAT = "x-reconciler-ref-placeholder"
_PLACEHOLDER: dict[str, Any] = {"type": "string", "format": _PLACEHOLDER_FORMAT}
MAX_INLINE_DEPTH = 64  # nested $ref inlining; deeper (recursive schemas) stays with jsonschema

ANNOTATIONS = frozenset(
    {"$schema", "$comment", "$defs", "title", "description", "examples", "default", "deprecated",
     "readOnly", "writeOnly", "x-ref-kinds"}
)
# Keywords on the value itself (draft 7 and 2020-12 agree on them).
VALUE_KEYWORDS = frozenset(
    {"type", "enum", "const", "required", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength",
     "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern", "format", "minProperties",
     "maxProperties"}
)
# Keywords whose subschemas apply at a child position.
CHILD_KEYWORDS = frozenset({"properties", "patternProperties", "additionalProperties", "items"})
# Keywords whose subschemas apply at the same position, errors reported as they are.
TRANSPARENT_KEYWORDS = frozenset({"allOf", "then", "else", "$ref"})
# Keywords whose subschemas are only tried out: an error is reported at the enclosing position.
TRIAL_KEYWORDS = frozenset({"anyOf", "oneOf", "not", "if", "contains", "propertyNames"})
KEYWORDS = ANNOTATIONS | VALUE_KEYWORDS | CHILD_KEYWORDS | TRANSPARENT_KEYWORDS | TRIAL_KEYWORDS | {"$id"}

# What validate._only_about_id_value drops at a placeholder's position (besides ``type``).
_ID_VALUE_KEYWORDS = frozenset(
    {"pattern", "format", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
     "exclusiveMaximum"}
)
_ID_TYPES = frozenset({"string", "integer"})
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
# Keywords that do nothing to a string (the placeholder).
_NOT_FOR_STRINGS = frozenset(
    {"required", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "contains",
     "propertyNames"}
) | CHILD_KEYWORDS

Check = Callable[[Any], bool]


class Unsupported(Exception):
    """The schema uses something a compiled check could not mirror exactly."""


def compiled(schema: Mapping[str, Any], *, placeholders: bool = False) -> Check | None:
    """A function telling whether an instance is surely valid, or None for this schema.

    The function returns True only when jsonschema would report no error (with
    ``placeholders``: no error that :func:`validate.check_spec` keeps); False means "ask jsonschema".
    """
    key = (id(schema), placeholders)
    cached = _CACHE.get(key)
    if cached is None or cached[0] is not schema:  # compiled once per schema object and process
        cached = _CACHE[key] = (schema, _compile(schema, placeholders))
    return cached[1]


def when_worth_it(schema: Mapping[str, Any], *, placeholders: bool = False) -> Check | None:
    """:func:`compiled` from the ``COMPILE_AFTER``-th document checked against ``schema`` on;
    None before. Compiling costs about 50 ms a schema: worth it for a kind with many documents,
    not for the handful of a small workspace, which jsonschema checks directly."""
    key = (id(schema), placeholders)
    if key not in _CACHE:
        uses = _USES[key] = _USES.get(key, 0) + 1
        if uses < COMPILE_AFTER:
            return None
    return compiled(schema, placeholders=placeholders)


COMPILE_AFTER = 50
_CACHE: dict[tuple[int, bool], tuple[Mapping[str, Any], Check | None]] = {}
_USES: dict[tuple[int, bool], int] = {}


def _compile(schema: Mapping[str, Any], placeholders: bool) -> Check | None:
    try:
        translator = _Translator(schema)
        definition = translator.convert(schema, lenient=placeholders, entry=True, depth=0)
        formats: dict[str, Callable[[Any], bool]] = {
            name: partial(_conforms, name) for name in translator.formats
        }
        formats[_PLACEHOLDER_FORMAT] = _is_placeholder
        validate = fastjsonschema.compile(definition, formats=formats, use_default=False)
    except Unsupported:
        return None
    except Exception:  # fastjsonschema could not generate it (re.error, its own errors...): jsonschema only
        return None
    return partial(_run, validate)


def _run(validate: Callable[[Any], Any], instance: Any) -> bool:
    try:
        validate(instance)
    except Exception:  # a rejection or anything unforeseen: jsonschema decides
        return False
    return True


def _conforms(name: str, value: Any) -> bool:
    return bool(Draft202012Validator.FORMAT_CHECKER.conforms(value, name))


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PLACEHOLDER_PREFIX)


class _Translator:
    """A 2020-12 schema as an equivalent (or stricter) draft-7 one without $ref."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.formats: set[str] = set()

    def resolve(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise Unsupported(f"$ref {ref!r}")
        node: Any = self.root
        pointer = unquote(ref[1:])
        if not pointer:
            return node
        if not pointer.startswith("/"):
            raise Unsupported(f"$ref {ref!r}")  # an anchor
        for part in pointer[1:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise Unsupported(f"unresolvable $ref {ref!r}")
        return node

    def convert(self, schema: Any, *, lenient: bool, entry: bool, depth: int) -> Any:
        """``schema`` for one position; ``lenient``: placeholders below (and here) get the
        check_spec treatment; ``entry``: this is the first schema applied at a new position."""
        if depth > MAX_INLINE_DEPTH:
            raise Unsupported("too deeply nested $ref")
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, Mapping):
            raise Unsupported("a schema must be an object or a boolean")
        unknown = set(schema) - KEYWORDS
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")
        if "$id" in schema and schema is not self.root:
            raise Unsupported("nested $id")
        if "items" in schema and not isinstance(schema["items"], (Mapping, bool)):
            raise Unsupported("array-form items")
        main = self._main(schema, lenient, depth)
        if not (lenient and entry):
            return main
        accept = self.placeholder(schema, depth)
        return main if accept is False else {"anyOf": [main, accept]}

    def _main(self, schema: Mapping[str, Any], lenient: bool, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        parts: list[Any] = []
        for key, value in schema.items():
            if key in ANNOTATIONS or key == "$id":
                continue
            if key in VALUE_KEYWORDS:
                if key == "format":
                    if not isinstance(value, str):
                        raise Unsupported("format must be a string")
                    self.formats.add(value)
                elif key in _NUMBER_KEYWORDS and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    raise Unsupported(f"{key} must be a number")
                out[key] = value
            elif key in ("properties", "patternProperties"):
                out[key] = {
                    name: self.convert(sub, lenient=lenient, entry=True, depth=depth + 1)
                    for name, sub in value.items()
                }
            elif key in ("additionalProperties", "items"):
                out[key] = self.convert(value, lenient=lenient, entry=True, depth=depth + 1)
            elif key == "allOf":
                out[key] = [self.convert(sub, lenient=lenient, entry=False, depth=depth + 1) for sub in value]
            elif key in ("then", "else"):
                out[key] = self.convert(value, lenient=lenient, entry=False, depth=depth + 1)
            elif key == "$ref":
                parts.append(self.convert(self.resolve(value), lenient=lenient, entry=False, depth=depth + 1))
            elif key in ("anyOf", "oneOf"):
                out[key] = [self.convert(sub, lenient=False, entry=False, depth=depth + 1) for sub in value]
            else:  # not, if, contains, propertyNames
                out[key] = self.convert(value, lenient=False, entry=False, depth=depth + 1)
        if parts:
            return {"allOf": [*parts, out]}
        return out

    def placeholder(self, schema: Any, depth: int) -> Any:
        """A schema accepting a placeholder string where ``schema`` fails it only on the id's
        value (what check_spec ignores), or False when there is no such case."""
        if depth > MAX_INLINE_DEPTH:
            raise Unsupported("too deeply nested $ref")
        if schema is True:
            return dict(_PLACEHOLDER)
        if schema is False:
            return False
        if "enum" in schema or "const" in schema:
            return False
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not _ID_TYPES.intersection(types):
                return False
        parts: list[Any] = [dict(_PLACEHOLDER)]
        for key, value in schema.items():
            if key in ANNOTATIONS or key in _ID_VALUE_KEYWORDS or key in _NOT_FOR_STRINGS or key in (
                "$id", "type", "if", "then", "else"
            ):
                continue
            if key == "allOf":
                subs = [self.placeholder(sub, depth + 1) for sub in value]
                if any(sub is False for sub in subs):
                    return False
                parts.extend(subs)
            elif key == "$ref":
                sub = self.placeholder(self.resolve(value), depth + 1)
                if sub is False:
                    return False
                parts.append(sub)
            elif key in ("anyOf", "oneOf"):
                branches = [b for b in (self.placeholder(sub, depth + 1) for sub in value) if b is not False]
                if not branches:
                    return False
                parts.append({"anyOf": branches})
            elif key == "not":
                parts.append({"not": self.convert(value, lenient=False, entry=False, depth=depth + 1)})
            else:
                raise Unsupported(f"keyword {key} at a placeholder")
        if "if" in schema:
            conditional: dict[str, Any] = {
                "if": self.convert(schema["if"], lenient=False, entry=False, depth=depth + 1)
            }
            for key in ("then", "else"):
                if key in schema:
                    conditional[key] = self.placeholder(schema[key], depth + 1)
            parts.append(conditional)
        return parts[0] if len(parts) == 1 else {"allOf": parts}
