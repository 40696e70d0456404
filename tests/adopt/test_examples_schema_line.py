"""Every manifest example carries the ``yaml-language-server`` schema line editors use.

Aspects covered:
- each YAML file under ``examples/`` (the CI recipes aside) starts with
  ``# yaml-language-server: $schema=<path>``, and every document of a multi-document file does;
- the path resolves to the schema file of the document's kind (``workspace.schema.json`` for
  ``reconciler.yaml``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.adopt.conftest import REPO

PREFIX = "# yaml-language-server: $schema="
EXAMPLES = sorted(
    p for p in (REPO / "examples").rglob("*.y*ml") if "ci" not in p.relative_to(REPO / "examples").parts
)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.relative_to(REPO / "examples").as_posix())
def test_example_has_a_schema_line_per_document(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    chunks = [c for c in text.split("\n---\n") if c.strip()]
    for chunk in chunks:
        first = chunk.lstrip("-\n").splitlines()[0]
        assert first.startswith(PREFIX), f"{path}: document does not start with the schema line: {first!r}"
        target = (path.parent / first.removeprefix(PREFIX)).resolve()
        assert target.is_file(), f"{path}: {target} does not exist"
        json.loads(target.read_text())  # a JSON Schema file
        doc = yaml.safe_load(chunk)
        if path.name == "reconciler.yaml":
            expected = "workspace"
        elif doc["apiVersion"] == "reconciler/v1":  # Moved, Defaults, Group, Use: reconciler's own
            expected = doc["kind"].lower()
        else:
            expected = doc["kind"]
        assert target.name == f"{expected}.schema.json", (path, target)


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 10
