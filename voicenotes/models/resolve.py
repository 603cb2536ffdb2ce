"""Turning a model name or folder into a checked local folder, and keeping the hub offline."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from voicenotes.errors import ModelError
from voicenotes.models.checksums import check_files, file_sha256
from voicenotes.models.registry import (
    ENV_SPEAKER_MODELS,
    SPEAKERS,
    ModelSpec,
    default_model_name,
    fix_hint,
    get_spec,
    load_registry,
    locate,
)

REQUIRED_FOR_PATH = ("model.bin", "config.json", "tokenizer.json")  # tokenizer: else a hub fetch
MULTILINGUAL_VOCAB = 51865  # CTranslate2: a Whisper vocabulary this large is multilingual


@dataclass(frozen=True)
class ResolvedModel:
    """A local CTranslate2 Whisper folder that passed its checks (the cross-area contract)."""

    name: str
    path: Path
    sha256: str  # of model.bin
    multilingual: bool
    source: str = "path"  # "store" | "package" | "path"


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
    folder, where, hint = _speaker_folder(spec)
    problems = check_files(spec, folder, full=False)
    if problems:
        raise ModelError(f"The speaker-separation models in {where} are damaged or incomplete "
                         f"({'; '.join(problems)}).", hint=hint)
    return folder


def _speaker_folder(spec: ModelSpec) -> tuple[Path, str, str]:
    """(folder, how to name it, hint) of the speaker weights: the env override, else the store."""
    override = os.environ.get(ENV_SPEAKER_MODELS)
    if not override:
        hint = f"Install them with: voicenotes models install {SPEAKERS}"
        found = locate(spec)
        if found is None:
            raise ModelError("The speaker-separation models are not installed.", hint=hint)
        return found[0], str(found[0]), hint
    folder = Path(override).expanduser().resolve()
    where = f"{folder} (from {ENV_SPEAKER_MODELS})"
    hint = (f"Point {ENV_SPEAKER_MODELS} at a folder holding them, or unset it and run: "
            f"voicenotes models install {SPEAKERS}")
    if not folder.is_dir():
        raise ModelError(f"The speaker-separation models folder {where} does not exist.",
                         hint=hint)
    return folder, where, hint


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
        setattr(constants, "HF_HUB_OFFLINE", True)  # noqa: B010 - not declared on ModuleType
        setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)  # noqa: B010
