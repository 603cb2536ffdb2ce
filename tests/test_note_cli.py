"""`voicenotes note` through the CLI: outputs and modes, bad inputs, --from-review and the audit
log. Inputs are items.json / transcript.json files (the audio path is in test_note_golden.py)."""

from __future__ import annotations

import json
import stat

import pytest
from test_note_helpers import (
    HAND_QUOTES,
    items_input,
)
from typer.testing import CliRunner

from voicenotes.cli import app
from voicenotes.review.page import verify_audit

runner = CliRunner()


def test_items_input_writes_the_session_folder_privately(tmp_path):
    src, _ = items_input(tmp_path)
    out = tmp_path / "out"
    res = runner.invoke(app, ["note", str(src / "items.json"), "--out", str(out), "--template", "soap"])
    assert res.exit_code == 0, res.output
    assert f"Note draft:  {out / 'note.md'}" in res.stdout
    assert f"Review page: {out / 'review.html'}" in res.stdout
    for name in ("items.json", "note.md", "note.json", "review.html", "followups.ics", "audit.jsonl"):
        p = out / name
        assert p.is_file(), name
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, name
    assert not list(out.glob(".tmp-*"))
    note = json.loads((out / "note.json").read_text())
    assert note["template"] == "soap" and note["status"] == "draft"
    # the transcript beside items.json feeds the review page's highlights
    html = (out / "review.html").read_text()
    segments = json.loads(html.split('id="vn-data">', 1)[1].split("</script>", 1)[0])["segments"]
    assert len(segments) == 15 and any(p["items"] for s in segments for p in s["pieces"])
    audit = (out / "audit.jsonl").read_text().splitlines()
    assert json.loads(audit[0])["event"] == "draft_created"


@pytest.mark.parametrize("content,needle", [
    (None, "does not exist"),
    ("{not json", "is not valid JSON"),
    ('{"hello": 1}', "neither a transcript nor an items file"),
])
def test_bad_inputs_give_one_line_and_exit_3(tmp_path, content, needle):
    p = tmp_path / "input.json"
    if content is not None:
        p.write_text(content)
    res = runner.invoke(app, ["note", str(p), "--out", str(tmp_path / "o")])
    assert res.exit_code == 3, res.output
    assert needle in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_text_file_posing_as_audio_is_exit_3(tmp_path):
    p = tmp_path / "session.wav"
    p.write_text("this is not audio at all " * 50)
    res = runner.invoke(app, ["note", str(p), "--out", str(tmp_path / "o")])
    assert res.exit_code == 3, res.output
    assert "Traceback" not in res.output


def test_bad_options_are_plain_errors(tmp_path):
    src, _ = items_input(tmp_path)
    res = runner.invoke(app, ["note", str(src / "items.json"), "--template", "poem"])
    assert res.exit_code == 3 and "Unknown note template 'poem'" in res.output
    res = runner.invoke(app, ["note", str(src / "transcript.json"), "--session-start", "next week"])
    assert res.exit_code == 2 and "--session-start" in res.output
    res = runner.invoke(app, ["note", "--from-review", str(tmp_path / "missing.json")])
    assert res.exit_code == 3


def _review(items, decide):
    d = items.to_dict()
    for it in d["items"]:
        r = decide(it)
        if r:
            it["review"] = {"reviewed_at": "2026-03-09T16:00:00Z", **r}
    return d


def test_from_review_round_trip_and_audit_log(tmp_path):
    src, items = items_input(tmp_path)
    out = tmp_path / "out"
    assert runner.invoke(app, ["note", str(src / "items.json"), "--out", str(out)]).exit_code == 0

    def decide(it):
        if it["id"] == "h06":
            return {"status": "rejected", "reason": "the client was quoting a film"}
        if it["id"] == "h02":
            return {"status": "edited", "edited_text": "Denied suicidal ideation today."}
        if it["type"] in ("RISK", "RISK_FACTOR", "MEANS"):
            return {"status": "accepted"}
        return None  # non-risk items may stay unreviewed

    reviewed = tmp_path / "downloads" / "items.reviewed.json"
    reviewed.parent.mkdir()
    reviewed.write_text(json.dumps(_review(items, decide)))
    res = runner.invoke(app, ["note", "--from-review", str(reviewed), "--out", str(out)])
    assert res.exit_code == 0, res.output
    final = (out / "note.reviewed.md").read_text()
    body, appendix = final.split("## Appendix: items rejected in review", 1)
    assert "“if the urges come back”" not in body
    assert "“if the urges come back”" in appendix and "rejected: the client was quoting a film" in appendix
    assert "Clinician's wording: Denied suicidal ideation today. — from “denies current suicidal ideation” [00:20]" in body
    assert "Coping (tried; helpful) — “going for a walk helps” [01:40] (not reviewed)" in body
    assert (out / "note.md").read_text() != final  # the draft is kept, not overwritten
    assert json.loads((out / "note.reviewed.json").read_text())["status"] == "reviewed"

    log = out / "audit.jsonl"
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [e["event"] for e in lines].count("review_decision") == len(items.items)
    assert lines[-1]["event"] == "final_note"
    by = {e["item_id"]: e for e in lines if e["event"] == "review_decision"}
    assert by["h06"]["decision"] == "rejected" and by["h06"]["reason_sha256"]
    assert by["h02"]["decision"] == "edited" and by["h11"]["decision"] == "unreviewed"
    text = log.read_text().lower()
    for q in HAND_QUOTES + ["quoting a film", "denied suicidal ideation today"]:
        assert q.lower() not in text  # no session words or clinician text in the log
    assert verify_audit(log)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600

    # append-only: a second review appends, earlier lines stay byte-identical
    before = log.read_bytes()
    assert runner.invoke(app, ["note", "--from-review", str(reviewed), "--out", str(out)]).exit_code == 0
    after = log.read_bytes()
    assert after.startswith(before) and len(after) > len(before) and verify_audit(log)
    # tampering breaks the chain
    log.write_bytes(after.replace(b'"rejected"', b'"accepted"', 1))
    assert not verify_audit(log)


