"""Test client of the MediaMath emulator: :class:`MM`, a thin ``requests.Session`` wrapper that logs in
like a client would and parses XML with defusedxml, plus field sets and control/seed helpers."""

from __future__ import annotations

from typing import Any

import requests
from defusedxml import ElementTree as SafeET

from reconciler.sandbox.base import SandboxServer

API = "/mediamath/api/v2.0"
JSON_ACCEPT = "application/vnd.mediamath.v1+json"
DEMO = {"user": "demo", "password": "demo-password"}
API_KEY = "demo-api-key"


class MM:
    """A logged-in (or not) client of the emulator."""

    def __init__(self, server: SandboxServer, json: bool = False) -> None:
        self.server = server
        self.base = server.url + API
        self.http = requests.Session()
        self.http.params = {"api_key": API_KEY}  # type: ignore[assignment]  # on every call, like the SDK
        if json:
            self.http.headers["Accept"] = JSON_ACCEPT

    def login(self, user: str = "demo", password: str = "demo-password") -> requests.Response:
        r = self.http.post(f"{self.base}/login", data={"user": user, "password": password})
        assert r.status_code == 200, r.text
        return r

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(self.base + path, params=params)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        return self.http.post(self.base + path, data=data or {}, **kwargs)

    def xml(self, path: str, **params: Any) -> Any:
        r = self.get(path, **params)
        assert "xml" in r.headers["Content-Type"], r.headers
        return SafeET.fromstring(r.content)

    # -- creation helpers (through the API, as a client would) ---------------------------------
    def create(self, coll: str, **fields: Any) -> dict[str, str]:
        r = self.post(f"/{coll}", fields)
        assert r.status_code == 200, r.text
        return entity_dict(SafeET.fromstring(r.content).find("entity"))

    def hierarchy(self, zone: str = "Etc/GMT", currency: str = "USD") -> dict[str, dict[str, str]]:
        agency = self.create("agencies", name="Agency A", organization_id=100048)
        advertiser = self.create(
            "advertisers", name="Advertiser A", agency_id=agency["id"], vertical_id=13, ad_server_id=9,
            domain="https://a.example",
        )
        campaign = self.create("campaigns", **campaign_fields(advertiser["id"], zone_name=zone, currency_code=currency))
        strategy = self.create("strategies", **strategy_fields(campaign["id"]))
        return {"agency": agency, "advertiser": advertiser, "campaign": campaign, "strategy": strategy}


def campaign_fields(advertiser_id: Any, **extra: Any) -> dict[str, Any]:
    fields = {
        "name": "Campaign A", "advertiser_id": advertiser_id, "ad_server_id": 9,
        "start_date": "2025-01-01T00:00:00", "end_date": "2025-12-31T23:59:59", "goal_type": "cpc",
        "goal_value": "1.5", "total_budget": "10000", "service_type": "SELF", "use_mm_freq": "0",
    }
    fields.update(extra)
    return fields


def strategy_fields(campaign_id: Any, **extra: Any) -> dict[str, Any]:
    fields = {
        "name": "Strategy A", "campaign_id": campaign_id, "goal_type": "cpc", "goal_value": "1",
        "budget": "100", "pacing_amount": "10", "max_bid": "2", "type": "GBO",
    }
    fields.update(extra)
    return fields


def entity_dict(el: Any) -> dict[str, str]:
    """An ``<entity>``'s attributes plus its props (``value`` only)."""
    out = dict(el.attrib)
    for prop in el.findall("prop"):
        out[prop.get("name")] = prop.get("value")
    return out


def status_code(body: bytes) -> str:
    return str(SafeET.fromstring(body).find("status").get("code"))


def control(server: SandboxServer, action: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{server.url}/_sandbox/mediamath/{action}", json=body)


def seed(server: SandboxServer, name: str, data: Any) -> Any:
    r = requests.post(f"{server.url}/_sandbox/seed", json={"api": "mediamath", "name": name, "data": data})
    assert r.status_code == 200, r.text
    return r.json()
