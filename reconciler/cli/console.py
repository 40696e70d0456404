"""All terminal output in one place: colour only on a TTY (and never with --no-color/NO_COLOR),
plain line-oriented output in CI (``CI=true`` or no TTY), progress lines for long work.
Errors, warnings and progress lines may quote vendors and live names: their control characters
are shown as escapes (:func:`reconciler.textsafe.terminal`), never sent to the terminal."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import click

from reconciler.textsafe import terminal


@dataclass
class Console:
    """Streams are looked up when printing (click's CliRunner swaps them)."""

    color: bool
    interactive: bool
    live: bool = False  # stderr is a terminal outside CI: progress bars instead of progress lines

    @classmethod
    def detect(cls, no_color: bool) -> Console:
        tty = sys.stdout.isatty()
        ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
        color = tty and not no_color and "NO_COLOR" not in os.environ and not ci
        live = sys.stderr.isatty() and not ci
        return cls(color=color, interactive=tty and sys.stdin.isatty() and not ci, live=live)

    def print(self, text: str = "", *, fg: str | None = None, bold: bool = False) -> None:
        click.secho(text, fg=fg if self.color else None, bold=bold and self.color, color=self.color)

    def error(self, text: str) -> None:
        click.secho(f"Error: {terminal(text)}", fg="red" if self.color else None, err=True, color=self.color)

    def warn(self, text: str) -> None:
        click.secho(f"Warning: {terminal(text)}", fg="yellow" if self.color else None, err=True, color=self.color)

    def outcome(self, text: str) -> None:
        """One line of what happened to a resource (apply), on stdout with the summary."""
        click.secho(terminal(text), color=self.color)

    def progress(self, text: str) -> None:
        """One line per event; on a terminal it is dimmed."""
        click.secho(terminal(text), dim=self.color, err=True, color=self.color)
