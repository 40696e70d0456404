"""The unmanaged scan of ``drift``: live objects under managed parents that no state holds (made
in the console, by a colleague, or left by a crash), each with its parent's address and the live
value that names it. One listing per managed parent and child kind, run concurrently; kinds that
opt out (``KindInfo.scan_unmanaged``) and read-only kinds are not listed. Objects the API made
itself for the API user (a provider's ``keep_reason``: its own room membership) are not
"unmanaged"; switched-off ones are marked ``inactive`` (counted apart).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.drift import UnmanagedObject
from reconciler.jobs import bind, run_concurrently
from reconciler.model import LiveObject
from reconciler.providers.base import KindInfo, Provider
from reconciler.state.base import StateSnapshot


def find_unmanaged(snapshot: StateSnapshot, provider_of: Callable[[str], Provider]) -> list[UnmanagedObject]:
    """Children of managed parents that the state does not know, with their parent."""
    managed_ids = {(rs.provider, rs.kind, rs.remote_id) for rs in snapshot.resources.values()}
    parents: dict[tuple[str, str, str], str] = {
        (rs.provider, rs.kind, rs.remote_id): address for address, rs in snapshot.resources.items()
    }
    jobs: list[tuple[str, Callable[[], Any]]] = []
    owners: dict[str, tuple[str, str]] = {}
    for provider_name in sorted({p for p, _, _ in parents}):
        provider = provider_of(provider_name)
        for kind, info in sorted(provider.kinds.items()):
            parent_kind = None if info.read_only or not info.scan_unmanaged else _parent_kind(provider, info)
            if parent_kind is None:
                continue
            for (p, k, parent_id), parent_address in sorted(parents.items()):
                if (p, k) == (provider_name, parent_kind):
                    key = f"{provider_name}|{kind}|{parent_id}"
                    owners[key] = (provider_name, parent_address)
                    jobs.append((key, bind(provider.list_children, kind, parent_id)))
    results = run_concurrently(jobs)
    out: list[UnmanagedObject] = []
    for key in sorted(results):
        provider_name, parent_address = owners[key]
        provider = provider_of(provider_name)
        for obj in results[key]:
            if provider.keep_reason(obj.kind, obj) is not None:
                continue  # the API user's own access, made by the API with its parent: not "unmanaged"
            if (provider_name, obj.kind, obj.remote_id) not in managed_ids:
                out.append(UnmanagedObject(
                    provider=provider_name, live=obj, parent=parent_address,
                    name=_live_name(provider.kinds.get(obj.kind), obj),
                    inactive=provider.switched_off(obj.kind, obj),
                ))
    return out


def _live_name(info: KindInfo | None, obj: LiveObject) -> str | None:
    """What names a live object that has no address: its ``name``, else the first natural-key
    field that is not its parent (a question's ``title``, a partner's e-mail, a flight's start)."""
    keys = ("name", *(info.natural_key if info else ()))
    for key in keys:
        if info is not None and key == info.parent_field:
            continue
        value = obj.fields.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _parent_kind(provider: Provider, info: KindInfo) -> str | None:
    """The kind a ``parent_field`` points at: explicit, or ``campaign_id`` -> ``Campaign``."""
    if info.parent_kind:
        return info.parent_kind
    stem = (info.parent_field or "").removesuffix("_id").replace("_", "")
    for name in provider.kinds:
        if name.lower() == stem.lower():
            return name
    return None
