"""Retention: which session folders are due for deletion, and deleting them.

A session folder is due when its consent record (``consent.json``, kept in the clear even in a
sealed folder) says its retention period is over, or, when an age is given, when it is older than
that. The session's date is the consent time; without a consent record it is the newest
modification time of the folder's files (so a folder worked on recently is never "old").

Deleting removes the folder's files from the file system; it does not overwrite the blocks they
used (SSDs and journaling file systems keep copies voicenotes cannot reach), so the real erase of
a sealed folder is destroying the key it was sealed to. The privacy documentation says more.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from voicenotes.errors import ConsentError, StorageError
from voicenotes.record.consent import load_consent
from voicenotes.record.journal import being_recorded
from voicenotes.store.seal import is_sealed, session_folders

DAY_S = 86400.0


@dataclass(frozen=True)
class Candidate:
    folder: Path
    due: bool
    reason: str       # why it is (or is not) due, in plain words, no session words
    age_days: float
    size: int
    sealed: bool


def _folder_size_and_mtime(folder: Path) -> tuple[int, float]:
    size, newest = 0, 0.0
    for dirpath, _dirs, files in os.walk(folder, followlinks=False):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            size += st.st_size
            newest = max(newest, st.st_mtime)
    return size, newest or os.lstat(folder).st_mtime


def _parse(ts: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _consent(folder: Path) -> tuple[datetime | None, date | None, str | None]:
    """(consented at, destroy-by date, problem) from the folder's consent record."""
    try:
        rec = load_consent(folder)
    except ConsentError:
        return None, None, "its consent.json is unreadable"
    if rec is None:
        return None, None, None
    return _parse(rec.consented_at), date.fromisoformat(rec.destroy_by), None


def assess(folder: Path, older_than_days: float | None, now: datetime | None = None) -> Candidate:
    now = now or datetime.now(UTC)
    size, newest = _folder_size_and_mtime(folder)
    consented, destroy_by, problem = _consent(folder)
    when = consented or datetime.fromtimestamp(newest, UTC)
    age = (now - when).total_seconds() / DAY_S
    sealed = is_sealed(folder)
    if being_recorded(folder):
        return Candidate(folder, False, "kept: being recorded right now", age, size, sealed)
    if destroy_by is not None and now.date() > destroy_by:
        return Candidate(folder, True, f"past its consented retention (destroy by {destroy_by})",
                         age, size, sealed)
    if older_than_days is not None and age > older_than_days:
        return Candidate(folder, True, f"older than {older_than_days:g} days ({age:.0f} days)",
                         age, size, sealed)
    if destroy_by is not None:
        why = f"kept until {destroy_by} (its consented retention)"
    elif problem:
        why = f"kept: {problem} (use --older-than to choose by age)"
    else:
        why = "kept: no consent record (use --older-than to choose by age)"
    return Candidate(folder, False, why, age, size, sealed)


def plan(root: Path, older_than_days: float | None) -> list[Candidate]:
    return [assess(f, older_than_days) for f in session_folders(root)]


def delete_folder(folder: Path) -> None:
    """Remove a session folder (symbolic links inside are removed, never followed)."""
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise StorageError(f"Could not delete {folder}: {exc.strerror or exc}.",
                           hint="Check you may write to it, then run purge again.") from None
