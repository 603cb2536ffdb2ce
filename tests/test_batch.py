"""Batch runs on real files with the real pipeline (tiny.en): resume, duplicates, kills, disk full.

Clips are 2-3 s pieces cut with sox from the speech clips in tests/data, so each transcription is short;
bad inputs are made on the spot (empty, text renamed .wav, a truncated WAV).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voicenotes.batch import JOURNAL_NAME, REQUIRED_OUTPUTS, discover

MODEL = "tiny.en"
REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- helpers


def _sox(src: Path, dst: Path, start: float, dur: float) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["sox", str(src), "-r", "16000", "-c", "1", str(dst), "trim", str(start),
                    str(dur)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def clips(speech_refs, data_dir) -> list[Path]:
    """Shared clips long enough to cut 3 s from."""
    out = [data_dir / "speech" / r["file"] for r in speech_refs
           if float(r["duration_s"]) >= 4.0 and r["corpus"].startswith(("ljspeech", "libri"))]
    assert len(out) >= 10
    return out


def make_corpus(folder: Path, clips: list[Path], n_good: int, *, bad: bool = True) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    good = []
    for i in range(n_good):
        sub = f"week{i % 3}" if i % 2 else ""
        ext = ".flac" if i % 4 == 1 else ".wav"
        dst = folder / sub / f"session-{i:02d}{ext}"
        _sox(clips[i % len(clips)], dst, 0.3 + 0.1 * (i // len(clips)), 2.0 + (i % 3) * 0.5)
        good.append(dst)
    bads = []
    if bad:
        (folder / "empty.wav").write_bytes(b"")
        (folder / "notes-renamed.wav").write_text("this is a text file, not audio\n")
        full = folder / "full.wav"
        _sox(clips[0], full, 0.0, 3.0)
        data = full.read_bytes()
        (folder / "truncated.wav").write_bytes(data[: len(data) // 3])
        full.unlink()
        bads = [folder / "empty.wav", folder / "notes-renamed.wav", folder / "truncated.wav"]
    return {"good": good, "bad": bads}


def run_cli(*args, timeout=300, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "voicenotes", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO, **kw)


def journal(out: Path) -> tuple[list[dict], list[dict]]:
    db = sqlite3.connect(f"file:{out / JOURNAL_NAME}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        jobs = [dict(r) for r in db.execute("SELECT * FROM jobs ORDER BY rel_path")]
        files = [dict(r) for r in db.execute("SELECT * FROM files ORDER BY rel_path")]
    finally:
        db.close()
    return jobs, files


def assert_consistent(out: Path, *, allow_pending: bool = False) -> list[dict]:
    """Zero torn outputs, zero temp leftovers; every job done/partial/failed with a folder iff
    it succeeded; returns the jobs."""
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []
    for p in out.rglob("*.json"):
        json.loads(p.read_text(encoding="utf-8"))  # every JSON parses
    jobs, _ = journal(out)
    for j in jobs:
        folder = out / j["out_name"]
        if j["state"] in ("done", "partial"):
            for name in REQUIRED_OUTPUTS:
                assert (folder / name).is_file(), (j["rel_path"], name)
            recorded = json.loads(j["outputs"])
            assert set(REQUIRED_OUTPUTS) <= set(recorded)
            from voicenotes.store import sha256_file

            for name, digest in recorded.items():
                assert sha256_file(folder / name) == digest, (j["rel_path"], name)
        elif j["state"] == "pending" and allow_pending:
            assert not folder.exists()
        else:
            assert j["state"] == "failed", j
            assert j["error_class"] and j["error_message"]
            assert not (folder / "transcript.json").exists()
    return jobs


# --------------------------------------------------------------------------- discovery


def test_discover_is_sorted_and_skips_fifos_temp_files_and_outputs(tmp_path):
    src = tmp_path / "archive"
    for rel in ["z.wav", "b/2.mp3", "b/10.flac", "a.m4a", "B.ogg", "notes.txt"]:
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    os.mkfifo(src / "pipe.wav")  # opening it would hang forever
    (src / ".tmp-half.wav").write_bytes(b"x")
    out = src / "notes-out"  # the tool's own output folder inside the input folder
    (out / "z").mkdir(parents=True)
    (out / "z" / "echo.wav").write_bytes(b"x")
    found = [p.relative_to(src).as_posix() for p in discover(src, out)]
    assert found == sorted(found, key=lambda r: Path(r).parts)
    assert set(found) == {"z.wav", "b/2.mp3", "b/10.flac", "a.m4a", "B.ogg"}
    # deterministic: the same answer again, whatever the creation order
    assert [p.relative_to(src).as_posix() for p in discover(src, out)] == found
    # a `voicenotes record` folder whose parts were joined: only the whole session counts
    rec = src / "recording-20261126-101500"
    rec.mkdir()
    for name in ("recording.json", "consent.json"):
        (rec / name).write_text("{}")
    for name in ("session-0001.wav", "session-0002.wav", "session-all.wav"):
        (rec / name).write_bytes(b"x")
    found = [p.relative_to(src).as_posix() for p in discover(src, out)]
    assert [f for f in found if f.startswith("recording-")] == [
        "recording-20261126-101500/session-all.wav"]


def test_transcribe_and_batch_choose_the_same_files(tmp_path, monkeypatch):
    """One discovery: `voicenotes transcribe DIR` and `voicenotes batch DIR` take the same files
    from a folder with mixed extensions, hidden files and the output folder inside it."""
    from typer.testing import CliRunner

    import voicenotes.transcribe
    from voicenotes.cli import app
    from voicenotes.errors import InputError

    src = tmp_path / "archive"
    names = ["a.wav", "b.WAV", "c.flac", "d.mp3", "e.m4a", "f.ogg", "g.opus", "h.mp4", "i.mkv",
             "j.m4b", "k.au", "l.weba", "m.txt", "n.json", "o", "sub/p.aiff", "sub/q.webm",
             ".hidden.wav", "sub/._shadow.m4a", ".tmp-half.wav", ".cache/r.wav",
             "out/s.wav", "out/t/u.flac"]
    for rel in names:
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    out = src / "out"

    seen: list[Path] = []

    class Recording:  # stands in for the model: notes each file it is given, then declines it
        def __init__(self, *args, **kwargs):
            pass

        def transcribe(self, path, **kwargs):
            seen.append(Path(path))
            raise InputError("not audio")

    monkeypatch.setattr(voicenotes.transcribe, "Transcriber", Recording)
    CliRunner().invoke(app, ["transcribe", str(src), "--out", str(out)])
    by_transcribe = {p.relative_to(src).as_posix() for p in seen}
    by_batch = {p.relative_to(src).as_posix() for p in discover(src, out)}
    assert by_batch == by_transcribe
    assert {"a.wav", "b.WAV", "sub/p.aiff", "sub/q.webm"} <= by_batch
    assert not {r for r in by_batch if r.startswith(("out/", ".")) or "/." in r
                or r.endswith((".txt", ".json"))}


def test_bad_arguments_give_one_line_and_exit_code(tmp_path):
    r = run_cli("batch", tmp_path / "nope", "--out", tmp_path / "o")
    assert r.returncode == 3 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "empty").mkdir()
    r = run_cli("batch", tmp_path / "empty", "--out", tmp_path / "o")
    assert r.returncode == 3 and "No audio or video files" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli("batch", tmp_path / "empty", "--out", tmp_path / "o", "--jobs", "0")
    assert r.returncode == 2


# --------------------------------------------------------------------------- kill -9


@pytest.mark.model
def test_kill_resume_duplicates_and_hash_keys(tmp_path, clips):
    """>= 20 inputs (3 bad, 1 duplicate), a torn folder already at one final place; a Ctrl-C and
    kill -9s at random moments (fixed seed); resume. Then: renamed files stay done (keyed by
    content), edited files are redone into the same folder."""
    from voicenotes.store import sha256_file

    src, out = tmp_path / "in", tmp_path / "out"
    corpus = make_corpus(src, clips, 17)
    first = corpus["good"][0]
    dup = src / "zz-copies" / "same-as-first.wav"
    dup.parent.mkdir()
    dup.write_bytes(first.read_bytes())
    n_unique = len(corpus["good"]) + len(corpus["bad"])
    assert n_unique + 1 >= 20
    # something at a final place must not count as done ("never by output exists")
    victim = corpus["good"][1]
    fake = out / victim.relative_to(src).parent / victim.stem
    fake.mkdir(parents=True)
    (fake / "transcript.json").write_text('{"torn": ')

    rng = random.Random(6)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "voicenotes", "batch", str(src), "--out", str(out),
           "--model", MODEL, "--jobs", "1"]
    kills = 0
    # First a Ctrl-C (SIGINT to the whole process group, as a terminal sends it), then kill -9s.
    for sig in (signal.SIGINT, signal.SIGKILL, signal.SIGKILL):
        before = _finished(out)
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        # wait until this run has started transcribing, then stop it at a random moment
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if _running_or_more(out, before):
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            kills += 1
        _, err = proc.communicate(timeout=60)
        if sig == signal.SIGINT:
            # a clean stop: exit 130, one plain line, nothing left 'running', no temp folders
            assert proc.returncode == 130, err
            assert "Traceback" not in err and "Stopped" in err
            assert all(j["state"] != "running" for j in journal(out)[0])
            assert not list(out.rglob(".tmp-*"))
            assert (out / "report.csv").is_file()
    assert kills == 3
    # Edited content under a name the journal already has (most likely done by now): the new
    # content is processed into the same folder; the old content's job gives the name up.
    edited = corpus["good"][4]
    old_sha = sha256_file(edited)
    assert any(j["sha256"] == old_sha for j in journal(out)[0])
    _sox(clips[-1], edited, 0.1, 2.0)

    r = run_cli("batch", src, "--out", out, "--model", MODEL)
    assert r.returncode == 3, r.stderr  # the bad files failed; the rest is done
    assert "Traceback" not in r.stderr
    jobs = assert_consistent(out)
    states = {j["rel_path"]: j["state"] for j in jobs}
    assert len(states) == n_unique  # the duplicate is not a job of its own
    assert {states[p.relative_to(src).as_posix()] for p in corpus["good"]} == {"done"}
    assert states["empty.wav"] == "failed" and states["notes-renamed.wav"] == "failed"
    assert states["truncated.wav"] in ("partial", "failed")
    transcriptions = sum(j["attempts"] for j in jobs)
    assert transcriptions <= n_unique + kills
    folders = {j["out_name"] for j in jobs if j["state"] in ("done", "partial")}
    made = {p.parent.relative_to(out).as_posix() for p in out.rglob("transcript.json")}
    assert made == folders  # exactly one output folder per finished input, nothing else
    _, files = journal(out)
    rel = edited.relative_to(src).as_posix()
    e = [j for j in jobs if j["rel_path"] == rel]
    assert len(e) == 1 and e[0]["attempts"] == 1 and e[0]["sha256"] == sha256_file(edited)
    assert e[0]["out_name"] == Path(rel).with_suffix("").as_posix()
    te = json.loads((out / e[0]["out_name"] / "transcript.json").read_text())
    assert te["audio"]["sha256"] == sha256_file(edited) != old_sha
    dups = {f["rel_path"]: f["duplicate_of"] for f in files if f["duplicate_of"]}
    assert dups == {"zz-copies/same-as-first.wav": first.relative_to(src).as_posix()}
    tv = json.loads((fake / "transcript.json").read_text())
    assert tv["audio"]["sha256"] == sha256_file(victim)  # the torn folder was replaced
    # the report lists every input and holds no transcript words
    csv_text = (out / "report.csv").read_text()
    assert csv_text.count("\n") == n_unique + 2  # header + one line per input file
    assert "zz-copies/same-as-first.wav,duplicate" in csv_text
    html = (out / "report.html").read_text().lower()
    def norm(text: str) -> str:
        return " ".join(re.findall(r"[a-z0-9']+", text.lower()))

    phrases = set()
    for p in out.rglob("transcript.json"):
        for seg in json.loads(p.read_text())["segments"]:
            ws = norm(seg["text"]).split()
            phrases |= {" ".join(ws[i:i + 3]) for i in range(len(ws) - 2)}
    assert len(phrases) > 50
    in_report = norm(csv_text) + " | " + norm(html)
    leaked = {ph for ph in phrases if ph in in_report}
    assert not leaked

    # Same command again: nothing is transcribed again; a renamed file is still done.
    attempts = {j["sha256"]: j["attempts"] for j in jobs}
    corpus["good"][2].rename(corpus["good"][2].with_name("renamed.wav"))
    r = run_cli("batch", src, "--out", out, "--model", MODEL)
    assert r.returncode == 3, r.stderr
    assert {j["sha256"]: j["attempts"] for j in journal(out)[0]} == attempts
    assert "skipped" in r.stdout

    # A finished recording whose folder was deleted since is planned again (checked on the
    # plan: no model start-up needed).
    from voicenotes.batch import BatchOptions, BatchRunner, Journal

    gone = corpus["good"][5]
    gone_job = next(j for j in jobs if j["rel_path"] == gone.relative_to(src).as_posix())
    import shutil

    shutil.rmtree(out / gone_job["out_name"])
    jr = Journal(out / JOURNAL_NAME)
    try:
        todo = BatchRunner(src, BatchOptions(out_dir=out, model=MODEL))._plan(jr)
    finally:
        jr.close()
    assert [t.rel for t in todo] == [gone_job["rel_path"]]


def _finished(out: Path) -> int:
    try:
        jobs, _ = journal(out)
    except sqlite3.Error:
        return 0
    return sum(1 for j in jobs if j["state"] in ("done", "partial", "failed"))


def _running_or_more(out: Path, before: int) -> bool:
    try:
        jobs, _ = journal(out)
    except sqlite3.Error:
        return False
    return any(j["state"] == "running" for j in jobs) or \
        sum(1 for j in jobs if j["state"] in ("done", "partial", "failed")) > before


# --------------------------------------------------------------------------- disk full


@pytest.fixture()
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here; test_disk_full_injected covers ENOSPC")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.model
def test_disk_full_marks_the_file_failed_and_stops_cleanly(tmp_path, clips, small_disk):
    src = tmp_path / "in"
    out = small_disk / "out"
    # A first run (one bad file, no model needed) creates the journal on the small disk ...
    src.mkdir()
    (src / "bad.wav").write_bytes(b"")
    assert run_cli("batch", src, "--out", out, "--model", MODEL).returncode == 3
    # ... then the disk is filled so the journal still has room but a recording's outputs
    # (transcript, items, note, review page: about 25 KB) do not fit.
    st = os.statvfs(small_disk)
    free = st.f_bavail * st.f_frsize
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (free - 20 * 1024))
    _sox(clips[3], src / "one.wav", 0.2, 2.0)
    _sox(clips[4], src / "two.wav", 0.2, 2.0)
    r = run_cli("batch", src, "--out", out, "--model", MODEL)
    assert r.returncode == 7, (r.returncode, r.stderr)
    assert "disk" in r.stderr.lower() and "full" in r.stderr.lower()
    assert "Traceback" not in r.stderr
    jobs = assert_consistent(out, allow_pending=True)
    by = {j["rel_path"]: j for j in jobs}
    assert by["one.wav"]["state"] == "failed" and by["one.wav"]["error_class"] == "DiskFull"
    assert by["two.wav"]["state"] == "pending"  # stopped: the next file would fail too
    assert not (out / "one").exists() and not (out / "two").exists()

    # Space freed, the same command would retry the disk-full failure without --retry-failed
    # (it is the disk's fault, not the file's) but not the genuinely bad file. Checked on the
    # plan itself, so no second model start-up is needed.
    filler.unlink()
    from voicenotes.batch import BatchOptions, BatchRunner, Journal

    j = Journal(out / JOURNAL_NAME)
    try:
        todo = BatchRunner(src, BatchOptions(out_dir=out, model=MODEL))._plan(j)
    finally:
        j.close()
    assert [t.rel for t in todo] == ["one.wav", "two.wav"]


@pytest.mark.model
def test_disk_full_injected(tmp_path, clips):
    """Where no tmpfs can be mounted: ENOSPC injected at the write layer (os.replace of the
    items file, in every process of the run, through a sitecustomize on PYTHONPATH)."""
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(tmp_path)],
                       capture_output=True)
    if r.returncode == 0 and os.environ.get("VOICENOTES_FORCE_INJECTED") != "1":
        subprocess.run(["umount", "-l", str(tmp_path)], capture_output=True)
        pytest.skip("a real tmpfs is used by test_disk_full_marks_the_file_failed_and_stops_cleanly")
    if r.returncode == 0:
        subprocess.run(["umount", "-l", str(tmp_path)], capture_output=True)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import errno, os\n"
        "_replace = os.replace\n"
        "def _full(src, dst, *a, **k):\n"
        "    if os.fspath(dst).endswith('items.json'):\n"
        "        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "    return _replace(src, dst, *a, **k)\n"
        "os.replace = _full\n")
    src, out = tmp_path / "in", tmp_path / "out"
    _sox(clips[3], src / "one.wav", 0.2, 2.0)
    _sox(clips[4], src / "two.wav", 0.2, 2.0)
    env = dict(os.environ, HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-m", "voicenotes", "batch", str(src), "--out", str(out),
                        "--model", MODEL], capture_output=True, text=True, env=env, cwd=REPO,
                       timeout=300)
    assert r.returncode == 7, (r.returncode, r.stderr)
    assert "full" in r.stderr.lower() and "Traceback" not in r.stderr
    jobs = assert_consistent(out, allow_pending=True)
    by = {j["rel_path"]: j for j in jobs}
    assert by["one.wav"]["state"] == "failed" and by["one.wav"]["error_class"] == "DiskFull"
    assert by["two.wav"]["state"] == "pending"
    assert not (out / "one").exists()
