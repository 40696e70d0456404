"""Check LiveRamp sandbox answers against the vendor's OpenAPI (``tests/vendor/
liveramp-clean-room-api.openapi.yml``): the ONE place that loads the spec for the tests.

:class:`OpenAPIChecker` resolves the operation by method + path template (the most literal
template wins, so ``/cleanrooms/cleanroom-types`` beats ``/cleanrooms/{cleanroomId}``) and
validates the JSON body with ``openapi-schema-validator`` (``OAS30Validator`` with the OAS 3.0
format checker) against the response schema declared for that status. ``hook`` is a requests
response hook, so every answer a test receives is checked as it arrives.

Known defects of the spec (``reference/clean-room-apis.md``), each handled explicitly below:

1. §1.3: the live error body is Spring's ``{status, code, timestamp, message, details}`` with an
   *integer* ``code``; the spec's ``ReturnObject`` types ``code`` as a string. Errors are
   validated against ``ReturnObject`` with ``code`` widened to string-or-integer, plus the live
   shape below.
2. §1.3 / §1.11: 429 is documented on the api-limits page but declared on no operation; and
   405/415 come from the framework. Undeclared error statuses are validated as ``ReturnObject``.
3. §1.5 / §1.10: ``GET /cleanrooms/{cleanroomId}/invitations`` is typed as a single
   ``InvitationDetail`` though it lists invitations: each item is validated as one.
4. §1.10: ``Measure.noise`` is boolean in the spec but an integer in LiveRamp's SDK (S3): both
   are accepted.
5. §1.2: ``POST /oauth/token`` is not among the spec's paths (only the security scheme's
   ``tokenUrl``): its answer is validated against the documented camelCase shape below.

Request-side defects (``organizationId`` required on ``CleanRoomRequest`` without a property,
the comma-joined flag key, ownership and permission bodies declared as query parameters) do not
concern responses; the emulator accepts the real request shapes.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry
from referencing.jsonschema import DRAFT4

from tests.vendor import LIVERAMP_OPENAPI, vendor_file

SPEC_PATH = vendor_file(LIVERAMP_OPENAPI)
SPEC_URI = "urn:liveramp-clean-room-api"
API_PREFIX = "/liveramp/v1"

# Defect 5 (reference §1.2): the token answer as documented on the request-an-access-token page.
TOKEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["accessToken", "tokenType", "expiresIn", "expiresAt"],
    "properties": {
        "accessToken": {"type": "string", "minLength": 1},
        "tokenType": {"type": "string", "enum": ["Bearer"]},
        "expiresIn": {"type": "integer", "minimum": 1},
        "expiresAt": {"type": "string", "format": "date-time", "pattern": r"\.\d{3}[+-]\d{2}:\d{2}$"},
    },
}
# Defect 1 (reference §1.3): the live Spring error body.
LIVE_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "code", "timestamp", "message", "details"],
    "properties": {
        "status": {"type": "string", "pattern": "^[A-Z_]+$"},
        "code": {"type": "integer"},
        "timestamp": {"type": "string", "pattern": r"^\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}$"},
        "message": {"type": "string"},
        "details": {"type": "string", "pattern": "^uri=/"},
    },
}


class OpenAPIChecker:
    """Validates sandbox responses against the vendor spec; counts what it checked."""

    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        with spec_path.open(encoding="utf-8") as fh:
            spec = yaml.safe_load(fh)
        self.spec = self._patch_defects(spec)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, DRAFT4.create_resource(self.spec))
        self.checked: Counter[str] = Counter()

    @staticmethod
    def _patch_defects(spec: dict[str, Any]) -> dict[str, Any]:
        spec = copy.deepcopy(spec)
        schemas = spec["components"]["schemas"]
        # Defect 1 (reference §1.3): live error ``code`` is an integer.
        schemas["ReturnObject"]["properties"]["code"] = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
        # Defect 4 (reference §1.10): Measure.noise boolean in the spec, integer in the SDK.
        schemas["Measure"]["properties"]["noise"] = {"anyOf": [{"type": "boolean"}, {"type": "integer"}]}
        return spec

    @cached_property
    def _templates(self) -> list[tuple[re.Pattern[str], str]]:
        compiled = []
        for template in self.spec["paths"]:
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            literal = len(re.sub(r"\{[^}]+\}", "", template))
            compiled.append((literal, re.compile(pattern), template))
        compiled.sort(key=lambda t: -t[0])
        return [(p, t) for _, p, t in compiled]

    def operation(self, method: str, api_path: str) -> tuple[str, dict[str, Any]] | None:
        for pattern, template in self._templates:
            if pattern.match(api_path):
                op = self.spec["paths"][template].get(method.lower())
                if op is not None:
                    return template, op
        return None

    def _validate(self, instance: Any, schema: dict[str, Any], where: str) -> None:
        validator = OAS30Validator(schema, registry=self.registry, format_checker=oas30_format_checker)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"  {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:10]]
            raise AssertionError(f"{where}: answer does not match the vendor OpenAPI schema:\n" + "\n".join(lines))

    @staticmethod
    def _ref(name: str) -> dict[str, Any]:
        return {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}

    def _json_schema(self, response_spec: dict[str, Any]) -> dict[str, Any] | None:
        if "$ref" in response_spec:  # components/responses/...
            response_spec = self.spec["components"]["responses"][response_spec["$ref"].rsplit("/", 1)[1]]
        schema = response_spec.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return None
        absolute: dict[str, Any] = self._absolute(schema)
        return absolute

    def _absolute(self, schema: Any) -> Any:
        if isinstance(schema, dict):
            return {k: (f"{SPEC_URI}{v}" if k == "$ref" and v.startswith("#") else self._absolute(v)) for k, v in schema.items()}
        if isinstance(schema, list):
            return [self._absolute(v) for v in schema]
        return schema

    def check(self, method: str, url: str, status: int, body: Any) -> str | None:
        """Validate one answer. Returns the operation key checked, or None (not an API call)."""
        path = urlsplit(url).path
        if API_PREFIX not in path:
            return None  # control endpoints (/_sandbox/...) are the sandbox's own
        api_path = path.split(API_PREFIX, 1)[1] or "/"
        where = f"{method} {api_path} -> {status}"
        if api_path == "/oauth/token":  # defect 5
            key = f"{method} /oauth/token {status}"
            if status == 200:
                self._validate(body, TOKEN_SCHEMA, where)
            else:
                self._check_error(body, None, status, where)
            self.checked[key] += 1
            return key
        found = self.operation(method, api_path)
        if found is None and status >= 400:  # framework answers (405 on a path without that method): defect 2
            key = f"{method} <undeclared> {status}"
            self._check_error(body, None, status, where)
            self.checked[key] += 1
            return key
        if found is None:
            raise AssertionError(f"{where}: no operation {method} {api_path} in the vendor OpenAPI")
        template, op = found
        key = f"{method} {template} {status}"
        if status >= 400:
            self._check_error(body, op, status, where)
        else:
            declared = op["responses"].get(str(status))
            if declared is None:
                raise AssertionError(f"{where}: status {status} is not declared for {method} {template}")
            schema = self._json_schema(declared)
            if template == "/cleanrooms/{cleanroomId}/invitations" and method == "GET":
                schema = {"type": "array", "items": schema}  # defect 3
            if schema is not None:
                self._validate(body, schema, where)
        self.checked[key] += 1
        return key

    def _check_error(self, body: Any, op: dict[str, Any] | None, status: int, where: str) -> None:
        self._validate(body, LIVE_ERROR_SCHEMA, where)
        declared = (op or {}).get("responses", {}).get(str(status))
        schema = self._json_schema(declared) if declared else self._ref("ReturnObject")  # defect 2
        self._validate(body, schema or self._ref("ReturnObject"), where)

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        """requests response hook: validates every LiveRamp answer as it arrives."""
        if API_PREFIX not in urlsplit(response.url).path:
            return response
        if response.status_code == 200 or response.status_code >= 400:
            ctype = response.headers.get("Content-Type", "")
            if "application/json" not in ctype:
                raise AssertionError(f"{response.request.method} {response.url}: answer is not JSON ({ctype!r})")
            self.check(str(response.request.method), response.url, response.status_code, response.json())
        else:
            raise AssertionError(f"{response.request.method} {response.url}: unexpected status {response.status_code} (every success is 200)")
        return response


_CHECKER: OpenAPIChecker | None = None


def checker() -> OpenAPIChecker:
    """The process-wide checker (the spec is parsed once)."""
    global _CHECKER
    if _CHECKER is None:
        _CHECKER = OpenAPIChecker()
    return _CHECKER
