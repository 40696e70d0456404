"""Fixtures for the MediaMath emulator tests: a real sandbox server on 127.0.0.1.

Aspects: one ``SandboxServer(create_sandbox())`` per module on port 0; every test starts from a
reset sandbox (default seed, default rate limits, no faults); ``mm`` is a client logged in as demo.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from reconciler.sandbox import create_sandbox
from reconciler.sandbox.base import SandboxServer
from tests.sandbox.mediamath.mmclient import MM


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(create_sandbox(names=["mediamath"])) as srv:
        yield srv


@pytest.fixture
def sandbox(server: SandboxServer) -> SandboxServer:
    for path, body in (("/_sandbox/reset", None), ("/_sandbox/faults", {}), ("/_sandbox/rate-limits/mediamath", {})):
        r = requests.post(server.url + path, json=body)
        assert r.status_code == 200, r.text
    return server


@pytest.fixture
def mm(sandbox: SandboxServer) -> MM:
    client = MM(sandbox)
    client.login()
    return client
