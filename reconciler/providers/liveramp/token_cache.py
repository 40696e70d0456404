"""A token cache shared by every process of the user, so CI does not spend LiveRamp's token
budget (2 tokens per 24 h per API client).

One JSON file, ``liveramp-tokens.json``, in the user's cache directory (option
``token_cache_dir``, else env ``RECONCILER_CACHE_DIR``, else ``platformdirs.user_cache_dir
("reconciler")``; never the repository), guarded by a ``filelock`` lock file beside it. A token is
reused until 60 s before it expires. When many processes start at once, the first to take the lock
fetches; the others wait for the lock, then find the fresh entry (threads of one process that
waited while the fetch failed get its failure rather than fetching again).

Entries are keyed by an HMAC of endpoint + client id keyed with the client secret: the file never
holds the secret or the client id, and an entry planted by someone who does not know the secret
can never be found, so a token issued for another secret (another organisation's API client) is
never used. The endpoint part is the provider's *endpoint identity*: the URL, or a stable name
where the URL changes from run to run (the embedded sandbox listens on a new port each time, and
its tokens live as long as its data file). Entries that are not well formed are ignored.

The file holds bearer tokens: it is created with mode 0600 in a 0700 directory and replaced
atomically (:func:`reconciler.fsutil.atomic_write`); a cache file that is a symbolic link, belongs
to another user or is writable by others, or a directory others may write into, is refused with an
error (a planted file could hand out someone else's token, or read ours); a token never appears
in a message or repr.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock, Timeout

from reconciler.errors import ProviderError
from reconciler.fsutil import atomic_write
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


def cache_key(endpoint: str, client_id: str, client_secret: str) -> str:
    """The entry's key: HMAC-SHA256 of endpoint + client id, keyed with the client secret."""
    message = f"{endpoint.rstrip('/')}\n{client_id}".encode()
    return hmac.new(client_secret.encode(), message, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    expires_at: float  # epoch seconds

    def usable(self, now: float, margin: float = REFRESH_MARGIN_SECONDS) -> bool:
        return bool(self.access_token) and now < self.expires_at - margin


class TokenCache:
    """Tokens for one endpoint + API client, shared through a locked file."""

    def __init__(
        self,
        directory: Path,
        endpoint: str,
        client_id: str,
        client_secret: str,
        margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME
        self.key = cache_key(endpoint, client_id, client_secret)
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
        """The file's entries ({} when there is none or it is not JSON); refuses an unsafe file."""
        self._check_directory()
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            if self.path.is_symlink():
                raise self._refused("is a symbolic link") from None
            raise ProviderError(f"cannot read the LiveRamp token cache {self.path}: {exc.strerror}") from None
        with os.fdopen(fd, encoding="utf-8") as fh:
            self._check_owner(os.fstat(fh.fileno()), "file")
            try:
                data = json.load(fh)
            except (OSError, ValueError):
                return {}
        return data if isinstance(data, dict) else {}

    def _check_directory(self) -> None:
        try:
            info = os.stat(self.directory)
        except FileNotFoundError:
            return
        self._check_owner(info, "directory", allow_root=True)

    def _check_owner(self, info: os.stat_result, what: str, allow_root: bool = False) -> None:
        """Refuse a cache (file or directory) another user could have written."""
        if not hasattr(os, "geteuid"):  # no POSIX owners (Windows)
            return
        me = os.geteuid()
        if info.st_uid != me and not (allow_root and info.st_uid == 0):
            where = self.path if what == "file" else self.directory
            raise ProviderError(
                f"refusing the LiveRamp token cache {what} {where}: it belongs to another user (uid "
                f"{info.st_uid}); remove it, or set token_cache_dir / RECONCILER_CACHE_DIR to a directory of your own"
            )
        mode = stat.S_IMODE(info.st_mode)
        shared = mode & (stat.S_IWGRP | stat.S_IWOTH)
        if shared and not (what == "directory" and mode & stat.S_ISVTX):
            where = self.path if what == "file" else self.directory
            raise ProviderError(
                f"refusing the LiveRamp token cache {what} {where}: it is writable by others (mode "
                f"{mode:04o}); chmod go-w it, or set token_cache_dir / RECONCILER_CACHE_DIR to a directory of your own"
            )

    def _refused(self, why: str) -> ProviderError:
        return ProviderError(
            f"refusing the LiveRamp token cache file {self.path}: it {why}; remove it, or set "
            "token_cache_dir / RECONCILER_CACHE_DIR to a directory of your own"
        )

    def _read(self) -> Token | None:
        entry = self._entries().get(self.key)
        expires_at = _expiry(entry)
        if expires_at is None or not isinstance(entry, dict) or not isinstance(entry.get("access_token"), str):
            return None
        return Token(entry["access_token"], expires_at)

    def _write(self, token: Token) -> None:
        now = time.time()
        # keep other well-formed entries unless they expired long ago (the file must not grow forever)
        entries = {
            key: entry
            for key, entry in self._entries().items()
            if (expires_at := _expiry(entry)) is not None and expires_at > now - 86400
        }
        entries[self.key] = {"access_token": token.access_token, "expires_at": token.expires_at, "obtained_at": now}
        self._write_entries(entries)

    def _write_entries(self, entries: dict[str, Any]) -> None:
        self._ensure_dir()
        atomic_write(self.path, json.dumps(entries, sort_keys=True).encode("utf-8"), default_mode=0o600)


def _expiry(entry: Any) -> float | None:
    """An entry's ``expires_at`` (epoch seconds), or None when the entry is not well formed."""
    if not isinstance(entry, dict):
        return None
    value = entry.get("expires_at")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
