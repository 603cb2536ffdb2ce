"""Looking at a path before reading it, and opening it with PyAV, with one plain line for each
way that can fail.

A path is stat-ed first and never opened unless it is a regular, non-empty, readable file:
opening a FIFO hangs forever, and a device or socket is no recording.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

from voicenotes.audio.names import shown
from voicenotes.errors import AudioError


def stat_error(path: Path, exc: OSError) -> AudioError:
    """Turn an ``os.stat`` failure into one plain line."""
    if exc.errno == errno.ELOOP:
        return AudioError(f"{shown(path)} is a symbolic link that points back to itself (a link "
                          "loop), so there is nothing to read.",
                          hint="Give the real file instead of the link.")
    if exc.errno == errno.ENOENT:
        if os.path.lexists(path):
            return AudioError(f"{shown(path)} is a link to a file that no longer exists.",
                              hint="Give the real file instead of the link.")
        return AudioError(f"No such file: {shown(path)}.",
                          hint="Check the spelling and the folder.")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return AudioError(f"Cannot read {shown(path)}: permission denied.",
                          hint="Ask the file's owner for read access, or copy it somewhere you "
                          "can read.")
    if exc.errno == errno.ENOTDIR:
        return AudioError(f"No such file: {shown(path)} (a part of the path is not a folder).",
                          hint="Check the spelling and the folder.")
    if exc.errno == errno.ENAMETOOLONG:
        return AudioError(f"The file name is too long: {shown(path)}.",
                          hint="Rename or move the file to a shorter path.")
    return AudioError(f"Cannot read {shown(path)}: {exc.strerror or 'system error'}.",
                      hint="Check the file and try again.")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def av_errors() -> tuple[type[BaseException], ...]:
    """What PyAV raises for a file it cannot read."""
    import av

    return (av.error.FFmpegError, OSError, ValueError, IndexError, EOFError)


def check_regular(path: Path) -> os.stat_result:
    """Stat first (never open a FIFO); raise AudioError for anything but a readable file."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise stat_error(path, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(f"{shown(path)} is a folder, not an audio file.",
                         hint="voicenotes transcribe accepts folders and processes every audio "
                         "file inside.")
    if not stat.S_ISREG(st.st_mode):
        raise AudioError(f"{shown(path)} is {_kind(st.st_mode)}, not a recording file; it was "
                         "not opened.", hint="Save the recording to a regular file first.")
    if st.st_size == 0:
        raise AudioError(f"{shown(path)} is empty (0 bytes): there is no recording in it.",
                         hint="Check the recording was saved or copied completely.")
    if not os.access(path, os.R_OK):
        raise AudioError(f"Cannot read {shown(path)}: permission denied.",
                         hint="Ask the file's owner for read access, or copy it somewhere you "
                         "can read.")
    return st


def open_container(path: Path, source: Any = None) -> Any:
    """Open ``path`` (or ``source``, a file object standing in for it) with PyAV."""
    import av

    try:
        return av.open(source if source is not None else str(path), mode="r",
                       metadata_errors="ignore")
    except PermissionError:
        raise AudioError(f"Cannot read {shown(path)}: permission denied.",
                         hint="Ask the file's owner for read access.") from None
    except av_errors():
        raise AudioError(f"{shown(path)} is not a readable audio or video file (it may be "
                         "damaged, or a different kind of file renamed).",
                         hint="Open it in a media player to check, or export it again "
                         "(WAV, FLAC, MP3 or M4A).") from None



def read_error(path: Path, exc: OSError) -> AudioError:
    """An I/O error while reading a file already found readable (a failing disk, a vanished
    network share)."""
    return AudioError(f"Cannot read {shown(path)}: {exc.strerror or 'read error'}.",
                      hint="Check the disk or copy the file again.")
