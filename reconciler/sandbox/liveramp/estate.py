"""The ``estate`` seed of the LiveRamp emulator: a large, valid clean-room estate for benchmarks.

``POST /_sandbox/seed {"api": "liveramp", "name": "estate", "data": {...}}`` builds, through the
backend's own operations (so every rule a client's calls would meet holds) and in the seed's
single transaction:

- ``data_connections`` (default 2) org-level CRM data connections with their field configuration
  (``user_id``, ``region``, ``age``);
- ``questions`` (default 3) org-level questions, one data-type macro ``crm`` each;
- ``cleanrooms`` (default 100) Hybrid clean rooms, each with every data connection configured as a
  dataset, ``partners`` (default 2) pending partner invitations, every question added as a
  clean-room question (macro ``crm`` assigned to the room's dataset of connection
  ``question % data_connections``, ``VIEW_RESULTS`` shared with all partners) and ``schedules``
  (default 3) weekly run schedules spread round-robin over the room's clean-room questions.

Names are ``<prefix> Clean Room <n>`` ... (``prefix`` default ``Estate``), so a benchmark can write
matching manifests. The answer lists the created ids: ``{"data_connections": [...],
"questions": [...], "cleanrooms": [{"id", "datasets", "invitations", "crqs", "schedules"}],
"counts": {...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.sandbox.base import EmulatorError
from reconciler.sandbox.liveramp import reference as ref

FIELDS: tuple[dict[str, Any], ...] = (
    {"fieldName": "user_id", "dataType": "STRING", "identifierType": "Email SHA256 Hashed", "isUserIdField": True, "isPii": True},
    {"fieldName": "region", "dataType": "STRING"},
    {"fieldName": "age", "dataType": "INTEGER"},
)
QUERY = "SELECT @crm.region AS region, COUNT(DISTINCT @crm.user_id) AS users FROM @crm GROUP BY 1"
DEFAULTS = {"cleanrooms": 100, "data_connections": 2, "questions": 3, "partners": 2, "schedules": 3}


def _counts(params: Mapping[str, Any]) -> dict[str, int]:
    try:
        counts = {k: int(params.get(k, v)) for k, v in DEFAULTS.items()}
    except (TypeError, ValueError):
        raise EmulatorError(400, "invalid", "estate counts must be integers") from None
    if any(v < 0 for v in counts.values()):
        raise EmulatorError(400, "invalid", "estate counts must not be negative")
    if counts["cleanrooms"] and (counts["data_connections"] < 1 or counts["questions"] < 1) and counts["schedules"]:
        raise EmulatorError(400, "invalid", "schedules need at least one data connection and one question")
    return counts


def load_estate(backend: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Build the estate with ``backend`` (the emulator's :class:`Backend`); returns the ids."""
    counts = _counts(params)
    prefix = str(params.get("prefix", "Estate"))
    client = backend.get("_clients", str(params.get("client_id", ref.DEMO_CLIENT_ID)))
    if client is None:
        raise EmulatorError(400, "invalid", f"no API client {params.get('client_id', ref.DEMO_CLIENT_ID)!r}")

    connections: list[str] = []
    for j in range(counts["data_connections"]):
        body = {
            "name": f"{prefix} Connection {j + 1}",
            "category": "CRM",
            "dataType": {"name": "CRM"},
            "dataSource": {"name": "client-aws-s3"},
            "dataSourceConfiguration": [
                {"name": "bucketPath", "value": f"s3://{prefix.lower()}-estate/connection-{j + 1}/"},
                {"name": "fileFormat", "value": "CSV"},
            ],
        }
        connection = backend.create_connection(client, body)
        backend.map_field_configurations(connection["id"], [dict(f, fieldIndex=i) for i, f in enumerate(FIELDS)])
        connections.append(connection["id"])

    questions: list[str] = []
    for k in range(counts["questions"]):
        details = {
            "title": f"{prefix} Question {k + 1}",
            "description": f"Reach by region ({k + 1})",
            "category": "Reach",
            "tags": ["estate"],
            "outputFormat": "REPORT",
            "isAnalytics": True,
            "queryDetails": [{"cleanRoomType": "Hybrid", "query": QUERY, "queryLanguage": "SQL"}],
            "dataTypes": [
                {
                    "macro": "crm",
                    "importDataType": "CRM",
                    "dataSetTypeFields": [{"name": "user_id", "type": "STRING"}, {"name": "region", "type": "STRING"}],
                }
            ],
            "parameters": [],
            "dimensions": [{"name": "region", "type": "STRING"}],
            "measures": [{"name": "users", "type": "LONG", "noise": 1}],
        }
        answer = backend.create_question(client, {"questionDetails": details, "settings": {"queryValidation": True}}, None)
        questions.append(answer["questionID"])

    rooms: list[dict[str, Any]] = []
    for i in range(counts["cleanrooms"]):
        room = backend.create_cleanroom(
            client,
            {
                "name": f"{prefix} Clean Room {i + 1}",
                "description": f"Benchmark clean room {i + 1}",
                "type": "Hybrid",
                "startAt": "2025-01-01",
                "parameters": {"REGION": "REGION_US", "CLOUD": "CLOUD_GCP", "ENABLE_EXPORT": "false"},
            },
        )
        room_id = room["id"]
        datasets = [backend.configure_dataset(client, room_id, c, {"rampIDConsent": False})["id"] for c in connections]
        invitations = [
            backend.invite_partner(client, room_id, {"partnerAdminEmail": f"admin{p + 1}@partner-{i + 1}.example"})["id"]
            for p in range(counts["partners"])
        ]
        crqs: list[str] = []
        for k, question in enumerate(questions):
            crq = backend.add_crq(client, room_id, question, "true")["id"]
            backend.assign_ownership(crq, [{"organizationId": client["_org"], "macro": "crm"}])
            backend.assign_datasets(
                crq,
                [
                    {
                        "datasetId": datasets[k % len(datasets)],
                        "macro": "crm",
                        "fields": [{"name": "user_id", "value": "user_id"}, {"name": "region", "value": "region"}],
                    }
                ],
            )
            backend.set_permissions(crq, [{"permission": "VIEW_RESULTS", "access": "ALL_CLEAN_ROOM_PARTNERS"}])
            crqs.append(crq)
        schedules: list[dict[str, str]] = []
        for s in range(counts["schedules"] if crqs else 0):
            crq = crqs[s % len(crqs)]
            body = {
                "name": f"Weekly run {s + 1}",
                "repeatFrequency": "WEEKLY",
                "daysOfWeek": ["MON"],
                "startSchedule": "2025-01-06T06:00:00Z",
                "parameters": [],
            }
            schedules.append({"crq": crq, "id": backend.create_schedule(client, crq, body)["id"]})
        rooms.append({"id": room_id, "datasets": datasets, "invitations": invitations, "crqs": crqs, "schedules": schedules})

    return {
        "data_connections": connections,
        "questions": questions,
        "cleanrooms": rooms,
        "counts": {
            "data_connections": len(connections),
            "questions": len(questions),
            "cleanrooms": len(rooms),
            "datasets": sum(len(r["datasets"]) for r in rooms),
            "partners": sum(len(r["invitations"]) for r in rooms),
            "cleanroom_questions": sum(len(r["crqs"]) for r in rooms),
            "schedules": sum(len(r["schedules"]) for r in rooms),
        },
    }
