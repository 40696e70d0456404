"""Many similar documents written once: ``for_each`` over lists, maps, CSV/YAML/JSON files and
matrices, and reusable groups of documents instantiated with parameters.

This stage sits between reading YAML (:mod:`.yamlsource`) and checking each document (the
loader): it turns every template into the plain documents it stands for. A generated document is
an ordinary one afterwards, with an ``origin`` its messages name (``strategies.csv:14
(for_each of strategies.yaml:9)``) and a ``scope`` its ``${...}`` expressions read.

``for_each`` (on any document, and on ``Use``)::

    for_each:
      csv: strategies.csv              # RFC 4180, a header row; relative to this file
      # or: list: [us, ca]  |  map: {us: {...}, ca: {...}}  |  file: markets.yaml (a list or a map)
      # or: matrix: {market: {list: [us, ca]}, product: {csv: products.csv}}
      key: "${each.value.market}"      # optional: what identifies an instance (see below)

Inside the document ``${each.key}``, ``${each.value}`` and ``${each.value.<column>}`` are
available. The address of each instance is its ``metadata.name`` after interpolation, so it
must use ``each`` (``name: "prospecting-${slug(each.key)}"``): it stays stable when rows are
reordered or added, since it comes from the row, not its position. ``each.key`` is: the item
(lists of scalars), the map key (maps), the ``key`` expression when given, else the row's
``key`` column, else its line (CSV) or position (lists of mappings): name instances from the row's
values, not from a position. Keys joined with ``-`` across a matrix. Duplicate keys (of lists,
maps, matrices, or given by ``key``) are an error naming both items. Data files (csv, file)
among the manifests are read as data only, never as manifest files.

Groups (``apiVersion: reconciler/v1``)::

    kind: Group                         # defines
    metadata: {name: campaign-launch}
    spec:
      parameters: {market: {type: string, required: true}, budget: {type: number, default: 10000}}
      documents: [ {apiVersion: mediamath/v1, kind: Campaign, metadata: {name: campaign}, spec: ...}, ... ]
    ---
    kind: Use                           # instantiates (optionally with for_each)
    metadata: {name: launch-us}
    spec: {group: campaign-launch, parameters: {market: us, budget: 50000}}

Each group document becomes ``<instance>.<its name>`` (``mediamath.Campaign/launch-us.campaign``)
and sees ``${param.<name>}``. A reference written without a provider to a kind and name the group
defines (``{ref: Campaign/campaign}``) points at that instance's document; a qualified one
(``{ref: mediamath.Campaign/x}``) or one to a name the group does not define points outside.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.errors import InputError, Location, ManifestError
from reconciler.manifest import schemacheck
from reconciler.manifest.interpolate import interpolate_string, interpolate_tree
from reconciler.manifest.yamlsource import SourceDocument, load_documents, read_text

API_VERSION = "reconciler/v1"
GROUP, USE = "Group", "Use"
SOURCES = ("list", "map", "csv", "file", "matrix")
PARAM_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,), "list": (list,), "map": (dict,),
}
_UNQUALIFIED_REF = re.compile(r"^[A-Z][A-Za-z0-9]*/")


@dataclass(frozen=True)
class Item:
    """One element of a ``for_each`` source: its key, value, and where it was written."""

    key: str
    value: Any
    where: str  # "strategies.csv:14", "strategies.yaml:6"
    positional: bool = False  # the key is the item's line or position, not one of its values


@dataclass(frozen=True)
class Group:
    name: str
    doc: SourceDocument
    parameters: Mapping[str, Mapping[str, Any]]
    documents: tuple[SourceDocument, ...]


@dataclass
class Templates:
    """Every ``Group`` of the workspace by name (a ``Use`` may name one from another file)."""

    root: Path
    groups: dict[str, Group] = field(default_factory=dict)
    errors: list[InputError] = field(default_factory=list)

    def add(self, doc: SourceDocument) -> None:
        name = (doc.value.get("metadata") or {}).get("name")
        spec = doc.value.get("spec")
        if not isinstance(name, str) or not isinstance(spec, dict):
            self.errors.append(ManifestError("a Group needs metadata.name and a spec with documents",
                                             location=doc.location(), path="spec"))
            return
        if name in self.groups:
            first = self.groups[name].doc.location()
            self.errors.append(ManifestError(f"group '{name}' is defined twice (also at {first})",
                                             location=doc.location("metadata.name"), path="metadata.name"))
            return
        parameters = spec.get("parameters") or {}
        documents = spec.get("documents")
        if not isinstance(parameters, dict) or not all(isinstance(p, dict) for p in parameters.values()):
            self.errors.append(ManifestError("parameters must map each name to {type, required, default}",
                                             location=doc.location("spec.parameters"), path="spec.parameters"))
            return
        if not isinstance(documents, list) or not documents or not all(isinstance(d, dict) for d in documents):
            self.errors.append(ManifestError("documents must be a non-empty list of manifest documents",
                                             location=doc.location("spec.documents"), path="spec.documents"))
            return
        for pname, declared in sorted(parameters.items()):
            kind = declared.get("type", "string")
            if kind not in PARAM_TYPES:
                where = f"spec.parameters.{pname}.type"
                self.errors.append(ManifestError(
                    f"'{kind}' is not a parameter type (one of {', '.join(PARAM_TYPES)})", location=doc.location(where), path=where))
        self.groups[name] = Group(name, doc, parameters, tuple(_sub_document(doc, f"spec.documents.{i}") for i in range(len(documents))))


def is_template_kind(value: Any, kind: str) -> bool:
    return isinstance(value, dict) and value.get("apiVersion") == API_VERSION and value.get("kind") == kind


@dataclass(frozen=True)
class Expansion:
    """What one template stands for: its documents, the problems of instances that could not
    be made, and the names of those failed group instances (references into them are then not
    reported as dangling: the instance's own problem is)."""

    documents: tuple[SourceDocument, ...]
    errors: tuple[InputError, ...] = ()
    failed_instances: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def expand(doc: SourceDocument, templates: Templates, base_scope: Mapping[str, Any]) -> Expansion:
    """The plain documents ``doc`` stands for: itself, its ``for_each`` instances, or the
    documents of the group it uses (for each of its instances). One instance's problem does not
    stop the others."""
    scoped = doc if doc.plain else replace(doc, scope={**base_scope, **doc.scope})  # plain: no ${...} to read it
    if not isinstance(doc.value, dict) or ("for_each" not in doc.value and not is_template_kind(doc.value, USE)):
        return Expansion((scoped,))
    try:
        made = instances(doc, templates.root, base_scope) if "for_each" in doc.value else [scoped]
    except InputError as exc:
        return Expansion((), (exc,))
    warnings: tuple[str, ...] = ()
    if not made:
        what = f"{doc.value.get('apiVersion', '').partition('/')[0]}.{doc.value.get('kind')}"
        warnings = (f"{doc.location('for_each')}: for_each has no items: no {what} is made from it "
                    "(objects it made before are planned for removal)",)
    documents: list[SourceDocument] = []
    errors: list[InputError] = []
    failed: list[str] = []
    for instance in made:
        if not is_template_kind(instance.value, USE):
            documents.append(instance)
            continue
        try:
            documents.extend(use_group(instance, templates))
        except InputError as exc:
            errors.append(exc)
            failed.append(instance_name(instance))
    return Expansion(tuple(documents), tuple(errors), tuple(failed), warnings)


def instance_name(doc: SourceDocument) -> str:
    """A Use's instance name, or "" when even that cannot be told."""
    name = (doc.value.get("metadata") or {}).get("name") if isinstance(doc.value, dict) else None
    try:
        return _interpolated_name(doc, name) if isinstance(name, str) else ""
    except InputError:
        return ""


# -- for_each ------------------------------------------------------------------------------------
def instances(doc: SourceDocument, root: Path, base_scope: Mapping[str, Any]) -> list[SourceDocument]:
    """One document per item of ``doc``'s ``for_each``, ``for_each`` removed, ``each`` in scope."""
    spec = doc.value["for_each"]
    where = "for_each"
    if not isinstance(spec, dict):
        raise ManifestError(f"for_each needs one of {', '.join(SOURCES)}, not {schemacheck.a_type(spec)}",
                            location=doc.location(where), path=where)
    key_expression = spec.get("key")
    unknown = sorted(set(spec) - {*SOURCES, "key"})
    if unknown:
        hint = schemacheck.did_you_mean(unknown[0], (*SOURCES, "key"))
        raise ManifestError(f"unknown for_each setting '{unknown[0]}'{hint}", location=doc.location(where), path=where)
    items = _source_items(doc, {k: v for k, v in spec.items() if k != "key"}, where, root)
    _refuse_positional_names(doc, items, keyed=isinstance(key_expression, str))
    template = {k: v for k, v in doc.value.items() if k != "for_each"}
    out: list[SourceDocument] = []
    seen: dict[str, Item] = {}
    for index, item in enumerate(items):
        each = {"key": item.key, "value": item.value, "index": index}
        scope = {**base_scope, **doc.scope, "each": each}
        if isinstance(key_expression, str):
            key = _key_of(key_expression, scope, doc, f"{where}.key", item)
            each = {**each, "key": key}
            scope = {**scope, "each": each}
            item = replace(item, key=key)
        first = seen.setdefault(item.key, item)
        if first is not item and (isinstance(key_expression, str) or source_has_keys(spec)):
            raise ManifestError(f"for_each key '{item.key}' at {item.where} is also the key at {first.where} "
                                "(keys name the instances: they must differ)", location=doc.location(where), path=where)
        out.append(replace(doc, value=template, scope=scope, origin=item.where, how="for_each of"))
    return out


_USES_KEY = re.compile(r"\beach\s*(\.\s*(key|index)\b|\[\s*['\"](key|index)['\"]\s*\])")


def _refuse_positional_names(doc: SourceDocument, items: Sequence[Item], *, keyed: bool) -> None:
    """An address made from a row's line or position would move to another object when rows
    are sorted or inserted (a live strategy would take another row's bid and budget)."""
    name = (doc.value.get("metadata") or {}).get("name")
    used = {m.group(2) or m.group(3) for m in _USES_KEY.finditer(name)} if isinstance(name, str) else set()
    positional = [i for i in items if i.positional] if not keyed else []
    if "index" in used or ("key" in used and positional):
        what = "each.index" if "index" in used else f"each.key, which is the position of each item here ({positional[0].where}: '{positional[0].key}')"
        raise ManifestError(
            f"the name uses {what}; sorting or inserting rows would move names between live objects. "
            "Name instances from their values (${each.value.<column>}), give for_each.key, or add a 'key' column",
            location=doc.location("metadata.name"), path="metadata.name")


def source_has_keys(spec: Mapping[str, Any]) -> bool:
    """Whether items have keys of their own (list values, map keys) rather than positions."""
    return "list" in spec or "map" in spec or "matrix" in spec


def data_files(doc: SourceDocument, root: Path) -> set[Path]:
    """The data files a template reads (``for_each`` csv/file, in a matrix too): they sit among
    the manifests but are not manifest files."""
    found: set[Path] = set()

    def walk(spec: Any) -> None:
        if not isinstance(spec, Mapping):
            return
        for source in ("csv", "file"):
            if isinstance(spec.get(source), str):
                found.add(((root / doc.file).parent / spec[source]).resolve())
        for sub in (spec.get("matrix") or {}).values() if isinstance(spec.get("matrix"), Mapping) else ():
            walk(sub)

    if isinstance(doc.value, dict):
        walk(doc.value.get("for_each"))
    return found


def _key_of(template: str, scope: Mapping[str, Any], doc: SourceDocument, where: str, item: Item) -> str:
    """``for_each.key`` for one item: a text with ``${...}`` (``"${each.value.market}-${each.key}"``)."""
    try:
        return str(interpolate_string(template, env={}, variables=None, location=doc.location(where), path=where, scope=scope))
    except InputError as exc:
        raise ManifestError(f"{exc.detail} (for {item.where})", location=doc.location(where), path=where) from None


def _source_items(doc: SourceDocument, spec: Mapping[str, Any], where: str, root: Path) -> list[Item]:
    if len(spec) != 1:
        raise ManifestError(f"for_each needs exactly one of {', '.join(SOURCES)}", location=doc.location(where), path=where)
    (source, value), = spec.items()
    at = f"{where}.{source}"
    if source == "list":
        if not isinstance(value, list):
            raise ManifestError("for_each.list must be a list", location=doc.location(at), path=at)
        return _items(value, doc, at, lambda i: str(doc.location(f"{at}.{i}")))
    if source == "map":
        if not isinstance(value, dict):
            raise ManifestError("for_each.map must be a mapping", location=doc.location(at), path=at)
        return [Item(str(k), v, str(doc.location(f"{at}.{k}"))) for k, v in value.items()]
    if source == "csv":
        return _csv_items(_data_file(doc, value, at, root), doc, at)
    if source == "file":
        path, display = _data_file(doc, value, at, root)
        data = _read_data(path, display, doc.location(at))
        if isinstance(data, dict):
            return [Item(str(k), v, f"{display}: {k}") for k, v in data.items()]
        if isinstance(data, list):
            return _items(data, doc, at, lambda i: f"{display}: item {i + 1}")
        raise ManifestError(f"{display} must hold a list or a mapping", location=doc.location(at), path=at)
    if source == "matrix":
        if not isinstance(value, dict) or not value:
            raise ManifestError("for_each.matrix maps names to sources ({list: ...}, {csv: ...}...)",
                                location=doc.location(at), path=at)
        axes = [(name, _source_items(doc, sub if isinstance(sub, dict) else {"list": sub}, f"{at}.{name}", root))
                for name, sub in value.items()]
        return [
            Item("-".join(i.key for i in combo), {name: i.value for (name, _), i in zip(axes, combo, strict=True)},
                 " x ".join(i.where for i in combo), positional=any(i.positional for i in combo))
            for combo in itertools.product(*(items for _, items in axes))
        ]
    hint = schemacheck.did_you_mean(source, SOURCES)
    raise ManifestError(f"unknown for_each source '{source}'{hint}", location=doc.location(at), path=at)


def _items(values: Sequence[Any], doc: SourceDocument, at: str, where: Any) -> list[Item]:
    out = []
    for i, value in enumerate(values):
        key = (value.get("key", i + 1) if isinstance(value, dict) else value)
        if isinstance(key, dict | list):
            raise ManifestError(f"item {i + 1} has no usable key (give for_each.key)", location=doc.location(at), path=at)
        out.append(Item(str(key), value, where(i), positional=isinstance(value, dict) and "key" not in value))
    return out


def _data_file(doc: SourceDocument, value: Any, at: str, root: Path) -> tuple[Path, str]:
    if not isinstance(value, str) or not value:
        raise ManifestError("expected a file name relative to this manifest", location=doc.location(at), path=at)
    base = (root / doc.file).parent
    path = (base / value).resolve()
    try:
        display = path.relative_to(root.resolve()).as_posix()
    except ValueError:  # /etc/passwd, ~/.aws/credentials: a pull request's plan would print them
        raise ManifestError(f"data file {value} is outside the workspace ({root}); data files must live in it",
                            location=doc.location(at), path=at) from None
    if path.is_dir():
        raise ManifestError(f"data file {display} is a directory, not a file", location=doc.location(at), path=at)
    if not path.is_file():
        raise ManifestError(f"data file {display} not found", location=doc.location(at), path=at)
    return path, display


def _csv_items(file: tuple[Path, str], doc: SourceDocument, at: str) -> list[Item]:
    path, display = file
    text = read_text(path, display)
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    items: list[Item] = []
    try:
        header = reader.fieldnames
        if not header:
            raise ManifestError("a CSV for_each needs a header row", location=Location(display, 1))
        if len(set(header)) != len(header):
            raise ManifestError("the header row names a column twice", location=Location(display, 1))
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                cells = len([v for k, v in row.items() if k is not None and v is not None]) + len(row.get(None) or [])
                raise ManifestError(f"the row has {cells} cells; the header has {len(header)}", location=Location(display, line))
            keyed = "key" in header
            items.append(Item(row["key"] if keyed else str(line), dict(row), f"{display}:{line}", positional=not keyed))
    except csv.Error as exc:
        raise ManifestError(f"invalid CSV: {exc}", location=Location(display, reader.line_num or 1)) from None
    return items


def _read_data(path: Path, display: str, location: Location) -> Any:
    text = read_text(path, display)
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"invalid JSON: {exc.msg}", location=Location(display, exc.lineno)) from None
    docs = [d for d in load_documents(text, display) if d is not None]
    if len(docs) != 1:
        raise ManifestError(f"{display} must hold exactly one YAML document", location=location)
    return docs[0].value


