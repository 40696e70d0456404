"""The provider's connection to the LiveRamp Clean Room API: bearer tokens from the shared
:class:`TokenCache`, calls through :class:`reconciler.providers.http.HttpClient`, the live error
shape ``{status, code, timestamp, message, details}`` turned into readable errors, and the
cached lookups (clean-room types, the caller's organisation).

Reads fan out: the API lists children only under their parent, so :meth:`LiveRampClient.fan_out`
runs a kind's per-room (per-question...) calls concurrently, at most ``READ_CONCURRENCY`` in
flight for the whole client (every kind's reads share them, and stay below the HTTP pool's size).

A 401 on a call means the cached token was revoked or expired early (a sandbox reset, a
rotation): the token is dropped from the cache and the call is retried once with a new one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

import requests

from reconciler.errors import AuthError, ProviderError, RateLimitedError, ServerError, TransportError
from reconciler.providers.http import HttpClient, basic_credentials, redact_url
from reconciler.providers.liveramp.token_cache import Token, TokenCache

PRODUCTION = "https://api.habu.com"
READ_CONCURRENCY = 16  # fanned-out read calls in flight at once, per client

T = TypeVar("T")
R = TypeVar("R")


def liveramp_error_message(response: requests.Response) -> tuple[str, str | None]:
    """The vendor's message and status name from a Spring error body (or the plain reason)."""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else response.reason
        return str(text), None
    if isinstance(data, Mapping):
        message = data.get("message") or data.get("error") or response.reason
        status = data.get("status")
        code = status if isinstance(status, str) else (str(data["code"]) if data.get("code") is not None else None)
        return str(message), code
    return str(response.reason), None


