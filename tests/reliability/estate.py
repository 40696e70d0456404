"""A multi-provider estate for the reliability suite and ``benchmarks/soak.py``.

:func:`write_workspace` lays out a workspace of about 200 objects over MediaMath (organisation
lookup, agencies, advertisers, campaigns, strategies, budget flights), LiveRamp (data
connections, clean rooms, datasets, partners, users, questions, clean-room questions, run
schedules) and mediarithmics (clean rooms, ``writes: enabled``). Endpoints and credentials come
from environment variables (``${env:...}``), so one workspace can point at any SandboxServer:
:func:`workspace_env` gives the variables for a server URL (demo credentials unless others are
given).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MM_ORG_NAME = "ACME Org"  # the MediaMath sandbox's default organisation
MICS_ORG = "1863"  # the mediarithmics sandbox's default organisations
MICS_PARTNERS = ("1752", "1581")

DEMO_SECRETS: Mapping[str, str] = {
    "RELI_MM_USERNAME": "demo",
    "RELI_MM_PASSWORD": "demo-password",
    "RELI_MM_API_KEY": "demo-api-key",
    "RELI_LR_CLIENT_ID": "demo-client",
    "RELI_LR_CLIENT_SECRET": "demo-secret",
    "RELI_MICS_TOKEN": "demo-token",
}

WORKSPACE_YAML = """\
apiVersion: reconciler/v1
kind: Workspace
providers:
  mediamath:
    endpoint: "${env:RELI_MM_ENDPOINT}"
    credentials:
      username: "${env:RELI_MM_USERNAME}"
      password: "${env:RELI_MM_PASSWORD}"
      api_key: "${env:RELI_MM_API_KEY}"
    timeout: "${env:RELI_TIMEOUT}"
  liveramp:
    endpoint: "${env:RELI_LR_ENDPOINT}"
    credentials:
      client_id: "${env:RELI_LR_CLIENT_ID}"
      client_secret: "${env:RELI_LR_CLIENT_SECRET}"
    token_cache_dir: "${env:RELI_TOKEN_CACHE}"
    timeout: "${env:RELI_TIMEOUT}"
  mediarithmics:
    endpoint: "${env:RELI_MICS_ENDPOINT}"
    organisation_id: "1863"
    writes: enabled
    credentials:
      token: "${env:RELI_MICS_TOKEN}"
