"""Symbolic links in a session folder are refused, never followed: ``recover`` (which ``record``
runs on its folder) would otherwise rewrite the first bytes of whatever a linked
``session-0001.wav`` points at."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from voicenotes import record as rec
from voicenotes.errors import InputError
from voicenotes.record.recover import repair_wav

REPO = Path(__file__).resolve().parent.parent


def _run(args, home: Path):
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("VOICENOTES_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "voicenotes", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def _stale_wav(path: Path) -> bytes:
    """A WAV whose header says 0 bytes of audio but holds 1 s: recover would rewrite it."""
    data = rec.wav_header(16000, 1, 0) + bytes(range(256)) * 125
    path.write_bytes(data)
    return data


def test_recover_refuses_a_symlinked_part_and_leaves_its_target_untouched(tmp_path):
    target = tmp_path / "precious.wav"
    before = _stale_wav(target)
    folder = tmp_path / "recordings" / "rec"
    folder.mkdir(parents=True)
    (folder / "session-0001.wav").symlink_to(target)
    (folder / "recording.json").write_text(json.dumps(
        {"state": "recording", "sample_rate": 16000, "channels": 1}))
    r = _run(["recover", str(tmp_path / "recordings")], tmp_path)
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "symbolic link" in lines[0] and "session-0001.wav" in lines[0]
    assert "Traceback" not in r.stderr
    assert target.read_bytes() == before
    assert json.loads((folder / "recording.json").read_text())["state"] == "recording"
    # the repair itself opens with O_NOFOLLOW too
    with pytest.raises(InputError, match="symbolic link"):
        repair_wav(folder / "session-0001.wav", 16000, 1)
    assert target.read_bytes() == before


def test_recover_still_repairs_a_real_part(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    _stale_wav(folder / "session-0001.wav")
    (folder / "recording.json").write_text(json.dumps(
        {"state": "recording", "sample_rate": 16000, "channels": 1}))
    [report] = rec.recover(tmp_path)
    assert report.files[0].changed and report.files[0].frames == 16000