class LiveRampClient:
    """Authenticated JSON calls to one LiveRamp endpoint for one API client."""

    def __init__(
        self,
        endpoint: str,
        client_id: str,
        client_secret: str,
        cache: TokenCache,
        *,
        timeout: float = 60.0,
        verify: bool | str = True,
    ) -> None:
        base = endpoint.rstrip("/")
        if base.endswith("/v1"):
            base = base[: -len("/v1")]
        self.endpoint = base
        self.client_id = client_id
        self._secret = client_secret
        self.cache = cache
        self._tokens_seen: set[str] = set()  # scrubbed from messages like the secret
        self.http = HttpClient(base, timeout=timeout, verify=verify, error_message=liveramp_error_message,
                               user_agent="reconciler-liveramp", secrets=self._secrets)
        self._types: dict[str, str] | None = None  # type id -> name
        self._org_id: str | None = None
        self._lookup_lock = threading.Lock()  # concurrent reads fetch each lookup once
        self.read_concurrency = READ_CONCURRENCY
        self._read_slots = threading.BoundedSemaphore(READ_CONCURRENCY)

    def __repr__(self) -> str:
        return f"LiveRampClient(endpoint={self.endpoint!r}, client_id={self.client_id!r})"

    # -- tokens ----------------------------------------------------------------------------------
    def _fetch_token(self) -> Token:
        try:
            response = self.http.request(
                "POST",
                "/v1/oauth/token",
                auth=(self.client_id, self._secret),
                data={"grant_type": "client_credentials"},
                headers={"Accept": "application/json"},
                # a 5xx issued no token: ask again; a lost answer may have used one of the day's two
                retry_errors=(ServerError,),
            )
        except RateLimitedError as exc:
            raise RateLimitedError(
                f"{exc.vendor_message} (LiveRamp issues 2 tokens per 24 h per API client; reconciler shares one "
                f"through its token cache {self.cache.path})",
                method=exc.method,
                url=exc.url,
                status=exc.status,
                vendor_code=exc.vendor_code,
            ) from exc
        data = _json_of(response, "POST")
        token = data.get("accessToken") if isinstance(data, Mapping) else None
        if not token:
            raise ProviderError(f"POST {self.endpoint}/v1/oauth/token: the answer holds no accessToken")
        return Token(str(token), _expiry(data))

    def token(self) -> str:
        token = self.cache.get(self._fetch_token)
        self._tokens_seen.add(token)
        return token

    def _secrets(self) -> list[str]:
        return [self._secret, basic_credentials(self.client_id, self._secret), *self._tokens_seen]

    # -- calls -----------------------------------------------------------------------------------
    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None) -> Any:
        """One authenticated call; the decoded JSON answer."""
        for attempt in (1, 2):
            token = self.token()
            kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {token}", "Accept": "application/json"}}
            if params:
                kwargs["params"] = dict(params)
            if json is not None:
                kwargs["json"] = json
            try:
                response = self.http.request(method, f"/v1{path}", **kwargs)
            except AuthError as exc:
                if exc.status == 401 and attempt == 1:
                    self.cache.invalidate(token)
                    continue
                raise
            return _json_of(response, method) if response.content else None
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None} or None)

    def paged(self, path: str, page_size: int = 500, **params: Any) -> list[Any]:
        """Every item of a ``limit``/``offset`` list."""
        items: list[Any] = []
        offset = 0
        while True:
            batch = self.get(path, limit=page_size, offset=offset, **params) or []
            if not isinstance(batch, list) or not all(isinstance(item, Mapping) for item in batch):
                raise TransportError(
                    "unexpected answer: a list call answered with something other than a JSON array of objects",
                    method="GET",
                    url=redact_url(self.http.url(f"/v1{path}")),
                )
            items.extend(batch)
            if len(batch) < page_size:
                return items
            offset += page_size

    def fan_out(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``fn`` over ``items`` concurrently; results in the items' order.

        For reads only: each call must be safe beside the others and must not fan out itself.
        All fan-outs of this client share ``read_concurrency`` slots. The first error is raised
        once the calls already started have finished.
        """
        todo = list(items)
        if len(todo) <= 1:
            return [fn(item) for item in todo]

        def slotted(item: T) -> R:
            with self._read_slots:
                return fn(item)

        workers = min(self.read_concurrency, len(todo))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="liveramp-read") as pool:
            return list(pool.map(slotted, todo))

    # -- lookups ---------------------------------------------------------------------------------
    def type_names(self) -> dict[str, str]:
        """Clean-room type id -> name (``/cleanrooms/cleanroom-types``), read once."""
        if self._types is None:
            with self._lookup_lock:
                if self._types is None:
                    self._types = {str(t["id"]): str(t["name"]) for t in self.get("/cleanrooms/cleanroom-types") or []}
        return self._types

    def org_id(self, room_id: str) -> str:
        """The caller's organisation: the OWNER stakeholder of a clean room it can see."""
        if self._org_id is None:
            with self._lookup_lock:
                if self._org_id is None:
                    for holder in self.get(f"/cleanrooms/{room_id}/stakeholders") or []:
                        if holder.get("ownership") == "OWNER":
                            self._org_id = str(holder["organizationId"])
        if self._org_id is None:
            raise ProviderError(f"clean room {room_id} names no OWNER stakeholder")
        return self._org_id

    def close(self) -> None:
        self.http.close()


def _json_of(response: requests.Response, method: str) -> Any:
    """The decoded JSON answer, or an error naming the call (not JSON, truncated, nested too deep)."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        raise TransportError(
            f"unreadable answer: not JSON (Content-Type {response.headers.get('Content-Type') or 'none'!r})",
            method=method,
            url=redact_url(response.url),
            status=response.status_code,
        ) from None


def _expiry(data: Mapping[str, Any]) -> float:
    expires_at = data.get("expiresAt")
    if isinstance(expires_at, str) and expires_at:
        try:
            return datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    try:
        return time.time() + float(data.get("expiresIn") or 3600)
    except (TypeError, ValueError):
        return time.time() + 3600
