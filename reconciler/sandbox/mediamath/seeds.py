"""Seed data of the MediaMath emulator.

- ``default`` (loaded by every reset): organisation 100048 "ACME Org" with users ``demo`` (the demo
  credentials) and ``jdoe`` (the out-of-band writer), organisation 100050 "Globex Org" with user
  ``outsider`` and agency 104000 (objects a demo user is denied), ad servers 1..9, verticals
  1..15 (13 is "Food & Beverages", as in the API's own example), and the targeting lookups
  ``target_dimensions`` / ``target_values`` (:mod:`.targeting`).
- ``estate``: a large hierarchy for benchmarks, inserted straight into the Store
  (``{"agencies": 2, "advertisers": 10, "campaigns": 100, "strategies": 10000, "budget_flights": 100,
  "organization_id": 100048}``); returns the created ids per collection.
- ``entities``: explicit documents ``{collection: [{"id": .., "name": .., field: value, ...}]}`` in
  wire form (the seed-comparison tests load the documented examples' data this way).

Seeded entities start with an empty ``/history``; history records API writes and control edits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.sandbox.base import EmulatorError
from reconciler.sandbox.info import Entry, SeedInfo
from reconciler.sandbox.mediamath.audiences import describe_segments, segment_documents
from reconciler.sandbox.mediamath.models import DT_FORMAT, ENTITY_TYPES, FieldError, FieldType
from reconciler.sandbox.mediamath.repo import API, Repo
from reconciler.sandbox.mediamath.supplies import describe_supplies, supply_documents
from reconciler.sandbox.mediamath.targeting import describe_lookups, lookup_documents
from reconciler.sandbox.mediamath.values import coerce, now_text

DEFAULT_ORG_ID = 100048
OTHER_ORG_ID = 100050
OTHER_AGENCY_ID = 104000
DEMO_API_KEY = "demo-api-key"
REFERENCE_TIME = "2010-05-05T16:13:12"
SEED_TIME = "2024-01-02T03:04:05"
LOAD_ORDER = ("organizations", "contracts", "users", "contacts", "ad_servers", "verticals", "vendors", "agencies",
              "advertisers", "pixel_bundles", "campaigns", "strategies", "budget_flights", "vendor_contracts", "concepts",
              "strategy_concepts", "strategy_day_parts",
              "target_dimensions", "target_values", "audience_segments", "strategy_audience_segments",
              "supply_sources", "deals", "strategy_supply_sources", "strategy_deals",
              "site_lists", "strategy_site_lists", "strategy_domain_restrictions")
USER_SECRETS = ("password", "api_key")

_ORG_FIELDS = {
    "status": True, "address_1": "1 Main Street", "city": "New York", "state": "NY", "zip": "10001",
    "country": "US", "phone": "+1 212 555 0100", "contact_name": "Pat Admin", "mm_contact_name": "Sam Rep",
}
ORGANIZATIONS = [
    {"id": DEFAULT_ORG_ID, "name": "ACME Org", **_ORG_FIELDS},
    {"id": OTHER_ORG_ID, "name": "Globex Org", **_ORG_FIELDS},
]
USERS = [
    {"id": 1, "name": "demo", "first_name": "Demo", "last_name": "User", "email": "demo@acme.example",
     "title": "Trader", "organization_id": DEFAULT_ORG_ID, "password": "demo-password", "api_key": DEMO_API_KEY},
    {"id": 2, "name": "jdoe", "first_name": "Jane", "last_name": "Doe", "email": "jdoe@acme.example",
     "title": "Account Manager", "organization_id": DEFAULT_ORG_ID, "password": "jdoe-password",
     "api_key": DEMO_API_KEY},
    {"id": 3, "name": "outsider", "first_name": "Olga", "last_name": "Outside", "email": "olga@globex.example",
     "title": "Trader", "organization_id": OTHER_ORG_ID, "password": "outsider-password",
     "api_key": DEMO_API_KEY},
]
AD_SERVERS = ["DART", "Atlas", "MediaMind", "PointRoll", "Eyewonder", "Mediaplex", "Yield Manager", "Other",
              "TerminalOne"]
VERTICALS = ["Arts & Entertainment", "Automotive", "Business", "Careers", "Education", "Family & Parenting",
             "Health & Fitness", "Home & Garden", "News", "Personal Finance", "Real Estate", "Retail",
             "Food & Beverages", "Technology & Computing", "Travel"]


USER_NOTES = {
    "demo": "the demo credentials log in as this user",
    "jdoe": "writes out-of-band edits (/_sandbox/mediamath/edit); drift and plan name this user",
    "outsider": "a user of the other organisation",
}


def describe_seeds() -> tuple[SeedInfo, ...]:
    """What ``default`` loads (from the constants it loads) and what the other seeds take."""
    orgs = {int(str(o["id"])): str(o["name"]) for o in ORGANIZATIONS}
    entries = [
        Entry("organization", str(DEFAULT_ORG_ID), orgs[DEFAULT_ORG_ID], "the demo user's: create agencies here"),
        Entry("organization", str(OTHER_ORG_ID), orgs[OTHER_ORG_ID], "another organisation: its objects answer 403 denied"),
        *(Entry("user", str(u["id"]), str(u["name"]), f"{orgs[int(str(u['organization_id']))]}; {USER_NOTES[str(u['name'])]}") for u in USERS),
        Entry("agency", str(OTHER_AGENCY_ID), "Globex Agency", orgs[OTHER_ORG_ID]),
        *(Entry("ad_server", str(i), name) for i, name in enumerate(AD_SERVERS, 1)),
        *(Entry("vertical", str(i), name) for i, name in enumerate(VERTICALS, 1)),
        *describe_lookups(),
        *describe_segments(),
        *describe_supplies(),
    ]
    return (
        SeedInfo("default", "loaded by every reset (no agencies, advertisers or campaigns of the demo organisation yet)", tuple(entries)),
        SeedInfo(
            "estate",
            'a large hierarchy for benchmarks under organization 100048: data {"agencies", "advertisers", '
            '"campaigns", "strategies", "budget_flights", "organization_id", "prefix"}; answers the created ids',
        ),
        SeedInfo("entities", 'explicit documents in wire form: data {"<collection>": [{"id", "name", <field>: <value>}]}'),
    )


def load_default(repo: Repo) -> dict[str, list[int]]:
    data: dict[str, list[dict[str, Any]]] = {
        "organizations": [dict(o, created_on=SEED_TIME, updated_on=SEED_TIME) for o in ORGANIZATIONS],
        "users": [dict(u, created_on=SEED_TIME, updated_on=SEED_TIME) for u in USERS],
        "ad_servers": [{"id": i, "name": n, "created_on": REFERENCE_TIME, "updated_on": REFERENCE_TIME}
                       for i, n in enumerate(AD_SERVERS, 1)],
        "verticals": [{"id": i, "name": n, "created_on": REFERENCE_TIME, "updated_on": REFERENCE_TIME}
                      for i, n in enumerate(VERTICALS, 1)],
        "agencies": [{"id": OTHER_AGENCY_ID, "name": "Globex Agency", "organization_id": OTHER_ORG_ID,
                      "status": True, "created_on": SEED_TIME, "updated_on": SEED_TIME}],
        **lookup_data(),
    }
    return load_entities(repo, data)


def lookup_data() -> dict[str, list[dict[str, Any]]]:
    """The global lookups every reset loads (targeting values, audience segments, supply, deals)."""
    return {**lookup_documents(REFERENCE_TIME), **segment_documents(REFERENCE_TIME), **supply_documents(REFERENCE_TIME)}


def backfill_lookups(repo: Repo) -> dict[str, list[int]]:
    """Load the lookups a data file made by an older sandbox lacks (its own data stays)."""
    missing = {coll: docs for coll, docs in lookup_data().items() if not repo.store.count(API, coll)}
    return load_entities(repo, missing) if missing else {}


def load_entities(repo: Repo, data: Mapping[str, Any]) -> dict[str, list[int]]:
    """Insert explicit documents (wire-form values; defaults filled; no required-field checks)."""
    unknown = sorted(set(data) - set(LOAD_ORDER))
    if unknown:
        raise EmulatorError(400, "invalid", f"unknown collections {unknown}")
    created: dict[str, list[int]] = {}
    for coll in LOAD_ORDER:
        for raw in data.get(coll) or []:
            doc = _build(repo, coll, raw)
            repo.put(coll, doc)
            created.setdefault(coll, []).append(doc["id"])
    return created


def _build(repo: Repo, coll: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    etype = ENTITY_TYPES[coll]
    now = now_text()
    doc: dict[str, Any] = {"id": int(raw["id"]) if raw.get("id") is not None else repo.new_id(coll),
                           "version": int(raw.get("version", 0))}
    extra = {"id", "version"} | (set(USER_SECRETS) if coll == "users" else set())
    for key in sorted(set(raw) - extra):
        if key not in etype.by_name:
            raise EmulatorError(400, "invalid", f"{etype.type} has no field {key!r}")
    try:
        for f in etype.fields:
            if f.name in etype.derived:
                continue
            if f.name in raw:
                doc[f.name] = coerce(f, raw[f.name])
            elif f.type is FieldType.DATETIME and f.name in ("created_on", "updated_on"):
                doc[f.name] = now
            elif f.default is not None:
                doc[f.name] = f.default
    except FieldError as exc:
        raise EmulatorError(400, "invalid", f"{coll} {doc['id']}: {exc}") from None
    doc.setdefault("name", raw.get("name"))
    if coll == "campaigns" and doc.get("initial_start_date") is None:
        doc["initial_start_date"] = doc.get("start_date")
    if coll == "strategies":
        doc.setdefault("use_campaign_start", doc.get("start_date") is None)
        doc.setdefault("use_campaign_end", doc.get("end_date") is None)
    if coll == "users":
        doc["password"] = str(raw.get("password") or "")
        doc["api_key"] = str(raw.get("api_key") or DEMO_API_KEY)
    return doc


def _defaults(coll: str) -> dict[str, Any]:
    etype = ENTITY_TYPES[coll]
    return {f.name: f.default for f in etype.fields if f.default is not None and f.name not in etype.derived}


def load_estate(repo: Repo, params: Mapping[str, Any]) -> dict[str, Any]:
    """A large hierarchy, fast: documents built from defaults and put straight into the Store."""
    try:
        counts = {k: int(params.get(k, 0) or 0) for k in
                  ("agencies", "advertisers", "campaigns", "strategies", "budget_flights")}
        org_id = int(params.get("organization_id", DEFAULT_ORG_ID))
    except (TypeError, ValueError):
        raise EmulatorError(400, "invalid", "estate counts must be integers") from None
    if any(v < 0 for v in counts.values()):
        raise EmulatorError(400, "invalid", "estate counts must not be negative")
    if repo.get("organizations", org_id) is None:
        raise EmulatorError(400, "invalid", f"organization {org_id} does not exist")
    prefix = str(params.get("prefix", "Estate"))
    # every level below something requested needs at least one parent
    if counts["strategies"] or counts["budget_flights"]:
        counts["campaigns"] = max(counts["campaigns"], 1)
    if counts["campaigns"]:
        counts["advertisers"] = max(counts["advertisers"], 1)
    if counts["advertisers"]:
        counts["agencies"] = max(counts["agencies"], 1)
    now = now_text()
    stamp = {"version": 0, "created_on": now, "updated_on": now}
    ids: dict[str, list[int]] = {k: [] for k in counts}

    def make(coll: str, n: int, fields: dict[str, Any]) -> None:
        base = _defaults(coll)
        for i in range(n):
            doc = {"id": repo.new_id(coll), **stamp, **base}
            for key, value in fields.items():
                doc[key] = value(i, doc["id"]) if callable(value) else value
            repo.put(coll, doc)
            ids[coll].append(doc["id"])

    make("agencies", counts["agencies"], {"organization_id": org_id, "name": lambda i, _: f"{prefix} Agency {i + 1}"})
    agencies = ids["agencies"]
    make("advertisers", counts["advertisers"], {
        "agency_id": lambda i, _: agencies[i % len(agencies)],
        "name": lambda i, _: f"{prefix} Advertiser {i + 1}",
        "vertical_id": lambda i, _: 1 + i % len(VERTICALS),
        "ad_server_id": 9,
        "domain": lambda i, _: f"https://advertiser-{i + 1}.example",
    })
    advertisers = ids["advertisers"]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    make("campaigns", counts["campaigns"], {
        "advertiser_id": lambda i, _: advertisers[i % len(advertisers)],
        "name": lambda i, _: f"{prefix} Campaign {i + 1}",
        "start_date": start.strftime(DT_FORMAT),
        "initial_start_date": start.strftime(DT_FORMAT),
        "end_date": (start + timedelta(days=3 * 365)).strftime(DT_FORMAT),
        "service_type": "SELF",
        "goal_type": "cpc",
        "goal_value": "1.0000",
        "total_budget": "100000.00",
        "ad_server_id": 9,
        "use_mm_freq": False,
    })
    campaigns = ids["campaigns"]
    make("strategies", counts["strategies"], {
        "campaign_id": lambda i, _: campaigns[i % len(campaigns)],
        "name": lambda i, _: f"{prefix} Strategy {i + 1}",
        "goal_type": "cpc",
        "goal_value": "1.0000",
        "budget": "1000.00",
        "pacing_amount": "100.00",
        "max_bid": "5.00",
        "type": "GBO",
        "use_campaign_start": True,
        "use_campaign_end": True,
    })

    def flight_start(i: int) -> datetime:
        return start + timedelta(days=10 * (i // len(campaigns)))

    make("budget_flights", counts["budget_flights"], {
        "campaign_id": lambda i, _: campaigns[i % len(campaigns)],
        "name": lambda i, id_: f"Budget Flights #{id_}",
        "start_date": lambda i, _: flight_start(i).strftime(DT_FORMAT),
        "end_date": lambda i, _: (flight_start(i) + timedelta(days=10, seconds=-1)).strftime(DT_FORMAT),
        "total_budget": "1000.00",
    })
    return {"created": ids, "counts": {k: len(v) for k, v in ids.items()}}
