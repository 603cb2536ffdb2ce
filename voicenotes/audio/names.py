"""File names made safe to print: undecodable bytes in a name become U+FFFD.

Messages name the file (never its content); a non-UTF-8 name must not break a terminal or a
UTF-8 JSON file.
"""

from __future__ import annotations

from pathlib import Path


def printable(text: str) -> str:
    """``text`` with surrogate-escaped bytes (non-UTF-8 file names) replaced, safe to print or
    write as UTF-8 JSON."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def shown(path: Path) -> str:
    """The path as a printable string (undecodable bytes in a file name become U+FFFD)."""
    return printable(str(path))
