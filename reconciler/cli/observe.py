"""``drift`` and ``report``: what the live objects look like, changed behind our back or spending
(registered on the main group when imported)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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
@pass_ctx
@handle_errors
def drift(ctx: Context, paths: tuple[Path, ...], fmt: str, targets: tuple[str, ...], selectors: tuple[str, ...]) -> None:
    """Report objects changed outside reconciler (exit 2 when there is drift)."""
    from reconciler.drift import render_drift_json, render_drift_markdown, render_drift_text

    ws = ctx.workspace()
    try:
        report = ws.drift(paths, targets=targets, selectors=selectors)
    finally:
        ws.close()
    if fmt == "json":
        ctx.console.print(json.dumps(render_drift_json(report), indent=2, sort_keys=True))
    elif fmt == "markdown":
        ctx.console.print(render_drift_markdown(report))
    else:
        ctx.console.print(render_drift_text(report))
    if report.has_drift:
        sys.exit(2)


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
            )
        finally:
            client.close()
    finally:
        ws.close()
    ctx.console.progress(f"{summary.rows} rows from {summary.dataset}.")
