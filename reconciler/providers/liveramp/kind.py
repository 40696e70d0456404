"""The contract between :class:`~reconciler.providers.liveramp.provider.LiveRampProvider` and
the per-kind translators (``data``, ``rooms``, ``questions``).

A :class:`Kind` knows one resource type: its :class:`KindInfo`, how to read live objects in
batches, find existing ones by natural key, normalise a desired spec, and create/update/delete it. Updates
re-read the object first: the API has no versions, so the write is guarded by comparing the
fingerprint of the normalised live object with the precondition the plan recorded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from reconciler.errors import NotFoundError, ProviderError
from reconciler.model import LiveObject
from reconciler.providers.base import (
    KindInfo,
    Precondition,
    PreconditionFailed,
    PreconditionKind,
    match_natural_keys,
)
from reconciler.providers.liveramp.client import LiveRampClient
from reconciler.providers.liveramp.convert import split_id


class Kind(ABC):
    info: KindInfo

    def __init__(self, client: LiveRampClient) -> None:
        self.client = client

    @property
    def name(self) -> str:
        return self.info.name

    @abstractmethod
    def read(self, remote_ids: Sequence[str]) -> dict[str, LiveObject]: ...

    @abstractmethod
    def list_children(self, parent_id: str | None) -> list[LiveObject]: ...

    def read_under_parents(
        self, remote_ids: Sequence[str], list_under: Callable[[str], Iterable[LiveObject]]
    ) -> dict[str, LiveObject]:
        """Batched read of ``<parent id>:<id>`` objects the API lists only under their parent:
        one list call per parent (concurrently); a parent gone since (404) has no children."""
        wanted = set(remote_ids)
        parents = sorted({split_id(remote_id, self.name)[0] for remote_id in remote_ids})

        def listed(parent: str) -> list[LiveObject]:
            try:
                return list(list_under(parent))
            except NotFoundError:  # the parent itself is gone
                return []

        return {
            live.remote_id: live
            for children in self.client.fan_out(listed, parents)
            for live in children
            if live.remote_id in wanted
        }

    def find_all(self, specs: Sequence[Mapping[str, Any]]) -> list[list[LiveObject]]:
        """For each spec, the live objects its natural key matches: one ``list_children`` per
        parent, parents concurrently (``list_children`` must then not fan out itself)."""
        return match_natural_keys(self.info, [self.normalize(s) for s in specs], self.list_children, self.client.fan_out)

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return dict(spec)

    @abstractmethod
    def create(self, spec: Mapping[str, Any]) -> LiveObject: ...

    @abstractmethod
    def write(self, current: LiveObject, desired: dict[str, Any]) -> LiveObject:
        """Send ``desired`` (the full normalised spec: live fields with the changes applied)."""

    @abstractmethod
    def delete(self, current: LiveObject) -> None: ...

    # -- shared ----------------------------------------------------------------------------------
    def read_one(self, remote_id: str) -> LiveObject:
        found = self.read([remote_id]).get(remote_id)
        if found is None:
            raise NotFoundError(f"liveramp {self.name} {remote_id} no longer exists")
        return found

    def guarded(self, remote_id: str, precondition: Precondition) -> LiveObject:
        """Re-read and check a fingerprint precondition just before a write."""
        current = self.read_one(remote_id)
        if precondition.kind is PreconditionKind.FINGERPRINT and precondition.value not in (None, current.fingerprint):
            raise PreconditionFailed(
                f"liveramp {self.name} {remote_id} changed since it was read (fingerprint {precondition.value} -> {current.fingerprint})",
                current=current,
            )
        return current

    def update(self, remote_id: str, changes: Mapping[str, Any], precondition: Precondition) -> LiveObject:
        current = self.guarded(remote_id, precondition)
        immutable = sorted(k for k in changes if k in self.info.immutable_fields and changes[k] != current.fields.get(k))
        if immutable:
            raise ProviderError(f"liveramp {self.name} {remote_id}: {', '.join(immutable)} cannot change in place (replace it)")
        desired = self.normalize({**current.fields, **changes})
        return self.write(current, desired)

    def remove(self, remote_id: str, precondition: Precondition) -> None:
        self.delete(self.guarded(remote_id, precondition))
