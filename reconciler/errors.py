"""Every error reconciler raises, as one tree rooted in :class:`ReconcilerError`.

Errors are caught only at the CLI boundary (``reconciler.cli``), which prints ``str(error)``
(never a traceback unless ``--debug``) and exits with ``error.exit_code``.

    ReconcilerError                  exit 1 unless noted
    ├── InputError                   bad user input; message names file, line and field path
    │   ├── ManifestError            YAML syntax, envelope, unknown kind, schema violations
    │   ├── ReferenceError_          dangling ``{ref: ...}``, duplicate address
    │   ├── CycleError               dependency cycle (names the path a -> b -> a)
    │   ├── InterpolationError       undefined ``${env:NAME}`` / ``${var:name}``
    │   ├── WorkspaceError           ``reconciler.yaml`` problems
    │   └── PlanFileError            a saved plan that is not a plan
    ├── StateError                   a state file or journal that is not valid
    │   └── LockError                the state is locked by someone else (names the holder)
    ├── PlanError                    the plan itself is refused (prevent_destroy, budget guardrail)
    ├── StalePlanError               exit 3: saved plan's lineage/serial no longer match
    ├── ConflictError                exit 3: someone else changed a field we change
    ├── ProviderError                a provider could not do what was asked
    │   ├── ManualActionRequired     the API cannot do it; a human must (observe-only providers)
    │   ├── AmbiguousMatchError      several live objects match one natural key (names their ids)
    │   └── APIError                 an HTTP call failed: names method, URL and the vendor's message
    │       ├── AuthError            401/403
    │       ├── NotFoundError        404
    │       ├── RateLimitedError     429 (carries ``retry_after``)
    │       ├── ServerError          5xx
    │       └── TransportError       connection dropped, timeout, unparseable body
    └── ApplyError                   apply finished with failed resources (exit 1, or 3 if any conflict)

Messages must never contain secrets: build them from names and public values only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in the user's files something came from: ``file:line``; for a generated document
    also the instance (``origin``, e.g. the CSV row) and how it was made from ``file:line``:
    ``strategies.csv:14 (for_each of strategies.yaml:9)``."""

    file: str
    line: int
    origin: str = ""
    how: str = ""

    def __str__(self) -> str:
        if self.origin:
            return f"{self.origin} ({self.how} {self.file}:{self.line})"
        return f"{self.file}:{self.line}"


class ReconcilerError(Exception):
    """Root of every error reconciler raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(ReconcilerError):
    """Bad user input. Renders as ``file:line: field.path: message``."""

    def __init__(self, message: str, *, location: Location | None = None, path: str = "") -> None:
        self.location = location
        self.path = path
        prefix = f"{location}: " if location else ""
        field = f"{path}: " if path else ""
        super().__init__(f"{prefix}{field}{message}")
        self.detail = message


class ManifestError(InputError):
    pass


class ReferenceError_(InputError):  # noqa: N801 - avoid shadowing the builtin ReferenceError
    pass


class CycleError(InputError):
    pass


class InterpolationError(InputError):
    pass


class WorkspaceError(InputError):
    pass


class PlanFileError(InputError):
    pass


class MultipleInputErrors(InputError):
    """Several input errors found in one pass; each is reported on its own line."""

    def __init__(self, errors: Sequence[InputError]) -> None:
        self.errors = list(errors)
        ReconcilerError.__init__(self, "\n".join(str(e) for e in self.errors))
        self.location = self.errors[0].location if self.errors else None
        self.path = self.errors[0].path if self.errors else ""
        self.detail = self.message


class StateError(ReconcilerError):
    pass


class LockError(StateError):
    pass


class PlanError(ReconcilerError):
    pass


class StalePlanError(ReconcilerError):
    exit_code = 3


class ConflictError(ReconcilerError):
    """A write's precondition failed and the other writer touched a field we set."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        address: str = "",
        fields: Sequence[tuple[str, object, object, object]] = (),
    ) -> None:
        # fields: (field, planned_before, ours, theirs)
        self.address = address
        self.fields = list(fields)
        super().__init__(message)


class ProviderError(ReconcilerError):
    pass


class ManualActionRequired(ProviderError):
    pass


class AmbiguousMatchError(ProviderError):
    """Several live objects match the natural key of one desired resource; ``remote_ids`` lists
    them so the message (and a caller) can offer ``reconciler import`` for each."""

    def __init__(self, message: str, *, remote_ids: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.remote_ids = tuple(remote_ids)


class APIError(ProviderError):
    """An HTTP call failed. ``str()`` names the call and the vendor's own message."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        status: int | None = None,
        vendor_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.vendor_code = vendor_code
        self.retry_after = retry_after
        call = f"{method} {url}".strip()
        status_text = f" -> HTTP {status}" if status is not None else ""
        code_text = f" [{vendor_code}]" if vendor_code else ""
        super().__init__(f"{call}{status_text}{code_text}: {message}" if call else message)
        self.vendor_message = message

    @property
    def retryable(self) -> bool:
        return False


class AuthError(APIError):
    pass


class NotFoundError(APIError):
    pass


class RateLimitedError(APIError):
    @property
    def retryable(self) -> bool:
        return True


class ServerError(APIError):
    @property
    def retryable(self) -> bool:
        return True


class TransportError(APIError):
    @property
    def retryable(self) -> bool:
        return True


class ApplyError(ReconcilerError):
    """Apply finished but some resources failed. Independent work was still done."""

    def __init__(self, message: str, *, conflicts: int = 0) -> None:
        super().__init__(message)
        self.conflicts = conflicts
        self.exit_code = 3 if conflicts else 1
