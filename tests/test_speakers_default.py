"""Who said it, by default: a session recording drafted with no flags must never turn the
counselor's questions into the client's risk.

Real audio, real models: the dev two-voice dialogues (tests/data/extraction/audio dev-41…46,
with their gold turn times), tiny.en Whisper, the real speaker-separation weights, real spaCy.
One transcription per recording (the module fixture) serves every check on it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voicenotes import pipeline
from voicenotes.domain import UNVERIFIED_BANNER, parse_session_start, session_context
from voicenotes.extract.attribution import STATE_TYPES

AUDIO = Path(__file__).resolve().parent / "data" / "extraction" / "audio"
SESSIONS = ("dev-41", "dev-42", "dev-43", "dev-44", "dev-45", "dev-46")
ONE_VOICE = "dev-47"  # a counselor's dictation after a session


def _gold(name: str) -> list[dict]:
    with open(AUDIO / f"{name}.segments.tsv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _counselor_questions(name: str) -> list[tuple[float, float]]:
    return [(float(g["start_s"]), float(g["end_s"])) for g in _gold(name)
            if g["speaker"] == "counselor" and "?" in g["text"]]


def _items(folder: Path) -> dict:
    return json.loads((folder / "items.json").read_text("utf-8"))


def _client_claims_in_questions(items: list[dict], questions) -> list[dict]:
    """Items that assert something of the client (affirmed, actual, about the client's state)
    whose words were spoken inside one of the counselor's questions (gold turn times)."""
    out = []
    for i in items:
        t = i["evidence"].get("t_start")
        if (i["type"] in STATE_TYPES and i["polarity"] == "affirmed" and i["modality"] == "actual"
                and i["experiencer"] == "client" and t is not None
                and any(a - 0.2 <= t <= b + 0.2 for a, b in questions)):
            out.append(i)
    return out


@pytest.fixture(scope="module")
def drafted(tmp_path_factory, tiny_transcriber):
    """``voicenotes note REC`` with default options on each dev session and the one-voice
    dictation (tiny.en; the speaker stage is the default one)."""
    root = tmp_path_factory.mktemp("default")
    out = {}
    for name in SESSIONS + (ONE_VOICE,):
        out[name] = pipeline.run_note(AUDIO / f"{name}.flac", root / name, pipeline.NoteOptions(),
                                      transcriber=tiny_transcriber)
    return out


def test_default_path_never_makes_a_counselor_question_the_clients_risk(drafted):
    asked = 0
    for name in SESSIONS:
        res = drafted[name]
        assert res.summary["mode"] == "session", name
        sp = res.summary["speakers"]
        assert sp["requested"] == "default" and sp["outcome"] == "session" and sp["voices"] >= 2
        assert "voices heard" in sp["line"] and "\n" not in sp["line"]
        data = _items(res.out_dir)
        assert data["provenance"]["attribution"]["verified"] is True
        bad = _client_claims_in_questions(data["items"], _counselor_questions(name))
        assert not bad, (name, [(i["type"], i["subtype"]) for i in bad])
        asked += sum(1 for i in data["items"] if i["modality"] == "question")
        note = json.loads((res.out_dir / "note.json").read_text("utf-8"))
        assert note["provenance"]["speakers"]["outcome"] == "session"
        assert note["provenance"]["speakers"]["confidence"] is not None
        assert UNVERIFIED_BANNER not in (res.out_dir / "note.md").read_text("utf-8")
    assert asked >= 5  # the screening questions themselves are kept, as asked


def test_the_denials_are_attributed_to_the_client(drafted):
    """dev-41: "No, never." and "Nope, no guns." are the client's denials."""
    items = _items(drafted["dev-41"].out_dir)["items"]
    denied = {(i["type"], i["subtype"]) for i in items
              if i["polarity"] == "negated" and i["speaker"] == "client"}
    assert ("RISK", "ideation_active") in denied and ("MEANS", None) in denied


def test_one_voice_is_detected_as_dictation(drafted):
    res = drafted[ONE_VOICE]
    assert res.summary["mode"] == "dictation"
    sp = res.summary["speakers"]
    assert sp["outcome"] == "dictation" and sp["voices"] == 1
    assert "one voice" in sp["line"]
    assert _items(res.out_dir)["provenance"]["attribution"]["verified"] is True


def test_a_deciding_word_heard_doubtfully_marks_the_item_verify_audio(drafted):
    """The word that makes "No, never." a denial, heard with a low probability, sends the item
    to the audio with the time to listen at."""
    from voicenotes.extract.audiocheck import check_deciding_words
    from voicenotes.schema import ItemSet, Transcript

    folder = drafted["dev-41"].out_dir
    tr = Transcript.from_dict(json.loads((folder / "transcript.json").read_text("utf-8")))
    items = ItemSet.from_dict(_items(folder))
    answer = next(i for i in items.items if i.polarity == "negated" and i.type == "RISK"
                  and "never" in i.evidence.quote.lower())
    seg = tr.segments[answer.evidence.segment]
    never = next(w for w in seg.words if w.word.strip(" ,.").lower() == "never")
    assert never.probability >= 0.5  # as heard: nothing to check
    assert not any("deciding_words" in i.asr for i in check_deciding_words(items, tr).items
                   if i.id == answer.id)
    from dataclasses import replace

    doubtful = replace(never, probability=0.31)
    seg2 = replace(seg, words=tuple(doubtful if w is never else w for w in seg.words))
    tr2 = replace(tr, segments=tuple(seg2 if s is seg else s for s in tr.segments))
    marked = next(i for i in check_deciding_words(items, tr2).items if i.id == answer.id)
    assert marked.verify and "verify_audio" in marked.review_flags
    assert marked.asr["listen_at"] == pytest.approx(never.start, abs=0.01)
    assert marked.asr["deciding_words"][0]["why"] == "low_word_probability"


def test_anti_phase_stereo_keeps_its_items(drafted, tmp_path, tiny_transcriber):
    """The dictation with one channel inverted cancels on downmix: it is transcribed from one
    channel, flagged, and yields the same items as the original."""
    anti = tmp_path / "anti-phase.flac"
    subprocess.run(["sox", str(AUDIO / f"{ONE_VOICE}.flac"), str(anti), "remix", "1", "1v-1"],
                   check=True, capture_output=True)
    res = pipeline.run_note(anti, tmp_path / "out", pipeline.NoteOptions(),
                            transcriber=tiny_transcriber)
    flags = res.summary["transcript_flags"]
    assert "channels_cancel" in flags and "no_speech" not in flags
    got = [(i["type"], i.get("subtype"), i["polarity"]) for i in _items(res.out_dir)["items"]]
    want = [(i["type"], i.get("subtype"), i["polarity"])
            for i in _items(drafted[ONE_VOICE].out_dir)["items"]]
    assert got == want and any(t == "RISK" for t, _, _ in got)
    assert res.summary["not_assessed"] == drafted[ONE_VOICE].summary["not_assessed"]


def _cli(*args: str, env: dict | None = None, cwd: Path | None = None):
    return subprocess.run([sys.executable, "-m", "voicenotes", *args], capture_output=True,
                          text=True, timeout=600, env=env, cwd=cwd)


def test_weights_missing_gives_the_banner_and_no_client_attribution(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "VOICENOTES_SPEAKER_MODELS"}
    empty = tmp_path / "empty-store"
    empty.mkdir()
    env.update(VOICENOTES_MODELS_DIR=str(empty), HOME=str(tmp_path))
    out = tmp_path / "note"
    proc = _cli("note", str(AUDIO / "dev-41.flac"), "--model", "tiny.en", "--out", str(out),
                env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if UNVERIFIED_BANNER in ln]
    assert len(lines) == 1 and "voicenotes models install" in lines[0]
    note = (out / "note.md").read_text("utf-8")
    assert UNVERIFIED_BANNER in "\n".join(note.splitlines()[:4])
    assert UNVERIFIED_BANNER in (out / "review.html").read_text("utf-8")
    data = _items(out)
    assert data["provenance"]["attribution"]["verified"] is False
    assert not any(i["speaker"] == "client" for i in data["items"])
    assert not _client_claims_in_questions(data["items"], _counselor_questions("dev-41"))
    asked = {(i["type"], i["subtype"]) for i in data["items"] if i["modality"] == "question"}
    assert ("RISK", "ideation_active") in asked and ("MEANS", None) in asked


def test_batch_report_shows_unverified_attribution_per_recording(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "VOICENOTES_SPEAKER_MODELS"}
    empty = tmp_path / "empty-store"
    empty.mkdir()
    env.update(VOICENOTES_MODELS_DIR=str(empty), HOME=str(tmp_path))
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(AUDIO / "dev-43.flac", src / "call.flac")
    proc = _cli("batch", str(src), "--out", str(tmp_path / "out"), "--model", "tiny.en", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp_path / "out" / "report.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and rows[0]["speakers"].startswith(UNVERIFIED_BANNER)
    assert UNVERIFIED_BANNER in (tmp_path / "out" / "report.html").read_text("utf-8")


# --------------------------------------------------------------------------- --session-start


def test_session_start_forms_keep_the_zone():
    when, floating = parse_session_start("2026-03-09T14:00+02:00")
    assert not floating and when.utcoffset().total_seconds() == 7200 and when.hour == 14
    when, floating = parse_session_start("2026-03-09 14:00")
    assert floating and when.tzinfo is not None and (when.month, when.day, when.hour) == (3, 9, 14)
    from datetime import datetime

    when, floating = parse_session_start("today 14:00", now=datetime(2026, 3, 9, 8, 0))
    assert (when.year, when.month, when.day, when.hour, when.minute) == (2026, 3, 9, 14, 0)
    assert session_context("session", "2026-03-09T14:00+02:00").start_iso \
        == "2026-03-09T14:00:00+02:00"
    assert session_context(None, "2026-03-09 14:00").start_iso == "2026-03-09T14:00:00"
    for bad in ("2026-03-09", "tomorrow", "today 25:00", "14:00", "next week"):
        with pytest.raises(ValueError):
            parse_session_start(bad)


@pytest.mark.parametrize("value", ["tomorrow-ish", "2026-03-09", "2026-13-40 14:00"])
def test_a_bad_session_start_fails_first_with_one_line(tmp_path, value):
    """Checked before anything else: before the input is opened and before a model is looked
    up (a missing input would be exit 3 and a missing model exit 4; this is exit 2)."""
    out = tmp_path / "out"
    t0 = time.monotonic()
    proc = _cli("note", str(tmp_path / "missing.flac"), "--model", str(tmp_path / "no-model"),
                "--session-start", value, "--out", str(out))
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--session-start" in lines[0] and "today 14:00" in lines[0]
    assert not out.exists() and "Traceback" not in proc.stderr
    assert elapsed < 30  # a process start; no audio or model was touched


def test_a_session_start_with_an_offset_resolves_follow_ups_in_its_zone(tmp_path):
    """Used to crash with a TypeError (aware session start vs naive follow-up time)."""
    from voicenotes.extract import transcript_from_turns

    tr = transcript_from_turns([
        {"speaker": "counselor", "text": "I will call you tomorrow at ten to check in."},
        {"speaker": "client", "text": "Okay, that works."}])
    src = tmp_path / "transcript.json"
    src.write_text(json.dumps(tr.to_dict()), "utf-8")
    proc = _cli("note", str(src), "--session-start", "2026-03-09T14:00+02:00", "--out",
                str(tmp_path / "n"), "-q")
    assert proc.returncode == 0, proc.stderr
    items = _items(tmp_path / "n")
    assert items["session_start"] == "2026-03-09T14:00:00+02:00"
    fu = next(i for i in items["items"] if i["type"] == "FOLLOW_UP")
    assert fu["value"]["when"] == "2026-03-10T10:00:00+02:00"
    assert "DTSTART:20260310T080000Z" in (tmp_path / "n" / "followups.ics").read_text()
