"""Read jobs run side by side: refresh, natural-key lookups, history reads and the unmanaged scan
call the vendors' APIs concurrently in a small thread pool (the providers' own rate limiters keep
them within each API's limits). The first :class:`ReconcilerError` a job raises is raised again
as is, after every job has finished.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reconciler.errors import ReconcilerError


def bind(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: fn(*args)


def run_concurrently(jobs: Sequence[tuple[str, Callable[[], Any]]], workers: int = 8) -> dict[str, Any]:
    """Run read jobs in a small thread pool; the first ReconcilerError is re-raised as is."""
    if not jobs:
        return {}
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = {key: pool.submit(job) for key, job in jobs}
        results: dict[str, Any] = {}
        first_error: BaseException | None = None
        for key, future in futures.items():
            try:
                results[key] = future.result()
            except ReconcilerError as exc:
                first_error = first_error or exc
        if first_error:
            raise first_error
        return results
