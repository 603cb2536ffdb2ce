"""Shared fixtures. The real data the tests use lives in ``tests/data`` (sources and licences in
``tests/data/SOURCES.md``), so a plain clone passes."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # the tests own their data (see tests/data/SOURCES.md)
SPEECH = DATA / "speech"
EXTRACTION = DATA / "extraction"
AMI = DATA / "conversation" / "ami"

# Tests never reach a model hub (the suite must pass with the network cut).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# One audit key for the run (subprocesses inherit it), never the user's own.
os.environ.setdefault("VOICENOTES_AUDIT_KEY",
                      os.path.join(tempfile.mkdtemp(prefix="vn-audit-key-"), "audit.key"))


def _pin_speaker_models() -> None:
    """Tests move HOME and VOICENOTES_HOME (and with them the model store); the installed
    speaker-separation weights stay reachable through VOICENOTES_SPEAKER_MODELS, resolved once
    here (scripts/test installs them; tests of the not-installed case unset it)."""
    if os.environ.get("VOICENOTES_SPEAKER_MODELS"):
        return
    try:
        from voicenotes.models import speaker_model_dir

        os.environ["VOICENOTES_SPEAKER_MODELS"] = str(speaker_model_dir())
    except Exception:
        pass


_pin_speaker_models()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def speech_refs(data_dir) -> list[dict]:
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
