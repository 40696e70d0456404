"""A token cache shared by every process of the user, so CI does not spend LiveRamp's token
budget (2 tokens per 24 h per API client).

One JSON file, ``liveramp-tokens.json``, in the user's cache directory (option
``token_cache_dir``, else env ``RECONCILER_CACHE_DIR``, else ``platformdirs.user_cache_dir
("reconciler")``; never the repository), guarded by a ``filelock`` lock file beside it. Entries
are keyed by a hash of endpoint + client id (never the secret) and hold the token and its
expiry. A token is reused until 60 s before it expires. When many processes start at once, the
first to take the lock fetches; the others wait for the lock, then find the fresh entry (threads
of one process that waited while the fetch failed get its failure rather than fetching again).

The file holds bearer tokens: it is created with mode 0600 in a 0700 directory, replaced
atomically, and a token never appears in a message or repr.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock, Timeout

from reconciler.errors import ProviderError
from reconciler.providers.attempts import SharedAttempt

FILE_NAME = "liveramp-tokens.json"
REFRESH_MARGIN_SECONDS = 60.0
LOCK_TIMEOUT_SECONDS = 120.0


def default_cache_dir(option: str | None, workspace_dir: Path) -> Path:
    """Where the token cache lives: option, then ``RECONCILER_CACHE_DIR``, then the user cache dir."""
    if option:
        path = Path(option).expanduser()
        return path if path.is_absolute() else workspace_dir / path
    env = os.environ.get("RECONCILER_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("reconciler"))


def cache_key(endpoint: str, client_id: str) -> str:
    return hashlib.sha256(f"{endpoint.rstrip('/')}\n{client_id}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    expires_at: float  # epoch seconds

    def usable(self, now: float, margin: float = REFRESH_MARGIN_SECONDS) -> bool:
        return bool(self.access_token) and now < self.expires_at - margin


class TokenCache:
    """Tokens for one endpoint + client id, shared through a locked file."""

    def __init__(self, directory: Path, endpoint: str, client_id: str, margin: float = REFRESH_MARGIN_SECONDS) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME
        self.key = cache_key(endpoint, client_id)
        self.margin = margin
        self._lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_SECONDS)
        self._fetching = SharedAttempt(self._lock)  # a fetch that failed fails its waiters too
        self._memory: Token | None = None

    def __repr__(self) -> str:
        return f"TokenCache(path={str(self.path)!r}, key={self.key!r})"

    def get(self, fetch: Callable[[], Token]) -> str:
        """A usable token: from memory, then the file, else ``fetch()`` under the lock."""
        now = time.time()
        if self._memory is not None and self._memory.usable(now, self.margin):
            return self._memory.access_token
        cached = self._read()
        if cached is not None and cached.usable(now, self.margin):
            self._memory = cached
            return cached.access_token
        self._ensure_dir()
        try:
            with self._fetching.attempt():
                cached = self._read()
                if cached is not None and cached.usable(time.time(), self.margin):
                    self._memory = cached
                    return cached.access_token
                token = fetch()
                self._write(token)
                self._memory = token
                return token.access_token
        except Timeout as exc:
            raise ProviderError(f"timed out waiting for the token cache lock {self._lock.lock_file}") from exc

    def invalidate(self, access_token: str) -> None:
        """Forget ``access_token`` (the server refused it), unless another process replaced it."""
        if self._memory is not None and self._memory.access_token == access_token:
            self._memory = None
        if not self.path.exists():
            return
        with self._lock:
            entries = self._entries()
            entry = entries.get(self.key)
            if isinstance(entry, dict) and entry.get("access_token") == access_token:
                del entries[self.key]
                self._write_entries(entries)

    # -- file ------------------------------------------------------------------------------------
    def _ensure_dir(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _entries(self) -> dict[str, Any]:
        try:
            with self.path.open(encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _read(self) -> Token | None:
        entry = self._entries().get(self.key)
        if not isinstance(entry, dict):
            return None
        try:
            return Token(str(entry["access_token"]), float(entry["expires_at"]))
        except (KeyError, TypeError, ValueError):
            return None

    def _write(self, token: Token) -> None:
        entries = self._entries()
        now = time.time()
        # drop other entries that expired long ago, so the file does not grow forever
        entries = {k: v for k, v in entries.items() if isinstance(v, dict) and float(v.get("expires_at", 0)) > now - 86400}
        entries[self.key] = {"access_token": token.access_token, "expires_at": token.expires_at, "obtained_at": now}
        self._write_entries(entries)

    def _write_entries(self, entries: dict[str, Any]) -> None:
        self._ensure_dir()
        fd, tmp = tempfile.mkstemp(prefix=".liveramp-tokens-", dir=self.directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entries, fh, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
