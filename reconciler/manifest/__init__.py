"""Manifests: the workspace file, YAML documents with source lines, interpolation, references,
JSON Schema validation. The public API the CLI and engine use is re-exported here.

Modules, one job each: ``yamlsource`` (line-tracking YAML), ``generate`` (``for_each`` and
groups: templates into documents), ``expressions`` (``${...}`` expressions, safely),
``interpolate`` (``${env:}``, ``${var:}`` and expressions in values), ``defaults`` (``Defaults``),
``selectors`` (labels, ``-l`` selectors, address patterns), ``workspace`` (``reconciler.yaml``,
environments, ``--var``), ``schemacheck`` (JSON Schema errors as ``file:line: path: message``),
``validate`` (checks of one document), ``loader`` (files in, ordered
:class:`reconciler.model.DesiredResource` values out), ``moved`` (``Moved`` documents).
"""

from __future__ import annotations

from reconciler.manifest.loader import (
    KindCatalog,
    KindLookup,
    KindTable,
    discover,
    load_manifests,
    load_moves,
)
from reconciler.manifest.moved import MovedEntry
from reconciler.manifest.workspace import (
    DriftIgnoreRule,
    ProviderSettings,
    Selection,
    WorkspaceConfig,
    find_workspace,
    load_workspace_config,
)

__all__ = [
    "DriftIgnoreRule",
    "KindCatalog",
    "KindLookup",
    "KindTable",
    "MovedEntry",
    "ProviderSettings",
    "Selection",
    "WorkspaceConfig",
    "discover",
    "find_workspace",
    "load_manifests",
    "load_moves",
    "load_workspace_config",
]
