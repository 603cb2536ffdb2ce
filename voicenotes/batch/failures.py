"""Why a recording failed, in plain words: exceptions become failure records that hold no
session content (class name, a plain message, whether the disk or the setup is to blame)."""

from __future__ import annotations

import errno
from typing import Any

from voicenotes.errors import (
    DependencyError,
    ModelError,
    RulesError,
    StorageError,
    VoicenotesError,
)

DISK_FULL_MESSAGE = "The disk is full: the outputs for this recording could not be written."


class DiskFull(StorageError):
    """The disk holding the out folder is full (ENOSPC)."""

    def __init__(self, message: str):
        super().__init__(message, hint="Free some disk space and run the same command again; "
                                       "finished recordings are kept and skipped.")


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC, however it reached us: raw, as :class:`DiskFull`, or as a storage error that
    says so."""
    if isinstance(exc, DiskFull) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
        return True
    return isinstance(exc, StorageError) and "disk is full" in str(exc).lower()


def _plain_message(exc: BaseException) -> str:
    if isinstance(exc, ImportError):
        return (f"A part of voicenotes could not be loaded ({type(exc).__name__}), so no "
                "recording can be processed.")
    if is_disk_full(exc):
        return DISK_FULL_MESSAGE
    if isinstance(exc, VoicenotesError):
        return exc.message
    if isinstance(exc, OSError):
        return f"{exc.strerror or 'input/output error'} (errno {exc.errno})"
    # Library exceptions (PyAV, ctranslate2, ...) can echo input; keep only a generic line.
    return "The file could not be processed (unexpected problem in the decoder or model)."


def classify(exc: BaseException) -> dict[str, Any]:
    """A failure record without session content: class name, a plain message, and whether it is
    the disk's fault (retry later) or fatal for the whole batch (model/dependency missing)."""
    disk_full = is_disk_full(exc)
    return {"error_class": "DiskFull" if disk_full else type(exc).__name__,
            "message": _plain_message(exc)[:500], "disk_full": disk_full,
            "fatal": isinstance(exc, (ModelError, DependencyError, ImportError, RulesError)),
            "exit_code": getattr(exc, "exit_code", 1)}


def worker_crashed(exit_code: int | None, seconds: float) -> dict[str, Any]:
    """The failure record of a file whose worker process died while working on it."""
    why = (f"it was killed by signal {-exit_code}, e.g. when the computer ran out of memory"
           if exit_code is not None and exit_code < 0 else f"exit code {exit_code}")
    return {"error_class": "WorkerCrashed",
            "message": "The transcription process stopped unexpectedly "
                       f"({why}) while working on this file. Run again "
                       "with --retry-failed to try it once more.",
            "disk_full": False, "fatal": False, "seconds": seconds}


_FATAL_CLASSES: dict[str, type[VoicenotesError]] = {
    "ModelError": ModelError, "DependencyError": DependencyError, "RulesError": RulesError,
    "ImportError": DependencyError, "ModuleNotFoundError": DependencyError}


def fatal_error(record: dict[str, Any]) -> VoicenotesError:
    """The error that stops the whole batch, rebuilt from a worker's failure record."""
    cls = _FATAL_CLASSES.get(record["error_class"], VoicenotesError)
    hint = ("Reinstall voicenotes (scripts/demo sets everything up)."
            if cls is DependencyError else None)
    return cls(record["message"], hint=hint)
