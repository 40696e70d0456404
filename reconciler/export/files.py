"""The files export writes: manifests (one per kind) and, where there is none, ``reconciler.yaml``.

Manifests: ``<out>/<kind-in-kebab-case>.yaml``, documents sorted by name, each starting with the
``# yaml-language-server: $schema=...`` line and a ``# remote id`` comment. Strings are quoted
wherever the manifest loader's YAML 1.2 core schema would read them as something else; every file
is read back through that loader before it is written (a round-trip check).

The ``$schema`` line must work for everyone who clones the workspace, so it never points into the
exporter's own installation: it is a path relative to the manifest into the workspace's own copy
of the schemas, ``<workspace>/schemas/<provider>/<Kind>.schema.json``, which export writes beside
``reconciler.yaml`` (the files it needs and that are missing; an existing copy is left alone). With
``--schema-base URL`` it is ``URL/<provider>/<Kind>.schema.json`` instead, and no copy is written.

Every file is created through :func:`reconciler.fsutil.create_new`: an unpredictable,
exclusively created temporary file, then linked to its name, so a file (or a planted symbolic
link) that already has the name is never overwritten nor written through.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from reconciler.errors import InputError, ProviderError, WorkspaceError
from reconciler.export.naming import kebab
from reconciler.export.scope import Scope, squash, variants
from reconciler.export.spec import ExportedResource
from reconciler.fsutil import create_new
from reconciler.manifest.interpolate import escape, interpolate_tree
from reconciler.manifest.workspace import WORKSPACE_FILE
from reconciler.manifest.yamlsource import load_documents
from reconciler.model import Ref
from reconciler.providers.base import schemas_dir

if TYPE_CHECKING:
    from reconciler.engine import Workspace

SCHEMA_LINE = "# yaml-language-server: $schema="
DEFAULT_ENDPOINTS: Mapping[str, str] = {
    "mediamath": "https://api.mediamath.com",
    "liveramp": "https://api.habu.com",
    "mediarithmics": "https://api.mediarithmics.com",
}
CREDENTIAL_ENV: Mapping[str, Mapping[str, str]] = {
    "mediamath": {"username": "MM_USERNAME", "password": "MM_PASSWORD", "api_key": "MM_API_KEY"},
    "liveramp": {"client_id": "LIVERAMP_CLIENT_ID", "client_secret": "LIVERAMP_CLIENT_SECRET"},
    "mediarithmics": {"token": "MICS_API_TOKEN"},
}
# provider options set from a scope when export writes reconciler.yaml (scope word -> option)
SCOPE_OPTIONS: Mapping[str, Mapping[str, str]] = {"mediarithmics": {"organisation": "organisation_id"}}


class _Dumper(yaml.SafeDumper):
    """Block style with indented lists; strings quoted whenever the manifest loader (YAML 1.2
    core) would read them as something else (``'0o17'``...), as well as where PyYAML quotes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    """Quoted where the loader's YAML needs it. Live values are never interpolated: ``${`` is
    written ``$${`` (done before dumping, see :func:`render_document`)."""
    from reconciler.manifest.yamlsource import STR, _CoreSchemaLoader

    if _CoreSchemaLoader.resolve(_CoreSchemaLoader, yaml.ScalarNode, data, (True, False)) != STR:
        return dumper.represent_scalar(STR, data, style="'")
    return dumper.represent_str(data)


def _represent_ref(dumper: yaml.SafeDumper, data: Ref) -> yaml.MappingNode:
    return dumper.represent_mapping(
        "tag:yaml.org,2002:map", {"ref": f"{data.target.kind}/{data.target.name}"}, flow_style=True
    )


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.SequenceNode:
    """Lists of scalars in flow style (``purposes: [INSIGHTS, ACTIVATION]``), others as blocks."""
    scalars = all(isinstance(v, (str, int, float, bool)) or v is None for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=scalars and bool(data))


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(Ref, _represent_ref)


