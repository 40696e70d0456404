"""``Moved`` documents: renames of managed addresses, declared in the manifests.

```yaml
apiVersion: reconciler/v1
kind: Moved
metadata: {name: rename-summer-sale}     # optional, for people reading the file
spec:
  from: mediamath.Campaign/summer-sale
  to: mediamath.Campaign/summer-sale-2026
```

A ``Moved`` document sits in any manifest file beside the resources. When planning, the state
entry at ``from`` is treated as if it were at ``to`` (same remote id: no create, no delete);
``apply`` then renames it in the state for good (see :mod:`reconciler.moves`). Like Terraform's
``moved`` block, keep the document while anyone may still hold a state with the old address.

A ``for_each`` makes one move per item (``from: "mediamath.Strategy/${each.key}-old"``), as on
any document (:mod:`.generate`): the loader expands it before :func:`parse_moved` sees it.

Checks here (each names file, line and field): the document's shape (:data:`MOVED_SCHEMA`),
full ``provider.Kind/name`` addresses, ``from`` differing from ``to``, the same provider and kind
on both sides; across documents: one move per ``from`` and per ``to``, and no cycles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import InputError, Location, ManifestError
from reconciler.manifest import schemacheck
from reconciler.manifest.yamlsource import SourceDocument
from reconciler.model import Address
from reconciler.providers.base import load_schema

API_VERSION = "reconciler/v1"
KIND = "Moved"
MOVED_SCHEMA: Mapping[str, Any] = load_schema("moved.schema.json")  # the editors' schema is the one checked
_VALIDATOR = schemacheck.validator_for(  # for_each is expanded before a document is checked
    {**MOVED_SCHEMA, "properties": {k: v for k, v in MOVED_SCHEMA["properties"].items() if k != "for_each"}}
)


@dataclass(frozen=True)
class MovedEntry:
    """One declared move, with where it was declared (for messages)."""

    source: Address
    target: Address
    location: Location

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}"


def is_moved(value: Any) -> bool:
    """True for a document meant as a ``Moved`` entry (``apiVersion: reconciler/v1``)."""
    return isinstance(value, Mapping) and value.get("apiVersion") == API_VERSION


def parse_moved(doc: SourceDocument) -> MovedEntry:
    """Validate one ``reconciler/v1`` document and return its move."""
    value = doc.value
    if value.get("kind") != KIND:
        raise ManifestError(
            f"kind {value.get('kind')!r} is not a manifest kind of apiVersion {API_VERSION} "
            f"(kinds: Defaults, Group, {KIND}, Use; the workspace file must be named reconciler.yaml)",
            location=doc.location("kind"),
            path="kind",
        )
    error = schemacheck.pick(_VALIDATOR.iter_errors(value))
    if error is not None:
        path = schemacheck.field_path(error)
        text = schemacheck.message(error)
        if error.validator == "pattern" and path in ("spec.from", "spec.to"):
            text = f"{text.split(' does not match')[0]} is not an address of the form provider.Kind/name"
        raise ManifestError(text, location=doc.location(path), path=path)
    source = Address.parse(value["spec"]["from"])
    target = Address.parse(value["spec"]["to"])
    if source == target:
        raise ManifestError(
            "'from' and 'to' are the same address", location=doc.location("spec.to"), path="spec.to"
        )
    if (source.provider, source.kind) != (target.provider, target.kind):
        raise ManifestError(
            f"a move keeps the provider and kind: {source.provider}.{source.kind} cannot become "
            f"{target.provider}.{target.kind} (a different kind is a different object: import it instead)",
            location=doc.location("spec.to"),
            path="spec.to",
        )
    return MovedEntry(source, target, doc.location("spec.from"))


def check_entries(entries: Sequence[MovedEntry]) -> list[InputError]:
    """Problems across documents: a second move of the same ``from`` or to the same ``to``,
    and chains that come back to where they started."""
    errors: list[InputError] = []
    by_source: dict[Address, MovedEntry] = {}
    by_target: dict[Address, MovedEntry] = {}
    for entry in entries:
        seen = by_source.get(entry.source)
        if seen is not None:
            errors.append(
                ManifestError(
                    f"{entry.source} is moved twice (also at {seen.location})",
                    location=entry.location,
                    path="spec.from",
                )
            )
            continue
        seen = by_target.get(entry.target)
        if seen is not None:
            errors.append(
                ManifestError(
                    f"two moves lead to {entry.target} (also at {seen.location})",
                    location=entry.location,
                    path="spec.to",
                )
            )
            continue
        by_source[entry.source] = entry
        by_target[entry.target] = entry
    reported: set[Address] = set()
    for start in sorted(by_source):
        chain = [start]
        here = by_source[start].target
        while here in by_source and here not in chain:
            chain.append(here)
            here = by_source[here].target
        if here == start and start not in reported:
            reported.update(chain)
            path = " -> ".join(str(a) for a in [*chain, start])
            errors.append(
                ManifestError(
                    f"moves form a cycle: {path}", location=by_source[start].location, path="spec.from"
                )
            )
    return errors


def final_targets(entries: Sequence[MovedEntry]) -> dict[Address, tuple[Address, MovedEntry]]:
    """For every ``from``, the end of its chain (``a -> b``, ``b -> c`` gives ``a: c``) and the
    entry that starts it. Entries must have passed :func:`check_entries`."""
    by_source = {e.source: e for e in entries}
    out: dict[Address, tuple[Address, MovedEntry]] = {}
    for source, entry in by_source.items():
        here = entry.target
        seen = {source}
        while here in by_source and here not in seen:
            seen.add(here)
            here = by_source[here].target
        out[source] = (here, entry)
    return out
