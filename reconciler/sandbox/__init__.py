"""Local emulators of the target APIs (DESIGN §7), for tests, the quick start, demos, benchmarks.

``create_sandbox(path)`` builds the WSGI app with every emulator that exists; ``SandboxServer``
serves it. The sandbox never imports providers or the engine.
"""

from __future__ import annotations

import importlib

from reconciler.sandbox.base import Emulator, Sandbox, SandboxServer, Store

# name -> "module:Class"; emulators whose module is missing are skipped.
EMULATORS: dict[str, str] = {
    "mediamath": "reconciler.sandbox.mediamath.app:MediaMathEmulator",
    "mediamath-reporting": "reconciler.sandbox.mediamath_reporting.app:ReportingEmulator",
    "mediamath-auth": "reconciler.sandbox.mediamath_reporting.auth:AuthEmulator",  # auth.mediamath.com
    "liveramp": "reconciler.sandbox.liveramp.app:LiveRampEmulator",
    "mediarithmics": "reconciler.sandbox.mediarithmics.app:MediarithmicsEmulator",
}


def emulator_classes(names: list[str] | None = None) -> list[type[Emulator]]:
    classes: list[type[Emulator]] = []
    for name, target in EMULATORS.items():
        if names is not None and name not in names:
            continue
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that emulator does not exist yet
            raise
        classes.append(getattr(module, attr))
    return classes


def create_sandbox(path: str = ":memory:", names: list[str] | None = None) -> Sandbox:
    """A Sandbox over a SQLite file (``:memory:`` for tests) with the named emulators (default all)."""
    return Sandbox(Store(path), emulator_classes(names))


__all__ = ["Emulator", "Sandbox", "SandboxServer", "Store", "create_sandbox", "emulator_classes"]
