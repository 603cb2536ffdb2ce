"""The out folder of a batch: its lock, the names of each recording's folder, and how a finished
folder is checked and installed.

A job's outputs are built in ``.tmp-<name>-<token>/`` beside the final folder, checked, hashed,
then the folder is renamed onto its final name and the parent folder fsync'd; only then does the
journal say ``done``. A kill at any point leaves either no final folder or a complete one; the
``.tmp-*`` leftovers are swept at the next start.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO

from voicenotes.batch.journal import JOURNAL_NAME
from voicenotes.errors import StorageError
from voicenotes.store import TMP_PREFIX, fsync_dir, sha256_file

LOCK_NAME = ".batch.lock"
REPORT_CSV = "report.csv"
REPORT_HTML = "report.html"
REQUIRED_OUTPUTS = ("transcript.json", "items.json", "note.json", "note.md", "review.html")
JSON_OUTPUTS = ("transcript.json", "items.json", "note.json")


def lock(out_dir: Path) -> IO[str]:
    """Take the out folder's lock (one batch at a time); closing the returned file releases it."""
    fh = open(out_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held open for the whole run
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise StorageError(f"Another voicenotes batch is already writing to {out_dir}.",
                           hint="Wait for it to finish, or choose another --out folder.") from None
    return fh


def sweep_tmp(out_dir: Path) -> int:
    """Remove every ``.tmp-*`` file or folder under ``out_dir`` (leftovers of a killed run)."""
    n = 0
    for root, dirs, files in os.walk(out_dir):
        for d in list(dirs):
            if d.startswith(TMP_PREFIX):
                shutil.rmtree(Path(root) / d, ignore_errors=True)
                dirs.remove(d)
                n += 1
        for f in files:
            if f.startswith(TMP_PREFIX):
                try:
                    os.unlink(Path(root) / f)
                    n += 1
                except OSError:
                    pass
    return n


def choose_out_name(rel: Path, sha: str, is_free: Callable[[str], bool],
                    source_dirs: set[str]) -> str:
    """The output folder's name for a recording: its stem where that is free, else longer forms;
    never a name that is also a source folder, hidden, or one of the batch's own files."""
    parent = rel.parent.as_posix()
    prefix = "" if parent == "." else parent + "/"
    candidates = [prefix + rel.stem, prefix + rel.name.replace(".", "_"),
                  prefix + f"{rel.stem}-{sha[:8]}"]
    for c in candidates:
        if c not in source_dirs and not Path(c).name.startswith(".") \
                and c not in (REPORT_CSV, REPORT_HTML, JOURNAL_NAME) and is_free(c):
            return c
    return prefix + f"recording-{sha[:16]}"


def check_outputs(folder: Path) -> dict[str, str]:
    """Every required output is there and every JSON parses; returns {file: sha256}."""
    missing = [n for n in REQUIRED_OUTPUTS if not (folder / n).is_file()]
    if missing:
        raise StorageError(f"The note stage did not write {', '.join(missing)}.")
    for n in JSON_OUTPUTS:
        try:
            json.loads((folder / n).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise StorageError(f"The note stage wrote an unreadable {n}.") from None
    hashes = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            hashes[p.relative_to(folder).as_posix()] = sha256_file(p)
    return hashes


def audio_status(folder: Path) -> tuple[str | None, float | None, float | None]:
    """(partial reason or None, decoded s, container s) from the written transcript."""
    try:
        d = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None, None
    audio = d.get("audio") or {}
    flags = d.get("flags") or []
    decoded = audio.get("duration_s")
    expected = audio.get("container_duration_s")
    if audio.get("partial") or "partial" in flags:
        reason = audio.get("partial_reason") or "the audio is shorter than its container"
        return reason, decoded, expected
    return None, decoded, expected


def install_folder(tmp: Path, final: Path) -> None:
    """Rename the finished temp folder onto its final name; fsync the parent. An older folder of
    the same name (a run killed after its rename, before its journal commit) is moved aside first
    and removed after, so a complete folder is always what sits at the final name."""
    fsync_dir(tmp)
    old = None
    if final.exists():
        old = final.parent / f"{TMP_PREFIX}old-{final.name}-{secrets.token_hex(4)}"
        os.rename(final, old)
    os.rename(tmp, final)
    fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
        fsync_dir(final.parent)
