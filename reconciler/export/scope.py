"""Export scopes and the walk below them (reads only).

A scope word naming one of the provider's kinds (``advertiser`` -> ``Advertiser``; case, ``_``,
``-`` and a trailing ``_id`` do not matter, ``organisation``/``organization`` are one word) makes
that object the root, exported too; a word naming a parent field (``organisation`` ->
``organisation_id``) selects every object whose parent field holds the id. :func:`collect` then
lists, level by level, every kind whose ``parent_field`` points at an exported kind under each
exported object (``Provider.read`` and ``Provider.list_children`` only).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.errors import InputError
from reconciler.model import LiveObject
from reconciler.providers.base import KindInfo, Provider


@dataclass(frozen=True)
class Scope:
    """A scope as given: ``word`` (``advertiser``, ``Cleanroom``, ``organisation``) and an id."""

    word: str
    remote_id: str

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``Kind=ID`` (the ``--scope`` option)."""
        word, sep, remote_id = text.partition("=")
        if not sep or not word.strip() or not remote_id.strip():
            raise InputError(f"--scope {text!r}: expected Kind=ID (e.g. Advertiser=10)")
        return cls(word.strip(), remote_id.strip())

    def __str__(self) -> str:
        return f"{self.word}={self.remote_id}"


@dataclass(frozen=True)
class ScopeRoot:
    """A resolved scope: an object of ``kind``, or the children whose ``parent_field`` is the id."""

    remote_id: str
    kind: str | None = None
    parent_field: str | None = None


def squash(text: str) -> str:
    return re.sub(r"[_\-\s]", "", text).lower()


def variants(word: str) -> set[str]:
    w = squash(word.strip().removesuffix("_id"))
    return {w, w.replace("isation", "ization"), w.replace("ization", "isation")}


def parent_kind(provider: Provider, info: KindInfo) -> str | None:
    """The kind a ``parent_field`` points at (``campaign_id`` -> ``Campaign``), if the provider has it."""
    if not info.parent_field:
        return None
    stem = squash(info.parent_field.removesuffix("_id"))
    for name in sorted(provider.kinds):
        if squash(name) == stem:
            return name
    return None


def resolve_scope(provider: Provider, scope: Scope) -> ScopeRoot:
    words = variants(scope.word)
    for name in sorted(provider.kinds):
        if squash(name) in words:
            return ScopeRoot(scope.remote_id, kind=name)
    for _, info in sorted(provider.kinds.items()):
        if info.parent_field and squash(info.parent_field.removesuffix("_id")) in words:
            return ScopeRoot(scope.remote_id, parent_field=info.parent_field)
    kinds = ", ".join(sorted(provider.kinds))
    fields = sorted({i.parent_field for i in provider.kinds.values() if i.parent_field})
    parents = f"; or a parent field: {', '.join(f.removesuffix('_id') for f in fields)}" if fields else ""
    raise InputError(
        f"provider '{provider.name}' has no scope '{scope.word}': use --scope Kind=ID with one of its kinds "
        f"({kinds}){parents}"
    )


# -- walking -------------------------------------------------------------------------------------
def children_of(provider: Provider, kind: str | None, parent_field: str | None = None) -> list[str]:
    """Kinds listed under an object of ``kind`` (or under a bare ``parent_field`` id)."""
    out = []
    for name, info in sorted(provider.kinds.items()):
        under_kind = kind is not None and name != kind and parent_kind(provider, info) == kind
        under_field = kind is None and parent_field is not None and info.parent_field == parent_field
        if under_kind or under_field:
            out.append(name)
    return out


def collect(provider: Provider, roots: Sequence[ScopeRoot]) -> list[LiveObject]:
    """Every object under the scopes, parents before children, without duplicates. Reads only."""
    found: dict[tuple[str, str], LiveObject] = {}
    queue: list[LiveObject] = []

    def add(obj: LiveObject) -> None:
        key = (obj.kind, obj.remote_id)
        if key not in found:
            found[key] = obj
            queue.append(obj)

    for root in roots:
        if root.kind is not None:
            live = provider.read(root.kind, [root.remote_id]).get(root.remote_id)
            if live is None:
                raise InputError(
                    f"{provider.name} has no {root.kind} with id {root.remote_id} (or it is not visible)"
                )
            add(live)
        else:
            for kind in children_of(provider, None, root.parent_field):
                for obj in provider.list_children(kind, root.remote_id):
                    add(obj)
    position = 0
    while position < len(queue):
        parent = queue[position]
        position += 1
        for kind in children_of(provider, parent.kind):
            for obj in provider.list_children(kind, parent.remote_id):
                add(obj)
    return queue
