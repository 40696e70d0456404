"""A child process for crash tests: applies creates with the MemoryProvider and a real backend.

Usage: ``python -m tests.support.apply_child STATE REMOTE_FILE SIGNAL_FILE BLOCK_NAME NAME...``
where STATE is a state file (local backend) or a JSON ``state:`` block (any backend);
creates one Folder per NAME (in order, parallelism 1); the provider blocks after creating
BLOCK_NAME remotely until SIGNAL_FILE exists, so the parent can SIGKILL it between the remote
create and the state record.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from reconciler.apply import ApplyOptions, execute
from reconciler.state import open_backend
from reconciler.state.base import StateBackend
from reconciler.state.local import LocalBackend
from tests.support.memory_provider import MemoryProvider
from tests.support.mini_plan import create, make_plan


def main(argv: list[str]) -> int:
    state_file, remote_file, signal_file, block, *names = argv
    state: StateBackend
    if state_file.startswith("{"):
        state = open_backend(json.loads(state_file), Path.cwd())
    else:
        state = LocalBackend(Path(state_file))
    provider = MemoryProvider.at(remote_file, block_after_create=block, signal_file=signal_file)
    changes = [create(f"memory.Folder/{n}", {"name": n}, depends_on=[f"memory.Folder/{p}"] if p else [])
               for p, n in zip([None, *names], names, strict=False)]
    with state.locked("apply"):
        result = execute(make_plan(state, *changes), {"memory": provider}, state, ApplyOptions(parallelism=1))
    return 1 if result.has_failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
