"""Extractive only: every sentence of a generated note traces back to an item (a quotation of the
transcript or a templated rendering of the item) or to the template's fixed text.

For each line of note.md: every “quotation” must be a verbatim piece of the transcript; every
[time] must be a time of an item; what is left must consist only of words that the templates,
the label file, the layout, the item values or the provenance/consent metadata contain. A word
from anywhere else (an invented finding, a "normal" default) fails the test. Each bullet in the
body must also be the rendering of a note.json entry whose item ids exist in items.json.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources

import pytest
from test_note_helpers import EXTRACTION, case_transcript, gold_cases, hand_items, hand_transcript

from voicenotes.note.build import build_note, entries_of
from voicenotes.note.render import render_markdown
from voicenotes.note.templates import TEMPLATE_NAMES, load_template
from voicenotes.schema import ItemSet, Transcript

TEMPLATE_DIR = resources.files("voicenotes.note").joinpath("templates")
QUOTE = re.compile(r"“(.*?)”")
TIME = re.compile(r"\[(\d\d:\d\d|\d+:\d\d:\d\d|turn \d+)\]")
WORD = re.compile(r"[A-Za-z]+")


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)}


def _template_words() -> set[str]:
    words: set[str] = set()
    for f in TEMPLATE_DIR.iterdir():
        if f.name.endswith(".toml"):  # the wording only: values, not keys or comments
            words |= _strings(tomllib.loads(f.read_text("utf-8")))
        elif f.name.endswith(".md.j2"):
            words |= _words(re.sub(r"\{[{%#].*?[}%#]\}", " ", f.read_text("utf-8"), flags=re.S))
    return words


def _strings(obj) -> set[str]:
    if isinstance(obj, dict):
        return set().union(*(_strings(v) for v in obj.values())) if obj else set()
    if isinstance(obj, list):
        return set().union(*(_strings(v) for v in obj)) if obj else set()
    return _words(obj) if isinstance(obj, str) else set()


def _values(obj) -> set[str]:
    out: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            out |= _words(str(k)) | _values(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            out |= _values(v)
    elif obj is not None:
        out |= _words(str(obj))
    return out


def assert_traceable(md: str, note: dict, itemset: ItemSet, transcript: Transcript) -> None:
    texts = [s.text for s in transcript.segments]
    item_ids = {i.id for i in itemset.items}
    item_times = {f"[{q['time']}]" for e in entries_of(note) for q in e["quotes"]}
    item_times |= {f"[{q['time']}]" for e in note["header"]["consent_items"] for q in e["quotes"]}
    allowed = _template_words()
    allowed |= _values(note["provenance"]) | _values(note["header"]["consent_record"])
    allowed |= _values(note["session_start"]) | _values(note["mode"])
    allowed |= _values(note.get("attribution_banner"))
    for it in itemset.items:
        allowed |= _values(it.value) | _values(it.experiencer_detail) | _values(it.speaker)
        allowed |= _values([it.subtype, it.type, it.temporality, it.polarity, it.modality])
    allowed |= _values([v["reasons"] for v in note["header"]["verify_audio"]])
    allowed |= _values(note["header"]["transcript_flags"])
    allowed |= {"mon", "tue", "wed", "thu", "fri", "sat", "sun", "jan", "feb", "mar", "apr",
                "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}  # rendered dates
    entry_texts = {e["text"] for e in entries_of(note)}
    entry_texts |= {e["text"] for g in note["header"]["risk_summary"] for e in g["entries"]}
    entry_texts |= {e["text"] for e in note["header"]["consent_items"]}
    for e in entries_of(note):
        assert set(e["item_ids"]) <= item_ids
    in_body = False
    for line in md.splitlines():
        if line.startswith("## ") and line[3:].split(" ", 1)[0][:1].isdigit() or line.startswith(
                ("## S ", "## D ", "## B ", "## Step", "## Reasons", "## Other items")):
            in_body = True
        if line.startswith("## Provenance"):
            in_body = False
        for q in QUOTE.findall(line):
            assert any(q in t for t in texts), f"quotation not in the transcript: {q!r}"
        for t in TIME.findall(line):
            if not line.startswith("- verify audio at"):
                assert f"[{t}]" in item_times or t in line.split("check ", 1)[-1], f"time {t} is no item's"
        if in_body and line.startswith("- "):
            assert line[2:] in entry_texts, f"bullet is not the rendering of an item: {line!r}"
        rest = TIME.sub(" ", QUOTE.sub(" ", line))
        stray = _words(rest) - allowed
        assert not stray, f"words from nowhere {sorted(stray)} in line {line!r}"


@pytest.fixture(scope="module")
def extracted():
    from voicenotes.extract import extract_items

    out = []
    cases = dict(gold_cases())
    cases.update(gold_cases(EXTRACTION / "dev-long.jsonl"))
    for cid, case in cases.items():
        t = case_transcript(case)
        out.append((cid, t, extract_items(t, mode=case["mode"], session_start=case["session_start"])))
    return out


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_every_sentence_traces_back_on_all_dev_cases(extracted, template):
    tpl = load_template(template)
    for cid, t, items in extracted:
        note = build_note(items, tpl, transcript=t, provenance={"input_file": f"{cid}.flac"})
        assert_traceable(render_markdown(note), note, items, t)


def test_trace_check_catches_invented_text():
    t = hand_transcript()
    items = hand_items()
    note = build_note(items, load_template("crisis"), transcript=t)
    md = render_markdown(note)
    assert_traceable(md, note, items, t)
    with pytest.raises(AssertionError, match="words from nowhere"):
        assert_traceable(md.replace("## 2. De-escalation", "## 2. De-escalation\nClient appeared calm and euthymic."),
                         note, items, t)
    with pytest.raises(AssertionError, match="quotation not in the transcript"):
        assert_traceable(md.replace("“I just want to die”", "“I want to live”"), note, items, t)
