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
@click.option("--fail-on-unmanaged", is_flag=True,
              help="Exit 2 for unmanaged objects under managed parents too (by default they are reported, exit 0).")
@pass_ctx
@handle_errors
def drift(
    ctx: Context, paths: tuple[Path, ...], fmt: str, targets: tuple[str, ...], selectors: tuple[str, ...],
    fail_on_unmanaged: bool,
) -> None:
    """Report objects changed outside reconciler.

    Exit 2 when a managed object changed or is missing (or a console step is pending); 0 when
    everything matches its last apply. Unmanaged objects under managed parents are reported and
    exit 0, unless --fail-on-unmanaged."""
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
    if report.has_drift or (fail_on_unmanaged and report.has_unmanaged):
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
@click.option("--all-campaigns", is_flag=True, help="Do not restrict to the campaigns and strategies the manifests manage.")
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

    By default it reports on the campaigns and strategies this workspace manages (from state).
    """
    from reconciler.providers.mediamath.reporting import ReportingClient
    from reconciler.report import ReportQuery, run_report

    ws = ctx.workspace()
    try:
        snapshot = ws.state.read()
        managed = {
            kind: sorted(rs.remote_id for rs in snapshot.resources.values() if (rs.provider, rs.kind) == ("mediamath", kind))
            for kind in ("Campaign", "Strategy")
        }
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
