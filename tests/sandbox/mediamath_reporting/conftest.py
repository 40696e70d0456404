"""Fixtures for the Reporting API v2 emulator tests (see ``fixtures.py``)."""

from tests.sandbox.mediamath_reporting.fixtures import checker, rep, rep_sandbox, rep_server  # noqa: F401
