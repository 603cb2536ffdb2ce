"""The writer thread: drains the captured blocks into rolling crash-safe WAV files and keeps
the journal's file list and last fsync'd offsets current."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Any

from voicenotes.errors import StorageError, VoicenotesError
from voicenotes.record.clock import now_iso
from voicenotes.record.display import Controls
from voicenotes.record.journal import FILE_PATTERN, Journal
from voicenotes.record.wavfile import SAMPLE_WIDTH, CrashSafeWav

_ENOSPC = 28


class Writer(threading.Thread):
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
        self.total_frames = 0
        self.error: VoicenotesError | None = None
        self._last_sync = time.monotonic()

    # -- helpers ---------------------------------------------------------------------
    @property
    def current(self) -> CrashSafeWav | None:
        return self.files[-1] if self.files else None

    def _entry(self, wav: CrashSafeWav, start_frame: int) -> dict[str, Any]:
        return {"name": wav.path.name, "frames": wav.frames,
                "duration_s": round(wav.frames / self.rate, 3),
                "start_s": round(start_frame / self.rate, 3),
                "synced_bytes": wav.synced_bytes}

    def file_entries(self) -> list[dict[str, Any]]:
        """The journal's ``files`` list: one entry per part, with its start in the session."""
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
        entries = self.file_entries()
        last = entries[-1] if entries else None
        self.journal.update(
            files=entries,
            duration_s=round(self.total_frames / self.rate, 3),
            last_sync={"at": now_iso(), "file": last["name"] if last else None,
                       "offset_bytes": last["synced_bytes"] if last else None,
                       "audio_s": round(self.total_frames / self.rate, 3)},
        )
        self._last_sync = time.monotonic()

    def _file_with_room(self) -> CrashSafeWav:
        wav = self.current
        if wav is None or wav.frames >= self.rollover_frames:
            if wav is not None:
                wav.close()
            wav = self._new_file()
            self._sync()
        return wav

    def _write_block(self, data: bytes) -> None:
        usable = len(data) - len(data) % self.frame_bytes
        frames = usable // self.frame_bytes
        frames = min(frames, self.max_frames - self.total_frames)
        pos = 0
        while frames > 0:
            wav = self._file_with_room()
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
            self._drain()
        except VoicenotesError as exc:
            self.error = exc
            self.controls.stop("storage error")
        except OSError as exc:
            self.error = StorageError(
                "The disk is full: the recording stopped." if exc.errno == _ENOSPC else
                f"Writing the recording failed ({exc.strerror or exc}): the recording stopped.",
                hint="Free some space or choose another --out folder; the audio recorded until "
                     "then is kept.")
            self.controls.stop("storage error")
        finally:
            self._finish()

    def _drain(self) -> None:
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
