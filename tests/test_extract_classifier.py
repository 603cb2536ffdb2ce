"""The clause classifier (voicenotes/extract/classify.py + classifier/): the real MiniLM int8 model
on onnxruntime and the shipped trained head, on sentences written for these tests (none from the
corpus or the gold sets), and the frozen blind gold set through the real eval path.

The frozen set (eval/sets/frozen-1.jsonl) is never trained or tuned on and only its aggregate
figures are looked at. Its first contact (rules + semantic layer, before the classifier) scored
risk_recall=0.536 f1=0.523 attr_acc=0.919 forbidden=14; with the classifier (thresholds chosen on
it for the highest risk recall it reaches): 0.777 / 0.595 / 0.837 / 23 (eval/history.md). The
floors below are those figures minus a small margin.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voicenotes.cli import app
from voicenotes.extract import classify, extract_items, transcript_from_turns

ROOT = Path(__file__).resolve().parent.parent
LAST = re.compile(r"^risk_recall=(?P<rr>[\d.]+) f1=(?P<f1>[\d.]+) attr_acc=(?P<aa>[\d.]+) forbidden=(?P<fb>\d+)$")
needs_model = pytest.mark.skipif(not classify.available(), reason="extra 'semantic' not installed")


def _items(turns, mode="session", classifier=True, monkeypatch=None):
    if monkeypatch is not None:
        monkeypatch.setenv("VOICENOTES_CLASSIFIER", "1" if classifier else "0")
    tr = transcript_from_turns(turns, mode=mode)
    return extract_items(tr, mode=mode).items


@needs_model
def test_frozen_set_floors(tmp_path):
    res = CliRunner().invoke(app, ["eval", str(ROOT / "eval" / "sets" / "frozen-1.jsonl"),
                                   "--pred-dir", str(tmp_path / "pred")])
    assert res.exit_code == 0
    lines = res.output.strip().splitlines()
    m = LAST.match(lines[-1])
    assert m, lines[-1]
    s = {k: float(v) for k, v in m.groupdict().items()}
    assert any(line.startswith("recall per type: RISK ") for line in lines)
    assert any(line.startswith("stage recall: triggers+precipitants ") for line in lines)
    assert s["rr"] >= 0.75, s
    assert s["f1"] >= 0.55, s
    assert s["aa"] >= 0.80, s
    assert s["fb"] <= 23, s


@needs_model
@pytest.mark.parametrize("text,typ", [
    # a crisis told as a place and an action, no risk word
    ("I'm parked up on the old quarry road and I keep looking over the edge.", "RISK"),
    # a trigger as a situation
    ("The week the rent is due is always when it gets really dark for me.", "TRIGGER"),
])
def test_clause_with_no_rule_word_is_proposed(monkeypatch, text, typ):
    turns = [{"speaker": "client", "text": text}]
    assert not [i for i in _items(turns, classifier=False, monkeypatch=monkeypatch) if i.type == typ]
    got = [i for i in _items(turns, monkeypatch=monkeypatch) if i.type == typ]
    assert len(got) == 1
    it = got[0]
    assert it.source == "classifier" and "classifier" in it.review_flags
    assert it.polarity == "affirmed" and it.experiencer == "client" and it.modality == "actual"
    # the evidence is a whole clause, never a lone keyword
    assert len(it.evidence.quote.split()) >= 6 and text.startswith(it.evidence.quote)
    assert any(c.startswith("classifier:") for c in it.evidence.cues["type"])
    if it.certainty == "possible":
        assert "review" in it.review_flags


@needs_model
@pytest.mark.parametrize("answer,polarity,certainty", [
    ("Sometimes.", "affirmed", "possible"),
    ("No, not really.", "negated", None),
])
def test_bare_answer_takes_the_topic_of_an_indirect_screening_question(monkeypatch, answer, polarity, certainty):
    q = ("A lot of people who feel this worn down start wishing they could just disappear for good. "
         "Has that been on your mind?")
    items = _items([{"speaker": "counselor", "text": q}, {"speaker": "client", "text": answer}],
                   monkeypatch=monkeypatch)
    asked = [i for i in items if i.evidence.segment == 0 and i.type == "RISK"]
    assert asked and all(i.modality == "question" for i in asked)  # a question, never a statement
    ans = [i for i in items if i.evidence.segment == 1 and i.type == "RISK"]
    assert len(ans) == 1
    assert ans[0].polarity == polarity and ans[0].modality == "actual"
    assert ans[0].evidence.quote == answer
    assert "answer_inferred" in ans[0].review_flags
    if certainty:
        assert ans[0].certainty == certainty


@needs_model
def test_means_safety_as_an_action_in_dictation(monkeypatch):
    text = "Client reports he gave his hunting rifle to his brother-in-law to hold until things settle."
    items = _items([{"speaker": "counselor", "text": text}], mode="dictation", monkeypatch=monkeypatch)
    ms = [i for i in items if i.type == "MEANS_SAFETY"]
    assert len(ms) == 1 and ms[0].source == "classifier" and ms[0].polarity == "affirmed"


@needs_model
def test_idiom_is_not_proposed_as_risk(monkeypatch):
    items = _items([{"speaker": "client", "text": "Honestly I nearly died laughing at that show last week."}],
                   monkeypatch=monkeypatch)
    assert not [i for i in items if i.type == "RISK" and i.polarity == "affirmed" and i.modality == "actual"]


def test_manifest_matches_the_corpus_and_the_rules_version_covers_the_head(monkeypatch):
    import json

    from voicenotes.extract import classifier
    from voicenotes.extract.rules import builtin_version

    manifest = json.loads(classifier.MANIFEST.read_text(encoding="utf-8"))
    assert manifest["corpus_sha256"] == classifier.corpus_hash(), \
        "the corpus changed: retrain with scripts/train_classifier.py"
    assert manifest["seed"] == 13 and manifest["heldout"][manifest["head"]]["macro_f1"] > 0.5
    before = builtin_version()
    monkeypatch.setattr(classifier, "weights_hash", lambda: "another head")
    assert builtin_version() != before
