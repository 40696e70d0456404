"""Shared fixtures and helpers for the LiveRamp emulator and provider tests.

- ``lr_server``: an in-memory sandbox with the LiveRamp emulator, served over real HTTP on
  127.0.0.1 (port 0) for the module and reset before each test.
- ``openapi_hook`` (autouse): every ``requests.Session`` created during a test gets the
  OpenAPI response hook, so each LiveRamp answer is validated against the vendor spec.
- :class:`Api`: a thin raw-HTTP client (token + JSON calls) for arranging data and for checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from reconciler.sandbox import create_sandbox
from reconciler.sandbox.base import SandboxServer
from tests.sandbox.liveramp.openapi_check import OpenAPIChecker, checker

DEMO = ("demo-client", "demo-secret")


@pytest.fixture(scope="module")
def lr_module_server() -> Iterator[SandboxServer]:
    server = SandboxServer(create_sandbox(names=["liveramp"])).start()
    try:
        yield server
    finally:
        server.stop()
        server.app.store.close()


@pytest.fixture
def lr_server(lr_module_server: SandboxServer) -> SandboxServer:
    """The module's server, reset to a fresh sandbox (reference data only) for each test."""
    lr_module_server.app.reset()
    return lr_module_server


@pytest.fixture(autouse=True)
def openapi_hook(monkeypatch: pytest.MonkeyPatch) -> OpenAPIChecker:
    check = checker()
    original = requests.Session.__init__

    def init(self: requests.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.hooks["response"].append(check.hook)

    monkeypatch.setattr(requests.Session, "__init__", init)
    return check


class Api:
    """Raw calls to the emulator, as any HTTP client would make them."""

    def __init__(self, server: SandboxServer, credentials: tuple[str, str] = DEMO) -> None:
        self.server = server
        self.base = f"{server.url}/liveramp/v1"
        self.session = requests.Session()
        self.credentials = credentials
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            r = self.session.post(f"{self.base}/oauth/token", auth=self.credentials, data={"grant_type": "client_credentials"})
            assert r.status_code == 200, r.text
            self._token = r.json()["accessToken"]
        return self._token

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.call(method, path, **kwargs)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    def control(self, method: str, action: str, **kwargs: Any) -> Any:
        r = self.session.request(method, f"{self.server.url}/_sandbox/liveramp/{action}", **kwargs)
        assert r.status_code == 200, f"{method} {action}: {r.status_code} {r.text}"
        return r.json()

    # -- arranging common objects ----------------------------------------------------------------
    def connection(self, name: str = "crm-upload", fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        dc = self.ok(
            "POST",
            "/data-connections",
            json={
                "name": name,
                "category": "CRM",
                "dataType": {"name": "CRM"},
                "dataSource": {"name": "client-aws-s3"},
                "dataSourceConfiguration": [{"name": "bucketPath", "value": "s3://acme/crm/"}],
            },
        )
        self.ok(
            "POST",
            f"/data-connections/{dc['id']}/field-configurations",
            json=fields
            or [
                {"fieldName": "email_sha256", "dataType": "STRING", "identifierType": "Email SHA256 Hashed", "isUserIdField": True, "isPii": True},
                {"fieldName": "age", "dataType": "INTEGER"},
                {"fieldName": "region", "dataType": "STRING"},
            ],
        )
        return dict(dc)

    def cleanroom(self, name: str = "Acme x Partner", **extra: Any) -> dict[str, Any]:
        body = {
            "name": name,
            "type": "Hybrid",
            "startAt": "2025-01-01",
            "parameters": {"REGION": "REGION_US", "CLOUD": "CLOUD_GCP", "SUB_REGION": "SUB_REGION_EAST1"},
            **extra,
        }
        return dict(self.ok("POST", "/cleanrooms", json=body))

    def question(self, title: str = "Reach by region", macro: str = "crm") -> str:
        body = {
            "questionDetails": {
                "title": title,
                "category": "Reach",
                "description": "Users by region",
                "tags": ["reach"],
                "queryDetails": [
                    {"query": f"SELECT @{macro}.region, COUNT(*) AS users FROM @{macro} WHERE age > @min_age GROUP BY 1", "cleanRoomType": "Hybrid", "queryLanguage": "SQL"}
                ],
                "dataTypes": [{"importDataType": "CRM", "macro": macro, "dataSetTypeFields": [{"name": "user_id", "type": "STRING"}, {"name": "region", "type": "STRING"}]}],
                "parameters": [{"name": "min_age", "type": "INTEGER", "displayName": "Minimum age", "defaultValue": "18"}],
                "dimensions": [{"name": "region", "type": "STRING"}],
                "measures": [{"name": "users", "type": "LONG", "isIdentity": False, "noise": 1}],
            },
            "settings": {"queryValidation": True},
        }
        return str(self.ok("POST", "/question", json=body)["questionID"])

    def org_id(self, room_id: str) -> str:
        holders = self.ok("GET", f"/cleanrooms/{room_id}/stakeholders")
        return str(next(h["organizationId"] for h in holders if h["ownership"] == "OWNER"))

    def ready_crq(self) -> dict[str, Any]:
        """A clean room with a dataset and a READY clean-room question."""
        dc = self.connection()
        room = self.cleanroom()
        ds = self.ok("POST", f"/cleanrooms/{room['id']}/datasets/configure", params={"dataConnectionId": dc["id"]})
        qid = self.question()
        crq = self.ok("POST", f"/cleanrooms/{room['id']}/cleanroom-questions", params={"questionId": qid})
        self.ok("POST", f"/cleanroom-questions/{crq['id']}/datasets-ownership", json=[{"organizationId": self.org_id(room["id"]), "macro": "crm"}])
        self.ok(
            "POST",
            f"/cleanroom-questions/{crq['id']}/datasets",
            json=[{"datasetId": ds["id"], "macro": "crm", "fields": [{"name": "user_id", "value": "email_sha256"}, {"name": "region", "value": "region"}]}],
        )
        return {"connection": dc, "room": room, "dataset": ds, "question_id": qid, "crq": crq}


@pytest.fixture
def api(lr_server: SandboxServer) -> Api:
    return Api(lr_server)
