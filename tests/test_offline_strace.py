"""A full ``voicenotes note`` on real speech makes no network call and leaves no telemetry files.

The run is traced with ``strace -f -e trace=connect,sendto,sendmsg`` (every thread and child
process): not one connect or send may use an internet address family (AF_INET/AF_INET6; DNS
lookups included). HOME is a fresh folder, and afterwards nothing may be in it but voicenotes'
own data folder: onnxruntime's telemetry client (used by faster-whisper's speech detector and
the semantic layer) writes ``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` and queries a
Microsoft host unless voicenotes turns it off before the library loads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SPEECH

pytestmark = [pytest.mark.model,
              pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed "
                                 "(scripts/test installs it)")]

INET = re.compile(r"\b(connect|sendto|sendmsg)\(.*\bAF_INET6?\b")


def _traced(tmp_path: Path, args: list[str], env: dict) -> tuple[subprocess.CompletedProcess, list[str]]:
    log = tmp_path / "strace.log"
    proc = subprocess.run(["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg",
                           "-o", str(log), *args], env=env, capture_output=True, text=True,
                          timeout=300)
    calls = log.read_text().splitlines() if log.exists() else []
    return proc, [c for c in calls if INET.search(c)]


def _env(home: Path) -> dict:
    from voicenotes.models import models_dir, speaker_model_dir

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "ORT_", "DO_NOT_TRACK"))}  # voicenotes must set them itself
    env.update(HOME=str(home), PYTHONPATH=str(REPO), VOICENOTES_MODELS_DIR=str(models_dir()),
               VOICENOTES_SPEAKER_MODELS=str(speaker_model_dir()))
    env.pop("VOICENOTES_HOME", None)
    env.pop("VOICENOTES_AUDIT_KEY", None)  # the key goes in HOME's data folder, as for a user
    return env


def test_the_trace_sees_an_inet_connect(tmp_path):
    """The detector works: a process that connects to a local TCP port is caught."""
    code = ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
            "except OSError:\n    pass\n")
    _, calls = _traced(tmp_path, [sys.executable, "-c", code], dict(os.environ))
    assert calls and "AF_INET" in calls[0]


def test_full_note_makes_no_network_call_and_writes_no_telemetry(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    out = tmp_path / "out"
    clip = SPEECH / "clips" / "misc__jfk.flac"  # 11 s of real speech
    proc, calls = _traced(tmp_path, [sys.executable, "-m", "voicenotes", "note", str(clip),
                                     "--model", "tiny.en", "--out", str(out)],
                          _env(home))
    assert proc.returncode == 0, proc.stderr
    assert (out / "note.md").is_file() and (out / "audit.jsonl").is_file()
    assert "your country" in (out / "transcript.json").read_text()
    assert calls == [], "\n".join(calls[:5])
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert not [p for p in left if "Microsoft" in p or "onnxruntime" in p], left
    # the only thing written under HOME is voicenotes' own data folder (its audit key)
    assert left == [".local/share/voicenotes/audit.key"], left


def test_semantic_extraction_makes_no_network_call_and_writes_no_telemetry(tmp_path):
    """The semantic layer creates its own onnxruntime session: the same holds for it."""
    pytest.importorskip("onnxruntime")
    from voicenotes.extract.semantic import available

    if not available():
        pytest.skip("the semantic extra is not installed")
    home = tmp_path / "home"
    home.mkdir()
    from test_note_helpers import hand_transcript

    src = tmp_path / "transcript.json"
    src.write_text(json.dumps(hand_transcript().to_dict()))
    out = tmp_path / "items.json"
    proc, calls = _traced(tmp_path, [sys.executable, "-m", "voicenotes", "extract", str(src),
                                     "--semantic", "--out", str(out)], _env(home))
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and calls == [], "\n".join(calls[:5])
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert not [p for p in left if "Microsoft" in p or "onnxruntime" in p], left
