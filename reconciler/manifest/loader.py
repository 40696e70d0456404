"""Load every manifest under some paths into validated :class:`DesiredResource` values.

Files: ``*.yaml`` / ``*.yml`` found recursively under each path (relative paths are taken from
the current directory, as on any command line; hidden files and directories
such as ``.reconciler`` and ``.git`` are skipped, and so is any ``reconciler.yaml``); a file
named explicitly is read whatever its name (except ``reconciler.yaml``). Files are read in sorted order; file names in messages are
relative to the workspace root.

Each document goes through: YAML syntax (with duplicate keys), interpolation (secrets refused;
a value that is exactly one ``${var:}``/``${env:}`` typed as the schema wants), the envelope
schema, provider, kind, references and the kinds each reference field takes, the kind's spec
schema (every field's problem), lifecycle. Then, across documents: duplicate addresses, dangling
references, two documents for one live object (the same natural key, where the API allows one
object per key), and each kind's semantic
checks (``KindInfo.checks``: real dates, start before end, what a referenced document
declares...). Every problem found is reported at once, sorted by file and line, as one error or
:class:`MultipleInputErrors`; cycles are checked once the rest is clean. The result is in
dependency order (:func:`reconciler.graph.order`).

Without a ``reconciler.yaml`` (no workspace), only files with a document whose ``apiVersion``
names a known provider (or ``reconciler/v1``) are read: other YAML files (CI workflows, say) are
skipped silently. In a workspace every YAML file under its paths is a manifest file.

Documents with ``apiVersion: reconciler/v1`` are ``Moved`` entries (:mod:`reconciler.manifest.moved`),
not resources: :func:`load_manifests` validates and skips them, :func:`load_moves` returns them.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import stat
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from jsonschema import Draft202012Validator

from reconciler import graph
from reconciler.errors import InputError, Location, ManifestError, MultipleInputErrors, ReferenceError_
from reconciler.gcpause import gc_paused
from reconciler.manifest import defaults, generate, moved, schemacheck, validate
from reconciler.manifest.interpolate import interpolate_tree
from reconciler.manifest.selectors import label_problems
from reconciler.manifest.workspace import WORKSPACE_FILE, WorkspaceConfig
from reconciler.manifest.yamlsource import SourceDocument, load_documents, read_text
from reconciler.model import Address, DesiredResource, Ref
from reconciler.providers.base import KindInfo

KindLookup = Callable[[str, str], KindInfo | None]
SUFFIXES = (".yaml", ".yml")


@runtime_checkable
class KindCatalog(Protocol):
    """A KindLookup that can also list a provider's kinds (for 'unknown kind' messages)."""

    def __call__(self, provider: str, kind: str) -> KindInfo | None: ...

    def known_kinds(self, provider: str) -> list[str]: ...


@dataclass(frozen=True)
class KindTable:
    """The usual KindLookup: ``{provider: {kind: KindInfo}}`` (e.g. from each provider's ``kinds``)."""

    kinds: Mapping[str, Mapping[str, KindInfo]] = field(default_factory=dict)

    def __call__(self, provider: str, kind: str) -> KindInfo | None:
        return self.kinds.get(provider, {}).get(kind)

    def known_kinds(self, provider: str) -> list[str]:
        return sorted(self.kinds.get(provider, {}))


