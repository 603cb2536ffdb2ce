"""Golden files for every template: dev cases through the real extractor, and the long dev
session audio through the whole chain (real tiny.en Whisper -> real extractor -> note).

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_note_golden.py``
and read the diff before committing it. Generation times are normalised.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest
from test_note_helpers import EXTRACTION, case_transcript, gold_cases, normalise

from voicenotes.note.build import build_note, entries_of
from voicenotes.note.render import render_markdown
from voicenotes.note.templates import TEMPLATE_NAMES, load_template
from voicenotes.schema import RISK_TYPES

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = ("dev-44", "dev-45", "dev-46", "dev-47", "dev-48")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    text = normalise(text)
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"golden file {path} is missing; run with UPDATE_GOLDEN=1 to create it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        return
    want = path.read_text("utf-8")
    if text != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                            "golden/" + name, "generated", n=2))
        from voicenotes.extract import RULES_VERSION

        pytest.fail(f"{name} differs from its golden file. If the extraction rules changed on "
                    f"purpose (now {RULES_VERSION}), read the diff and regenerate with "
                    f"UPDATE_GOLDEN=1:\n{diff[:6000]}")


@pytest.fixture(scope="module")
def case_items():
    from voicenotes.extract import RULES_VERSION, extract_items

    out = {}
    cases = gold_cases()
    for cid in CASES:
        case = cases[cid]
        t = case_transcript(case)
        items = extract_items(t, mode=case["mode"], session_start=case["session_start"])
        out[cid] = (t, items, RULES_VERSION)
    return out


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
@pytest.mark.parametrize("cid", CASES)
def test_case_golden(case_items, cid, template):
    t, items, rules_version = case_items[cid]
    prov = {"input_file": f"{cid}.flac", "rules_version": rules_version}
    note = build_note(items, load_template(template), transcript=t, provenance=prov)
    risk_ids = {i.id for i in items.items if i.type in RISK_TYPES}
    assert risk_ids <= {i for e in entries_of(note) for i in e["item_ids"]}  # none dropped
    check_golden(f"{cid}/{template}.md", render_markdown(note))


@pytest.fixture(scope="module")
def long_session(tiny_transcriber, tmp_path_factory):
    """dev-long-1 (325 s) through `run_note`, transcribed once for the module."""
    from voicenotes.pipeline import NoteOptions, run_note

    case = json.loads((EXTRACTION / "dev-long.jsonl").read_text().splitlines()[0])
    out = tmp_path_factory.mktemp("dev-long")
    opts = NoteOptions(template="crisis", mode="session", session_start=case["session_start"])
    result = run_note(EXTRACTION / "audio" / "dev-long-1.flac", out, opts, transcriber=tiny_transcriber)
    return case, result


@pytest.mark.model
def test_long_session_audio_golden(long_session, tmp_path):
    from voicenotes.pipeline import NoteOptions, run_note

    case, result = long_session
    out = result.out_dir
    for name in ("transcript.json", "items.json", "note.md", "note.json", "review.html", "audio.flac"):
        assert (out / name).is_file(), name
    transcript = json.loads((out / "transcript.json").read_text())
    assert transcript["provenance"]["model_name"] == "tiny.en"
    assert transcript["audio"]["duration_s"] > 300
    items = json.loads((out / "items.json").read_text())["items"]
    assert sum(1 for i in items if i["type"] in RISK_TYPES) >= 10
    md = (out / "note.md").read_text()
    assert "Crisis follow-up" in (out / "followups.ics").read_text()
    prov = json.loads((out / "note.json").read_text())["provenance"]
    assert prov["model"] == "tiny.en" and len(prov["model_sha256"]) == 64
    assert prov["input_sha256"] == transcript["audio"]["sha256"]
    from test_note_trace import assert_traceable

    from voicenotes.schema import ItemSet, Transcript

    assert_traceable(md, json.loads((out / "note.json").read_text()),
                     ItemSet.from_dict(json.loads((out / "items.json").read_text())),
                     Transcript.from_dict(transcript))
    check_golden("dev-long-1/crisis.md", md)
    for template in TEMPLATE_NAMES:
        if template == "crisis":
            continue
        r = run_note(out / "items.json", tmp_path / template, NoteOptions(template=template))
        check_golden(f"dev-long-1/{template}.md", r.note_md.read_text())
