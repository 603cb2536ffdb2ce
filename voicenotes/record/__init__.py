"""Crash-safe recording from a microphone (reliability.md §1a, §4).

Design:

* PortAudio (``sounddevice``) calls :meth:`Recorder._callback` with ~100 ms blocks of 16-bit PCM;
  the callback only copies the block into a queue (and measures the level).
* A writer thread drains the queue into plain PCM WAV files (``session-0001.wav``, …): every block
  is written straight away (``os.write``, so a killed process loses nothing that reached the
  queue's writer), and every ``sync_interval`` (1 s) the RIFF and data size fields are patched and
  the file is fsync'd, then the journal ``recording.json`` is rewritten atomically with the
  fsync'd offsets. A pulled plug therefore loses at most about one second; ``kill -9`` loses at
  most the blocks still in the queue. Files roll over every ``rollover_seconds`` (10 min).
* The journal says ``recording`` until the recording is finalised, then ``finished``;
  :func:`recover` repairs any folder left in ``recording`` (or any WAV whose header disagrees
  with its length) from the file length, keeping every byte, and marks it ``recovered``.

Nothing here deletes audio, on any path.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import queue
import select
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone
from pathlib import Path
from typing import Any

from voicenotes import __version__
from voicenotes.errors import DeviceError, StorageError, VoicenotesError
from voicenotes.store import (
    atomic_write_json,
    ensure_private_dir,
    fsync_dir,
    sweep_temp_files,
)

JOURNAL = "recording.json"
LOCK_FILE = ".recording.lock"  # held (flock) while a recorder writes the folder
JOURNAL_SCHEMA_VERSION = 1
WAV_HEADER_BYTES = 44
SAMPLE_WIDTH = 2  # int16
DEFAULT_SAMPLE_RATE = 16000
DEFAULT_MAX_MINUTES = 120.0
DEFAULT_ROLLOVER_SECONDS = 600.0
SYNC_INTERVAL_S = 1.0
BLOCK_SECONDS = 0.1
STALL_SECONDS = 3.0
FILE_PATTERN = "session-{:04d}.wav"
COMBINED_NAME = "session-all.wav"

STATE_RECORDING = "recording"
STATE_FINISHED = "finished"
STATE_RECOVERED = "recovered"

_NO_PORTAUDIO = ("No sound input library (PortAudio) was found, so nothing can be recorded. "
                 "Install it with `sudo apt-get install libportaudio2` (Debian/Ubuntu) and try "
                 "again.")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def fmt_duration(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


# --------------------------------------------------------------------------- sounddevice seam


def import_sounddevice():
    """Import sounddevice, turning a missing PortAudio into a plain DeviceError."""
    try:
        import sounddevice as sd
    except OSError:
        raise DeviceError(_NO_PORTAUDIO) from None
    except ImportError:
        raise DeviceError("The sounddevice package is missing, so nothing can be recorded.",
                          hint="Reinstall voicenotes (pip install voicenotes).") from None
    return sd


def list_input_devices(sd=None) -> list[dict[str, Any]]:
    """Input devices as dicts (index, name, hostapi, channels, default_samplerate, default)."""
    sd = sd or import_sounddevice()
    try:
        devices = sd.query_devices()
        default_in = sd.default.device[0]
        hostapis = sd.query_hostapis()
    except Exception:
        raise DeviceError("The sound system could not list the input devices.",
                          hint="Check that a microphone is connected, then run "
                               "`voicenotes devices`.") from None
    out = []
    for d in devices:
        if d.get("max_input_channels", 0) < 1:
            continue
        try:
            api = hostapis[d["hostapi"]]["name"]
        except (IndexError, KeyError, TypeError):
            api = ""
        out.append({
            "index": d["index"], "name": d["name"], "hostapi": api,
            "channels": d["max_input_channels"],
            "default_samplerate": d.get("default_samplerate"),
            "default": d["index"] == default_in,
        })
    return out


def choose_device(device: str | None, sd=None) -> dict[str, Any]:
    """Resolve ``--device`` (an index or part of a name; None = the default input)."""
    devices = list_input_devices(sd)
    if not devices:
        raise DeviceError("No microphone or other sound input was found.",
                          hint="Connect a microphone, then run `voicenotes devices` to check.")
    if device is None or device == "":
        for d in devices:
            if d["default"]:
                return d
        return devices[0]
    if str(device).strip().isdigit():
        idx = int(device)
        for d in devices:
            if d["index"] == idx:
                return d
        raise DeviceError(f"There is no input device number {idx}.",
                          hint="Run `voicenotes devices` to see the numbers.")
    matches = [d for d in devices if str(device).lower() in d["name"].lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DeviceError(f"No input device is named like '{device}'.",
                          hint="Run `voicenotes devices` to see the names.")
    raise DeviceError(f"Several input devices match '{device}'.",
                      hint="Use the device number shown by `voicenotes devices`.")


def pick_format(sd, device: dict[str, Any], want_rate: int = DEFAULT_SAMPLE_RATE) -> tuple[int, int]:
    """(sample rate, channels): 16 kHz mono when the device accepts it, else its own rate."""
    rates = [want_rate]
    dr = device.get("default_samplerate")
    if dr and int(dr) not in rates:
        rates.append(int(dr))
    for channels in (1, min(2, device["channels"])):
        for rate in rates:
            try:
                sd.check_input_settings(device=device["index"], channels=channels,
                                        dtype="int16", samplerate=rate)
                return rate, channels
            except Exception:
                continue
    raise DeviceError(f"The input device '{device['name']}' does not accept 16-bit recording.",
                      hint="Choose another with --device (see `voicenotes devices`).")


# --------------------------------------------------------------------------- preflight


def check_storage(out: Path, max_seconds: float, bytes_per_second: int) -> Path:
    """The output folder (or, if it does not exist yet, its nearest existing parent) must be
    writable and have room for ``max_seconds`` of audio. Nothing is left behind."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise StorageError(f"{out} is a file, not a folder.", hint="Choose another --out folder.")
    probe_dir = out
    while not probe_dir.exists():
        if probe_dir.parent == probe_dir:
            break
        probe_dir = probe_dir.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-probe-", dir=probe_dir)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        raise StorageError(
            f"The folder {probe_dir} cannot be written to ({exc.strerror or exc}), so the "
            "recording cannot be saved.", hint="Choose another --out folder.") from None
    need = int(max_seconds * bytes_per_second) + (1 << 20)
    free = shutil.disk_usage(probe_dir).free
    if free < need:
        raise StorageError(
            f"Not enough free space in {probe_dir} for {max_seconds / 60:.0f} minutes of audio: "
            f"about {need / 1e6:.0f} MB needed, {free / 1e6:.0f} MB free.",
            hint="Free some space, choose another --out folder, or lower --max-minutes.")
    return probe_dir


