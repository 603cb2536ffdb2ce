"""The worker pool of a batch: hands the queued files to worker processes, turns their answers
into journal states, and stops cleanly on Ctrl-C, disk full or a fatal setup problem.

Disk full stops the batch (the next file would fail too): that file is marked failed with the
reason, other running files go back to pending. A worker whose memory crept up is replaced once
it is idle; one that died is replaced (up to a limit) and only its file is marked failed.
"""

from __future__ import annotations

import multiprocessing
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait as mp_wait
from pathlib import Path
from typing import Any

from voicenotes.batch.failures import classify, fatal_error, worker_crashed
from voicenotes.batch.journal import Journal
from voicenotes.batch.options import BatchOptions, BatchSummary, cpu_cores, job_settings
from voicenotes.batch.outputs import audio_status, check_outputs, install_folder
from voicenotes.batch.worker import Worker
from voicenotes.errors import Interrupted, StorageError, VoicenotesError
from voicenotes.store import TMP_PREFIX, ensure_private_dir
from voicenotes.store.seal import seal_folder

#: Workers that die are replaced at most this many times in one run.
MAX_RESPAWNS = 50
# A worker stopped hard (Ctrl-C, disk full) may hold a library's semaphore; the resource
# tracker then prints a warning meant for developers. Users need not see it.
_QUIET_TRACKER = "ignore::UserWarning:multiprocessing.resource_tracker"

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class Job:
    sha: str
    rel: str
    path: Path
    out_name: str
    expected_s: float | None = None
    tmp: Path | None = None
    started: float = 0.0
    slot: int | None = None


