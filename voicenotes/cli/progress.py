"""The one progress display of every long stage: a rich bar on stderr when it is a terminal
(audio time done of total, speed as times real time, time left), silent otherwise. Session words
are never shown, only times.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def mmss(s: float) -> str:
    s = int(max(0.0, s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60:02d}:{s % 60:02d}"


class AudioProgress:
    """A rich progress bar on a terminal (audio time done / total, speed, ETA); silent otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._t0 = 0.0

    def __enter__(self) -> AudioProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.fields[audio]}"), TextColumn("{task.fields[speed]}"),
                TextColumn("{task.fields[eta]}"),
                console=Console(stderr=True), transient=True)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def start(self, label: str, total_s: float) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._t0 = time.monotonic()
        self._task = self._progress.add_task(
            label, total=max(total_s, 0.001), audio=f"00:00 / {mmss(total_s)}", speed="",
            eta="")

    def clear(self) -> None:
        """Remove the current bar (its stage has ended)."""
        if self._progress is not None and self._task is not None:
            self._progress.remove_task(self._task)
        self._task = None

    def update(self, done_s: float, total_s: float) -> None:
        if self._progress is None or self._task is None:
            return
        elapsed = max(time.monotonic() - self._t0, 1e-6)
        speed = done_s / elapsed
        eta = (total_s - done_s) / speed if speed > 0 else 0.0
        self._progress.update(
            self._task, completed=min(done_s, total_s), total=max(total_s, 0.001),
            audio=f"{mmss(done_s)} / {mmss(total_s)} audio",
            speed=f"{speed:.0f}x real time" if done_s > 0 else "",
            eta=f"about {mmss(eta)} left" if done_s > 0 and eta >= 1 else "")

    def note(self, message: str, err: bool = False) -> None:
        if self._progress is not None:
            self._progress.console.print(message, markup=False, highlight=False)
        else:
            typer.echo(message, err=err)
