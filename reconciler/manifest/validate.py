"""Checks of one manifest document, in order: envelope, provider, kind, references, spec, lifecycle.

Each check raises the matching :mod:`reconciler.errors` class with ``file:line: field.path:``.

References and the kind schema: a spec may hold ``{ref: Kind/name}`` wherever the kind's schema
has an id field, whether that field is typed ``integer`` (MediaMath ids), ``string`` (UUIDs)
or both. Before validating, each :class:`Ref` is replaced by a string placeholder unique to its
target (``${ref:mediamath.Advertiser/acme}``, so ``uniqueItems`` still works), and errors *at a
reference's own position* are dropped when they only concern the id's value: ``type`` errors
whose allowed types include ``string`` or ``integer``, ``pattern``, ``format``, length and
range keywords, and ``anyOf``/``oneOf`` errors where some alternative failed only that way.
A reference where the schema wants something else (a boolean, an enum value, an object) is
still reported, e.g. ``spec.status: '${ref:mediamath.Campaign/x}' is not of type 'boolean'``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from reconciler import graph
from reconciler.errors import ManifestError, ReferenceError_
from reconciler.manifest import fastcheck, schemacheck
from reconciler.manifest.yamlsource import SourceDocument
from reconciler.model import Address, Lifecycle, OnDelete, Ref
from reconciler.providers.base import KindInfo

VALUE_KEYWORDS = frozenset(
    {
        "pattern",
        "format",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "contentEncoding",
        "contentMediaType",
    }
)
ID_TYPES = frozenset({"string", "integer"})


def check_envelope(doc: SourceDocument, *, fast: bool = True) -> None:
    """apiVersion, kind, metadata.name, spec and lifecycle shapes (schemas/manifest.schema.json).

    ``fast``: a compiled check (:mod:`fastcheck`) may first tell that there is nothing to report."""
    if not isinstance(doc.value, dict):
        raise ManifestError(
            f"a manifest document must be a mapping with apiVersion, kind, metadata and spec, "
            f"not {schemacheck.a_type(doc.value)}",
            location=doc.location(),
        )
    validator = schemacheck.packaged_validator("manifest.schema.json")
    surely_valid = fastcheck.when_worth_it(validator.schema) if fast else None
    if surely_valid is not None and surely_valid(doc.value):
        return
    error = schemacheck.pick(validator.iter_errors(doc.value))
    if error is None:
        return
    path = schemacheck.field_path(error)
    if path.startswith("metadata.labels"):
        return  # the loader says what a label key or value must look like (selectors.label_problems)
    text = schemacheck.message(error)
    if path == "apiVersion" and error.validator == "pattern":
        text = f"{text.split(' does not match')[0]} is not a valid apiVersion (expected <provider>/v1, e.g. mediamath/v1)"
    elif path == "metadata.name" and error.validator == "pattern":
        text = (
            f"{text.split(' does not match')[0]} is not a valid name (letters, digits, '.', '_' and '-', "
            "starting with a letter or digit)"
        )
    raise ManifestError(text, location=doc.location(path), path=path)


def check_api_version(doc: SourceDocument, known_providers: Collection[str]) -> str:
    """The provider named by apiVersion (which must be ``<known provider>/v1``)."""
    api_version: str = doc.value["apiVersion"]
    provider, _, version = api_version.partition("/")
    if provider not in known_providers:
        known = ", ".join(sorted(known_providers)) or "none"
        raise ManifestError(
            f"unknown provider '{provider}' in apiVersion '{api_version}' (known providers: {known})",
            location=doc.location("apiVersion"),
            path="apiVersion",
        )
    if version != "v1":
        raise ManifestError(
            f"unsupported apiVersion '{api_version}' (supported: {provider}/v1)",
            location=doc.location("apiVersion"),
            path="apiVersion",
        )
    return provider


def check_kind(
    doc: SourceDocument, provider: str, lookup: Callable[[str, str], KindInfo | None], known: list[str] | None
) -> KindInfo:
    kind: str = doc.value["kind"]
    info = lookup(provider, kind)
    if info is None:
        hint = schemacheck.did_you_mean(kind, known or ())
        listing = hint or (f" (known kinds: {', '.join(sorted(known))})" if known else "")
        raise ManifestError(
            f"unknown kind '{kind}' for provider '{provider}'{listing}",
            location=doc.location("kind"),
            path="kind",
        )
    return info


def parse_refs(value: Any, doc: SourceDocument, provider: str, path: str) -> Any:
    """Replace each mapping that is exactly ``{ref: "[provider.]Kind/name"}`` by a Ref."""
    if isinstance(value, dict):
        if set(value) == {"ref"}:
            target = value["ref"]
            where = f"{path}.ref"
            if not isinstance(target, str):
                raise ReferenceError_(
                    f"malformed reference: expected 'Kind/name' or 'provider.Kind/name', got "
                    f"{schemacheck.a_type(target)}",
                    location=doc.location(where),
                    path=path,
                )
            try:
                return Ref(Address.parse(target, default_provider=provider))
            except ValueError as exc:
                raise ReferenceError_(
                    f"malformed reference: {exc}", location=doc.location(where), path=path
                ) from None
        return {k: parse_refs(v, doc, provider, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [parse_refs(v, doc, provider, f"{path}.{i}") for i, v in enumerate(value)]
    return value


def check_spec(
    spec: Mapping[str, Any],
    info: KindInfo,
    validator: Draft202012Validator,
    doc: SourceDocument,
    *,
    fast: bool = True,
) -> None:
    """Validate ``spec`` against the kind's schema; the first problem is raised (see
    :func:`spec_errors` for all of them)."""
    errors = spec_errors(spec, info, validator, doc, fast=fast)
    if errors:
        raise errors[0]


def spec_errors(
    spec: Mapping[str, Any],
    info: KindInfo,
    validator: Draft202012Validator,
    doc: SourceDocument,
    *,
    fast: bool = True,
) -> list[ManifestError]:
    """Every schema problem of ``spec``, one per field (the most useful one there), in document
    order; references stand in for ids (see the module docstring).

    ``fast``: a compiled check (:mod:`fastcheck`) may first tell that there is nothing to report."""
    ref_positions: set[tuple[str | int, ...]] = set()
    lookalikes: list[str] = []
    instance = _with_placeholders(spec, (), ref_positions, lookalikes)
    if fast and not lookalikes:  # a literal "${ref:..." string would pass for a reference in the fast check
        surely_valid = fastcheck.when_worth_it(validator.schema, placeholders=True)
        if surely_valid is not None and surely_valid(instance):
            return []

    def ignore(error: ValidationError) -> bool:
        return tuple(error.absolute_path) in ref_positions and _only_about_id_value(error)

    by_path: dict[str, list[ValidationError]] = {}
    for error in schemacheck.relevant_errors(validator, instance, ignore):
        by_path.setdefault(schemacheck.field_path(error, prefix="spec"), []).append(error)
    out: list[ManifestError] = []
    for path, errors in by_path.items():
        best = schemacheck.pick(errors)
        assert best is not None
        out.append(ManifestError(schemacheck.message(best), location=doc.location(path), path=path))
    return sorted(out, key=lambda e: (e.location.line if e.location else 0, e.path))


def coerce_typed(spec: dict[str, Any], paths: Collection[str], validator: Draft202012Validator) -> dict[str, Any]:
    """``spec`` with each string at ``paths`` (spec paths of values that were exactly one
    ``${var:}``, ``${env:}`` or expression giving text, e.g. a CSV cell) turned into the number,
    integer or boolean the schema wants there, when the text reads as one; anything else is left
    for the schema check to report."""
    for path in paths:
        if not path.startswith("spec."):
            continue
        parts = path.split(".")[1:]
        value = _get(spec, parts)
        if not isinstance(value, str):
            continue
        types = wanted_types(validator.schema, validator.schema, parts)
        if "string" in types:
            continue  # text is what it wants (too)
        typed = _typed(value, types)
        if typed is not None:
            _set(spec, [int(p) if p.isdigit() and isinstance(_get(spec, parts[:-1]), list) else p for p in parts], typed)
    return spec


def wanted_types(schema: Any, root: Mapping[str, Any], parts: list[str], depth: int = 0) -> set[str]:
    """The JSON types ``schema`` allows at ``parts`` (through properties, items, local ``$ref``,
    the *Of combinators and ``else``); empty when it cannot tell."""
    if not isinstance(schema, Mapping) or depth > 32:
        return set()
    found: set[str] = set()
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for step in ref[2:].split("/"):
            target = target.get(step) if isinstance(target, Mapping) else None
        found |= wanted_types(target, root, parts, depth + 1)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword) or ():
            found |= wanted_types(sub, root, parts, depth + 1)
    if isinstance(schema.get("else"), Mapping):
        found |= wanted_types(schema["else"], root, parts, depth + 1)
    if not parts:
        kind = schema.get("type")
        found |= set(kind) if isinstance(kind, list) else {kind} if isinstance(kind, str) else set()
        return found
    head, rest = parts[0], parts[1:]
    if head in (schema.get("properties") or {}):
        found |= wanted_types(schema["properties"][head], root, rest, depth + 1)
    elif head.isdigit() and isinstance(schema.get("items"), Mapping):
        found |= wanted_types(schema["items"], root, rest, depth + 1)
    elif isinstance(schema.get("additionalProperties"), Mapping):
        found |= wanted_types(schema["additionalProperties"], root, rest, depth + 1)
    return found


def _get(tree: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(tree, list) and part.isdigit() and int(part) < len(tree):
            tree = tree[int(part)]
        elif isinstance(tree, dict) and part in tree:
            tree = tree[part]
        else:
            return None
    return tree


_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")


def _typed(text: str, types: Collection[str]) -> Any:
    """``text`` as the first of ``types`` it reads as (integer, number, boolean), else None."""
    stripped = text.strip()
    if "integer" in types and _INTEGER.match(stripped):
        return int(stripped)
    if "number" in types and _NUMBER.match(stripped):
        number = float(stripped)
        return int(number) if number.is_integer() and _INTEGER.match(stripped) else number
    if "boolean" in types and stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    return None


def _set(tree: Any, position: list[Any], value: Any) -> None:
    for part in position[:-1]:
        tree = tree[part]
    tree[position[-1]] = value


def ref_kind_errors(spec: Mapping[str, Any], info: KindInfo, provider: str, doc: SourceDocument) -> list[ReferenceError_]:
    """A reference to a kind its field does not take (``campaign_id: {ref: Strategy/x}``): the
    kinds each field takes are in the schema (``x-ref-kinds``, :attr:`KindInfo.ref_kinds`)."""
    allowed = info.ref_kinds
    out: list[ReferenceError_] = []
    for path, ref in graph.ref_fields(spec):
        pattern = ".".join("*" if part.isdigit() else part for part in path.split(".")[1:])
        kinds = allowed.get(pattern)
        if kinds is None:
            continue
        target = ref.target
        if target.provider == provider and target.kind in kinds:
            continue
        field = pattern.rsplit(".", 1)[-1]
        if kinds:
            takes = " or ".join(f"{provider}.{k}" for k in kinds)
            hint = f"{field} takes a {takes} (write {{ref: {kinds[0]}/name}})"
        else:
            hint = f"{field} takes a literal id only: no managed kind can be referred to here"
        out.append(ReferenceError_(
            f"refers to {target}, a {target.provider}.{target.kind}; {hint}",
            location=doc.location(f"{path}.ref"),
            path=path,
        ))
    return out


def _with_placeholders(
    value: Any, position: tuple[str | int, ...], found: set[tuple[str | int, ...]], lookalikes: list[str]
) -> Any:
    """``value`` with each Ref as its placeholder string; ``found`` gets their positions and
    ``lookalikes`` the literal strings that start like a placeholder."""
    if isinstance(value, Ref):
        found.add(position)
        return str(value)
    if isinstance(value, dict):
        return {k: _with_placeholders(v, (*position, k), found, lookalikes) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_placeholders(v, (*position, i), found, lookalikes) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(fastcheck.PLACEHOLDER_PREFIX):
        lookalikes.append(value)
    return value


def _only_about_id_value(error: ValidationError) -> bool:
    """True when a placeholder failed only because it is not the literal id it stands for."""
    if error.validator == "type":
        allowed = (
            error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        )
        return bool(ID_TYPES.intersection(allowed))
    if error.validator in VALUE_KEYWORDS:
        return True
    if error.validator in ("anyOf", "oneOf"):
        if not error.context:  # oneOf: the placeholder matched several alternatives
            return True
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        return any(all(_only_about_id_value(sub) for sub in subs) for subs in branches.values())
    return False


def schema_fields(schema: Mapping[str, Any]) -> set[str]:
    """Top-level property names of a kind schema (also inside top-level allOf/anyOf/oneOf)."""
    names = set(schema.get("properties", {}))
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword, []):
            if isinstance(sub, Mapping):
                names |= set(sub.get("properties", {}))
    return names


def parse_lifecycle(doc: SourceDocument, info: KindInfo) -> Lifecycle:
    raw = doc.value.get("lifecycle") or {}
    ignore = tuple(raw.get("ignore_changes", ()))
    fields = schema_fields(info.schema)
    if fields:
        for index, name in enumerate(ignore):
            if name.split(".", 1)[0] not in fields:
                where = f"lifecycle.ignore_changes.{index}"
                hint = schemacheck.did_you_mean(name, fields) or f" (fields: {', '.join(sorted(fields))})"
                raise ManifestError(
                    f"'{name}' is not a field of {info.name}{hint}",
                    location=doc.location(where),
                    path=where,
                )
    on_delete = raw.get("on_delete")
    return Lifecycle(
        prevent_destroy=bool(raw.get("prevent_destroy", False)),
        ignore_changes=ignore,
        on_delete=OnDelete(on_delete) if on_delete is not None else None,
    )
