"""Shared fixtures. Real data lives in ``../shared`` beside the checkout (as in CI)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VOICENOTES_SHARED", REPO.parent / "shared"))
SPEECH = SHARED / "data" / "speech"
EXTRACTION = SHARED / "data" / "extraction"
AMI = SHARED / "data" / "conversation" / "ami"

# Tests never reach a model hub (the suite must pass with the network cut).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def _pin_speaker_models() -> None:
    """Tests move HOME and VOICENOTES_HOME (and with them the model store); the installed
    speaker-separation weights stay reachable through VOICENOTES_SPEAKER_MODELS, resolved once
    here (scripts/test installs them; tests of the not-installed case unset it)."""
    if os.environ.get("VOICENOTES_SPEAKER_MODELS"):
        return
    try:
        from voicenotes.models import speaker_model_dir

        os.environ["VOICENOTES_SPEAKER_MODELS"] = str(speaker_model_dir())
    except Exception:  # noqa: BLE001 - not installed: the tests that need it say so
        pass


_pin_speaker_models()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data not found at {SHARED}; CI places it beside the checkout")
    return SHARED


@pytest.fixture(scope="session")
def speech_refs(shared_dir) -> list[dict]:
    with open(SPEECH / "refs.tsv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture()
def isolated_home(tmp_path, monkeypatch) -> Path:
    """A private HOME so tests never touch the user's data or config."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_transcriber():
    """One loaded tiny.en :class:`voicenotes.transcribe.Transcriber` shared by every test that
    needs real Whisper (default decoding settings otherwise: batched 8, beam 5, VAD 2000 ms)."""
    from voicenotes.transcribe import TranscribeOptions, Transcriber

    transcriber = Transcriber(TranscribeOptions(model="tiny.en"))
    transcriber.load()
    return transcriber
