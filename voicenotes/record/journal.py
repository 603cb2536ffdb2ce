"""A recording folder's bookkeeping: the journal ``recording.json`` (its states and atomic
rewrites), the names of its audio parts, and the lock a live recorder holds on it."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from voicenotes.errors import StorageError
from voicenotes.store import atomic_write_json

JOURNAL = "recording.json"
LOCK_FILE = ".recording.lock"  # held (flock) while a recorder writes the folder
JOURNAL_SCHEMA_VERSION = 1
FILE_PATTERN = "session-{:04d}.wav"
COMBINED_NAME = "session-all.wav"

STATE_RECORDING = "recording"
STATE_FINISHED = "finished"
STATE_RECOVERED = "recovered"


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


def session_wavs(folder: Path) -> list[Path]:
    """The folder's audio parts (``session-0001.wav``, …) in order."""
    return sorted(p for p in folder.glob("session-[0-9][0-9][0-9][0-9].wav") if p.is_file())


@contextmanager
def recording_lock(folder: Path) -> Iterator[None]:
    """Hold the folder's lock while recording; a second recorder gets a StorageError."""
    lock_fd = os.open(folder / LOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock_fd)
        raise StorageError(
            f"Another voicenotes process is recording into {folder}.") from None
    try:
        yield
    finally:
        os.close(lock_fd)  # releases the lock


def being_recorded(folder: Path) -> bool:
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
