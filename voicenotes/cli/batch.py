"""``voicenotes batch``: a whole folder of recordings, resumable, with a supervision report."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voicenotes.cli.options import (
    MaybePreset,
    ModelOption,
    ModeOption,
    OutDir,
    SpeakersOption,
    TemplateOption,
)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def _hours(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class _Display:
    """Progress on stderr (rich) when it is a terminal; silent otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.progress: Progress | None = None
        self.overall: TaskID | None = None
        self.slots: dict[int, Any] = {}
        self.total_files = 0
        self.files_done = 0
        self.audio_total = 0.0
        self.audio_done = 0.0
        self.current: dict[int, float] = {}
        self.t0 = time.monotonic()

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if kind == "hashing":
            Console(stderr=True).print(f"Checking {data['files']} file(s)…")
            return
        if kind == "plan":
            self.total_files = data["todo"]
            self.audio_total = data["total_s"]
            if not self.total_files:
                return
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True)
            self.progress.start()
            self.overall = self.progress.add_task(
                "All files", total=max(self.audio_total, 1e-6),
                info=f"0/{self.total_files} files · loading the speech and language models…")
            return
        if self.progress is None:
            return
        if kind == "worker_ready":
            self._update_overall()
        elif kind == "start":
            slot = data["slot"]
            if slot in self.slots:
                self.progress.remove_task(self.slots.pop(slot))
            name = data["job"]
            if len(name) > 40:
                name = "…" + name[-39:]
            self.slots[slot] = self.progress.add_task(
                f"  {name}", total=max(data.get("expected_s") or 1.0, 1e-6), info="")
            self.current[slot] = 0.0
        elif kind == "progress":
            slot = data["slot"]
            if slot in self.slots:
                done = float(data["done_s"] or 0.0)
                self.progress.update(self.slots[slot], completed=done,
                                     total=max(float(data.get("total_s") or done), 1e-6))
                self.current[slot] = done
                self._update_overall()
        elif kind == "finish":
            self.files_done += 1
            self.audio_done += float(data.get("audio_s") or 0.0)
            slot = data.get("slot")
            if slot in self.slots:
                self.progress.remove_task(self.slots.pop(slot))
            self.current.pop(slot, None)
            self._update_overall()

    def _info(self) -> str:
        return (f"{self.files_done}/{self.total_files} files · "
                f"{_hours(self.audio_done + sum(self.current.values()))} of "
                f"{_hours(self.audio_total)} audio")

    def _update_overall(self) -> None:
        if self.progress is None or self.overall is None:
            return
        done = min(self.audio_done + sum(self.current.values()), self.audio_total)
        self.progress.update(self.overall, completed=done, info=self._info())

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _print_summary(summary, out_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title="Batch summary", show_header=True, header_style="bold")
    table.add_column("result")
    table.add_column("files", justify="right")
    table.add_row("done", str(summary.done))
    table.add_row("partial (audio shorter than the file says)", str(summary.partial))
    table.add_row("failed", str(summary.failed))
    table.add_row("skipped (finished in an earlier run)", str(summary.skipped))
    if summary.skipped_failed:
        table.add_row("skipped (failed earlier; use --retry-failed)", str(summary.skipped_failed))
    if summary.duplicates:
        table.add_row("duplicates (same audio under another name)", str(summary.duplicates))
    if summary.pending:
        table.add_row("not processed yet (run the same command again)", str(summary.pending))
    console.print(table)
    for rel, _cls, msg in summary.failures[:20]:
        console.print(f"  failed: {rel} — {msg}", markup=False)
    if len(summary.failures) > 20:
        console.print(f"  … and {len(summary.failures) - 20} more (see report.csv)")
    if summary.remade:
        console.print(f"Note: {summary.remade} recording(s) finished earlier had no output "
                      "folder any more and were processed again.")
    if summary.recycled:
        console.print(f"({summary.recycled} worker(s) were restarted to keep memory in check.)")
    if summary.settings_changed:
        console.print(f"Note: {summary.settings_changed} recording(s) were finished earlier with "
                      "other settings and were kept. Use a new --out folder to redo them.")
    for p in summary.report_paths:
        console.print(f"Report: {p}", markup=False)
    if summary.audio_s_processed and summary.wall_s:
        console.print(f"Transcribed {_hours(summary.audio_s_processed)} of audio in "
                      f"{_hours(summary.wall_s)}.")


def batch(
    folder: Annotated[Path, typer.Argument(metavar="FOLDER",
                                           help="Folder of recordings (searched recursively).",
                                           show_default=False)],
    out: OutDir,
    template: TemplateOption = None,
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, max=16, help="Recordings processed at "
                             "once; the CPU cores are split between them."),
    model: ModelOption = None,
    mode: ModeOption = None,
    speakers: SpeakersOption = None,
    preset: MaybePreset = None,
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Also re-run recordings that "
                                      "failed in an earlier run."),
    copy_audio: bool = typer.Option(False, "--copy-audio", help="Copy each recording into its "
                                    "note folder (by default the review page plays the original "
                                    "file, which must then stay where it is)."),
    include_quotes: bool = typer.Option(False, "--include-quotes", help="Put the risk quotes "
                                        "(session words) into the report. Off by default."),
    seal: bool = typer.Option(False, "--seal", help="Seal each recording's note folder (every "
                              "file, audio included, encrypted to this installation's key; see "
                              "voicenotes seal) before it is marked done. report.csv and "
                              "report.html stay readable: they hold no session words, but the "
                              "quotes --include-quotes puts in them are not sealed."),
) -> None:
    """Process every recording in a folder: one note folder per recording, a journal that lets
    the same command resume after a stop or crash, and a supervision report (report.csv and
    report.html) for the whole folder. The notes, the journal and the report go in --out; run
    the same command again to resume."""
    from voicenotes.batch import BatchOptions
    from voicenotes.errors import Interrupted, StorageError, UsageError

    if mode is not None and mode not in ("dictation", "session"):
        raise UsageError(f"Unknown mode '{mode}'.", hint="Use --mode dictation or --mode session.")
    if speakers is not None:  # a bad spec or a missing install stops here, before any work
        from voicenotes.speakers import check_available

        check_available(speakers)
    if seal:  # no key: say so before any work, not after
        from voicenotes.store.keys import load_identity

        load_identity()
    display = _Display(sys.stderr.isatty())
    opts = BatchOptions(out_dir=out, template=template, jobs=jobs, model=model, mode=mode,
                        speakers=speakers,
                        retry_failed=retry_failed, include_quotes=include_quotes, preset=preset,
                        copy_audio=copy_audio, seal=seal)
    from voicenotes.batch import BatchRunner

    runner = BatchRunner(folder, opts, on_event=display)
    try:
        summary = runner.run()
    except Interrupted:
        display.close()
        _print_summary(runner.summary, out)
        raise
    finally:
        display.close()
    _print_summary(summary, out)
    if summary.stopped_reason == "disk_full":
        raise StorageError(
            f"The disk holding {out} is full, so the batch stopped. The recording being "
            "written is marked failed; finished recordings are kept.",
            hint="Free some disk space and run the same command again.")
    failed = summary.failed + summary.skipped_failed
    if failed:
        from voicenotes.errors import InputError

        raise InputError(f"{failed} of {summary.unique} recording(s) could not be processed; "
                         "the others are done.",
                         hint=f"See the failed rows in {out / 'report.csv'}.")


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
