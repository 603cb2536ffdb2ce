"""`batch --seal` and `record --seal` write sealed outputs directly (real processes: tiny.en on
short clips cut from tests/data, real PortAudio capture through the FIFO rig)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_record_rig import (  # noqa: F401 - fixtures
    CONSENT_FLAGS,
    RATE,
    jfk_raw,
    only_session,
    rig,
    wav_samples,
    wave_seconds,
)

from voicenotes.store import sha256_file

REPO = Path(__file__).resolve().parent.parent
CLEAR = {"audit.jsonl", "consent.json", "sealed.json", "sealed.key.age", ".voicenotes.lock",
         ".recording.lock"}
AGE_HEADER = b"age-encryption.org/v1\n"


def _cli(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    env = dict(env or os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "voicenotes", *map(str, args)], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _assert_only_sealed(folder: Path) -> list[str]:
    """Every file of ``folder`` is an age file or one that sealing keeps in the clear; returns
    the sealed names (without .age)."""
    names = sorted(p.name for p in folder.iterdir())
    assert "sealed.json" in names, names
    plain = [n for n in names if not n.endswith(".age") and n not in CLEAR]
    assert plain == [], plain
    sealed = [n[:-4] for n in names if n.endswith(".age") and n != "sealed.key.age"]
    for n in sealed:
        assert (folder / (n + ".age")).read_bytes().startswith(AGE_HEADER), n
    return sealed


def _one_line_error(r: subprocess.CompletedProcess) -> None:
    assert r.returncode not in (0, 1), (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    assert "voicenotes keys init" in r.stderr, r.stderr


@pytest.mark.model
def test_batch_seal_writes_only_sealed_folders_and_they_export(tmp_path, speech_refs, data_dir):
    env = dict(os.environ, VOICENOTES_HOME=str(tmp_path / "vnhome"))
    env.pop("VOICENOTES_PASSPHRASE", None)
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    clips = [data_dir / "speech" / r["file"] for r in speech_refs
             if float(r["duration_s"]) >= 4.0 and r["corpus"].startswith(("ljspeech", "libri"))]
    for i, clip in enumerate(clips[:2]):
        subprocess.run(["sox", str(clip), "-r", "16000", "-c", "1", str(src / f"s{i}.wav"),
                        "trim", "0.3", "2.5"], check=True, capture_output=True)

    # no key yet: one line before any work, nothing written
    r = _cli("batch", src, "--out", out, "--model", "tiny.en", "--seal", env=env)
    _one_line_error(r)
    assert not (out / "batch-journal.sqlite").exists() and not any(out.glob("*/sealed.json"))

    assert _cli("keys", "init", env=env).returncode == 0
    r = _cli("batch", src, "--out", out, "--model", "tiny.en", "--seal", env=env)
    assert r.returncode == 0, r.stderr
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert [p.name for p in folders] == ["s0", "s1"]
    for folder in folders:
        sealed = _assert_only_sealed(folder)
        assert {"transcript.json", "items.json", "note.json", "note.md",
                "review.html"} <= set(sealed)
    # the report at the root is readable and was built from the sealed folders
    with open(out / "report.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["status"] for row in rows] == ["done", "done"]
    assert all(int(row["words"]) > 0 for row in rows), rows
    # resume: the sealed folders count as finished; nothing is redone
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.age")}
    r = _cli("batch", src, "--out", out, "--model", "tiny.en", "--seal", env=env)
    assert r.returncode == 0, r.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.age")} == before
    # export of a sealed folder works in memory
    r = _cli("export", folders[0], "-f", "txt", env=env)
    assert r.returncode == 0, r.stderr
    assert (folders[0] / "note.draft.txt").stat().st_size > 0
    # what was sealed is what the batch checked: unsealed hashes match the journal's
    import sqlite3

    db = sqlite3.connect(out / "batch-journal.sqlite")
    recorded = {n: json.loads(o) for n, o in db.execute("SELECT out_name, outputs FROM jobs")}
    db.close()
    assert _cli("unseal", folders[1], env=env).returncode == 0
    for name, digest in recorded["s1"].items():
        assert sha256_file(folders[1] / name) == digest, name


def test_record_seal_ends_sealed_and_unseals_to_a_valid_wav(rig, jfk_raw):
    rig.env["VOICENOTES_HOME"] = str(rig.root / "vnhome")
    rig.env.pop("VOICENOTES_PASSPHRASE", None)
    out = rig.root / "out"
    # no key: said before anything is recorded
    r = rig.run("record", "--out", str(out), "--max-seconds", "3", *CONSENT_FLAGS, "--seal")
    _one_line_error(r)
    assert not out.exists() or not any(p.is_dir() for p in out.iterdir())

    assert rig.run("keys", "init").returncode == 0
    rig.start(speed=3.0)
    r = rig.run("record", "--out", str(out), "--max-seconds", "3", *CONSENT_FLAGS, "--seal",
                keep_stdin_open=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "time limit" in r.stderr and "Sealed" in r.stderr
    folder = only_session(out)
    sealed = _assert_only_sealed(folder)
    assert "session-0001.wav" in sealed and "recording.json" in sealed
    assert not list(folder.glob("*.wav"))
    r = rig.run("unseal", str(folder))
    assert r.returncode == 0, r.stderr
    wav = folder / "session-0001.wav"
    assert wave_seconds(wav) == pytest.approx(3.0, abs=1e-6)
    got = wav_samples(wav)
    src = np.frombuffer(jfk_raw, dtype="<i2")
    assert len(got) == 3 * RATE and np.array_equal(got, src[:len(got)])
    assert json.loads((folder / "recording.json").read_text())["state"] == "finished"