paths: [manifests/]
"""


@dataclass(frozen=True)
class Size:
    """How many objects of each family (defaults: 203 objects)."""

    agencies: int = 2
    advertisers_per_agency: int = 2
    campaigns_per_advertiser: int = 3
    strategies_per_campaign: int = 4
    rooms: int = 8  # LiveRamp: each room brings a connection, dataset, partner, user, question, crq, schedule
    mics_rooms: int = 60

    @property
    def total(self) -> int:
        advertisers = self.agencies * self.advertisers_per_agency
        campaigns = advertisers * self.campaigns_per_advertiser
        mediamath = (1 + self.agencies + advertisers + campaigns * (2 + self.strategies_per_campaign)) if self.agencies else 0
        return mediamath + 8 * self.rooms + self.mics_rooms


SMALL = Size(agencies=1, advertisers_per_agency=1, campaigns_per_advertiser=2, strategies_per_campaign=2, rooms=1, mics_rooms=4)


def workspace_env(
    url: str, cache_dir: Path, secrets: Mapping[str, str] | None = None, timeout: float = 20.0
) -> dict[str, str]:
    """Environment variables pointing the workspace at a SandboxServer at ``url`` (``timeout``:
    the MediaMath and LiveRamp clients' HTTP timeout in seconds)."""
    return {
        "RELI_TIMEOUT": f"{timeout:g}",
        "RELI_MM_ENDPOINT": f"{url}/mediamath",
        "RELI_LR_ENDPOINT": f"{url}/liveramp",
        "RELI_MICS_ENDPOINT": f"{url}/mediarithmics",
        "RELI_TOKEN_CACHE": str(cache_dir),
        **DEMO_SECRETS,
        **(secrets or {}),
    }


def pg_env(url: str, schema: str) -> dict[str, str]:
    """The variables of a workspace written with ``postgres=True``."""
    return {"RELI_PG_URL": url, "RELI_PG_SCHEMA": schema}


def _doc(api: str, kind: str, name: str, spec: str, lifecycle: str = "") -> str:
    body = f"apiVersion: {api}/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
    body += textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ") + "\n"
    if lifecycle:
        body += "lifecycle:\n" + textwrap.indent(textwrap.dedent(lifecycle).strip("\n"), "  ") + "\n"
    return body


def mediamath_docs(size: Size) -> list[str]:
    if not size.agencies:
        return []
    docs = [_doc("mediamath", "Organization", "org", f"name: {MM_ORG_NAME}")]
    for a in range(size.agencies):
        agency = f"ag{a}"
        docs.append(_doc("mediamath", "Agency", agency, f"""
            organization_id: {{ref: Organization/org}}
            name: Reliability Agency {a}
            status: true
        """))
        for d in range(size.advertisers_per_agency):
            adv = f"{agency}-adv{d}"
            docs.append(_doc("mediamath", "Advertiser", adv, f"""
                agency_id: {{ref: Agency/{agency}}}
                name: Reliability Advertiser {a}.{d}
                domain: https://adv-{a}-{d}.example
                ad_server_id: 9
                vertical_id: 12
                status: true
            """))
            for c in range(size.campaigns_per_advertiser):
                camp = f"{adv}-c{c}"
                docs.append(_doc("mediamath", "Campaign", camp, f"""
                    advertiser_id: {{ref: Advertiser/{adv}}}
                    name: Reliability Campaign {a}.{d}.{c}
                    ad_server_id: 9
                    service_type: SELF
                    currency_code: USD
                    zone_name: America/New_York
                    start_date: "2027-0{1 + c % 9}-01T00:00:00"
                    end_date: "2027-12-31T23:59:59"
                    goal_type: cpa
                    goal_value: 12.5
                    total_budget: {50000 + 100 * c}
                    use_mm_freq: false
                """))
                docs.append(_doc("mediamath", "BudgetFlight", f"{camp}-flight", f"""
                    campaign_id: {{ref: Campaign/{camp}}}
                    name: Flight {a}.{d}.{c}
                    start_date: "2027-0{1 + c % 9}-01T00:00:00-05:00"
                    end_date: "2027-12-31T23:59:59-05:00"
                    total_budget: {40000 + 100 * c}
                """))
                for s in range(size.strategies_per_campaign):
                    docs.append(_doc("mediamath", "Strategy", f"{camp}-s{s}", f"""
                        campaign_id: {{ref: Campaign/{camp}}}
                        name: Reliability Strategy {a}.{d}.{c}.{s}
                        type: GBO
                        goal_type: cpa
                        goal_value: {10 + s}
                        budget: {1000 + 10 * s}
                        max_bid: 4.5
                        pacing_type: even
                        pacing_interval: day
                        pacing_amount: {100 + s}
                        use_campaign_start: true
                        use_campaign_end: true
                        media_type: DISPLAY
                    """))
    return docs


def liveramp_docs(size: Size) -> list[str]:
    docs: list[str] = []
    for r in range(size.rooms):
        docs.append(_doc("liveramp", "DataConnection", f"conn{r}", f"""
            name: Reliability CRM upload {r}
            category: CRM
            data_type: CRM
            data_source: client-aws-s3
            configuration:
              bucketPath: s3://reliability/crm-{r}/
              fileFormat: CSV
            fields:
              - name: email_sha256
                type: STRING
                identifier_type: Email SHA256 Hashed
                user_id: true
                pii: true
              - name: age
                type: INTEGER
              - name: region
                type: STRING
        """))
        docs.append(_doc("liveramp", "Cleanroom", f"room{r}", f"""
            name: Reliability room {r}
            description: Room {r} of the reliability estate
            type: Hybrid
            start_at: "2025-01-01"
            parameters:
              REGION: REGION_US
              SUB_REGION: SUB_REGION_EAST1
              CLOUD: CLOUD_GCP
              ENABLE_EXPORT: false
              CROWD_SIZE: {50 + r}
        """, "on_delete: delete"))
        docs.append(_doc("liveramp", "CleanroomDataset", f"ds{r}", f"""
            cleanroom_id: {{ref: Cleanroom/room{r}}}
            data_connection_id: {{ref: DataConnection/conn{r}}}
            ramp_id_consent: false
            partner_can_assign: false
        """))
        docs.append(_doc("liveramp", "CleanroomPartner", f"partner{r}", f"""
            cleanroom_id: {{ref: Cleanroom/room{r}}}
            partner_admin_email: admin{r}@media-partner.example
            invitation_note: Reliability invitation {r}
        """))
        docs.append(_doc("liveramp", "CleanroomUser", f"user{r}", f"""
            cleanroom_id: {{ref: Cleanroom/room{r}}}
            email: analyst@demo-advertiser.example
            role: Analyst
        """))
        docs.append(_doc("liveramp", "Question", f"q{r}", f"""
            cleanroom_id: {{ref: Cleanroom/room{r}}}
            title: Reliability reach {r}
            description: Distinct users per region ({r})
            category: Reach
            tags: [reach]
            output_format: REPORT
            is_analytics: true
            queries:
              - cleanroom_type: Hybrid
                query: SELECT @crm.region AS region, COUNT(DISTINCT @crm.user_id) AS users FROM @crm GROUP BY 1
            data_types:
              - macro: crm
                import_data_type: CRM
                fields:
                  - {{name: user_id, type: STRING}}
                  - {{name: region, type: STRING}}
            dimensions:
              - {{name: region, type: STRING}}
            measures:
              - {{name: users, type: LONG, noise: 1}}
        """))
        docs.append(_doc("liveramp", "CleanroomQuestion", f"crq{r}", f"""
            cleanroom_id: {{ref: Cleanroom/room{r}}}
            question_id: {{ref: Question/q{r}}}
            assignments:
              - macro: crm
                dataset_id: {{ref: CleanroomDataset/ds{r}}}
                fields:
                  user_id: email_sha256
                  region: region
            permissions:
              VIEW_RESULTS: ALL_CLEAN_ROOM_PARTNERS
        """))
        docs.append(_doc("liveramp", "QuestionRunSchedule", f"sched{r}", f"""
            cleanroom_question_id: {{ref: CleanroomQuestion/crq{r}}}
            name: Weekly reach {r}
            frequency: WEEKLY
            days_of_week: [MON]
            start: "2027-01-04T06:00:00Z"
        """))
    return docs


def mediarithmics_docs(size: Size) -> list[str]:
    docs = []
    for r in range(size.mics_rooms):
        partner = MICS_PARTNERS[r % len(MICS_PARTNERS)]
        docs.append(_doc("mediarithmics", "CleanRoom", f"mroom{r}", f"""
            name: Reliability clean room {r}
            organisation_id: "{MICS_ORG}"
            members:
              - organisation_id: "{MICS_ORG}"
                purposes: [INSIGHTS, ACTIVATION]
              - organisation_id: "{partner}"
                purposes: [{'INSIGHTS' if r % 2 else 'ACTIVATION'}]
        """, "on_delete: delete"))
    return docs


PG_STATE = 'state: {backend: postgres, url: "${env:RELI_PG_URL}", schema: "${env:RELI_PG_SCHEMA}"}\n'


def write_workspace(root: Path, size: Size = Size(), *, postgres: bool = False) -> Path:
    """Write ``reconciler.yaml`` and ``manifests/*.yaml`` under ``root``; returns ``root``.

    ``postgres``: the state lives in PostgreSQL (``RELI_PG_URL``, ``RELI_PG_SCHEMA``: see
    :func:`pg_env`) instead of ``.reconciler/``."""
    manifests = root / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text(WORKSPACE_YAML + (PG_STATE if postgres else ""), encoding="utf-8")
    for name, docs in (
        ("mediamath.yaml", mediamath_docs(size)),
        ("liveramp.yaml", liveramp_docs(size)),
        ("mediarithmics.yaml", mediarithmics_docs(size)),
    ):
        if docs:
            (manifests / name).write_text("---\n".join(docs), encoding="utf-8")
    return root
