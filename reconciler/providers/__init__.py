"""Provider registry: maps the provider part of an ``apiVersion`` (``mediamath/v1``) to a class.

Built-in providers are imported lazily by name. A workspace may also name any class with
``providers.<name>.factory: "package.module:ClassName"`` (third-party providers; the tests use
this for their in-memory provider).
"""

from __future__ import annotations

import importlib

from reconciler.errors import WorkspaceError
from reconciler.providers.base import Provider

BUILTIN: dict[str, str] = {
    "mediamath": "reconciler.providers.mediamath.provider:MediaMathProvider",
    "liveramp": "reconciler.providers.liveramp.provider:LiveRampProvider",
    "mediarithmics": "reconciler.providers.mediarithmics.provider:MediarithmicsProvider",
}


def provider_class(name: str, factory: str | None = None) -> type[Provider]:
    """The Provider subclass for ``name`` (or for an explicit ``module:Class`` factory)."""
    target = factory or BUILTIN.get(name)
    if not target:
        known = ", ".join(sorted(BUILTIN))
        raise WorkspaceError(f"unknown provider '{name}' (known: {known})")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise WorkspaceError(f"provider '{name}': cannot load '{target}': {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise WorkspaceError(f"provider '{name}': '{target}' is not a Provider class")
    return cls
