"""One writer per session folder.

``note``, ``note --from-review``, ``export`` and every save of ``review`` hold an exclusive
``fcntl.flock`` on ``.voicenotes.lock`` in the session folder while they write. A second writer
does not wait and does not mix its files with the first one's: it stops at once with one plain
line and exit 7 (:class:`~voicenotes.errors.StorageError`, the exit code of "the output folder
cannot be written now", the same as a second ``batch`` into one folder). The lock is released by
the kernel when its holder exits, even after ``kill -9``, so a stale lock file never blocks.

The lock file holds the holder's command and process id (no session content) so the message can
say who is writing. It is opened with ``O_NOFOLLOW``: a symlink planted in its place is refused.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from voicenotes.errors import StorageError, plain_line

LOCK_NAME = ".voicenotes.lock"


class FolderBusy(StorageError):
    """Another voicenotes command is writing to this session folder (exit 7)."""


def _open(folder: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(folder / LOCK_NAME, flags, 0o600)
    except OSError as exc:
        raise StorageError(f"The folder {plain_line(str(folder))} cannot be written to: "
                           f"{exc.strerror or type(exc).__name__}.",
                           hint="Choose another folder, or check its permissions.") from None


def _holder(fd: int) -> str:
    try:
        raw = os.pread(fd, 200, 0).decode("ascii", "replace").split()
    except OSError:
        return ""
    if len(raw) == 2 and raw[1].isdigit():
        return f" ({plain_line(raw[0])}, process {raw[1]})"
    return ""


_HELD: dict[str, int] = {}  # (thread, folder) holds, so nested holds (sign -> save) nest
_GUARD = threading.Lock()


@contextmanager
def session_lock(folder: Path, command: str) -> Iterator[None]:
    """Hold the folder's writer lock for the ``with`` block, or raise :class:`FolderBusy`.
    Re-entrant within one thread (a flock on a second descriptor would refuse its own
    holder); another thread of the same process is refused like another process."""
    folder = Path(folder)
    key = f"{threading.get_ident()}:{folder.resolve()}"
    with _GUARD:
        nested = _HELD.get(key, 0) > 0
        if nested:
            _HELD[key] += 1
    if nested:
        try:
            yield
        finally:
            with _GUARD:
                _HELD[key] -= 1
        return
    fd = _open(folder)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(
                f"Another voicenotes command{_holder(fd)} is writing to "
                f"{plain_line(str(folder))}; nothing was changed.",
                hint="Wait for it to finish, then run this again.") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{command.split()[0]} {os.getpid()}\n".encode("ascii", "replace"), 0)
        except OSError:
            pass  # the lock itself is what counts; the note of who holds it is a courtesy
        with _GUARD:
            _HELD[key] = 1
        try:
            yield
        finally:
            with _GUARD:
                _HELD.pop(key, None)
    finally:
        os.close(fd)  # releases the flock
