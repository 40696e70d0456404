"""``reconciler drift --accept [ADDRESS...]``: take drift in, by writing live values into the manifests.

For each changed field drift reports (of the addresses given, else all), the live value is
written into the manifest document that sets it, in place (:mod:`reconciler.manifest.edit`:
comments, order and layout of everything else stay byte for byte), and the state records it as
the last apply (:func:`reconciler.baseline.rebaseline`), so the next ``plan`` and ``drift`` are
empty for it. Refused, each with the reason, where writing the value is not the user's to skip:

- the document is generated (``for_each``, a group): the reason names where the value comes
  from: the object's own data row or item (``strategies.csv:34``: edit that row), an expression
  over it, or the template every object made from it shares;
- the field comes from a ``Defaults`` document (it applies to other objects too);
- the value is written as an expression or variable (``${...}``), a reference, or through a YAML
  anchor or merge key; the field is not written in the document;
- the object was deleted outside reconciler, or its document was removed.

A status only the API changes (an invitation accepted) has nothing to write: the state records
it (``where`` is ``state``).

All edits are made in memory and read back first; files are then replaced atomically and the
manifests loaded again. If they no longer load (a value the schema refuses), every file is put
back as it was and nothing is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.baseline import STATUS_PATH, rebaseline
from reconciler.diff import project, top_field
from reconciler.drift import DriftItem, DriftStatus, FieldDrift
from reconciler.errors import InputError, ReconcilerError
from reconciler.fsutil import atomic_write
from reconciler.manifest.edit import EditRefused, FieldEdit, edit_text, written_text
from reconciler.manifest.yamlsource import read_text
from reconciler.model import DesiredResource, parse_field_path
from reconciler.schematype import typed_at

if TYPE_CHECKING:
    from reconciler.engine import DriftRun, Workspace


@dataclass(frozen=True)
class Accepted:
    """A live value written into a manifest (``where`` is its ``file:line``)."""

    address: str
    path: str
    applied: Any
    live: Any
    where: str
    changed_by: str | None = None
    changed_at: str | None = None


@dataclass(frozen=True)
class Refused:
    address: str
    path: str | None
    reason: str


@dataclass(frozen=True)
class Acceptance:
    accepted: tuple[Accepted, ...]
    refused: tuple[Refused, ...]
    files: tuple[str, ...]  # the manifest files rewritten


@dataclass(frozen=True)
class _Candidate:
    item: DriftItem
    field: FieldDrift
    resource: DesiredResource
    file: Path
    edit: FieldEdit
    applied: Any  # the last-applied value, typed like the value written (for the report)


def accept_drift(ws: Workspace, run: DriftRun, paths: Sequence[Path] = ()) -> Acceptance:
    """Write the live values of ``run``'s changed fields into the manifests and record them in
    state (the caller holds the state lock)."""
    if run.renamed:
        raise InputError("the manifests rename managed objects (Moved documents) that the state does not know by "
                         "their new address yet: run 'reconciler apply' first, then accept the drift")
    desired = {str(r.address): r for r in run.desired}
    refused: list[Refused] = []
    candidates: list[_Candidate] = []
    status: list[Accepted] = []  # a status only the API sets, recorded with the object's baseline
    for item in run.report.items:
        if item.status is DriftStatus.MISSING:
            refused.append(Refused(item.address, None, "deleted outside reconciler: there is no live value to take; "
                                   "'reconciler apply' creates it again, or remove its document to let it go"))
        if item.status is not DriftStatus.CHANGED:
            continue
        resource = desired.get(item.address)
        for f in item.fields:
            if f.path == STATUS_PATH and resource is not None:  # nothing to write: the state records it
                status.append(Accepted(item.address, f.path, f.applied, f.live, "state", f.changed_by, f.changed_at))
                continue
            reason = _refusal(ws, f, resource)
            if reason or resource is None:
                refused.append(Refused(item.address, None if f.path == STATUS_PATH else f.path, reason))
                continue
            candidates.append(_candidate(ws, run, item, f, resource))
    accepted, more_refused, files = _write(ws, candidates, paths)
    accepted += status
    refused += more_refused
    _record(ws, run, accepted)
    return Acceptance(tuple(accepted), tuple(refused), tuple(files))


def _refusal(ws: Workspace, f: FieldDrift, resource: DesiredResource | None) -> str:
    if resource is None:
        return "its document is no longer in the manifests (the next apply removes the object)"
    if top_field(f.path) in resource.defaulted:
        return ("its value comes from a Defaults document, which applies to other objects too; change the "
                "default, or write the field in this document")
    if resource.generated:
        return _generated(ws, f, resource)
    return ""


_EACH = re.compile(r"\$\{[^}]*\beach\.")
_EACH_ONLY = re.compile(r"^\$\{\s*each\.(?:key|value(?:\.(?P<column>[A-Za-z_][A-Za-z0-9_]*))?)\s*\}$")


def _generated(ws: Workspace, f: FieldDrift, resource: DesiredResource) -> str:
    """Why a generated document's value is not written back, naming where it does come from: the
    instance's own data (a CSV row, a list item: edit it there), or the template all share."""
    loc = resource.location
    if not loc.how.startswith("for_each"):
        return (f"it is made by a group ({loc}): the value comes from the group's template or the values "
                "given to it; change it there by hand")
    file = Path(loc.file) if Path(loc.file).is_absolute() else ws.root / loc.file
    try:
        written = written_text(read_text(file, loc.file), loc.file, loc.line, f.path)
    except (OSError, ReconcilerError):
        written = None
    line = resource.field_lines.get(f"spec.{f.path}") or resource.field_lines.get(f"spec.{top_field(f.path)}", loc.line)
    template = f"{loc.file}:{line}"
    if written is None:
        return (f"it is generated ({loc}) and its for_each template does not write spec.{f.path} on its own line; "
                "change it there by hand")
    data = "row" if re.search(r"\.csv:\d+$", loc.origin) else "item"
    if not _EACH.search(written):
        return (f"the value is written in the for_each template ({template}: {written!r}), which every object "
                f"made from it shares; change it there, or take it from each {data}")
    only = _EACH_ONLY.match(written.strip())
    if only:
        column = f", {'column' if data == 'row' else 'field'} {only['column']}" if only["column"] else ""
        return (f"the value comes from {loc.origin} (for_each data of {loc.file}:{loc.line}{column}); "
                f"edit that {data}")
    return (f"the value is computed from {loc.origin} (for_each data of {loc.file}:{loc.line}) by the expression "
            f"{written!r} at {template}; edit that {data} or the expression")


