"""HTTP client of the MediaMath Execution & Management API v2.0 (our own; not the vendor SDK).

- Base URL: the provider endpoint (``https://api.mediamath.com``, or the sandbox's
  ``http://127.0.0.1:PORT/mediamath``) + ``/api/v2.0``.
- Authentication, done lazily on the first call and once more after a 401:
  ``{username, password, api_key}``: ``POST /login`` (form ``user``, ``password``) sets the
  ``adama_session`` cookie, and every call carries ``?api_key=`` like the vendor's SDK;
  ``{access_token}``: ``Authorization: Bearer`` plus ``GET /session`` for the cookie.
- Transport, retries of reads on 429/5xx/drops, the rate budget and error mapping come from
  :class:`reconciler.providers.http.HttpClient`; :func:`make_error_message` turns MediaMath's
  XML/JSON error bodies into the vendor's own words (status code, message, field errors).
- Secrets never reach a message, a log or a repr: URLs in errors lose their query string, vendor
  messages are scrubbed of every credential value, urllib3's DEBUG lines (full URLs) have
  ``api_key=`` masked, and ``repr`` shows the endpoint only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import requests

from reconciler.errors import APIError, AuthError, TransportError, WorkspaceError
from reconciler.providers.attempts import SharedAttempt
from reconciler.providers.http import HttpClient, RetryPolicy, redact_url, scrub
from reconciler.providers.mediamath.wire import (
    JSON_MEDIA_TYPE,
    WireEntity,
    WireFormatError,
    WireResult,
    error_status,
    first_line,
    parse,
)

API_PATH = "/api/v2.0"
PAGE_LIMIT = 100  # the API's maximum page size
DEFAULT_RATE = 40.0  # documented safe per-user rate (req/s)
DEFAULT_BURST = 200.0


_SECRET_PARAM = re.compile(r"(api_key|password|access_token)=[^&\s\"']+", re.IGNORECASE)


class RedactSecretsFilter(logging.Filter):
    """Masks ``api_key=...`` (and password/token parameters) in log records: urllib3 logs every
    request URL, query string included, at DEBUG level."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a record we cannot format is left alone
            return True
        if _SECRET_PARAM.search(text):
            record.msg = _SECRET_PARAM.sub(r"\1=***", text)
            record.args = None
        return True


_LOG_FILTER = RedactSecretsFilter()


def install_log_redaction() -> None:
    """Attach the filter to the loggers that print request URLs (idempotent)."""
    for name in ("urllib3.connectionpool", "requests"):
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)


def make_error_message(secrets: Callable[[], Sequence[str]]) -> Callable[[requests.Response], tuple[str, str | None]]:
    """An ``error_message`` for HttpClient: (vendor message, vendor status code), scrubbed."""

    def error_message(response: requests.Response) -> tuple[str, str | None]:
        ctype = response.headers.get("Content-Type", "")
        status = error_status(response.content, ctype)
        if status is not None:
            message, code = status.describe(), status.code
        else:
            message, code = first_line(response.text) or (response.reason or "error"), None
        return scrub(message, secrets()), code

    return error_message