def _dump(value: Any) -> str:
    return yaml.dump(
        value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


def _scalar(value: Any) -> str:
    """One scalar as it would follow ``key: `` (quoted where the loader needs it)."""
    return _dump({"k": value})[3:].strip()


SCHEMAS_COPY = "schemas"  # the workspace's own copy of the schemas, beside reconciler.yaml


def schema_source(provider: str, kind: str) -> str:
    """The schema file (relative to ``schemas/``) of a kind: its own, else the envelope schema."""
    relative = f"{provider}/{kind}.schema.json"
    try:
        installed = schemas_dir()
    except ProviderError:
        return relative
    return relative if (installed / relative).is_file() else "manifest.schema.json"


def schema_reference(provider: str, kind: str, file: Path, base: str | None, root: Path) -> str:
    """What follows ``$schema=``: ``base/<provider>/<Kind>.schema.json``, or the path from ``file``
    to the workspace's own copy, ``<root>/schemas/...`` (see :func:`schema_copies`)."""
    if base:
        return f"{base.rstrip('/')}/{provider}/{kind}.schema.json"
    target = root / SCHEMAS_COPY / schema_source(provider, kind)
    return Path(os.path.relpath(target, file.parent)).as_posix()


def schema_copies(sources: Iterable[str], root: Path) -> dict[Path, str]:
    """The schema files (relative to ``schemas/``) the workspace's copy lacks: path -> text."""
    try:
        installed = schemas_dir()
    except ProviderError:
        return {}
    out: dict[Path, str] = {}
    for source in sorted(set(sources)):
        target = root / SCHEMAS_COPY / source
        if not os.path.lexists(target) and (installed / source).is_file():
            out[target] = (installed / source).read_text(encoding="utf-8")
    return out


def render_document(resource: ExportedResource, schema_ref: str) -> str:
    """One manifest document (no ``---``), starting with the schema line."""
    address = resource.address
    body = {
        "apiVersion": f"{address.provider}/v1",
        "kind": address.kind,
        "metadata": {"name": address.name},
        "spec": _escaped(dict(resource.spec)),
    }
    return f"{SCHEMA_LINE}{schema_ref}\n# remote id: {resource.remote_id}\n{_dump(body)}"


def render_files(
    provider: str, resources: Sequence[ExportedResource], out: Path, schema_base: str | None, root: Path
) -> dict[Path, str]:
    by_kind: dict[str, list[ExportedResource]] = {}
    for resource in resources:
        by_kind.setdefault(resource.address.kind, []).append(resource)
    files: dict[Path, str] = {}
    for kind, items in sorted(by_kind.items()):
        path = out / f"{kebab(kind)}.yaml"
        schema_ref = schema_reference(provider, kind, path, schema_base, root)
        docs = [render_document(r, schema_ref) for r in sorted(items, key=lambda r: r.address.name)]
        text = "---\n".join(docs)
        _check_round_trip(text, items, path)
        files[path] = text
    return files


def _escaped(value: Any) -> Any:
    """``value`` with every string escaped for interpolation: a live name that reads
    ``${env:SECRET}`` (set by anyone with console access) must load back as that text, never
    as the secret."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, Mapping):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


def _check_round_trip(text: str, items: Sequence[ExportedResource], path: Path) -> None:
    """The written YAML must read back (through the manifest loader's YAML and interpolation,
    with no variables and an empty environment) as what was meant."""
    docs = [d for d in load_documents(text, str(path)) if d is not None]
    ordered = sorted(items, key=lambda r: r.address.name)
    for doc, resource in zip(docs, ordered, strict=True):
        try:
            spec = interpolate_tree(doc.value["spec"], env={}, variables={}, locate=doc.location, path="spec")
        except InputError:
            spec = None
        if spec != _plain(resource.spec):
            raise ProviderError(
                f"export: {resource.address} does not survive a YAML round trip (a bug; please report it)"
            )


def _plain(value: Any) -> Any:
    if isinstance(value, Ref):
        return {"ref": f"{value.target.kind}/{value.target.name}"}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def write_new(path: Path, text: str) -> None:
    """Create ``path`` (and its directory) with ``text``; an existing name is a clear error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        create_new(path, text.encode("utf-8"))
    except FileExistsError:
        raise InputError(
            f"{path} exists already; export writes new files only (choose another --out, or move it away)"
        ) from None


def check_out_dir(ws: Workspace, out: Path) -> None:
    """Refuse an output directory the workspace's ``paths`` do not read: the state entries export
    records would then have no manifest, and the next plan would delete their objects."""
    target = out.resolve()
    for path in (p.resolve() for p in ws.config.paths):
        inside = target == path or path in target.parents
        if inside and not any(part.startswith(".") for part in target.relative_to(path).parts):
            return
    readable = ", ".join(str(p) for p in ws.config.paths)
    raise InputError(
        f"--out {out}: the workspace does not read manifests there (its paths: {readable}; hidden "
        f"directories are skipped), so the next plan would delete what export records; export "
        f"into one of its paths, or add the directory to 'paths' in {WORKSPACE_FILE}"
    )


# -- the workspace file ---------------------------------------------------------------------------
def write_workspace_file(
    directory: Path, provider: str, endpoint: str | None, scopes: Iterable[Scope]
) -> Path:
    """Write ``directory/reconciler.yaml`` for ``provider`` (there is none yet). Returns its path."""
    path = directory / WORKSPACE_FILE
    endpoint = endpoint or DEFAULT_ENDPOINTS.get(provider)
    if endpoint is None:
        raise WorkspaceError(
            f"there is no {WORKSPACE_FILE} and provider '{provider}' has no default endpoint: write one "
            f"(providers.{provider}.endpoint, and factory for a third-party provider) or pass --endpoint"
        )
    for copy, text in schema_copies(["workspace.schema.json"], directory).items():
        write_new(copy, text)
    lines = [
        f"{SCHEMA_LINE}{SCHEMAS_COPY}/workspace.schema.json",
        "# Written by 'reconciler export'. Credentials come from the environment; see the README.",
        "apiVersion: reconciler/v1",
        "kind: Workspace",
        "providers:",
        f"  {provider}:",
        f"    endpoint: {_scalar(endpoint)}",
    ]
    credentials = CREDENTIAL_ENV.get(provider, {})
    if credentials and endpoint != "sandbox":
        lines.append("    credentials:")
        lines.extend(f'      {key}: "${{env:{env}}}"' for key, env in credentials.items())
    options = SCOPE_OPTIONS.get(provider, {})
    for word, option in sorted(options.items()):
        chosen = [s for s in scopes if squash(word) in variants(s.word)]
        if chosen:
            lines.append(f"    {option}: {_scalar(chosen[0].remote_id)}")
    write_new(path, "\n".join(lines) + "\n")
    return path
