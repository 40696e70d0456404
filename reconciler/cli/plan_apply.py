"""``validate``, ``plan``, ``apply`` and ``destroy``: the flow from manifests to live objects
(thin layers over :mod:`reconciler.engine`; registered on the main group when imported)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import click

from reconciler.cli.main import (
    Context,
    cli,
    format_option,
    handle_errors,
    lock_timeout_option,
    pass_ctx,
    paths_argument,
    selection_options,
)

F = TypeVar("F", bound=Callable[..., Any])


# -- validate ----------------------------------------------------------------------------------------
@cli.command()
@paths_argument
@pass_ctx
@handle_errors
def validate(ctx: Context, paths: tuple[Path, ...]) -> None:
    """Check manifests and the workspace file without calling any API (no secrets needed)."""
    ws = ctx.workspace(resolve_credentials=False)
    resources = ws.desired(paths)
    for warning in ws.load_warnings:
        ctx.console.warn(warning)
    ctx.console.print(f"Valid: {len(resources)} resources in {ws.root}.")


# -- plan ------------------------------------------------------------------------------------------
def markdown_options(fn: F) -> F:
    from reconciler.plan.fit import DEFAULT_MAX_CHARS

    fn = click.option("--full-plan", default="", metavar="WHERE",
                      help="Markdown: where the full plan is (an artifact's address), said when the Markdown is cut.")(fn)
    return click.option("--max-chars", type=click.IntRange(0), default=DEFAULT_MAX_CHARS, show_default=True,
                        help="Markdown: keep it under this many characters (the summary and the largest changes "
                             "stay; 0: no limit).")(fn)


@cli.command()
@paths_argument
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan for 'apply FILE'.")
@format_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none.")
@selection_options
@click.option("--skip-guardrails", is_flag=True, help="Allow changes the providers' guardrails refuse (said in the plan).")
@markdown_options
@pass_ctx
@handle_errors
def plan(
    ctx: Context,
    paths: tuple[Path, ...],
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    skip_guardrails: bool,
    max_chars: int,
    full_plan: str,
) -> None:
    """Show what apply would change, field by field. Writes nothing."""
    from reconciler.plan.planfile import check_replaceable, save_plan

    if out:
        check_replaceable(out)  # before planning: never overwrite a manifest (or anything but a plan)
    ws = ctx.workspace()
    try:
        the_plan, _ = ws.plan(paths, targets=targets, selectors=selectors, skip_guardrails=skip_guardrails)
    finally:
        ws.close()
    emit_plan(ctx, the_plan, fmt, ws.kind_info, max_chars, full_plan)
    if out:
        save_plan(the_plan, out)
        ctx.console.progress(f"Saved the plan to {out}. Apply exactly this plan with: reconciler apply {out}")
    if detailed_exitcode and the_plan.has_changes:
        sys.exit(2)


def emit_plan(ctx: Context, the_plan: Any, fmt: str, kinds: Any = None, max_chars: int = 0, full_plan: str = "") -> None:
    """The plan on stdout in ``fmt``; ``kinds`` (the workspace's ``kind_info``) describes the
    kinds for the summary (money, currency, parents); Markdown is kept under ``max_chars``."""
    from reconciler.plan.render import render_json, render_markdown, render_text

    for warning in the_plan.warnings:  # on stderr, once (JSON and Markdown also carry them)
        ctx.console.warn(warning)
    if fmt == "json":
        ctx.console.print(json.dumps(render_json(the_plan, kinds), indent=2, sort_keys=True))
    elif fmt == "markdown":
        ctx.console.print(render_markdown(the_plan, kinds, max_chars, full_plan))
    else:
        ctx.console.print(render_text(the_plan, color=ctx.console.color, warnings=False, kinds=kinds))


# -- show ------------------------------------------------------------------------------------------
@cli.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@format_option
@markdown_options
@pass_ctx
@handle_errors
def show(ctx: Context, plan_file: Path, fmt: str, max_chars: int, full_plan: str) -> None:
    """Show a saved plan (plan --out FILE) as text, JSON or Markdown. Calls no API.

    CI recipes plan once, save the plan and its full text, then post 'show FILE --format
    markdown' (kept under --max-chars) with a link to the full text."""
    from reconciler.errors import ReconcilerError
    from reconciler.plan.planfile import load_plan

    the_plan = load_plan(plan_file, refused="the plan file is refused and not shown")
    kinds = None
    try:  # the workspace's own providers (factory:), if there is one; built-in kinds otherwise
        ws = ctx.workspace(resolve_credentials=False)
        ws.close()
        kinds = ws.kind_info
    except ReconcilerError:
        pass
    emit_plan(ctx, the_plan, fmt, kinds, max_chars, full_plan)


# -- apply / destroy ---------------------------------------------------------------------------------
class ApplyOutput(NamedTuple):
    """How much apply prints: ``quiet`` (summary and errors only), and how often a progress line
    comes when not on a terminal."""

    quiet: bool = False
    progress_every: float = 10.0


def output_options(fn: F) -> F:
    fn = click.option("--progress-every", type=click.FloatRange(0), default=10.0, show_default=True, metavar="SECONDS",
                      help="When not on a terminal (CI), print a progress line this often (0: never).")(fn)
    return click.option("-q", "--quiet", is_flag=True,
                        help="Print only the summary and errors (the plan is still shown when asking for approval).")(fn)


@cli.command()
@paths_argument
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--force-conflicts", is_flag=True, help="Overwrite fields someone else changed since the plan.")
@click.option("--refresh-only", is_flag=True,
              help="Record the live values as the last apply in state; write nothing to any API.")
@selection_options
@click.option("--skip-guardrails", is_flag=True, help="Allow changes the providers' guardrails refuse (said in the plan).")
@lock_timeout_option
@output_options
@pass_ctx
@handle_errors
def apply(
    ctx: Context,
    paths: tuple[Path, ...],
    auto_approve: bool,
    parallelism: int,
    force_conflicts: bool,
    refresh_only: bool,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    skip_guardrails: bool,
    lock_timeout: float,
    quiet: bool,
    progress_every: float,
) -> None:
    """Make the changes: from the manifests (plans again first) or from a saved plan FILE.

    Console steps the APIs cannot make (mediarithmics in observe-only mode) never block the rest:
    apply does everything else, lists the pending steps last and exits 0 if nothing failed.
    With --refresh-only, the state takes the live values (what drift reports) as the last apply."""
    plan_file = paths[0] if len(paths) == 1 and paths[0].is_file() and is_plan_file(paths[0]) else None
    if refresh_only:
        from reconciler.cli.observe import run_refresh_only

        if plan_file is not None:
            raise click.UsageError("--refresh-only refreshes from the manifests' state, not from a saved plan FILE")
        run_refresh_only(ctx, paths, auto_approve, targets, selectors, lock_timeout)
        return
    run_apply(ctx, paths, plan_file, auto_approve, parallelism, force_conflicts, targets, lock_timeout,
              destroy=False, skip_guardrails=skip_guardrails, selectors=selectors,
              output=ApplyOutput(quiet, progress_every))


@cli.command()
@paths_argument
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=8, show_default=True)
@selection_options
@click.option("--skip-guardrails", is_flag=True, help="Allow changes the providers' guardrails refuse (said in the plan).")
@lock_timeout_option
@output_options
@pass_ctx
@handle_errors
def destroy(
    ctx: Context, paths: tuple[Path, ...], auto_approve: bool, parallelism: int, targets: tuple[str, ...],
    selectors: tuple[str, ...], skip_guardrails: bool, lock_timeout: float, quiet: bool, progress_every: float,
) -> None:
    """Delete (or abandon, per on_delete) everything the state manages. Money guardrails apply:
    deleting a budget flight or deactivating a campaign that has spend needs --skip-guardrails."""
    run_apply(ctx, paths, None, auto_approve, parallelism, False, targets, lock_timeout, destroy=True,
              skip_guardrails=skip_guardrails, selectors=selectors, output=ApplyOutput(quiet, progress_every))


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
    selectors: tuple[str, ...] = (),
    output: ApplyOutput = ApplyOutput(),
) -> None:
    from reconciler.apply import ApplyOptions
    from reconciler.apply.result import conflict_way_out
    from reconciler.apply.sources import point_home
    from reconciler.apply.stale import is_stale
    from reconciler.cli.apply_output import ApplyTally, requests_line, run_requests
    from reconciler.cli.progress import open_progress
    from reconciler.errors import ApplyError
    from reconciler.plan.planfile import load_plan
    from reconciler.providers.http import process_stats

    sent_before = process_stats()  # the run's requests: login, refresh, reports and writes
    ws = ctx.workspace(lock_timeout)
    try:
        with ws.state.locked("destroy" if destroy else "apply", lock_timeout):  # a cleared stale lock is said
            for message in ws.recover():
                if not output.quiet:
                    ctx.console.progress(message)
            desired: list[Any] = []
            if plan_file is not None:
                saved = load_plan(plan_file)  # a saved plan is the approval (as in Terraform)...
                ws.check_fresh(saved)  # ...for the state it was made from: stale is said first (exit 3)
                # ...but money moved since: its writes pass the guardrails again (or it says why not)
                the_plan = ws.guard(saved, skip_guardrails or bool(saved.options.get("guardrails_skipped")))
                for warning in the_plan.warnings[len(saved.warnings):]:
                    ctx.console.warn(warning)
                if saved.options.get("guardrails_skipped"):
                    ctx.console.warn(f"{plan_file} was made with --skip-guardrails: its guardrail findings are not enforced")
            else:
                the_plan, desired = ws.plan(paths, targets=targets, selectors=selectors, destroy=destroy,
                                            skip_guardrails=skip_guardrails)
                if not (output.quiet and (auto_approve or not the_plan.has_changes)):
                    emit_plan(ctx, the_plan, "text", ws.kind_info)
                else:
                    for warning in the_plan.warnings:
                        ctx.console.warn(warning)
                if not the_plan.has_changes:
                    # Nothing to send; lifecycle-only edits (prevent_destroy, on_delete) still
                    # reach the state through the executor's no-op bookkeeping.
                    unchanged = ws.execute_plan(the_plan, ApplyOptions(parallelism=parallelism))
                    ctx.console.print(ApplyTally(the_plan).summary(unchanged))
                    return
                confirm(ctx, auto_approve, destroy)
            tally = ApplyTally(the_plan)
            mode = "quiet" if output.quiet else ("bar" if ctx.console.live else "lines")
            with open_progress("destroy" if destroy else "apply", len(the_plan.changes), mode=mode,
                               emit=ctx.console.progress, out=ctx.console.outcome, color=ctx.console.color,
                               every=output.progress_every) as progress:
                def on_event(result: Any) -> None:
                    text = tally.add(result)
                    if text is not None:
                        progress.line(text)
                    progress.advance(tally.changed())

                result = ws.execute_plan(the_plan, ApplyOptions(parallelism=parallelism, force_conflicts=force_conflicts),
                                         on_event, saved=plan_file is not None)
            stale_now = (plan_file is not None and bool(result.conflicts)  # for the conflict advice
                         and is_stale(the_plan, ws.state.read()))
            if result.failures:  # name the manifest file, line and field of each vendor refusal
                result = point_home(result, {str(d.address): d for d in desired or _manifests(ws)}, ws.kind_info)
    finally:
        ws.close()
    report_apply(ctx, result)
    ctx.console.print(tally.summary(result))
    ctx.console.print(requests_line(run_requests(result.error_budget, sent_before, process_stats())))
    report_pending(ctx, the_plan, result)
    if result.has_failures:
        lines = "\n".join(f"  {r.address}: {r.outcome.value}: {r.message}" for r in result.failures)
        saved_as = None if plan_file is None else str(plan_file)
        way_out = f"\n{conflict_way_out([r.address for r in result.conflicts], saved_as, stale_now)}" \
            if result.conflicts else ""
        raise ApplyError(
            f"apply finished with {len(result.failures)} resource(s) not applied; everything else was applied "
            f"and recorded:\n{lines}{way_out}",
            conflicts=len(result.conflicts),
        )


