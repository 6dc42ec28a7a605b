"""Progress bars for a running query on stderr: one bar per step, with counts and elapsed time.

Shown only when stderr is a terminal (or GONGYING_PROGRESS=1 forces it, GONGYING_PROGRESS=0
hides it), never on stdout, so `--json` output stays clean when bars are shown.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from client.sdk import ProgressCallback
from model.progress import QueryProgress

FORCE_ENV = "GONGYING_PROGRESS"


def progress_console(disabled: bool = False) -> Console | None:
    """A stderr console to draw progress on, or None: turned off, or stderr is not a terminal."""
    forced = os.environ.get(FORCE_ENV, "")
    if disabled or forced == "0":
        return None
    console = Console(stderr=True, force_terminal=True if forced == "1" else None)
    return console if console.is_terminal else None


class ProgressView:
    """Rich progress bars fed by `update` (an SDK `on_progress` callback; thread-safe)."""

    def __init__(self, console: Console, title: str) -> None:
        self.title = title
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> ProgressView:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, progress: QueryProgress) -> None:
        """Show the steps of this snapshot: a bar per step, stopped once the step is complete."""
        with self._lock:
            for step in progress.steps:
                task = self._tasks.get(step.name)
                if task is None:
                    task = self._progress.add_task(
                        f"{self.title}: {step.name}", total=step.total or None
                    )
                    self._tasks[step.name] = task
                self._progress.update(task, completed=step.done, total=step.total or None)
                if step.complete or (progress.finished and step.total == 0):
                    self._progress.stop_task(task)
            if progress.finished:
                for task in self._tasks.values():
                    self._progress.stop_task(task)


@contextlib.contextmanager
def progress_bars(console: Console | None, title: str) -> Iterator[ProgressCallback | None]:
    """An `on_progress` callback drawing bars on `console` while the block runs; None (no
    progress watched at all) without a console."""
    if console is None:
        yield None
        return
    with ProgressView(console, title) as view:
        yield view.update
