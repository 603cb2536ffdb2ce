"""Sealed session folders: every file encrypted at rest with age, opened in memory only.

Sealing replaces each file ``NAME`` of a session folder with ``NAME.age``: the age encryption of
its bytes to the installation's X25519 recipient (:mod:`voicenotes.store.keys`), or, with a
passphrase, to a key made for this folder alone and kept as ``sealed.key.age`` encrypted with the
passphrase (one slow passphrase check per folder rather than one per file). Each sealed copy is
written beside the original (temp file, 0600, fsync, rename) and the original is removed only
after the copy was decrypted again and its SHA-256 matched the original's. Unsealing is the
reverse, and the round trip is byte-identical.

Left in the clear on purpose, since they hold no session words and other commands need them
without the key: ``audit.jsonl`` (appended to by every command, checked by audit verification),
``consent.json`` (roles, scope and the retention period that ``voicenotes purge`` reads) and
``sealed.json`` (which method sealed the folder, and when) and ``.voicenotes.lock`` (the
one-writer lock: the holder's command and process id).

:func:`read_bytes` / :func:`read_text` read ``NAME`` whether it is in the clear or sealed
(decrypting in memory, nothing written), so the review, export and final-note readers work on
sealed folders. :func:`write_private` is their writer: in a sealed folder it writes ``NAME.age``
(encrypted in memory, atomic, 0600) and never ``NAME``, so the review workstation's decisions and
signed files stay sealed. ``pyrage`` is imported inside functions only.
"""

from __future__ import annotations

import errno
import getpass
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicenotes.errors import InputError, StorageError
from voicenotes.store.files import (
    FILE_MODE,
    TMP_PREFIX,
    atomic_write_bytes,
    atomic_write_json,
    fsync_dir,
    sweep_temp_files,
)
from voicenotes.store.keys import load_identity, pyrage_module
from voicenotes.store.lock import LOCK_NAME

SUFFIX = ".age"
MARKER = "sealed.json"
FOLDER_KEY = "sealed.key.age"
ENV_PASSPHRASE = "VOICENOTES_PASSPHRASE"
#: kept in the clear: no session words in them, and they are needed without the key
CLEAR_FILES = frozenset({"audit.jsonl", "consent.json", MARKER, FOLDER_KEY, LOCK_NAME})
#: a folder holding one of these (in the clear or sealed) is a session folder
SESSION_FILES = ("transcript.json", "items.json", "note.json", "consent.json", "recording.json")
_CHUNK = 1 << 20


@dataclass
class SealReport:
    folder: Path
    done: list[str] = field(default_factory=list)      # file names sealed / unsealed
    skipped: list[str] = field(default_factory=list)   # "name: why"
    bytes: int = 0


# --------------------------------------------------------------------------- folders


def is_session_folder(folder: Path) -> bool:
    folder = Path(folder)
    return (folder / MARKER).is_file() or any(
        (folder / n).is_file() or (folder / (n + SUFFIX)).is_file() for n in SESSION_FILES)


def is_sealed(folder: Path) -> bool:
    return (Path(folder) / MARKER).is_file()


def session_folders(path: Path) -> list[Path]:
    """``path`` itself when it is a session folder, else the session folders below it (symbolic
    links are not followed; a session folder's own sub-folders are not searched)."""
    path = Path(path)
    if is_session_folder(path):
        return [path]
    found: list[Path] = []
    for dirpath, dirnames, _files in os.walk(path, followlinks=False):
        here = Path(dirpath)
        if here != path and is_session_folder(here):
            found.append(here)
            dirnames[:] = []
        else:
            dirnames.sort()
    return sorted(found)


# --------------------------------------------------------------------------- keys


def passphrase_from_env_or_prompt(what: str = "the passphrase of this sealed folder") -> str:
    value = os.environ.get(ENV_PASSPHRASE)
    if value:
        return value
    if sys.stdin is not None and sys.stdin.isatty():
        value = getpass.getpass(f"Enter {what}: ")
        if value:
            return value
    raise InputError("This folder is sealed with a passphrase, and none was given.",
                     hint=f"Run from a terminal to be asked for it, or set {ENV_PASSPHRASE}.")


