"""``reconciler`` command line (DESIGN §6). A thin layer over :mod:`reconciler.engine`.

Exit codes: 0 success and nothing to change; 1 error; 2 changes present (``plan
--detailed-exitcode``) or drift found (``drift``, always); 3 stale plan or unresolved conflict.
Errors are caught here and only here: the user sees ``Error: <message>``, never a traceback
unless ``--debug`` is given.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from reconciler.cli.console import Console
from reconciler.errors import ReconcilerError

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Global options, the console and the workspace of one invocation."""

    def __init__(self, directory: Path, debug: bool, no_color: bool) -> None:
        self.directory = directory
        self.debug = debug
        self.console = Console.detect(no_color)

    def workspace(self, lock_timeout: float = 0.0, *, resolve_credentials: bool = True) -> Any:
        from reconciler.engine import Workspace

        return Workspace(start=self.directory, lock_timeout=lock_timeout, resolve_credentials=resolve_credentials)


def fail(ctx: Context, exc: BaseException, code: int) -> NoReturn:
    ctx.console.error(str(exc) if isinstance(exc, ReconcilerError) else f"internal error: {type(exc).__name__}: {exc}")
    if not isinstance(exc, ReconcilerError):
        ctx.console.error("this is a bug in reconciler; run again with --debug for the traceback")
    sys.exit(code)


