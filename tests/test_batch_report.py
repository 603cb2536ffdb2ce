"""The supervision report from real extraction output (spaCy/medspaCy rules) and a real journal:
lethality topics, coverage, counts, quotes only on request, CSV safety."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from voicenotes import extract
from voicenotes.batch import Journal, report
from voicenotes.store import atomic_write_json

DICTATIONS = {
    "full.wav": (
        "Client reports thoughts of killing herself every night this week. She denies intent "
        "to act tonight. She has access to a handgun at home. She attempted suicide in 2019. "
        "Her children are a reason for living. She has been drinking heavily. She denies "
        "thoughts of harming others. She copes by walking her dog. I gave her the 988 number. "
        "I will call her tomorrow at 10."),
    "denies.wav": "Client denies suicidal ideation. Her brother attempted suicide last year.",
    "small-talk.wav": "We talked about the weather and her new job.",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[Path, Journal, list[tuple]]:
    out = tmp_path_factory.mktemp("out")
    j = Journal(out / "batch-journal.sqlite")
    rows = []
    for i, (name, text) in enumerate(DICTATIONS.items()):
        t = extract.transcript_from_turns([{"speaker": "counselor", "text": text}],
                                          mode="dictation", session_start="2026-03-09T14:00:00")
        items = extract.extract_items(t, mode="dictation", session_start="2026-03-09T14:00:00")
        sha = f"{i:064x}"
        stem = Path(name).stem
        atomic_write_json(out / stem / "transcript.json", t.to_dict())
        atomic_write_json(out / stem / "items.json", items.to_dict())
        j.add_job(sha, name, stem)
        j.mark_running(sha, {})
        j.mark_done(sha, partial_reason=None, decoded_s=12.0, expected_s=12.0, outputs={},
                    seconds=1.0)
        rows.append((name, sha, 1, 1, None))
    rows.append(("copy/full.wav", f"{0:064x}", 1, 1, "full.wav"))
    bad = "f" * 64
    j.add_job(bad, "=cmd|' /C calc'!A0.wav", "bad")
    j.mark_running(bad, {})
    j.mark_failed(bad, error_class="AudioError", message="The file is empty (0 bytes).",
                  decoded_s=None, expected_s=None, retryable=False, seconds=0.0)
    rows.append(("=cmd|' /C calc'!A0.wav", bad, 0, 1, None))
    return out, j, rows


def _csv(out: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO((out / "report.csv").read_text(encoding="utf-8"))))


def test_topics_and_coverage_from_real_items(folder):
    out, j, rows = folder
    report.write_reports(j, out, out, include_quotes=False, inputs=rows)
    by = {r["recording"]: r for r in _csv(out)}
    full = by["full.wav"]
    assert full["status"] == "done"
    assert full["ideation"] == "affirmed"
    assert full["intent"] == "denied"
    assert full["harm_to_others"] == "denied"
    assert full["means_access"] == "affirmed"
    assert full["prior_attempts"] == "affirmed"
    assert full["protective_factors"] == "affirmed"
    assert full["substance_use"] == "affirmed"
    assert (full["coping"], full["referrals"], full["follow_up"]) == ("yes", "yes", "yes")
    assert int(full["risk_affirmed"]) >= 4 and int(full["risk_denied"]) >= 2
    den = by["denies.wav"]
    assert den["ideation"] == "denied"
    assert den["prior_attempts"] == "mentioned"  # the brother's attempt: shown, not the client's
    assert int(den["risk_denied"]) >= 1
    talk = by["small-talk.wav"]
    assert {talk[k] for k, _ in report.LETHALITY} == {report.NOT_ASSESSED}
    assert (talk["coping"], talk["risk_affirmed"], talk["risk_denied"]) == ("no", "0", "0")
    assert by["copy/full.wav"]["status"] == "duplicate"
    # a file name that looks like a spreadsheet formula is neutralised
    bad = [r for r in by.values() if r["status"] == "failed"]
    assert len(bad) == 1 and bad[0]["recording"].startswith("'=")
    assert "AudioError" in bad[0]["problem"]
    assert "risk_quotes" not in full


def test_counts_plot_and_quotes_only_on_request(folder):
    out, j, rows = folder
    report.write_reports(j, out, out, include_quotes=False, inputs=rows)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Coverage across recordings" in page
    assert "no transcript words" in page
    for text in DICTATIONS.values():
        for sentence in text.split(". "):
            assert sentence.strip(". ").lower() not in page.lower()
    assert "thoughts of killing herself" not in (out / "report.csv").read_text()
    c = report.counts(report.build_rows(j, rows, out, include_quotes=False))
    assert (c["processed"], c["failed"], c["duplicate"], c["recordings"]) == (3, 1, 1, 4)
    assert c["topics"]["ideation"]["affirmed"] == 1 and c["topics"]["ideation"]["denied"] == 1
    assert c["topics"]["ideation"][report.NOT_ASSESSED] == 1
    assert "2 of 3" in page  # ideation assessed in two of three processed recordings

    report.write_reports(j, out, out, include_quotes=True, inputs=rows)
    by = {r["recording"]: r for r in _csv(out)}
    assert "thoughts of killing herself" in by["full.wav"]["risk_quotes"]
    assert "suicidal ideation" in by["denies.wav"]["risk_quotes"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "contains quotes from sessions" in page
    json.dumps(by)  # plain strings only
