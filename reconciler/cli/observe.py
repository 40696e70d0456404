"""``drift`` and ``report``: what the live objects look like, changed behind our back or spending
(registered on the main group when imported)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from reconciler.cli.main import (
    Context,
    cli,
    format_option,
    handle_errors,
    pass_ctx,
    paths_argument,
    selection_options,
)


# -- drift -------------------------------------------------------------------------------------------
@cli.command()
@paths_argument
@format_option
@selection_options
@click.option("--fail-on-unmanaged", is_flag=True,
              help="Exit 2 for unmanaged objects under managed parents too (by default they are reported, exit 0).")
@click.option("--accept", is_flag=True,
              help="Write the live values of changed fields into the manifests and record them in state "
                   "(positional ADDRESS patterns narrow it: drift --accept mediamath.Strategy/x).")
@pass_ctx
@handle_errors
def drift(
    ctx: Context, paths: tuple[Path, ...], fmt: str, targets: tuple[str, ...], selectors: tuple[str, ...],
    fail_on_unmanaged: bool, accept: bool,
) -> None:
    """Report objects changed outside reconciler; with --accept, take the changes into the manifests.

    Exit 2 when a managed object changed or is missing (or a console step is pending); 0 when
    everything matches its last apply. Unmanaged objects under managed parents are reported and
    exit 0, unless --fail-on-unmanaged. With --accept: 0 when every change was accepted, 2 when
    some drift remains (each refusal says why)."""
    from reconciler.drift import (
        render_drift_json,
        render_drift_markdown,
        render_drift_text,
        typed_for_reading,
    )

    if accept:
        if fmt != "text":
            raise click.UsageError("--accept reports what it wrote as text; leave out --format")
        paths, addresses = split_addresses(ctx, paths)
        run_accept(ctx, paths, (*targets, *addresses), selectors)
        return
    ws = ctx.workspace()
    try:
        report = ws.drift(paths, targets=targets, selectors=selectors)
    finally:
        ws.close()

    def schema_of(provider: str, kind: str) -> Mapping[str, Any] | None:
        info = ws.kind_info(provider, kind)
        return info.schema if info else None

    if fmt == "json":
        ctx.console.print(json.dumps(render_drift_json(report), indent=2, sort_keys=True))
    elif fmt == "markdown":
        ctx.console.print(render_drift_markdown(typed_for_reading(report, schema_of)))
    else:
        ctx.console.print(render_drift_text(typed_for_reading(report, schema_of)))
    if report.has_drift or (fail_on_unmanaged and report.has_unmanaged):
        sys.exit(2)


def split_addresses(ctx: Context, args: tuple[Path, ...]) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """``drift --accept`` arguments: existing files and directories are manifest paths, the rest
    address patterns (``mediamath.Strategy/x``, ``Strategy/summer-*``)."""
    from reconciler.errors import InputError

    paths = tuple(p for p in args if (ctx.directory / p).exists())
    addresses = tuple(str(p) for p in args if p not in paths)
    for text in addresses:
        if not re.match(r"^([a-z][a-z0-9_]*\.)?[A-Z*?\[][^/]*/.+$", text):
            raise InputError(f"{text}: no such file or directory, and not an address (provider.Kind/name)")
    return paths, addresses


def run_accept(ctx: Context, paths: tuple[Path, ...], targets: tuple[str, ...], selectors: tuple[str, ...]) -> None:
    from reconciler.accept import accept_drift
    from reconciler.drift import changed_by_text
    from reconciler.plan.render import format_value
    from reconciler.textsafe import terminal

    ws = ctx.workspace()
    try:
        with ws.state.locked("drift --accept"):
            run = ws.drift_run(paths, targets=targets, selectors=selectors)
            result = accept_drift(ws, run, paths)
    finally:
        ws.close()
    if result.accepted:
        ctx.console.print(f"Accepted {len(result.accepted)} live value(s) into the manifests; the state records them "
                          "as the last apply:")
        for a in result.accepted:
            what = "status" if a.where == "state" else f"spec.{a.path}"
            where = "" if a.where == "state" else f"{a.where}: "
            ctx.console.print(terminal(f"  {where}{a.address}: {what} {format_value(a.applied)} -> "
                                       f"{format_value(a.live)}{changed_by_text(a.changed_by, a.changed_at)}"
                                       + (" (in state only: the API sets it)" if a.where == "state" else "")))
    if result.refused:
        ctx.console.print(f"Not accepted ({len(result.refused)}):", fg="yellow")
        for r in result.refused:
            ctx.console.print(terminal(f"  {r.address}{': spec.' + r.path if r.path else ''}: {r.reason}"))
    if not result.accepted and not result.refused:
        ctx.console.print("No drift to accept: every managed object matches its last apply.")
    elif result.files:
        ctx.console.print(f"Changed {len(result.files)} file(s); review and commit them: "
                          + ", ".join(_shown(Path(f), ws.root) for f in result.files))
    if result.refused or run.report.pending:
        sys.exit(2)


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def run_refresh_only(
    ctx: Context, paths: tuple[Path, ...], auto_approve: bool, targets: tuple[str, ...],
    selectors: tuple[str, ...], lock_timeout: float,
) -> None:
    """``apply --refresh-only``: record live values as the last apply; nothing is sent to any API."""
    from reconciler.baseline import refresh_only, refresh_only_plan
    from reconciler.cli.plan_apply import confirm
    from reconciler.drift import changed_by_text
    from reconciler.errors import InputError
    from reconciler.plan.render import format_value
    from reconciler.textsafe import terminal

    ws = ctx.workspace(lock_timeout)
    try:
        with ws.state.locked("apply --refresh-only", lock_timeout):
            run = ws.drift_run(paths, targets=targets, selectors=selectors)
            if run.renamed:
                raise InputError("the manifests rename managed objects (Moved documents) not applied yet: run "
                                 "'reconciler apply' first")
            plan = refresh_only_plan(run.report.items)
            if plan.empty:
                ctx.console.print("No changes: the state matches the live objects.")
                return
            ctx.console.print("Refresh only: the state will record these live values as the last apply; nothing is "
                              "sent to any API and the manifests are not changed:")
            ctx.console.print("")
            for item in plan.changed:
                for f in item.fields:
                    ctx.console.print(terminal(f"  ~ {item.address}: {f.path} {format_value(f.applied)} -> "
                                               f"{format_value(f.live)}{changed_by_text(f.changed_by, f.changed_at)}"))
            for item in plan.missing:
                ctx.console.print(f"  - {item.address}: deleted outside reconciler (id {item.remote_id}); forgotten "
                                  "from state (the next plan creates it again while its document remains)")
            ctx.console.print("")
            confirm(ctx, auto_approve, destroy=False)
            refresh_only(ws.state, plan, run.snapshot.resources, run.live, ws.list_keys)
    finally:
        ws.close()
    ctx.console.print(f"Refresh complete: {len(plan.changed)} updated, {len(plan.missing)} forgotten in state. "
                      "'reconciler plan' shows what it takes to bring them back to the manifests.")


# -- report ------------------------------------------------------------------------------------------
@cli.command()
@paths_argument
@click.option("--dataset", default="performance", show_default=True, help="Reporting API v2 dataset.")
@click.option("--field", "fields", multiple=True, help="Dimension or metric (repeat). Default: a useful set.")
@click.option("--filter", "filters", multiple=True, help="e.g. campaign_id=1,2  total_spend>=100  campaign_name=~x")
@click.option("--time-window", help="current_day, yesterday, last_7_days, campaign_to_date, ...")
@click.option("--start-time", help="RFC 3339; --time-window wins when both are given.")
@click.option("--end-time", help="RFC 3339.")
@click.option("--rollup", default="all", show_default=True, type=click.Choice(["all", "by_hour", "by_day", "by_week", "by_month"]))
@click.option("--order", "order", multiple=True, help="field or -field (descending).")
@click.option("--max-results", type=click.IntRange(1), help="Stop after N rows.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), help="Default: table on a terminal, csv otherwise.")
@click.option("--all-campaigns", is_flag=True,
              help="Every campaign of the advertisers the workspace manages, not only its own campaigns and "
                   "strategies (with --filter: what the filters pick, anywhere).")
@click.option("--raw", is_flag=True, help="CSV: write cells as the API sent them (no ' before a cell starting with = + - @).")
@pass_ctx
@handle_errors
def report(
    ctx: Context,
    paths: tuple[Path, ...],
    dataset: str,
    fields: tuple[str, ...],
    filters: tuple[str, ...],
    time_window: str | None,
    start_time: str | None,
    end_time: str | None,
    rollup: str,
    order: tuple[str, ...],
    max_results: int | None,
    fmt: str | None,
    all_campaigns: bool,
    raw: bool,
) -> None:
    """Delivery and spend from the MediaMath Reporting API v2 (streamed, constant memory).

    By default it reports on the campaigns and strategies this workspace manages (from state);
    --all-campaigns widens it to every campaign of the managed advertisers (the advertisers of
    the managed campaigns included), or to what --filter picks.
    """
    from reconciler.providers.mediamath.reporting import ReportingClient
    from reconciler.report import ReportQuery, run_report

    ws = ctx.workspace()
    try:
        snapshot = ws.state.read()
        mediamath = [rs for rs in snapshot.resources.values() if rs.provider == "mediamath"]
        managed = {kind: sorted(rs.remote_id for rs in mediamath if rs.kind == kind) for kind in ("Campaign", "Strategy")}
        advertisers = sorted(
            {rs.remote_id for rs in mediamath if rs.kind == "Advertiser"}
            | {rs.parent_ids["advertiser_id"] for rs in mediamath if rs.kind == "Campaign" and rs.parent_ids.get("advertiser_id")}
        )
        client = ReportingClient.from_config(ws.provider("mediamath").config)
        try:
            summary = run_report(
                client,
                ReportQuery(
                    dataset=dataset,
                    fields=fields,
                    filters=filters,
                    time_window=time_window,
                    start_time=start_time,
                    end_time=end_time,
                    rollup=rollup,
                    order=order,
                    max_results=max_results,
                    campaign_ids=() if all_campaigns else managed["Campaign"],
                    strategy_ids=() if all_campaigns else managed["Strategy"],
                    advertiser_ids=advertisers if all_campaigns and not filters else (),
                ),
                fmt=fmt or ("table" if ctx.console.interactive else "csv"),
                progress=lambda n, total: ctx.console.progress(f"{n} of {total if total >= 0 else '?'} rows"),
                raw=raw,
            )
        finally:
            client.close()
    finally:
        ws.close()
    ctx.console.progress(f"{summary.rows} rows from {summary.dataset}.")
