"""The append-only, hash-chained audit log of a session folder (``audit.jsonl``).

One JSON object a line; each carries ``prev``, the SHA-256 of the line before it (``None`` on the
first line), so an edited or deleted line breaks the chain :func:`verify_audit` checks. Lines are
written with a full-write loop (``os.write`` may write less than asked) and fsync'd before the
call returns. Events hold ids, types, decisions and hashes only, never session words.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicenotes.errors import StorageError

AUDIT_FILE = "audit.jsonl"
_LOCK = threading.Lock()  # one writer at a time inside a process (the review app is threaded)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _last_line_hash(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 65536))
            lines = [ln for ln in fh.read().splitlines() if ln.strip()]
    except FileNotFoundError:
        return None
    return hashlib.sha256(lines[-1]).hexdigest() if lines else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def append_audit(folder: Path, events: list[dict[str, Any]]) -> Path:
    """Append ``events`` to ``folder/audit.jsonl`` (created 0600), chained and fsync'd."""
    path = Path(folder) / AUDIT_FILE
    with _LOCK:
        prev = _last_line_hash(path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"Could not open the audit log {path}: {exc.strerror or exc}.",
                               hint="Check the session folder is writable.") from None
        try:
            buf = b""
            for ev in events:
                line = json.dumps({"time": _now(), **ev, "prev": prev}, sort_keys=True,
                                  ensure_ascii=True).encode()
                buf += line + b"\n"
                prev = hashlib.sha256(line).hexdigest()
            _write_all(fd, buf)
            os.fsync(fd)
        except OSError as exc:
            raise StorageError(f"Could not write the audit log {path}: "
                               f"{exc.strerror or exc}.") from None
        finally:
            os.close(fd)
    return path


def verify_audit(path: Path) -> bool:
    """True when every line's ``prev`` is the SHA-256 of the line before (an unbroken chain)."""
    prev = None
    for raw in Path(path).read_bytes().splitlines():
        if not raw.strip():
            continue
        try:
            if json.loads(raw).get("prev") != prev:
                return False
        except ValueError:
            return False
        prev = hashlib.sha256(raw).hexdigest()
    return True


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
