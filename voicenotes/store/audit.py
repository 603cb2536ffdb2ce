"""The append-only, signed, hash-chained audit log of a session folder (``audit.jsonl``).

One JSON object a line. Each carries ``prev``, the SHA-256 of the line before it (``None`` on the
first line), ``key``, the id of the installation's audit key, and ``mac``, an HMAC-SHA256 of the
rest of the line under that key (:mod:`voicenotes.store.audit_key`). An edited, removed, inserted
or moved line breaks the chain or a signature, and a rewrite with recomputed hashes fails the
signatures. The note files record the chain head they were made after (``audit_head`` in their
provenance), so removing lines from the end shows too (:func:`check_folder`).

Appends open the log with ``O_NOFOLLOW`` (a symbolic link is refused, never followed), take an
exclusive lock, set aside a torn last line (one cut off without its end of line, or unreadable,
e.g. after a full disk) into ``audit.jsonl.torn-N`` with an entry saying so instead of gluing onto
it, write the whole batch (``os.write`` may write less than asked) and fsync. Events hold ids,
types, decisions and hashes only, never session words.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicenotes.errors import InputError, StorageError
from voicenotes.store.audit_key import key_id, load_key
from voicenotes.store.safeopen import open_nofollow

AUDIT_FILE = "audit.jsonl"
TORN_PREFIX = AUDIT_FILE + ".torn-"
_LOCK = threading.Lock()  # one writer at a time inside a process (the review app is threaded)
_TAIL_CHUNK = 65536


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=True).encode()


def _mac(key: bytes, body: dict[str, Any]) -> str:
    return hmac.new(key, _dumps(body), hashlib.sha256).hexdigest()


def _is_entry(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


# --------------------------------------------------------------------------- the tail


@dataclass
class _Tail:
    good_end: int  # bytes up to here are whole, readable lines
    last_line: bytes | None  # the last whole, readable line (None: the log is empty)
    size: int


def _read_tail(fd: int) -> _Tail:
    """Find where the last whole, readable line ends; anything after it is a torn tail."""
    size = os.fstat(fd).st_size
    start = max(0, size - _TAIL_CHUNK)
    data = os.pread(fd, size - start, start)
    while start > 0 and data.count(b"\n") < 3:  # need the line before a torn one whole
        start = max(0, start - _TAIL_CHUNK)
        data = os.pread(fd, size - start, start)
    end = data.rfind(b"\n") + 1  # torn: bytes after the last newline
    lines = data[:end].split(b"\n")[:-1]
    if start > 0:
        lines = lines[1:]  # the first piece may be a partial line
    if lines and not _is_entry(lines[-1]):  # a whole line that does not read: torn too
        end -= len(lines[-1]) + 1
        lines = lines[:-1]
    return _Tail(good_end=start + end, last_line=lines[-1] if lines else None, size=size)


def _quarantine(fd: int, folder: Path, tail: _Tail) -> dict[str, Any]:
    """Move the torn bytes to ``audit.jsonl.torn-N`` and cut them off the log."""
    torn = os.pread(fd, tail.size - tail.good_end, tail.good_end)
    n = 1
    while True:
        target = folder / f"{TORN_PREFIX}{n}"
        try:
            tfd = open_nofollow(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            break
        except FileExistsError:
            n += 1
    try:
        _write_all(tfd, torn)
        os.fsync(tfd)
    finally:
        os.close(tfd)
    os.ftruncate(fd, tail.good_end)
    os.fsync(fd)
    return {"event": "torn_tail_quarantined", "moved_to": target.name, "bytes": len(torn),
            "sha256": hashlib.sha256(torn).hexdigest()}


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, "nothing was written")
        view = view[n:]


def _lines(key: bytes, prev: str | None, events: list[dict[str, Any]]) -> bytes:
    kid, buf = key_id(key), b""
    for ev in events:
        body = {"time": _now(), **ev, "prev": prev, "key": kid}
        body.pop("mac", None)
        line = _dumps({**body, "mac": _mac(key, body)})
        buf += line + b"\n"
        prev = hashlib.sha256(line).hexdigest()
    return buf


def append_audit(folder: Path, events: list[dict[str, Any]]) -> Path:
    """Append ``events`` to ``folder/audit.jsonl`` (created 0600): signed, chained, fsync'd."""
    path = Path(folder) / AUDIT_FILE
    key = load_key()
    assert key is not None
    with _LOCK:
        try:
            fd = open_nofollow(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        except OSError as exc:
            raise StorageError(f"Could not open the audit log {path}: {exc.strerror or exc}.",
                               hint="Check the session folder is writable.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            tail = _read_tail(fd)
            first = [_quarantine(fd, Path(folder), tail)] if tail.good_end < tail.size else []
            prev = hashlib.sha256(tail.last_line).hexdigest() if tail.last_line else None
            _write_all(fd, _lines(key, prev, first + list(events)))
            os.fsync(fd)
        except OSError as exc:
            raise StorageError(f"Could not write the audit log {path}: "
                               f"{exc.strerror or exc}.") from None
        finally:
            os.close(fd)
    return path


def audit_head(folder: Path) -> dict[str, Any]:
    """The chain head now: the number of whole lines and the SHA-256 of the last (for a note's
    provenance; a torn tail is not counted, the next append sets it aside)."""
    path = Path(folder) / AUDIT_FILE
    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return {"lines": 0, "sha256": None}
    try:
        tail = _read_tail(fd)
        lines = os.pread(fd, tail.good_end, 0).count(b"\n")
    finally:
        os.close(fd)
    return {"lines": lines,
            "sha256": hashlib.sha256(tail.last_line).hexdigest() if tail.last_line else None}


# --------------------------------------------------------------------------- verification


@dataclass
class AuditCheck:
    ok: bool
    lines: int
    bad_line: int | None = None  # 1-based
    reason: str = ""
    torn: int = 0  # entries that set a torn tail aside
    no_key: bool = False  # this installation has no audit key: nothing could be checked


def _check_line(n: int, raw: bytes, prev: str | None, key: bytes | None) -> tuple[str, dict]:
    try:
        entry = json.loads(raw)
    except ValueError:
        return "is not a readable entry", {}
    if not isinstance(entry, dict):
        return "is not a readable entry", {}
    if entry.get("prev") != prev:
        what = "the first line" if n == 1 else f"line {n - 1}"
        return (f"does not follow {what} (a line was changed, removed, added or moved)", entry)
    mac = entry.pop("mac", None)
    if not isinstance(mac, str) or "key" not in entry:
        return "is not signed", entry
    if key is None:
        return "cannot be checked: this installation has no audit key", entry
    if entry["key"] != key_id(key):
        return ("was signed with another installation's key (verify it on the computer that "
                "wrote it)", entry)
    if not hmac.compare_digest(mac, _mac(key, entry)):
        return "does not match its signature (the line was changed)", entry
    return "", entry


def check_audit(path: Path, key: bytes | None = None) -> AuditCheck:
    """Check every line of an audit log: chained to the line before and signed with this
    installation's key. Reports the first bad line."""
    key = key if key is not None else load_key(create=False)
    fd = open_nofollow(Path(path), os.O_RDONLY)
    try:
        data = os.pread(fd, os.fstat(fd).st_size, 0)
    finally:
        os.close(fd)
    if key is None and data:
        return AuditCheck(False, data.count(b"\n"), 1, "cannot be checked: this computer has no "
                          "audit key (check it on the computer that wrote it)", no_key=True)
    pieces = data.split(b"\n")
    lines, rest = pieces[:-1], pieces[-1]
    prev, torn = None, 0
    for n, raw in enumerate(lines, 1):
        why, entry = _check_line(n, raw, prev, key)
        if why:
            return AuditCheck(False, len(lines), n, f"line {n} {why}")
        torn += entry.get("event") == "torn_tail_quarantined"
        prev = hashlib.sha256(raw).hexdigest()
    if rest:
        n = len(lines) + 1
        return AuditCheck(False, n, n, f"line {n} is cut off (no end of line; the next "
                          "entry will set it aside)")
    return AuditCheck(True, len(lines), torn=torn)


def _note_anchor(folder: Path, name: str, lines: list[bytes]) -> str:
    """Why the note file ``name`` disagrees with the log ('' when it agrees): its recorded chain
    head must be in the log and an entry after it must name the file's SHA-256."""
    from voicenotes.store.seal import read_bytes  # a sealed note is opened in memory

    try:
        raw = read_bytes(folder / name)
        head = (json.loads(raw).get("provenance") or {}).get("audit_head")
    except (OSError, ValueError, AttributeError, InputError):
        return ""
    if not isinstance(head, dict) or not isinstance(head.get("lines"), int):
        return ""
    n = head["lines"]
    if n > len(lines) or (n and hashlib.sha256(lines[n - 1]).hexdigest() != head.get("sha256")):
        return (f"{name} was made after line {n}, but the log no longer has that line as it was "
                "(lines were removed or changed)")
    digest = hashlib.sha256(raw).hexdigest().encode()
    if not any(digest in ln for ln in lines[n:]):
        return (f"line {len(lines) + 1} is missing: the entry recording {name} (made after "
                f"line {n}) was removed from the end of the log")
    return ""


ANCHORED = ("note.json", "note.reviewed.json")


def check_folder(folder: Path, key: bytes | None = None) -> AuditCheck:
    """Check a session folder's audit log and that its note files' chain heads are in it."""
    folder = Path(folder)
    res = check_audit(folder / AUDIT_FILE, key)
    if not res.ok:
        return res
    lines = (folder / AUDIT_FILE).read_bytes().split(b"\n")[:-1]
    names = [*ANCHORED, *sorted(p.name.removesuffix(".age")
                                for p in folder.glob("note.signed*.json*"))]
    for name in names:
        why = _note_anchor(folder, name, lines)
        if why:
            return AuditCheck(False, len(lines), len(lines) + 1, why)
    return res


def verify_audit(path: Path) -> bool:
    """True when every line is chained to the one before and signed with this installation's key."""
    try:
        return check_audit(Path(path)).ok
    except (OSError, InputError):
        return False


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
