"""Repair after a crash: any recording folder left in ``recording`` (or any WAV whose header
disagrees with its length) gets its sizes set from the file length, keeping every byte, its
parts joined, and its journal marked ``recovered``. Nothing here deletes audio."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from voicenotes import __version__
from voicenotes.errors import StorageError
from voicenotes.record.clock import fmt_duration, now_iso
from voicenotes.record.journal import (
    COMBINED_NAME,
    JOURNAL,
    JOURNAL_SCHEMA_VERSION,
    STATE_RECORDING,
    STATE_RECOVERED,
    being_recorded,
    read_journal,
    session_wavs,
)
from voicenotes.record.wavfile import (
    DEFAULT_SAMPLE_RATE,
    SAMPLE_WIDTH,
    WAV_HEADER_BYTES,
    combine_wavs,
    read_file_header,
    read_header,
    wav_header,
)
from voicenotes.store import atomic_write_json, sweep_temp_files

_MAX_RIFF_DATA = 0xFFFFFFFF - 36  # the largest data size a RIFF size field can describe


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


def _header_or_format(path: Path, head: bytes, rate: int | None,
                      channels: int | None) -> tuple[dict[str, Any], bool]:
    """The parsed header, or (when it is torn) one built from the journal's format."""
    info: dict[str, Any] | None = read_header(head)
    if info is not None:
        return info, False
    if not rate or not channels:
        raise StorageError(f"{path.name} has a damaged header and no journal says its "
                           "format; it was left untouched.")
    return {"rate": rate, "channels": channels, "sampwidth": SAMPLE_WIDTH,
            "data_size": None, "riff_size": None}, True


def _write_sizes(fh: BinaryIO, info: dict[str, Any], data_bytes: int, rebuilt: bool) -> None:
    """Write a whole new header (when it was torn) or just the two size fields, and fsync."""
    if rebuilt:
        fh.seek(0)
        fh.write(wav_header(info["rate"], info["channels"], data_bytes, info["sampwidth"]))
    else:
        fh.seek(4)
        fh.write(struct.pack("<I", 36 + data_bytes))
        fh.seek(40)
        fh.write(struct.pack("<I", data_bytes))
    fh.flush()
    os.fsync(fh.fileno())


def repair_wav(path: Path, rate: int | None = None, channels: int | None = None) -> RecoveredFile:
    """Set the RIFF and data sizes from the file length; rebuild a torn header from the given
    format. Bytes are never removed: a trailing partial sample frame is left in place, outside
    the data size."""
    path = Path(path)
    with open(path, "r+b") as fh:
        info, rebuilt = _header_or_format(path, fh.read(WAV_HEADER_BYTES), rate, channels)
        size = os.fstat(fh.fileno()).st_size
        frame_bytes = info["channels"] * info["sampwidth"]
        data = max(0, size - WAV_HEADER_BYTES)
        whole = data - data % frame_bytes
        whole = min(whole, _MAX_RIFF_DATA - _MAX_RIFF_DATA % frame_bytes)
        before = None if info["data_size"] is None else info["data_size"] // frame_bytes
        changed = rebuilt or info["data_size"] != whole or info["riff_size"] != 36 + whole
        if changed:
            _write_sizes(fh, info, whole, rebuilt)
    frames = whole // frame_bytes
    return RecoveredFile(path.name, before, frames, round(frames / info["rate"], 3),
                         header_rebuilt=rebuilt, partial_frame_bytes=data - whole,
                         changed=changed)


def _header_disagrees(wav: Path) -> bool:
    try:
        info = read_file_header(wav)
        size = wav.stat().st_size
    except OSError:
        return False
    if info is None:
        return True
    data = size - WAV_HEADER_BYTES
    frame = info["channels"] * info["sampwidth"]
    return info["data_size"] != data - data % frame


def _needs_recovery(folder: Path, journal: dict[str, Any] | None) -> bool:
    if journal is None:
        return (folder / JOURNAL).exists() or bool(session_wavs(folder))
    if journal.get("state") == STATE_RECORDING:
        return True
    return any(_header_disagrees(wav) for wav in session_wavs(folder))


def _is_recording_folder(folder: Path) -> bool:
    return (folder / JOURNAL).exists() or bool(session_wavs(folder))


def session_folders(root: Path) -> list[Path]:
    """``root`` itself if it is a recording folder, plus its recording sub-folders."""
    root = Path(root)
    out = [root] if _is_recording_folder(root) else []
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        children = []
    return out + [child for child in children if _is_recording_folder(child)]


def _part_format(wav: Path, rate: int | None) -> tuple[int, int]:
    """A repaired part's sample rate and bytes per frame (the journal's rate if unreadable)."""
    info: dict[str, Any] = read_file_header(wav) or {}
    r = info.get("rate") or rate or DEFAULT_SAMPLE_RATE
    return r, (info.get("channels") or 1) * (info.get("sampwidth") or SAMPLE_WIDTH)


def _repair_parts(folder: Path, j: dict[str, Any]) -> tuple[list[RecoveredFile],
                                                              list[dict[str, Any]], float]:
    """Repair every part; their journal entries and the seconds written after the last fsync."""
    rate, channels = j.get("sample_rate"), j.get("channels")
    synced = {f.get("name"): f.get("synced_bytes") for f in j.get("files") or []
              if isinstance(f, dict)}
    files: list[RecoveredFile] = []
    entries = []
    start = 0
    unconfirmed = 0.0
    for wav in session_wavs(folder):
        rf = repair_wav(wav, rate, channels)
        files.append(rf)
        r, fb = _part_format(wav, rate)
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
    return files, entries, unconfirmed


def _join_parts(folder: Path, j: dict[str, Any]) -> str | None:
    wavs = session_wavs(folder)
    if len(wavs) <= 1:
        return None
    try:
        joined = combine_wavs(wavs, folder / COMBINED_NAME).name
    except StorageError:
        return None  # the parts are repaired and kept; joining can be retried
    j["joined_file"] = joined
    return joined


def recover_folder(folder: Path) -> RecoveryReport | None:
    """Repair one recording folder if it was interrupted; None when it needs nothing (or when
    it is being recorded right now)."""
    folder = Path(folder)
    if being_recorded(folder):
        return None
    journal = read_journal(folder)
    if not _needs_recovery(folder, journal):
        return None
    sweep_temp_files(folder)
    j = journal or {"schema_version": JOURNAL_SCHEMA_VERSION, "journal_rebuilt": True,
                    "tool_version": __version__}
    files, entries, unconfirmed = _repair_parts(folder, j)
    duration = sum(f.duration_s for f in files)
    previous = j.get("state")
    j.update(state=STATE_RECOVERED, files=entries, duration_s=round(duration, 3),
             recovered={"at": now_iso(), "previous_state": previous,
                        "headers_repaired": [f.name for f in files if f.changed],
                        "unconfirmed_tail_s": round(unconfirmed, 3)})
    if j.get("ended_at") is None:
        j["stop_reason"] = j.get("stop_reason") or "interrupted (program stopped unexpectedly)"
    joined = _join_parts(folder, j)
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
