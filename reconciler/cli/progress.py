"""Progress of long work (apply, destroy): a bar on a terminal, a line every N seconds in CI.

Three shapes behind one small interface (:class:`Progress`), chosen by :func:`open_progress`:

- **terminal** (stderr is a TTY and ``CI`` is not set): a `rich`_ progress bar with the counts
  (``120/350``), elapsed time and an ETA; lines printed meanwhile appear above the bar, which
  disappears at the end (only the lines and the summary stay in the scrollback);
- **lines** (CI, pipes, log files): every ``every`` seconds one plain line, e.g.
  ``apply: 120 of 350 done (3 created, 2 updated), 40s elapsed, about 1m 20s left``, and the
  lines of the resources that changed as they finish;
- **quiet** (``--quiet``): nothing until the summary.

The ETA is the average time per finished resource so far times what is left: rough at the
start, honest near the end.

.. _rich: https://rich.readthedocs.io/
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Protocol

DEFAULT_EVERY = 10.0  # seconds between progress lines when not on a terminal


class Progress(Protocol):
    """What a long run reports as it goes; a context manager that cleans up on exit."""

    def __enter__(self) -> Progress: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None: ...

    def advance(self, counts: Mapping[str, int]) -> None:
        """One more resource finished; ``counts`` are the changes so far, by verb (``created``...)."""

    def line(self, text: str) -> None:
        """Print a line (a resource that changed or failed) without breaking the display."""


def duration(seconds: float) -> str:
    """``45s``, ``3m 05s``, ``1h 02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {verb}" for verb, n in counts.items() if n)


class QuietProgress:
    """``--quiet``: nothing while it runs."""

    def __enter__(self) -> QuietProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        return None

    def advance(self, counts: Mapping[str, int]) -> None:
        return None

    def line(self, text: str) -> None:
        return None


class LineProgress:
    """CI and pipes: the resource lines as they come, and a status line every ``every`` seconds
    from a background thread (so a slow call still shows the run is alive)."""

    def __init__(self, verb: str, total: int, emit: Callable[[str], None], every: float = DEFAULT_EVERY,
                 clock: Callable[[], float] = time.monotonic, out: Callable[[str], None] | None = None) -> None:
        self.verb = verb
        self.total = total
        self.emit = emit  # status lines (stderr)
        self.out = out or emit  # resource lines (stdout, with the summary)
        self.every = every
        self.clock = clock
        self.done = 0
        self.counts: Mapping[str, int] = {}
        self.started = clock()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)

    def __enter__(self) -> LineProgress:
        if self.every > 0:
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            with self._lock:
                if self.done < self.total:
                    self.emit(self.status())

    def status(self) -> str:
        elapsed = self.clock() - self.started
        text = f"{self.verb}: {self.done} of {self.total} done"
        what = counts_text(self.counts)
        if what:
            text += f" ({what})"
        text += f", {duration(elapsed)} elapsed"
        if self.done:
            text += f", about {duration(elapsed / self.done * (self.total - self.done))} left"
        return text

    def advance(self, counts: Mapping[str, int]) -> None:
        with self._lock:
            self.done += 1
            self.counts = dict(counts)

    def line(self, text: str) -> None:
        with self._lock:
            self.out(text)


class BarProgress:
    """A terminal: a rich progress bar on stderr, counts and ETA; transient (gone at the end)."""

    def __init__(self, verb: str, total: int, color: bool, out: Callable[[str], None] | None = None) -> None:
        import sys

        # resource lines go to stdout with the summary; when stdout is this terminal too, they are
        # printed above the bar (the same screen, without breaking the bar)
        self.out = None if out is None or sys.stdout.isatty() else out

        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self.console = Console(file=sys.stderr, force_terminal=True, no_color=not color, highlight=False)
        self.verb = verb
        self.bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[counts]}"),
            console=self.console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.task = self.bar.add_task(verb, total=total, counts="")

    def __enter__(self) -> BarProgress:
        self.bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.bar.stop()

    def advance(self, counts: Mapping[str, int]) -> None:
        self.bar.update(self.task, advance=1, counts=counts_text(counts))

    def line(self, text: str) -> None:
        from rich.text import Text

        if self.out is not None:
            self.out(text)
        else:
            self.bar.console.print(Text(text, style="dim"))


def open_progress(verb: str, total: int, *, mode: str, emit: Callable[[str], None], color: bool = False,
                  every: float = DEFAULT_EVERY, out: Callable[[str], None] | None = None) -> Progress:
    """The progress display for ``mode``: ``bar`` (terminal), ``lines`` (CI) or ``quiet``.
    Progress (the bar, the status lines) goes to stderr through ``emit``; the resource lines to
    ``out`` (stdout, like the summary after them: ``apply > log`` keeps them, as Terraform does)."""
    if mode == "quiet":
        return QuietProgress()
    if mode == "bar":
        return BarProgress(verb, total, color, out)
    return LineProgress(verb, total, emit, every, out=out)