def handle_errors(fn: F) -> F:
    """The one error boundary: domain errors become a message and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context().find_object(Context)
        assert ctx is not None
        try:
            return fn(*args, **kwargs)
        except ReconcilerError as exc:
            if ctx.debug:
                raise
            fail(ctx, exc, exc.exit_code)
        except KeyboardInterrupt:
            ctx.console.error("interrupted")
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            if ctx.debug:
                raise
            fail(ctx, exc, 1)

    return wrapper  # type: ignore[return-value]


pass_ctx = click.make_pass_decorator(Context)
paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
lock_timeout_option = click.option(
    "--lock-timeout", type=float, default=0.0, show_default=True, help="Seconds to wait for the state lock."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", type=click.Path(file_okay=False, path_type=Path), default=".", help="Run as if started in DIR.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--no-color", is_flag=True, help="Never colour output (NO_COLOR is respected too).")
@click.version_option(package_name="reconciler")
@click.pass_context
def cli(click_ctx: click.Context, directory: Path, debug: bool, no_color: bool) -> None:
    """Declarative infrastructure-as-code for ad-tech: MediaMath campaigns and clean rooms as YAML."""
    click_ctx.obj = Context(directory.resolve(), debug, no_color)


# -- validate ----------------------------------------------------------------------------------------
@cli.command()
@paths_argument
@pass_ctx
@handle_errors
def validate(ctx: Context, paths: tuple[Path, ...]) -> None:
    """Check manifests and the workspace file without calling any API (no secrets needed)."""
    ws = ctx.workspace(resolve_credentials=False)
    resources = ws.desired(paths)
    ctx.console.print(f"Valid: {len(resources)} resources in {ws.root}.")


# -- plan ------------------------------------------------------------------------------------------
@cli.command()
@paths_argument
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan for 'apply FILE'.")
@format_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none.")
@click.option("--target", "targets", multiple=True, help="Only this address (and what it depends on).")
@click.option("--skip-guardrails", is_flag=True, help="Allow changes the providers' guardrails refuse (said in the plan).")
@pass_ctx
@handle_errors
def plan(
    ctx: Context,
    paths: tuple[Path, ...],
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    skip_guardrails: bool,
) -> None:
    """Show what apply would change, field by field. Writes nothing."""
    from reconciler.plan.planfile import save_plan

    ws = ctx.workspace()
    try:
        the_plan, _ = ws.plan(paths, targets=targets, skip_guardrails=skip_guardrails)
    finally:
        ws.close()
    emit_plan(ctx, the_plan, fmt)
    if out:
        save_plan(the_plan, out)
        ctx.console.progress(f"Saved the plan to {out}. Apply exactly this plan with: reconciler apply {out}")
    if detailed_exitcode and the_plan.has_changes:
        sys.exit(2)


def emit_plan(ctx: Context, the_plan: Any, fmt: str) -> None:
    from reconciler.plan.render import render_json, render_markdown, render_text

    for warning in the_plan.warnings:
        ctx.console.warn(warning)
    if fmt == "json":
        ctx.console.print(json.dumps(render_json(the_plan), indent=2, sort_keys=True))
    elif fmt == "markdown":
        ctx.console.print(render_markdown(the_plan))
    else:
        ctx.console.print(render_text(the_plan, color=ctx.console.color))


# -- apply / destroy ---------------------------------------------------------------------------------
@cli.command()
@paths_argument
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--force-conflicts", is_flag=True, help="Overwrite fields someone else changed since the plan.")
@click.option("--target", "targets", multiple=True, help="Only this address (and what it depends on).")
@click.option("--skip-guardrails", is_flag=True, help="Allow changes the providers' guardrails refuse (said in the plan).")
@lock_timeout_option
@pass_ctx
@handle_errors
def apply(
    ctx: Context,
    paths: tuple[Path, ...],
    auto_approve: bool,
    parallelism: int,
    force_conflicts: bool,
    targets: tuple[str, ...],
    skip_guardrails: bool,
    lock_timeout: float,
) -> None:
    """Make the changes: from the manifests (plans again first) or from a saved plan FILE.

    Console steps the APIs cannot make (mediarithmics in observe-only mode) never block the rest:
    apply does everything else, lists the pending steps last and exits 0 if nothing failed."""
    plan_file = paths[0] if len(paths) == 1 and paths[0].is_file() and is_plan_file(paths[0]) else None
    run_apply(ctx, paths, plan_file, auto_approve, parallelism, force_conflicts, targets, lock_timeout,
              destroy=False, skip_guardrails=skip_guardrails)


@cli.command()
@paths_argument
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--skip-guardrails", is_flag=True, help="Allow changes the providers' guardrails refuse (said in the plan).")
@lock_timeout_option
@pass_ctx
@handle_errors
def destroy(
    ctx: Context, paths: tuple[Path, ...], auto_approve: bool, parallelism: int, skip_guardrails: bool, lock_timeout: float
) -> None:
    """Delete (or abandon, per on_delete) everything the state manages. Money guardrails apply:
    deleting a budget flight or deactivating a campaign that has spend needs --skip-guardrails."""
    run_apply(ctx, paths, None, auto_approve, parallelism, False, (), lock_timeout, destroy=True,
              skip_guardrails=skip_guardrails)


def is_plan_file(path: Path) -> bool:
    if path.suffix in (".yaml", ".yml"):
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(64).lstrip()
    except OSError:
        return False
    return head.startswith(b"{")


def run_apply(
    ctx: Context,
    paths: tuple[Path, ...],
    plan_file: Path | None,
    auto_approve: bool,
    parallelism: int,
    force_conflicts: bool,
    targets: tuple[str, ...],
    lock_timeout: float,
    *,
    destroy: bool,
    skip_guardrails: bool = False,
) -> None:
    from reconciler.apply import ApplyOptions
    from reconciler.errors import ApplyError
    from reconciler.plan.planfile import load_plan

    ws = ctx.workspace(lock_timeout)
    try:
        with ws.state.locked("destroy" if destroy else "apply", lock_timeout):
            for stale in getattr(ws.state, "broken_locks", []):
                ctx.console.warn(f"cleared a stale lock left by a run that is no longer running: {stale.describe()}")
            for message in ws.recover():
                ctx.console.progress(message)
            if plan_file is not None:
                the_plan = load_plan(plan_file)  # a saved plan is the approval (as in Terraform)
            else:
                the_plan, _ = ws.plan(paths, targets=targets, destroy=destroy, skip_guardrails=skip_guardrails)
                emit_plan(ctx, the_plan, "text")
                if not the_plan.has_changes:
                    # Nothing to send; lifecycle-only edits (prevent_destroy, on_delete) still
                    # reach the state through the executor's no-op bookkeeping.
                    ws.execute_plan(the_plan, ApplyOptions(parallelism=parallelism))
                    return
                confirm(ctx, auto_approve, destroy)
            def on_event(result: Any) -> None:
                ctx.console.progress(f"{result.address}: {result.outcome.value}{(' - ' + result.message) if result.message else ''}")

            result = ws.execute_plan(the_plan, ApplyOptions(parallelism=parallelism, force_conflicts=force_conflicts), on_event)
    finally:
        ws.close()
    report_apply(ctx, result)
    report_pending(ctx, the_plan, result)
    if result.has_failures:
        raise ApplyError(
            f"apply finished with {len(result.failures)} resource(s) not applied (see above); "
            "everything else was applied and recorded",
            conflicts=len(result.conflicts),
        )


def confirm(ctx: Context, auto_approve: bool, destroy: bool) -> None:
    from reconciler.errors import InputError

    if auto_approve:
        return
    if not ctx.console.interactive:
        raise InputError("apply needs --auto-approve when not run on a terminal (or apply a saved plan FILE)")
    verb = "destroy these resources" if destroy else "perform these actions"
    answer = click.prompt(f"Do you want to {verb}? Only 'yes' will be accepted", default="", show_default=False)
    if answer.strip() != "yes":
        raise InputError("apply cancelled")


def report_apply(ctx: Context, result: Any) -> None:
    for r in result.results:
        if r.outcome.ok and r.conflict_fields:  # applied with --force-conflicts
            ctx.console.print(f"Overwrote another writer's values on {r.address} (--force-conflicts):", fg="yellow")
            for field, planned, ours, theirs in r.conflict_fields:
                ctx.console.print(f"    {field}: theirs {theirs!r} replaced by ours {ours!r} (planned from {planned!r})")
    for r in result.conflicts:
        if not r.conflict_fields:  # changed again while rebasing, in fields it does not name
            ctx.console.print(f"Conflict on {r.address}: {r.message}", fg="red")
            continue
        ctx.console.print(f"Conflict on {r.address}: someone else changed fields this plan changes:", fg="red")
        for field, planned, ours, theirs in r.conflict_fields:
            ctx.console.print(f"    {field}: planned from {planned!r}; ours {ours!r}; theirs (kept, live) {theirs!r}")
    counts: dict[str, int] = {}
    for r in result.results:
        counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    budget = ", ".join(f"{k} {v}" for k, v in sorted(result.error_budget.items()) if v)
    ctx.console.print(f"Apply complete: {summary or 'nothing to do'}." + (f" Error budget: {budget}." if budget else ""))


def report_pending(ctx: Context, the_plan: Any, result: Any) -> None:
    """The console steps apply could not make (and what waits for them), last, where a pipeline
    log ends; also appended to the GitHub job summary (``$GITHUB_STEP_SUMMARY``) when set.

    Pending steps do not fail the run (exit 0 when everything else applied): apply-on-merge
    pipelines keep going, and the steps stay in ``plan`` and ``drift`` until someone does them."""
    from reconciler.drift import PendingStep, pending_lines

    steps = {c.address: c.manual_steps for c in the_plan.changes}
    manual = [PendingStep(r.address, tuple(steps.get(r.address) or (r.message,)))
              for r in result.pending if r.outcome.value == "manual"]
    waiting = [r.address for r in result.pending if r.outcome.value == "waiting"]
    lines = pending_lines(manual)
    if waiting:
        lines.append(f"Waiting for those steps ({len(waiting)}): " + ", ".join(waiting))
    for line in lines:
        ctx.console.print(line, fg="yellow" if line.startswith(("Pending", "Waiting")) else None)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if lines and summary_file:
        body = "\n".join(lines).replace("`", "'")  # live names cannot close the code block
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(f"**reconciler apply: {len(manual)} console step(s) pending**\n\n```\n{body}\n```\n")


# -- drift -------------------------------------------------------------------------------------------
@cli.command()
@paths_argument
@format_option
@pass_ctx
@handle_errors
def drift(ctx: Context, paths: tuple[Path, ...], fmt: str) -> None:
    """Report objects changed outside reconciler (exit 2 when there is drift)."""
    from reconciler.drift import render_drift_json, render_drift_markdown, render_drift_text

    ws = ctx.workspace()
    try:
        report = ws.drift(paths)
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
@click.option("--all-campaigns", is_flag=True, help="Do not restrict to the campaigns and strategies the manifests manage.")
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
            )
        finally:
            client.close()
    finally:
        ws.close()
    ctx.console.progress(f"{summary.rows} rows from {summary.dataset}.")


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
@cli.group()
def state() -> None:
    """Inspect and edit the state (never touches live objects)."""


@state.command("list")
@pass_ctx
@handle_errors
def state_list(ctx: Context) -> None:
    snapshot = ctx.workspace().state.read()
    for address in sorted(snapshot.resources):
        ctx.console.print(address)


@state.command("show")
@click.argument("address")
@pass_ctx
@handle_errors
def state_show(ctx: Context, address: str) -> None:
    from reconciler.errors import InputError

    snapshot = ctx.workspace().state.read()
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

    backend = ctx.workspace().state
    with backend.locked("state rm", lock_timeout):
        if address not in backend.read().resources:
            raise InputError(f"{address} is not in the state (see 'reconciler state list')")
        backend.forget(address)
    ctx.console.print(f"Removed {address} from the state; the live object was not touched.")


@state.command("unlock")
@click.argument("lock_id")
@pass_ctx
@handle_errors
def state_unlock(ctx: Context, lock_id: str) -> None:
    """Remove a lock left by a run that died (give the id shown in the lock message)."""
    ctx.workspace().state.force_unlock(lock_id)
    ctx.console.print(f"Lock {lock_id} removed.")


# -- sandbox -----------------------------------------------------------------------------------------
@cli.group()
def sandbox() -> None:
    """Local emulators of every target API."""


@sandbox.command("serve")
@click.option("--port", type=int, default=8787, show_default=True)
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=Path(".reconciler/sandbox.sqlite"), show_default=True)
@click.option("--seed", "seeds", multiple=True, help="Load a named seed, as API:NAME (e.g. mediamath:estate).")
@click.option("--latency-ms", type=float, default=0.0, show_default=True)
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@pass_ctx
@handle_errors
def sandbox_serve(ctx: Context, port: int, data: Path, seeds: tuple[str, ...], latency_ms: float, fault_rate: float) -> None:
    """Serve every emulator on 127.0.0.1:PORT under /mediamath, /liveramp, /mediarithmics."""
    from reconciler.errors import InputError
    from reconciler.sandbox import create_sandbox
    from reconciler.sandbox.base import SandboxServer

    data.parent.mkdir(parents=True, exist_ok=True)
    app = create_sandbox(str(data))
    for seed in seeds:
        api, _, name = seed.partition(":")
        if api not in app.emulators or not name:
            raise InputError(f"--seed {seed}: expected API:NAME with API one of {', '.join(sorted(app.emulators))}")
        with app.store.transaction():
            app.emulators[api].seed(name, None)
    app.set_faults(latency_ms=latency_ms, fault_rate=fault_rate)
    server = SandboxServer(app, port=port)
    ctx.console.print(f"Sandbox on {server.url} ({', '.join('/' + (e.mount or e.name) for e in app.emulators.values())}); Ctrl+C stops it.")
    try:
        server.serve_forever()
    finally:
        app.store.close()


from reconciler.cli import adopt as _adopt  # noqa: E402,F401 - registers 'export' and 'state mv'


def main() -> None:
    """Console-script entry point."""
    if os.environ.get("NO_COLOR"):
        os.environ.setdefault("CLICK_NO_COLOR", "1")
    cli(prog_name="reconciler")


if __name__ == "__main__":
    main()
