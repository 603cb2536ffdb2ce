"""The gold dev set through the real eval path (``voicenotes eval``)."""

from __future__ import annotations

import json
import re

from conftest import EXTRACTION
from typer.testing import CliRunner

from voicenotes.cli import app

LAST = re.compile(r"^risk_recall=(?P<rr>[\d.]+) f1=(?P<f1>[\d.]+) attr_acc=(?P<aa>[\d.]+) forbidden=(?P<fb>\d+)$")


def _eval(gold, tmp_path):
    res = CliRunner().invoke(app, ["eval", str(gold), "--pred-dir", str(tmp_path / "pred")])
    assert res.exit_code == 0, res.output
    last = res.output.strip().splitlines()[-1]
    m = LAST.match(last)
    assert m, last
    return {k: float(v) for k, v in m.groupdict().items()}, res.output


def test_dev_scores(tmp_path, data_dir):
    s, out = _eval(EXTRACTION / "dev.jsonl", tmp_path)
    print(out)
    assert s["rr"] >= 0.95
    assert s["fb"] == 0
    assert s["f1"] >= 0.80
    assert s["aa"] >= 0.85
    # one prediction file per case, each an ItemSet with evidence per item, private to the user
    cases = [json.loads(line) for line in (EXTRACTION / "dev.jsonl").read_text().splitlines() if line.strip()]
    for c in cases:
        p = tmp_path / "pred" / f"{c['id']}.items.json"
        assert p.stat().st_mode & 0o777 == 0o600
        d = json.loads(p.read_text())
        for it in d["items"]:
            ev = it["evidence"]
            turn = c["turns"][ev["segment"]]["text"]
            assert turn[ev["start_char"]:ev["end_char"]] == ev["quote"]


def test_dev_long_scores(tmp_path, data_dir):
    s, out = _eval(EXTRACTION / "dev-long.jsonl", tmp_path)
    print(out)
    assert s["rr"] >= 0.95 and s["fb"] == 0 and s["f1"] >= 0.80 and s["aa"] >= 0.85


def test_scorer_counts_misses_and_forbidden(tmp_path):
    """The scorer itself: an empty prediction misses everything; an affirmed item where only a
    negated one is allowed is forbidden."""
    from voicenotes.extract.evaluate import score_case, summarize

    case = {"id": "x", "turns": [{"speaker": "counselor", "text": "Client denies suicidal ideation."}],
            "expect": [{"type": "RISK", "match": "suicidal ideation", "polarity": "negated"}],
            "forbid": [{"type": "RISK", "polarity": "affirmed"}]}
    empty = summarize([score_case(case, [])])
    assert empty.risk_recall == 0.0 and empty.forbidden == 0
    bad = {"type": "RISK", "polarity": "affirmed",
           "evidence": {"segment": 0, "start_char": 14, "end_char": 31, "quote": "suicidal ideation"}}
    s = summarize([score_case(case, [bad])])
    assert s.risk_recall == 1.0 and s.attr_acc == 0.0 and s.forbidden == 1
    # located by quote when the offsets point elsewhere
    moved = {**bad, "polarity": "negated", "evidence": {"segment": 5, "quote": "Suicidal ideation"}}
    s = summarize([score_case(case, [moved])])
    assert s.risk_recall == 1.0 and s.attr_acc == 1.0 and s.forbidden == 0