@gc_paused()  # acyclic values only: see reconciler.gcpause
def load_manifests(
    paths: Sequence[Path],
    *,
    config: WorkspaceConfig,
    kind_lookup: KindLookup,
    known_providers: Collection[str],
    env: Mapping[str, str],
    warnings: list[str] | None = None,
) -> list[DesiredResource]:
    """Every resource under ``paths`` (default: the workspace's paths), validated and ordered.
    What is worth a word but is not an error (a ``for_each`` with no items, a default that applies
    to nothing) is appended to ``warnings``."""
    files = discover(paths or config.paths, config.root)
    ours = None if config.file is not None else _ours_pattern(known_providers)
    errors: list[InputError] = []
    moves: list[moved.MovedEntry] = []
    templates = generate.Templates(config.root)
    found_defaults: list[defaults.Default] = list(config.defaults)
    documents: list[SourceDocument] = []
    moved_documents: list[SourceDocument] = []
    for file in files:
        display = display_name(file, config.root)
        try:
            text = read_text(file, display)
            if ours is not None and not ours.search(text):
                continue  # no workspace: a YAML file that holds no manifest of ours
            docs = load_documents(text, display)
        except InputError as exc:
            errors.append(exc)
            continue
        for doc in docs:
            try:
                if doc is None:
                    continue
                if generate.is_template_kind(doc.value, generate.GROUP):
                    templates.add(doc)
                elif defaults.is_defaults(doc.value):
                    found_defaults.append(defaults.from_document(doc))
                elif moved.is_moved(doc.value) and not generate.is_template_kind(doc.value, generate.USE):
                    moved_documents.append(doc)
                    moves.extend(_moves_of(doc, config))
                else:
                    documents.append(doc)
            except InputError as exc:
                errors.append(exc)
    errors.extend(templates.errors)
    data = {display_name(f, config.root) for d in (*documents, *moved_documents) for f in generate.data_files(d, config.root)}
    data |= {display_name(f if f.is_absolute() else Path.cwd() / f, config.root) for f in config.var_files}
    if data:  # data files of for_each (and --var-file) among the manifests are data, not manifests
        documents = [d for d in documents if d.file not in data]
        errors = [e for e in errors if not (e.location and e.location.file in data and not e.location.origin)]
    loader = _Loader(config, kind_lookup, known_providers, env, tuple(found_defaults))
    variables = {k: v for k, v in config.variables.items() if k not in config.secrets.variables}
    resources: list[DesiredResource] = []
    invalid: set[Address] = set()  # addresses of documents that failed: refs to them are not dangling
    failed_instances: list[str] = []  # group instances that could not be made: refs into them too
    for template in documents:
        expansion = generate.expand(template, templates, {"var": variables})
        errors.extend(expansion.errors)
        if warnings is not None:
            warnings.extend(expansion.warnings)
        failed_instances.extend(n for n in expansion.failed_instances if n)
        for doc in expansion.documents:
            try:
                resources.append(loader.resource(doc))
            except InputError as exc:
                errors.extend(exc.errors if isinstance(exc, MultipleInputErrors) else [exc])
                invalid.update(_claimed_address(doc.value, known_providers))
    default_errors, default_warnings = _check_defaults(found_defaults, kind_lookup, known_providers, resources)
    errors.extend(default_errors)
    if warnings is not None:
        warnings.extend(default_warnings)
    unique, duplicate_errors = _unique_addresses(resources)
    errors.extend(duplicate_errors)
    errors.extend(moved.check_entries(moves))
    errors.extend(_dangling_references(unique, invalid, tuple(f"{n}." for n in failed_instances)))
    errors.extend(_same_live_object(unique, kind_lookup))
    errors.extend(_semantic_problems(unique, kind_lookup))
    if errors:
        raise sorted_errors(errors)
    return graph.order(unique)


def _check_defaults(
    found: Sequence[defaults.Default], kind_lookup: KindLookup, known_providers: Collection[str],
    resources: Sequence[DesiredResource],
) -> tuple[list[ManifestError], list[str]]:
    if not found:
        return [], []
    kinds = {(d.provider, d.kind) for d in found if d.provider in known_providers and kind_lookup(d.provider, d.kind)}
    catalog = kind_lookup if isinstance(kind_lookup, KindCatalog) else None
    known = {p: catalog.known_kinds(p) for p in sorted(known_providers)} if catalog is not None else {}
    return defaults.check(found, kinds, known, [(r.address, r.labels) for r in resources])


def sorted_errors(errors: Sequence[InputError]) -> InputError:
    """One error, or all of them (each once) sorted by file and line. The same problem of many
    instances of one template (36 CSV rows) is told once, naming the first and counting the rest."""
    unique = list({str(e): e for e in errors}.values())
    unique.sort(key=lambda e: (e.location.file, e.location.line) if e.location else ("", 0))
    unique = _collapse_instances(unique)
    return unique[0] if len(unique) == 1 else MultipleInputErrors(unique)


def _collapse_instances(errors: list[InputError]) -> list[InputError]:
    same: dict[tuple[Any, ...], list[InputError]] = {}
    for e in errors:
        loc = e.location
        key = (loc.file, loc.line, loc.how, e.path, e.detail, type(e)) if loc and loc.origin else (id(e),)
        same.setdefault(key, []).append(e)
    out: list[InputError] = []
    for group in same.values():
        first = group[0]
        if len(group) < 3 or first.location is None:
            out.extend(group)
            continue
        origin = f"{first.location.origin} and {len(group) - 1} more instances"
        out.append(type(first)(first.detail, location=replace(first.location, origin=origin), path=first.path))
    return out


