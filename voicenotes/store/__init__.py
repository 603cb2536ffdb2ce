"""Storage: private atomic files (and, as they are added, folder locks, the audit log, sealing).

Every stage writes through here: temp file + fsync + rename, mode 0600, folders 0700.
"""

from voicenotes.store.files import (
    DIR_MODE,
    FILE_MODE,
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
    "DIR_MODE",
    "FILE_MODE",
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