def test_from_review_refuses_unreviewed_risk_items_and_foreign_files(tmp_path):
    src, items = items_input(tmp_path)
    out = tmp_path / "out"
    assert runner.invoke(app, ["note", str(src / "items.json"), "--out", str(out)]).exit_code == 0
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(_review(items, lambda it: {"status": "accepted"} if it["id"] == "h01" else None)))
    res = runner.invoke(app, ["note", "--from-review", str(partial), "--out", str(out)])
    assert res.exit_code == 3 and "risk item(s) have no review decision" in res.output
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"items": [{"id": "zz", "review": {"status": "accepted"}}]}))
    res = runner.invoke(app, ["note", "--from-review", str(foreign), "--out", str(out)])
    assert res.exit_code == 3 and "does not belong to this session folder" in res.output
    no_reason = tmp_path / "noreason.json"
    no_reason.write_text(json.dumps(_review(items, lambda it: {"status": "rejected"})))
    res = runner.invoke(app, ["note", "--from-review", str(no_reason), "--out", str(out)])
    assert res.exit_code == 3 and "no reason" in res.output
    assert not (out / "note.reviewed.md").exists()
    assert [json.loads(x)["event"] for x in (out / "audit.jsonl").read_text().splitlines()] == ["draft_created"]


@pytest.mark.model
def test_recording_session_folder_gets_consent_and_start_time(tmp_path, tiny_transcriber):
    """A folder as `voicenotes record` leaves it: audio + consent.json + recording.json. The note
    goes into that folder, shows the consent record, takes the mode from it and resolves
    "tomorrow at four thirty" against the recording's start time."""
    import shutil

    from conftest import EXTRACTION

    from voicenotes.pipeline import NoteOptions, run_note
    from voicenotes.record.consent import consent_from_flags, save_consent

    folder = tmp_path / "session-2026-03-09"
    folder.mkdir()
    shutil.copy(EXTRACTION / "audio" / "dev-45.flac", folder / "session-0001.flac")
    rec = consent_from_flags(parties="counselor,client", scope="recording,transcription",
                             method="verbal", retention_days=30, form_version=None, dictation=False)
    save_consent(rec, folder)
    (folder / "recording.json").write_text(json.dumps({"state": "finished",
                                                       "started_at": "2026-03-09T14:00:00"}))
    result = run_note(folder / "session-0001.flac", None, NoteOptions(), transcriber=tiny_transcriber)
    assert result.out_dir == folder
    assert result.summary["mode"] == "session"
    assert result.summary["session_start"] == "2026-03-09T14:00:00"
    assert result.summary["session_start_source"] == "recording.json"
    assert not (folder / "audio.flac").exists()  # the page plays the recording in place
    assert 'src="session-0001.flac"' in (folder / "review.html").read_text()
    md = (folder / "note.md").read_text()
    assert "Consent record (from consent.json): All parties present (counselor, client) consented" in md
    note = json.loads((folder / "note.json").read_text())
    assert note["header"]["consent_record"]["scope"] == ["recording", "transcription"]
    from icalendar import Calendar

    events = list(Calendar.from_ical((folder / "followups.ics").read_bytes()).walk("VEVENT"))
    assert any(e.decoded("dtstart").isoformat().startswith("2026-03-10") for e in events)
    for name in ("transcript.json", "items.json", "note.md", "note.json", "review.html"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600

    # a second run (e.g. after a crash during extraction, or another template) reuses the
    # transcript of the same audio, model and settings instead of transcribing again
    before = json.loads((folder / "transcript.json").read_text())
    again = run_note(folder / "session-0001.flac", None, NoteOptions(template="soap"),
                     transcriber=tiny_transcriber)
    assert again.summary["transcript_reused"] is True
    assert json.loads((folder / "transcript.json").read_text())["segments"] == before["segments"]
    assert json.loads((folder / "note.json").read_text())["template"] == "soap"
    from voicenotes.pipeline import _reusable_transcript

    sha = before["audio"]["sha256"]
    assert _reusable_transcript(folder, sha, tiny_transcriber) is not None
    assert _reusable_transcript(folder, "f" * 64, tiny_transcriber) is None  # other audio
    changed = dict(before, provenance={**before["provenance"], "model_name": "base"})
    (folder / "transcript.json").write_text(json.dumps(changed))
    assert _reusable_transcript(folder, sha, tiny_transcriber) is None  # other model