def load_moves(paths: Sequence[Path], *, config: WorkspaceConfig) -> list[moved.MovedEntry]:
    """Every ``Moved`` document under ``paths`` (default: the workspace's), in file order.

    Only files mentioning ``Moved`` are parsed, so this costs little beside
    :func:`load_manifests`; errors are raised as there (one, or :class:`MultipleInputErrors`).
    """
    entries: list[moved.MovedEntry] = []
    errors: list[InputError] = []
    for file in discover(paths or config.paths, config.root):
        display = display_name(file, config.root)
        try:
            text = read_text(file, display)
            if moved.KIND not in text:
                continue
            docs = load_documents(text, display)
        except InputError as exc:
            errors.append(exc)
            continue
        for doc in docs:
            if doc is not None and moved.is_moved(doc.value) and not generate.is_template_kind(doc.value, generate.USE):
                try:
                    entries.extend(_moves_of(doc, config))
                except InputError as exc:
                    errors.append(exc)
    errors.extend(moved.check_entries(entries))
    if errors:
        raise errors[0] if len(errors) == 1 else MultipleInputErrors(errors)
    return entries


def _moves_of(doc: SourceDocument, config: WorkspaceConfig) -> list[moved.MovedEntry]:
    """The move a ``Moved`` document declares, or one per item of its ``for_each``."""
    if not isinstance(doc.value, dict) or "for_each" not in doc.value or doc.value.get("kind") != moved.KIND:
        return [moved.parse_moved(doc)]
    variables = {k: v for k, v in config.variables.items() if k not in config.secrets.variables}
    out = []
    for instance in generate.instances(doc, config.root, {"var": variables}):
        value = interpolate_tree(instance.value, env={}, variables=variables, locate=instance.location,
                                 scope=instance.scope)
        out.append(moved.parse_moved(replace(instance, value=value, lines=_fill_lines(value, instance.lines))))
    return out


def discover(paths: Iterable[Path], root: Path) -> list[Path]:
    """Manifest files under ``paths``, sorted and without duplicates.

    A file is named by where it is found, never by where a symbolic link points, and is not
    opened here: reading it (:func:`read_text`) refuses anything but a regular file, naming the
    path (a FIFO, a link to a device, a link loop). Symbolic links to directories are not
    followed (as ``os.walk`` does by default)."""
    found: dict[Path, None] = {}
    for given in paths:
        path = _absolute(given)  # relative paths are relative to the current directory
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except FileNotFoundError:
            raise ManifestError(f"{display_name(path, root)}: no such file or directory") from None
        except OSError as exc:
            reason = "a loop of symbolic links" if exc.errno == errno.ELOOP else (exc.strerror or str(exc)).lower()
            raise ManifestError(f"{display_name(path, root)}: cannot read: {reason}") from None
        if not is_dir:
            if path.name != WORKSPACE_FILE:
                found[path] = None
            continue
        for directory, subdirs, names in os.walk(path.resolve()):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            for name in names:
                if name.endswith(SUFFIXES) and not name.startswith(".") and name != WORKSPACE_FILE:
                    found[Path(directory) / name] = None
    return sorted(found)


def _absolute(path: Path) -> Path:
    """``path`` made absolute with its directory's symbolic links resolved, but not its own
    (a link named ``x.yaml`` stays ``x.yaml``, even when it loops or points at a device)."""
    absolute = Path(os.path.abspath(path))
    return absolute.parent.resolve() / absolute.name if absolute.name else absolute.resolve()


def display_name(path: Path, root: Path) -> str:
    """``path`` relative to the workspace root when it is inside it."""
    try:
        return _absolute(path).relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


class _Loader:
    def __init__(
        self,
        config: WorkspaceConfig,
        lookup: KindLookup,
        known_providers: Collection[str],
        env: Mapping[str, str],
        defaults: Sequence[defaults.Default] = (),
    ) -> None:
        self.config = config
        self.lookup = lookup
        self.known_providers = known_providers
        self.env = env
        self.defaults = defaults
        self.validators: dict[tuple[str, str], Draft202012Validator] = {}

    def resource(self, raw: SourceDocument) -> DesiredResource:
        """One document as a resource; its problems raised together (:func:`sorted_errors`)."""
        if not isinstance(raw.value, dict):
            validate.check_envelope(raw)  # raises: not a mapping
        typed: set[str] = set()
        if raw.plain and not raw.origin:  # nothing to interpolate, every path located
            doc = raw
            value = raw.value
        else:
            value = interpolate_tree(
                raw.value, env=self.env, variables=self.config.variables, locate=raw.location,
                secrets=self.config.secrets, typed=typed, scope=raw.scope,
            )
            doc = replace(raw, value=value, lines=_fill_lines(value, raw.lines))
        validate.check_envelope(doc)
        provider = validate.check_api_version(doc, self.known_providers)
        info = self.lookup(provider, value["kind"])
        if info is None:  # raises, listing the provider's kinds
            known = self.lookup.known_kinds(provider) if isinstance(self.lookup, KindCatalog) else None
            info = validate.check_kind(doc, provider, self.lookup, known)
        validator = self._validator(provider, info)
        address = Address(provider, value["kind"], value["metadata"]["name"])
        labels = value["metadata"].get("labels") or {}
        raw_spec, defaulted = defaults.apply(self.defaults, address, labels, value["spec"])
        if defaulted:
            raw_spec = self._interpolate_defaults(raw_spec, defaulted, typed)
        spec = validate.coerce_typed(validate.parse_refs(raw_spec, doc, provider, "spec"), typed, validator)
        problems: list[InputError] = [
            *validate.spec_errors(spec, info, validator, doc),
            *validate.ref_kind_errors(spec, info, provider, doc),
        ]
        try:
            lifecycle = validate.parse_lifecycle(doc, info)
        except InputError as exc:
            problems.append(exc)
        problems += [ManifestError(message, location=doc.location(path), path=path) for path, message in label_problems(labels)]
        if problems:
            raise sorted_errors([_at_default(p, defaulted) for p in problems] if defaulted else problems)
        return DesiredResource(
            address=address,
            spec=spec,
            location=doc.location(),
            lifecycle=lifecycle,
            field_lines=doc.lines,
            labels=dict(labels),
            generated=bool(doc.origin),
            defaulted=frozenset(defaulted),
        )

    def _interpolate_defaults(
        self, spec: Mapping[str, Any], defaulted: Mapping[str, defaults.Default], typed: set[str]
    ) -> dict[str, Any]:
        """The values defaults filled in, with ``${var:}``/``${env:}``/expressions resolved as in
        any document (typed the same way; credentials refused), errors told at the default's line."""
        out = dict(spec)
        for name, default in defaulted.items():
            where = default.value_locations.get(name, default.location)

            def at_default(_path: str, at: Location = where) -> Location:
                return at

            out[name] = interpolate_tree(
                out[name], env=self.env, variables=self.config.variables, locate=at_default,
                path=f"spec.{name}", secrets=self.config.secrets, typed=typed,
            )
        return out

    def _validator(self, provider: str, info: KindInfo) -> Draft202012Validator:
        key = (provider, info.name)
        if key not in self.validators:
            self.validators[key] = schemacheck.validator_for(info.schema)
        return self.validators[key]


def _at_default(problem: InputError, defaulted: Mapping[str, defaults.Default]) -> InputError:
    """A problem of a value a default filled, told where the default writes it."""
    field, _, rest = problem.path.removeprefix("spec.").partition(".")
    default = defaulted.get(field) if problem.path.startswith("spec.") else None
    if default is None:
        return problem
    path = f"values.{field}" + (f".{rest}" if rest else "")
    return ManifestError(problem.detail, location=default.value_locations.get(field, default.location), path=path)


def _fill_lines(value: Any, lines: Mapping[str, int]) -> dict[str, int]:
    """Lines for every path of the interpolated value (a whole-string ${var:x} may add paths)."""
    filled = dict(lines)

    def walk(item: Any, path: str, line: int) -> None:
        if path:
            line = filled.setdefault(path, line)
        if isinstance(item, dict):
            for k, v in item.items():
                walk(v, f"{path}.{k}" if path else k, line)
        elif isinstance(item, list):
            for i, v in enumerate(item):
                walk(v, f"{path}.{i}" if path else str(i), line)

    walk(value, "", min(lines.values(), default=1))
    return filled


