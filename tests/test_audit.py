"""The session audit log: signed with the installation's key, chained, anchored in the notes;
``voicenotes audit verify`` catches edits, deletions, insertions and reorders; a torn tail is set
aside before the next append; a symbolic link in place of the log is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import re
import stat

import pytest
from test_note_helpers import (
    accept_all,
    hand_items,
    hand_transcript,
    items_input,
    with_extractor_offsets,
)
from typer.testing import CliRunner

from voicenotes.cli import app
from voicenotes.store.audit import AUDIT_FILE, append_audit, check_folder

runner = CliRunner()


def _reviewed_session(tmp_path):
    """A real session folder: a draft from items.json, then a final note from a review (one
    audit line per decision, so the log has ~17 lines)."""
    src, items = items_input(tmp_path)
    out = tmp_path / "out"
    assert runner.invoke(app, ["note", str(src / "items.json"), "--out", str(out)]).exit_code == 0
    reviewed = accept_all(items, tmp_path)
    res = runner.invoke(app, ["note", "--from-review", str(reviewed), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _verify(path):
    res = runner.invoke(app, ["audit", "verify", str(path)])
    return res.exit_code, res.output


def _rechain(lines, start):
    """What a forger without the key can do: fix every ``prev`` from ``start`` on."""
    out = list(lines[:start])
    for raw in lines[start:]:
        e = json.loads(raw)
        e["prev"] = hashlib.sha256(out[-1]).hexdigest() if out else None
        out.append(json.dumps(e, sort_keys=True).encode())
    return out


def _edit(raw, rng):
    e = json.loads(raw)
    k = rng.choice(sorted(set(e) - {"prev", "mac", "key"}))
    e[k] = rng.choice(["rejected", "accepted", 0, None, "2020-01-01T00:00:00+00:00", [e[k]]])
    if json.loads(raw) == e:
        e["extra"] = 1
    return json.dumps(e, sort_keys=True).encode()


def _tamper(lines, rng):
    """One random tampering; returns the new lines and the first position that differs."""
    n = len(lines)
    kind = rng.choice(["edit", "edit_rechained", "delete", "insert", "reorder", "forge_key"])
    i = rng.randrange(n)
    if kind == "edit":
        new = [*lines[:i], _edit(lines[i], rng), *lines[i + 1:]]
    elif kind == "edit_rechained":
        new = _rechain([*lines[:i], _edit(lines[i], rng), *lines[i + 1:]], i)
    elif kind == "delete":
        new = [*lines[:i], *lines[i + 1:]]
    elif kind == "insert":
        extra = rng.choice([lines[rng.randrange(n)], _edit(lines[rng.randrange(n)], rng)])
        new = [*lines[:i], extra, *lines[i:]]
    elif kind == "reorder":
        j = rng.choice([k for k in range(n) if k != i])
        i, j = min(i, j), max(i, j)
        new = list(lines)
        new[i], new[j] = lines[j], lines[i]
    else:  # a full rewrite with recomputed hashes and signatures under another key
        other = os.urandom(32)
        new = []
        for raw in lines:
            e = json.loads(raw)
            e.pop("mac")
            e["prev"] = hashlib.sha256(new[-1]).hexdigest() if new else None
            if len(new) == i:
                e["forged"] = True
            mac = hmac.new(other, json.dumps(e, sort_keys=True, ensure_ascii=True).encode(),
                           hashlib.sha256).hexdigest()
            new.append(json.dumps({**e, "mac": mac}, sort_keys=True, ensure_ascii=True).encode())
    first = next((k for k in range(min(len(new), n)) if new[k] != lines[k]), min(len(new), n))
    return kind, new, first


def test_fifty_random_tamperings_are_each_caught(tmp_path):
    out = _reviewed_session(tmp_path)
    log = out / AUDIT_FILE
    original = log.read_bytes()
    code, text = _verify(out)
    assert code == 0 and text.startswith("intact") and str(out) in text, text
    lines = original.split(b"\n")[:-1]
    assert len(lines) >= 15
    rng = random.Random(15)
    caught, kinds = 0, {}
    for _ in range(50):
        kind, new, first = _tamper(lines, rng)
        assert new != lines
        log.write_bytes(b"".join(ln + b"\n" for ln in new))
        code, text = _verify(out)
        assert code == 10 and "DAMAGED" in text, (kind, text)
        m = re.search(r"line (\d+)", text)
        assert m, text
        # the first bad line is where the log first differs (one later for a duplicated line,
        # which is identical to the one it copies)
        assert int(m.group(1)) in (first + 1, first + 2), (kind, first, text)
        caught += 1
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"audit verify caught {caught}/50 random tamperings: {kinds}")
    assert caught == 50 and set(kinds) == {"edit", "edit_rechained", "delete", "insert", "reorder",
                                           "forge_key"}
    log.write_bytes(original)
    assert _verify(out)[0] == 0


def test_a_removed_tail_shows_through_the_notes_record_of_the_log(tmp_path):
    out = _reviewed_session(tmp_path)
    log = out / AUDIT_FILE
    lines = log.read_bytes().split(b"\n")[:-1]
    prov = json.loads((out / "note.reviewed.json").read_text())["provenance"]
    assert prov["audit_head"] == {"lines": 1, "sha256": hashlib.sha256(lines[0]).hexdigest()}
    for keep in (len(lines) - 1, 5, 1):  # the chain that is left is whole, yet the end is gone
        log.write_bytes(b"".join(ln + b"\n" for ln in lines[:keep]))
        code, text = _verify(out)
        assert code == 10 and f"line {keep + 1} is missing" in text, text
    log.write_bytes(b"")
    assert _verify(out)[0] == 10


def test_key_is_made_once_private_and_a_log_from_another_key_fails(tmp_path, monkeypatch):
    key = tmp_path / "keys" / "audit.key"
    monkeypatch.setenv("VOICENOTES_AUDIT_KEY", str(key))
    folder = tmp_path / "s"
    folder.mkdir()
    append_audit(folder, [{"event": "a"}, {"event": "b"}])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = key.read_bytes()
    append_audit(folder, [{"event": "c"}])
    assert key.read_bytes() == first and check_folder(folder).ok
    assert check_folder(folder).lines == 3
    monkeypatch.setenv("VOICENOTES_AUDIT_KEY", str(tmp_path / "other.key"))
    other = _mk(tmp_path / "s2")
    append_audit(other, [{"event": "x"}])  # this installation's logs verify with its own key
    assert check_folder(other).ok
    res = check_folder(folder)
    assert not res.ok and res.bad_line == 1 and "another installation's key" in res.reason


def test_torn_tail_is_set_aside_not_glued_onto(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    append_audit(folder, [{"event": "a"}, {"event": "b"}, {"event": "c"}])
    log = folder / AUDIT_FILE
    whole = log.read_bytes()
    log.write_bytes(whole[:-20])  # the last line cut off mid-way (as on a full disk)
    cut = whole[whole.rfind(b"\n", 0, len(whole) - 1) + 1:-20]
    code, text = _verify(folder)
    assert code == 10 and "line 3 is cut off" in text
    append_audit(folder, [{"event": "d"}])
    torn = folder / "audit.jsonl.torn-1"
    assert torn.read_bytes() == cut and stat.S_IMODE(torn.stat().st_mode) == 0o600
    events = [json.loads(x) for x in log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["a", "b", "torn_tail_quarantined", "d"]
    assert events[2]["moved_to"] == "audit.jsonl.torn-1" and events[2]["bytes"] == len(cut)
    code, text = _verify(folder)
    assert code == 0 and "1 cut-off line(s) set aside" in text, text
    # a whole last line that does not read is set aside too (torn-2), never chained onto
    with open(log, "ab") as fh:
        fh.write(b'{"event": "half\n')
    append_audit(folder, [{"event": "e"}])
    assert (folder / "audit.jsonl.torn-2").read_bytes() == b'{"event": "half\n'
    assert _verify(folder)[0] == 0


def test_symlinked_audit_log_is_refused_and_its_target_untouched(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(b"do not touch\n")
    (folder / AUDIT_FILE).symlink_to(target)
    t = hand_transcript()
    items = with_extractor_offsets(hand_items(), t)
    (tmp_path / "items.json").write_text(json.dumps(items.to_dict()))
    res = runner.invoke(app, ["note", str(tmp_path / "items.json"), "--out", str(folder)])
    assert res.exit_code == 3, res.output
    err = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(err) == 1 and "symbolic link" in err[0] and res.output.endswith(err[0][-30:] + "\n")
    assert "Traceback" not in res.output
    assert target.read_bytes() == b"do not touch\n"
    code, text = _verify(folder)
    assert code == 10 and "symbolic link" in text and "DAMAGED" in text


def test_verify_walks_a_root_of_sessions(tmp_path):
    root = tmp_path / "root"
    for name in ("a", "b/c"):
        append_audit(_mk(root / name), [{"event": "x"}])
    code, text = _verify(root)
    assert code == 0 and len(text.strip().splitlines()) == 2, text
    with open(root / "b/c" / AUDIT_FILE, "ab") as fh:
        fh.write(b'{"event": "x", "prev": null}\n')
    code, text = _verify(root)
    assert code == 10 and "intact" in text and "DAMAGED" in text and "line 2" in text
    assert _verify(tmp_path / "nothing-here")[0] == 3


def _mk(p):
    p.mkdir(parents=True)
    return p


@pytest.fixture(autouse=True)
def _own_key(tmp_path_factory, monkeypatch):
    """Each test its own installation key."""
    monkeypatch.setenv("VOICENOTES_AUDIT_KEY", str(tmp_path_factory.mktemp("key") / "audit.key"))


def test_processes_racing_to_make_the_key_all_get_the_same_one(tmp_path):
    """Parallel batch workers may write their first logs at once: one key wins, none is torn."""
    import subprocess
    import sys

    key = tmp_path / "race" / "audit.key"
    env = {**os.environ, "VOICENOTES_AUDIT_KEY": str(key)}
    code = "from voicenotes.store.audit_key import load_key; print(load_key().hex())"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(6)]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(keys) == 1 and len(next(iter(keys))) == 64
    assert sorted(p.name for p in key.parent.iterdir()) == ["audit.key"]


def test_without_the_key_verify_says_it_cannot_check_and_makes_no_key(tmp_path, monkeypatch):
    folder = _mk(tmp_path / "s")
    append_audit(folder, [{"event": "a"}])
    missing = tmp_path / "elsewhere" / "audit.key"
    monkeypatch.setenv("VOICENOTES_AUDIT_KEY", str(missing))
    code, text = _verify(folder)
    assert code == 10 and text.startswith("NOT CHECKED") and "no audit key" in text, text
    assert not missing.exists()


def test_short_writes_are_completed_and_a_full_disk_leaves_a_tail_the_next_append_sets_aside(
        tmp_path, monkeypatch):
    import errno

    from voicenotes.errors import StorageError
    from voicenotes.store import audit as audit_mod

    folder = _mk(tmp_path / "s")
    real_write = os.write
    calls = []

    def short(fd, data):  # the kernel may write less than asked
        calls.append(len(data))
        return real_write(fd, bytes(data[:37]))

    monkeypatch.setattr(audit_mod.os, "write", short)
    append_audit(folder, [{"event": "a", "pad": "x" * 500}, {"event": "b"}])
    assert len(calls) > 10 and check_folder(folder).ok and check_folder(folder).lines == 2

    budget = [300]

    def disk_fills(fd, data):  # 300 bytes fit, then the disk is full
        if budget[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real_write(fd, bytes(data[:budget[0]]))
        budget[0] -= n
        return n

    monkeypatch.setattr(audit_mod.os, "write", disk_fills)
    with pytest.raises(StorageError, match="No space left"):
        append_audit(folder, [{"event": "c", "pad": "y" * 1000}])
    assert not check_folder(folder).ok  # a cut-off line is on disk now
    monkeypatch.setattr(audit_mod.os, "write", real_write)
    append_audit(folder, [{"event": "d"}])
    events = [json.loads(x)["event"] for x in (folder / AUDIT_FILE).read_text().splitlines()]
    assert events == ["a", "b", "torn_tail_quarantined", "d"]
    assert (folder / "audit.jsonl.torn-1").stat().st_size == 300
    assert _verify(folder)[0] == 0
