"""The enrolled counselor voice: one voice embedding stored on this computer (0600, atomic),
made from a recording of the counselor alone, read back to pick the counselor in sessions.
numpy is imported inside functions."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicenotes.errors import InputError
from voicenotes.speakers.decode import decode
from voicenotes.speakers.voiceprint import (
    EMBED_DIM,
    ENCODER_NAME,
    SAMPLE_RATE,
    _require,
    embed_utterance,
    normalize_volume,
    vad_regions,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

ENROLL_FILE = "counselor.json"
ENROLL_SCHEMA_VERSION = 2  # 2: CAM++ 192-d (1 was the resemblyzer 256-d voice encoder)
MIN_ENROLL_SPEECH_S = 5.0


def data_dir() -> Path:
    """The per-user data folder (``$VOICENOTES_HOME`` or ``~/.local/share/voicenotes``)."""
    if os.environ.get("VOICENOTES_HOME"):
        return Path(os.environ["VOICENOTES_HOME"]).expanduser()
    return Path.home() / ".local" / "share" / "voicenotes"


def enrollment_path() -> Path:
    return data_dir() / "speakers" / ENROLL_FILE


def enroll_file(audio_path: Path, *, consent_how: str) -> dict[str, Any]:
    """Embed the counselor's voice from a recording of them alone and store it (0600, atomic)."""
    from voicenotes.store import sha256_file

    _require()
    audio_path = Path(audio_path)
    from voicenotes.audio import probe

    probe(audio_path, check_channels_s=None)
    d = decode(audio_path, keep_mono=True)
    assert d.mono is not None  # decoded with keep_mono
    return enroll_audio(d.mono, {"file_name": audio_path.name,
                                 "sha256": sha256_file(audio_path)}, consent_how=consent_how)


def enroll_audio(wav: np.ndarray, source: dict[str, Any], *, consent_how: str,
                 what: str = "file") -> dict[str, Any]:
    """Store the voice embedding of ``wav`` (16-kHz mono, the counselor alone). Only the
    embedding is kept: 192 numbers that cannot be turned back into audio."""
    import numpy as np

    from voicenotes.store import atomic_write_json, ensure_private_dir

    _require()
    wav = normalize_volume(np.asarray(wav, dtype=np.float32))
    regions = vad_regions(wav)
    speech_s = sum(b - a for a, b in regions)
    if speech_s < MIN_ENROLL_SPEECH_S:
        where = source.get("file_name") or "The recording"
        raise InputError(f"{where} holds only {speech_s:.1f} s of speech; enrolling needs at "
                         f"least {MIN_ENROLL_SPEECH_S:.0f} s of your own voice.",
                         hint="Record 20-30 seconds of yourself speaking normally (voicenotes "
                         "enroll --seconds 30) or enroll a longer file.")
    speech = np.concatenate([wav[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)] for a, b in regions])
    emb = embed_utterance(speech)
    record = {
        "schema_version": ENROLL_SCHEMA_VERSION,
        "role": "counselor",
        "model": ENCODER_NAME,
        "embedding": [round(float(x), 6) for x in emb],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {**source, "kind": what, "speech_s": round(speech_s, 1)},
        "consent": {"given": True, "how": consent_how,
                    "what": "keep a voice embedding of the counselor on this computer to "
                            "label the counselor in session recordings"},
    }
    path = enrollment_path()
    ensure_private_dir(path.parent)
    atomic_write_json(path, record)
    return {**record, "path": str(path)}


def read_enrollment_record(path: Path | None = None) -> dict[str, Any] | None:
    path = Path(path) if path else enrollment_path()
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError(f"The enrolled voice file {path} is damaged.",
                         hint="Enroll again with: voicenotes enroll FILE") from None


def load_enrollment(path: Path | None = None) -> np.ndarray | None:
    """The stored counselor embedding, or None when nobody enrolled."""
    import numpy as np

    path = Path(path) if path else enrollment_path()
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        old = data.get("schema_version", 1) < ENROLL_SCHEMA_VERSION
        emb = np.asarray(data["embedding"], dtype=np.float32)
        if not old and (emb.shape != (EMBED_DIM,) or not np.isfinite(emb).all()):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"The enrolled voice file {path} is damaged.",
                         hint="Enroll again with: voicenotes enroll FILE") from None
    if old:
        raise InputError("The enrolled counselor voice was stored by an earlier version of "
                         "voicenotes, whose voice model has been replaced.",
                         hint="Enroll again with: voicenotes enroll FILE, or remove it with: "
                         "voicenotes enroll --forget")
    return emb / max(float(np.linalg.norm(emb)), 1e-8)


def forget_enrollment() -> bool:
    path = enrollment_path()
    if path.exists():
        path.unlink()
        return True
    return False
