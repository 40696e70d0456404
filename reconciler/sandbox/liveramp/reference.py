"""Reference data every fresh LiveRamp sandbox holds.

Ids are stable across resets (uuid5 of a fixed name), so a provider's cached lookups (type ids,
role ids) stay valid after ``/_sandbox/reset``. Names and display names come from the vendor
OpenAPI enums (``CleanRoomTypeRequest``, ``DataSource.displayName``, ``DataType.displayName``,
``FieldConfiguration.identifierType``, ``QuestionImportDataType``).
"""

from __future__ import annotations

import uuid
from typing import Any

_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://api.habu.com/sandbox")


def stable_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(_NS, f"{kind}/{name}"))


ORG_ID = stable_id("org", "demo-advertiser")
ORG_NAME = "Demo Advertiser"
ORG_DOMAIN = "demo-advertiser.example"

DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret"
API_USER_EMAIL = f"api@{ORG_DOMAIN}"

# name, displayName, listQuestionSupport, analyticalQuestionSupport, wallGarden
CLEANROOM_TYPES: list[tuple[str, str, bool, bool, bool]] = [
    ("Hybrid", "Hybrid", True, True, False),
    ("Snowflake", "Snowflake", True, True, False),
    ("Databricks", "Databricks", True, True, False),
    ("Google", "Google Cloud BigQuery", True, True, False),
    ("AWS", "AWS", True, True, False),
    ("Facebook", "Facebook Advanced Analytics", False, True, True),
    ("AMC", "Amazon Marketing Cloud", False, True, True),
    ("ADH", "Google Ads Data Hub", False, True, True),
    ("LinkedIn", "LinkedIn Marketing Solutions", False, True, True),
    ("HabuConfidentialComputing", "Confidential Computing", True, True, False),
]

OWNER_ROLES = ("Administrator", "Analyst", "Viewer")
PARTNER_ROLES = ("Partner Administrator", "Analyst", "Viewer")
PROTECTED_ROLES = frozenset({"Administrator", "Partner Administrator"})

# name, displayName, credentialSource
DATA_SOURCES: list[tuple[str, str, str]] = [
    ("client-aws-s3", "Client AWS S3", "AWS_IAM_USER"),
    ("google-cloud-storage", "Google Cloud Storage", "GCP_SERVICE_ACCOUNT"),
    ("google-cloud-bigquery", "Google Cloud Big Query", "GCP_SERVICE_ACCOUNT"),
    ("snowflake", "Snowflake Data Connection", "SNOWFLAKE"),
    ("azure-storage", "Azure Storage", "AZURE_SAS"),
    ("databricks", "Databricks Data Connection", "DATABRICKS"),
    ("liveramp-hosted-s3", "LiveRamp-Hosted AWS S3", ""),
    ("local-upload", "Local Upload", ""),
]

# import data type name (QuestionImportDataType), DataType.displayName
DATA_TYPES: list[tuple[str, str]] = [
    ("Generic", "Generic"),
    ("CRM", "CRM Data"),
    ("Transaction", "Transaction Data"),
    ("UserData", "User Data"),
    ("AdExposure", "Ad Exposure"),
    ("AdEngagement", "Ad Engagement"),
    ("AdLogs", "Ad Logs"),
    ("ConversionEvents", "Conversion Events"),
    ("OfflineConversions", "Offline Conversions"),
    ("Campaign", "Campaign Data"),
    ("CampaignMapping", "Campaign Mapping Data"),
    ("MemberProfile", "Member Profile"),
    ("Metadata", "Metadata"),
    ("PageData", "Page Data"),
    ("IDENTITY_GRAPH", "Identity Graph"),
    ("UserSegmentMap", "User-Segment Map"),
]

IDENTIFIER_TYPES = [
    "RampID", "Raw Email", "Email SHA256 Hashed", "Email SHA1 Hashed", "Email MD5 Hashed",
    "Customer First Party Identifier", "Mobile Device Identifier", "Hashed Customer ID", "IP Address",
    "Postal Code", "phone",
]

FIELD_DATA_TYPES = frozenset(
    {"BOOLEAN", "DATE", "DECIMAL", "DOUBLE", "INTEGER", "LONG", "STRING", "TEXT", "TIMESTAMP", "UNKNOWN"}
)
DELIMITERS = frozenset({"", "Semicolon", "Tab", "Comma", "Pipe"})

# email, name, org role
ORG_USERS: list[tuple[str, str, str]] = [
    (API_USER_EMAIL, "API User", "Organization Admin"),
    (f"analyst@{ORG_DOMAIN}", "Ana Analyst", "Analyst"),
    (f"viewer@{ORG_DOMAIN}", "Val Viewer", "Viewer"),
]


def cleanroom_types() -> list[dict[str, Any]]:
    return [
        {
            "id": stable_id("cleanroom-type", name),
            "name": name,
            "displayName": display,
            "listQuestionSupport": lists,
            "analyticalQuestionSupport": analytics,
            "wallGarden": walled,
        }
        for name, display, lists, analytics, walled in CLEANROOM_TYPES
    ]


def data_sources() -> list[dict[str, Any]]:
    return [
        {"id": stable_id("data-source", name), "name": name, "displayName": display, "credentialSource": cred}
        for name, display, cred in DATA_SOURCES
    ]


def data_types() -> list[dict[str, Any]]:
    return [
        {"id": stable_id("data-type", name), "name": name, "displayName": display} for name, display in DATA_TYPES
    ]


def identifier_types() -> list[dict[str, Any]]:
    return [{"id": stable_id("identifier-type", n), "name": n, "displayName": n} for n in IDENTIFIER_TYPES]


def org_user(email: str, name: str, role: str, org_id: str = ORG_ID) -> dict[str, Any]:
    return {
        "id": stable_id("user", email.lower()),
        "roleName": role,
        "user": {"id": stable_id("user", email.lower()), "name": name, "email": email},
        "_organizationId": org_id,
    }
