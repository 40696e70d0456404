"""Fixtures for the reporting client, report and guardrail tests (the emulator's, see its fixtures.py)."""

from tests.sandbox.mediamath_reporting.fixtures import checker, rep, rep_sandbox, rep_server  # noqa: F401
