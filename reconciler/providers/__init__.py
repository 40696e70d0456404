"""Provider registry: maps the provider part of an ``apiVersion`` (``mediamath/v1``) to a class.

Built-in providers are imported lazily by name. Third-party providers come from installed
packages: an entry point in the ``reconciler.providers`` group (``acme = "acme_reconciler:Provider"``)
makes ``providers: {acme: ...}`` work, and ``providers.<name>.factory: "package.module:ClassName"``
picks a registered class explicitly. A ``factory`` is checked *before anything is imported*: it
must be registered by an installed package, or listed in ``$RECONCILER_PROVIDER_FACTORIES``
(space- or comma-separated, for a provider under development; the tests list their in-memory
provider there). A module named only by the workspace file is never imported: with
``python -m reconciler`` run from a checkout, a pull request could otherwise add a ``.py`` beside
its ``reconciler.yaml`` and run its own code with the runner's credentials.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
from importlib.metadata import entry_points

from reconciler.errors import WorkspaceError
from reconciler.providers.base import Provider

BUILTIN: dict[str, str] = {
    "mediamath": "reconciler.providers.mediamath.provider:MediaMathProvider",
    "liveramp": "reconciler.providers.liveramp.provider:LiveRampProvider",
    "mediarithmics": "reconciler.providers.mediarithmics.provider:MediarithmicsProvider",
}
ENTRY_POINT_GROUP = "reconciler.providers"
FACTORIES_ENV = "RECONCILER_PROVIDER_FACTORIES"


@functools.cache
def registered() -> dict[str, str]:
    """``name -> module:Class`` of the providers installed packages register (read from their
    metadata: nothing is imported)."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def allowed_factories() -> set[str]:
    listed = {f for f in re.split(r"[\s,]+", os.environ.get(FACTORIES_ENV, "")) if f}
    return set(registered().values()) | set(BUILTIN.values()) | listed


def provider_class(name: str, factory: str | None = None) -> type[Provider]:
    """The Provider subclass for ``name`` (or for an explicit ``module:Class`` factory, once it
    is known to be an installed or allowed provider)."""
    if factory is not None and factory not in allowed_factories():
        raise WorkspaceError(
            f"providers.{name}.factory: '{factory}' is not an installed reconciler provider: reconciler imports "
            f"only providers that an installed package registers (entry point group '{ENTRY_POINT_GROUP}') or "
            f"that ${FACTORIES_ENV} lists, never a module named only by the workspace file (a pull request could "
            "otherwise run its own code with your credentials)"
        )
    target = factory or BUILTIN.get(name) or registered().get(name)
    if not target:
        known = ", ".join(sorted({*BUILTIN, *registered()}))
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
