"""Corpus WER of the real engine (tiny.en, default decoding settings) on all 58 speech clips in tests/data.

Each clip goes through the same path as a user's file (probe -> streaming decode -> batched
pipeline -> segments). Normalisation is Whisper's own English normaliser (whisper_normalizer),
scoring is jiwer. The gate is the issue's: corpus WER <= 10 %.
"""

from __future__ import annotations

import jiwer
import pytest
from conftest import SPEECH
from whisper_normalizer.english import EnglishTextNormalizer

pytestmark = pytest.mark.model


def test_corpus_wer_tiny_en_all_clips(tiny_transcriber, speech_refs, capsys):
    assert len(speech_refs) == 58
    norm = EnglishTextNormalizer()
    refs, hyps, by_corpus = [], [], {}
    flagged = 0
    for row in speech_refs:
        transcript = tiny_transcriber.transcribe(SPEECH / row["file"])
        assert transcript.audio.partial is False, row["id"]
        assert abs(transcript.audio.duration_s - float(row["duration_s"])) < 0.1, row["id"]
        flagged += sum(1 for s in transcript.segments if s.verify)
        ref, hyp = norm(row["text"]), norm(transcript.text)
        refs.append(ref)
        hyps.append(hyp)
        r, h = by_corpus.setdefault(row["corpus"], ([], []))
        r.append(ref)
        h.append(hyp)
    wer = jiwer.wer(refs, hyps)
    with capsys.disabled():
        print(f"\ncorpus WER tiny.en (58 clips): {wer:.2%}; segments flagged 'verify': {flagged}")
        for corpus, (r, h) in sorted(by_corpus.items()):
            print(f"  {corpus:28s} {len(r):3d} clips  WER {jiwer.wer(r, h):6.2%}")
    assert wer <= 0.10
    # clean read speech must not be drowned in doubt flags
    assert flagged <= 3