def _open_folder_key(folder: Path, passphrase: str) -> Any:
    pyrage = pyrage_module()
    try:
        text = pyrage.passphrase.decrypt((folder / FOLDER_KEY).read_bytes(), passphrase)
        return pyrage.x25519.Identity.from_str(text.decode("ascii").strip())
    except OSError:
        raise InputError(f"The folder key {FOLDER_KEY} of {folder} is missing or unreadable.",
                         hint="Without it this folder cannot be opened.") from None
    except Exception:
        raise InputError(f"The passphrase does not open {folder}.",
                         hint="Check the passphrase and try again.") from None


def _new_folder_key(folder: Path, passphrase: str) -> Any:
    pyrage = pyrage_module()
    ident = pyrage.x25519.Identity.generate()
    atomic_write_bytes(folder / FOLDER_KEY, pyrage.passphrase.encrypt(str(ident).encode(), passphrase))
    return ident


def _marker(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(folder) / MARKER).read_text("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


_IDENTITY_CACHE: dict[str, Any] = {}


def folder_identity(folder: Path, passphrase: str | None = None) -> Any:
    """The identity that opens ``folder``'s sealed files (cached for the process)."""
    folder = Path(folder)
    key = str(folder.resolve())
    if key in _IDENTITY_CACHE:
        return _IDENTITY_CACHE[key]
    if (folder / FOLDER_KEY).is_file() or _marker(folder).get("method") == "passphrase":
        ident = _open_folder_key(folder, passphrase or passphrase_from_env_or_prompt())
    else:
        ident = load_identity()
    _IDENTITY_CACHE[key] = ident
    return ident


# --------------------------------------------------------------------------- files


class _HashingReader:
    def __init__(self, fh: Any):
        self.fh, self.sha, self.n = fh, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n if n and n > 0 else _CHUNK)
        self.sha.update(data)
        self.n += len(data)
        return bytes(data)


class _HashingWriter:
    def __init__(self) -> None:
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return len(data)

    def flush(self) -> None:
        pass


def _open_nofollow(path: Path) -> Any:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    return os.fdopen(fd, "rb")


def _storage_error(path: Path, exc: OSError) -> StorageError:
    if exc.errno == errno.ENOSPC:
        return StorageError(f"The disk is full: could not write {path.name}.",
                            hint="Free some space and run the command again; the files not yet "
                            "done are unchanged.")
    return StorageError(f"Could not write {path}: {exc.strerror or exc}.",
                        hint="Check the folder is writable.")


def _temp_beside(path: Path) -> tuple[Any, str]:
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "wb"), tmp


def _unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _replace(tmp: str, target: Path, original: Path) -> None:
    """Put the verified new file in place, then remove the one it replaces (each step made
    durable, so a crash leaves either the original or both, never neither)."""
    os.replace(tmp, target)
    fsync_dir(original.parent)
    os.unlink(original)
    fsync_dir(original.parent)


def seal_file(path: Path, recipient: Any, identity: Any) -> int:
    """Replace ``path`` by ``path.age``; the original goes only once the copy decrypts to the same
    SHA-256. Returns the size of the original."""
    pyrage = pyrage_module()
    path = Path(path)
    target = path.with_name(path.name + SUFFIX)
    tmp = ""
    try:
        out, tmp = _temp_beside(path)
        with _open_nofollow(path) as src, out:
            reader = _HashingReader(src)
            pyrage.encrypt_io(reader, out, [recipient])
            out.flush()
            os.fsync(out.fileno())
        check = _HashingWriter()
        with open(tmp, "rb") as sealed:
            pyrage.decrypt_io(sealed, check, [identity])
        if check.sha.hexdigest() != reader.sha.hexdigest():
            raise StorageError(f"The sealed copy of {path.name} did not match the original; "
                               "the original is kept.", hint="Run the command again.")
        _replace(tmp, target, path)
        tmp = ""
    except OSError as exc:
        raise _storage_error(target, exc) from None
    finally:
        if tmp:
            _unlink(tmp)
    return reader.n