def _candidate(ws: Workspace, run: DriftRun, item: DriftItem, f: FieldDrift, resource: DesiredResource) -> _Candidate:
    rs = run.snapshot.resources[item.address]
    live = run.live.get(item.address)
    top = top_field(f.path)
    applied = ws.provider(rs.provider).normalize(rs.kind, rs.applied_spec)
    whole = project(live.fields.get(top), applied.get(top)) if live is not None else f.live
    file = Path(resource.location.file)
    info = ws.kind_info(rs.provider, rs.kind)
    schema, written = (info.schema if info else None), _written(resource.spec, f.path)
    value = typed_at(schema, f.path, f.live, written)  # 13 stays 13, not "13" (ids are text in state)
    edit = FieldEdit(resource.location.line, f.path, value, whole, ws.list_keys(rs.provider, rs.kind))
    return _Candidate(item, f, resource, file if file.is_absolute() else ws.root / file, edit,
                      typed_at(schema, f.path, f.applied, written))


def _written(spec: Mapping[str, Any], path: str) -> Any:
    """The value the manifest writes at a plain ``a.b`` path (None elsewhere): its type is kept."""
    node: Any = spec
    for part in parse_field_path(path):
        if part.member or not isinstance(node, Mapping):
            return None
        node = node.get(part.key)
    return node


def _write(ws: Workspace, candidates: Sequence[_Candidate], paths: Sequence[Path]) -> tuple[list[Accepted], list[Refused], list[str]]:
    by_file: dict[Path, list[_Candidate]] = {}
    for c in candidates:
        by_file.setdefault(c.file, []).append(c)
    accepted: list[Accepted] = []
    refused: list[Refused] = []
    originals: dict[Path, bytes] = {}
    edited: dict[Path, tuple[bytes, bytes]] = {}
    for file, group in sorted(by_file.items()):
        display = group[0].resource.location.file
        if file.is_symlink():
            refused += [Refused(c.item.address, c.field.path, f"{display} is a symbolic link; edit it by hand")
                        for c in group]
            continue
        original = file.read_bytes()
        text = read_text(file, display)
        new, skipped = edit_text(text, display, [c.edit for c in group])  # raises EditRefused: nothing written
        for index, c in enumerate(group):
            if index in skipped:
                refused.append(Refused(c.item.address, c.field.path, skipped[index]))
            else:
                line = c.resource.field_lines.get(f"spec.{c.field.path}") or c.resource.field_lines.get(
                    f"spec.{top_field(c.field.path)}", c.resource.location.line)
                accepted.append(Accepted(c.item.address, c.field.path, c.applied, c.edit.value,
                                         f"{display}:{line}", c.field.changed_by, c.field.changed_at))
        if new != text:
            bom = b"\xef\xbb\xbf" if original.startswith(b"\xef\xbb\xbf") else b""
            edited[file] = (original, bom + new.encode("utf-8"))
    for file, (original, payload) in edited.items():  # every file edited in memory first
        originals[file] = original
        atomic_write(file, payload, default_mode=0o644)
    if originals:
        try:
            ws.desired(paths)  # the manifests still load and validate
        except ReconcilerError as exc:
            for file, data in originals.items():
                atomic_write(file, data, default_mode=0o644)
            raise EditRefused(f"accepting the live values would leave manifests that do not load, so every file "
                              f"was put back as it was: {exc}") from None
    return accepted, refused, [str(f) for f in sorted(originals)]


def _record(ws: Workspace, run: DriftRun, accepted: Sequence[Accepted]) -> None:
    """The accepted values as last applied (other fields of the object keep theirs)."""
    by_address: dict[str, list[FieldDrift]] = {}
    fields: Mapping[tuple[str, str], FieldDrift] = {
        (i.address, f.path): f for i in run.report.items for f in i.fields
    }
    for a in accepted:
        by_address.setdefault(a.address, []).append(fields[(a.address, a.path)])
    for address, chosen in sorted(by_address.items()):
        rs = run.snapshot.resources[address]
        live = run.live.get(address)
        if live is not None:
            ws.state.record(rebaseline(rs, live, chosen, ws.list_keys(rs.provider, rs.kind)))
