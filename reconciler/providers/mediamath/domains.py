"""The ``domain_restrictions`` block of ``StrategyTargeting``: the domains a strategy buys on or avoids.

Spec: ``domain_restrictions: {include: [domains], exclude: [domains]}``, host names
(``news.example.com``), compared lower-case as sets and owned whole like a target dimension (see
:mod:`.targeting`); they are free text, not codes of a lookup (an organisation's reusable lists are
``site_lists``, :mod:`.picks`).

Calls (reference §1.4-§1.5, §5 strategy_domain_restriction):

- **Reads** are batched: ``GET /strategy_domain_restrictions/limit/strategy=<id>,<id>,...`` (100
  strategies per request, paged), each row carrying ``domain`` and ``restriction``.
- **Writes**: one ``POST /strategies/{id}/domain_restrictions`` with ``domains.N.domain`` and
  ``domains.N.restriction`` for every domain, replacing the strategy's set (safe to resend; the
  form is the sandbox's reading: the reference names the endpoint, not its fields).
- **History**: the strategy's entries on ``domain_restrictions.include|exclude`` carry the domains.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from reconciler.errors import APIError
from reconciler.providers.mediamath.client import PAGE_LIMIT, MediaMathClient

DOMAINS = "domain_restrictions"
LISTS = ("include", "exclude")
HISTORY_FIELDS = frozenset({f"{DOMAINS}.{lst}" for lst in LISTS})


class DomainCalls:
    """Reads and writes of strategies' domain restrictions for one provider (one run)."""

    def __init__(self, client: MediaMathClient, slots: threading.BoundedSemaphore) -> None:
        self.client = client
        self._slots = slots

    def read(self, strategy_ids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
        """``{include, exclude}`` domains per strategy (every strategy asked gets both lists)."""
        out: dict[str, dict[str, set[str]]] = {sid: {lst: set() for lst in LISTS} for sid in strategy_ids}
        for start in range(0, len(strategy_ids), PAGE_LIMIT):
            chunk = strategy_ids[start : start + PAGE_LIMIT]
            with self._slots:
                links = list(self.client.iter_collection(f"/strategy_domain_restrictions/limit/strategy={','.join(chunk)}"))
            for link in links:
                sid = link.value("strategy_id") or ""
                domain = (link.value("domain") or "").strip().lower()
                if sid in out and domain:
                    lst = "exclude" if (link.value("restriction") or "").upper() == "EXCLUDE" else "include"
                    out[sid][lst].add(domain)
        return {sid: {lst: sorted(v) for lst, v in lists.items()} for sid, lists in out.items()}

    def write(self, strategy_id: str, lists: Mapping[str, Sequence[str]]) -> None:
        """Replace the strategy's domain restrictions with ``lists`` (one POST)."""
        form: dict[str, str] = {}
        n = 0
        for lst in LISTS:
            for domain in sorted({str(d).strip().lower() for d in lists.get(lst) or ()}):
                n += 1
                form[f"domains.{n}.domain"] = domain
                form[f"domains.{n}.restriction"] = lst.upper()
        try:
            self.client.request("POST", f"/strategies/{strategy_id}/domain_restrictions", data=form, retry_writes=True)
        except APIError as exc:
            raise type(exc)(
                f"{DOMAINS}: {exc.vendor_message}", method=exc.method, url=exc.url, status=exc.status,
                vendor_code=exc.vendor_code, retry_after=exc.retry_after,
            ) from None
