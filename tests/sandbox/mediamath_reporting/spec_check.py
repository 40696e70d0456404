"""Check Reporting API v2 sandbox answers against the vendor's OpenAPI
(``tests/vendor/mediamath-reporting-api-v2.openapi.yaml``): the one place the tests load it.

:class:`SpecChecker` validates, with ``openapi-schema-validator`` (``OAS30Validator``):

- paged answers (``application/json``, 200) against the operation's 200 JSON schema;
- error answers against ``components.schemas.Error``;
- request bodies against the operation's request schema (our client's requests must be valid);
- streamed answers line by line (see quirk 1).

``hook`` is a requests response hook: JSON bodies are checked when they arrive, streamed bodies
as they are read (``iter_lines`` of the response is wrapped), so every answer a test receives is
checked. ``counts`` tells what was checked.

Quirks of the spec, handled explicitly:

1. The streaming answer is declared as ``type: string`` (the whole body). Each line is checked
   instead: the first against :data:`HEADER_SCHEMA` (the documented header: ``fields`` of
   ``{name}`` and ``total_items_count``, an integer, -1 when unknown), then data lines (objects
   whose keys are announced header fields), ``{"meta": {}}`` lines, and error lines (``Error``),
   after which nothing may follow.
2. Only 200, 400, 401 and 5XX are declared. 404 (unknown dataset), 405 (wrong method) and 429
   (rate limit) answers are checked against ``Error`` too, the only error shape the API documents.
3. The request schema's ``oneOf`` (``time_window`` | ``start_time``) rejects a body carrying both,
   which seed 002 allows ("time_window will be used"); such bodies are checked without ``oneOf``.
4. The spec's ``pagination.page_size`` maximum is 10000; seed 002 says 1000 and the sandbox
   enforces 1000 (a stricter subset, so valid answers are unaffected).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from tests.vendor import REPORTING_OPENAPI, vendor_file

SPEC_PATH = vendor_file(REPORTING_OPENAPI)
PREFIX = "/mediamath/reporting/v2/"

HEADER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["fields", "total_items_count"],
    "additionalProperties": False,
    "properties": {
        "fields": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        },
        "total_items_count": {"type": "integer", "minimum": -1},
    },
}
META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["meta"],
    "additionalProperties": False,
    "properties": {"meta": {"type": "object"}},
}


@cache
def load_spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = yaml.safe_load(fh)
    return spec


class SpecViolation(AssertionError):
    pass


class _Replay:
    """Stands in for ``response.raw`` after the hook read the body, so the client reads it again."""

    def __init__(self, data: bytes, original: Any) -> None:
        self._buffer = io.BytesIO(data)
        self._original = original

    def read1(self, amt: int = -1, decode_content: bool = True) -> bytes:
        return self._buffer.read1(amt)

    def read(self, amt: int | None = None, decode_content: bool = True, **kwargs: Any) -> bytes:
        return self._buffer.read(amt)

    def stream(self, amt: int = 65536, decode_content: bool = True) -> Iterator[bytes]:
        while chunk := self._buffer.read(amt):
            yield chunk

    def release_conn(self) -> None:
        self._original.release_conn()

    def close(self) -> None:
        self._original.close()


def _buffer(response: requests.Response) -> bytes:
    """Read a JSON answer in the hook without taking it from the client (which may read ``raw``)."""
    data = response.content
    response.raw = _Replay(data, response.raw)
    response._content = False  # type: ignore[assignment]
    response._content_consumed = False  # type: ignore[attr-defined]
    return data


class SpecChecker:
    def __init__(self) -> None:
        self.spec = load_spec()
        error = self.spec["components"]["schemas"]["Error"]
        self.error_schema = {**error, "required": ["error_code", "request_id", "message"]}
        self.counts: Counter[str] = Counter()

    # -- schemas ---------------------------------------------------------------------------------
    def _operation(self, dataset: str) -> dict[str, Any]:
        path = self.spec["paths"].get(f"/{dataset}")
        if path is None:
            raise SpecViolation(f"dataset {dataset} is not in the spec")
        op: dict[str, Any] = path["post"]
        return op

    def _validate(self, instance: Any, schema: dict[str, Any], what: str) -> None:
        validator = OAS30Validator(schema, format_checker=oas30_format_checker)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            raise SpecViolation(f"{what}: {errors[0].message} at {list(errors[0].path)}: {str(instance)[:300]}")

    def check_request(self, dataset: str, body: dict[str, Any]) -> None:
        schema = dict(self._operation(dataset)["requestBody"]["content"]["application/json"]["schema"])
        if "time_window" in body and "start_time" in body:
            schema.pop("oneOf", None)  # quirk 3
        self._validate(body, schema, f"request to {dataset}")
        self.counts["requests"] += 1

    def check_error(self, status: int, body: Any) -> None:
        self._validate(body, self.error_schema, f"error answer {status}")
        self.counts["errors"] += 1

    def check_paged(self, dataset: str, body: Any) -> None:
        schema = self._operation(dataset)["responses"]["200"]["content"]["application/json"]["schema"]
        self._validate(body, schema, f"paged answer of {dataset}")
        meta = body["meta"]
        if meta["items_count"] != len(body["results"]):
            raise SpecViolation("meta.items_count differs from the number of results")
        self.counts["pages"] += 1

    def check_lines(self, lines: Iterator[Any]) -> Iterator[Any]:
        """Validate a stream's lines as they pass through (quirk 1)."""
        fields: set[str] | None = None
        ended = False
        for raw in lines:
            if not raw:
                yield raw
                continue
            if ended:
                raise SpecViolation("a line follows the stream's error line")
            obj = json.loads(raw)
            if fields is None:
                if "error_code" in obj:
                    self.check_error(200, obj)
                    ended = True
                else:
                    self._validate(obj, HEADER_SCHEMA, "stream header")
                    fields = {f["name"] for f in obj["fields"]}
                    self.counts["stream_headers"] += 1
            elif set(obj) == {"meta"}:
                self._validate(obj, META_SCHEMA, "stream meta line")
                self.counts["stream_meta"] += 1
            elif "error_code" in obj:
                self.check_error(200, obj)
                ended = True
            else:
                if not isinstance(obj, dict) or not obj or not set(obj) <= fields:
                    raise SpecViolation(f"data line with fields not in the header: {obj}")
                self.counts["stream_rows"] += 1
            yield raw

    # -- requests hook ---------------------------------------------------------------------------------
    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        path = urlsplit(response.url).path
        if not path.startswith(PREFIX):
            return response
        dataset = path[len(PREFIX):]
        request_body = response.request.body
        if request_body and response.request.headers.get("Content-Type", "").startswith("application/json"):
            data = request_body if isinstance(request_body, (bytes, str)) else b""
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and response.status_code == 200:
                self.check_request(dataset, parsed)
        ctype = response.headers.get("Content-Type", "")
        if ctype.startswith("application/jsonl") and response.status_code == 200:
            original = response.iter_lines

            def checked(*a: Any, **k: Any) -> Iterator[Any]:
                return self.check_lines(original(*a, **k))

            response.iter_lines = checked  # type: ignore[method-assign]
            return response
        if not ctype.startswith("application/json"):
            raise SpecViolation(f"unexpected Content-Type {ctype!r} from {path}")
        data = _buffer(response)
        if response.status_code != 200:
            self.check_error(response.status_code, json.loads(data))
        else:
            self.check_paged(dataset, json.loads(data))
        return response

    def session(self) -> requests.Session:
        session = requests.Session()
        session.hooks["response"].append(self.hook)
        return session
