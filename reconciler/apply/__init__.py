"""Apply: execute a Plan against the providers, recording state after every write.

- :func:`execute` walks the plan (dependency order, deletes reversed, bounded parallelism),
  checks each write's precondition, rebases or reports conflicts, and returns an
  :class:`ApplyResult`.
- :func:`recover_unfinished` closes the journal's intents left by a crash (adopting creates
  that reached the server) and should run before planning.
"""

from __future__ import annotations

from reconciler.apply.executor import execute
from reconciler.apply.recovery import recover_unfinished
from reconciler.apply.result import ApplyOptions, ApplyResult, ConflictField, Outcome, ResourceResult

__all__ = [
    "ApplyOptions",
    "ApplyResult",
    "ConflictField",
    "Outcome",
    "ResourceResult",
    "execute",
    "recover_unfinished",
]
