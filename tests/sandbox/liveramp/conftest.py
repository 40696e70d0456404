"""Fixtures for the LiveRamp emulator tests (see ``fixtures.py``)."""

from tests.sandbox.liveramp.fixtures import api, lr_module_server, lr_server, openapi_hook  # noqa: F401
