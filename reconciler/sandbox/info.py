"""What the sandbox holds, for people: each emulator's path, demo credentials and seeds.

Every :class:`~reconciler.sandbox.base.Emulator` answers :meth:`describe` with an
:class:`EmulatorInfo`, built from the same constants its seeds load (so it cannot drift from them);
``reconciler sandbox info`` prints them, and the README's sandbox table says the same. Values only:
no I/O, nothing rendered here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One object a seed loads: ``organization 100048 "ACME Org"`` and what it is there for."""

    kind: str
    id: str
    name: str
    note: str = ""


@dataclass(frozen=True)
class SeedInfo:
    """A seed (``default`` is what every reset loads) and what it contains."""

    name: str
    summary: str
    entries: tuple[Entry, ...] = ()


@dataclass(frozen=True)
class EmulatorInfo:
    """One emulator as a newcomer needs it: where it is, what it stands for, how to log in."""

    api: str  # the name /_sandbox/seed and the counters use
    path: str  # where the API is below the sandbox's URL, e.g. /mediamath/reporting/v2
    title: str
    stands_for: str  # the vendor's URL that path replaces
    credentials: tuple[tuple[str, str], ...]  # demo credentials (sandbox-only, published on purpose)
    seeds: tuple[SeedInfo, ...]
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "api": self.api,
            "path": self.path,
            "title": self.title,
            "stands_for": self.stands_for,
            "credentials": dict(self.credentials),
            "seeds": [
                {
                    "name": seed.name,
                    "summary": seed.summary,
                    "entries": [
                        {"kind": e.kind, "id": e.id, "name": e.name, **({"note": e.note} if e.note else {})}
                        for e in seed.entries
                    ],
                }
                for seed in self.seeds
            ],
            "notes": list(self.notes),
        }
