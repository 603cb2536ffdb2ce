"""Fault cases: no device, PortAudio missing, device failing mid-recording (a fake stream at the
sounddevice seam — fault cases only; the real capture path is in test_record.py), read-only and
full output folders, repair of damaged files. Every case: a plain message, audio kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_record_rig import (  # noqa: F401 - fixtures
    CONSENT_FLAGS,
    REPO,
    VOICENOTES,
    jfk_raw,
    journal,
    pyav_seconds,
    rig,
    soxi_seconds,
    wav_samples,
    wave_seconds,
)
from typer.testing import CliRunner

from voicenotes import record as rec
from voicenotes.cli import app
from voicenotes.record.consent import consent_from_flags, save_consent


def _env(home: Path, **extra) -> dict:
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO), **extra}
    env.pop("VOICENOTES_DEBUG", None)
    return env


def _run(args, env, input="", timeout=30):
    return subprocess.run([*VOICENOTES, *args], env=env, input=input, capture_output=True,
                          text=True, timeout=timeout)


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --------------------------------------------------------------------------- fake stream


class _Status:
    def __init__(self, overflow: bool):
        self.input_overflow = overflow

    def __bool__(self):
        return self.input_overflow


class FakeStream:
    """Delivers ``blocks`` through the callback, then vanishes (``active`` False and the
    finished callback) like an unplugged device; or raises on start."""

    def __init__(self, blocks, *, callback, finished_callback=None, blocksize, channels,
                 interval=0.002, vanish=True, overflow_every=0, raise_on_start=False,
                 **_kw):
        self.blocks, self.callback, self.finished = blocks, callback, finished_callback
        self.interval, self.vanish = interval, vanish
        self.overflow_every, self.raise_on_start = overflow_every, raise_on_start
        self.active = False
        self._halt = threading.Event()

    def start(self):
        if self.raise_on_start:
            raise RuntimeError("Error opening InputStream: Device unavailable [PaErrorCode -9985]")
        self.active = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        for i, block in enumerate(self.blocks):
            if self._halt.is_set():
                return
            status = _Status(bool(self.overflow_every) and i % self.overflow_every == 0)
            self.callback(block, len(block), None, status)
            time.sleep(self.interval)
        if self.vanish:
            self.active = False
            if self.finished:
                self.finished()
        else:  # stays "active" but sends nothing (a stalled device)
            self._halt.wait()

    def stop(self):
        self._halt.set()
        if not self.vanish:
            self.active = False

    def close(self):
        self._halt.set()


def _blocks(jfk: bytes, seconds: float) -> list[np.ndarray]:
    a = np.frombuffer(jfk, dtype="<i2")[: int(seconds * 16000)]
    return [a[i:i + 1600].reshape(-1, 1) for i in range(0, len(a), 1600)]


def _consented_folder(out: Path) -> Path:
    folder = rec.new_session_folder(out)
    save_consent(consent_from_flags(parties="counselor,client", scope="recording",
                                    method="verbal", retention_days=None, form_version=None,
                                    dictation=False), folder)
    return folder


def _recorder(folder, blocks, **stream_kw):
    def factory(**kw):
        return FakeStream(blocks, **{**kw, **stream_kw})

    return rec.Recorder(folder, rec.RecordOptions(out=folder.parent, max_seconds=60),
                        device={"index": 0, "name": "fake"}, stream_factory=factory,
                        display_stream=open(os.devnull, "w"), read_keys=False,
                        stall_seconds=0.5)


def test_device_vanishes_mid_recording_audio_kept(tmp_path, jfk_raw):
    folder = _consented_folder(tmp_path / "out")
    blocks = _blocks(jfk_raw, 3.0)
    result = _recorder(folder, blocks, overflow_every=10).run(16000, 1)
    assert result.device_error and "stopped sending sound" in result.device_error
    assert result.stop_reason == "device error"
    j = journal(folder)
    assert j["state"] == "finished" and j["device_error"] == result.device_error
    assert j["overflows"] == 3 and j["status_flags"] == {"input_overflow": 3}
    wav = folder / "session-0001.wav"
    assert wave_seconds(wav) == pytest.approx(3.0) == soxi_seconds(wav)
    assert np.array_equal(wav_samples(wav), np.concatenate(blocks)[:, 0])


def test_device_stalls_is_a_device_error(tmp_path, jfk_raw):
    folder = _consented_folder(tmp_path / "out")
    result = _recorder(folder, _blocks(jfk_raw, 1.0), vanish=False).run(16000, 1)
    assert result.device_error and "sent no sound" in result.device_error
    assert wave_seconds(folder / "session-0001.wav") == pytest.approx(1.0)


def test_cli_device_fails_to_open_plain_message(tmp_path, monkeypatch):
    """Through the CLI with a fake sounddevice: exit 6, one plain line, the folder finalised."""

    class FakeSD:
        default = type("D", (), {"device": (0, -1)})()

        @staticmethod
        def query_devices():
            return [{"index": 0, "name": "USB mic", "hostapi": 0, "max_input_channels": 1,
                     "default_samplerate": 16000.0}]

        @staticmethod
        def query_hostapis():
            return [{"name": "ALSA"}]

        @staticmethod
        def check_input_settings(**kw):
            return None

        @staticmethod
        def InputStream(**kw):
            return FakeStream([], raise_on_start=True, **kw)

    # `voicenotes record` looks the name up on the package facade (`rec.import_sounddevice()`),
    # so that is where it is patched; choose_device and pick_format are then handed FakeSD
    monkeypatch.setattr(rec, "import_sounddevice", lambda: FakeSD)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["record", "--out", str(out), "--max-seconds", "5",
                                 *CONSENT_FLAGS])
    assert r.exit_code == 6, r.output
    assert "could not be opened" in r.output and "Nothing was recorded" in r.output
    assert "Traceback" not in r.output
    folder = next(out.iterdir())
    assert journal(folder)["state"] == "finished"
    assert wave_seconds(folder / "session-0001.wav") == 0.0
    assert (folder / "consent.json").is_file()


# --------------------------------------------------------------------------- no device / PortAudio


def test_no_input_device(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home)
    r = _run(["devices"], env)
    if r.returncode == 0:
        pytest.skip("this machine has a real sound input")
    assert r.returncode == 6 and "No microphone" in r.stderr and "Traceback" not in r.stderr
    out = tmp_path / "out"
    r = _run(["record", "--out", str(out), *CONSENT_FLAGS], env)
    assert r.returncode == 6 and "No microphone or other sound input" in r.stderr
    assert _files(out) == []


def test_portaudio_missing(tmp_path):
    """sounddevice raises OSError when libportaudio2 is absent; simulate exactly that import."""
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    env = _env(tmp_path, PYTHONPATH=f"{fake}{os.pathsep}{REPO}")
    for args in (["devices"], ["record", "--out", str(tmp_path / "out"), *CONSENT_FLAGS]):
        r = _run(args, env)
        assert r.returncode == 6, r.stderr
        assert "No sound input library (PortAudio)" in r.stderr and "libportaudio2" in r.stderr
        assert "Traceback" not in r.stderr
    assert _files(tmp_path / "out") == []


def test_devices_lists_the_default(rig):
    rig.start()
    r = rig.run("devices")
    assert r.returncode == 0, r.stderr
    assert any(line.startswith("*") and "default" in line for line in r.stdout.splitlines())


# --------------------------------------------------------------------------- storage


def _mount_tmpfs(path: Path, opts: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                       capture_output=True)
    return r.returncode == 0


@pytest.fixture()
def mounts():
    made: list[Path] = []

    def mount(path: Path, opts: str) -> Path:
        if not _mount_tmpfs(path, opts):
            pytest.skip("cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN); chmod cannot "
                        "make a folder read-only for root")
        made.append(path)
        return path

    yield mount
    for p in reversed(made):
        subprocess.run(["umount", "-l", str(p)], capture_output=True)


def test_read_only_folder_refused_before_consent(rig, mounts):
    rig.start()
    ro = mounts(rig.root / "ro", "ro,size=1m")
    r = rig.run("record", "--out", str(ro / "recordings"), "--max-seconds", "5", *CONSENT_FLAGS)
    assert r.returncode == 7, r.stderr
    assert "cannot be written to" in r.stderr and "Read-only" in r.stderr
    assert "Traceback" not in r.stderr


def test_not_enough_space_refused(rig, mounts):
    rig.start()
    small = mounts(rig.root / "small", "size=256k")
    r = rig.run("record", "--out", str(small), "--max-minutes", "10", *CONSENT_FLAGS)
    assert r.returncode == 7 and "Not enough free space" in r.stderr, r.stderr
    assert _files(small) == []


def test_disk_full_while_recording_keeps_audio(tmp_path, mounts, jfk_raw):
    small = mounts(tmp_path / "small", "size=200k")
    folder = _consented_folder(small)
    result = _recorder(folder, _blocks(jfk_raw, 11.0)).run(16000, 1)
    assert result.storage_error and "disk is full" in result.storage_error
    wav = folder / "session-0001.wav"
    # whatever reached the disk is readable by the strict readers; nothing was deleted
    secs = wave_seconds(wav)
    assert secs > 1.0
    assert abs(secs - soxi_seconds(wav)) <= 0.1 and abs(secs - pyav_seconds(wav)) <= 0.1
    got = wav_samples(wav)
    assert np.array_equal(got, np.frombuffer(jfk_raw, dtype="<i2")[:len(got)])


# --------------------------------------------------------------------------- repair


def test_recover_rebuilds_a_torn_header_and_keeps_every_byte(tmp_path, jfk_raw):
    folder = tmp_path / "rec"
    folder.mkdir()
    pcm = jfk_raw[: 16000 * 2 * 2] + b"\x01"  # 2 s and a half sample frame
    wav = folder / "session-0001.wav"
    wav.write_bytes(b"\0" * 44 + pcm)  # header never reached the disk
    (folder / "recording.json").write_text(json.dumps(
        {"state": "recording", "sample_rate": 16000, "channels": 1,
         "files": [{"name": "session-0001.wav", "synced_bytes": 44}]}))
    (folder / ".tmp-abc").write_text("{")  # a torn journal write
    size = wav.stat().st_size
    reports = rec.recover(tmp_path)
    assert len(reports) == 1 and reports[0].files[0].header_rebuilt
    assert wav.stat().st_size == size and not (folder / ".tmp-abc").exists()
    assert wave_seconds(wav) == pytest.approx(2.0) == soxi_seconds(wav)
    assert pyav_seconds(wav) == pytest.approx(2.0, abs=0.1)
    assert wav_samples(wav).tobytes() == pcm[:-1]
    j = journal(folder)
    assert j["state"] == "recovered" and j["files"][0]["partial_frame_bytes"] == 1
    assert rec.recover(tmp_path) == []  # idempotent


def test_recover_multi_part_repairs_and_joins(tmp_path, jfk_raw):
    """A crash after a rollover: the closed part is intact, the open one has a stale header;
    recover repairs it and joins both (losslessly) into session-all.wav, keeping the parts."""
    folder = tmp_path / "rec"
    folder.mkdir()
    a, b = jfk_raw[:64000], jfk_raw[64000:100000]
    (folder / "session-0001.wav").write_bytes(rec.wav_header(16000, 1, len(a)) + a)
    (folder / "session-0002.wav").write_bytes(rec.wav_header(16000, 1, 3200) + b)
    (folder / "recording.json").write_text(json.dumps(
        {"state": "recording", "sample_rate": 16000, "channels": 1,
         "files": [{"name": "session-0001.wav", "synced_bytes": 44 + len(a)}]}))
    [report] = rec.recover(tmp_path)
    assert report.joined == "session-all.wav" and "joined" in report.message()
    assert [f.changed for f in report.files] == [False, True]
    joined = folder / "session-all.wav"
    assert wav_samples(joined).tobytes() == a + b
    assert wave_seconds(joined) == pytest.approx(len(a + b) / 32000) == soxi_seconds(joined)
    assert wave_seconds(folder / "session-0002.wav") == pytest.approx(len(b) / 32000)
    assert journal(folder)["joined_file"] == "session-all.wav"


def test_recover_leaves_a_live_recording_alone(tmp_path, jfk_raw):
    import fcntl

    folder = tmp_path / "live"
    folder.mkdir()
    (folder / "session-0001.wav").write_bytes(rec.wav_header(16000, 1, 0) + jfk_raw[:32000])
    (folder / "recording.json").write_text(json.dumps(
        {"state": "recording", "sample_rate": 16000, "channels": 1}))
    fd = os.open(folder / rec.LOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running recorder holds it
    try:
        assert rec.recover(tmp_path) == []
        assert journal(folder)["state"] == "recording"
    finally:
        os.close(fd)
    assert len(rec.recover(tmp_path)) == 1
    assert wave_seconds(folder / "session-0001.wav") == pytest.approx(1.0)


def test_recover_cli_plain_messages(tmp_path):
    env = _env(tmp_path)
    r = _run(["recover", str(tmp_path / "nope")], env)
    assert r.returncode == 7 and "does not exist" in r.stderr
    r = _run(["recover", str(tmp_path)], env)
    assert r.returncode == 0 and "nothing to repair" in r.stderr


def test_help_does_not_import_sounddevice():
    code = ("import sys; from voicenotes.cli import app; "
            "from typer.testing import CliRunner; "
            "r = CliRunner().invoke(app, ['record', '--help']); assert r.exit_code == 0; "
            "assert 'sounddevice' not in sys.modules and 'numpy' not in sys.modules, "
            "sorted(m for m in sys.modules if m in ('sounddevice', 'numpy'))")
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(Path("/tmp")))