class MediaMathClient:
    """Session-holding client: ``get``/``post`` return parsed :class:`WireResult` values."""

    def __init__(
        self,
        endpoint: str,
        credentials: Mapping[str, str],
        *,
        verify: bool | str = True,
        rate: float = DEFAULT_RATE,
        burst: float | None = DEFAULT_BURST,
        timeout: float = 30.0,
        json_format: bool = False,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise WorkspaceError(f"mediamath endpoint must be an http(s) URL, got '{endpoint}'")
        self.endpoint = endpoint.rstrip("/")
        creds = {k: str(v) for k, v in credentials.items() if v is not None}
        self._username = creds.get("username") or creds.get("user") or ""
        self._password = creds.get("password", "")
        self._api_key = creds.get("api_key", "")
        self._token = creds.get("access_token", "")
        if not self._token and not (self._username and self._password):
            raise WorkspaceError(
                "mediamath credentials need either {username, password, api_key} or {access_token}"
            )
        self.json_format = json_format
        # passed on every call: requests lets REQUESTS_CA_BUNDLE override ``session.verify``
        self.verify = verify
        self.http = HttpClient(
            self.endpoint + API_PATH,
            timeout=timeout,
            verify=verify,
            rate=rate,
            burst=burst,
            retry=retry,
            error_message=make_error_message(self._secrets),
            user_agent="reconciler-mediamath",
            secrets=self._secrets,
        )
        if json_format:
            self.http.session.headers["Accept"] = JSON_MEDIA_TYPE
        if self._api_key:
            install_log_redaction()
            self.http.session.params = {"api_key": self._api_key}
        self._auth = SharedAttempt()
        self._auth_generation = 0  # bumped on every (re)login
        self.user_name: str | None = None

    def __repr__(self) -> str:
        return f"MediaMathClient(endpoint={self.endpoint!r})"

    def _secrets(self) -> list[str]:
        cookie = self.http.session.cookies.get("adama_session") if hasattr(self, "http") else None
        return [s for s in (self._password, self._api_key, self._token, cookie) if s]

    # -- authentication ----------------------------------------------------------------------------
    def _ensure_login(self, seen_generation: int | None = None) -> None:
        """Log in if never done, or if ``seen_generation`` is still current (after a 401). Calls
        that waited while the login failed get its failure (:class:`SharedAttempt`)."""
        with self._auth.attempt():
            if self._auth_generation and (seen_generation is None or seen_generation != self._auth_generation):
                return
            self._login()
            self._auth_generation += 1

    def _login(self) -> None:
        try:
            if self._token:
                self.http.session.headers["Authorization"] = f"Bearer {self._token}"
                response = self._send("GET", "/session")
            else:
                self.http.session.cookies.clear()
                # logging in has no effect but a new session: safe to retry like a read
                response = self._send(
                    "POST", "/login", data={"user": self._username, "password": self._password}, retry_writes=True
                )
        except APIError as exc:
            if exc.retryable:  # 429, 5xx, dropped connection: not a refusal
                raise
            raise AuthError(
                f"login refused: {exc.vendor_message}",
                method=exc.method,
                url=exc.url,
                status=exc.status,
                vendor_code=exc.vendor_code,
            ) from None
        result = self._parse(response)
        if not result.status.ok:
            raise AuthError(f"login refused: {result.status.describe()}", vendor_code=result.status.code)
        if result.entity is not None:
            self.user_name = result.entity.name
        if not self._token and "adama_session" not in self.http.session.cookies:
            raise AuthError(
                "login answered without an adama_session cookie", method="POST", url=self.http.url("/login")
            )

    # -- calls -------------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> WireResult:
        """One API call (logging in first, and once more after a 401); the parsed answer."""
        self._ensure_login()
        generation = self._auth_generation
        try:
            response = self._send(method, path, **kwargs)
        except AuthError as exc:
            if exc.status != 401:
                raise
            self._ensure_login(seen_generation=generation)
            response = self._send(method, path, **kwargs)
        return self._parse(response)

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, path, verify=self.verify, **kwargs)

    def _parse(self, response: requests.Response) -> WireResult:
        try:
            return parse(response.content, response.headers.get("Content-Type", ""))
        except WireFormatError as exc:
            raise TransportError(
                f"unreadable answer ({exc})",
                method=response.request.method or "",
                url=redact_url(response.url),
                status=response.status_code,
            ) from None

    def get(self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None) -> WireResult:
        return self.request("GET", path, params=params)

    def post(self, path: str, form: Mapping[str, str]) -> WireResult:
        return self.request("POST", path, data=dict(form))

    def iter_collection(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[WireEntity]:
        """Every entity of a collection query, ``page_limit=100`` pages, ``full=*``, by id."""
        offset = 0
        base = {"full": "*", "page_limit": PAGE_LIMIT, "sort_by": "id", **(params or {})}
        while True:
            result = self.get(path, {**base, "page_offset": offset})
            if result.count is None and not result.entities:
                # not "nothing found": an answer without an entity list (taking it for an empty
                # list would make live objects look deleted, and the plan create them again)
                raise TransportError(
                    "unreadable answer: a collection query answered without a list of entities",
                    method="GET",
                    url=redact_url(self.http.url(path)),
                )
            yield from result.entities
            offset += len(result.entities)
            total = result.count if result.count is not None else offset
            if not result.entities or offset >= total:
                return

    def close(self) -> None:
        self.http.close()
