"""The worker processes of a batch.

Each worker is a separate process (``spawn``) that loads the transcription model and the
extraction pipeline once, then runs the files the parent sends it with the same chain as
``voicenotes note``, answering with ``("ready" | "progress" | "done" | "failed" | "fatal", job,
data)`` messages. It ignores Ctrl-C (the parent handles it), dies with its parent, and hands
freed memory back to the system after each file. A worker that dies marks only its file failed.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicenotes.batch.failures import classify

if TYPE_CHECKING:  # pragma: no cover
    from voicenotes.batch.pool import Job

Progress = Callable[[float, float], None]
Runner = Callable[[Path, Path], dict[str, Any]]


# --------------------------------------------------------------------------- process hygiene


def _set_pdeathsig() -> None:
    """Die with the parent (a kill -9 of the parent must not leave a worker writing)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _release_memory() -> None:
    """Hand freed heap memory back to the system after each file (glibc keeps it otherwise,
    and a long batch's worker would creep upwards in steps)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _rss_kb() -> tuple[int, int]:
    rss = hwm = 0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


# --------------------------------------------------------------------------- the job


def build_options(cls: Any, wanted: dict[str, Any]) -> Any:
    """``cls(**wanted)`` with only the fields ``cls`` has and the values that are set."""
    try:
        names = {f.name for f in dataclasses.fields(cls)}
    except TypeError:
        names = set()
    return cls(**{k: v for k, v in wanted.items() if k in names and v is not None})


class _ProgressTranscriber:
    """Wraps a Transcriber so each transcription reports progress to the parent."""

    def __init__(self, inner: Any, report: Progress):
        self._inner = inner
        self._report = report
        self.calls = 0

    def transcribe(self, path: Any, progress: Progress | None = None, **kwargs: Any) -> Any:
        self.calls += 1

        def both(done: float, total: float) -> None:
            self._report(done, total)
            if progress is not None:
                progress(done, total)

        return self._inner.transcribe(path, progress=both, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _make_runner(cfg: dict[str, Any], progress: Progress) -> Runner:
    """Build the per-file job: ``voicenotes.pipeline.run_note`` with one Transcriber per worker.
    Imported here, in the worker process: a batch runs the whole chain for each file."""
    from voicenotes import extract, pipeline, transcribe

    topts = build_options(transcribe.TranscribeOptions, {
        "model": cfg.get("model"), "preset": cfg.get("preset"), "cpu_threads": cfg.get("threads"),
    })
    inner = transcribe.Transcriber(topts)
    inner.load()  # the model is loaded once per worker, before the first job
    transcriber = _ProgressTranscriber(inner, progress)
    nopts = build_options(pipeline.NoteOptions, {
        "template": cfg.get("template"), "mode": cfg.get("mode"), "model": cfg.get("model"),
        "preset": cfg.get("preset"), "cpu_threads": cfg.get("threads"),
        "transcribe": topts, "copy_audio": bool(cfg.get("copy_audio")),
        "speakers": cfg.get("speakers"),
    })
    # Load the extraction pipeline (spaCy, medspaCy, rules) now too, so the worker is fully
    # ready before its first file (a rules problem stops the batch here, once).
    extract.extract_items(extract.transcript_from_turns(
        [{"speaker": "counselor", "text": "Warm-up."}], mode="dictation", session_start=None),
        mode="dictation")

    def run(input_path: Path, tmp_dir: Path) -> dict[str, Any]:
        result = pipeline.run_note(input_path, tmp_dir, nopts, transcriber=transcriber)
        return {"transcriptions": transcriber.calls, "result_type": type(result).__name__}

    return run


# --------------------------------------------------------------------------- the process


def _prepare_process(cfg: dict[str, Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    _set_pdeathsig()
    os.environ.setdefault("OMP_NUM_THREADS", str(cfg.get("threads") or 1))
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.umask(0o077)


def _run_one(runner: Runner, job_id: str, input_path: str, tmp_dir: str) -> tuple:
    """One file: the ``done`` or ``failed`` message for the parent."""
    t0 = time.monotonic()
    try:
        info = runner(Path(input_path), Path(tmp_dir))
        _release_memory()
        rss, hwm = _rss_kb()
        info.update(seconds=time.monotonic() - t0, rss_kb=rss, hwm_kb=hwm)
        return ("done", job_id, info)
    except BaseException as exc:
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            raise
        rec = classify(exc)
        rec["seconds"] = time.monotonic() - t0
        if os.environ.get("VOICENOTES_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        return ("failed", job_id, rec)


def worker_main(conn: Any, cfg: dict[str, Any]) -> None:
    """One worker process: loads the pipeline and the model once, then runs jobs sent by the
    parent until it sends ``None`` or goes away."""
    _prepare_process(cfg)
    current: dict[str, str | None] = {"job": None}

    def send(msg: tuple) -> None:
        try:
            conn.send(msg)
        except (BrokenPipeError, EOFError, OSError):
            os._exit(0)  # the parent is gone

    try:
        runner = _make_runner(cfg, lambda d, t: send(("progress", current["job"], (d, t))))
    except BaseException as exc:
        send(("fatal", None, classify(exc)))
        return
    send(("ready", None, {"pid": os.getpid()}))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        job_id, input_path, tmp_dir = msg
        current["job"] = job_id
        send(_run_one(runner, job_id, input_path, tmp_dir))
        current["job"] = None


# --------------------------------------------------------------------------- the parent's handle


class Worker:
    """The parent's handle on one worker process: its pipe, its slot, the job it holds."""

    def __init__(self, ctx: Any, cfg: dict[str, Any], slot: int):
        self.slot = slot
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=worker_main, args=(child, cfg), daemon=True,
                                name=f"voicenotes-batch-{slot}")
        # The worker starts with Ctrl-C ignored (inherited through exec): the parent alone
        # handles it, so a Ctrl-C during the worker's start-up prints no traceback.
        try:
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread
            previous = None
        try:
            self.proc.start()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        child.close()
        self.ready = False
        self.job: Job | None = None
        self.baseline_kb: int | None = None
        self.retire = False

    def stop(self, *, hard: bool = False) -> None:
        try:
            if not hard and self.proc.is_alive():
                self.conn.send(None)
                self.proc.join(5)
        except (OSError, BrokenPipeError):
            pass
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.close()

    def close(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass
