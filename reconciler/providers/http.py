"""Shared HTTP layer for providers: one pooled ``requests.Session``, a client-side rate budget,
retries of safe calls on 429/5xx/dropped connections (honouring ``Retry-After`` with jittered
backoff), and failures mapped to :mod:`reconciler.errors` API errors that name the call and the
vendor's message, never a secret.

Writes are *not* retried here (``retry_writes=False`` by default): a create that may have reached
the server must be looked up by natural key first, which only the engine can decide.

One scrubbing for every provider: a client is given its credentials (``secrets``, a callable,
as tokens and session cookies arrive later), and every vendor message of an error answer loses
them in each form a server may echo: as sent, URL-encoded (``quote``/``quote_plus``), JSON- and
HTML-escaped, and as a Basic authorization value. :func:`check_credentials` is the one check of
credential values for all providers: a value that cannot travel in an HTTP header (a character
outside Latin-1, a control character such as a pasted newline) is a clear error naming the
credential, never a ``UnicodeEncodeError`` from deep inside the HTTP library.

Redirects are never followed: every call carries a credential (a login form's password, a token,
an API key, a session cookie), and a 307/308 answer would make requests send it again to
wherever the redirect points, on another host too. A 3xx answer is an error naming the origin it
points to (never its path or query), so the user fixes the provider's ``endpoint``.

The environment's proxy settings (``HTTPS_PROXY``, ``NO_PROXY``...) and CA bundle
(``REQUESTS_CA_BUNDLE``) apply as requests applies them, but are read once per client and host
(requests scans the whole environment on every call): a client lives for one command.
"""

from __future__ import annotations

import base64
import html
import json
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

if TYPE_CHECKING:
    from requests.sessions import _Settings

from reconciler.errors import (
    APIError,
    AuthError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    WorkspaceError,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JITTER_RESERVE_SECONDS = 0.25  # burst held back: this much of the rate, absorbing arrival jitter
MAX_BODY_BYTES = 64 * 1024 * 1024  # refuse larger answers instead of exhausting memory


class TokenBucket:
    """Client-side request budget: ``rate`` requests/s with ``burst`` capacity (thread-safe).

    ``acquire()`` blocks until a token is available. ``pause(seconds)`` empties the bucket for
    a while (after a 429 with ``Retry-After``) so every thread backs off together.

    ``reserve`` tokens of the burst are never spent: the server's own bucket keeps them, so
    requests that arrive a little closer together than they were sent (network jitter) still
    find a token there instead of a 429. The rate itself is used in full.
    """

    def __init__(self, rate: float, burst: float | None = None, reserve: float = 0.0) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.capacity = max(1.0, self.burst - max(0.0, reserve))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if now >= self._blocked_until and self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                wait = max(self._blocked_until - now, (1.0 - self._tokens) / self.rate)
            time.sleep(min(wait, 1.0))

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)
            self._tokens = 0.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 10.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return float(min(self.max_delay, retry_after)) + random.uniform(0, 0.05)
        return min(self.max_delay, self.base_delay * (2.0**attempt)) * random.uniform(0.5, 1.0)


@dataclass
class CallStats:
    """What a client went through; shown as the error budget after an apply."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    transport_errors: int = 0


_PROCESS_STATS = CallStats()  # every client's counts together: what a command sent, login and reports included
_PROCESS_LOCK = threading.Lock()


def process_stats() -> dict[str, int]:
    """The counters of every :class:`HttpClient` of this process so far (logins, refreshes,
    reports and writes of every provider). A command takes this at its start and at its end:
    the difference is what it sent (``apply``'s ``API requests: N`` line)."""
    with _PROCESS_LOCK:
        return asdict(_PROCESS_STATS)


def redact_url(url: str) -> str:
    """Drop the query string (it may carry ``api_key`` and the like) from a URL for messages."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


MIN_SECRET_LENGTH = 3  # shorter values would scrub ordinary words
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def secret_forms(secret: str) -> set[str]:
    """The ways ``secret`` may come back in an answer that echoes the request."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
        base64.b64encode(secret.encode("utf-8")).decode("ascii"),
    }
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def basic_credentials(user: str, password: str) -> str:
    """The value of ``Authorization: Basic ...`` for ``user:password`` (to scrub it too)."""
    return base64.b64encode(f"{user}:{password}".encode("latin-1", "replace")).decode("ascii")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every secret (:func:`secret_forms`) replaced by ``***``."""
    forms = {f for s in secrets if s and len(s) >= MIN_SECRET_LENGTH for f in secret_forms(s)}
    for form in sorted(forms, key=len, reverse=True):  # longest first: a form may contain another
        text = text.replace(form, "***")
    return text


def check_credentials(provider: str, credentials: Mapping[str, str], header_keys: Collection[str] | None = None) -> None:
    """Refuse a credential that cannot be sent: those in ``header_keys`` (None: all of them)
    travel in HTTP headers, which carry Latin-1 text without control characters. The message
    names the credential, never its value."""
    for key, value in sorted(credentials.items()):
        if header_keys is not None and key not in header_keys:
            continue
        where = f"providers.{provider}.credentials.{key}"
        if _HEADER_UNSAFE.search(value):
            raise WorkspaceError(
                f"{where}: the value holds a control character (a newline pasted with it?); it cannot be sent in "
                "an HTTP header: check the environment variable it is read from"
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise WorkspaceError(
                f"{where}: the value holds a character outside Latin-1 (a typographic quote or dash pasted with "
                "it?); it cannot be sent in an HTTP header: check the environment variable it is read from"
            ) from None


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class _Session(requests.Session):
    """A ``requests.Session`` that merges the environment's settings (proxies, CA bundle) once per
    origin and set of call options instead of on every call; the result is requests' own."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], _Settings] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> _Settings:
        if proxies or self.proxies or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        scheme, _, rest = url.partition("://")
        key = (scheme, rest.split("/", 1)[0], stream, verify, cert, self.trust_env, self.stream, self.verify, self.cert)
        try:
            merged = self._environment.get(key)
        except TypeError:  # an unhashable option (a list as cert...): no memo
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        if merged is None:
            merged = super().merge_environment_settings(url, {}, stream, verify, cert)
            if len(self._environment) >= 64:  # a client talks to one or two hosts
                self._environment.clear()
            self._environment[key] = merged
        settings = merged.copy()
        settings["proxies"] = dict(merged["proxies"])  # requests may add to it
        return settings


