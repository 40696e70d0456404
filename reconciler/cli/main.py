"""``reconciler`` command line (DESIGN §6). A thin layer over :mod:`reconciler.engine`.

This module holds the group, its global options, the shared options and the one error boundary;
the commands live beside it, one module per part of the flow, registered when imported below:
:mod:`.plan_apply` (validate, plan, apply, destroy), :mod:`.observe` (drift, report),
:mod:`.state_commands` (import, state list/show/rm/unlock), :mod:`.adopt` (export, state mv),
:mod:`.sandbox_commands` (sandbox serve).

Exit codes: 0 success and nothing to change; 1 error; 2 changes present (``plan
--detailed-exitcode``) or drift found (``drift``, always); 3 stale plan or unresolved conflict.
Errors are caught here and only here: the user sees ``Error: <message>``, never a traceback
unless ``--debug`` is given.
"""

from __future__ import annotations

import functools
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


# -- command groups (their commands: see the modules registered below) ----------------------------
@cli.group()
def state() -> None:
    """Inspect and edit the state (never touches live objects)."""


@cli.group()
def sandbox() -> None:
    """Local emulators of every target API."""


# the command modules register themselves on the groups above
from reconciler.cli import adopt, observe, plan_apply, sandbox_commands, state_commands  # noqa: E402,F401


def main() -> None:
    """Console-script entry point."""
    if os.environ.get("NO_COLOR"):
        os.environ.setdefault("CLICK_NO_COLOR", "1")
    cli(prog_name="reconciler")


if __name__ == "__main__":
    main()
