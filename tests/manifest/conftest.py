"""Shared fixtures for manifest tests: a small fake kind catalogue and a workspace writer.

The kinds are written here (not taken from the real providers) so these tests stay pure.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifest import KindTable, load_manifests, load_workspace_config
from reconciler.model import DesiredResource
from reconciler.providers.base import KindInfo

ADVERTISER = {
    "type": "object",
    "required": ["name", "agency_id"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "agency_id": {"type": "integer", "minimum": 1},
        "status": {"type": "boolean"},
        "parent_id": {"type": ["string", "integer"]},
        "region": {"type": "string"},
    },
}
CAMPAIGN = {
    "type": "object",
    "required": ["advertiser_id", "name", "total_budget"],
    "additionalProperties": False,
    "properties": {
        "advertiser_id": {"type": "integer"},
        "name": {"type": "string"},
        "status": {"type": "boolean"},
        "total_budget": {"type": "number", "minimum": 0},
        "goal_type": {"enum": ["cpa", "cpc", "reach"]},
        "goal_value": {"type": "number"},
        "start_date": {"type": "string", "format": "date"},
        "audience_ids": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
        "flights": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["budget"],
                "properties": {"budget": {"type": "number"}, "label": {"type": "string"}},
            },
        },
        "settings": {"type": "object"},
    },
}
CLEANROOM = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "partner_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        "data_connection_id": {"anyOf": [{"type": "string", "pattern": "^[0-9a-f-]{36}$"}, {"type": "null"}]},
        "members": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "org": {"type": "string"},
                    "purposes": {"type": "array", "items": {"type": "string"}},
                },
                "additionalProperties": False,
            },
        },
    },
}
DATA_CONNECTION = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string"}, "cleanroom_id": {"type": "string", "format": "uuid"}},
}

KINDS = KindTable(
    {
        "mediamath": {
            "Advertiser": KindInfo("Advertiser", ADVERTISER),
            "Campaign": KindInfo("Campaign", CAMPAIGN, natural_key=("advertiser_id", "name")),
        },
        "liveramp": {
            "Cleanroom": KindInfo("Cleanroom", CLEANROOM),
            "DataConnection": KindInfo("DataConnection", DATA_CONNECTION),
        },
    }
)
PROVIDERS = ("liveramp", "mediamath")


def write(root: Path, files: Mapping[str, str | bytes]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


Loader = Callable[..., list[DesiredResource]]


@pytest.fixture
def load(tmp_path: Path) -> Loader:
    """Write files under tmp_path (or ``root=``), then load the workspace and its manifests like
    the CLI does, inside a workspace (a minimal reconciler.yaml unless the files give one, or
    ``workspace=False``). Keyword options: ``paths``, ``kind_lookup``, ``root``, ``workspace``."""

    def run(
        files: Mapping[str, str | bytes], env: Mapping[str, str] | None = None, **kwargs: Any
    ) -> list[DesiredResource]:
        root = kwargs.get("root", tmp_path)
        root.mkdir(parents=True, exist_ok=True)
        if kwargs.get("workspace", True) and "reconciler.yaml" not in files:  # inside a workspace
            files = {"reconciler.yaml": "apiVersion: reconciler/v1\nkind: Workspace\n", **files}
        write(root, files)
        environment = dict(env or {})
        config = load_workspace_config(root, environment)
        return load_manifests(
            kwargs.get("paths", []),
            config=config,
            kind_lookup=kwargs.get("kind_lookup", KINDS),
            known_providers=PROVIDERS,
            env=environment,
        )

    return run
