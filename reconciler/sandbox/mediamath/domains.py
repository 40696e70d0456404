"""Domain restrictions of strategies in the MediaMath v2.0 emulator.

``POST /strategies/{id}/domain_restrictions`` (reference §1.5 names the endpoint, not its form; the
sandbox takes ``domains.N.domain`` and ``domains.N.restriction`` (INCLUDE or EXCLUDE, the values of
the SDK's ``StrategyDomain.restriction``), N from 1). Each POST **replaces** the strategy's set (an
empty POST clears it), has no version, and answers the strategy's ``strategy_domain_restrictions``
(``id, strategy_id, domain, restriction``; listed like any collection, ``/limit/strategy=<id>,<id>``).
A domain is a host name (letters, digits, hyphens, dots; at least one dot), kept lower-case; one
both included and excluded, a bad restriction or an unknown field is a 400 ``invalid`` with
field-errors, and nothing is written. A change adds one ``update`` entry to the strategy's
``/history`` (fields ``domain_restrictions.include`` / ``.exclude``, old and new domains).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.sandbox.mediamath.models import FieldError
from reconciler.sandbox.mediamath.repo import API, Repo, ValidationFailed, history_entry
from reconciler.sandbox.mediamath.values import now_text

LINKS = "strategy_domain_restrictions"
RESTRICTIONS = ("INCLUDE", "EXCLUDE")
_KEY = re.compile(r"^domains\.(\d+)\.(domain|restriction)$")
_HOST = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class DomainRestrictions:
    """Writes of strategies' domain restrictions (the handlers' logic; no HTTP here)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def of(self, strategy_id: int) -> list[dict[str, Any]]:
        return sorted((d for d in self.repo.all(LINKS) if d.get("strategy_id") == strategy_id), key=lambda d: d["id"])

    def write(self, strategy: Mapping[str, Any], form: Mapping[str, Any], user: Mapping[str, Any]) -> None:
        """Replace the strategy's domain restrictions with the submitted ones (validated whole first)."""
        errors: list[FieldError] = []
        submitted: dict[int, dict[str, str]] = {}
        for key, raw in form.items():
            match = _KEY.match(key)
            if match:
                submitted.setdefault(int(match[1]), {})[match[2]] = "" if raw is None else str(raw).strip()
            elif key not in ("api_key", "version"):
                errors.append(FieldError(key, "is not a field of strategy domain restrictions"))
        wanted: dict[str, str] = {}
        for n in sorted(submitted):
            domain = submitted[n].get("domain", "").lower()
            restriction = (submitted[n].get("restriction") or "").upper()
            if not _HOST.match(domain):
                errors.append(FieldError(f"domains.{n}.domain", f"{domain!r} is not a domain" if domain else "is required"))
            elif restriction not in RESTRICTIONS:
                errors.append(FieldError(f"domains.{n}.restriction", "must be INCLUDE or EXCLUDE"))
            elif wanted.get(domain, restriction) != restriction:
                errors.append(FieldError(f"domains.{n}.domain", f"{domain} is both included and excluded"))
            else:
                wanted[domain] = restriction
        if errors:
            raise ValidationFailed(errors)
        sid = int(strategy["id"])
        current = self.of(sid)
        before = _lists((d["domain"], d["restriction"]) for d in current)
        after = _lists(wanted.items())
        if before == after:
            return
        now = now_text()
        for doc in current:
            self.repo.store.delete(API, LINKS, int(doc["id"]))
        for domain, restriction in sorted(wanted.items()):
            self.repo.put(LINKS, {"id": self.repo.new_id(LINKS), "name": None, "version": 0, "created_on": now,
                                  "updated_on": now, "strategy_id": sid, "domain": domain, "restriction": restriction})
        changes = [{"name": f"domain_restrictions.{lst.lower()}", "old_value": ",".join(before[lst]),
                    "new_value": ",".join(after[lst])} for lst in RESTRICTIONS if before[lst] != after[lst]]
        self.repo.add_history("strategies", strategy, history_entry("update", now, user, changes))


def _lists(pairs: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {lst: [] for lst in RESTRICTIONS}
    for domain, restriction in pairs:
        out[restriction].append(domain)
    return {k: sorted(v) for k, v in out.items()}
