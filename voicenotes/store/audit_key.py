"""The installation's audit key: 32 random bytes that key every audit line's HMAC.

A session's ``audit.jsonl`` chains each line to the one before (SHA-256) and signs it with this
key (HMAC-SHA256), so someone who rewrites the log and recomputes the hashes still cannot make
the signatures agree without the key. The key lives in the per-user data folder
(``$VOICENOTES_HOME`` or ``~/.local/share/voicenotes``) as ``audit.key``, mode 0600, created on
first use; ``$VOICENOTES_AUDIT_KEY`` names another file. A log can be verified only where its key
is: on another computer (or after the key is deleted) verification says the key is not the one
that signed it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
from pathlib import Path

from voicenotes.errors import InputError, StorageError

ENV_KEY = "VOICENOTES_AUDIT_KEY"
KEY_FILE = "audit.key"
_KEY_BYTES = 32


def key_path() -> Path:
    """Where this installation's audit key lives (it need not exist yet)."""
    if os.environ.get(ENV_KEY):
        return Path(os.environ[ENV_KEY]).expanduser()
    home = os.environ.get("VOICENOTES_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".local" / "share" / "voicenotes"
    return base / KEY_FILE


def key_id(key: bytes) -> str:
    """A short public name for a key (recorded in each line), not the key itself."""
    return hashlib.sha256(b"voicenotes-audit-key-id\0" + key).hexdigest()[:16]


def _read_key(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        raw = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != _KEY_BYTES:
        raise InputError(f"The audit key {path} is damaged.",
                         hint="Restore it from a backup; without it audit logs cannot be verified.")
    return key


def _create_key(path: Path) -> None:
    """Write a new key beside ``path`` and link it into place: readers never see a half-written
    key, and when two processes race the first link wins (the other's key is discarded)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            view = memoryview((secrets.token_bytes(_KEY_BYTES).hex() + "\n").encode("ascii"))
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def load_key(*, create: bool = True) -> bytes | None:
    """This installation's audit key; made (0600) on first use when ``create``, else ``None``."""
    path = key_path()
    try:
        if create and not os.path.lexists(path):
            _create_key(path)
        return _read_key(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"The audit key {path} is a symbolic link; voicenotes does not "
                             "follow links.", hint="Replace the link with the key file itself.") from None
        raise StorageError(f"Could not read or create the audit key {path}: "
                           f"{exc.strerror or exc}.", hint="Check that folder is writable.") from None