class HttpClient:
    """A provider's connection to one API.

    ``error_message`` turns an error response into the vendor's own message (and code);
    providers pass a function that knows their error body shape.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        verify: bool | str = True,
        rate: float = 0.0,
        burst: float | None = None,
        retry: RetryPolicy | None = None,
        error_message: Callable[[requests.Response], tuple[str, str | None]] | None = None,
        pool_size: int = 32,
        user_agent: str = "reconciler",
        secrets: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session: requests.Session = _Session()
        self.session.verify = verify
        self.session.headers["User-Agent"] = user_agent
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.bucket = TokenBucket(rate, burst, reserve=_jitter_reserve(rate, burst))
        self.retry = retry or RetryPolicy()
        self.error_message = error_message or _default_error_message
        self.secrets = secrets or (lambda: ())  # scrubbed from every vendor message
        self.stats = CallStats()
        self._stats_lock = threading.Lock()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        retry_writes: bool = False,
        retry_errors: tuple[type[APIError], ...] = (),
        stream: bool = False,
        expect: tuple[int, ...] = (200, 201, 204),
        **kwargs: Any,
    ) -> requests.Response:
        """Send one call; retry safe methods on retryable failures; raise APIError subclasses.

        ``retry_writes`` retries an unsafe method on every retryable failure, ``retry_errors`` only
        on those error classes (a token request after a 5xx, but not after a lost answer).
        """
        url = self.url(path)
        shown = redact_url(url)
        safe = method.upper() in SAFE_METHODS or retry_writes
        attempt = 0
        while True:
            self.bucket.acquire()
            self._count("requests")
            try:
                # verify is passed explicitly: requests lets REQUESTS_CA_BUNDLE override the session's
                kwargs.setdefault("verify", self.session.verify)
                # always streamed: the body is read below with a size cap and a deadline; never
                # redirected: the credentials would follow the redirect
                response = self.session.request(
                    method, url, timeout=self.timeout, stream=True, **{**kwargs, "allow_redirects": False}
                )
            except requests.exceptions.SSLError as exc:
                raise TransportError(
                    f"TLS verification failed ({type(exc).__name__}); check the endpoint's certificate or "
                    "set ca_bundle for the provider",
                    method=method,
                    url=shown,
                ) from None
            except requests.RequestException as exc:
                self._count("transport_errors")
                error: APIError = TransportError(
                    f"connection failed ({type(exc).__name__})", method=method, url=shown
                )
            else:
                if response.status_code in expect and stream:
                    return response  # the caller reads the body (and bounds it)
                body_error = self._read_body(response, method, shown)
                if response.status_code not in expect:
                    error = self._error_for(response, method, shown)  # from what arrived of the body
                elif body_error is None:
                    return response
                else:
                    self._count("transport_errors")
                    error = body_error
                response.close()
            if isinstance(error, RateLimitedError) and error.retry_after is not None:
                self.bucket.pause(error.retry_after)  # every call of this client waits, writes too
            retryable_method = safe or isinstance(error, retry_errors)
            if not (error.retryable and retryable_method) or attempt + 1 >= self.retry.attempts:
                raise error
            self._count("retries")
            time.sleep(self.retry.delay(attempt, error.retry_after))
            attempt += 1

    def _read_body(self, response: requests.Response, method: str, shown: str) -> APIError | None:
        """Read the body into ``response.content``, refusing more than ``MAX_BODY_BYTES`` (after
        decompression) and a body still arriving ``timeout`` seconds after the headers (a server
        trickling bytes, each within the socket timeout). On failure, what arrived is kept, the
        connection is closed and the error is returned (too large: not retryable)."""
        limit = MAX_BODY_BYTES
        if getattr(response, "_content_consumed", False):  # already read (a response hook did)
            if len(response.content) > limit:
                return APIError(f"response larger than {limit} bytes", method=method, url=shown)
            return None
        declared = response.headers.get("Content-Length", "")
        chunks: list[bytes] = []
        size = 0
        error: APIError | None = None
        if declared.isdigit() and int(declared) > limit:
            error = APIError(f"response larger than {limit} bytes (Content-Length {declared}); not read", method=method, url=shown)
        deadline = time.monotonic() + self.timeout
        # read1 (urllib3 >= 2.2) returns what has arrived; read() waits for the whole chunk
        read = getattr(response.raw, "read1", None) or response.raw.read
        try:
            while error is None:
                chunk = read(65536, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    error = APIError(f"response larger than {limit} bytes; reading stopped", method=method, url=shown)
                elif time.monotonic() > deadline:
                    error = TransportError(
                        f"the answer was still arriving {self.timeout:g}s after its headers (timeout)", method=method, url=shown
                    )
                else:
                    chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            error = TransportError(f"connection failed while reading the answer ({type(exc).__name__})", method=method, url=shown)
        response._content = b"".join(chunks)
        response._content_consumed = True  # type: ignore[attr-defined]  # as requests does after reading
        if error is None:
            response.raw.release_conn()
        else:
            response.raw.close()
        return error

    def _error_for(self, response: requests.Response, method: str, shown: str) -> APIError:
        status = response.status_code
        if 300 <= status < 400:
            return APIError(_redirect_message(response), method=method, url=shown, status=status)
        try:
            message, code = self.error_message(response)
        except Exception:  # a body we cannot parse still yields a clear error
            message, code = (response.reason or "error"), None
        message = scrub(message, self.secrets())
        code = scrub(code, self.secrets()) if code is not None else None
        kwargs: dict[str, Any] = {"method": method, "url": shown, "status": status, "vendor_code": code}
        if status == 429:
            self._count("rate_limited")
            return RateLimitedError(message, retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs)
        if status in (401, 403):
            return AuthError(message, **kwargs)
        if status == 404:
            return NotFoundError(message, **kwargs)
        if status >= 500:
            self._count("server_errors")
            return ServerError(message, **kwargs)
        return APIError(message, **kwargs)

    def _count(self, name: str) -> None:
        with self._stats_lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)
        with _PROCESS_LOCK:
            setattr(_PROCESS_STATS, name, getattr(_PROCESS_STATS, name) + 1)

    def close(self) -> None:
        self.session.close()


def _jitter_reserve(rate: float, burst: float | None) -> float:
    """Tokens of the burst the client leaves to the server (at most half of the burst)."""
    if rate <= 0:
        return 0.0
    capacity = burst if burst is not None else max(1.0, rate)
    return min(capacity / 2, rate * JITTER_RESERVE_SECONDS)


def _redirect_message(response: requests.Response) -> str:
    """What a redirect answer means to the user: where it points (scheme and host only) and why
    reconciler did not go there."""
    location = response.headers.get("Location", "")
    target = urlsplit(requests.compat.urljoin(response.url, location)) if location else None
    where = f" to {target.scheme}://{target.netloc}" if target is not None and target.netloc else ""
    return (
        f"the server answered with a redirect{where}; reconciler never follows redirects (the request's "
        "credentials would be sent again to wherever it points): set the provider's endpoint to the "
        "address that answers directly"
    )


def _default_error_message(response: requests.Response) -> tuple[str, str | None]:
    ctype = response.headers.get("Content-Type", "")
    if "json" in ctype:
        data = response.json()
        if isinstance(data, Mapping):
            message = data.get("message") or data.get("error") or response.reason
            code = data.get("code") or data.get("error_code")
            return str(message), (str(code) if code is not None else None)
    text = response.text.strip().splitlines()[0][:200] if response.text.strip() else response.reason
    return str(text), None