def _unique_addresses(resources: list[DesiredResource]) -> tuple[list[DesiredResource], list[InputError]]:
    first: dict[Address, DesiredResource] = {}
    errors: list[InputError] = []
    for resource in resources:
        seen = first.get(resource.address)
        if seen is None:
            first[resource.address] = resource
            continue
        errors.append(
            ReferenceError_(
                f"duplicate address {resource.address}: also defined at {seen.location_of('metadata.name')}",
                location=resource.location_of("metadata.name"),
                path="metadata.name",
            )
        )
    return list(first.values()), errors


def _ours_pattern(known_providers: Collection[str]) -> re.Pattern[str]:
    """A cheap test that a file may hold a manifest of ours (``apiVersion: <provider>/...``)."""
    names = "|".join(re.escape(p) for p in sorted({*known_providers, "reconciler"}))
    return re.compile(rf"^\s*apiVersion\s*:\s*[\"']?({names})/", re.MULTILINE)


def _same_live_object(resources: Sequence[DesiredResource], lookup: KindLookup) -> list[InputError]:
    """For kinds whose API holds one object per natural key (``KindInfo.unique_key``), two
    documents with equal natural keys would be one live object: the second is an error naming
    the first (e.g. the same question added to a clean room twice)."""
    seen: dict[tuple[Any, ...], DesiredResource] = {}
    errors: list[InputError] = []
    for resource in resources:
        info = lookup(resource.address.provider, resource.address.kind)
        if info is None or not info.unique_key or not info.natural_key:
            continue
        values = tuple(resource.spec.get(f) for f in info.natural_key)
        if any(v is None for v in values):
            continue
        key = (resource.address.provider, resource.address.kind, *(str(v) for v in values))
        first = seen.setdefault(key, resource)
        if first is resource:
            continue
        fields = ", ".join(info.natural_key)
        errors.append(ReferenceError_(
            f"the same {info.name} as {first.address} ({first.location}): both have the same {fields}, which "
            f"identify one live {info.name}; remove one of them",
            location=resource.location_of(f"spec.{info.natural_key[-1]}"),
            path=f"spec.{info.natural_key[-1]}",
        ))
    return errors


def _semantic_problems(resources: Sequence[DesiredResource], lookup: KindLookup) -> list[InputError]:
    """Each kind's own checks (``KindInfo.checks``), given the specs of the documents referred to."""
    by_address = {r.address: r for r in resources}

    def related(ref: Ref) -> Mapping[str, Any] | None:
        found = by_address.get(ref.target)
        return found.spec if found is not None else None

    errors: list[InputError] = []
    for resource in resources:
        info = lookup(resource.address.provider, resource.address.kind)
        for check in info.checks if info is not None else ():
            for problem in check(resource.spec, related):
                path = f"spec.{problem.path}" if problem.path else "spec"
                errors.append(ManifestError(problem.message, location=resource.location_of(path), path=path))
    return errors


def _claimed_address(value: Any, known_providers: Collection[str]) -> list[Address]:
    """The address an invalid document meant to define, when it can be told (else nothing)."""
    try:
        provider = value["apiVersion"].partition("/")[0]
        address = Address(provider, value["kind"], value["metadata"]["name"])
    except (TypeError, KeyError, AttributeError):
        return []
    return [address] if provider in known_providers and isinstance(address.name, str) else []


def _dangling_references(
    resources: list[DesiredResource], invalid: set[Address], failed_prefixes: tuple[str, ...] = ()
) -> list[InputError]:
    known = {r.address for r in resources}
    known_text = sorted(str(a) for a in known)
    errors: list[InputError] = []
    for resource in resources:
        if resource.ref_keys == ():  # holds no reference (computed once, reused by the plan)
            continue
        for path, ref in graph.ref_fields(resource.spec):
            if ref.target in known or ref.target in invalid or ref.target.name.startswith(failed_prefixes or ("\0",)):
                continue
            close = difflib.get_close_matches(str(ref.target), known_text, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            errors.append(
                ReferenceError_(
                    f"reference to {ref.target}, which no manifest defines{hint}",
                    location=resource.location_of(path),
                    path=path,
                )
            )
    return errors
