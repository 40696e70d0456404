"""Helpers for the LiveRamp provider tests: building a provider on the test sandbox, and loading
``examples/liveramp`` in dependency order with ``{ref: Kind/name}`` resolved to remote ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from reconciler.providers.base import ProviderConfig
from reconciler.providers.liveramp.provider import LiveRampProvider
from reconciler.sandbox.base import SandboxServer
from tests.sandbox.liveramp.fixtures import DEMO

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "liveramp"


def make_provider(server: SandboxServer, cache_dir: Path, secret: str = DEMO[1], client_id: str = DEMO[0]) -> LiveRampProvider:
    config = ProviderConfig(
        name="liveramp",
        endpoint=f"{server.url}/liveramp",
        credentials={"client_id": client_id, "client_secret": secret},
        options={"token_cache_dir": str(cache_dir)},
        workspace_dir=cache_dir.parent,
    )
    return LiveRampProvider(config)


def example_documents() -> list[dict[str, Any]]:
    """Every manifest document of examples/liveramp, in file order (which is dependency order)."""
    docs = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        if path.name == "reconciler.yaml":
            continue
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# yaml-language-server: $schema=../../schemas/liveramp/"), path
        for doc in yaml.safe_load_all(text):
            docs.append({**doc, "_file": path.name})
    return docs


def resolve(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"ref"}:
            return ids[value["ref"]]
        return {k: resolve(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    return value


def placeholders(value: Any) -> Any:
    """Replace refs by a placeholder id, as the manifest validator does before schema checks."""
    if isinstance(value, dict):
        if set(value) == {"ref"}:
            return "ref-placeholder"
        return {k: placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [placeholders(v) for v in value]
    return value
