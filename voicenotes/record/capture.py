"""One recording session: PortAudio calls :meth:`Recorder._callback` with ~100 ms blocks that
go onto the writer's queue; the main thread watches stop and pause requests, signals and the
device, and shows the status line; at the end the journal is marked ``finished``."""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from voicenotes import __version__
from voicenotes.errors import StorageError, VoicenotesError
from voicenotes.record.clock import now_iso
from voicenotes.record.display import Controls, Display, KeyReader, open_keys
from voicenotes.record.journal import (
    JOURNAL_SCHEMA_VERSION,
    STATE_FINISHED,
    STATE_RECORDING,
    Journal,
    recording_lock,
)
from voicenotes.record.wavfile import DEFAULT_SAMPLE_RATE, SAMPLE_WIDTH
from voicenotes.record.writer import Writer
from voicenotes.store import ensure_private_dir, fsync_dir

DEFAULT_MAX_MINUTES = 120.0
DEFAULT_ROLLOVER_SECONDS = 600.0
SYNC_INTERVAL_S = 1.0
BLOCK_SECONDS = 0.1
STALL_SECONDS = 3.0
_STATUS_FLAGS = ("input_overflow", "input_underflow", "output_overflow", "output_underflow",
                 "priming_output")


@dataclass
class RecordOptions:
    out: Path
    device: str | None = None
    max_seconds: float = DEFAULT_MAX_MINUTES * 60
    rollover_seconds: float = DEFAULT_ROLLOVER_SECONDS
    sync_interval: float = SYNC_INTERVAL_S
    samplerate: int = DEFAULT_SAMPLE_RATE


@dataclass
class RecordResult:
    folder: Path
    files: list[Path]
    duration_s: float
    stop_reason: str
    overflows: int
    paused: list[dict[str, float]]
    device_error: str | None = None
    storage_error: str | None = None
    journal: dict[str, Any] = field(default_factory=dict)


def _start_journal(folder: Path, rate: int, channels: int, opts: RecordOptions,
                   dev: dict[str, Any], mode: str) -> Journal:
    journal = Journal(folder, {
        "schema_version": JOURNAL_SCHEMA_VERSION,
        "state": STATE_RECORDING,
        "mode": mode,
        "started_at": now_iso(),
        "ended_at": None,
        "sample_rate": rate, "channels": channels, "sample_width": SAMPLE_WIDTH,
        "encoding": "pcm_s16le",
        "resample_note": None if rate == DEFAULT_SAMPLE_RATE else
        f"recorded at the device's {rate} Hz; the decoder resamples to 16 kHz",
        "device": {k: dev.get(k) for k in ("index", "name", "hostapi",
                                            "default_samplerate", "channels")},
        "consent_file": "consent.json",
        "max_seconds": opts.max_seconds,
        "rollover_seconds": opts.rollover_seconds,
        "sync_interval_s": opts.sync_interval,
        "files": [], "duration_s": 0.0, "overflows": 0, "status_flags": {},
        "paused": [], "last_sync": None, "stop_reason": None, "device_error": None,
        "tool_version": __version__,
    })
    journal.update()  # state=recording is on disk before the first frame
    return journal


def _close_quietly(*actions: Callable[[], Any]) -> None:
    for action in actions:
        try:
            action()
        except Exception:
            pass


