"""Crash-safe file writing shared by every stage.

Pattern: write a temp file in the target folder with mode 0600, fsync it,
``os.replace`` it onto the final name, fsync the folder. A reader sees the old file or the new
one, never a torn one. Temp files are named ``.tmp-*`` so a later run can sweep them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from voicenotes.errors import StorageError

TMP_PREFIX = ".tmp-"
FILE_MODE = 0o600
DIR_MODE = 0o700


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 for new folders."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    except OSError as exc:
        raise StorageError(f"Cannot create the folder {path}: {exc.strerror or exc}.",
                           hint="Choose another --out folder.") from None
    return path


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically with mode 0600."""
    path = Path(path)
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        _unlink_quietly(tmp)
        if exc.errno == errno.ENOSPC:
            raise StorageError(f"The disk is full: could not write {path.name}.",
                               hint="Free some space and run the command again.") from None
        raise StorageError(f"Could not write {path}: {exc.strerror or exc}.",
                           hint="Check the folder exists and is writable.") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def sweep_temp_files(folder: Path) -> int:
    """Remove ``.tmp-*`` leftovers of interrupted writes in ``folder``; returns how many."""
    n = 0
    for p in Path(folder).glob(TMP_PREFIX + "*"):
        if p.is_file():
            _unlink_quietly(p)
            n += 1
    return n


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _unlink_quietly(p: str | os.PathLike) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass
