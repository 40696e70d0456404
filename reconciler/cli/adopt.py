"""Adoption commands: ``reconciler export`` and ``reconciler state mv`` (thin layers over
:mod:`reconciler.export` and :mod:`reconciler.moves`).

Registered on the main group when imported: ``reconciler.cli.main`` imports this module.
``reconciler import`` lives in ``reconciler.cli.state_commands``.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.main import Context, cli, handle_errors, lock_timeout_option, pass_ctx, state
from reconciler.errors import InputError

# --name ID options -> the scope word export resolves against the provider's kinds/parent fields
NAMED_SCOPES = (
    ("agency", "MediaMath agency: the agency, its advertisers, campaigns, strategies, budget flights."),
    ("advertiser", "MediaMath advertiser: it and everything under it."),
    ("campaign", "MediaMath campaign: it, its strategies and budget flights."),
    ("cleanroom", "LiveRamp clean room (or a mediarithmics clean room): it and everything in it."),
    ("organisation", "mediarithmics organisation: every clean room it owns."),
)


def _scope_options(fn: click.decorators.FC) -> click.decorators.FC:
    for name, text in reversed(NAMED_SCOPES):
        fn = click.option(f"--{name}", f"scope_{name}", metavar="ID", multiple=True, help=text)(fn)
    return fn


@cli.command("export")
@click.option(
    "--provider",
    "provider_name",
    required=True,
    help="Provider to export from (mediamath, liveramp, mediarithmics...).",
)
@_scope_options
@click.option(
    "--scope",
    "generic_scopes",
    metavar="KIND=ID",
    multiple=True,
    help="Any scope: a kind (Advertiser=10) or a parent field (organisation=1863).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the manifests (default: ./PROVIDER).",
)
@click.option(
    "--endpoint",
    help="Endpoint for the reconciler.yaml written when there is none (default: the vendor's production API; 'sandbox' for the embedded one).",
)
@click.option(
    "--schema-base",
    metavar="URL",
    help="Published URL of the schemas for the '$schema=' line (default: a relative path to the workspace's own copy in schemas/, which export writes).",
)
@lock_timeout_option
@pass_ctx
@handle_errors
def export_command(
    ctx: Context,
    /,
    provider_name: str,
    generic_scopes: tuple[str, ...],
    out: Path | None,
    endpoint: str | None,
    schema_base: str | None,
    lock_timeout: float,
    **named: tuple[str, ...],
) -> None:
    """Write manifests and state for live objects under a scope, so 'plan' shows no changes.

    Reads only: nothing is written to the vendor's API. Existing files are never overwritten.
    """
    from reconciler.export import ExportRequest, Scope, export, write_workspace_file
    from reconciler.manifest import find_workspace

    scopes = [
        Scope(key.removeprefix("scope_"), remote_id)
        for key, ids in sorted(named.items())
        for remote_id in ids
    ]
    scopes += [Scope.parse(text) for text in generic_scopes]
    if not scopes:
        raise InputError(
            "export needs a scope: --agency, --advertiser, --campaign, --cleanroom, --organisation ID or --scope KIND=ID"
        )
    created: Path | None = None
    existing = find_workspace(ctx.directory)
    if existing is None:
        created = write_workspace_file(ctx.directory, provider_name, endpoint, scopes)
        ctx.console.progress(
            f"Wrote {created} for provider '{provider_name}' (no reconciler.yaml was found)."
        )
    elif endpoint:
        raise InputError(
            f"--endpoint only applies when there is no reconciler.yaml; set providers.{provider_name}.endpoint in {existing}"
        )
    ws = ctx.workspace(lock_timeout)
    try:
        result = export(
            ws, ExportRequest(provider_name, tuple(scopes), out or Path(provider_name), schema_base)
        )
    except BaseException:
        if created is not None:
            created.unlink(missing_ok=True)
        raise
    finally:
        ws.close()
    for warning in result.warnings:
        ctx.console.warn(warning)
    for address in result.already_managed:
        ctx.console.progress(f"{address}: already managed, not exported again")
    count = len(result.resources)
    ctx.console.print(
        f"Exported {count} object{'s' if count != 1 else ''} from {provider_name}; recorded in the state:"
    )
    for resource in result.resources:
        ctx.console.print(f"  {resource.address} (remote id {resource.remote_id})")
    for path in result.files:
        ctx.console.print(f"Wrote {path}")
    if count:
        ctx.console.print("Run 'reconciler plan': it should show no changes.")


@state.command("mv")
@click.argument("old")
@click.argument("new")
@click.option("--force", is_flag=True, help="Allow NEW even when no manifest declares it.")
@lock_timeout_option
@pass_ctx
@handle_errors
def state_mv(ctx: Context, old: str, new: str, force: bool, lock_timeout: float) -> None:
    """Rename OLD to NEW in the state without touching the live object (same remote id)."""
    from reconciler.moves import move_state

    ws = ctx.workspace(lock_timeout, resolve_credentials=False)
    declared = None if force else {str(r.address) for r in ws.desired()}
    with ws.state.locked("state mv", lock_timeout):
        move = move_state(ws.state, old, new, declared=declared)
    ctx.console.print(
        f"Moved {move.source} to {move.target} (remote id {move.remote_id}); the live object was not touched."
    )
