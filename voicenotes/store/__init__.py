"""Storage: private, crash-safe files shared by every stage.

Every stage writes through here: temp file + fsync + rename, mode 0600, folders 0700. Modules:
``files`` (atomic writes, private folders, leftover sweeping, SHA-256 helpers).
"""

from voicenotes.store.files import (
    TMP_PREFIX,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    ensure_private_dir,
    fsync_dir,
    sha256_bytes,
    sha256_file,
    sweep_temp_files,
)

__all__ = [
    "TMP_PREFIX",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "ensure_private_dir",
    "fsync_dir",
    "sha256_bytes",
    "sha256_file",
    "sweep_temp_files",
]
