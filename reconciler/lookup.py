"""Natural-key lookup: which desired resources already exist live although the state does not
know them. Run by the engine during refresh, before the plan is built; the plan adopts what it
finds instead of creating a second copy (DESIGN §4, "nothing is created twice").

Every desired resource that is not in state is looked up by its kind's natural key (name under
its parent, or what the kind declares) through :meth:`Provider.find_existing`, batched per kind
and per parent like refresh. Lookups run in rounds down the resource tree: a strategy can only
exist if its campaign does, so a child is looked up once its parent's id is known, from state or
because the parent itself was found in an earlier round. A child whose parent will be created is
not looked up at all.

Live objects that the state already manages under another address never match (two documents may
deliberately describe two objects with one name). What the lookup cannot settle is reported, not
guessed: several live objects for one address, or one live object claimed by two addresses, are
:class:`Ambiguity` values that the engine turns into an error naming every id and the ``import``
command that picks one.

The same :meth:`Provider.find_existing` serves crash recovery (:mod:`reconciler.apply.recovery`)
and the re-check after a failed create in the executor: one mechanism.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.jobs import bind
from reconciler.model import DesiredResource, LiveObject, iter_refs, resolve_refs
from reconciler.providers.base import Finding, PlannedWrite, Provider, Severity
from reconciler.state.base import StateSnapshot

# (job key, callable) pairs run concurrently by the caller; results come back by key
Jobs = list[tuple[str, Callable[[], Any]]]
RunJobs = Callable[[Jobs], Mapping[str, Any]]


@dataclass(frozen=True)
class Ambiguity:
    """An address the lookup could not settle: several live objects match it, or the one live
    object that matches it also matches ``shared_with`` (other addresses)."""

    address: str
    matches: tuple[LiveObject, ...]
    shared_with: tuple[str, ...] = ()

    def text(self) -> str:
        """One ambiguity as the user reads it: every candidate and the command that picks one."""
        ids = ", ".join(f"{m.remote_id} ({m.status})" if m.status else m.remote_id for m in self.matches)
        if self.shared_with:
            return (f"  {self.address}: its natural key matches live object {ids}, which "
                    f"{', '.join(self.shared_with)} also matches; give each document its own name, or "
                    f"'reconciler import {self.address} {self.matches[0].remote_id}' for the one that should own it")
        return (f"  {self.address}: {len(self.matches)} live objects match its natural key: {ids}; pick one with "
                f"'reconciler import {self.address} ID'")


@dataclass(frozen=True)
class LookupResult:
    found: Mapping[str, LiveObject]  # address -> the one live object its natural key matches
    ambiguous: tuple[Ambiguity, ...] = ()


def look_up_existing(
    desired: Sequence[DesiredResource],
    snapshot: StateSnapshot,
    provider: Callable[[str], Provider],
    run: RunJobs,
    *,
    wanted: Callable[[DesiredResource], bool] = lambda d: True,
) -> LookupResult:
    """Find the live objects of ``desired`` resources missing from ``snapshot`` (see the module
    docstring). ``wanted`` limits which resources are looked up (``--target``, or only read-only
    kinds and crash leftovers when adoption is off); ``run`` executes jobs concurrently."""
    ids = {address: rs.remote_id for address, rs in snapshot.resources.items()}
    managed = {(rs.provider, rs.kind, rs.remote_id) for rs in snapshot.resources.values()}
    pending = {str(d.address): d for d in desired if str(d.address) not in ids and wanted(d)}
    found: dict[str, LiveObject] = {}
    ambiguous: list[Ambiguity] = []
    claims: dict[tuple[str, str, str], list[str]] = {}  # live object -> the addresses it matched
    while pending:
        ready: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
        for address, d in sorted(pending.items()):
            spec = resolve_refs(d.spec, ids, keep_unknown=True)
            unresolved = {str(r.target) for r in iter_refs(spec)}
            if not unresolved:
                ready.setdefault((d.address.provider, d.address.kind), []).append((address, spec))
            elif not unresolved & pending.keys():
                pending.pop(address)  # something it refers to will be created: so will it
        if not ready:
            break
        jobs: Jobs = []
        for (provider_name, kind), items in sorted(ready.items()):
            specs = [spec for _, spec in items]
            jobs.append((f"{provider_name}.{kind}", bind(provider(provider_name).find_existing, kind, specs)))
        results = run(jobs)
        for (provider_name, kind), items in sorted(ready.items()):
            for (address, _), matches in zip(items, results[f"{provider_name}.{kind}"], strict=True):
                pending.pop(address)
                fresh = [m for m in matches if (provider_name, kind, m.remote_id) not in managed]
                if len(fresh) > 1:
                    ambiguous.append(Ambiguity(address, tuple(fresh)))
                elif fresh:
                    found[address] = fresh[0]
                    claims.setdefault((provider_name, kind, fresh[0].remote_id), []).append(address)
        ids.update({address: live.remote_id for address, live in found.items()})
    for addresses in claims.values():
        if len(addresses) > 1:  # one live object, several documents: adopting it twice is wrong
            for address in addresses:
                others = tuple(a for a in addresses if a != address)
                ambiguous.append(Ambiguity(address, (found.pop(address),), others))
    return LookupResult(found, tuple(sorted(ambiguous, key=lambda a: a.address)))


def unfindable_creates(provider: Provider, writes: Sequence[PlannedWrite]) -> list[Finding]:
    """A warning for each planned create that could not be found again if it were interrupted."""
    out: list[Finding] = []
    for w in writes:
        info = provider.kinds.get(w.kind)
        if w.action in ("create", "replace") and info is not None and not info.findable(w.after):
            fields = " or ".join(info.findable_with)
            out.append(Finding(
                w.address, Severity.WARNING,
                f"created without {fields}: the API cannot find such a {w.kind} again, so if this create is "
                f"interrupted the next run cannot tell whether it landed (set {fields} to make it findable)",
            ))
    return out
