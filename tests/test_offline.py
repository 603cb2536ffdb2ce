"""A full transcription opens no network socket.

The CLI runs in a fresh process whose ``sitecustomize`` replaces ``socket.socket`` (and the
name-resolution and connect helpers) with functions that record the attempt in a file and raise.
The run must succeed, write its transcript, and record nothing. ``HF_HUB_OFFLINE`` is removed
from the child's environment on purpose: voicenotes must set it itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import SPEECH

pytestmark = pytest.mark.model

SITECUSTOMIZE = textwrap.dedent('''
    import os, socket

    _LOG = os.environ["VN_SOCKET_LOG"]

    def _deny(what):
        def blocked(*args, **kwargs):
            with open(_LOG, "a") as fh:
                fh.write(what + "\\n")
            raise OSError("network access blocked by test_offline")
        return blocked

    class _NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            _deny("socket.socket")()

    socket.socket = _NoSocket
    socket.create_connection = _deny("create_connection")
    socket.getaddrinfo = _deny("getaddrinfo")
    socket.socketpair = _deny("socketpair")
''')


@pytest.mark.parametrize("model", ["tiny.en", "base"])
def test_full_transcription_opens_no_socket(tmp_path, model):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "sockets.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(PYTHONPATH=str(site), VN_SOCKET_LOG=str(log))
    # the guard really is in place: a plain socket fails in such a child
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.socket()"], env=env,
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "blocked by test_offline" in probe.stderr
    log.unlink()

    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "voicenotes", "transcribe", str(SPEECH / "clips" / "misc__jfk.flac"),
         "--model", model, "--out", str(out), "--format", "json"],
        env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not log.exists(), log.read_text()
    data = json.loads((out / "misc__jfk.json").read_text())
    assert "your country" in " ".join(s["text"] for s in data["segments"])
