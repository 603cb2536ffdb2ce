"""Consent before capture: no consent -> exit 5 and nothing written; the record's content."""

from __future__ import annotations

import json
import stat
from datetime import datetime
from pathlib import Path

import pytest
from test_record_rig import CONSENT_FLAGS, jfk_raw, journal, only_session, rig  # noqa: F401

from voicenotes.errors import ConsentError
from voicenotes.record.consent import (
    ConsentRecord,
    consent_from_file,
    consent_from_flags,
    load_consent,
    prompt_consent,
    save_consent,
    validate_consent,
)


def _scripted(answers):
    it = iter(answers)
    asked: list[str] = []

    def read():
        return next(it, "")  # "" = end of input

    return read, asked.append, asked


# --------------------------------------------------------------------------- the record


def test_prompt_session_all_parties_and_scope():
    read, write, asked = _scripted(["counselor, client, family\n", "yes\n", "y\n", "no\n",
                                    "yes\n", "written\n", "14\n", "v2.1\n"])
    rec = prompt_consent(dictation=False, read=read, write=write)
    assert rec.parties == ("counselor", "client", "family")
    assert rec.all_party and not rec.dictation and rec.mode == "session"
    assert rec.scope == ("recording", "transcription", "supervision")
    assert rec.method == "written" and rec.retention_days == 14 and rec.form_version == "v2.1"
    d = rec.to_dict()
    assert d["destroy_by"] == rec.destroy_by and d["tool_version"]
    assert "counselor, client, family" in d["statement"]
    assert any("every person present" in q for q in asked)
    assert ConsentRecord.from_dict(json.loads(json.dumps(d))).parties == rec.parties


@pytest.mark.parametrize("answers, why", [
    (["counselor,client\n", "no\n"], "not given"),
    (["counselor,client\n"], "No answer"),                  # EOF at the second question
    ([], "No answer"),                                       # EOF at once
    (["counselor,client\n", "maybe\n", "perhaps\n", "?\n"], "yes or no"),
    (["counselor\n"], "--dictation"),                        # a session needs another party
    (["counselor,Jane Smith\n"], "Unknown role"),            # names are refused, roles only
])
def test_prompt_refusal_or_no_answer_raises(answers, why):
    read, write, _ = _scripted(answers)
    with pytest.raises(ConsentError) as exc:
        prompt_consent(dictation=False, read=read, write=write)
    assert why in str(exc.value) and exc.value.exit_code == 5


def test_prompt_dictation_records_only_the_counselor():
    read, write, asked = _scripted(["yes\n", "yes\n", "yes\n", "yes\n", "no\n", "\n", "\n"])
    rec = prompt_consent(dictation=True, read=read, write=write)
    assert rec.parties == ("counselor",) and rec.dictation and rec.mode == "dictation"
    assert rec.retention_days == 30 and rec.form_version is None
    assert rec.scope == ("recording", "transcription", "ai_drafting")
    assert "only the counselor" in rec.statement()
    read, write, _ = _scripted(["no\n"])  # someone else could be heard
    with pytest.raises(ConsentError, match="only the counselor"):
        prompt_consent(dictation=True, read=read, write=write)


def test_flags_and_file_validation(tmp_path):
    rec = consent_from_flags(parties="counselor,client", scope="recording,transcription",
                             method="verbal", retention_days=None, form_version=None,
                             dictation=False)
    assert rec.retention_days == 30 and rec.covers("transcription")
    with pytest.raises(ConsentError, match="--consent-method"):
        consent_from_flags(parties="counselor,client", scope="recording", method=None,
                           retention_days=None, form_version=None, dictation=False)
    with pytest.raises(ConsentError, match="does not include consent to recording"):
        consent_from_flags(parties="counselor,client", scope="transcription", method="verbal",
                           retention_days=None, form_version=None, dictation=False)
    with pytest.raises(ConsentError, match="Dictation records only the counselor"):
        consent_from_flags(parties="counselor,client", scope="recording", method="verbal",
                           retention_days=None, form_version=None, dictation=True)
    with pytest.raises(ConsentError, match="every party"):
        validate_consent({"parties": ["counselor", "client"], "scope": ["recording"],
                          "method": "verbal", "all_party": False})
    with pytest.raises(ConsentError, match="unknown field"):
        validate_consent({"partys": ["counselor", "client"], "scope": ["recording"],
                          "method": "verbal"})
    with pytest.raises(ConsentError, match="retention_days"):
        validate_consent({"parties": ["counselor", "client"], "scope": ["recording"],
                          "method": "verbal", "retention_days": 0})
    bad = tmp_path / "c.json"
    bad.write_text("{not json")
    with pytest.raises(ConsentError, match="not valid JSON"):
        consent_from_file(bad, dictation=False)
    with pytest.raises(ConsentError, match="does not exist"):
        consent_from_file(tmp_path / "missing.json", dictation=False)
    good = tmp_path / "ok.json"
    good.write_text(json.dumps({"parties": ["counselor", "client"], "scope": ["recording"],
                                "method": "written", "retention_days": 7,
                                "consented_at": "2026-11-26T10:00:00+00:00"}))
    rec = consent_from_file(good, dictation=False)
    assert rec.destroy_by == "2026-12-03"
    save_consent(rec, tmp_path / "s")
    p = tmp_path / "s" / "consent.json"
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert load_consent(tmp_path / "s") == rec


# --------------------------------------------------------------------------- the CLI


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("stdin", ["", "counselor,client\nno\n"], ids=["eof", "refused"])
def test_record_without_consent_writes_nothing(rig, stdin):
    rig.start()
    out = rig.root / "out"
    r = rig.run("record", "--out", str(out), "--max-seconds", "3", input=stdin, timeout=30)
    assert r.returncode == 5, r.stderr
    assert "nothing was recorded" in r.stderr.lower()
    assert "Traceback" not in r.stderr
    assert _files(out) == []


def test_record_bad_consent_file_writes_nothing(rig):
    rig.start()
    out = rig.root / "out"
    cf = rig.root / "consent-in.json"
    cf.write_text(json.dumps({"parties": ["counselor"], "scope": ["recording"],
                              "method": "verbal"}))
    r = rig.run("record", "--out", str(out), "--max-seconds", "3", "--consent-file", str(cf))
    assert r.returncode == 5 and "lists only the counselor" in r.stderr, r.stderr
    assert _files(out) == []


def test_record_consent_file_dictation_saved_before_audio(rig):
    rig.start()
    out = rig.root / "out"
    cf = rig.root / "consent-in.json"
    cf.write_text(json.dumps({"dictation": True, "scope": ["recording", "transcription"],
                              "method": "verbal", "retention_days": 10, "form_version": "F-3"}))
    r = rig.run("record", "--out", str(out), "--max-seconds", "1", "--dictation",
                "--consent-file", str(cf), keep_stdin_open=True)
    assert r.returncode == 0, r.stderr
    folder = only_session(out)
    c = json.loads((folder / "consent.json").read_text())
    assert c["mode"] == "dictation" and c["parties"] == ["counselor"] and c["dictation"]
    assert c["retention_days"] == 10 and c["form_version"] == "F-3" and c["method"] == "verbal"
    assert stat.S_IMODE((folder / "consent.json").stat().st_mode) == 0o600
    j = journal(folder)
    assert j["mode"] == "dictation" and j["consent_file"] == "consent.json"
    # consent.json was on disk before the recording started (the journal's start time is
    # taken before the stream opens)
    started = datetime.fromisoformat(j["started_at"]).timestamp()
    assert (folder / "consent.json").stat().st_mtime <= started + 0.001
