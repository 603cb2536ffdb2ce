"""End to end from the dev audio with Whisper tiny.en: transcribe, take speakers from the sidecar
turn times, extract, and score like the text path. A fixed subset (every fifth case) keeps the
test short; ``voicenotes eval dev.jsonl --audio DIR`` runs all of them."""

from __future__ import annotations

import pytest
from conftest import EXTRACTION

pytestmark = pytest.mark.model


def test_dev_audio_risk_recall(tiny_transcriber, tmp_path, data_dir):
    from voicenotes.extract.evaluate import format_summary, read_gold, run_audio_eval

    cases = read_gold(EXTRACTION / "dev.jsonl")[::5]
    summary = run_audio_eval(cases, tmp_path / "pred", EXTRACTION / "audio", tiny_transcriber)
    print(format_summary(summary))
    assert summary.risk_recall >= 0.90
    # every prediction is tied to the audio: segment times from Whisper's word timestamps
    import json
    for c in cases:
        d = json.loads((tmp_path / "pred" / f"{c['id']}.items.json").read_text())
        assert d["items"], c["id"]
        for it in d["items"]:
            assert it["evidence"]["t_start"] is not None and it["evidence"]["t_end"] >= it["evidence"]["t_start"]


def test_sidecar_split_assigns_turn_roles(tiny_transcriber, data_dir):
    from voicenotes.extract.evaluate import assign_turns, read_sidecar

    cid = "dev-42"
    rows = read_sidecar(EXTRACTION / "audio" / f"{cid}.segments.tsv")
    tr = tiny_transcriber.transcribe(EXTRACTION / "audio" / f"{cid}.flac")
    tr2, seg_turn = assign_turns(tr, rows)
    assert sorted(set(seg_turn)) == list(range(len(rows)))  # every turn got speech
    for seg, ti in zip(tr2.segments, seg_turn, strict=False):
        assert seg.role == rows[ti][2]
        assert rows[ti][0] - 0.5 <= seg.start and seg.end <= rows[ti][1] + 0.5
