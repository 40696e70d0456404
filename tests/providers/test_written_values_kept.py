"""The class of bug behind the LiveRamp permissions (issue 14): a kind's normalisation must never
drop a key the manifest wrote inside a mapping, not even when its value is the API's default.

Field ownership compares only what the manifest wrote; a mapping is owned key by key. A key the
normaliser drops (because its value equals the default) is therefore never compared again: an
out-of-band change of it passes drift, plan and apply unseen. This checks every kind of every
provider: each mapping in each example spec, and the same mappings with every value swapped for
another value the schema allows (a default included), keep every written key through
``normalize``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.model import Ref
from reconciler.providers.base import Provider, ProviderConfig
from reconciler.providers.liveramp.provider import LiveRampProvider
from reconciler.providers.mediamath.provider import MediaMathProvider
from reconciler.providers.mediarithmics.provider import MediarithmicsProvider
from reconciler.sandbox import SandboxServer, create_sandbox

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(create_sandbox(names=["liveramp", "mediamath", "mediarithmics"])) as s:
        yield s


def providers(url: str, tmp: Path) -> dict[str, Provider]:
    return {
        "mediamath": MediaMathProvider(ProviderConfig("mediamath", f"{url}/mediamath", {
            "username": "demo", "password": "demo-password", "api_key": "demo-api-key"})),
        "liveramp": LiveRampProvider(ProviderConfig("liveramp", f"{url}/liveramp", {
            "client_id": "demo-client", "client_secret": "demo-secret"}, {"token_cache_dir": str(tmp)})),
        "mediarithmics": MediarithmicsProvider(ProviderConfig("mediarithmics", f"{url}/mediarithmics", {"token": "demo-token"})),
    }


def example_specs() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path in sorted((REPO / "examples").glob("*/*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            # reconciler/v1 documents (Workspace, Group, Use, Defaults) are not objects; a for_each
            # template's spec holds ${each...} until it is expanded
            if (isinstance(doc, dict) and "spec" in doc and "for_each" not in doc
                    and not str(doc.get("apiVersion", "")).startswith("reconciler/")):
                out.append((doc["apiVersion"].split("/")[0], doc["kind"], _no_refs(doc["spec"])))
    return out


def _no_refs(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"ref"}:
            return "999999"  # an id that exists nowhere: normalisers that look up fail soft
        return {k: _no_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_refs(v) for v in value]
    return value


def mapping_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Every key path through mappings (lists end a path: they are owned whole)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            yield path
            yield from mapping_paths(v, path)


def has_path(value: Any, path: str) -> bool:
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False
        value = value[part]
    return True


def variants(provider: Provider, kind: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """``spec``, and ``spec`` with every value of each enum-valued top-level mapping set to each
    value its schema allows (the API's default among them: QUESTION_OWNER_ONLY for permissions)."""
    schema = provider.kinds[kind].schema
    properties = schema.get("$defs", {}).get("spec", schema).get("properties", {})
    out = [spec]
    for field, value in spec.items():
        inner = properties.get(field, {}).get("additionalProperties")
        if isinstance(value, dict) and isinstance(inner, dict) and inner.get("enum"):
            out += [{**spec, field: dict.fromkeys(value, choice)} for choice in inner["enum"]]
    return out


def test_normalisation_keeps_every_written_mapping_key(server: SandboxServer, tmp_path: Path) -> None:
    by_name = providers(server.url, tmp_path)
    checked = 0
    try:
        for provider_name, kind, spec in example_specs():
            provider = by_name[provider_name]
            for variant in variants(provider, kind, spec):
                normalized = provider.normalize(kind, variant)
                for path in mapping_paths(variant):
                    assert has_path(normalized, path), f"{provider_name}.{kind}: normalize dropped {path} of {variant}"
                    checked += 1
                assert not any(isinstance(v, Ref) for v in normalized.values())
    finally:
        for p in by_name.values():
            p.close()
    assert checked > 100
