"""Real PortAudio capture (ALSA file plugin fed from a FIFO, see test_record_rig.py): recording,
rollover, pause, stop signals, kill -9 and simulated power loss with recovery."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from test_record_rig import (  # noqa: F401 - fixtures
    CONSENT_FLAGS,
    PERIOD_FRAMES,
    RATE,
    VOICENOTES,
    AlsaRig,
    jfk_raw,
    journal,
    only_session,
    pyav_seconds,
    rig,
    soxi_seconds,
    wav_samples,
    wave_seconds,
)

from voicenotes.record import WAV_HEADER_BYTES, read_header


def _src(jfk: bytes, seconds: float = 60.0) -> np.ndarray:
    a = np.frombuffer(jfk, dtype="<i2")
    return np.concatenate([a, np.zeros(int(seconds * RATE), dtype="<i2")])


def _readers_agree(path: Path) -> float:
    w, s, a = wave_seconds(path), soxi_seconds(path), pyav_seconds(path)
    assert abs(w - s) <= 0.1 and abs(w - a) <= 0.1, (path.name, w, s, a)
    return w


def _wait(cond, timeout=30.0, what="condition"):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z ]", "", text.lower())


@pytest.mark.model
def test_capture_rollover_then_note_finds_the_words(rig, jfk_raw):
    """11 s of JFK through PortAudio, rolled over every 4 s, joined, transcribed by tiny.en.
    The FIFO is fed at three times real time to keep the test short (the capture follows the feed)."""
    rig.start(speed=3.0)
    rig.env["VOICENOTES_MODEL"] = "tiny.en"
    out = rig.root / "out"
    r = rig.run("record", "--out", str(out), "--max-seconds", "11", "--rollover-seconds", "4",
                *CONSENT_FLAGS, "--consent-form-version", "T-1", "--then", "note",
                keep_stdin_open=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "time limit" in r.stderr and "Traceback" not in r.stderr
    folder = only_session(out)
    files = sorted(folder.glob("session-0*.wav"))
    assert [f.name for f in files] == ["session-0001.wav", "session-0002.wav",
                                      "session-0003.wav"]
    durations = [_readers_agree(f) for f in files]
    assert durations == pytest.approx([4.0, 4.0, 3.0], abs=1e-6)
    # the capture is sample-exact: what PortAudio delivered is the source, in order, no gaps
    got = np.concatenate([wav_samples(f) for f in files])
    assert np.array_equal(got, _src(jfk_raw)[:len(got)])
    j = journal(folder)
    assert j["state"] == "finished" and j["stop_reason"] == "time limit reached"
    assert j["duration_s"] == pytest.approx(11.0) and j["overflows"] == 0
    assert j["sample_rate"] == 16000 and j["channels"] == 1 and j["device"]["name"]
    assert [f["frames"] for f in j["files"]] == [64000, 64000, 48000]
    # the joined file is lossless and is what the note pipeline transcribed
    joined = folder / "session-all.wav"
    assert np.array_equal(wav_samples(joined), got)
    transcript = json.loads((folder / "transcript.json").read_text())
    text = _norm(" ".join(s["text"] for s in transcript["segments"]))
    assert "ask not what your country can do for you" in text, text
    assert transcript["audio"]["duration_s"] == pytest.approx(11.0, abs=0.1)
    note = (folder / "note.md").read_text()
    assert "counselor, client" in note and "T-1" in note  # consent record in the header
    assert str(folder / "note.md") in r.stdout
    assert str(joined) in r.stdout and "joined (losslessly)" in r.stderr


def test_pause_is_off_record_and_sigterm_finalises(rig, jfk_raw):
    feeder = rig.start()
    out = rig.root / "out"
    p = rig.popen("record", "--out", str(out), "--max-seconds", "60", *CONSENT_FLAGS)
    try:
        _wait(lambda: feeder.fed_seconds() >= 1.5, what="1.5 s of capture")
        p.stdin.write("p\n")
        p.stdin.flush()
        _wait(lambda: feeder.fed_seconds() >= 3.5, what="pause")
        p.stdin.write("p\n")
        p.stdin.flush()
        _wait(lambda: feeder.fed_seconds() >= 5.0, what="resume")
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)  # stdin stays open: the stop must come from the signal
        out_s, err = p.communicate()
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "Paused" in err and "Resumed" in err and "off-record" in err
    folder = only_session(out)
    j = journal(folder)
    assert j["state"] == "finished" and j["stop_reason"] == "stop signal"
    assert len(j["paused"]) == 1
    span = j["paused"][0]
    off = span["end_s"] - span["start_s"]
    assert off == pytest.approx(2.0, abs=0.4)
    wav = folder / "session-0001.wav"
    dur = _readers_agree(wav)
    assert dur == pytest.approx(j["duration_s"], abs=1e-3)
    assert dur == pytest.approx(5.0 - 2.0, abs=0.6)
    # before the pause: the source from the start; after it: the source from later on —
    # the paused stretch is missing from the file, nothing else is
    got, src = wav_samples(wav), _src(jfk_raw)
    k = int(round(span["at_audio_s"] * RATE))
    assert k % PERIOD_FRAMES == 0 and np.array_equal(got[:k], src[:k])
    probe = got[k:k + PERIOD_FRAMES]
    starts = [s for s in range(k, k + 6 * RATE, PERIOD_FRAMES)
              if np.array_equal(src[s:s + PERIOD_FRAMES], probe)]
    assert starts, "audio after the pause is not the source"
    skipped = (starts[0] - k) / RATE
    assert skipped == pytest.approx(off, abs=0.35)
    rest = got[k:]
    assert np.array_equal(rest, src[starts[0]:starts[0] + len(rest)])


def test_kill9_then_recover_and_power_loss(rig, jfk_raw, tmp_path):
    """kill -9 after N s for several N (three recorders at once, each on its own ALSA rig);
    recover keeps every byte; all readers agree. Then a simulated power cut: the file cut at
    the last fsync'd offset plus garbage."""
    src = _src(jfk_raw)
    rigs = [rig] + [AlsaRig(tmp_path / f"rig-{i}", jfk_raw) for i in (1, 2)]
    runs = []
    try:
        for rg, n in zip(rigs, (2.0, 3.5, 5.0), strict=False):
            feeder = rg.start()
            mark = feeder.mark()
            p = rg.popen("record", "--out", str(rg.root / "kill"), "--max-seconds", "60",
                         *CONSENT_FLAGS)
            runs.append({"rig": rg, "n": n, "feeder": feeder, "mark": mark, "p": p})
        end = time.monotonic() + 40
        while any("written" not in r for r in runs):
            assert time.monotonic() < end, "timed out waiting for capture"
            for r in runs:
                # fed time restarts with each reader; only the capture stream reaches n s
                if "written" not in r and r["feeder"].fed_seconds(after=r["mark"]) >= r["n"]:
                    r["written"] = r["feeder"].fed_seconds()
                    os.kill(r["p"].pid, signal.SIGKILL)
            time.sleep(0.005)
        for r in runs:
            r["p"].wait(timeout=10)
    finally:
        for r in runs:
            if r["p"].poll() is None:
                r["p"].kill()
        for rg in rigs[1:]:
            rg.stop()
    figures = []
    power_copy = None
    for r in runs:
        n, written, out = r["n"], r["written"], r["rig"].root / "kill"
        folder = only_session(out)
        wav = folder / "session-0001.wav"
        j = journal(folder)
        assert j["state"] == "recording"
        with open(wav, "rb") as fh:
            header_before = read_header(fh.read(WAV_HEADER_BYTES))
        size_before = wav.stat().st_size
        if n == 3.5:
            power_copy = tmp_path / "power"
            shutil.copytree(folder, power_copy)
        res = rig.run("recover", str(out))
        assert res.returncode == 0, res.stderr
        assert "Recovered an interrupted recording" in res.stdout
        assert wav.stat().st_size == size_before  # every byte kept
        j = journal(folder)
        assert j["state"] == "recovered" and j["recovered"]["previous_state"] == "recording"
        dur = _readers_agree(wav)
        assert dur >= written - 1.0, (n, written, dur)
        got = wav_samples(wav)
        assert np.array_equal(got, src[:len(got)])
        figures.append((n, written, header_before["data_size"] / 2 / RATE, dur))
    # a second recover finds nothing to do
    res = rig.run("recover", str(runs[0]["rig"].root / "kill"))
    assert res.returncode == 0 and "nothing to repair" in res.stderr
    print("\nkill -9 figures (N, fed s, header said s, recovered s):", figures)

    # simulated power loss: only what was fsync'd survives, plus a torn garbage tail
    j = journal(power_copy)
    last = j["last_sync"]
    wav = power_copy / last["file"]
    synced = last["offset_bytes"]
    garbage = os.urandom(random.Random(7).randint(1024, 4096) + 1)  # odd: a partial frame
    with open(wav, "r+b") as fh:
        fh.truncate(synced)
        fh.seek(synced)
        fh.write(garbage)
    size = wav.stat().st_size
    r = rig.run("recover", str(power_copy))
    assert r.returncode == 0 and "Recovered" in r.stdout, r.stderr
    assert "after the last confirmed save" in r.stdout
    assert wav.stat().st_size == size
    dur = _readers_agree(wav)
    synced_s = (synced - WAV_HEADER_BYTES) / 2 / RATE
    assert synced_s == pytest.approx(last["audio_s"], abs=1e-3)
    assert dur >= synced_s and dur - synced_s <= len(garbage) / 2 / RATE + 1e-3
    got = wav_samples(wav)
    k = synced - WAV_HEADER_BYTES
    assert np.array_equal(got[:k // 2], src[:k // 2])  # all fsync'd audio intact
    jr = journal(power_copy)
    assert jr["files"][0]["partial_frame_bytes"] == 1
    assert jr["recovered"]["unconfirmed_tail_s"] > 0
    # the fsync'd offset trails the capture by at most about the 1 s sync interval
    fed_at_kill = figures[1][1]
    assert synced_s >= fed_at_kill - 1.5, (synced_s, fed_at_kill)
    print(f"power-loss figures: fed {fed_at_kill:.2f} s, fsync'd {synced_s:.2f} s, recovered {dur:.2f} s")


def test_record_start_recovers_interrupted_recording(rig, tmp_path):
    """`voicenotes record` repairs an interrupted recording in its --out folder first."""
    feeder = rig.start()
    out = rig.root / "out"
    p = rig.popen("record", "--out", str(out), "--max-seconds", "60", *CONSENT_FLAGS)
    try:
        _wait(lambda: feeder.fed_seconds() >= 1.0, what="capture")
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    first = only_session(out)
    r = rig.run("record", "--out", str(out), "--max-seconds", "0.5", *CONSENT_FLAGS,
                keep_stdin_open=True)
    assert r.returncode == 0, r.stderr
    assert f"Recovered an interrupted recording in {first}" in r.stderr
    assert journal(first)["state"] == "recovered"
    assert len([d for d in out.iterdir() if d.is_dir()]) == 2


def test_terminal_prompt_keys_and_display(rig):
    """On a terminal: the consent questions, the live line (time, level meter, overflows),
    `p` pauses/resumes without Enter, Enter stops, and the terminal settings are restored."""
    import pty
    import select
    import termios

    feeder = rig.start()
    out = rig.root / "out"
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([*VOICENOTES, "record", "--out", str(out), "--max-seconds", "30"],
                         stdin=slave, stdout=slave, stderr=slave, env=rig.env, close_fds=True)
    buf = bytearray()

    def pump(seconds: float, until: bytes | None = None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until in buf):
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                try:
                    buf.extend(os.read(master, 4096))
                except OSError:
                    return

    try:
        for prompt, answer in [(b"Who is present", b"counselor,client\r"),
                               (b"agreed to be recorded", b"yes\r"),
                               (b"transcribed", b"yes\r"), (b"note draft", b"no\r"),
                               (b"supervisor", b"no\r"),
                               (b"How was consent", b"written\r"), (b"How many days", b"\r"),
                               (b"form version", b"\r")]:
            pump(10, until=prompt)
            assert prompt in buf, bytes(buf[-300:])
            os.write(master, answer)
        pump(10, until=b"REC 00:00:0")
        _wait(lambda: feeder.fed_seconds() >= 1.0, what="capture")
        os.write(master, b"p")
        pump(1.0)
        os.write(master, b"p")
        pump(0.6)
        os.write(master, b"\r")
        pump(5, until=b"Recording finished")
        assert p.wait(timeout=10) == 0
        after = termios.tcgetattr(slave)
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
        os.close(slave)
    assert after == before  # cbreak mode undone
    text = buf.decode(errors="replace")
    assert re.search(r"REC 00:00:0\d  \[[#-]{20}\] +(-?\d+|--) dB  overflows: 0", text), text
    assert "PAUSED (off-record)" in text and "you stopped it" in text
    folder = only_session(out)
    c = json.loads((folder / "consent.json").read_text())
    assert c["parties"] == ["counselor", "client"] and c["method"] == "written"
    assert c["scope"] == ["recording", "transcription"] and c["retention_days"] == 30
    j = journal(folder)
    assert j["stop_reason"] == "stopped by you" and len(j["paused"]) == 1
    _readers_agree(folder / "session-0001.wav")