class Recorder:
    """One recording session into ``folder`` (which must already hold consent.json)."""

    def __init__(self, folder: Path, options: RecordOptions, *, sd: Any = None,
                 device: dict[str, Any] | None = None,
                 stream_factory: Callable[..., Any] | None = None, mode: str = "session",
                 display_stream: Any = None, controls: Controls | None = None,
                 read_keys: bool = True, stall_seconds: float = STALL_SECONDS):
        self.folder = Path(folder)
        self.read_keys = read_keys
        self.stall_seconds = stall_seconds
        self.options = options
        self.sd = sd
        self.device = device
        self.stream_factory = stream_factory
        self.mode = mode
        self.display_stream = display_stream if display_stream is not None else sys.stderr
        self.controls = controls or Controls()
        self.paused = False
        self.overflows = 0
        self.status_flags: dict[str, int] = {}
        self.peak = 0
        self.last_callback = time.monotonic()
        self.stream_finished = threading.Event()
        self._signal_reason: str | None = None
        self.paused_spans: list[dict[str, Any]] = []
        self._pause_started: float | None = None
        self._started_wall = time.monotonic()
        self._rate = DEFAULT_SAMPLE_RATE

    # PortAudio thread: keep it small
    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        self.last_callback = time.monotonic()
        if status:
            for flag in _STATUS_FLAGS:
                if getattr(status, flag, False):
                    self.status_flags[flag] = self.status_flags.get(flag, 0) + 1
            if getattr(status, "input_overflow", False):
                self.overflows += 1
        try:
            self.peak = max(self.peak, int(abs(indata).max()))
        except (ValueError, TypeError):
            pass
        if not self.paused:
            self.writer.q.put(bytes(indata))

    def _finished_callback(self) -> None:
        self.stream_finished.set()

    def run(self, rate: int, channels: int) -> RecordResult:
        with recording_lock(self.folder):
            return self._run(rate, channels, self.options, self.device or {})

    def _run(self, rate: int, channels: int, opts: RecordOptions,
             dev: dict[str, Any]) -> RecordResult:
        self._started_wall = time.monotonic()
        self._rate = rate
        journal = _start_journal(self.folder, rate, channels, opts, dev, self.mode)
        self.writer = Writer(self.folder, journal, rate, channels,
                             rollover_frames=max(1, int(opts.rollover_seconds * rate)),
                             max_frames=max(1, int(opts.max_seconds * rate)),
                             sync_interval=opts.sync_interval, controls=self.controls)
        self.writer.start()
        factory = self.stream_factory or self.sd.InputStream
        display = Display(self.display_stream)
        stream = None
        keys: KeyReader | None = None
        old_handlers: dict[signal.Signals, Any] = {}
        device_error: str | None = None
        try:
            old_handlers = self._install_signal_handlers()
            stream = self._open_stream(factory, dev, rate, channels)
            if stream is None:
                device_error = "The input device could not be opened."
                self.controls.stop("device error")
            self.last_callback = time.monotonic()
            if self.read_keys and not self.controls.stop_event.is_set():
                keys = open_keys(self.controls)
            device_error = self._watch(stream, keys, journal, display) or device_error
        finally:
            self._shut_down(stream, keys, display, old_handlers)
        return self._finish(journal, device_error)

    # -- signals and the stream ------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        # only sets a flag: taking a lock inside a signal handler can deadlock with the main
        # thread that was interrupted holding it
        self._signal_reason = "stopped by Ctrl-C" if signum == signal.SIGINT else "stop signal"

    def _install_signal_handlers(self) -> dict[signal.Signals, Any]:
        old: dict[signal.Signals, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return old
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                old[sig] = signal.signal(sig, self._on_signal)
            except (ValueError, OSError):
                pass
        return old

    def _open_stream(self, factory: Callable[..., Any], dev: dict[str, Any], rate: int,
                     channels: int) -> Any:
        """The started input stream, or None when the device cannot be opened."""
        try:
            stream = factory(device=dev.get("index"), samplerate=rate, channels=channels,
                             dtype="int16", blocksize=max(1, int(rate * BLOCK_SECONDS)),
                             callback=self._callback,
                             finished_callback=self._finished_callback)
            stream.start()
        except Exception:
            return None
        return stream

    def _shut_down(self, stream: Any, keys: KeyReader | None, display: Display,
                   old_handlers: dict[signal.Signals, Any]) -> None:
        if keys is not None:
            _close_quietly(keys.close)
        if stream is not None:
            _close_quietly(stream.stop)
            _close_quietly(stream.close)
        self.writer.q.put(Writer.STOP)
        self.writer.join()
        display.done()
        for sig, handler in old_handlers.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):
                pass

    # -- the main loop ---------------------------------------------------------------
    def _watch(self, stream: Any, keys: KeyReader | None, journal: Journal,
               display: Display) -> str | None:
        """Poll until a stop is requested; the device error that stopped it, if any."""
        while True:
            if self._signal_reason:
                self.controls.stop(self._signal_reason)
            if self.controls.stop_event.is_set():
                return None
            time.sleep(0.05)
            if keys is not None:
                keys.poll()
            for _ in range(self.controls.take_pause_requests()):
                self._toggle_pause(journal, display)
            problem = self._device_problem(stream)
            if problem:
                self.controls.stop("device error")
                return problem
            level = 20 * math.log10(self.peak / 32768) if self.peak > 0 else -99.0
            self.peak = 0
            display.show(self.writer.total_frames / self._rate, level, self.overflows,
                         self.paused)

    def _device_problem(self, stream: Any) -> str | None:
        if self.stream_finished.is_set() or (stream is not None and not stream.active):
            return "The input device stopped sending sound (was it unplugged?)."
        if time.monotonic() - self.last_callback > self.stall_seconds:
            return (f"The input device sent no sound for "
                    f"{self.stall_seconds:.0f} seconds (was it unplugged?).")
        return None

    def _audio_s(self) -> float:
        return round(self.writer.total_frames / self._rate, 3)

    def _toggle_pause(self, journal: Journal, display: Display) -> None:
        now = time.monotonic() - self._started_wall
        if not self.paused:
            self.paused = True
            self._pause_started = now
            display.message("Paused: nothing is recorded until you resume (press p).")
        else:
            self.paused = False
            self.paused_spans.append({"start_s": round(self._pause_started or now, 3),
                                      "end_s": round(now, 3), "at_audio_s": self._audio_s()})
            self._pause_started = None
            display.message("Resumed.")
        open_span = ([{"start_s": round(self._pause_started, 3), "end_s": None,
                       "at_audio_s": self._audio_s()}]
                     if self._pause_started is not None else [])
        journal.update(paused=self.paused_spans + open_span)

    # -- the end ---------------------------------------------------------------------
    def _finish(self, journal: Journal, device_error: str | None) -> RecordResult:
        end = time.monotonic() - self._started_wall
        spans = self.paused_spans
        if self._pause_started is not None:
            spans.append({"start_s": round(self._pause_started, 3), "end_s": round(end, 3),
                          "at_audio_s": self._audio_s()})
        reason = "device error" if device_error else (self.controls.stop_reason or "stopped")
        duration = self.writer.total_frames / self._rate
        storage_error = str(self.writer.error) if self.writer.error else None
        try:
            journal.update(
                state=STATE_FINISHED, ended_at=now_iso(), stop_reason=reason,
                duration_s=round(duration, 3), wall_duration_s=round(end, 3),
                overflows=self.overflows, status_flags=dict(self.status_flags),
                paused=spans,
                off_record_s=round(sum(p["end_s"] - p["start_s"] for p in spans), 3),
                device_error=device_error, storage_error=storage_error,
                files=self.writer.file_entries())
        except VoicenotesError:
            pass  # the audio is on disk; `voicenotes recover` will finish the journal
        return RecordResult(self.folder, [w.path for w in self.writer.files], duration, reason,
                            self.overflows, spans, device_error=device_error,
                            storage_error=storage_error, journal=journal.snapshot())


def new_session_folder(out: Path) -> Path:
    ensure_private_dir(out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        folder = out / (f"recording-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        except OSError as exc:
            raise StorageError(f"Cannot create a folder in {out}: {exc.strerror or exc}.",
                               hint="Choose another --out folder.") from None
        fsync_dir(out)
        return folder
    raise StorageError(f"Too many recordings started this second in {out}.")
