"""Settings every provider block may carry (``providers.<name>`` in reconciler.yaml), parsed once.

- ``ca_bundle``: a CA file for TLS verification, relative to the workspace directory (verification
  is always on; this only names a private CA);
- ``rate_limit``: requests per second, or ``{rate, burst}``;
- ``timeout``: seconds per HTTP call.

Errors name the setting (``providers.mediamath.timeout: ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import WorkspaceError
from reconciler.providers.base import ProviderConfig


def tls_verify(config: ProviderConfig) -> bool | str:
    """``requests``' ``verify``: True, or the path of the workspace's ``ca_bundle``."""
    ca_bundle = config.options.get("ca_bundle")
    if not ca_bundle:
        return True
    path = Path(str(ca_bundle)).expanduser()
    if not path.is_absolute():
        path = config.workspace_dir / path
    if not path.is_file():
        raise WorkspaceError(f"providers.{config.name}.ca_bundle: no such file '{path}'")
    return str(path)


def rate_limit(config: ProviderConfig, default_rate: float, default_burst: float) -> tuple[float, float]:
    """``(rate, burst)`` from ``rate_limit`` (a number, or ``{rate, burst}``); defaults otherwise."""
    value: Any = config.options.get("rate_limit")
    if value is None:
        return default_rate, default_burst
    try:
        if isinstance(value, Mapping):
            rate = float(value.get("rate", default_rate))
            burst = value.get("burst")
            return rate, (float(burst) if burst is not None else max(1.0, rate))
        rate = float(value)
    except (TypeError, ValueError):
        raise WorkspaceError(
            f"providers.{config.name}.rate_limit: '{value}' is not a number of requests per second or {{rate, burst}}"
        ) from None
    return rate, (default_burst if rate == default_rate else max(1.0, rate))


def timeout(config: ProviderConfig, default: float, key: str = "timeout") -> float:
    """Seconds per call from ``key`` (must be a positive number)."""
    value = config.options.get(key, default)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if seconds <= 0:
        raise WorkspaceError(f"providers.{config.name}.{key}: '{value}' is not a positive number of seconds")
    return seconds