# --------------------------------------------------------------------------- WAV files


def wav_header(rate: int, channels: int, data_bytes: int, sampwidth: int = SAMPLE_WIDTH) -> bytes:
    block_align = channels * sampwidth
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, channels, rate,
        rate * block_align, block_align, sampwidth * 8, b"data", data_bytes)


def read_header(head: bytes) -> dict[str, int] | None:
    """Parse our fixed 44-byte PCM header; None when it is not one."""
    if len(head) < WAV_HEADER_BYTES:
        return None
    (riff, riff_size, wave_, fmt, fmt_len, tag, channels, rate, _byte_rate, block_align, bits,
     data, data_size) = struct.unpack("<4sI4s4sIHHIIHH4sI", head[:WAV_HEADER_BYTES])
    if (riff, wave_, fmt, data) != (b"RIFF", b"WAVE", b"fmt ", b"data") or fmt_len != 16 \
            or tag != 1 or channels < 1 or rate < 1 or bits % 8:
        return None
    return {"riff_size": riff_size, "channels": channels, "rate": rate,
            "sampwidth": bits // 8, "block_align": block_align, "data_size": data_size}


class CrashSafeWav:
    """A PCM WAV file whose size fields are patched and fsync'd on :meth:`sync`."""

    def __init__(self, path: Path, rate: int, channels: int):
        self.path = Path(path)
        self.rate, self.channels = rate, channels
        self.frame_bytes = channels * SAMPLE_WIDTH
        self.data_bytes = 0
        self.synced_bytes = WAV_HEADER_BYTES  # file offset up to which data is fsync'd
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._write_all(wav_header(rate, channels, 0))
        os.fsync(self.fd)
        fsync_dir(self.path.parent)

    @property
    def frames(self) -> int:
        return self.data_bytes // self.frame_bytes

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def write(self, data: bytes) -> None:
        self._write_all(data)
        self.data_bytes += len(data)

    def sync(self) -> None:
        os.pwrite(self.fd, struct.pack("<I", 36 + self.data_bytes), 4)
        os.pwrite(self.fd, struct.pack("<I", self.data_bytes), 40)
        os.fsync(self.fd)
        self.synced_bytes = WAV_HEADER_BYTES + self.data_bytes

    def close(self) -> None:
        if self.fd < 0:
            return
        try:
            self.sync()
        finally:
            os.close(self.fd)
            self.fd = -1


# --------------------------------------------------------------------------- journal


class Journal:
    """``recording.json``: rewritten atomically; thread-safe."""

    def __init__(self, folder: Path, data: dict[str, Any]):
        self.path = Path(folder) / JOURNAL
        self.data = data
        self.lock = threading.Lock()

    def update(self, **changes: Any) -> None:
        with self.lock:
            self.data.update(changes)
            atomic_write_json(self.path, self.data)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.data))


