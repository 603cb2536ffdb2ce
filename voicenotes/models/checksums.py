"""Checking model files against the registry, with a record of earlier full checks.

Hashing a 145 MB model.bin costs ~0.2 s, so a file whose (size, mtime, ctime, inode) match a
record of an earlier full check (``.verified.json`` in the store) is trusted without re-hashing,
unless the caller asks for a full check (:func:`verify` always re-hashes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from voicenotes.errors import ModelError, StorageError
from voicenotes.models.registry import ModelSpec, fix_hint, get_spec, locate, models_dir
from voicenotes.store import atomic_write_json, ensure_private_dir, sha256_file

CACHE_FILE = ".verified.json"


def _cache_path() -> Path:
    return models_dir() / CACHE_FILE


def _read_cache() -> dict:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def remember_hashes(records: dict[Path, str]) -> None:
    """Record full-hash results; best effort (a read-only store only costs re-hashing)."""
    if not records:
        return
    cache = {k: v for k, v in _read_cache().items() if os.path.exists(k)}  # drop stale records
    for path, digest in records.items():
        try:
            cache[str(path.resolve())] = {"stamp": _stamp(path.stat()), "sha256": digest}
        except OSError:
            continue
    try:
        ensure_private_dir(models_dir())
        atomic_write_json(_cache_path(), cache)
    except (StorageError, OSError):
        pass


def file_sha256(path: Path, *, full: bool = False, _pending: dict | None = None) -> str:
    """SHA-256 of ``path``; reuses a recorded hash when the file is unchanged unless ``full``."""
    if not full:
        rec = _read_cache().get(str(path.resolve()))
        if rec and rec.get("stamp") == _stamp(path.stat()):
            return rec["sha256"]
    digest = sha256_file(path)
    if _pending is not None:
        _pending[path] = digest
    else:
        remember_hashes({path: digest})
    return digest


def check_files(spec: ModelSpec, folder: Path, *, full: bool) -> list[str]:
    """Problems of ``folder`` against the registry (empty list = good). Never raises for I/O."""
    problems: list[str] = []
    good: dict[Path, str] = {}
    for f in spec.files:
        path = folder / f.name
        try:
            size = path.stat().st_size
        except OSError:
            problems.append(f"{f.name} is missing")
            continue
        if size != f.size:
            problems.append(f"{f.name} has the wrong size")
            continue
        try:
            pending: dict[Path, str] = {}
            digest = file_sha256(path, full=full, _pending=pending)
        except OSError:
            problems.append(f"{f.name} cannot be read")
            continue
        if digest != f.sha256:
            problems.append(f"{f.name} does not match its SHA-256")
        else:
            good.update(pending)
    remember_hashes(good)  # only hashes that matched the registry are remembered
    return problems


def status(spec: ModelSpec) -> tuple[str, Path | None]:
    """Cheap status for ``models list`` (sizes only, no hashing)."""
    found = locate(spec)
    if found is None:
        return "no", None
    folder, source = found
    for f in spec.files:
        try:
            if (folder / f.name).stat().st_size != f.size:
                return "incomplete", folder
        except OSError:
            return "incomplete", folder
    return ("built-in" if source == "package" else "yes"), folder


def verify(name: str) -> tuple[Path, list[str]]:
    """Re-hash every file of an installed model; returns (folder, problems)."""
    spec = get_spec(name)
    found = locate(spec)
    if found is None:
        raise ModelError(f"The {name} model is not installed.", hint=fix_hint(name))
    folder, _ = found
    return folder, check_files(spec, folder, full=True)
