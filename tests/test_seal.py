"""Sealed session folders (age encryption at rest), the installation key, and retention purge.

The round trip runs on a real session folder: `note` on a short speech clip with tiny.en. Sealing,
unsealing, export and --from-review on sealed folders run through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from conftest import SPEECH
from test_note_helpers import (
    HAND_QUOTES,
    accept_all,
    items_input,
)
from typer.testing import CliRunner

from voicenotes.cli import app

runner = CliRunner()
CLEAR = {"audit.jsonl", "consent.json", "sealed.json", "sealed.key.age", ".voicenotes.lock"}
AGE_HEADER = b"age-encryption.org/v1\n"


@pytest.fixture()
def home(tmp_path, monkeypatch):
    h = tmp_path / "vnhome"
    monkeypatch.setenv("VOICENOTES_HOME", str(h))
    monkeypatch.delenv("VOICENOTES_PASSPHRASE", raising=False)
    from voicenotes.store import seal

    seal._IDENTITY_CACHE.clear()
    return h


@pytest.fixture()
def keyed(home):
    res = runner.invoke(app, ["keys", "init"])
    assert res.exit_code == 0, res.output
    return home


@pytest.fixture(scope="module")
def real_session(tmp_path_factory, tiny_transcriber):
    """A session folder as `voicenotes note` writes it, from a real clip with tiny.en."""
    from voicenotes.pipeline import NoteOptions, run_note

    out = tmp_path_factory.mktemp("real") / "session"
    clip = sorted((SPEECH / "clips").glob("*.flac"))[0]
    run_note(clip, out, NoteOptions(), transcriber=tiny_transcriber)
    return out


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# --------------------------------------------------------------------------- keys


def test_keys_init_makes_a_private_key_and_says_a_lost_key_is_lost_data(home):
    res = runner.invoke(app, ["keys", "show"])
    assert res.exit_code == 3 and "voicenotes keys init" in res.output
    res = runner.invoke(app, ["keys", "init"])
    assert res.exit_code == 0, res.output
    key = home / "keys" / "identity.txt"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    recipient = next(line.split()[-1] for line in res.output.splitlines() if line.startswith("Recipient:"))
    assert recipient.startswith("age1") and f"# public key: {recipient}" in key.read_text()
    assert "A lost key is lost data" in res.output and "Back it up" in res.output
    assert str(key) in res.output
    show = runner.invoke(app, ["keys", "show"])
    assert show.exit_code == 0 and recipient in show.output
    before = key.read_bytes()
    again = runner.invoke(app, ["keys", "init"])
    assert again.exit_code == 3 and "already has a key" in again.output
    assert key.read_bytes() == before  # never replaced


# --------------------------------------------------------------------------- seal / unseal


@pytest.mark.model
def test_real_session_folder_round_trip_is_byte_identical(keyed, real_session, tmp_path):
    folder = tmp_path / "s"
    shutil.copytree(real_session, folder)
    original = _snapshot(folder)
    assert {"audio.flac", "transcript.json", "items.json", "note.md", "review.html"} <= set(original)
    words = json.loads(original["transcript.json"])["segments"][0]["text"].strip().encode()
    assert len(words) > 10

    res = runner.invoke(app, ["seal", str(folder)])
    assert res.exit_code == 0, res.output
    sealed = _snapshot(folder)
    plain = {n for n in original if n not in CLEAR}
    assert set(sealed) == {n + ".age" for n in plain} | {"audit.jsonl", "sealed.json",
                                                         ".voicenotes.lock"}
    for name, data in sealed.items():
        assert words not in data and original["audio.flac"][1000:1100] not in data
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
        if name.endswith(".age"):
            assert data.startswith(AGE_HEADER)
    assert json.loads(sealed["sealed.json"])["method"] == "key"

    res = runner.invoke(app, ["unseal", str(folder)])
    assert res.exit_code == 0, res.output
    assert _snapshot(folder) == original
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())


@pytest.mark.model
def test_export_of_a_sealed_folder_matches_the_plain_one(keyed, real_session, tmp_path):
    plain, sealed = tmp_path / "plain", tmp_path / "sealed"
    shutil.copytree(real_session, plain)
    shutil.copytree(real_session, sealed)
    assert runner.invoke(app, ["seal", str(sealed)]).exit_code == 0
    before = set(os.listdir(sealed))
    a = runner.invoke(app, ["export", str(plain), "-f", "txt,md"])
    b = runner.invoke(app, ["export", str(sealed), "-f", "txt,md"])
    assert a.exit_code == 0 and b.exit_code == 0, b.output
    for name in ("note.draft.txt", "note.draft.md"):
        assert (sealed / name).read_bytes() == (plain / name).read_bytes()
    # decrypted in memory only: nothing but the requested exports appeared
    assert set(os.listdir(sealed)) == before | {"note.draft.txt", "note.draft.md"}
    assert "these exported files are not" in b.output and "sealed" in b.output
    # the review workstation serves the page and the audio of the sealed folder from memory
    import urllib.request

    from voicenotes.review.app import ReviewApp, ReviewServer

    review = ReviewApp(sealed)
    assert review.audio == "audio.flac"
    server = ReviewServer(review, 0).start()
    try:
        with urllib.request.urlopen(server.url + "audio.flac", timeout=10) as r:
            assert r.read() == (plain / "audio.flac").read_bytes()
        with urllib.request.urlopen(server.url, timeout=10) as r:
            assert r.status == 200 and b"audio.flac" in r.read()
    finally:
        server.stop()
    assert set(os.listdir(sealed)) == before | {"note.draft.txt", "note.draft.md"}
    # sealing again seals the exports too
    assert runner.invoke(app, ["seal", str(sealed)]).exit_code == 0
    assert not (sealed / "note.draft.txt").exists() and (sealed / "note.draft.txt.age").is_file()


def test_note_seal_then_review_reads_and_from_review_keeps_it_sealed(keyed, tmp_path):
    src, items = items_input(tmp_path)
    out = tmp_path / "out"
    res = runner.invoke(app, ["note", str(src / "items.json"), "--out", str(out), "--seal"])
    assert res.exit_code == 0, res.output
    assert (out / "note.md.age").is_file() and not (out / "note.md").exists()
    assert not (out / "items.json").exists()

    from voicenotes.review.app import ReviewApp
    from voicenotes.store import sha256_bytes
    from voicenotes.store.seal import read_bytes, read_text

    review = ReviewApp(out)  # the review workstation opens the sealed folder in memory
    assert [i.id for i in review.store.itemset.items] == [i.id for i in items.items]
    assert review.store.items_sha256 == sha256_bytes(read_bytes(out / "items.json"))

    reviewed = accept_all(items, tmp_path)
    res = runner.invoke(app, ["note", "--from-review", str(reviewed), "--out", str(out)])
    assert res.exit_code == 0, res.output
    names = set(os.listdir(out))
    assert "note.reviewed.md.age" in names and "note.reviewed.md" not in names
    assert not [n for n in names if n not in CLEAR and not n.endswith(".age")]
    final = read_text(out / "note.reviewed.md")
    assert HAND_QUOTES[0] in final
    log = (out / "audit.jsonl").read_text().lower()
    assert all(q.lower() not in log for q in HAND_QUOTES)


def test_passphrase_and_foreign_key_are_refused_without_changing_anything(home, tmp_path, monkeypatch):
    src, _ = items_input(tmp_path)
    original = _snapshot(src)
    monkeypatch.setenv("VOICENOTES_PASSPHRASE", "correct horse battery staple")
    assert runner.invoke(app, ["seal", str(src), "--passphrase"]).exit_code == 0
    assert (src / "sealed.key.age").is_file()
    sealed = _snapshot(src)
    monkeypatch.setenv("VOICENOTES_PASSPHRASE", "wrong")
    from voicenotes.store import seal

    seal._IDENTITY_CACHE.clear()
    res = runner.invoke(app, ["unseal", str(src)])
    assert res.exit_code == 3 and "passphrase does not open" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert _snapshot(src) == sealed
    monkeypatch.setenv("VOICENOTES_PASSPHRASE", "correct horse battery staple")
    assert runner.invoke(app, ["unseal", str(src)]).exit_code == 0
    assert _snapshot(src) == original

    # sealed to this installation's key, then opened by another installation: refused
    assert runner.invoke(app, ["keys", "init"]).exit_code == 0
    assert runner.invoke(app, ["seal", str(src)]).exit_code == 0
    sealed = _snapshot(src)
    monkeypatch.setenv("VOICENOTES_HOME", str(tmp_path / "other"))
    seal._IDENTITY_CACHE.clear()
    assert runner.invoke(app, ["keys", "init"]).exit_code == 0
    res = runner.invoke(app, ["unseal", str(src)])
    assert res.exit_code == 3 and "does not open with this key" in res.output
    assert _snapshot(src) == sealed


def test_a_root_of_many_folders_and_symlinks_left_alone(keyed, tmp_path):
    root = tmp_path / "root"
    secret = tmp_path / "outside.txt"
    secret.write_text("not a session file")
    for name in ("a", "b"):
        d = root / "clients" / name
        d.mkdir(parents=True)
        (d / "items.json").write_text('{"items": []}')
        (d / "audio.wav").write_bytes(os.urandom(5000))
    (root / "clients" / "a" / "link.txt").symlink_to(secret)
    (root / "notes-not-a-session").mkdir()
    (root / "notes-not-a-session" / "todo.txt").write_text("x")
    res = runner.invoke(app, ["seal", str(root)])
    assert res.exit_code == 0, res.output
    assert "2 session folder(s) sealed" in res.output
    for name in ("a", "b"):
        assert sorted(os.listdir(root / "clients" / name)) == sorted(
            ["audio.wav.age", "items.json.age", "sealed.json"] + (["link.txt"] if name == "a" else []))
    assert "link.txt: a symbolic link, left alone" in res.output
    assert secret.read_text() == "not a session file"
    assert (root / "notes-not-a-session" / "todo.txt").read_text() == "x"
    res = runner.invoke(app, ["unseal", str(root)])
    assert res.exit_code == 0 and (root / "clients" / "b" / "items.json").read_text() == '{"items": []}'


def test_a_folder_being_recorded_is_neither_sealed_nor_purged(keyed, tmp_path):
    from voicenotes.record.journal import recording_lock

    root = tmp_path / "recordings"
    live = root / "session-live"
    live.mkdir(parents=True)
    (live / "session-0001.wav").write_bytes(b"RIFF" + os.urandom(2000))
    _consented(live, days_ago=100, retention=30)
    with recording_lock(live):
        before = _snapshot(live)
        res = runner.invoke(app, ["seal", str(root)])
        assert res.exit_code == 0 and "being recorded right now" in res.output
        assert _snapshot(live) == before
        res = runner.invoke(app, ["purge", str(root), "--yes"])
        assert res.exit_code == 0 and "kept: being recorded right now" in res.output
        assert live.is_dir()
    res = runner.invoke(app, ["seal", str(root)])  # done recording: sealed, lock file left alone
    assert res.exit_code == 0, res.output
    assert sorted(os.listdir(live)) == [".recording.lock", "consent.json", "sealed.json",
                                        "session-0001.wav.age"]


def test_a_sealed_copy_that_does_not_verify_keeps_the_original(keyed, tmp_path, monkeypatch):
    import pyrage

    from voicenotes.errors import StorageError
    from voicenotes.store import seal

    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "items.json").write_text('{"items": []}')
    real = pyrage.decrypt_io

    def corrupting(src, dst, ids):
        class Flip:
            def write(self, b):
                return dst.write(bytes(b).replace(b"items", b"itemz"))

            def flush(self):
                pass
        return real(src, Flip(), ids)

    monkeypatch.setattr(pyrage, "decrypt_io", corrupting)
    with pytest.raises(StorageError, match="did not match the original"):
        seal.seal_folder(folder)
    assert os.listdir(folder) == ["items.json"]  # no sealed copy, no temp file left
    assert (folder / "items.json").read_text() == '{"items": []}'


# --------------------------------------------------------------------------- purge


def _consented(folder, days_ago, retention):
    from voicenotes.record.consent import consent_from_flags, save_consent

    rec = consent_from_flags(parties="counselor,client", scope="recording,transcription",
                             method="verbal", retention_days=retention, form_version=None,
                             dictation=False)
    when = (datetime.now(UTC) - timedelta(days=days_ago)).replace(microsecond=0).isoformat()
    save_consent(replace(rec, consented_at=when), folder)


def test_purge_lists_asks_deletes_and_logs_without_session_words(keyed, tmp_path):
    root = tmp_path / "sessions"
    due, fresh, old, bare = (root / n for n in ("due", "fresh", "old-no-consent", "new-no-consent"))
    for d in (due, fresh, old, bare):
        d.mkdir(parents=True)
        (d / "transcript.json").write_text(json.dumps({"segments": [{"text": HAND_QUOTES[0]}]}))
    _consented(due, days_ago=40, retention=30)
    _consented(fresh, days_ago=5, retention=30)
    ancient = (datetime.now(UTC) - timedelta(days=400)).timestamp()
    for p in [old, *old.iterdir()]:
        os.utime(p, (ancient, ancient))
    assert runner.invoke(app, ["seal", str(due)]).exit_code == 0  # sealed folders purge too

    res = runner.invoke(app, ["purge", str(root), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "1 due for deletion" in res.output and "DELETE" in res.output
    assert "past its consented retention" in res.output and all(d.exists() for d in (due, old))

    res = runner.invoke(app, ["purge", str(root)], input="n\n")  # no terminal: refuses to guess
    assert res.exit_code == 2 and "--yes" in res.output and due.exists()

    res = runner.invoke(app, ["purge", str(root), "--older-than", "365", "--yes"])
    assert res.exit_code == 0, res.output
    assert not due.exists() and not old.exists() and fresh.exists() and bare.exists()
    log = (root / "audit.jsonl").read_text()
    events = [json.loads(x) for x in log.splitlines()]
    assert sorted(e["folder"] for e in events) == ["due", "old-no-consent"]
    assert {e["reason"] for e in events} == {"retention", "age"}
    assert HAND_QUOTES[0].lower() not in log.lower()
    from voicenotes.store.audit import verify_audit

    assert verify_audit(root / "audit.jsonl")
    res = runner.invoke(app, ["purge", str(root), "--yes"])
    assert res.exit_code == 0 and "0 due for deletion" in res.output


def test_audit_verify_still_sees_a_removed_tail_in_a_sealed_folder(keyed, tmp_path):
    """The notes' record of the log's end is read from the sealed note.json.age in memory."""
    src, _ = items_input(tmp_path)
    out = tmp_path / "out"
    assert runner.invoke(app, ["note", str(src / "items.json"), "--out", str(out), "--seal"]).exit_code == 0
    assert not (out / "note.json").exists()
    ok = runner.invoke(app, ["audit", "verify", str(out)])
    assert ok.exit_code == 0, ok.output
    log = out / "audit.jsonl"
    lines = log.read_bytes().split(b"\n")[:-1]
    log.write_bytes(b"".join(ln + b"\n" for ln in lines[:-1]))
    bad = runner.invoke(app, ["audit", "verify", str(out)])
    assert bad.exit_code == 10 and "is missing" in bad.output, bad.output
