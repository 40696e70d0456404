"""Fixtures for the LiveRamp provider tests: the emulator fixtures plus the OpenAPI hook."""

from tests.sandbox.liveramp.fixtures import api, lr_module_server, lr_server, openapi_hook  # noqa: F401
