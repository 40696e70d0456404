"""The dependency graph of desired resources, built from their ``{ref: ...}`` references.

A resource depends on every resource its spec refers to. :func:`order` gives a deterministic
topological order (dependencies first; ties broken by address, so the result does not depend
on file or document order). A cycle raises :class:`reconciler.errors.CycleError` naming the
path ``a -> b -> a`` and where each reference is written. References to addresses outside the
given resources are ignored here (the manifest loader reports dangling references).

- :func:`dependents`: everything that transitively depends on an address (skipped when that
  address fails to apply).
- :func:`with_dependencies`: targets plus everything they transitively need (``--target``).
  Targets that are not among the resources are ignored: they may exist only in state.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from reconciler.errors import CycleError
from reconciler.model import Address, DesiredResource, Ref


def ref_fields(value: Any, path: str = "spec") -> Iterator[tuple[str, Ref]]:
    """Every Ref in a spec with its dotted field path (``spec.members.0.org_id``), in document order."""
    if isinstance(value, Ref):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from ref_fields(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from ref_fields(item, f"{path}.{index}")


def _edges(resources: Sequence[DesiredResource]) -> dict[Address, list[Address]]:
    """address -> sorted addresses it depends on (only those among ``resources``)."""
    known = {r.address for r in resources}
    return {r.address: sorted(a for a in r.references if a in known) for r in resources}


def order(resources: Sequence[DesiredResource]) -> list[DesiredResource]:
    """Dependencies before dependents; among ready resources, the smallest address first."""
    by_address = {r.address: r for r in resources}
    deps = _edges(resources)
    waiting = {a: len(d) for a, d in deps.items()}
    users: dict[Address, list[Address]] = {a: [] for a in deps}
    for address, needed in deps.items():
        for dep in needed:
            users[dep].append(address)
    ready = [a for a, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    result: list[DesiredResource] = []
    while ready:
        address = heapq.heappop(ready)
        result.append(by_address[address])
        for user in users[address]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, user)
    if len(result) < len(by_address):
        remaining = {a for a, n in waiting.items() if n > 0}
        raise _cycle_error(_find_cycle(remaining, deps), by_address)
    return result


def _find_cycle(remaining: set[Address], deps: Mapping[Address, list[Address]]) -> list[Address]:
    """A cycle among ``remaining`` (each of which waits on another remaining one), canonical form.

    Starting from the smallest address, follow the smallest remaining dependency until an
    address repeats; the cycle is rotated to start at its smallest address.
    """
    walk: list[Address] = []
    seen: dict[Address, int] = {}
    current = min(remaining)
    while current not in seen:
        seen[current] = len(walk)
        walk.append(current)
        current = min(d for d in deps[current] if d in remaining)
    cycle = walk[seen[current] :]
    start = cycle.index(min(cycle))
    return cycle[start:] + cycle[:start]


def _cycle_error(cycle: list[Address], by_address: Mapping[Address, DesiredResource]) -> CycleError:
    hops = []
    first_location = None
    first_path = ""
    for index, address in enumerate(cycle):
        target = cycle[(index + 1) % len(cycle)]
        resource = by_address[address]
        path = next((p for p, ref in ref_fields(resource.spec) if ref.target == target), "spec")
        location = resource.location_of(path)
        if first_location is None:
            first_location, first_path = location, path
        hops.append(f"{address} {path} at {location}")
    names = " -> ".join(str(a) for a in [*cycle, cycle[0]])
    return CycleError(
        f"dependency cycle: {names} ({'; '.join(hops)})", location=first_location, path=first_path
    )


def dependents(resources: Sequence[DesiredResource], address: Address) -> set[Address]:
    """Every address that depends on ``address``, directly or transitively (not itself)."""
    users: dict[Address, set[Address]] = {}
    for resource in resources:
        for dep in resource.references:
            users.setdefault(dep, set()).add(resource.address)
    found: set[Address] = set()
    stack = [address]
    while stack:
        for user in users.get(stack.pop(), ()):
            if user not in found:
                found.add(user)
                stack.append(user)
    found.discard(address)
    return found


def with_dependencies(
    resources: Sequence[DesiredResource], targets: Collection[Address]
) -> list[DesiredResource]:
    """The targets and everything they transitively depend on, in :func:`order`."""
    by_address = {r.address: r for r in resources}
    selected: set[Address] = set()
    stack = [t for t in targets if t in by_address]
    while stack:
        address = stack.pop()
        if address in selected:
            continue
        selected.add(address)
        stack.extend(a for a in by_address[address].references if a in by_address)
    return order([r for r in resources if r.address in selected])