# -- groups --------------------------------------------------------------------------------------
def use_group(doc: SourceDocument, templates: Templates) -> Iterator[SourceDocument]:
    """The documents of the group ``doc`` (a ``Use``) names, for this instance."""
    spec = doc.value.get("spec") if isinstance(doc.value, dict) else None
    name = (doc.value.get("metadata") or {}).get("name")
    if not isinstance(spec, dict) or not isinstance(spec.get("group"), str) or not isinstance(name, str):
        raise ManifestError("a Use needs metadata.name and spec.group (and spec.parameters)", location=doc.location(), path="spec")
    instance = _interpolated_name(doc, name)
    given = interpolate_tree(spec.get("parameters") or {}, env={}, variables=doc.scope.get("var") or {},
                             locate=lambda p: doc.location(f"spec.parameters.{p}" if p else "spec.parameters"),
                             scope=doc.scope)
    group = templates.groups.get(spec["group"])
    if group is None:
        hint = schemacheck.did_you_mean(spec["group"], templates.groups) or f" (groups: {', '.join(sorted(templates.groups)) or 'none'})"
        raise ManifestError(f"no group named '{spec['group']}'{hint}", location=doc.location("spec.group"), path="spec.group")
    params = _parameters(doc, group, given, instance)
    defined = {(d.value.get("kind"), (d.value.get("metadata") or {}).get("name")) for d in group.documents}
    for member in group.documents:
        value = dict(member.value)
        metadata = dict(value.get("metadata") or {})
        metadata["name"] = f"{instance}.{metadata.get('name')}"
        value["metadata"] = metadata
        if isinstance(value.get("spec"), dict):
            value["spec"] = _local_refs(value["spec"], instance, defined)
        yield replace(member, value=value, scope={**doc.scope, "param": params},
                      origin=doc.origin or f"{doc.file}:{doc.line}", how=f"group {group.name},")