def unseal_file(sealed: Path, identity: Any) -> int:
    """Replace ``NAME.age`` by ``NAME`` (decrypted, 0600, atomic). Returns the plaintext size."""
    pyrage = pyrage_module()
    sealed = Path(sealed)
    target = sealed.with_name(sealed.name[: -len(SUFFIX)])
    tmp = ""
    try:
        out, tmp = _temp_beside(sealed)
        with _open_nofollow(sealed) as src, out:
            try:
                pyrage.decrypt_io(src, out, [identity])
            except pyrage.DecryptError:
                raise InputError(f"{sealed.name} in {sealed.parent} does not open with this key.",
                                 hint="It was sealed with another installation's key or "
                                 "passphrase; nothing was changed for it.") from None
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
        _replace(tmp, target, sealed)
        tmp = ""
    except OSError as exc:
        raise _storage_error(target, exc) from None
    finally:
        if tmp:
            _unlink(tmp)
    return size


def _to_seal(folder: Path, report: SealReport) -> list[Path]:
    out = []
    for p in sorted(folder.iterdir()):
        name = p.name
        if name in CLEAR_FILES or name.endswith(SUFFIX) or name.startswith(TMP_PREFIX):
            continue
        if name.startswith(".") and p.is_file() and not p.is_symlink() and p.stat().st_size == 0:
            continue  # an empty lock file (a recorder's, a writer's): nothing to hide
        if p.is_symlink():
            report.skipped.append(f"{name}: a symbolic link, left alone")
        elif p.is_dir():
            report.skipped.append(f"{name}: a folder, left alone")
        elif p.is_file():
            out.append(p)
        else:
            report.skipped.append(f"{name}: not a regular file, left alone")
    return out


def _sealing_keys(folder: Path, passphrase: str | None) -> tuple[str, Any, Any]:
    """(method, recipient, identity) for sealing ``folder``; a folder stays with its method."""
    before = _marker(folder).get("method")
    if passphrase is not None:
        if before == "key":
            raise InputError(f"{folder} is already sealed with this installation's key.",
                             hint="Unseal it first to seal it with a passphrase instead.")
        if (folder / FOLDER_KEY).is_file():
            ident = _open_folder_key(folder, passphrase)
        else:
            ident = _new_folder_key(folder, passphrase)
        return "passphrase", ident.to_public(), ident
    if before == "passphrase" or (folder / FOLDER_KEY).is_file():
        raise InputError(f"{folder} is already sealed with a passphrase.",
                         hint="Seal it again with --passphrase, or unseal it first.")
    ident = load_identity()
    return "key", ident.to_public(), ident


def seal_folder(folder: Path, *, passphrase: str | None = None) -> SealReport:
    """Seal every file of one session folder (see the module doc for what stays in the clear)."""
    folder = Path(folder)
    report = SealReport(folder)
    sweep_temp_files(folder)
    method, recipient, identity = _sealing_keys(folder, passphrase)
    for p in _to_seal(folder, report):
        report.bytes += seal_file(p, recipient, identity)
        report.done.append(p.name)
    sealed = sorted(p.name for p in folder.iterdir() if p.name.endswith(SUFFIX)
                    and p.name != FOLDER_KEY)
    atomic_write_json(folder / MARKER, {
        "sealed": True, "method": method, "recipient": str(recipient),
        "sealed_at": datetime.now(UTC).replace(microsecond=0).isoformat(), "files": sealed,
        "format": "age-encryption.org/v1"})
    _IDENTITY_CACHE.pop(str(folder.resolve()), None)
    return report


def reseal(folder: Path) -> SealReport:
    """Seal ``folder`` again the way it was sealed (its key, or its passphrase), or with the
    installation's key when it was not sealed."""
    folder = Path(folder)
    if _marker(folder).get("method") == "passphrase" or (folder / FOLDER_KEY).is_file():
        return seal_folder(folder, passphrase=passphrase_from_env_or_prompt())
    return seal_folder(folder)


