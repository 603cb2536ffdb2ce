"""``voicenotes extract``: text and transcript-JSON inputs, site rules, malformed rules, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from voicenotes.cli import app

REPO = Path(__file__).resolve().parent.parent
SESSION = """counselor: Have you had any thoughts of killing yourself?
client: No, never.
counselor: I'll call you tomorrow at ten.
"""


def _run(args):
    return CliRunner().invoke(app, args)


def test_plain_text_session(tmp_path):
    src = tmp_path / "call.txt"
    src.write_text(SESSION)
    out = tmp_path / "out" / "items.json"
    res = _run(["extract", str(src), "--session-start", "2026-03-09T14:00", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.stat().st_mode & 0o777 == 0o600
    d = json.loads(out.read_text())
    assert d["mode"] == "session" and d["rules_version"]
    types = [(i["type"], i["modality"], i["polarity"], i["speaker"]) for i in d["items"]]
    assert ("RISK", "question", "affirmed", "counselor") in types
    assert ("RISK", "actual", "negated", "client") in types
    fu = [i for i in d["items"] if i["type"] == "FOLLOW_UP"][0]
    assert fu["value"]["when"] == "2026-03-10T10:00:00" and fu["value"]["who"] == "counselor"
    # the summary shows counts, never the session's words
    assert "RISK" in res.output and "killing" not in res.output and "No, never" not in res.output


def test_plain_text_dictation_default_items_json(tmp_path):
    src = tmp_path / "dictation.txt"
    src.write_text("client denies suicidal ideation period she was given nine eight eight period\n")
    res = _run(["extract", str(src), "--session-start", "2026-03-09T14:00"])
    assert res.exit_code == 0, res.output
    d = json.loads((tmp_path / "items.json").read_text())
    assert d["mode"] == "dictation"
    assert {i["type"] for i in d["items"]} == {"RISK", "REFERRAL"}
    assert all(i["speaker"] == "counselor" for i in d["items"])


def test_transcript_json_input(tmp_path):
    from voicenotes.extract import transcript_from_turns

    tr = transcript_from_turns([{"speaker": "client", "text": "I've been saving up my pills."}], mode="session",
                               session_start="2026-03-09T14:00:00")
    src = tmp_path / "transcript.json"
    src.write_text(json.dumps(tr.to_dict()))
    res = _run(["extract", str(src), "--out", str(tmp_path / "i.json")])
    assert res.exit_code == 0, res.output
    d = json.loads((tmp_path / "i.json").read_text())
    assert {(i["type"], i["subtype"]) for i in d["items"]} >= {("RISK", "preparatory"), ("MEANS", None)}
    assert d["session_start"] == "2026-03-09T14:00:00"


def test_site_rules_file_adds_a_target(tmp_path):
    rules = tmp_path / "site.jsonl"
    rules.write_text('# our own words\n{"id": "site-bridge", "type": "MEANS", "literal": "the Hoan bridge", '
                     '"value": {"means": "heights"}}\n')
    src = tmp_path / "t.txt"
    src.write_text("client: I keep driving past the Hoan bridge at night.\n")
    res = _run(["extract", str(src), "--rules", str(rules), "--out", str(tmp_path / "i.json")])
    assert res.exit_code == 0, res.output
    d = json.loads((tmp_path / "i.json").read_text())
    assert any(i["type"] == "MEANS" and i["value"]["means"] == "heights" and i["rule_id"] == "site-bridge"
               for i in d["items"])


def test_malformed_rule_exit_8_names_file_and_line(tmp_path):
    rules = tmp_path / "bad.jsonl"
    rules.write_text('{"id": "ok", "type": "RISK", "literal": "end it all"}\n\n{"id": "broken", "type": "RISK", "regex": "(unclosed"}\n')
    src = tmp_path / "t.txt"
    src.write_text("hello\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, "-m", "voicenotes", "extract", str(src), "--rules", str(rules)],
                       capture_output=True, text=True, env=env, cwd=REPO)
    assert p.returncode == 8, p.stderr
    assert "bad.jsonl line 3" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "items.json").exists()
    for bad, what in (('{"type": "RISK"}', "literal"), ('not json', "not valid JSON"),
                      ('{"type": "NOPE", "literal": "x"}', "type"), ('{"category": "NEGATED", "literal": "x", "direction": "UP"}', "direction")):
        rules.write_text(bad + "\n")
        res = _run(["extract", str(src), "--rules", str(rules)])
        assert res.exit_code == 8 and "bad.jsonl line 1" in res.output and what in res.output, res.output


def test_bad_inputs_one_line_non_zero(tmp_path):
    audio = tmp_path / "x.txt"
    audio.write_bytes(b"\xff\xfe\x00\x01RIFF....WAVEfmt \x00\x00")
    res = _run(["extract", str(audio)])
    assert res.exit_code == 3 and "Error:" in res.output
    js = tmp_path / "t.json"
    js.write_text('{"segments": [')
    res = _run(["extract", str(js)])
    assert res.exit_code == 3 and "not valid JSON" in res.output
    js.write_text('{"hello": 1}')
    assert _run(["extract", str(js)]).exit_code == 3
    assert _run(["extract", str(tmp_path / "missing.txt")]).exit_code == 3
    empty = tmp_path / "e.txt"
    empty.write_text("\n\n")
    assert _run(["extract", str(empty)]).exit_code == 3
    assert _run(["extract", str(js), "--mode", "chat"]).exit_code == 2
    assert _run(["extract", str(js), "--session-start", "monday"]).exit_code == 2


def test_eval_bad_gold(tmp_path):
    g = tmp_path / "g.jsonl"
    g.write_text("{not json}\n")
    res = _run(["eval", str(g), "--pred-dir", str(tmp_path / "p")])
    assert res.exit_code == 3 and "g.jsonl line 1" in res.output


def test_help_does_not_load_spacy():
    code = ("import sys; from typer.testing import CliRunner; from voicenotes.cli import app; "
            "r = CliRunner().invoke(app, ['extract', '--help']); assert r.exit_code == 0; "
            "assert 'spacy' not in sys.modules and 'medspacy' not in sys.modules, 'heavy import'")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stderr
