"""The batch journal: a SQLite file in the out folder that says, for each recording's content,
how far it got.

Only the parent process writes it, and every statement is its own fsync'd transaction
(``PRAGMA synchronous=FULL``), so a kill at any moment leaves it consistent. Jobs are keyed by the
sha256 of the recording's bytes; the ``files`` table maps each relative path to its content (and
caches the hash by size and mtime).

Job states: ``pending``, ``running``, ``done``, ``partial`` (done, but the audio is shorter than its
container), ``failed`` (exception class, plain message, decoded vs expected duration; ``retryable``
when the disk was to blame).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
from pathlib import Path

from voicenotes.batch.failures import DiskFull
from voicenotes.errors import StorageError

JOURNAL_NAME = "batch-journal.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files(
    rel_path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    duplicate_of TEXT,
    last_seen TEXT
);
CREATE TABLE IF NOT EXISTS jobs(
    sha256 TEXT PRIMARY KEY,
    rel_path TEXT NOT NULL,
    out_name TEXT UNIQUE NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    partial_reason TEXT,
    decoded_s REAL,
    expected_s REAL,
    error_class TEXT,
    error_message TEXT,
    retryable INTEGER NOT NULL DEFAULT 0,
    outputs TEXT,
    settings TEXT,
    started_at TEXT,
    finished_at TEXT,
    seconds REAL
);
"""


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Journal:
    """The batch journal. Every statement is its own fsync'd transaction (synchronous=FULL)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=DELETE")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
            os.chmod(self.path, 0o600)
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"The batch journal {self.path} cannot be opened ({_sqlite_reason(exc)}).",
                hint="Free some disk space, or use a new --out folder.") from None

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass

    def _exec(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            if "full" in str(exc).lower():
                raise DiskFull(f"The disk is full: the batch journal {self.path.name} could not "
                               "be updated.") from None
            raise StorageError(f"The batch journal could not be updated ({_sqlite_reason(exc)}).",
                               hint="Check the --out folder is writable.") from None

    # -- files
    def cached_hash(self, rel: str, size: int, mtime_ns: int) -> str | None:
        row = self._exec("SELECT sha256 FROM files WHERE rel_path=? AND size=? AND mtime_ns=?",
                         (rel, size, mtime_ns)).fetchone()
        return row[0] if row else None

    def record_files(self, rows: list[tuple[str, str, int, int, str | None]]) -> None:
        now = _now()
        self._exec("BEGIN IMMEDIATE")
        try:
            for rel, sha, size, mtime_ns, dup in rows:
                self.db.execute(
                    "INSERT INTO files(rel_path, sha256, size, mtime_ns, duplicate_of, last_seen) "
                    "VALUES(?,?,?,?,?,?) ON CONFLICT(rel_path) DO UPDATE SET sha256=excluded.sha256,"
                    " size=excluded.size, mtime_ns=excluded.mtime_ns, "
                    "duplicate_of=excluded.duplicate_of, last_seen=excluded.last_seen",
                    (rel, sha, size, mtime_ns, dup, now))
            self._exec("COMMIT")
        except BaseException:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise

    # -- jobs
    def job(self, sha: str) -> sqlite3.Row | None:
        return self._exec("SELECT * FROM jobs WHERE sha256=?", (sha,)).fetchone()

    def jobs(self) -> list[sqlite3.Row]:
        return self._exec("SELECT * FROM jobs").fetchall()

    def out_name_owners(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self._exec("SELECT out_name, sha256 FROM jobs")}

    def delete_job(self, sha: str) -> None:
        self._exec("DELETE FROM jobs WHERE sha256=?", (sha,))

    def add_job(self, sha: str, rel: str, out_name: str) -> None:
        self._exec("INSERT INTO jobs(sha256, rel_path, out_name, state) VALUES(?,?,?,'pending')",
                   (sha, rel, out_name))

    def set_rel(self, sha: str, rel: str) -> None:
        self._exec("UPDATE jobs SET rel_path=? WHERE sha256=?", (rel, sha))

    def set_pending(self, sha: str) -> None:
        self._exec("UPDATE jobs SET state='pending' WHERE sha256=?", (sha,))

    def mark_running(self, sha: str, settings: dict) -> None:
        self._exec("UPDATE jobs SET state='running', attempts=attempts+1, started_at=?, settings=?,"
                   " finished_at=NULL WHERE sha256=?", (_now(), json.dumps(settings), sha))

    def mark_done(self, sha: str, *, partial_reason: str | None, decoded_s: float | None,
                  expected_s: float | None, outputs: dict[str, str], seconds: float) -> None:
        state = "partial" if partial_reason else "done"
        self._exec("UPDATE jobs SET state=?, partial_reason=?, decoded_s=?, expected_s=?, "
                   "outputs=?, error_class=NULL, error_message=NULL, retryable=0, finished_at=?, "
                   "seconds=? WHERE sha256=?",
                   (state, partial_reason, decoded_s, expected_s, json.dumps(outputs, sort_keys=True),
                    _now(), seconds, sha))

    def mark_failed(self, sha: str, *, error_class: str, message: str, decoded_s: float | None,
                    expected_s: float | None, retryable: bool, seconds: float | None) -> None:
        self._exec("UPDATE jobs SET state='failed', error_class=?, error_message=?, decoded_s=?, "
                   "expected_s=?, retryable=?, outputs=NULL, finished_at=?, seconds=? "
                   "WHERE sha256=?",
                   (error_class, message, decoded_s, expected_s, int(retryable), _now(), seconds,
                    sha))


def _sqlite_reason(exc: Exception) -> str:
    return str(exc).split("\n")[0][:120]