def unseal_folder(folder: Path, *, passphrase: str | None = None) -> SealReport:
    """Decrypt every ``*.age`` file of one session folder back in place; then drop the marker."""
    folder = Path(folder)
    report = SealReport(folder)
    sweep_temp_files(folder)
    identity = folder_identity(folder, passphrase)
    for p in sorted(folder.iterdir()):
        if not p.name.endswith(SUFFIX) or p.name == FOLDER_KEY:
            continue
        if p.is_symlink() or not p.is_file():
            report.skipped.append(f"{p.name}: not a regular file, left alone")
            continue
        report.bytes += unseal_file(p, identity)
        report.done.append(p.name[: -len(SUFFIX)])
    if not report.skipped:
        _unlink(folder / MARKER)
        _unlink(folder / FOLDER_KEY)
        fsync_dir(folder)
    _IDENTITY_CACHE.pop(str(folder.resolve()), None)
    return report


# --------------------------------------------------------------------------- readers


def sealed_path(path: Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + SUFFIX)


def exists(path: Path) -> bool:
    """``path`` is a file, in the clear or sealed."""
    return Path(path).is_file() or sealed_path(path).is_file()


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``: the file itself, else its sealed copy decrypted in memory (nothing
    is written). Raises FileNotFoundError when neither exists, like ``Path.read_bytes``."""
    path = Path(path)
    if path.is_file():
        return path.read_bytes()
    sealed = sealed_path(path)
    if not sealed.is_file():
        raise FileNotFoundError(errno.ENOENT, "No such file", str(path))
    pyrage = pyrage_module()
    identity = folder_identity(path.parent)
    with _open_nofollow(sealed) as fh:
        data = fh.read()
    try:
        return bytes(pyrage.decrypt(data, [identity]))
    except pyrage.DecryptError:
        raise InputError(f"{sealed.name} in {path.parent} does not open with this key.",
                         hint="It was sealed with another installation's key or passphrase.") from None


def read_text(path: Path, encoding: str = "utf-8") -> str:
    return read_bytes(path).decode(encoding)


# --------------------------------------------------------------------------- writers


def _writing_recipient(folder: Path) -> Any:
    """The recipient a sealed ``folder``'s new files are encrypted to: the public half of the
    identity that opens it (the installation's key, or the folder key already opened with its
    passphrase for reading; never asked for again here)."""
    if _marker(folder).get("method") == "passphrase" or (folder / FOLDER_KEY).is_file():
        ident = _IDENTITY_CACHE.get(str(folder.resolve()))
        if ident is None:
            raise InputError(f"{folder} is sealed with a passphrase that was not given, so "
                             "nothing was saved.", hint="Open the folder again with its passphrase.")
        return ident.to_public()
    return load_identity().to_public()


def write_private(path: Path, data: bytes) -> Path:
    """Write one file of a session folder without leaving its words in the clear.

    In a sealed folder ``data`` is encrypted in memory to the folder's recipient and written
    atomically (temp file, 0600, fsync, rename) as ``NAME.age``; a stale ``NAME`` in the clear is
    removed. Otherwise the usual atomic write of ``NAME``. Returns the path written; read it back
    with :func:`read_bytes`."""
    path = Path(path)
    if not is_sealed(path.parent):
        return atomic_write_bytes(path, data)
    pyrage = pyrage_module()
    sealed = atomic_write_bytes(sealed_path(path), bytes(
        pyrage.encrypt(bytes(data), [_writing_recipient(path.parent)])))
    if path.is_file() or path.is_symlink():
        _unlink(path)
        fsync_dir(path.parent)
    return sealed


def write_private_json(path: Path, obj: Any) -> bytes:
    """:func:`write_private` of ``obj`` as the JSON ``atomic_write_json`` writes; returns the
    plaintext bytes (for their hash)."""
    data = (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    write_private(path, data)
    return data
