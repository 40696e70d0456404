"""The embedded sandbox: a workspace whose provider endpoint is ``sandbox`` runs the emulators
in-process, on ``.reconciler/sandbox.sqlite`` beside ``reconciler.yaml`` (DESIGN §7).

One server per process and data file, started on first use on a free port of 127.0.0.1 and
stopped when the process exits. Providers receive its URL and the emulator's demo credentials
exactly as they would receive a production endpoint; they never know it is a sandbox.

The embedded sandbox serves one process at a time. For several processes sharing one sandbox
(CI jobs, demos), run ``reconciler sandbox serve`` and point the endpoints at it.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass
from pathlib import Path

from reconciler.sandbox import create_sandbox
from reconciler.sandbox.base import SandboxServer

_lock = threading.Lock()
_servers: dict[str, SandboxServer] = {}


@dataclass(frozen=True)
class EmbeddedEndpoint:
    url: str  # base URL standing for the vendor's host (a new port every run)
    credentials: dict[str, str]  # the emulator's demo credentials
    identity: str  # stable across runs: the data file and the mount (what tokens stay valid for)


def endpoint_for(api: str, data_file: Path) -> EmbeddedEndpoint:
    """URL, demo credentials and stable identity of emulator ``api`` in the embedded sandbox over
    ``data_file``. The URL's port changes with every process; the identity does not, so that a
    token cached by one command is found by the next (the emulator keeps its tokens in the file)."""
    server = _server(data_file)
    emulator = server.app.emulators.get(api)
    if emulator is None:
        raise KeyError(api)
    mount = emulator.mount or emulator.name
    credentials = dict(getattr(emulator, "demo_credentials", {}) or {})
    identity = f"sandbox+{data_file.resolve().as_uri()}#/{mount}"
    return EmbeddedEndpoint(url=f"{server.url}/{mount}", credentials=credentials, identity=identity)


def _server(data_file: Path) -> SandboxServer:
    key = str(data_file.resolve())
    with _lock:
        server = _servers.get(key)
        if server is None:
            data_file.parent.mkdir(parents=True, exist_ok=True)
            server = SandboxServer(create_sandbox(str(data_file))).start()
            _servers[key] = server
        return server


@atexit.register
def stop_all() -> None:
    with _lock:
        for server in _servers.values():
            server.stop()
            server.app.store.close()
        _servers.clear()
