"""State transfer commands: ``reconciler state migrate``, ``state pull`` and ``state push`` (thin
layers over :mod:`reconciler.state.transfer`).

Registered on the ``state`` group when imported: ``reconciler.cli.main`` imports this module.

``--to`` takes the target's ``state:`` block as YAML, exactly as it would be written in
``reconciler.yaml`` (``'{backend: postgres, url: "${env:RECONCILER_PG_URL}"}'``), or just a
backend name (``local``). ``${env:NAME}`` is resolved from the environment; a connection string
with a literal password is refused (the command line is visible to other users of the machine and
kept in shell history), and no connection string is ever printed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from reconciler.cli.main import Context, handle_errors, lock_timeout_option, pass_ctx, state
from reconciler.errors import InputError, Location, WorkspaceError

TO_LOCATION = Location("--to", 1)


def target_settings(text: str, env: dict[str, str]) -> dict[str, Any]:
    """The ``--to`` value as a ``state:`` mapping, ``${env:...}`` resolved."""
    from reconciler.manifest.interpolate import interpolate_tree
    from reconciler.manifest.workspace import literal_password

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise WorkspaceError("expected a state: block as YAML, e.g. '{backend: local}'", location=TO_LOCATION) from None
    if isinstance(data, str):
        data = {"backend": data}
    if not isinstance(data, dict):
        raise WorkspaceError("expected a state: block as YAML, e.g. '{backend: local}'", location=TO_LOCATION)
    url = data.get("url")
    if isinstance(url, str) and literal_password(url):
        raise WorkspaceError(
            'a connection string with a password is not allowed on the command line; write url: "${env:NAME}"',
            location=TO_LOCATION,
            path="state.url",
        )
    settings = interpolate_tree(data, env=env, variables=None, locate=lambda _path: TO_LOCATION, path="state")
    if not isinstance(settings, dict):  # pragma: no cover - a mapping stays a mapping
        raise WorkspaceError("expected a mapping", location=TO_LOCATION)
    return settings


@state.command("migrate")
@click.option("--to", "to", required=True, metavar="SETTINGS",
              help="The target's state: block as YAML, e.g. '{backend: postgres, url: \"${env:RECONCILER_PG_URL}\"}'.")
@lock_timeout_option
@pass_ctx
@handle_errors
def state_migrate(ctx: Context, to: str, lock_timeout: float) -> None:
    """Copy the workspace's state to another backend (lineage, serial, resources, unfinished
    intents). Refuses a target holding another state; safe to run again."""
    from reconciler.state import open_backend
    from reconciler.state.transfer import Outcome, migrate

    ws = ctx.workspace(lock_timeout)
    target = open_backend(target_settings(to, dict(os.environ)), ws.root, location=TO_LOCATION)
    target.set_reporter(ctx.console.warn)
    try:
        done = migrate(ws.state, target, lock_timeout)
    finally:
        target.close()
        ws.close()
    if done.outcome is Outcome.UP_TO_DATE:
        ctx.console.print(f"{target.where} already holds this state ({done.describe()}); nothing copied.")
    else:
        ctx.console.print(f"Copied the state ({done.describe()}) from {ws.state.where} to {target.where}.")
    ctx.console.print(
        "Now set the state: block of reconciler.yaml to the --to settings; the old state was left as it was "
        "(keep it as a backup, or remove it)."
    )


@state.command("pull")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
@handle_errors
def state_pull(ctx: Context, file: Path | None) -> None:
    """Write the whole state (with unfinished intents) as JSON to FILE (mode 0600) or stdout."""
    from reconciler.fsutil import atomic_write
    from reconciler.state.transfer import encode, written

    ws = ctx.workspace()
    try:
        dump = written(ws.state, "pull")
    finally:
        ws.close()
    payload = encode(dump)
    if file is None:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return
    if file.exists():
        raise InputError(f"{file} already exists; give a new file name (a backup is never overwritten)")
    atomic_write(file, payload)
    ctx.console.progress(f"Wrote the state (lineage {dump.lineage}, serial {dump.serial}, {len(dump.resources)} resources) to {file}.")


@state.command("push")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a state of another lineage, or a newer one (given the next serial).")
@lock_timeout_option
@pass_ctx
@handle_errors
def state_push(ctx: Context, file: Path, force: bool, lock_timeout: float) -> None:
    """Replace the workspace's state with FILE (from 'state pull'), checking lineage and serial."""
    from reconciler.state.transfer import Outcome, decode, push

    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise InputError(f"{file}: cannot read it: {exc.strerror or exc}") from None
    dump = decode(raw, str(file))
    ws = ctx.workspace(lock_timeout)
    try:
        done = push(ws.state, dump, force=force, lock_timeout=lock_timeout)
        where = ws.state.where
    finally:
        ws.close()
    if done.outcome is Outcome.UP_TO_DATE:
        ctx.console.print(f"{where} already holds this state ({done.describe()}); nothing written.")
    else:
        ctx.console.print(f"Pushed {file} to {where} ({done.describe()}).")
