"""Reference data of the mediarithmics emulator: default organisations and demo user, and the
``docs`` seed (the two clean rooms of the public "List all Clean rooms" example, verbatim).

Organisation names 1863 and 1752 come from that example; 1581 appears there only as the owning
organisation of room 21, so its name here is the sandbox's own.
"""

from __future__ import annotations

from typing import Any

DEMO_TOKEN = "demo-token"  # a sandbox-only credential, published on purpose (demo_credentials)
DEMO_USER_ID = "1001"

ORGANISATIONS: list[dict[str, str]] = [
    {"organisation_id": "1581", "organisation_name": "AV Community"},
    {"organisation_id": "1752", "organisation_name": "AV Sub 2.4"},
    {"organisation_id": "1863", "organisation_name": "AV Sub 1.2"},
]

USERS: list[dict[str, Any]] = [
    {
        "user_id": DEMO_USER_ID,
        "email": "demo@sandbox.invalid",
        "organisations": ["1581", "1752", "1863"],
        "tokens": [DEMO_TOKEN],
    },
]


def _membership(
    room: str, org: str, name: str, owner: bool, created_ts: int, purposes: list[str]
) -> dict[str, Any]:
    return {
        "clean_room_id": room,
        "organisation_id": org,
        "organisation_name": name,
        "owner": owner,
        "status": "ACCEPTED",
        "created_by": None,
        "created_ts": created_ts,
        "last_modified_by": None,
        "last_modified_ts": None,
        "archived": False,
        "archived_by": None,
        "archived_ts": None,
        "purposes": purposes,
    }


def docs_clean_rooms() -> list[dict[str, Any]]:
    """The two clean rooms of the documented list example, in the order the page shows them."""
    return [
        {
            "clean_room_id": "22",
            "organisation_id": "1863",
            "name": "Activation Clean room",
            "clean_room_organisations": [
                _membership("22", "1863", "AV Sub 1.2", True, 1734538881966, ["ACTIVATION"]),
                _membership("22", "1752", "AV Sub 2.4", False, 1734538881974, ["ACTIVATION"]),
            ],
        },
        {
            "clean_room_id": "21",
            "organisation_id": "1581",
            "name": "All purposes Clean room",
            "clean_room_organisations": [
                _membership("21", "1863", "AV Sub 1.2", True, 1734444429859, ["INSIGHTS", "ACTIVATION"]),
                _membership("21", "1752", "AV Sub 2.4", False, 1734444429868, ["INSIGHTS", "ACTIVATION"]),
            ],
        },
    ]
