"""``reconciler export``: live objects under a scope -> manifests + matching state. Read-only remotely.

Given a provider and one or more scopes (``--advertiser 10``, ``--cleanroom <uuid>``,
``--organisation 1863``, or generically ``--scope Kind=ID``), export:

1. resolves each scope (:func:`resolve_scope`): a word naming one of the provider's kinds
   (``advertiser`` -> ``Advertiser``; case, ``_`` and ``-`` do not matter, ``organisation`` and
   ``organization`` are the same word) makes that object the root and exports it too; otherwise a
   word naming a parent field (``organisation`` -> ``organisation_id``) exports every object whose
   parent field holds the id;
2. walks down (:func:`collect`): every kind whose ``parent_field`` points at an exported kind is
   listed under each exported object (``Provider.list_children``), level by level. Only reads are
   made (``read``, ``list_children``): export never writes to a vendor API;
3. names each object (:mod:`.naming`): the slug of its ``name`` (``Summer Sale 2026`` ->
   ``summer-sale-2026``), de-duplicated deterministically (the lowest remote id keeps the bare
   slug, the others get ``-<short id>``), never reusing an address the workspace already has;
4. builds each spec (:mod:`.spec`): only the kind schema's properties (what a user may
   write), without nulls, ``readOnly`` fields, values equal to the schema's ``default`` and empty
   lists/maps the schema does not require; parent ids and other ``*_id``/``*_ids`` fields whose
   value is the remote id of an exported (or already managed) object become ``{ref: Kind/name}``
   (kept literal when it would be ambiguous or make a reference cycle). A field whose live value
   the schema rejects is left out, with a warning;
5. writes one file per kind (``<out>/<kind-in-kebab-case>.yaml``, documents sorted by name, each
   starting with the ``# yaml-language-server: $schema=...`` line pointing into the workspace's
   own copy of the schemas, which it writes where missing); it never overwrites a file nor
   writes through a planted one (:mod:`.files`);
6. records a :class:`ResourceState` per object under the state lock (applied spec = the exported
   spec with references resolved, exactly what ``apply`` would have recorded), so that the next
   ``plan`` shows no changes. Objects already in the state are not exported again; references to
   them use their existing address.

Where no ``reconciler.yaml`` exists, :func:`write_workspace_file` writes one for the provider
(production endpoint and ``${env:...}`` credentials, or ``--endpoint``).

Modules: ``scope`` (scopes, the walk), ``naming``, ``spec`` (fields, references, state entry),
``files`` (YAML, schema line, reconciler.yaml); this one runs them under the state lock.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import InputError
from reconciler.export.files import (
    DEFAULT_ENDPOINTS,
    check_out_dir,
    render_document,
    render_files,
    schema_copies,
    schema_source,
    write_new,
    write_workspace_file,
)
from reconciler.export.naming import assign_names, related_labels, slugify
from reconciler.export.scope import Scope, ScopeRoot, collect, parent_kind, resolve_scope
from reconciler.export.spec import (
    ExportedResource,
    RefIndex,
    refs_in,
    resolve,
    schema_checked,
    user_fields,
    with_refs,
    without_cycles,
)
from reconciler.model import Address, LiveObject
from reconciler.providers.base import Provider
from reconciler.state.base import ResourceState, StateSnapshot

if TYPE_CHECKING:
    from reconciler.engine import Workspace


@dataclass(frozen=True)
class ExportResult:
    resources: tuple[ExportedResource, ...]
    files: tuple[Path, ...]
    already_managed: tuple[str, ...] = ()  # addresses of objects under the scope already in state
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportRequest:
    provider: str
    scopes: tuple[Scope, ...]
    out: Path
    schema_base: str | None = None  # URL or path prefix for the schema line; default: relative path


def export(ws: Workspace, request: ExportRequest) -> ExportResult:
    """Run an export (see the module docstring). Holds the state lock while writing."""
    if not request.scopes:
        raise InputError(
            "export needs a scope: e.g. --advertiser ID, --cleanroom ID, --organisation ID or --scope Kind=ID"
        )
    provider = ws.provider(request.provider)
    roots = [resolve_scope(provider, s) for s in request.scopes]
    out = request.out if request.out.is_absolute() else (ws.start / request.out)
    check_out_dir(ws, out)
    objects = collect(provider, roots)
    with ws.state.locked("export", ws.lock_timeout):
        snapshot = ws.state.read()
        plan = _build(ws, provider, objects, snapshot)
        files = render_files(provider.name, plan.resources, out, request.schema_base, ws.root)
        clash = sorted(str(p) for p in files if os.path.lexists(p))
        if clash:
            raise InputError(
                f"{clash[0]} exists already; export writes new files only (choose another --out, or move it away)"
            )
        if request.schema_base is None:
            sources = {schema_source(provider.name, r.address.kind) for r in plan.resources}
            files.update(schema_copies(sources, ws.root))
        for path, text in sorted(files.items()):
            write_new(path, text)
        for resource in plan.resources:
            ws.state.record(resource.state)
    return ExportResult(
        resources=plan.resources,
        files=tuple(sorted(files)),
        already_managed=plan.already_managed,
        warnings=plan.warnings,
    )


@dataclass(frozen=True)
class _Built:
    resources: tuple[ExportedResource, ...]
    already_managed: tuple[str, ...]
    warnings: tuple[str, ...]


def _build(
    ws: Workspace, provider: Provider, objects: Sequence[LiveObject], snapshot: StateSnapshot
) -> _Built:
    name = provider.name
    managed = {
        (rs.kind, rs.remote_id): rs.address for rs in snapshot.resources.values() if rs.provider == name
    }
    fresh = [o for o in objects if (o.kind, o.remote_id) not in managed]
    already = tuple(
        sorted(managed[(o.kind, o.remote_id)] for o in objects if (o.kind, o.remote_id) in managed)
    )
    taken: dict[str, set[str]] = {}
    for text in [*snapshot.resources, *(str(r.address) for r in _declared(ws))]:
        parsed = Address.parse(text)
        if parsed.provider == name:
            taken.setdefault(parsed.kind, set()).add(parsed.name)
    names = assign_names(fresh, provider.kinds, taken, related_labels(provider, fresh))
    index = RefIndex(name)
    ids: dict[str, str] = {}
    for (_, remote_id), address_text in managed.items():
        address = Address.parse(address_text)
        index.add(address, remote_id)
        ids[address_text] = remote_id
    addresses: dict[tuple[str, str], Address] = {}
    for obj in fresh:
        address = Address(name, obj.kind, names[(obj.kind, obj.remote_id)])
        addresses[(obj.kind, obj.remote_id)] = address
        index.add(address, obj.remote_id)
        ids[str(address)] = obj.remote_id

    warnings: list[str] = []
    specs: dict[Address, dict[str, Any]] = {}
    for obj in fresh:
        info = provider.kinds[obj.kind]
        address = addresses[(obj.kind, obj.remote_id)]
        plain = user_fields(info, obj)
        parent = parent_kind(provider, info)
        spec = {
            k: with_refs(v, k, index, (k, parent) if k == info.parent_field else None)
            for k, v in plain.items()
        }
        specs[address] = schema_checked(spec, info, address, warnings)
    specs = without_cycles(specs, ids, {a: provider.kinds[a.kind] for a in specs})

    resources = []
    for obj in fresh:
        address = addresses[(obj.kind, obj.remote_id)]
        spec = specs[address]
        info = provider.kinds[obj.kind]
        applied = resolve(spec, ids)
        parent_ids = (
            {info.parent_field: str(applied[info.parent_field])}
            if info.parent_field and applied.get(info.parent_field) is not None
            else {}
        )
        state = ResourceState(
            address=str(address),
            provider=name,
            kind=obj.kind,
            remote_id=obj.remote_id,
            applied_spec=applied,
            fingerprint=obj.fingerprint,
            version=obj.version,
            parent_ids=parent_ids,
            dependencies=tuple(sorted({str(r.target) for r in refs_in(spec)})),
            status=obj.status,
        )
        resources.append(ExportedResource(address, spec, state))
    resources.sort(key=lambda r: str(r.address))
    return _Built(tuple(resources), already, tuple(warnings))


def _declared(ws: Workspace) -> list[Any]:
    """Resources the workspace's manifests declare now (their names are taken)."""
    try:
        return list(ws.desired())
    except InputError as exc:
        raise InputError(f"the workspace's manifests must load before exporting into it:\n{exc}") from None


__all__ = [
    "DEFAULT_ENDPOINTS",
    "ExportRequest",
    "ExportResult",
    "ExportedResource",
    "Scope",
    "ScopeRoot",
    "assign_names",
    "collect",
    "export",
    "render_document",
    "resolve_scope",
    "slugify",
    "user_fields",
    "write_workspace_file",
]
