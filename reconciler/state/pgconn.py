"""The PostgreSQL state backend's settings and connection: the one place that sees the
connection string, which is a secret.

``state: {backend: postgres, url: "${env:RECONCILER_PG_URL}", schema: reconciler, workspace: default}``

- ``url``: a libpq connection string (``postgresql://USER:PASSWORD@HOST:PORT/DB?sslmode=...`` or
  ``host=... dbname=...``). It is kept only inside :class:`PgTarget` (``repr`` hides it), is
  never printed, and never reaches plans, state, locks or messages: messages name the target as
  :attr:`PgTarget.display` (``postgresql://USER@HOST:PORT/DB``, no password), and any text that
  comes back from the driver is scrubbed of the password (:meth:`PgTarget.scrub`) before it is
  shown. A password written literally in ``reconciler.yaml`` is refused by the workspace loader.
- ``schema``: the PostgreSQL schema holding the tables (created when missing; default
  ``reconciler``); ``workspace``: the key that keeps several workspaces or environments apart in
  those tables (default ``default``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reconciler.errors import Location, StateError, WorkspaceError

DEFAULT_SCHEMA = "reconciler"
DEFAULT_WORKSPACE = "default"
SETTINGS = ("backend", "url", "schema", "workspace")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
LOCK_CLASS = 0x52454331  # 'REC1': the first key of every advisory lock this backend takes


@dataclass(frozen=True)
class PgTarget:
    """Where a PostgreSQL state lives. ``url`` is a secret: it never appears in ``repr``."""

    url: str = field(repr=False)
    schema: str
    workspace: str
    display: str  # postgresql://user@host:port/db, no password
    password: str = field(default="", repr=False)

    @property
    def where(self) -> str:
        return f"{self.display} (schema {self.schema}, workspace {self.workspace})"

    @property
    def lock_key(self) -> tuple[int, int]:
        """The two int4 keys of this workspace's session advisory lock."""
        digest = hashlib.sha256(f"{self.schema}\0{self.workspace}".encode()).digest()
        return LOCK_CLASS, int.from_bytes(digest[:4], "big") & 0x7FFFFFFF

    def scrub(self, text: str) -> str:
        """``text`` (a driver message) without the password in any spelling."""
        if not self.password:
            return text
        for form in {self.password, quote(self.password, safe=""), quote(self.password)}:
            if form:
                text = text.replace(form, "***")
        return text


def target_from_settings(settings: Mapping[str, Any], location: Location | None) -> PgTarget:
    """Check the ``state:`` block of a postgres backend (WorkspaceError naming the field)."""
    unknown = sorted(str(key) for key in settings if key not in (*SETTINGS, "url_unset"))
    if unknown:
        raise WorkspaceError(
            f"unknown setting '{unknown[0]}' for the postgres state backend (allowed: {', '.join(SETTINGS)})",
            location=location,
            path=f"state.{unknown[0]}",
        )
    url = settings.get("url")
    if url is None and isinstance(settings.get("url_unset"), str):
        raise WorkspaceError(
            f"the environment variable {settings['url_unset']} is not set (it holds the state database's connection string)",
            location=location,
            path="state.url",
        )
    if not isinstance(url, str) or not url.strip():
        raise WorkspaceError(
            'expected a PostgreSQL connection string, e.g. url: "${env:RECONCILER_PG_URL}"',
            location=location,
            path="state.url",
        )
    schema = settings.get("schema", DEFAULT_SCHEMA)
    if not isinstance(schema, str) or not _IDENTIFIER.match(schema):
        raise WorkspaceError(
            "expected a schema name (letters, digits and _, not starting with a digit, at most 63)",
            location=location,
            path="state.schema",
        )
    workspace = settings.get("workspace", DEFAULT_WORKSPACE)
    if not isinstance(workspace, str) or not workspace.strip() or len(workspace) > 200:
        raise WorkspaceError(
            "expected a non-empty workspace key (at most 200 characters)", location=location, path="state.workspace"
        )
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # pragma: no cover - psycopg is a dependency
        raise WorkspaceError(
            "the postgres state backend needs psycopg 3: pip install 'psycopg[binary]'", location=location,
            path="state.backend",
        ) from None
    try:
        parts = conninfo_to_dict(url)
    except Exception:  # the driver's message may quote the string: never show it
        raise WorkspaceError(
            "not a PostgreSQL connection string (expected postgresql://USER@HOST:PORT/DB or key=value pairs)",
            location=location,
            path="state.url",
        ) from None
    user = str(parts.get("user") or "")
    host = str(parts.get("host") or parts.get("hostaddr") or "")
    port = str(parts.get("port") or "")
    database = str(parts.get("dbname") or "")
    display = "postgresql://" + (f"{user}@" if user else "") + host + (f":{port}" if port else "") + f"/{database}"
    return PgTarget(url, schema, workspace, display, str(parts.get("password") or ""))


def open_postgres(settings: Mapping[str, Any], root: Path, location: Location | None) -> Any:
    """The ``postgres`` entry of ``reconciler.state.BACKENDS``."""
    from reconciler.state.postgres import PostgresBackend

    return PostgresBackend(target_from_settings(settings, location))


def connect(target: PgTarget) -> Any:
    """A new autocommit connection, or a StateError naming the target (never the secret)."""
    import psycopg

    try:
        return psycopg.connect(target.url, autocommit=True, connect_timeout=15, application_name="reconciler")
    except psycopg.Error as exc:
        raise StateError(f"cannot connect to the PostgreSQL state at {target.where}: {driver_message(target, exc)}") from None


def driver_message(target: PgTarget, exc: BaseException) -> str:
    """The driver's message, first line only, without the password."""
    text = str(exc).strip().splitlines()
    return target.scrub(text[0] if text else type(exc).__name__)
