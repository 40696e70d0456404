"""Client of the MediaMath Reporting API v2: paged queries and a constant-memory stream reader.

- ``POST <endpoint>/reporting/v2/<dataset>`` with a JSON body (:class:`ReportRequest`) and
  ``Authorization: Bearer <JWT>``. Without ``pagination`` the answer is a stream of JSON lines
  (seed 002): a header ``{"fields": [{"name": ..}], "total_items_count": N}`` (-1 when unknown),
  data lines, ``{"meta": {}}`` lines at any point, and on failure an error line
  ``{"error_code", "request_id", "message"}`` after which the stream ends.
- :class:`ReportStream` reads it line by line (``iter_lines`` over 64 KiB chunks) and yields one
  row (a dict) at a time, so memory does not grow with the row count. It checks what the API
  leaves to the client: that the rows add up to ``total_items_count``
  (:class:`StreamCountMismatch`), that an error line ends the stream (:class:`StreamFailed`), and
  that every line is a JSON object of the announced fields (:class:`StreamProtocolError`).
- Authentication: ``credentials.access_token`` (a JWT) is sent as is; otherwise ``username`` and
  ``password`` (plus ``client_id``/``client_secret`` when given) obtain a JWT with the OAuth password
  grant at ``<auth_endpoint>/oauth/token``, renewed before it expires and once after a 401. The
  auth endpoint is the ``auth_endpoint`` option, else ``https://auth.mediamath.com`` for
  ``api.mediamath.com``, ``https://mediamath-dev.auth0.com`` for the vendor's qa/sandbox hosts,
  and ``<endpoint>-auth`` for anything else (the reconciler sandbox serves
  ``auth.mediamath.com`` at ``/mediamath-auth`` beside ``/mediamath``).
- Transport, retries (these POSTs only read, so 429/5xx/drops before the answer starts are
  retried), the rate budget and error mapping come from
  :class:`reconciler.providers.http.HttpClient`. Secrets never reach a message or a repr.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from reconciler.errors import APIError, AuthError, TransportError, WorkspaceError
from reconciler.providers.base import ProviderConfig
from reconciler.providers.http import HttpClient, RetryPolicy, redact_url, scrub
from reconciler.providers.options import rate_limit, timeout, tls_verify

REPORTING_PATH = "/reporting/v2"
AUDIENCE = "https://api.mediamath.com/"
PRODUCTION_AUTH = "https://auth.mediamath.com"
DEV_AUTH = "https://mediamath-dev.auth0.com"
DEFAULT_RATE = 40.0
DEFAULT_BURST = 200.0
CHUNK_BYTES = 64 * 1024
MAX_PAGE_SIZE = 1000
FILTER_OPS = ("=", "!=", ">", ">=", "<", "<=", "=~", "and", "or", "isNull", "isNotNull")
ProgressCallback = Callable[[int, int], None]  # (rows read so far, total_items_count or -1)


# -- errors --------------------------------------------------------------------------------------
class ReportingError(APIError):
    """The Reporting API answered something a report cannot be built from."""


class StreamFailed(ReportingError):
    """The stream carried an error line (the server gave up part-way)."""

    def __init__(self, message: str, *, rows_read: int, request_id: str | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.rows_read = rows_read
        self.request_id = request_id


class StreamCountMismatch(ReportingError):
    """The stream ended with a different number of rows than its header announced."""

    def __init__(self, message: str, *, rows_read: int, expected: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.rows_read = rows_read
        self.expected = expected


class StreamProtocolError(ReportingError):
    """A line that is not what the streaming protocol allows (bad JSON, header, unknown field)."""


# -- requests ------------------------------------------------------------------------------------
JSONScalar = str | int | float | bool


@dataclass(frozen=True)
class Filter:
    """One filter: ``field op value``, or ``and``/``or`` over nested ``filters``."""

    field: str | None
    op: str = "="
    value: JSONScalar | tuple[JSONScalar, ...] | None = None
    filters: tuple[Filter, ...] = ()

    def __post_init__(self) -> None:
        if self.op not in FILTER_OPS:
            raise ValueError(f"unknown filter operator {self.op!r} (one of {', '.join(FILTER_OPS)})")
        if self.op in ("and", "or") and len(self.filters) < 2:
            raise ValueError(f"filter operator {self.op!r} needs at least two nested filters")

    def to_json(self) -> dict[str, Any]:
        if self.op in ("and", "or"):
            out: dict[str, Any] = {"op": self.op, "filters": [f.to_json() for f in self.filters]}
            if self.field:
                out["field"] = self.field
            return out
        out = {"field": self.field, "op": self.op}
        if self.op not in ("isNull", "isNotNull"):
            out["value"] = list(self.value) if isinstance(self.value, tuple) else self.value
        return out


@dataclass(frozen=True)
class Order:
    field: str
    desc: bool = False
    nulls_last: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "desc": self.desc, "nulls_last": self.nulls_last}


@dataclass(frozen=True)
class ReportRequest:
    """A query of one dataset (without ``pagination``: that is chosen per call)."""

    dataset: str
    fields: tuple[str, ...]
    filters: tuple[Filter, ...]
    rollup: str = "all"
    time_window: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    order: tuple[Order, ...] = ()
    max_results: int | None = None
    time_zone: str | None = None

    def __post_init__(self) -> None:
        if not self.dataset or "/" in self.dataset:
            raise ValueError(f"invalid dataset name {self.dataset!r}")
        if not self.fields:
            raise ValueError("a report needs at least one field")
        if len(set(self.fields)) != len(self.fields):
            raise ValueError("a report lists each field once")
        if not self.filters:
            raise ValueError("the Reporting API requires at least one filter")
        if not self.time_window and not self.start_time:
            raise ValueError("a report needs a time window or a start time")

    def body(self, page: tuple[int, int] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fields": list(self.fields),
            "filters": [f.to_json() for f in self.filters],
            "rollup": self.rollup,
        }
        if self.time_window:
            out["time_window"] = self.time_window
        else:
            out["start_time"] = self.start_time
            if self.end_time:
                out["end_time"] = self.end_time
        if self.order:
            out["order"] = [o.to_json() for o in self.order]
        if self.time_zone:
            out["time_zone"] = self.time_zone
        if page is not None:
            out["pagination"] = {"page_index": page[0], "page_size": page[1]}
        elif self.max_results is not None:
            out["max_results"] = self.max_results
        return out


@dataclass(frozen=True)
class Page:
    page_index: int
    total_pages: int
    items_count: int
    total_items_count: int
    results: list[dict[str, Any]] = field(default_factory=list)


# -- the stream ----------------------------------------------------------------------------------
def _is_error_line(obj: Mapping[str, Any]) -> bool:
    keys = obj.keys()
    return "error_code" in keys and "message" in keys and keys <= {"error_code", "request_id", "message"}


class ReportStream:
    """An open streaming answer: ``header`` is read; iterate once for the rows.

    Use as a context manager (or call :meth:`close`) when not reading to the end. Reading to the
    end checks the row count; stopping early does not.
    """

    def __init__(
        self,
        response: requests.Response,
        *,
        method: str,
        url: str,
        progress: ProgressCallback | None = None,
        progress_every: int = 10_000,
    ) -> None:
        self._response = response
        self._method = method
        self._url = url
        self._progress = progress
        self._progress_every = max(1, progress_every)
        self._lines = self._read_lines(response.iter_lines(chunk_size=CHUNK_BYTES))  # one generator for all reads
        self._consumed = False
        self.rows_read = 0
        self.meta_lines = 0
        try:
            header = self._first_object()
        except BaseException:
            self.close()
            raise
        fields = header.get("fields")
        total = header.get("total_items_count")
        if (
            not isinstance(fields, list)
            or not all(isinstance(f, Mapping) and isinstance(f.get("name"), str) for f in fields)
            or isinstance(total, bool)
            or not isinstance(total, int)
            or total < -1
        ):
            self.close()
            raise self._protocol("the first line is not a stream header {fields, total_items_count}")
        self.fields: tuple[str, ...] = tuple(f["name"] for f in fields)
        self.total_items_count: int = total
        self._field_set = frozenset(self.fields)

    def _kwargs(self) -> dict[str, Any]:
        return {"method": self._method, "url": self._url, "status": self._response.status_code}

    def _protocol(self, message: str) -> StreamProtocolError:
        return StreamProtocolError(f"{message} (after {self.rows_read} rows)", **self._kwargs())

    def _decode(self, raw: bytes) -> dict[str, Any]:
        try:
            obj = json.loads(raw)
        except ValueError:
            raise self._protocol("a line of the stream is not JSON") from None
        if not isinstance(obj, dict):
            raise self._protocol("a line of the stream is not a JSON object")
        return obj

    def _failed(self, obj: Mapping[str, Any]) -> StreamFailed:
        rid = obj.get("request_id")
        detail = f" (request_id {rid})" if rid else ""
        return StreamFailed(
            f"stream failed after {self.rows_read} rows: {obj.get('message')}{detail}",
            rows_read=self.rows_read,
            request_id=str(rid) if rid else None,
            vendor_code=str(obj.get("error_code")),
            **self._kwargs(),
        )

    def _first_object(self) -> dict[str, Any]:
        for raw in self._lines:
            if not raw:
                continue
            obj = self._decode(raw)
            if _is_error_line(obj):
                raise self._failed(obj)
            if set(obj) == {"meta"}:
                self.meta_lines += 1
                continue
            return obj
        raise self._protocol("the stream ended before its header")

    def _read_lines(self, lines: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from lines
        except requests.RequestException as exc:
            raise TransportError(
                f"the stream broke after {self.rows_read} rows ({type(exc).__name__})", **self._kwargs()
            ) from None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._consumed:
            raise RuntimeError("a report stream can be read only once")
        self._consumed = True
        return self._rows()

    def _rows(self) -> Iterator[dict[str, Any]]:
        fields = self._field_set
        every = self._progress_every
        try:
            for raw in self._lines:
                if not raw:
                    continue
                obj = self._decode(raw)
                if obj and obj.keys() <= fields:
                    self.rows_read += 1
                    if self._progress is not None and self.rows_read % every == 0:
                        self._progress(self.rows_read, self.total_items_count)
                    yield obj
                    continue
                if set(obj) == {"meta"}:
                    self.meta_lines += 1
                    continue
                if _is_error_line(obj):
                    raise self._failed(obj)
                unknown = ", ".join(sorted(set(obj) - fields))
                raise self._protocol(f"a row has fields the header did not announce: {unknown}")
            if self._progress is not None and self.rows_read % every:
                self._progress(self.rows_read, self.total_items_count)
            expected = self.total_items_count
            if expected >= 0 and self.rows_read != expected:
                raise StreamCountMismatch(
                    f"the stream ended after {self.rows_read} rows but its header announced {expected}",
                    rows_read=self.rows_read,
                    expected=expected,
                    **self._kwargs(),
                )
        finally:
            self.close()

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> ReportStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- errors of whole answers -------------------------------------------------------------------------
def make_error_message(secrets: Callable[[], Sequence[str]]) -> Callable[[requests.Response], tuple[str, str | None]]:
    """Turn ``{error_code, request_id, message}`` (or Auth0's ``{error, error_description}``) into
    the vendor's words, scrubbed of every credential."""

    def error_message(response: requests.Response) -> tuple[str, str | None]:
        message: str = response.reason or "error"
        code: str | None = None
        try:
            data = json.loads(response.content[:65536])
        except ValueError:
            data = None
        if isinstance(data, Mapping):
            if "error_code" in data or "message" in data:
                message = str(data.get("message") or message)
                code = str(data["error_code"]) if data.get("error_code") is not None else None
                if data.get("request_id"):
                    message += f" (request_id {data['request_id']})"
            elif "error" in data:
                message = str(data.get("error_description") or data["error"])
                code = str(data["error"])
        elif response.text.strip():
            message = response.text.strip().splitlines()[0][:200]
        return scrub(message, secrets()), code

    return error_message


def default_auth_endpoint(endpoint: str) -> str:
    host = (urlsplit(endpoint).hostname or "").lower()
    if host == "api.mediamath.com":
        return PRODUCTION_AUTH
    if host.endswith(".mediamath.com") and host.startswith(("t1sandbox", "t1qa")):
        return DEV_AUTH
    return endpoint.rstrip("/") + "-auth"


# -- the client ------------------------------------------------------------------------------------
class ReportingClient:
    """Queries of the Reporting API v2 for one workspace's MediaMath credentials."""

    def __init__(
        self,
        endpoint: str,
        credentials: Mapping[str, str],
        *,
        auth_endpoint: str | None = None,
        verify: bool | str = True,
        rate: float = DEFAULT_RATE,
        burst: float | None = DEFAULT_BURST,
        timeout: float = 300.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise WorkspaceError(f"mediamath endpoint must be an http(s) URL, got '{endpoint}'")
        self.endpoint = endpoint.rstrip("/")
        creds = {k: str(v) for k, v in credentials.items() if v is not None}
        self._token = creds.get("access_token", "")
        self._username = creds.get("username") or creds.get("user") or ""
        self._password = creds.get("password", "")
        self._client_id = creds.get("client_id", "")
        self._client_secret = creds.get("client_secret", "")
        self._static_token = bool(self._token)
        if not self._token and not (self._username and self._password):
            raise WorkspaceError(
                "the MediaMath Reporting API needs credentials {access_token} (a JWT) or {username, password}"
            )
        self.auth_endpoint = (auth_endpoint or default_auth_endpoint(self.endpoint)).rstrip("/")
        self.verify = verify
        self.http = HttpClient(
            self.endpoint + REPORTING_PATH,
            timeout=timeout,
            verify=verify,
            rate=rate,
            burst=burst,
            retry=retry,
            error_message=make_error_message(self._secrets),
            user_agent="reconciler-mediamath-reporting",
            secrets=self._secrets,
        )
        self._expires = float("inf") if self._static_token else 0.0
        self._auth_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: ProviderConfig) -> ReportingClient:
        """A client for a ``providers.mediamath`` block (endpoint, credentials, options)."""
        options = dict(config.options)
        rate, burst = rate_limit(config, DEFAULT_RATE, DEFAULT_BURST)
        auth = options.get("auth_endpoint")
        return cls(
            config.endpoint,
            config.credentials,
            auth_endpoint=str(auth) if auth else None,
            verify=tls_verify(config),
            rate=rate,
            burst=burst,
            timeout=timeout(config, float(options.get("timeout", 300.0)), key="report_timeout"),
        )

    def __repr__(self) -> str:
        return f"ReportingClient(endpoint={self.endpoint!r})"

    def _secrets(self) -> list[str]:
        return [s for s in (self._token, self._password, self._client_secret) if s]

    # -- authentication ---------------------------------------------------------------------------------
    def _bearer(self, renew: bool = False) -> str:
        with self._auth_lock:
            if self._static_token:
                return self._token
            if renew or not self._token or time.monotonic() >= self._expires:
                self._obtain_token()
            return self._token

    def _obtain_token(self) -> None:
        body = {
            "grant_type": "password",
            "username": self._username,
            "password": self._password,
            "audience": AUDIENCE,
            "scope": "openid",
        }
        if self._client_id:
            body["client_id"] = self._client_id
        if self._client_secret:
            body["client_secret"] = self._client_secret
        url = f"{self.auth_endpoint}/oauth/token"
        try:
            response = self.http.request("POST", url, json=body, retry_writes=True, verify=self.verify)
        except TransportError:
            raise
        except APIError as exc:
            raise AuthError(
                f"token request refused: {exc.vendor_message}",
                method="POST", url=redact_url(url), status=exc.status, vendor_code=exc.vendor_code,
            ) from None
        try:
            data = response.json()
            token = str(data["access_token"])
            lifetime = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise AuthError("the token answer has no access_token", method="POST", url=redact_url(url)) from None
        self._token = token
        self._expires = time.monotonic() + max(0.0, lifetime - 60.0)

    def _post(self, dataset: str, body: Mapping[str, Any], *, stream: bool) -> requests.Response:
        path = f"/{dataset}"
        for attempt in (0, 1):
            headers = {"Authorization": f"Bearer {self._bearer(renew=attempt == 1)}"}
            try:
                return self.http.request(
                    "POST", path, json=body, headers=headers, stream=stream, retry_writes=True, verify=self.verify
                )
            except AuthError as exc:
                if exc.status != 401 or self._static_token or attempt == 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- queries ------------------------------------------------------------------------------------------
    def stream(
        self,
        request: ReportRequest,
        *,
        progress: ProgressCallback | None = None,
        progress_every: int = 10_000,
    ) -> ReportStream:
        """Open a streaming query; the header is read, rows come as you iterate."""
        response = self._post(request.dataset, request.body(), stream=True)
        return ReportStream(
            response,
            method="POST",
            url=redact_url(self.http.url(f"/{request.dataset}")),
            progress=progress,
            progress_every=progress_every,
        )

    def rows(self, request: ReportRequest, *, progress: ProgressCallback | None = None) -> Iterator[dict[str, Any]]:
        """Every row of a streaming query, lazily (the count is checked at the end)."""
        with self.stream(request, progress=progress) as stream:
            yield from stream

    def page(self, request: ReportRequest, page_index: int = 0, page_size: int = MAX_PAGE_SIZE) -> Page:
        """One page of a paginated query."""
        if not 1 <= page_size <= MAX_PAGE_SIZE or page_index < 0:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE} and page_index >= 0")
        response = self._post(request.dataset, request.body((page_index, page_size)), stream=False)
        url = redact_url(response.url)
        try:
            data = response.json()
            meta = data["meta"]
            results = data["results"]
            page = Page(
                page_index=int(meta["page_index"]),
                total_pages=int(meta["total_pages"]),
                items_count=int(meta["items_count"]),
                total_items_count=int(meta["total_items_count"]),
                results=list(results),
            )
        except (ValueError, KeyError, TypeError):
            raise StreamProtocolError("the paginated answer is not {meta, results}", method="POST", url=url) from None
        if page.items_count != len(page.results) or not all(isinstance(r, dict) for r in page.results):
            raise StreamProtocolError(
                f"the page says items_count {page.items_count} but holds {len(page.results)} rows",
                method="POST", url=url,
            )
        return page

    def close(self) -> None:
        self.http.close()
