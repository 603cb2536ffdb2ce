"""Folder runs: discovery, a durable journal, worker processes, resume and failure isolation.

``voicenotes batch DIR --out OUT`` processes every audio/video file under DIR with the same chain
as ``voicenotes note`` (:func:`voicenotes.pipeline.run_note`), one output folder per recording.

Reliability rules (shared/design/reliability.md §1b, §1c, §4):

* The journal is SQLite with ``PRAGMA synchronous=FULL`` (every commit is fsync'd) in the out
  folder. Only the parent process writes it. Each input's job is keyed by its content hash, so a
  finished file is skipped because its *content* is done, never because an output exists; the same
  content under two names is processed once (the second name is recorded as ``duplicate_of``).
* States: ``pending``, ``running``, ``done``, ``partial`` (done, but the audio is shorter than its
  container), ``failed`` (exception class, plain message, decoded vs expected duration).
  A ``running`` job found at start (the previous run was killed) is re-run; ``failed`` jobs are
  re-run only with ``--retry-failed`` — except "disk full" failures, which are the disk's fault, not
  the file's, and are retried automatically.
* A job's outputs are built in ``.tmp-<name>-<token>/`` beside the final folder, checked, hashed,
  then the folder is renamed onto its final name and the parent folder fsync'd, *then* the journal
  says ``done``. A kill at any point leaves either no final folder or a complete one; ``.tmp-*``
  leftovers are swept at the next start.
* Workers are separate processes (``spawn``), each loading the model once; ``--jobs N`` splits the
  CPU cores (threads per worker = cores // N). A worker that dies marks only its file failed.
* Disk full stops the batch cleanly (the next file would fail too): that file is marked failed with
  the reason, other running files go back to pending, and the command exits with code 7.
* Nothing from a session's words goes into the journal, messages or the progress display.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import errno
import fcntl
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait as mp_wait
from pathlib import Path
from typing import Any

from voicenotes.errors import (
    DependencyError,
    InputError,
    Interrupted,
    ModelError,
    RulesError,
    StorageError,
    UsageError,
    VoicenotesError,
)
from voicenotes.store import TMP_PREFIX, ensure_private_dir, fsync_dir, sha256_file

JOURNAL_NAME = "batch-journal.sqlite"
LOCK_NAME = ".batch.lock"
REPORT_CSV = "report.csv"
REPORT_HTML = "report.html"
REQUIRED_OUTPUTS = ("transcript.json", "items.json", "note.json", "note.md", "review.html")
JSON_OUTPUTS = ("transcript.json", "items.json", "note.json")

AUDIO_EXTENSIONS = frozenset(
    [".wav", ".wave", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wma", ".aif", ".aiff", ".aifc", ".amr", ".caf", ".mka", ".weba", ".webm", ".mp4", ".m4v", ".mov", ".mkv", ".avi", ".wmv", ".mpg", ".mpeg", ".3gp", ".3g2", ".ts", ".mts"]
)

STATES = ("pending", "running", "done", "partial", "failed")


# --------------------------------------------------------------------------- options / results


def _env_float(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


@dataclass
class BatchOptions:
    out_dir: Path
    template: str | None = None
    jobs: int = 1
    model: str | None = None
    mode: str | None = None
    speakers: str | None = None   # None: auto, unseparated (and said so) without the models
    retry_failed: bool = False
    include_quotes: bool = False
    preset: str | None = None
    copy_audio: bool = False      # False: review pages play the original file (relative link)
    progress: bool | None = None  # None: only when stderr is a terminal
    #: A worker whose memory grew by more than this since its first file is replaced by a fresh
    #: one after its current file (the transcription stack's native allocations creep upward
    #: in ~26 MB steps over hundreds of files; see scripts/bench_batch.py). 0 turns it off.
    recycle_mb: float = field(default_factory=lambda: _env_float("VOICENOTES_BATCH_RECYCLE_MB",
                                                                 100.0))
    cores: int | None = None      # None: the CPUs this process may use


@dataclass
class BatchSummary:
    inputs: int = 0
    unique: int = 0
    duplicates: int = 0
    done: int = 0
    partial: int = 0
    failed: int = 0
    skipped: int = 0             # finished in an earlier run
    skipped_failed: int = 0      # failed earlier, not retried (no --retry-failed)
    pending: int = 0             # left for the next run (stopped early)
    stopped_reason: str | None = None
    audio_s_processed: float = 0.0
    wall_s: float = 0.0
    report_paths: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # rel, class, message
    settings_changed: int = 0
    remade: int = 0              # finished earlier, but the output folder had gone
    recycled: int = 0            # workers replaced because their memory had grown


# --------------------------------------------------------------------------- discovery


def discover(src: Path, out_dir: Path | None = None) -> list[Path]:
    """Audio/video files under ``src`` (recursive), sorted by relative path, skipping non-regular
    files, hidden ``.tmp-*`` leftovers and everything under ``out_dir``."""
    src = Path(src)
    out_res = Path(out_dir).resolve() if out_dir is not None else None
    found: list[Path] = []
    try:
        from voicenotes.audio import find_inputs  # helper B1's discovery, when present
    except ImportError:
        find_inputs = None
    if find_inputs is not None:
        try:
            candidates = list(find_inputs([src], outputs_to_skip=[out_dir] if out_dir else []))
        except VoicenotesError:
            raise
        except Exception:
            candidates = _walk(src)
    else:
        candidates = _walk(src)
    seen: set[str] = set()
    for p in candidates:
        p = Path(p)
        try:
            rel = p.relative_to(src)
        except ValueError:
            continue
        if any(part.startswith(TMP_PREFIX) for part in rel.parts):
            continue
        if out_res is not None:
            try:
                p.resolve().relative_to(out_res)
                continue
            except ValueError:
                pass
            except OSError:
                continue
        try:
            st = p.stat()
        except OSError:
            continue
        import stat as _stat

        if not _stat.S_ISREG(st.st_mode) or p.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        key = rel.as_posix()
        if key in seen:
            continue
        seen.add(key)
        found.append(p)
    found.sort(key=lambda q: q.relative_to(src).as_posix())
    return _drop_joined_parts(found)


_PART_RE = re.compile(r"^session-\d{4}\.wav$", re.IGNORECASE)
JOINED_NAME = "session-all.wav"


def _drop_joined_parts(paths: list[Path]) -> list[Path]:
    """In a ``voicenotes record`` folder (it holds ``recording.json``) whose parts were joined
    into ``session-all.wav``, the whole session is that file: its ``session-NNNN.wav`` parts are
    not separate recordings and are left out (they stay on disk)."""
    joined = {p.parent for p in paths if p.name.lower() == JOINED_NAME
              and (p.parent / "recording.json").is_file()}
    if not joined:
        return paths
    return [p for p in paths if not (p.parent in joined and _PART_RE.match(p.name))]


def _walk(src: Path) -> list[Path]:
    out: list[Path] = []
    for root, dirs, files in os.walk(src, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(TMP_PREFIX))
        for name in sorted(files):
            if Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                out.append(Path(root) / name)
    return out


# --------------------------------------------------------------------------- journal


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files(
    rel_path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    duplicate_of TEXT,
    last_seen TEXT
);
CREATE TABLE IF NOT EXISTS jobs(
    sha256 TEXT PRIMARY KEY,
    rel_path TEXT NOT NULL,
    out_name TEXT UNIQUE NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    partial_reason TEXT,
    decoded_s REAL,
    expected_s REAL,
    error_class TEXT,
    error_message TEXT,
    retryable INTEGER NOT NULL DEFAULT 0,
    outputs TEXT,
    settings TEXT,
    started_at TEXT,
    finished_at TEXT,
    seconds REAL
);
"""


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Journal:
    """The batch journal. Every statement is its own fsync'd transaction (synchronous=FULL)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=DELETE")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
            os.chmod(self.path, 0o600)
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"The batch journal {self.path} cannot be opened ({_sqlite_reason(exc)}).",
                hint="Free some disk space, or use a new --out folder.") from None

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass

    def _exec(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            if "full" in str(exc).lower():
                raise DiskFull(f"The disk is full: the batch journal {self.path.name} could not "
                               "be updated.") from None
            raise StorageError(f"The batch journal could not be updated ({_sqlite_reason(exc)}).",
                               hint="Check the --out folder is writable.") from None

    # -- meta
    def get_meta(self, key: str) -> str | None:
        row = self._exec("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._exec("INSERT INTO meta(key, value) VALUES(?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    # -- files
    def cached_hash(self, rel: str, size: int, mtime_ns: int) -> str | None:
        row = self._exec("SELECT sha256 FROM files WHERE rel_path=? AND size=? AND mtime_ns=?",
                         (rel, size, mtime_ns)).fetchone()
        return row[0] if row else None

    def record_files(self, rows: list[tuple[str, str, int, int, str | None]]) -> None:
        now = _now()
        self._exec("BEGIN IMMEDIATE")
        try:
            for rel, sha, size, mtime_ns, dup in rows:
                self.db.execute(
                    "INSERT INTO files(rel_path, sha256, size, mtime_ns, duplicate_of, last_seen) "
                    "VALUES(?,?,?,?,?,?) ON CONFLICT(rel_path) DO UPDATE SET sha256=excluded.sha256,"
                    " size=excluded.size, mtime_ns=excluded.mtime_ns, "
                    "duplicate_of=excluded.duplicate_of, last_seen=excluded.last_seen",
                    (rel, sha, size, mtime_ns, dup, now))
            self._exec("COMMIT")
        except BaseException:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise

    # -- jobs
    def job(self, sha: str) -> sqlite3.Row | None:
        return self._exec("SELECT * FROM jobs WHERE sha256=?", (sha,)).fetchone()

    def jobs(self) -> list[sqlite3.Row]:
        return self._exec("SELECT * FROM jobs").fetchall()

    def out_name_owners(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self._exec("SELECT out_name, sha256 FROM jobs")}

    def delete_job(self, sha: str) -> None:
        self._exec("DELETE FROM jobs WHERE sha256=?", (sha,))

    def add_job(self, sha: str, rel: str, out_name: str) -> None:
        self._exec("INSERT INTO jobs(sha256, rel_path, out_name, state) VALUES(?,?,?,'pending')",
                   (sha, rel, out_name))

    def set_rel(self, sha: str, rel: str) -> None:
        self._exec("UPDATE jobs SET rel_path=? WHERE sha256=?", (rel, sha))

    def set_pending(self, sha: str) -> None:
        self._exec("UPDATE jobs SET state='pending' WHERE sha256=?", (sha,))

    def mark_running(self, sha: str, settings: dict) -> None:
        self._exec("UPDATE jobs SET state='running', attempts=attempts+1, started_at=?, settings=?,"
                   " finished_at=NULL WHERE sha256=?", (_now(), json.dumps(settings), sha))

    def mark_done(self, sha: str, *, partial_reason: str | None, decoded_s: float | None,
                  expected_s: float | None, outputs: dict[str, str], seconds: float) -> None:
        state = "partial" if partial_reason else "done"
        self._exec("UPDATE jobs SET state=?, partial_reason=?, decoded_s=?, expected_s=?, "
                   "outputs=?, error_class=NULL, error_message=NULL, retryable=0, finished_at=?, "
                   "seconds=? WHERE sha256=?",
                   (state, partial_reason, decoded_s, expected_s, json.dumps(outputs, sort_keys=True),
                    _now(), seconds, sha))

    def mark_failed(self, sha: str, *, error_class: str, message: str, decoded_s: float | None,
                    expected_s: float | None, retryable: bool, seconds: float | None) -> None:
        self._exec("UPDATE jobs SET state='failed', error_class=?, error_message=?, decoded_s=?, "
                   "expected_s=?, retryable=?, outputs=NULL, finished_at=?, seconds=? "
                   "WHERE sha256=?",
                   (error_class, message, decoded_s, expected_s, int(retryable), _now(), seconds,
                    sha))

    def total_attempts(self) -> int:
        return int(self._exec("SELECT COALESCE(SUM(attempts), 0) FROM jobs").fetchone()[0])


def _sqlite_reason(exc: Exception) -> str:
    return str(exc).split("\n")[0][:120]


class DiskFull(StorageError):
    """The disk holding the out folder is full (ENOSPC)."""

    def __init__(self, message: str):
        super().__init__(message, hint="Free some disk space and run the same command again; "
                                       "finished recordings are kept and skipped.")


# --------------------------------------------------------------------------- the worker side


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


def _fields(cls) -> set[str]:
    try:
        return {f.name for f in dataclasses.fields(cls)}
    except TypeError:
        return set()


def _build_options(cls, wanted: dict[str, Any]):
    names = _fields(cls)
    return cls(**{k: v for k, v in wanted.items() if k in names and v is not None})


class _ProgressTranscriber:
    """Wraps a Transcriber so each transcription reports progress to the parent."""

    def __init__(self, inner, report: Callable[[float, float], None]):
        self._inner = inner
        self._report = report
        self.calls = 0

    def transcribe(self, path, progress=None, **kwargs):
        self.calls += 1

        def both(done: float, total: float) -> None:
            self._report(done, total)
            if progress is not None:
                progress(done, total)

        return self._inner.transcribe(path, progress=both, **kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _classify(exc: BaseException) -> dict[str, Any]:
    """A failure record without session content: class name, a plain message, and whether it is
    the disk's fault (retry later) or fatal for the whole batch (model/dependency missing)."""
    disk_full = isinstance(exc, DiskFull) or (
        isinstance(exc, OSError) and exc.errno == errno.ENOSPC)
    if isinstance(exc, StorageError) and "disk is full" in str(exc).lower():
        disk_full = True
    try:
        from voicenotes.errors import DiskFullError  # type: ignore[attr-defined]

        disk_full = disk_full or isinstance(exc, DiskFullError)
    except ImportError:
        pass
    if isinstance(exc, VoicenotesError):
        message = exc.message
    elif isinstance(exc, OSError):
        message = f"{exc.strerror or 'input/output error'} (errno {exc.errno})"
    else:
        # Library exceptions (PyAV, ctranslate2, ...) can echo input; keep only a generic line.
        message = "The file could not be processed (unexpected problem in the decoder or model)."
    if disk_full:
        message = "The disk is full: the outputs for this recording could not be written."
    fatal = isinstance(exc, (ModelError, DependencyError, ImportError, RulesError))
    if isinstance(exc, ImportError):
        message = (f"A part of voicenotes could not be loaded ({type(exc).__name__}), so no "
                   "recording can be processed.")
    return {"error_class": "DiskFull" if disk_full else type(exc).__name__,
            "message": message[:500], "disk_full": disk_full, "fatal": fatal,
            "exit_code": getattr(exc, "exit_code", 1)}


