"""``voicenotes enroll --seconds N`` through a real PortAudio capture (the ALSA FIFO rig of
test_record_rig.py, fed with the real JFK recording): the stored voice profile must be JFK's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from test_record_rig import jfk_raw, rig  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # the tests own their data (see tests/data/SOURCES.md)
CLIPS = DATA / "speech" / "clips"


def test_enroll_from_the_microphone(rig):
    from faster_whisper import decode_audio

    from voicenotes.speakers import embed_utterance

    rig.env["VOICENOTES_HOME"] = str(rig.root / "vn")
    rig.start(speed=3.0)
    res = rig.run("enroll", "--seconds", "10", "--yes", timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Recording 10 s" in res.stderr and "Enrolled your voice" in res.stdout
    rec = json.loads((rig.root / "vn" / "speakers" / "counselor.json").read_text())
    assert rec["source"]["kind"] == "microphone" and rec["source"]["speech_s"] >= 5
    stored = np.asarray(rec["embedding"], dtype=np.float32)
    jfk = embed_utterance(decode_audio(str(CLIPS / "misc__jfk.flac")))
    other = embed_utterance(decode_audio(str(CLIPS / "ljspeech_lj001__LJ001-0001.flac")))
    assert float(stored @ jfk) >= 0.85
    assert float(stored @ jfk) > float(stored @ other) + 0.1
    # no audio file was left behind: only the profile
    assert sorted(p.name for p in (rig.root / "vn" / "speakers").iterdir()) == ["counselor.json"]