def read_journal(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(folder) / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- recorder


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


class Controls:
    """Stop / pause requests from keys, lines on stdin, signals or the writer."""

    def __init__(self):
        self.stop_event = threading.Event()
        self.stop_reason: str | None = None
        self.pause_requests = 0
        self._lock = threading.Lock()

    def stop(self, reason: str) -> None:
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self.stop_event.set()

    def toggle_pause(self) -> None:
        with self._lock:
            self.pause_requests += 1

    def take_pause_requests(self) -> int:
        with self._lock:
            n, self.pause_requests = self.pause_requests, 0
            return n


class _TtyKeys:
    """Single keys without Enter (termios cbreak), restored on close."""

    def __init__(self, controls: Controls):
        import termios
        import tty

        self.controls = controls
        self.fd = sys.stdin.fileno()
        self._termios = termios
        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)

    def poll(self) -> None:
        while True:
            r, _, _ = select.select([self.fd], [], [], 0)
            if not r:
                return
            ch = os.read(self.fd, 1)
            if not ch:
                self.controls.stop("input closed")
                return
            if ch in (b"\n", b"\r", b"q", b"s"):
                self.controls.stop("stopped by you")
            elif ch in (b"p", b"P", b" "):
                self.controls.toggle_pause()

    def close(self) -> None:
        self._termios.tcsetattr(self.fd, self._termios.TCSADRAIN, self.saved)


