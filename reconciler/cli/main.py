"""``reconciler`` command line (DESIGN §6). A thin layer over :mod:`reconciler.engine`.

This module holds the group, its global options, the shared options and the one error boundary;
the commands live beside it, one module per part of the flow, registered when imported below:
:mod:`.plan_apply` (validate, plan, apply, destroy), :mod:`.observe` (drift, report),
:mod:`.state_commands` (import, state list/show/rm/unlock), :mod:`.adopt` (export, state mv),
:mod:`.state_transfer` (state migrate/pull/push),
:mod:`.sandbox_commands` (sandbox serve).

Exit codes: 0 success and nothing to change; 1 error; 2 changes present (``plan
--detailed-exitcode``) or drift found (``drift``: a managed object changed or missing, a console
step pending; unmanaged objects only with ``--fail-on-unmanaged``); 3 stale plan or unresolved
conflict.
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
from reconciler.manifest.workspace import Selection

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Global options, the console and the workspace of one invocation."""

    def __init__(self, directory: Path, debug: bool, no_color: bool, selection: Selection = Selection()) -> None:
        self.directory = directory
        self.debug = debug
        self.console = Console.detect(no_color)
        self.selection = selection

    def workspace(self, lock_timeout: float = 0.0, *, resolve_credentials: bool = True) -> Any:
        from reconciler.engine import Workspace

        return Workspace(
            start=self.directory, lock_timeout=lock_timeout, resolve_credentials=resolve_credentials,
            selection=self.selection, notice=self.console.warn,
        )


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
        except BrokenPipeError:  # the reader went away (``state list | head``): nothing is wrong
            devnull = os.open(os.devnull, os.O_WRONLY)  # what is left to print goes nowhere
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
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
def selection_options(fn: F) -> F:
    """``--target`` and ``-l/--selector``: narrow a command to some resources (see
    :meth:`reconciler.engine.Workspace.select`)."""
    fn = click.option("-l", "--selector", "selectors", multiple=True, metavar="SELECTOR",
                      help="Only resources whose labels match, e.g. 'market in (us,ca),team=ads' (repeat: any).")(fn)
    return click.option("--target", "targets", multiple=True, metavar="ADDRESS",
                        help="Only this address, glob (mediamath.Strategy/summer-*) or Kind/name (repeat), "
                             "and what it needs.")(fn)


lock_timeout_option = click.option(
    "--lock-timeout", type=float, default=0.0, show_default=True, help="Seconds to wait for the state lock."
)


GLOBAL_FLAGS = ("--debug", "--no-color")
GLOBAL_VALUES = ("-C", "--env", "--var", "--var-file")  # global options that take a value


def hoist_global_options(args: list[str]) -> list[str]:
    """Global options given after the subcommand (``plan --no-color``, ``apply FILE -C dir``)
    moved before it, where the group parses them; everything after ``--`` is left alone."""
    head: list[str] = []
    rest: list[str] = []
    i, seen_command = 0, False
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if seen_command and arg in GLOBAL_FLAGS:
            head.append(arg)
        elif seen_command and arg in GLOBAL_VALUES and i + 1 < len(args):
            head.extend(args[i : i + 2])
            i += 1
        elif seen_command and (arg.startswith("-C") and len(arg) > 2 or arg.startswith(tuple(f"{o}=" for o in GLOBAL_VALUES[1:]))):
            head.append(arg)
        else:
            if not arg.startswith("-") and not seen_command and not (rest and rest[-1] in GLOBAL_VALUES):
                seen_command = True
            rest.append(arg)
        i += 1
    return head + rest


class ReconcilerGroup(click.Group):
    """The ``reconciler`` group: global options anywhere on the line, and every usage error (an
    unknown flag, a bad value) exits 1 like every other error, with click's usage text; only
    ``plan --detailed-exitcode`` and ``drift`` use 2 (changes present), which CI relies on. (A
    closed pipe, ``state list | head``, ends quietly with 0: see :func:`handle_errors`.)"""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        argv = hoist_global_options(list(sys.argv[1:] if args is None else args))
        if not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            return super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            exc.show()
            sys.exit(1)


@click.group(cls=ReconcilerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", type=click.Path(file_okay=False, exists=True, path_type=Path), default=".",
              help="Run as if started in DIR (before or after the command, like the other global options).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--no-color", is_flag=True, help="Never colour output (NO_COLOR is respected too).")
@click.option("--env", "environment", envvar="RECONCILER_ENV", metavar="NAME",
              help="Use the named environment of reconciler.yaml (its variables, provider settings and state).")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Set a variable (repeat; wins over files).")
@click.option("--var-file", "var_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Variables from a YAML or JSON mapping (repeat; later files win).")
@click.version_option(package_name="reconciler")
@click.pass_context
def cli(
    click_ctx: click.Context, directory: Path, debug: bool, no_color: bool, environment: str | None,
    variables: tuple[str, ...], var_files: tuple[Path, ...],
) -> None:
    """Declarative infrastructure-as-code for ad-tech: MediaMath campaigns and clean rooms as YAML."""
    given: dict[str, str] = {}
    for item in variables:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"'{item}' is not NAME=VALUE", param_hint="--var")
        given[name.strip()] = value
    selection = Selection(environment=environment or None, var_files=var_files, variables=given)
    click_ctx.obj = Context(directory.resolve(), debug, no_color, selection)


# -- command groups (their commands: see the modules registered below) ----------------------------
@cli.group()
def state() -> None:
    """Inspect and edit the state (never touches live objects)."""


@cli.group()
def sandbox() -> None:
    """Local emulators of every target API."""


# the command modules register themselves on the groups above
from reconciler.cli import (  # noqa: E402,F401
    adopt,
    observe,
    plan_apply,
    sandbox_commands,
    sandbox_info,
    state_commands,
    state_transfer,
)


def main() -> None:
    """Console-script entry point."""
    if os.environ.get("NO_COLOR"):
        os.environ.setdefault("CLICK_NO_COLOR", "1")
    cli(prog_name="reconciler")


if __name__ == "__main__":
    main()
