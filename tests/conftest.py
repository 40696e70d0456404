"""Suite-wide fixtures: a throwaway PostgreSQL cluster for the tests that need a real database,
and the in-memory test provider allowed as a ``factory:`` (``$RECONCILER_PROVIDER_FACTORIES``).

``pg_cluster`` (session) starts one cluster the first time a test asks for it
(``tests/support/postgres.py``: initdb in a temp dir, a free port, run as the ``postgres`` OS user
when the tests run as root) and stops it after the session; ``pg_settings`` gives each test a
``state:`` block for its own fresh schema in that cluster. Without PostgreSQL binaries those tests
are skipped, saying why (``.ci/run`` installs them, so CI never skips them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.postgres import Cluster, find_binaries, running_cluster

# The in-memory test provider is named by ``factory:`` in the tests' workspaces; reconciler imports
# a factory only when an installed package registers it or this variable lists it (issue 16.12).
# Set for the whole session, so CLI subprocesses inherit it.
MEMORY_FACTORY = "tests.support.memory_provider:MemoryProvider"
os.environ["RECONCILER_PROVIDER_FACTORIES"] = " ".join(sorted(
    {*os.environ.get("RECONCILER_PROVIDER_FACTORIES", "").split(), MEMORY_FACTORY}
))

NO_POSTGRES = (
    "no PostgreSQL binaries (initdb, pg_ctl, postgres) on PATH or in /usr/lib/postgresql/*/bin: "
    "install Debian's 'postgresql' package (.ci/run does)"
)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    if find_binaries() is None:
        pytest.skip(NO_POSTGRES)
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_settings(pg_cluster: Cluster) -> dict[str, Any]:
    """A postgres ``state:`` block of a schema no other test uses."""
    return {"backend": "postgres", "url": pg_cluster.url(), "schema": pg_cluster.fresh_schema()}