def _manifests(ws: Any) -> list[Any]:
    """The manifests beside a saved plan, to say where a failure's document is (none if they do
    not load: the plan is what was approved, not today's files)."""
    from reconciler.errors import InputError

    try:
        return list(ws.desired())
    except InputError:
        return []


def confirm(ctx: Context, auto_approve: bool, destroy: bool) -> None:
    from reconciler.errors import InputError

    if auto_approve:
        return
    command = "destroy" if destroy else "apply"
    if not ctx.console.interactive:
        raise InputError(f"{command} needs --auto-approve when not run on a terminal"
                         + ("" if destroy else " (or apply a saved plan FILE)"))
    verb = "destroy these resources" if destroy else "perform these actions"
    answer = click.prompt(f"Do you want to {verb}? Only 'yes' will be accepted", default="", show_default=False)
    if answer.strip() != "yes":
        raise InputError(f"{command} cancelled")


def report_apply(ctx: Context, result: Any) -> None:
    from reconciler.attribution import by_whom, writer_names

    for r in result.results:
        if r.outcome.ok and r.conflict_fields:  # applied with --force-conflicts
            ctx.console.print(f"Overwrote another writer's values on {r.address} (--force-conflicts):", fg="yellow")
            for field, planned, ours, theirs in r.conflict_fields:
                ctx.console.print(f"    {field}: theirs {theirs!r} replaced by ours {ours!r} (planned from {planned!r})")
    for r in result.conflicts:
        if not r.conflict_fields:  # changed again while rebasing, in fields it does not name
            ctx.console.print(f"Conflict on {r.address}: {r.message}", fg="red")
            continue
        ctx.console.print(f"Conflict on {r.address}: {writer_names(r.other_writers)} changed fields this plan changes:",
                          fg="red")
        for field, planned, ours, theirs in r.conflict_fields:
            writer = r.writer_of(field)
            by = f", set {by_whom(writer)}" if writer is not None and (writer.user or writer.when) else ""
            ctx.console.print(f"    {field}: planned from {planned!r}; ours {ours!r}; theirs (kept, live) {theirs!r}{by}")


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
    lines = pending_lines(manual, after_apply=True)
    if waiting:
        lines.append(f"Waiting for those steps ({len(waiting)}): " + ", ".join(waiting))
    for line in lines:
        ctx.console.print(line, fg="yellow" if line.startswith(("Pending", "Waiting")) else None)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if lines and summary_file:
        body = "\n".join(lines).replace("`", "'")  # live names cannot close the code block
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(f"**reconciler apply: {len(manual)} console step(s) pending**\n\n```\n{body}\n```\n")
