"""Opening files inside a session folder without following symbolic links.

A link in place of ``audit.jsonl`` or ``session-0001.wav`` would make an append or a header repair
write into whatever file it points at; these helpers refuse it with one plain line (exit 3).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from voicenotes.errors import InputError


def refuse_link(path: Path) -> InputError:
    return InputError(f"{path} is a symbolic link; voicenotes does not follow links in a session "
                      "folder.", hint="Replace the link with the file itself, or remove it.")


def open_nofollow(path: Path, flags: int, mode: int = 0o600) -> int:
    """``os.open`` with ``O_NOFOLLOW``: a symbolic link (or a non-regular file) is refused with
    one plain line (exit 3), never followed."""
    try:
        # O_NONBLOCK: a FIFO in the file's place must not hang the open (no effect on regular files)
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0),
                     mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refuse_link(path) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{path} is not a regular file.", hint="Remove it and try again.")
    return fd


def refuse_links(paths: list[Path]) -> None:
    """Refuse (exit 3) when any of ``paths`` is a symbolic link."""
    for p in paths:
        if os.path.islink(p):
            raise refuse_link(p)
