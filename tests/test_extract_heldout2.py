"""Second held-out gold set (tests/data/heldout2.jsonl, 48 cases) and a small fresh batch
(tests/data/heldout2b.jsonl, 12 cases) and a third one (heldout2c.jsonl, 10 cases), all in the gold format of data/extraction/README.md,
scored through the real eval path (``voicenotes eval``).

heldout2 was written before its author read the rule files; its first run scored
risk_recall=0.633 f1=0.711 attr_acc=0.870 forbidden=1. The lexicon was then widened with general
patterns (not sentence literals), so heldout2 is no longer unseen: the floors below guard the
gains. heldout2b was written after those fixes and run once (risk_recall=0.588 f1=0.732
attr_acc=1.000 on its first labelling) before the second round of fixes; it is the better
estimate of what unseen text still misses. heldout2c was written after the heldout2b fixes and
run once (risk_recall=0.643 f1=0.710 attr_acc=0.909) before its own fixes. Floors = the reached figure minus a small margin.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voicenotes.cli import app

DATA = Path(__file__).parent / "data"
LAST = re.compile(r"^risk_recall=(?P<rr>[\d.]+) f1=(?P<f1>[\d.]+) attr_acc=(?P<aa>[\d.]+) forbidden=(?P<fb>\d+)$")


def _eval(gold: Path, tmp_path: Path) -> dict:
    res = CliRunner().invoke(app, ["eval", str(gold), "--pred-dir", str(tmp_path / "pred")])
    assert res.exit_code == 0, res.output
    m = LAST.match(res.output.strip().splitlines()[-1])
    assert m, res.output
    print(res.output)
    return {k: float(v) for k, v in m.groupdict().items()}


# (file, risk recall floor, F1 floor, attribute accuracy floor); reached with the rules alone:
# heldout2 1.000 / 0.945 / 0.964, heldout2b 1.000 / 0.939 / 0.957, heldout2c 1.000 / 0.944 / 1.000.
# With the clause classifier on (it proposes items for clauses the rules left without that type, so
# it adds cards these rule-tuned golds do not list): heldout2 F1 0.872, heldout2b 0.852, heldout2c
# 0.829; risk recall, attribute accuracy and forbidden unchanged.
@pytest.mark.parametrize("name,rr,f1,aa", [
    ("heldout2.jsonl", 0.95, 0.85, 0.92),
    ("heldout2b.jsonl", 0.90, 0.85, 0.90),
    ("heldout2c.jsonl", 0.90, 0.82, 0.90),
])
def test_heldout2_scores(tmp_path, name, rr, f1, aa):
    s = _eval(DATA / name, tmp_path)
    assert s["fb"] == 0, "a forbidden item (e.g. a negated risk shown as affirmed) was produced"
    assert s["rr"] >= rr
    assert s["f1"] >= f1
    assert s["aa"] >= aa


@pytest.mark.parametrize("mode,text,typ", [
    # a MEANS item on the same words must not stand in for the risk statement (safety net)
    ("session", "honestly some nights i think i'll just jump off the parking garage", "RISK"),
    ("session", "i keep picturing myself swerving into a tree on the highway, i could drive into the median", "RISK"),
    # a relative who reports or worries is not the experiencer of the client's risk factor
    ("dictation", "His wife is worried about his drinking.", "RISK_FACTOR"),
    # third-person reflexive in dictation is the client
    ("dictation", "She told her roommate she wants to kill herself.", "RISK"),
])
def test_risk_statement_survives(mode, text, typ):
    from voicenotes.extract import extract_items, transcript_from_turns

    tr = transcript_from_turns([{"speaker": "client" if mode == "session" else "counselor", "text": text}],
                               mode=mode, session_start="2026-10-14T16:00:00")
    items = [i for i in extract_items(tr, mode=mode, session_start="2026-10-14T16:00:00").items if i.type == typ]
    assert items, f"no {typ} item"
    assert all(i.polarity == "affirmed" for i in items)
    assert any(i.experiencer == "client" for i in items)