class Pool:
    """Runs ``queue`` on ``opts.jobs`` worker processes, updating ``journal`` and ``summary``."""

    def __init__(self, journal: Journal, opts: BatchOptions, summary: BatchSummary,
                 on_event: Event):
        self.journal = journal
        self.opts = opts
        self.out = Path(opts.out_dir)
        self.summary = summary
        self.on_event = on_event
        self.fatal_error: VoicenotesError | None = None
        self.workers: list[Worker] = []
        self.pending: list[Job] = []
        self.respawns = 0

    # ---------------------------------------------------------------- the loop
    def run(self, queue: list[Job]) -> None:
        s = self.summary
        jobs = max(1, min(self.opts.jobs, len(queue)))
        threads = max(1, (self.opts.cores or cpu_cores()) // jobs)
        self.settings = job_settings(self.opts, threads)
        self.cfg = dict(self.settings)
        self.ctx = multiprocessing.get_context("spawn")
        if _QUIET_TRACKER not in sys.warnoptions:
            sys.warnoptions.append(_QUIET_TRACKER)
        self.pending = list(reversed(queue))  # pop() from the end keeps the sorted order
        try:
            for i in range(jobs):
                self._spawn(i)
            while self._step():
                pass
        except KeyboardInterrupt:
            s.stopped_reason = "interrupted"
            for w in self.workers:
                w.stop(hard=True)
            self._requeue_running()
            s.pending = len(self.pending) + sum(1 for w in self.workers if w.job is not None)
            raise Interrupted(
                "Stopped. Recordings that had finished are kept; run the same command again to "
                "continue where it stopped.") from None
        finally:
            for w in self.workers:
                w.stop(hard=w.job is not None)
            if s.stopped_reason != "interrupted":
                self._requeue_running()
            s.pending = s.pending or len(self.pending)
        if self.fatal_error is not None and (s.stopped_reason or "").startswith("fatal:"):
            raise self.fatal_error

    def _spawn(self, slot: int) -> None:
        self.workers.append(Worker(self.ctx, self.cfg, slot))

    def _more_to_hand_out(self) -> bool:
        return bool(self.pending) and self.summary.stopped_reason is None

    def _step(self) -> bool:
        """Recycle, hand out work, wait for the next message; False when all is done."""
        for w in [w for w in self.workers if w.retire and w.job is None]:
            w.stop()  # its memory crept up: a fresh one takes its place
            self.workers.remove(w)
            self.summary.recycled += 1
            if self._more_to_hand_out():
                self._spawn(w.slot)
        for w in self.workers:
            if w.ready and w.job is None and self._more_to_hand_out():
                self._start(w, self.pending.pop())
        if all(w.job is None for w in self.workers) and (
                not self.pending or self.summary.stopped_reason):
            return False
        self._wait()
        return True

    def _wait(self) -> None:
        conns = [w.conn for w in self.workers] + [w.proc.sentinel for w in self.workers]
        for obj in mp_wait(conns, timeout=1.0):
            w = next((w for w in self.workers if obj is w.conn or obj == w.proc.sentinel), None)
            if w is None:
                continue
            if obj is w.conn and self._receive(w):
                continue
            if self._ended(w):
                break  # the lists changed; wait again

    def _receive(self, w: Worker) -> bool:
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            return False
        if msg is None:
            return False
        self._handle(w, msg)
        return True

    def _ended(self, w: Worker) -> bool:
        """The worker's process ended (or its pipe closed): account for its job, replace it."""
        if w.proc.is_alive():
            w.proc.join(1)
        if w.proc.is_alive():
            return False
        code = w.proc.exitcode
        if w.job is not None:
            job, w.job = w.job, None
            self._fail(job, worker_crashed(code, time.monotonic() - job.started))
        elif not w.ready and self.summary.stopped_reason is None:
            raise VoicenotesError(
                f"The transcription worker could not start (exit code {code}).",
                hint="Run again with VOICENOTES_DEBUG=1 to see details.")
        self.workers.remove(w)
        w.close()
        if self._more_to_hand_out() and self.respawns < MAX_RESPAWNS:
            self.respawns += 1
            self._spawn(w.slot)
        return True

    def _requeue_running(self) -> None:
        for w in self.workers:
            if w.job is not None:
                job, w.job = w.job, None
                if job.tmp is not None:
                    shutil.rmtree(job.tmp, ignore_errors=True)
                try:
                    self.journal.set_pending(job.sha)
                except StorageError:
                    pass  # it stays 'running' and is re-run next time either way

    # ---------------------------------------------------------------- one job
    def _start(self, w: Worker, job: Job) -> None:
        final = self.out / job.out_name
        ensure_private_dir(final.parent)
        job.tmp = final.parent / f"{TMP_PREFIX}{final.name}-{secrets.token_hex(4)}"
        self.journal.mark_running(job.sha, self.settings)
        job.started = time.monotonic()
        job.slot = w.slot
        w.job = job
        w.conn.send((job.sha, str(job.path), str(job.tmp)))
        self.on_event("start", {"slot": w.slot, "job": job.rel, "expected_s": job.expected_s})

    def _handle(self, w: Worker, msg: tuple) -> None:
        kind, job_id, data = msg
        if kind == "ready":
            w.ready = True
            self.on_event("worker_ready", {"slot": w.slot, **data})
            return
        if kind == "fatal":
            self._fatal(data)
            w.ready = False
            return
        job = w.job
        if job is None or job.sha != job_id:
            return
        if kind == "progress":
            done_s, total_s = data if isinstance(data, tuple) else (data, None)
            self.on_event("progress", {"slot": w.slot, "job": job.rel, "done_s": done_s,
                                       "total_s": total_s})
            return
        w.job = None
        if kind == "done":
            self._note_memory(w, int(data.get("rss_kb") or 0))
            self._finish(job, data)
        elif data.get("fatal"):
            self.journal.set_pending(job.sha)
            if job.tmp is not None:
                shutil.rmtree(job.tmp, ignore_errors=True)
            self._fatal(data)
        else:
            self._fail(job, data)

    def _note_memory(self, w: Worker, rss_kb: int) -> None:
        """Mark a worker for replacement once its memory grew past ``recycle_mb``."""
        if w.baseline_kb is None:
            w.baseline_kb = rss_kb
        elif self.opts.recycle_mb and rss_kb - w.baseline_kb > self.opts.recycle_mb * 1024:
            w.retire = True

    def _fatal(self, data: dict[str, Any]) -> None:
        if self.summary.stopped_reason is None:
            self.summary.stopped_reason = "fatal:" + data["error_class"]
            self.fatal_error = fatal_error(data)

    def _finish(self, job: Job, info: dict[str, Any]) -> None:
        s = self.summary
        assert job.tmp is not None
        try:
            outputs = check_outputs(job.tmp)
            partial, decoded, expected = audio_status(job.tmp)
            if self.opts.seal:
                seal_folder(job.tmp)
            install_folder(job.tmp, self.out / job.out_name)
        except (VoicenotesError, OSError) as exc:
            rec = classify(exc)
            rec["seconds"] = info.get("seconds")
            self._fail(job, rec)
            return
        self.journal.mark_done(job.sha, partial_reason=partial, decoded_s=decoded,
                               expected_s=expected if expected is not None else job.expected_s,
                               outputs=outputs, seconds=float(info.get("seconds") or 0.0))
        if partial:
            s.partial += 1
        else:
            s.done += 1
        audio_s = decoded if decoded is not None else (job.expected_s or 0.0)
        s.audio_s_processed += float(audio_s or 0.0)
        self.on_event("finish", {"slot": job.slot, "job": job.rel, "state":
                                 "partial" if partial else "done",
                                 "audio_s": job.expected_s or audio_s or 0.0, "info": info})

    def _fail(self, job: Job, rec: dict[str, Any]) -> None:
        s = self.summary
        if job.tmp is not None:
            shutil.rmtree(job.tmp, ignore_errors=True)  # no partial output, and frees space
        disk_full = bool(rec.get("disk_full"))
        self.journal.mark_failed(job.sha, error_class=rec["error_class"], message=rec["message"],
                                 decoded_s=None, expected_s=job.expected_s, retryable=disk_full,
                                 seconds=rec.get("seconds"))
        s.failed += 1
        s.failures.append((job.rel, rec["error_class"], rec["message"]))
        if disk_full and s.stopped_reason is None:
            s.stopped_reason = "disk_full"
        self.on_event("finish", {"slot": job.slot, "job": job.rel, "state": "failed",
                                 "audio_s": job.expected_s or 0.0})
