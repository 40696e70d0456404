"""A throwaway PostgreSQL cluster for the tests (and the benchmarks): ``initdb`` + ``pg_ctl`` in a
temporary directory, on a free port of 127.0.0.1 (and a Unix socket in that directory), stopped
and removed after.

- The binaries are found on PATH or under ``/usr/lib/postgresql/*/bin`` (Debian's layout);
  :func:`find_binaries` returns None when there are none, and the tests that need a database are
  then skipped with that reason (``.ci/run`` installs them, so CI always runs those tests).
- PostgreSQL refuses to run as root: when the tests run as root, the cluster runs as the
  ``postgres`` OS user (the data directory is chowned to it and every command goes through
  ``runuser -u postgres --``).
- Tests run it with ``fsync`` and synchronous commit off (speed); benchmarks ask for a
  ``durable`` one with PostgreSQL's defaults.
- Connections use password authentication over TCP (``scram-sha-256``) as the role
  ``reconciler`` with :data:`PASSWORD`, so the connection string really holds a secret that the
  secret-leak tests can look for.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSWORD = "Pg-Secret-7f3a+RECONCILER/9=Q"
ROLE = "reconciler"
DATABASE = "reconciler"
OS_USER = "postgres"
TOOLS = ("initdb", "pg_ctl", "postgres")


def find_binaries() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    found = shutil.which("initdb")
    if found and all(shutil.which(t) for t in TOOLS):
        return Path(os.path.realpath(found)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all(os.access(os.path.join(candidate, t), os.X_OK) for t in TOOLS):
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    """A running cluster: connection strings for the ``reconciler`` role."""

    port: int
    directory: Path

    def url(self, database: str = DATABASE) -> str:
        from urllib.parse import quote

        return f"postgresql://{ROLE}:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}/{database}"

    def fresh_schema(self) -> str:
        return f"t_{uuid.uuid4().hex[:16]}"


class ClusterProcess:
    """Start with :meth:`start`, stop with :meth:`stop` (or use :func:`running_cluster`)."""

    def __init__(self, binaries: Path, *, durable: bool = False) -> None:
        self.binaries = binaries
        self.durable = durable
        self.as_root = os.geteuid() == 0
        self.tmp = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
        self.data = self.tmp / "data"
        self.port = free_port()

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", OS_USER, "--", *command]
        env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def start(self) -> Cluster:
        if self.as_root:
            entry = pwd.getpwnam(OS_USER)
            os.chown(self.tmp, entry.pw_uid, entry.pw_gid)
        self.tmp.chmod(0o700)
        pwfile = self.tmp / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_root:
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", ROLE, "--pwfile", str(pwfile), "-E", "UTF8",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
        )
        pwfile.unlink()
        speed = "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.tmp} "
            f"{speed}-c max_connections=200 -c shared_buffers=64MB"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.tmp / "log"), "-w", "-t", "60", "start")
        cluster = Cluster(self.port, self.tmp)
        self._create_database(cluster)
        return cluster

    def _create_database(self, cluster: Cluster) -> None:
        import psycopg

        with psycopg.connect(cluster.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextlib.contextmanager
def running_cluster(*, durable: bool = False) -> Iterator[Cluster]:
    """A cluster for the run of the block. Tests run it with fsync off (nothing there needs to
    survive a power cut); ``durable`` keeps PostgreSQL's defaults (fsync, synchronous commit), as
    a benchmark against fsynced local files must."""
    binaries = find_binaries()
    if binaries is None:
        raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl, postgres) on PATH or in /usr/lib/postgresql")
    process = ClusterProcess(binaries, durable=durable)
    try:
        cluster = process.start()
        yield cluster
    finally:
        process.stop()


def released(backend: Any, within: float = 5.0) -> bool:
    """Whether ``backend``'s lock is free within ``within`` seconds: a killed holder's session ends
    when the server reads the closed connection, a moment after the process is gone."""
    deadline = time.monotonic() + within
    while backend.current_lock() is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