def _interpolated_name(doc: SourceDocument, name: str) -> str:
    """A Use's own name may be templated by its for_each (``launch-${each.key}``)."""
    if "${" not in name:
        return name
    value = interpolate_string(name, env={}, variables=doc.scope.get("var") or {}, location=doc.location("metadata.name"),
                               path="metadata.name", scope=doc.scope)
    return str(value)


def _parameters(doc: SourceDocument, group: Group, given: Any, instance: str) -> dict[str, Any]:
    where = "spec.parameters"
    if not isinstance(given, dict):
        raise ManifestError("parameters must be a mapping", location=doc.location(where), path=where)
    unknown = sorted(set(given) - set(group.parameters))
    if unknown:
        hint = schemacheck.did_you_mean(unknown[0], group.parameters) or f" (parameters: {', '.join(sorted(group.parameters))})"
        raise ManifestError(f"group {group.name} has no parameter '{unknown[0]}'{hint}",
                            location=doc.location(f"{where}.{unknown[0]}"), path=f"{where}.{unknown[0]}")
    out: dict[str, Any] = {}
    for pname, declared in sorted(group.parameters.items()):
        if pname in given:
            value = given[pname]
        elif "default" in declared:
            value = declared["default"]
        elif declared.get("required", "default" not in declared):
            raise ManifestError(f"instance {instance} of group {group.name} lacks parameter '{pname}' (required)",
                                location=doc.location(where), path=f"{where}.{pname}")
        else:
            value = None
        expected = PARAM_TYPES.get(declared.get("type", "string"), (object,))
        if value is not None and (not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected)):
            raise ManifestError(f"parameter '{pname}' of instance {instance} must be a {declared.get('type', 'string')}, "
                                f"not {schemacheck.a_type(value)}", location=doc.location(f"{where}.{pname}"), path=f"{where}.{pname}")
        out[pname] = value
    return out


def _local_refs(value: Any, instance: str, defined: set[tuple[Any, Any]]) -> Any:
    """``{ref: Kind/name}`` to a document of the group -> that instance's document."""
    if isinstance(value, dict):
        if set(value) == {"ref"} and isinstance(value["ref"], str) and _UNQUALIFIED_REF.match(value["ref"]):
            kind, _, name = value["ref"].partition("/")
            if (kind, name) in defined:
                return {"ref": f"{kind}/{instance}.{name}"}
        return {k: _local_refs(v, instance, defined) for k, v in value.items()}
    if isinstance(value, list):
        return [_local_refs(v, instance, defined) for v in value]
    return value


def _sub_document(doc: SourceDocument, prefix: str) -> SourceDocument:
    """The document at ``prefix`` inside ``doc`` (a group's member), with its own field lines."""
    value: Any = doc.value
    for part in prefix.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    cut = len(prefix) + 1
    lines = {path[cut:]: line for path, line in doc.lines.items() if path.startswith(prefix + ".")}
    return SourceDocument(doc.file, doc.lines.get(prefix, doc.line), value, lines, plain=False)

