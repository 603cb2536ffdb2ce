"""The installation's sealing key: one age X25519 identity, kept 0600 in the per-user data folder.

The identity file (``$VOICENOTES_HOME/keys/identity.txt``, else
``~/.local/share/voicenotes/keys/identity.txt``, the same data folder the speaker enrollment
uses) is in age's own format, so the ``age`` tool can open a sealed file with it too
(``age -d -i identity.txt FILE.age``). Whoever loses this file loses every session sealed to it:
there is no recovery, by design. ``pyrage`` is imported inside functions only.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicenotes.errors import DependencyError, InputError, StorageError
from voicenotes.store.files import atomic_write_text, ensure_private_dir

IDENTITY_FILE = "identity.txt"
ENV_HOME = "VOICENOTES_HOME"


def data_dir() -> Path:
    """The per-user data folder (``$VOICENOTES_HOME`` or ``~/.local/share/voicenotes``)."""
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser()
    return Path.home() / ".local" / "share" / "voicenotes"


def identity_path() -> Path:
    return data_dir() / "keys" / IDENTITY_FILE


def pyrage_module() -> Any:
    try:
        import pyrage
    except ImportError:  # pragma: no cover - a dependency of the package
        raise DependencyError("Sealing needs the pyrage package, which is not installed.",
                              hint="Install it with: pip install pyrage") from None
    return pyrage


def init_identity(*, force: bool = False) -> tuple[str, Path]:
    """Make the installation's identity; returns (recipient, file). Refuses to replace one."""
    pyrage = pyrage_module()
    path = identity_path()
    if path.exists() and not force:
        raise InputError(f"This installation already has a key ({path}).",
                         hint="voicenotes keys show prints it. Replacing it would make every "
                         "session sealed to it unreadable, so voicenotes will not do that.")
    ident = pyrage.x25519.Identity.generate()
    recipient = str(ident.to_public())
    created = datetime.now(UTC).replace(microsecond=0).isoformat()
    ensure_private_dir(path.parent)
    os.chmod(path.parent, 0o700)
    atomic_write_text(path, f"# created: {created}\n# public key: {recipient}\n{ident}\n")
    return recipient, path


def _read_identity_text() -> str:
    path = identity_path()
    if path.is_symlink():
        raise InputError(f"The key file {path} is a symbolic link; voicenotes does not follow it.",
                         hint="Put the key file itself there.")
    try:
        return path.read_text("ascii")
    except FileNotFoundError:
        raise InputError("This installation has no sealing key yet.",
                         hint="Make one with: voicenotes keys init") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"Could not read the key file {path}.",
                           hint=f"Check its permissions ({getattr(exc, 'strerror', '') or 'unreadable'}).") from None


def load_identity() -> Any:
    """The installation's ``pyrage.x25519.Identity``."""
    pyrage = pyrage_module()
    for line in _read_identity_text().splitlines():
        if line.startswith("AGE-SECRET-KEY-"):
            try:
                return pyrage.x25519.Identity.from_str(line.strip())
            except Exception:
                break
    raise InputError(f"The key file {identity_path()} is damaged (no valid key in it).",
                     hint="Restore it from your backup copy.")


def recipient() -> str:
    return str(load_identity().to_public())
