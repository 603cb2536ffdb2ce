"""One batch run from start to end: checks, lock, plan, pool, report.

``voicenotes batch DIR --out OUT`` processes every audio/video file under DIR with the same chain
as ``voicenotes note``, one output folder per recording. Each input's job is keyed by its content
hash, so a finished file is skipped because its *content* is done, never because an output
exists; the same content under two names is processed once (the second name is recorded as
``duplicate_of``). A ``running`` job found at start (the previous run was killed) is re-run;
``failed`` jobs are re-run only with ``--retry-failed`` — except "disk full" failures, which are
the disk's fault, not the file's, and are retried automatically. Nothing from a session's words
goes into the journal, messages or the progress display.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voicenotes.batch.failures import classify
from voicenotes.batch.inputs import discover, expected_duration
from voicenotes.batch.journal import JOURNAL_NAME, Journal
from voicenotes.batch.options import BatchOptions, BatchSummary, job_settings
from voicenotes.batch.outputs import REQUIRED_OUTPUTS, choose_out_name, lock, sweep_tmp
from voicenotes.batch.pool import Event, Job, Pool
from voicenotes.batch.worker import build_options
from voicenotes.errors import InputError, Interrupted, StorageError, UsageError, VoicenotesError
from voicenotes.store import ensure_private_dir, seal, sha256_file

#: Settings whose change since a recording was finished is counted (it is not redone).
_COMPARED_SETTINGS = ("model", "mode", "template")

FileRow = tuple[str, str, int, int, str | None]  # rel, sha256, size, mtime_ns, duplicate_of


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _term_as_interrupt() -> Any:
    """SIGTERM (e.g. a service manager, `kill`) stops the batch as cleanly as Ctrl-C."""
    try:
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        return None


def _source_dirs(rows: list[FileRow]) -> set[str]:
    """Every folder (relative, posix) that holds an input: no output folder may take its name."""
    dirs = set()
    for rel, *_ in rows:
        parts = Path(rel).parts[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return dirs


class _OutNames:
    """Which output folder names are taken, by which content (from the journal)."""

    def __init__(self, journal: Journal, current: set[str]):
        self.journal = journal
        self.current = current
        self.owners = journal.out_name_owners()

    def is_free(self, name: str) -> bool:
        owner = self.owners.get(name)
        if owner is None:
            return True
        if owner not in self.current:
            # The content that had this name is gone from the folder (the file was edited or
            # replaced): the new content takes the name; its old outputs get replaced.
            self.journal.delete_job(owner)
            del self.owners[name]
            return True
        return False

    def claim(self, name: str, sha: str) -> None:
        self.owners[name] = sha


class BatchRunner:
    """Runs one batch. ``on_event(kind, data)`` receives progress events (for the CLI display and
    the benchmark): ``plan``, ``start``, ``progress``, ``finish``, ``worker_ready``."""

    def __init__(self, src: Path, options: BatchOptions, on_event: Event | None = None):
        self.src = Path(src)
        self.opts = options
        self.out = Path(options.out_dir)
        self.on_event: Event = on_event or (lambda kind, data: None)
        self.summary = BatchSummary()
        self._inputs_for_report: list[FileRow] = []

    # ---------------------------------------------------------------- setup
    def _settings(self, threads: int) -> dict[str, Any]:
        return job_settings(self.opts, threads)

    def _check_arguments(self) -> None:
        if not self.src.is_dir():
            if self.src.exists():
                raise InputError(f"{self.src} is not a folder.",
                                 hint="Give the folder that holds the recordings, or use "
                                      "`voicenotes note FILE` for one file.")
            raise InputError(f"The folder {self.src} does not exist.",
                             hint="Check the path and run the command again.")
        if self.opts.jobs < 1:
            raise InputError("--jobs must be 1 or more.")
        # Settings that would fail every recording fail once, here, before anything is written.
        if self.opts.template:
            from voicenotes.note.templates import load_template

            load_template(self.opts.template)
        from voicenotes.transcribe import TranscribeOptions

        build_options(TranscribeOptions, {"model": self.opts.model, "preset": self.opts.preset})
        src_r, out_r = self.src.resolve(), self.out.resolve()
        if src_r == out_r or out_r in src_r.parents:
            raise UsageError("The --out folder must not be the recordings folder or contain it.",
                             hint="Choose a separate --out folder, e.g. beside the recordings.")

    def run(self) -> BatchSummary:
        t_start = time.monotonic()
        self._check_arguments()
        ensure_private_dir(self.out)
        held = lock(self.out)
        journal = None
        previous_term = _term_as_interrupt()
        try:
            sweep_tmp(self.out)
            journal = Journal(self.out / JOURNAL_NAME)
            try:
                self._run(journal)
            except Interrupted:
                try:
                    self._write_report(journal)  # the report covers what had finished
                except (VoicenotesError, OSError, KeyboardInterrupt):
                    pass
                raise
            self._write_report(journal)
        finally:
            if previous_term is not None:
                signal.signal(signal.SIGTERM, previous_term)
            self.summary.wall_s = time.monotonic() - t_start
            if journal is not None:
                journal.close()
            try:
                held.close()
            except OSError:
                pass
        return self.summary

    def _write_report(self, journal: Journal) -> None:
        from voicenotes.batch import report

        try:
            self.summary.report_paths = report.write_reports(
                journal, self.src, self.out, include_quotes=self.opts.include_quotes,
                inputs=self._inputs_for_report)
        except StorageError:
            if self.summary.stopped_reason is None:
                raise

    # ---------------------------------------------------------------- the plan
    def _hash_inputs(self, journal: Journal, inputs: list[Path]) -> dict[str, tuple[str, Path]]:
        """Hash every input (the journal's cached hash where size and mtime match), record the
        files, and return {sha256: (rel, path)} of the first name of each content."""
        s = self.summary
        first_of: dict[str, tuple[str, Path]] = {}
        rows: list[FileRow] = []
        for p in inputs:
            rel = p.relative_to(self.src).as_posix()
            try:
                st = p.stat()
                sha = journal.cached_hash(rel, st.st_size, st.st_mtime_ns) or sha256_file(p)
            except OSError as exc:
                raise InputError(f"Cannot read {rel}: {exc.strerror or exc}.",
                                 hint="Check the file's permissions.") from None
            dup = None
            if sha in first_of:
                dup = first_of[sha][0]
                s.duplicates += 1
            else:
                first_of[sha] = (rel, p)
            rows.append((rel, sha, st.st_size, st.st_mtime_ns, dup))
        journal.record_files(rows)
        s.unique = len(first_of)
        self._inputs_for_report = rows
        return first_of

    def _wants_run(self, journal: Journal, row: sqlite3.Row) -> bool:
        """Whether a known job is run again; counts the ones that are not."""
        s = self.summary
        state = row["state"]
        if state in ("done", "partial") and not all(
                seal.exists(self.out / row["out_name"] / n) for n in REQUIRED_OUTPUTS):
            state = "missing"  # its folder was moved or deleted since: make it again
            s.remade += 1
        if state in ("done", "partial"):
            s.skipped += 1
            prev = json.loads(row["settings"] or "{}")
            if any(prev.get(k) != v for k, v in self._settings(0).items()
                   if k in _COMPARED_SETTINGS and v is not None):
                s.settings_changed += 1
            return False
        if state == "failed" and not (self.opts.retry_failed or row["retryable"]):
            s.skipped_failed += 1
            return False
        if state != "pending":
            journal.set_pending(row["sha256"])  # running (killed earlier) or retried failure
        return True

    def _plan(self, journal: Journal) -> list[Job]:
        inputs = discover(self.src, self.out)
        if not inputs:
            raise InputError(f"No audio or video files were found in {self.src}.",
                             hint="Check the folder; recognised types include .wav, .flac, .mp3, "
                                  ".m4a, .ogg, .mp4.")
        self.summary.inputs = len(inputs)
        self.on_event("hashing", {"files": len(inputs)})
        first_of = self._hash_inputs(journal, inputs)
        names = _OutNames(journal, set(first_of))
        source_dirs = _source_dirs(self._inputs_for_report)
        todo: list[Job] = []
        for sha, (rel, path) in first_of.items():
            row = journal.job(sha)
            if row is None:
                out_name = choose_out_name(Path(rel), sha, names.is_free, source_dirs)
                names.claim(out_name, sha)
                journal.add_job(sha, rel, out_name)
                row = journal.job(sha)
                assert row is not None
            elif row["rel_path"] != rel:
                journal.set_rel(sha, rel)
            if self._wants_run(journal, row):
                todo.append(Job(sha=sha, rel=rel, path=path, out_name=row["out_name"]))
        todo.sort(key=lambda j: j.rel)
        return todo

    # ---------------------------------------------------------------- the run
    def _preflight(self, journal: Journal, todo: list[Job]) -> list[Job]:
        """The model must be there before any worker starts (one clear message); durations for
        the overall progress; files that are not audio at all are failed here."""
        from voicenotes.models import resolve_model
        from voicenotes.transcribe import TranscribeOptions

        topts = build_options(TranscribeOptions, {"model": self.opts.model,
                                                  "preset": self.opts.preset})
        resolve_model(topts.model_spec)
        s = self.summary
        ready: list[Job] = []
        for job in todo:
            expected, err = expected_duration(job.path)
            job.expected_s = expected
            if err is None:
                ready.append(job)
                continue
            rec = classify(err)
            journal.mark_failed(job.sha, error_class=rec["error_class"], message=rec["message"],
                                decoded_s=None, expected_s=None, retryable=False, seconds=0.0)
            s.failed += 1
            s.failures.append((job.rel, rec["error_class"], rec["message"]))
            self.on_event("finish", {"job": job.rel, "state": "failed", "audio_s": 0.0})
        return ready

    def _run(self, journal: Journal) -> None:
        self._inputs_for_report = []
        todo = self._plan(journal)
        s = self.summary
        if not todo:
            self.on_event("plan", {"todo": 0, "total_s": 0.0, "summary": s})
            return
        ready = self._preflight(journal, todo)
        total_s = sum(j.expected_s or 0.0 for j in ready)
        self.on_event("plan", {"todo": len(ready), "total_s": total_s, "summary": s,
                               "failed_early": len(todo) - len(ready)})
        if ready:
            Pool(journal, self.opts, s, self.on_event).run(ready)


def run_batch(src: Path, options: BatchOptions,
              on_event: Callable[[str, dict[str, Any]], None] | None = None) -> BatchSummary:
    """Process every recording under ``src`` into ``options.out_dir`` (see the module doc)."""
    return BatchRunner(src, options, on_event).run()