class _LineCommands:
    """When stdin is not a terminal: a line ``p`` pauses/resumes; an empty line, ``q`` or
    ``stop`` stops; end of input stops."""

    def __init__(self, controls: Controls):
        self.controls = controls
        self.thread = threading.Thread(target=self._run, name="voicenotes-stdin", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.controls.stop_event.is_set():
            try:
                line = sys.stdin.readline()
            except (OSError, ValueError):
                line = ""
            if line == "":
                self.controls.stop("input closed")
                return
            cmd = line.strip().lower()
            if cmd in ("p", "pause", "resume"):
                self.controls.toggle_pause()
            elif cmd in ("", "q", "s", "stop"):
                self.controls.stop("stopped by you")
                return

    def poll(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Display:
    def __init__(self, stream, interval_non_tty: float = 30.0):
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = 0.2 if self.tty else interval_non_tty
        self.last = 0.0
        self.width = 0

    @staticmethod
    def meter(db: float, width: int = 20) -> str:
        filled = int(round((min(0.0, max(-60.0, db)) + 60.0) / 60.0 * width))
        return "#" * filled + "-" * (width - filled)

    def show(self, elapsed: float, db: float, overflows: int, paused: bool, force=False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        state = "PAUSED (off-record)" if paused else "REC"
        level = f"{db:5.0f} dB" if db > -90 else "  -- dB"
        if self.tty:
            line = (f"\r{state} {fmt_duration(elapsed)}  [{self.meter(db)}] {level}  "
                    f"overflows: {overflows}   Enter=stop  p=pause/resume")
            pad = max(0, self.width - len(line))
            self.width = len(line)
            self.stream.write(line + " " * pad)
        else:
            self.stream.write(f"{state} {fmt_duration(elapsed)}  level {level.strip()}  "
                              f"overflows: {overflows}\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class _Writer(threading.Thread):
    """Drains the queue into rolling crash-safe WAV files and keeps the journal current."""

    STOP = object()

    def __init__(self, folder: Path, journal: Journal, rate: int, channels: int,
                 rollover_frames: int, max_frames: int, sync_interval: float,
                 controls: Controls):
        super().__init__(name="voicenotes-writer", daemon=True)
        self.folder, self.journal = folder, journal
        self.rate, self.channels = rate, channels
        self.frame_bytes = channels * SAMPLE_WIDTH
        self.rollover_frames, self.max_frames = rollover_frames, max_frames
        self.sync_interval = sync_interval
        self.controls = controls
        self.q: queue.Queue = queue.Queue()
        self.files: list[CrashSafeWav] = []
        self.closed_entries: list[dict[str, Any]] = []
        self.total_frames = 0
        self.error: VoicenotesError | None = None
        self._last_sync = time.monotonic()
        self._lock = threading.Lock()

    # -- helpers ---------------------------------------------------------------------
    @property
    def current(self) -> CrashSafeWav | None:
        return self.files[-1] if self.files else None

    def _entry(self, wav: CrashSafeWav, start_frame: int) -> dict[str, Any]:
        return {"name": wav.path.name, "frames": wav.frames,
                "duration_s": round(wav.frames / self.rate, 3),
                "start_s": round(start_frame / self.rate, 3),
                "synced_bytes": wav.synced_bytes}

    def _file_entries(self) -> list[dict[str, Any]]:
        entries, start = [], 0
        for wav in self.files:
            entries.append(self._entry(wav, start))
            start += wav.frames
        return entries

    def _new_file(self) -> CrashSafeWav:
        wav = CrashSafeWav(self.folder / FILE_PATTERN.format(len(self.files) + 1),
                           self.rate, self.channels)
        self.files.append(wav)
        return wav

    def _sync(self) -> None:
        wav = self.current
        if wav is not None and wav.fd >= 0:
            wav.sync()
        entries = self._file_entries()
        last = entries[-1] if entries else None
        self.journal.update(
            files=entries,
            duration_s=round(self.total_frames / self.rate, 3),
            last_sync={"at": _now_iso(), "file": last["name"] if last else None,
                       "offset_bytes": last["synced_bytes"] if last else None,
                       "audio_s": round(self.total_frames / self.rate, 3)},
        )
        self._last_sync = time.monotonic()

    def _write_block(self, data: bytes) -> None:
        usable = len(data) - len(data) % self.frame_bytes
        frames = usable // self.frame_bytes
        frames = min(frames, self.max_frames - self.total_frames)
        pos = 0
        while frames > 0:
            wav = self.current
            if wav is None or wav.frames >= self.rollover_frames:
                if wav is not None:
                    wav.close()
                wav = self._new_file()
                self._sync()
            n = min(frames, self.rollover_frames - wav.frames)
            wav.write(data[pos:pos + n * self.frame_bytes])
            pos += n * self.frame_bytes
            frames -= n
            self.total_frames += n
        if self.total_frames >= self.max_frames:
            self.controls.stop("time limit reached")

    # -- thread ----------------------------------------------------------------------
    def run(self) -> None:
        try:
            if not self.files:
                self._new_file()
                self._sync()
            while True:
                try:
                    item = self.q.get(timeout=0.1)
                except queue.Empty:
                    item = None
                if item is self.STOP:
                    break
                if item is not None:
                    self._write_block(item)
                if time.monotonic() - self._last_sync >= self.sync_interval:
                    self._sync()
        except VoicenotesError as exc:
            self.error = exc
            self.controls.stop("storage error")
        except OSError as exc:
            self.error = StorageError(
                "The disk is full: the recording stopped." if exc.errno == 28 else
                f"Writing the recording failed ({exc.strerror or exc}): the recording stopped.",
                hint="Free some space or choose another --out folder; the audio recorded until "
                     "then is kept.")
            self.controls.stop("storage error")
        finally:
            self._finish()

    def _finish(self) -> None:
        for wav in self.files:
            try:
                wav.close()
            except OSError:
                pass  # the next `voicenotes recover` repairs the header from the length
        try:
            self._sync()
        except (OSError, VoicenotesError):
            pass


class Recorder:
    """One recording session into ``folder`` (which must already hold consent.json)."""

    def __init__(self, folder: Path, options: RecordOptions, *, sd=None, device=None,
                 stream_factory: Callable[..., Any] | None = None, mode: str = "session",
                 display_stream=None, controls: Controls | None = None,
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
        self.callbacks = 0
        self.callback_error: str | None = None
        self.stream_finished = threading.Event()
        self._signal_reason: str | None = None

    # PortAudio thread: keep it small
    def _callback(self, indata, frames, time_info, status) -> None:
        self.last_callback = time.monotonic()
        self.callbacks += 1
        if status:
            for flag in ("input_overflow", "input_underflow", "output_overflow",
                         "output_underflow", "priming_output"):
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
        opts = self.options
        dev = self.device or {}
        lock_fd = os.open(self.folder / LOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock_fd)
            raise StorageError(f"Another voicenotes process is recording into {self.folder}.")
        try:
            return self._run(rate, channels, opts, dev)
        finally:
            os.close(lock_fd)  # releases the lock

    def _run(self, rate: int, channels: int, opts: RecordOptions,
             dev: dict[str, Any]) -> RecordResult:
        started_wall = time.monotonic()
        journal = Journal(self.folder, {
            "schema_version": JOURNAL_SCHEMA_VERSION,
            "state": STATE_RECORDING,
            "mode": self.mode,
            "started_at": _now_iso(),
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
        self.writer = _Writer(self.folder, journal, rate, channels,
                              rollover_frames=max(1, int(opts.rollover_seconds * rate)),
                              max_frames=max(1, int(opts.max_seconds * rate)),
                              sync_interval=opts.sync_interval, controls=self.controls)
        self.writer.start()

        factory = self.stream_factory or self.sd.InputStream
        stream = None
        device_error: str | None = None
        paused_spans: list[dict[str, float]] = []
        pause_started: float | None = None
        display = _Display(self.display_stream)
        keys = None
        old_handlers: dict[int, Any] = {}
        try:
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    try:
                        # the handler only sets a flag: taking a lock inside a signal handler
                        # can deadlock with the main thread that was interrupted holding it
                        old_handlers[sig] = signal.signal(
                            sig, lambda s, f: setattr(
                                self, "_signal_reason",
                                "stopped by Ctrl-C" if s == signal.SIGINT else "stop signal"))
                    except (ValueError, OSError):
                        pass
            try:
                stream = factory(device=dev.get("index"), samplerate=rate, channels=channels,
                                 dtype="int16", blocksize=max(1, int(rate * BLOCK_SECONDS)),
                                 callback=self._callback,
                                 finished_callback=self._finished_callback)
                stream.start()
            except Exception:
                device_error = "The input device could not be opened."
                self.controls.stop("device error")
            self.last_callback = time.monotonic()
            if self.read_keys and not self.controls.stop_event.is_set():
                try:
                    keys = _TtyKeys(self.controls) if sys.stdin.isatty() else \
                        _LineCommands(self.controls)
                except Exception:
                    keys = None
            while True:
                if self._signal_reason:
                    self.controls.stop(self._signal_reason)
                if self.controls.stop_event.is_set():
                    break
                time.sleep(0.05)
                if keys is not None:
                    keys.poll()
                n = self.controls.take_pause_requests()
                for _ in range(n):
                    now = time.monotonic() - started_wall
                    if not self.paused:
                        self.paused = True
                        pause_started = now
                        self.display_stream.write(("\n" if display.tty else "") +
                                                  "Paused: nothing is recorded until you resume "
                                                  "(press p).\n")
                    else:
                        self.paused = False
                        paused_spans.append({
                            "start_s": round(pause_started or now, 3), "end_s": round(now, 3),
                            "at_audio_s": round(self.writer.total_frames / rate, 3)})
                        pause_started = None
                        self.display_stream.write(("\n" if display.tty else "") + "Resumed.\n")
                    journal.update(paused=paused_spans + (
                        [{"start_s": round(pause_started, 3), "end_s": None,
                          "at_audio_s": round(self.writer.total_frames / rate, 3)}]
                        if pause_started is not None else []))
                if self.stream_finished.is_set() or (stream is not None and not stream.active):
                    device_error = "The input device stopped sending sound (was it unplugged?)."
                    self.controls.stop("device error")
                    break
                if time.monotonic() - self.last_callback > self.stall_seconds:
                    device_error = (f"The input device sent no sound for "
                                    f"{self.stall_seconds:.0f} seconds (was it unplugged?).")
                    self.controls.stop("device error")
                    break
                level = 20 * math.log10(self.peak / 32768) if self.peak > 0 else -99.0
                self.peak = 0
                display.show(self.writer.total_frames / rate, level, self.overflows,
                             self.paused)
        finally:
            if keys is not None:
                try:
                    keys.close()
                except Exception:
                    pass
            if stream is not None:
                try:
                    stream.stop()
                except Exception:
                    pass
                try:
                    stream.close()
                except Exception:
                    pass
            self.writer.q.put(_Writer.STOP)
            self.writer.join()
            display.done()
            for sig, h in old_handlers.items():
                try:
                    signal.signal(sig, h)
                except (ValueError, OSError):
                    pass
        end = time.monotonic() - started_wall
        if pause_started is not None:
            paused_spans.append({"start_s": round(pause_started, 3), "end_s": round(end, 3),
                                 "at_audio_s": round(self.writer.total_frames / rate, 3)})
        reason = self.controls.stop_reason or "stopped"
        if device_error:
            reason = "device error"
        duration = self.writer.total_frames / rate
        files = [w.path for w in self.writer.files]
        final = dict(
            state=STATE_FINISHED, ended_at=_now_iso(), stop_reason=reason,
            duration_s=round(duration, 3), wall_duration_s=round(end, 3),
            overflows=self.overflows, status_flags=dict(self.status_flags),
            paused=paused_spans,
            off_record_s=round(sum(p["end_s"] - p["start_s"] for p in paused_spans), 3),
            device_error=device_error,
            storage_error=str(self.writer.error) if self.writer.error else None,
            files=self.writer._file_entries(),
        )
        try:
            journal.update(**final)
        except VoicenotesError:
            pass  # the audio is on disk; `voicenotes recover` will finish the journal
        return RecordResult(self.folder, files, duration, reason, self.overflows, paused_spans,
                            device_error=device_error,
                            storage_error=str(self.writer.error) if self.writer.error else None,
                            journal=journal.snapshot())


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


# --------------------------------------------------------------------------- recovery


@dataclass
class RecoveredFile:
    name: str
    frames_in_header: int | None
    frames: int
    duration_s: float
    header_rebuilt: bool = False
    partial_frame_bytes: int = 0
    changed: bool = False


@dataclass
class RecoveryReport:
    folder: Path
    previous_state: str | None
    files: list[RecoveredFile]
    duration_s: float
    unconfirmed_s: float = 0.0
    joined: str | None = None

    def message(self) -> str:
        n = len(self.files)
        extra = (f" The last {self.unconfirmed_s:.1f} s were written after the last confirmed "
                 "save; listen to the end before relying on it." if self.unconfirmed_s > 0.05
                 else "")
        joined = f" The parts were joined into {self.joined}." if self.joined else ""
        return (f"Recovered an interrupted recording in {self.folder}: {n} file"
                f"{'s' if n != 1 else ''}, {fmt_duration(self.duration_s)} of audio "
                f"({self.duration_s:.1f} s) kept.{joined}{extra}")


def repair_wav(path: Path, rate: int | None = None, channels: int | None = None) -> RecoveredFile:
    """Set the RIFF and data sizes from the file length; rebuild a torn header from the given
    format. Bytes are never removed: a trailing partial sample frame is left in place, outside
    the data size."""
    path = Path(path)
    with open(path, "r+b") as fh:
        head = fh.read(WAV_HEADER_BYTES)
        info = read_header(head)
        rebuilt = False
        if info is None:
            if not rate or not channels:
                raise StorageError(f"{path.name} has a damaged header and no journal says its "
                                   "format; it was left untouched.")
            info = {"rate": rate, "channels": channels, "sampwidth": SAMPLE_WIDTH,
                    "data_size": None, "riff_size": None}
            rebuilt = True
        size = os.fstat(fh.fileno()).st_size
        frame_bytes = info["channels"] * info["sampwidth"]
        data = max(0, size - WAV_HEADER_BYTES)
        whole = data - data % frame_bytes
        whole = min(whole, 0xFFFFFFFF - 36 - (0xFFFFFFFF - 36) % frame_bytes)
        before = None if info["data_size"] is None else info["data_size"] // frame_bytes
        changed = rebuilt or info["data_size"] != whole or info["riff_size"] != 36 + whole
        if changed:
            if rebuilt:
                fh.seek(0)
                fh.write(wav_header(info["rate"], info["channels"], whole, info["sampwidth"]))
            else:
                fh.seek(4)
                fh.write(struct.pack("<I", 36 + whole))
                fh.seek(40)
                fh.write(struct.pack("<I", whole))
            fh.flush()
            os.fsync(fh.fileno())
    frames = whole // frame_bytes
    return RecoveredFile(path.name, before, frames, round(frames / info["rate"], 3),
                         header_rebuilt=rebuilt, partial_frame_bytes=data - whole,
                         changed=changed)


def _session_wavs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("session-[0-9][0-9][0-9][0-9].wav") if p.is_file())


def _needs_recovery(folder: Path, journal: dict[str, Any] | None) -> bool:
    if journal is None:
        return (folder / JOURNAL).exists() or bool(_session_wavs(folder))
    if journal.get("state") == STATE_RECORDING:
        return True
    for wav in _session_wavs(folder):
        try:
            with open(wav, "rb") as fh:
                info = read_header(fh.read(WAV_HEADER_BYTES))
            size = wav.stat().st_size
        except OSError:
            continue
        if info is None:
            return True
        data = size - WAV_HEADER_BYTES
        frame = info["channels"] * info["sampwidth"]
        if info["data_size"] != data - data % frame:
            return True
    return False


def session_folders(root: Path) -> list[Path]:
    """``root`` itself if it is a recording folder, plus its recording sub-folders."""
    root = Path(root)
    out = []
    if (root / JOURNAL).exists() or _session_wavs(root):
        out.append(root)
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        children = []
    for child in children:
        if (child / JOURNAL).exists() or _session_wavs(child):
            out.append(child)
    return out


def _being_recorded(folder: Path) -> bool:
    """True while a live recorder holds the folder's lock (a killed one holds nothing)."""
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def recover_folder(folder: Path) -> RecoveryReport | None:
    """Repair one recording folder if it was interrupted; None when it needs nothing (or when
    it is being recorded right now)."""
    folder = Path(folder)
    if _being_recorded(folder):
        return None
    journal = read_journal(folder)
    if not _needs_recovery(folder, journal):
        return None
    sweep_temp_files(folder)
    j = journal or {"schema_version": JOURNAL_SCHEMA_VERSION, "journal_rebuilt": True,
                    "tool_version": __version__}
    rate, channels = j.get("sample_rate"), j.get("channels")
    synced = {f.get("name"): f.get("synced_bytes") for f in j.get("files") or []
              if isinstance(f, dict)}
    files: list[RecoveredFile] = []
    entries = []
    start = 0
    unconfirmed = 0.0
    for wav in _session_wavs(folder):
        rf = repair_wav(wav, rate, channels)
        files.append(rf)
        with open(wav, "rb") as fh:
            info = read_header(fh.read(WAV_HEADER_BYTES)) or {}
        r = info.get("rate") or rate or DEFAULT_SAMPLE_RATE
        fb = (info.get("channels") or 1) * (info.get("sampwidth") or SAMPLE_WIDTH)
        rate = rate or r
        sb = synced.get(wav.name)
        if sb is not None and j.get("state") == STATE_RECORDING:
            after = max(0, WAV_HEADER_BYTES + rf.frames * fb - sb)
            unconfirmed += after / fb / r
        entries.append({"name": wav.name, "frames": rf.frames, "duration_s": rf.duration_s,
                        "start_s": round(start / r, 3), "synced_bytes": sb,
                        "header_rebuilt": rf.header_rebuilt,
                        "partial_frame_bytes": rf.partial_frame_bytes})
        start += rf.frames
    duration = sum(f.duration_s for f in files)
    previous = j.get("state")
    j.update(state=STATE_RECOVERED, files=entries, duration_s=round(duration, 3),
             recovered={"at": _now_iso(), "previous_state": previous,
                        "headers_repaired": [f.name for f in files if f.changed],
                        "unconfirmed_tail_s": round(unconfirmed, 3)})
    if j.get("ended_at") is None:
        j["stop_reason"] = j.get("stop_reason") or "interrupted (program stopped unexpectedly)"
    joined = None
    wavs = _session_wavs(folder)
    if len(wavs) > 1:
        try:
            joined = combine_wavs(wavs, folder / COMBINED_NAME).name
            j["joined_file"] = joined
        except StorageError:
            joined = None  # the parts are repaired and kept; joining can be retried
    atomic_write_json(folder / JOURNAL, j)
    return RecoveryReport(folder, previous, files, duration, unconfirmed, joined)


def recover(root: Path) -> list[RecoveryReport]:
    """Repair every interrupted recording in ``root`` (a recordings folder or one recording)."""
    root = Path(root)
    if not root.exists():
        return []
    if not root.is_dir():
        raise StorageError(f"{root} is not a folder.", hint="Give the recordings folder.")
    reports = []
    for folder in session_folders(root):
        rep = recover_folder(folder)
        if rep is not None:
            reports.append(rep)
    return reports


# --------------------------------------------------------------------------- after recording


def combine_wavs(files: list[Path], dest: Path) -> Path:
    """Concatenate rolled-over files (same format) losslessly into one WAV, atomically."""
    files = [Path(f) for f in files]
    infos = []
    for f in files:
        with open(f, "rb") as fh:
            info = read_header(fh.read(WAV_HEADER_BYTES))
        if info is None:
            raise StorageError(f"{f.name} is not a recording made by voicenotes.")
        infos.append(info)
    rate, channels, sw = infos[0]["rate"], infos[0]["channels"], infos[0]["sampwidth"]
    if any((i["rate"], i["channels"], i["sampwidth"]) != (rate, channels, sw) for i in infos):
        raise StorageError("The recording's files have different formats and cannot be joined.")
    total = sum(i["data_size"] for i in infos)
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=dest.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(wav_header(rate, channels, total, sw))
            for f, info in zip(files, infos):
                with open(f, "rb") as fh:
                    fh.seek(WAV_HEADER_BYTES)
                    left = info["data_size"]
                    while left > 0:
                        block = fh.read(min(left, 1 << 20))
                        if not block:
                            break
                        out.write(block)
                        left -= len(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StorageError(f"Could not join the recording's files: {exc.strerror or exc}.",
                           hint="The separate files are kept; run `voicenotes note` on each.") \
            from None
    return dest