def _worker_main(conn, cfg: dict[str, Any]) -> None:
    """One worker process: loads the pipeline and the model once, then runs jobs sent by the
    parent, answering with ("progress" | "done" | "failed", ...) messages."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    _set_pdeathsig()
    threads = str(cfg.get("threads") or 1)
    os.environ.setdefault("OMP_NUM_THREADS", threads)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.umask(0o077)
    current = {"job": None}

    def send(msg) -> None:
        try:
            conn.send(msg)
        except (BrokenPipeError, EOFError, OSError):
            os._exit(0)  # the parent is gone

    try:
        runner = _make_runner(cfg, lambda d, t: send(("progress", current["job"], (d, t))))
    except BaseException as exc:
        send(("fatal", None, _classify(exc)))
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
        t0 = time.monotonic()
        try:
            info = runner(Path(input_path), Path(tmp_dir))
            _release_memory()
            rss, hwm = _rss_kb()
            info.update(seconds=time.monotonic() - t0, rss_kb=rss, hwm_kb=hwm)
            send(("done", job_id, info))
        except BaseException as exc:
            if isinstance(exc, (SystemExit, KeyboardInterrupt)):
                raise
            rec = _classify(exc)
            rec["seconds"] = time.monotonic() - t0
            if os.environ.get("VOICENOTES_DEBUG") == "1":
                import traceback

                traceback.print_exc()
            send(("failed", job_id, rec))
        current["job"] = None


def _make_runner(cfg: dict[str, Any], progress: Callable[[float, float], None]):
    """Build the per-file job: ``voicenotes.pipeline.run_note`` with one Transcriber per worker."""
    from voicenotes import pipeline, transcribe

    topts = _build_options(transcribe.TranscribeOptions, {
        "model": cfg.get("model"), "preset": cfg.get("preset"), "cpu_threads": cfg.get("threads"),
    })
    inner = transcribe.Transcriber(topts)
    inner.load()  # the model is loaded once per worker, before the first job
    transcriber = _ProgressTranscriber(inner, progress)
    nopts_wanted = {
        "template": cfg.get("template"), "mode": cfg.get("mode"), "model": cfg.get("model"),
        "preset": cfg.get("preset"), "cpu_threads": cfg.get("threads"),
        "transcribe": topts, "copy_audio": bool(cfg.get("copy_audio")),
        "speakers": cfg.get("speakers"),
    }
    nopts = _build_options(pipeline.NoteOptions, nopts_wanted)
    # Load the extraction pipeline (spaCy, medspaCy, rules) now too, so the worker is fully
    # ready before its first file (a rules problem stops the batch here, once).
    from voicenotes import extract

    extract.extract_items(extract.transcript_from_turns(
        [{"speaker": "counselor", "text": "Warm-up."}], mode="dictation", session_start=None),
        mode="dictation")

    def run(input_path: Path, tmp_dir: Path) -> dict[str, Any]:
        result = pipeline.run_note(input_path, tmp_dir, nopts, transcriber=transcriber)
        return {"transcriptions": transcriber.calls, "result_type": type(result).__name__}

    return run


# --------------------------------------------------------------------------- the parent side


@dataclass
class _Job:
    sha: str
    rel: str
    path: Path
    out_name: str
    expected_s: float | None = None
    tmp: Path | None = None
    started: float = 0.0
    slot: int | None = None


class _Worker:
    def __init__(self, ctx, cfg: dict[str, Any], slot: int):
        self.slot = slot
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, cfg), daemon=True,
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
        self.job: _Job | None = None
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
        try:
            self.conn.close()
        except OSError:
            pass


def cpu_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _lock(out_dir: Path):
    fh = open(out_dir / LOCK_NAME, "a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise StorageError(f"Another voicenotes batch is already writing to {out_dir}.",
                           hint="Wait for it to finish, or choose another --out folder.") from None
    return fh


def sweep_tmp(out_dir: Path) -> int:
    """Remove every ``.tmp-*`` file or folder under ``out_dir`` (leftovers of a killed run)."""
    n = 0
    for root, dirs, files in os.walk(out_dir):
        for d in list(dirs):
            if d.startswith(TMP_PREFIX):
                shutil.rmtree(Path(root) / d, ignore_errors=True)
                dirs.remove(d)
                n += 1
        for f in files:
            if f.startswith(TMP_PREFIX):
                try:
                    os.unlink(Path(root) / f)
                    n += 1
                except OSError:
                    pass
    return n


def _choose_out_name(rel: Path, sha: str, is_free: Callable[[str], bool],
                     source_dirs: set[str]) -> str:
    parent = rel.parent.as_posix()
    prefix = "" if parent == "." else parent + "/"
    candidates = [prefix + rel.stem, prefix + rel.name.replace(".", "_"),
                  prefix + f"{rel.stem}-{sha[:8]}"]
    for c in candidates:
        if c not in source_dirs and not Path(c).name.startswith(".") \
                and c not in (REPORT_CSV, REPORT_HTML, JOURNAL_NAME) and is_free(c):
            return c
    return prefix + f"recording-{sha[:16]}"


def _probe(path: Path) -> tuple[float | None, BaseException | None]:
    """Expected duration in seconds from the container (None if unknown), or the AudioError that
    says the file is not usable audio."""
    try:
        from voicenotes.audio import probe
    except ImportError:
        probe = None
    if probe is not None:
        try:
            info = probe(path, check_channels_s=None)
        except InputError as exc:
            return None, exc
        except Exception:
            return None, None
        d = info.container_duration_s or info.duration_s
        return (float(d) if d else None), None
    try:
        import av

        with av.open(str(path)) as c:
            if not c.streams.audio:
                return None, None
            if c.duration:
                return c.duration / 1_000_000, None
            s = c.streams.audio[0]
            if s.duration and s.time_base:
                return float(s.duration * s.time_base), None
    except Exception:
        return None, None
    return None, None


def _check_outputs(folder: Path) -> dict[str, str]:
    """Every required output is there and every JSON parses; returns {file: sha256}."""
    missing = [n for n in REQUIRED_OUTPUTS if not (folder / n).is_file()]
    if missing:
        raise StorageError(f"The note stage did not write {', '.join(missing)}.")
    for n in JSON_OUTPUTS:
        try:
            json.loads((folder / n).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise StorageError(f"The note stage wrote an unreadable {n}.") from None
    hashes = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            hashes[p.relative_to(folder).as_posix()] = sha256_file(p)
    return hashes


def _audio_status(folder: Path) -> tuple[str | None, float | None, float | None]:
    """(partial reason or None, decoded s, container s) from the written transcript."""
    try:
        d = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None, None
    audio = d.get("audio") or {}
    flags = d.get("flags") or []
    decoded = audio.get("duration_s")
    expected = audio.get("container_duration_s")
    if audio.get("partial") or "partial" in flags:
        reason = audio.get("partial_reason") or "the audio is shorter than its container"
        return reason, decoded, expected
    return None, decoded, expected


def _install_folder(tmp: Path, final: Path) -> None:
    """Rename the finished temp folder onto its final name; fsync the parent. An older folder of
    the same name (a run killed after its rename, before its journal commit) is moved aside first
    and removed after, so a complete folder is always what sits at the final name."""
    fsync_dir(tmp)
    old = None
    if final.exists():
        old = final.parent / f"{TMP_PREFIX}old-{final.name}-{secrets.token_hex(4)}"
        os.rename(final, old)
    os.rename(tmp, final)
    fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
        fsync_dir(final.parent)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _term_as_interrupt():
    """SIGTERM (e.g. a service manager, `kill`) stops the batch as cleanly as Ctrl-C."""
    try:
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        return None


class BatchRunner:
    """Runs one batch. ``on_event(kind, data)`` receives progress events (for the CLI display and
    the benchmark): ``plan``, ``start``, ``progress``, ``finish``, ``worker_ready``."""

    def __init__(self, src: Path, options: BatchOptions,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None):
        self.src = Path(src)
        self.opts = options
        self.out = Path(options.out_dir)
        self.on_event = on_event or (lambda kind, data: None)
        self.summary = BatchSummary()

    # ---------------------------------------------------------------- setup
    def _settings(self, threads: int) -> dict[str, Any]:
        return {"model": self.opts.model, "mode": self.opts.mode, "template": self.opts.template,
                "preset": self.opts.preset, "threads": threads, "jobs": self.opts.jobs,
                "copy_audio": self.opts.copy_audio, "speakers": self.opts.speakers}

    def run(self) -> BatchSummary:
        t_start = time.monotonic()
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

        _build_options(TranscribeOptions, {"model": self.opts.model, "preset": self.opts.preset})
        src_r, out_r = self.src.resolve(), self.out.resolve()
        if src_r == out_r or out_r in src_r.parents:
            raise UsageError("The --out folder must not be the recordings folder or contain it.",
                             hint="Choose a separate --out folder, e.g. beside the recordings.")
        ensure_private_dir(self.out)
        lock = _lock(self.out)
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
                lock.close()
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
    def _plan(self, journal: Journal) -> list[_Job]:
        inputs = discover(self.src, self.out)
        if not inputs:
            raise InputError(f"No audio or video files were found in {self.src}.",
                             hint="Check the folder; recognised types include .wav, .flac, .mp3, "
                                  ".m4a, .ogg, .mp4.")
        s = self.summary
        s.inputs = len(inputs)
        self.on_event("hashing", {"files": len(inputs)})
        first_of: dict[str, tuple[str, Path]] = {}
        rows = []
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

        owners = journal.out_name_owners()
        current = set(first_of)

        def is_free(name: str) -> bool:
            owner = owners.get(name)
            if owner is None:
                return True
            if owner not in current:
                # The content that had this name is gone from the folder (the file was edited or
                # replaced): the new content takes the name; its old outputs get replaced.
                journal.delete_job(owner)
                del owners[name]
                return True
            return False

        source_dirs = set()
        for rel, *_ in rows:
            parts = Path(rel).parts[:-1]
            for i in range(1, len(parts) + 1):
                source_dirs.add("/".join(parts[:i]))
        todo: list[_Job] = []
        for sha, (rel, path) in first_of.items():
            row = journal.job(sha)
            if row is None:
                out_name = _choose_out_name(Path(rel), sha, is_free, source_dirs)
                owners[out_name] = sha
                journal.add_job(sha, rel, out_name)
                row = journal.job(sha)
            elif row["rel_path"] != rel:
                journal.set_rel(sha, rel)
            state = row["state"]
            if state in ("done", "partial") and not all(
                    (self.out / row["out_name"] / n).is_file() for n in REQUIRED_OUTPUTS):
                state = "missing"  # its folder was moved or deleted since: make it again
                s.remade += 1
            if state in ("done", "partial"):
                s.skipped += 1
                prev = json.loads(row["settings"] or "{}")
                if any(prev.get(k) != v for k, v in self._settings(0).items()
                       if k in ("model", "mode", "template") and v is not None):
                    s.settings_changed += 1
                continue
            if state == "failed" and not (self.opts.retry_failed or row["retryable"]):
                s.skipped_failed += 1
                continue
            if state != "pending":
                journal.set_pending(sha)  # running (killed earlier) or retried failure
            todo.append(_Job(sha=sha, rel=rel, path=path, out_name=row["out_name"]))
        todo.sort(key=lambda j: j.rel)
        return todo

    # ---------------------------------------------------------------- the run
    def _run(self, journal: Journal) -> None:
        self._inputs_for_report = []
        todo = self._plan(journal)
        s = self.summary
        if not todo:
            self.on_event("plan", {"todo": 0, "total_s": 0.0, "summary": s})
            return
        # Pre-flight: the model must be there before any worker starts (one clear message).
        from voicenotes.models import resolve_model
        from voicenotes.transcribe import TranscribeOptions

        topts = _build_options(TranscribeOptions, {"model": self.opts.model,
                                                   "preset": self.opts.preset})
        resolve_model(topts.model_spec)
        # Pre-flight: durations for the overall progress, and files that are not audio at all.
        ready: list[_Job] = []
        for job in todo:
            expected, err = _probe(job.path)
            job.expected_s = expected
            if err is not None:
                rec = _classify(err)
                journal.mark_failed(job.sha, error_class=rec["error_class"],
                                    message=rec["message"], decoded_s=None, expected_s=None,
                                    retryable=False, seconds=0.0)
                s.failed += 1
                s.failures.append((job.rel, rec["error_class"], rec["message"]))
                self.on_event("finish", {"job": job.rel, "state": "failed", "audio_s": 0.0})
                continue
            ready.append(job)
        total_s = sum(j.expected_s or 0.0 for j in ready)
        self.on_event("plan", {"todo": len(ready), "total_s": total_s, "summary": s,
                               "failed_early": len(todo) - len(ready)})
        if ready:
            self._pool(journal, ready)

    def _pool(self, journal: Journal, queue: list[_Job]) -> None:
        s = self.summary
        cores = self.opts.cores or cpu_cores()
        jobs = max(1, min(self.opts.jobs, len(queue)))
        threads = max(1, cores // jobs)
        settings = self._settings(threads)
        cfg = dict(settings)
        ctx = multiprocessing.get_context("spawn")
        # A worker stopped hard (Ctrl-C, disk full) may hold a library's semaphore; the resource
        # tracker then prints a warning meant for developers. Users need not see it.
        _quiet = "ignore::UserWarning:multiprocessing.resource_tracker"
        if _quiet not in sys.warnoptions:
            sys.warnoptions.append(_quiet)
        workers: list[_Worker] = []
        pending = list(queue)
        pending.reverse()  # pop() from the end keeps the sorted order
        respawns = 0
        try:
            for i in range(jobs):
                workers.append(_Worker(ctx, cfg, i))
            while True:
                # replace workers whose memory crept up, once they are idle
                for w in [w for w in workers if w.retire and w.job is None]:
                    w.stop()
                    workers.remove(w)
                    self.summary.recycled += 1
                    if pending and s.stopped_reason is None:
                        workers.append(_Worker(ctx, cfg, w.slot))
                # hand out work
                for w in workers:
                    if w.ready and w.job is None and pending and s.stopped_reason is None:
                        job = pending.pop()
                        self._start(journal, w, job, settings)
                if all(w.job is None for w in workers) and (not pending or s.stopped_reason):
                    break
                conns = [w.conn for w in workers] + [w.proc.sentinel for w in workers]
                for obj in mp_wait(conns, timeout=1.0):
                    w = next((w for w in workers if obj is w.conn or obj == w.proc.sentinel), None)
                    if w is None:
                        continue
                    if obj is w.conn:
                        try:
                            msg = w.conn.recv()
                        except (EOFError, OSError):
                            msg = None
                        if msg is not None:
                            self._handle(journal, w, msg)
                            continue
                    # the worker process ended
                    if w.proc.is_alive():
                        w.proc.join(1)
                    if not w.proc.is_alive():
                        code = w.proc.exitcode
                        if w.job is not None:
                            job = w.job
                            w.job = None
                            why = (f"it was killed by signal {-code}, e.g. when the computer "
                                   "ran out of memory" if code is not None and code < 0
                                   else f"exit code {code}")
                            self._fail(journal, job, {
                                "error_class": "WorkerCrashed",
                                "message": "The transcription process stopped unexpectedly "
                                           f"({why}) while working on this file. Run again "
                                           "with --retry-failed to try it once more.",
                                "disk_full": False, "fatal": False,
                                "seconds": time.monotonic() - job.started})
                        elif not w.ready and s.stopped_reason is None:
                            raise VoicenotesError(
                                "The transcription worker could not start "
                                f"(exit code {code}).",
                                hint="Run again with VOICENOTES_DEBUG=1 to see details.")
                        workers.remove(w)
                        try:
                            w.conn.close()
                        except OSError:
                            pass
                        if pending and s.stopped_reason is None and respawns < 50:
                            respawns += 1
                            workers.append(_Worker(ctx, cfg, w.slot))
                        break  # the lists changed; wait again
        except KeyboardInterrupt:
            s.stopped_reason = "interrupted"
            for w in workers:
                w.stop(hard=True)
            self._requeue_running(journal, workers)
            s.pending = len(pending) + sum(1 for w in workers if w.job is not None)
            raise Interrupted(
                "Stopped. Recordings that had finished are kept; run the same command again to "
                "continue where it stopped.") from None
        finally:
            for w in workers:
                w.stop(hard=w.job is not None)
            if s.stopped_reason != "interrupted":
                self._requeue_running(journal, workers)
            s.pending = s.pending or len(pending)
        if s.stopped_reason == "disk_full":
            return
        if s.stopped_reason and s.stopped_reason.startswith("fatal:"):
            raise self._fatal_error

    def _requeue_running(self, journal: Journal, workers: list[_Worker]) -> None:
        for w in workers:
            if w.job is not None:
                job = w.job
                w.job = None
                if job.tmp is not None:
                    shutil.rmtree(job.tmp, ignore_errors=True)
                try:
                    journal.set_pending(job.sha)
                except StorageError:
                    pass  # it stays 'running' and is re-run next time either way

    def _start(self, journal: Journal, w: _Worker, job: _Job, settings: dict) -> None:
        final = self.out / job.out_name
        ensure_private_dir(final.parent)
        job.tmp = final.parent / f"{TMP_PREFIX}{final.name}-{secrets.token_hex(4)}"
        journal.mark_running(job.sha, settings)
        job.started = time.monotonic()
        job.slot = w.slot
        w.job = job
        w.conn.send((job.sha, str(job.path), str(job.tmp)))
        self.on_event("start", {"slot": w.slot, "job": job.rel, "expected_s": job.expected_s})

    def _handle(self, journal: Journal, w: _Worker, msg) -> None:
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
            rss = int(data.get("rss_kb") or 0)
            if w.baseline_kb is None:
                w.baseline_kb = rss
            elif self.opts.recycle_mb and rss - w.baseline_kb > self.opts.recycle_mb * 1024:
                w.retire = True
            self._finish(journal, job, data)
        else:
            if data.get("fatal"):
                journal.set_pending(job.sha)
                shutil.rmtree(job.tmp, ignore_errors=True)
                self._fatal(data)
                return
            self._fail(journal, job, data)

    def _fatal(self, data: dict) -> None:
        s = self.summary
        if s.stopped_reason is None:
            s.stopped_reason = "fatal:" + data["error_class"]
            cls = {"ModelError": ModelError, "DependencyError": DependencyError,
                   "RulesError": RulesError,
                   "ImportError": DependencyError, "ModuleNotFoundError": DependencyError}.get(
                data["error_class"], VoicenotesError)
            hint = ("Reinstall voicenotes (scripts/demo sets everything up)."
                    if cls is DependencyError else None)
            self._fatal_error = cls(data["message"], hint=hint)

    def _finish(self, journal: Journal, job: _Job, info: dict) -> None:
        s = self.summary
        final = self.out / job.out_name
        try:
            outputs = _check_outputs(job.tmp)
            partial, decoded, expected = _audio_status(job.tmp)
            _install_folder(job.tmp, final)
        except (StorageError, OSError) as exc:
            rec = _classify(exc)
            rec["seconds"] = info.get("seconds")
            self._fail(journal, job, rec)
            return
        journal.mark_done(job.sha, partial_reason=partial, decoded_s=decoded,
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

    def _fail(self, journal: Journal, job: _Job, rec: dict) -> None:
        s = self.summary
        if job.tmp is not None:
            shutil.rmtree(job.tmp, ignore_errors=True)  # no partial output, and frees space
        disk_full = bool(rec.get("disk_full"))
        journal.mark_failed(job.sha, error_class=rec["error_class"], message=rec["message"],
                            decoded_s=None, expected_s=job.expected_s, retryable=disk_full,
                            seconds=rec.get("seconds"))
        s.failed += 1
        s.failures.append((job.rel, rec["error_class"], rec["message"]))
        if disk_full and s.stopped_reason is None:
            s.stopped_reason = "disk_full"
        self.on_event("finish", {"slot": job.slot, "job": job.rel, "state": "failed",
                                 "audio_s": job.expected_s or 0.0})


def run_batch(src: Path, options: BatchOptions,
              on_event: Callable[[str, dict[str, Any]], None] | None = None) -> BatchSummary:
    """Process every recording under ``src`` into ``options.out_dir`` (see the module doc)."""
    return BatchRunner(src, options, on_event).run()


def content_key(path: Path) -> str:
    """The key a recording is journaled under: the sha256 of its bytes."""
    return sha256_file(path)


__all__ = [
    "BatchOptions", "BatchSummary", "BatchRunner", "Journal", "JOURNAL_NAME", "REPORT_CSV",
    "REPORT_HTML", "discover", "run_batch", "sweep_tmp", "cpu_cores", "content_key",
]

