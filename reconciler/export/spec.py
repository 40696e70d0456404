"""The spec export writes for one live object, and its state entry's applied spec.

Only what a user would write: the kind schema's properties (``name`` and the parent field first,
then schema order) without nulls, ``readOnly`` fields, values equal to the property's
``default`` (the schemas declare the vendors' documented defaults), and empty strings/lists/maps
the schema does not require. Values keep the schema's type: an id the schema types as an integer
(MediaMath's ``ad_server_id``) is written ``9``, not the ``'9'`` providers compare. Parent ids and other
``*_id``/``*_ids`` fields (at any depth) whose value is the remote id of an exported or managed
object become :class:`~reconciler.model.Ref` values (kept literal when ambiguous, or when the
reference would close a cycle). A field whose live value the schema rejects is left out, with a
warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import ManifestError
from reconciler.export.scope import squash
from reconciler.manifest import schemacheck
from reconciler.manifest.validate import check_spec
from reconciler.manifest.yamlsource import SourceDocument
from reconciler.model import Address, LiveObject, Ref
from reconciler.providers.base import KindInfo
from reconciler.state.base import ResourceState


def _deref(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """A property schema with a local ``$ref`` (``#/$defs/x``) merged in, for readOnly/default."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        if isinstance(target, Mapping):
            return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def schema_properties(schema: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Top-level properties of a spec schema in schema order (also inside allOf/anyOf/oneOf)."""
    props: dict[str, Mapping[str, Any]] = {}
    for source in [schema, *[s for k in ("allOf", "anyOf", "oneOf") for s in schema.get(k, [])]]:
        if isinstance(source, Mapping):
            for name, sub in source.get("properties", {}).items():
                props.setdefault(name, _deref(sub if isinstance(sub, Mapping) else {}, schema))
    return props


def required_fields(schema: Mapping[str, Any]) -> set[str]:
    return set(schema.get("required", []))


def user_fields(info: KindInfo, live: LiveObject) -> dict[str, Any]:
    """The live fields a user would write: schema properties (``name`` and the parent field
    first, then schema order) without nulls, ``readOnly`` fields, values equal to the property's
    ``default``, or empty strings/lists/maps (unless required, part of the natural key or parent)."""
    props = schema_properties(info.schema)
    if not props:  # a kind without a schema: everything the provider reads
        return {k: v for k, v in sorted(live.fields.items()) if v is not None}
    keep = (
        required_fields(info.schema)
        | set(info.natural_key)
        | ({info.parent_field} if info.parent_field else set())
    )
    out: dict[str, Any] = {}
    first = [k for k in ("name", info.parent_field) if k and k in props]
    for name, prop in [
        *((k, props[k]) for k in first),
        *((k, p) for k, p in props.items() if k not in first),
    ]:
        if name not in live.fields or name in info.write_only_fields:
            continue
        value = live.fields[name]
        if value is None or prop.get("readOnly") is True:
            continue
        if name not in keep:
            if "default" in prop and value == prop["default"]:
                continue
            if isinstance(value, (list, dict, str)) and not value:
                continue  # an empty list, map or string is what the server holds when nobody set it
        out[name] = schema_typed(prop, value)
    return out


_CANONICAL_INT = re.compile(r"^(0|[1-9][0-9]{0,17})$")


def schema_typed(prop: Mapping[str, Any], value: Any) -> Any:
    """``value`` as the schema types it: an integer where the schema allows one and the value is
    an integer's canonical text (``'9'`` -> ``9``; ids that are not numbers stay text)."""
    declared = prop.get("type")
    types = declared if isinstance(declared, list) else [declared]
    if "integer" in types and isinstance(value, str) and _CANONICAL_INT.match(value):
        number = int(value)
        if prop.get("maximum") is None or number <= prop["maximum"]:
            return number
    return value


@dataclass
class RefIndex:
    """Remote ids of exported and managed objects of one provider -> their addresses."""

    provider: str
    by_id: dict[str, list[Address]] = field(default_factory=dict)

    def add(self, address: Address, remote_id: str) -> None:
        self.by_id.setdefault(str(remote_id), []).append(address)

    def lookup(self, field_name: str, value: Any, kind: str | None = None) -> Address | None:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return None
        candidates = self.by_id.get(str(value), [])
        if kind is not None:
            exact = [a for a in candidates if a.kind == kind]
            return exact[0] if len(exact) == 1 else None
        stem = squash(re.sub(r"_ids?$", "", field_name))
        if not stem:
            return None
        exact = [a for a in candidates if squash(a.kind) == stem]
        if len(exact) == 1:
            return exact[0]
        if exact:
            return None
        loose = [a for a in candidates if stem.endswith(squash(a.kind)) or squash(a.kind).endswith(stem)]
        return loose[0] if len(loose) == 1 else None


def with_refs(value: Any, key: str, index: RefIndex, parent: tuple[str, str | None] | None) -> Any:
    """``value`` (under field ``key``) with ids of known objects replaced by Refs."""
    if isinstance(value, Mapping):
        return {k: with_refs(v, k, index, None) for k, v in value.items()}
    if isinstance(value, list):
        if key.endswith("_ids"):
            return [_ref_or_value(v, key, index, None) for v in value]
        return [with_refs(v, key, index, None) for v in value]
    if parent is not None:
        target = index.lookup(key, value, parent[1]) if parent[1] else None
        return Ref(target) if target is not None else value
    if key.endswith("_id"):
        return _ref_or_value(value, key, index, None)
    return value


def _ref_or_value(value: Any, key: str, index: RefIndex, kind: str | None) -> Any:
    if isinstance(value, (Mapping, list)):
        return with_refs(value, key, index, None)
    target = index.lookup(key, value, kind)
    return Ref(target) if target is not None else value


def resolve(value: Any, ids: Mapping[str, str]) -> Any:
    """Refs replaced by the remote ids they stand for (as ``apply`` records them)."""
    if isinstance(value, Ref):
        return ids[str(value.target)]
    if isinstance(value, Mapping):
        return {k: resolve(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    return value


def refs_in(value: Any) -> list[Ref]:
    if isinstance(value, Ref):
        return [value]
    if isinstance(value, Mapping):
        return [r for v in value.values() for r in refs_in(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs_in(v)]
    return []


def _unref(value: Any, ids: Mapping[str, str], drop: set[str]) -> Any:
    """Refs to addresses in ``drop`` turned back into literal ids."""
    if isinstance(value, Ref):
        return ids[str(value.target)] if str(value.target) in drop else value
    if isinstance(value, Mapping):
        return {k: _unref(v, ids, drop) for k, v in value.items()}
    if isinstance(value, list):
        return [_unref(v, ids, drop) for v in value]
    return value


def schema_checked(
    spec: dict[str, Any], info: KindInfo, address: Address, warnings: list[str]
) -> dict[str, Any]:
    """``spec`` with the optional fields the kind's schema rejects left out (each one warned)."""
    validator = schemacheck.validator_for(info.schema)
    doc = SourceDocument(str(address), 1, {}, {})
    required = required_fields(info.schema)
    for _ in range(len(spec) + 1):
        try:
            check_spec(spec, info, validator, doc)
            return spec
        except ManifestError as exc:
            field_name = (exc.path or "").removeprefix("spec.").split(".", 1)[0]
            if not field_name or field_name not in spec or field_name in required:
                warnings.append(
                    f"{address}: the live object does not match the {info.name} schema ({exc.detail}); "
                    "the manifest needs a fix before it validates"
                )
                return spec
            warnings.append(
                f"{address}: left out {field_name}: its live value does not fit the schema ({exc.detail})"
            )
            spec = {k: v for k, v in spec.items() if k != field_name}
    return spec


def without_cycles(
    specs: dict[Address, dict[str, Any]], ids: Mapping[str, str], kinds: Mapping[Address, KindInfo]
) -> dict[Address, dict[str, Any]]:
    """Keep parent references; drop (turn back into ids) other references that close a cycle."""
    edges: dict[str, set[str]] = {str(a): set() for a in specs}
    for address, spec in specs.items():
        parent_field = kinds[address].parent_field
        if parent_field and isinstance(spec.get(parent_field), Ref):
            edges[str(address)].add(str(spec[parent_field].target))

    def reaches(start: str, goal: str) -> bool:
        stack, seen = [start], set()
        while stack:
            here = stack.pop()
            if here == goal:
                return True
            if here not in seen:
                seen.add(here)
                stack.extend(edges.get(here, ()))
        return False

    out: dict[Address, dict[str, Any]] = {}
    for address in sorted(specs, key=str):
        spec = specs[address]
        drop: set[str] = set()
        for ref in refs_in(spec):
            target = str(ref.target)
            if target in edges[str(address)]:
                continue
            if target == str(address) or reaches(target, str(address)):
                drop.add(target)
            else:
                edges[str(address)].add(target)
        out[address] = _unref(spec, ids, drop) if drop else spec
    return out


@dataclass(frozen=True)
class ExportedResource:
    """One object as exported: its address, the manifest spec (with Refs) and its state entry."""

    address: Address
    spec: Mapping[str, Any]
    state: ResourceState

    @property
    def remote_id(self) -> str:
        return self.state.remote_id
