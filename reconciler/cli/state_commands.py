"""``import`` and ``state list|show|rm|unlock``: the state, without touching live objects (``state mv``
lives in :mod:`.adopt`; registered on the groups of :mod:`.main` when imported)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.cli.main import (
    Context,
    cli,
    handle_errors,
    lock_timeout_option,
    pass_ctx,
    paths_argument,
    state,
)


# -- import ------------------------------------------------------------------------------------------
@cli.command("import")
@click.argument("address")
@click.argument("remote_id")
@paths_argument
@lock_timeout_option
@pass_ctx
@handle_errors
def import_(ctx: Context, address: str, remote_id: str, paths: tuple[Path, ...], lock_timeout: float) -> None:
    """Adopt an existing live object under ADDRESS (declared in the manifests)."""
    ws = ctx.workspace(lock_timeout)
    try:
        rs = ws.import_resource(address, remote_id, paths)
    finally:
        ws.close()
    ctx.console.print(f"Imported {rs.address} (remote id {rs.remote_id}). Run 'reconciler plan' to see differences.")


# -- state -------------------------------------------------------------------------------------------


@state.command("list")
@pass_ctx
@handle_errors
def state_list(ctx: Context) -> None:
    snapshot = ctx.workspace(resolve_credentials=False).state.read()
    for address in sorted(snapshot.resources):
        ctx.console.print(address)


@state.command("show")
@click.argument("address")
@pass_ctx
@handle_errors
def state_show(ctx: Context, address: str) -> None:
    from reconciler.errors import InputError

    snapshot = ctx.workspace(resolve_credentials=False).state.read()
    rs = snapshot.resources.get(address)
    if rs is None:
        raise InputError(f"{address} is not in the state (see 'reconciler state list')")
    ctx.console.print(json.dumps({"address": address, **rs.to_json()}, indent=2, sort_keys=True))


@state.command("rm")
@click.argument("address")
@lock_timeout_option
@pass_ctx
@handle_errors
def state_rm(ctx: Context, address: str, lock_timeout: float) -> None:
    """Forget ADDRESS without touching the live object."""
    from reconciler.errors import InputError

    backend = ctx.workspace(resolve_credentials=False).state
    with backend.locked("state rm", lock_timeout):
        if address not in backend.read().resources:
            raise InputError(f"{address} is not in the state (see 'reconciler state list')")
        backend.forget(address)
    ctx.console.print(f"Removed {address} from the state; the live object was not touched.")


@state.command("unlock")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Remove it even though its holder is still running.")
@pass_ctx
@handle_errors
def state_unlock(ctx: Context, lock_id: str, force: bool) -> None:
    """Remove a lock left by a run that died (give the id shown in the lock message)."""
    ctx.workspace(resolve_credentials=False).state.force_unlock(lock_id, force=force)
    ctx.console.print(f"Lock {lock_id} removed.")
