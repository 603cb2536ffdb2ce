"""A real PortAudio capture path without a sound card.

ALSA's ``file`` plugin is made the default capture device through a private ``$HOME/.asoundrc``;
its ``infile`` is a FIFO that :class:`Feeder` fills with real speech (16 kHz mono s16 PCM made by
sox from a clip in tests/data) at real-time pace. Findings that shaped this rig (measured here):

* with a regular file as ``infile`` the plugin delivers as fast as it can read (14 s of audio in
  0.01 s) and loops at the end — useless for timing, kill and pause tests;
* with a FIFO, reads block until data arrives, so the capture runs at the feeder's pace; a short
  read leaves stale samples in the period, so the feeder writes whole 100 ms periods (1600
  frames = the recorder's block size, 3200 bytes < PIPE_BUF, so each write is atomic);
* PortAudio opens the device several times while probing; each open of the FIFO is a new
  connection, so the feeder starts the clip again for each reader (the last one is the stream).

This module holds no tests; ``test_record*.py`` and ``test_consent.py`` import its fixtures.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VOICENOTES = [sys.executable, "-m", "voicenotes"]
RATE = 16000
PERIOD_FRAMES = 1600

CONSENT_FLAGS = ["--consent-parties", "counselor,client", "--consent-scope",
                 "recording,transcription", "--consent-method", "verbal"]


class Feeder(threading.Thread):
    """Writes PCM into a FIFO at ``speed`` x real time, whole periods at a time, then silence."""

    def __init__(self, fifo: Path, data: bytes, speed: float = 1.0):
        super().__init__(daemon=True, name="fifo-feeder")
        self.fifo, self.data, self.speed = str(fifo), data, speed
        self.chunk = PERIOD_FRAMES * 2
        self.halt = threading.Event()
        self.connections = 0
        self._fed = 0
        self._lock = threading.Lock()

    def fed_seconds(self, after: int | None = None) -> float:
        """Audio handed to the current (last) reader so far; with ``after``, 0 until a reader
        newer than connection number ``after`` is connected (so a killed recorder's stale
        connection never counts for the next one)."""
        with self._lock:
            if after is not None and self.connections <= after:
                return 0.0
            return self._fed / 2 / RATE

    def mark(self) -> int:
        """The current connection number (pass to ``fed_seconds(after=...)``)."""
        with self._lock:
            return self.connections

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no reader yet
                    time.sleep(0.003)
                    continue
                raise
            os.set_blocking(fd, True)
            with self._lock:
                self.connections += 1
                self._fed = 0
            t0, pos = time.monotonic(), 0
            try:
                while not self.halt.is_set():
                    block = self.data[pos:pos + self.chunk]
                    block += b"\0" * (self.chunk - len(block))
                    os.write(fd, block)
                    pos += len(block)
                    with self._lock:
                        self._fed = pos
                    dt = t0 + pos / 2 / RATE / self.speed - time.monotonic()
                    if dt > 0:
                        time.sleep(dt)
            except BrokenPipeError:
                pass
            finally:
                os.close(fd)

    def stop(self) -> None:
        self.halt.set()
        # unblock a pending open/write by briefly opening the read end
        try:
            fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass
        self.join(timeout=2)


class AlsaRig:
    def __init__(self, root: Path, source_raw: bytes):
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.fifo = root / "capture.fifo"
        os.mkfifo(self.fifo)
        (self.home / ".asoundrc").write_text(
            'pcm.!default { type asym  capture.pcm "filecap"  playback.pcm "null" }\n'
            f'pcm.filecap  {{ type file  slave.pcm "null"  file "/dev/null"  '
            f'infile "{self.fifo}"  format "raw" }}\n')
        self.source = source_raw
        self.feeder: Feeder | None = None
        self.env = dict(os.environ, HOME=str(self.home), PYTHONPATH=str(REPO),
                        VOICENOTES_RECORDINGS=str(root / "default-out"))
        self.env.pop("VOICENOTES_DEBUG", None)

    def start(self, data: bytes | None = None, speed: float = 1.0) -> Feeder:
        self.feeder = Feeder(self.fifo, self.source if data is None else data, speed)
        self.feeder.start()
        return self.feeder

    def stop(self) -> None:
        if self.feeder is not None:
            self.feeder.stop()

    def popen(self, *args: str, stdin=subprocess.PIPE) -> subprocess.Popen:
        return subprocess.Popen([*VOICENOTES, *args], env=self.env, cwd=self.root, stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, *args: str, input: str | None = None, timeout: float = 60,
            keep_stdin_open: bool = False) -> subprocess.CompletedProcess:
        """Run voicenotes; stdin gets ``input`` then closes (or stays open until exit)."""
        p = self.popen(*args)
        try:
            if keep_stdin_open:
                if input:
                    p.stdin.write(input)
                    p.stdin.flush()
                out, err = _wait_open(p, timeout)
            else:
                out, err = p.communicate(input=input or "", timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise AssertionError(f"voicenotes timed out: {err}") from None
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def _wait_open(p: subprocess.Popen, timeout: float):
    end = time.monotonic() + timeout
    while p.poll() is None:
        if time.monotonic() > end:
            raise subprocess.TimeoutExpired(p.args, timeout)
        time.sleep(0.05)
    out, err = p.stdout.read(), p.stderr.read()
    try:
        p.stdin.close()
    except OSError:
        pass
    return out, err


@pytest.fixture(scope="session")
def jfk_raw(tmp_path_factory, data_dir) -> bytes:
    """The JFK clip (11 s) as 16 kHz mono s16le PCM, made by sox."""
    out = tmp_path_factory.mktemp("jfk") / "jfk.raw"
    subprocess.run(["sox", str(data_dir / "speech/clips/misc__jfk.flac"), "-r", "16000",
                    "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", str(out)],
                   check=True)
    return out.read_bytes()


@pytest.fixture()
def rig(tmp_path, jfk_raw):
    try:
        import sounddevice  # noqa: F401
    except OSError as exc:  # pragma: no cover - scripts/test installs libportaudio2
        pytest.fail(f"PortAudio is not installed ({exc}); scripts/test installs libportaudio2")
    r = AlsaRig(tmp_path, jfk_raw)
    yield r
    r.stop()


# --------------------------------------------------------------------------- readers


def wave_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def soxi_seconds(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True,
                                check=True).stdout.strip())


def pyav_seconds(path: Path) -> float:
    """Samples PyAV actually decodes (what faster-whisper reads)."""
    import av

    n, rate = 0, None
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.rate
        for frame in c.decode(stream):
            n += frame.samples
    return n / rate


def wav_samples(path: Path):
    import numpy as np

    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def journal(folder: Path) -> dict:
    return json.loads((folder / "recording.json").read_text())


def only_session(out: Path) -> Path:
    folders = [p for p in out.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]
