"""One expensive attempt at a time (a login, a token request), shared between threads.

When a plan reads several kinds at once and the API is down, every kind needs the same login
first. :class:`SharedAttempt` lets one thread make it (with its retries) while the others wait;
those that waited while it failed get its failure instead of starting a round of retries of
their own. A call that arrives after the failure tries again: the API may be back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from reconciler.errors import ReconcilerError


class SharedAttempt:
    """``with shared.attempt(): ...`` runs the body under ``lock`` (a thread lock by default; any
    lock-like context manager, e.g. a file lock), unless an attempt failed while this call waited
    for it: then that failure is raised."""

    def __init__(self, lock: AbstractContextManager[object] | None = None) -> None:
        self._lock: AbstractContextManager[object] = lock if lock is not None else threading.Lock()
        self._failures = 0
        self._failure: ReconcilerError | None = None

    @contextmanager
    def attempt(self) -> Iterator[None]:
        failures = self._failures  # read before waiting: only a failure after this counts
        with self._lock:
            if self._failure is not None and self._failures != failures:
                raise self._failure
            try:
                yield
            except ReconcilerError as exc:
                self._failure = exc
                self._failures += 1
                raise
            self._failure = None
