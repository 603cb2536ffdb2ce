"""The doubt flags and text renderings on hand-made segments (no model: pure logic, fast)."""

from __future__ import annotations

from voicenotes.schema import AudioInfo, Provenance, Segment, Transcript, Word
from voicenotes.transcribe import (
    FLAG_THRESHOLDS,
    flag_reasons,
    render_srt,
    render_txt,
    render_vtt,
    repetition_loop,
)


def words(text: str, p: float = 0.9) -> list[Word]:
    out, t = [], 0.0
    for w in text.split():
        out.append(Word(start=t, end=t + 0.3, word=" " + w, probability=p))
        t += 0.4
    return out


def reasons(text: str, p: float = 0.9, **kw) -> tuple[str, ...]:
    kw.setdefault("avg_logprob", -0.2)
    kw.setdefault("no_speech_prob", 0.05)
    kw.setdefault("chunk_compression_ratio", 1.3)
    return flag_reasons(text, words(text, p), **kw)


def test_clean_sentence_is_not_flagged():
    assert reasons("I will call my sister tonight and go for a walk.") == ()


def test_model_doubt_figures():
    assert "no_speech" in reasons("I will call.", no_speech_prob=FLAG_THRESHOLDS["no_speech_prob"])
    assert "low_confidence" in reasons("I will call.", avg_logprob=-1.2)
    assert "repetition" in reasons("I will call.", chunk_compression_ratio=2.6)


def test_repetition_loops_but_not_ordinary_emphasis():
    assert repetition_loop(["tzufafinin", "tzufafinin", "tzufafinin", "tzufafinin", "tzufafinin"])
    assert repetition_loop(["the", "above", "copyright", "notice", "the", "above", "copyright", "notice", "the", "above", "copyright", "notice"])
    assert not repetition_loop(["no", "no", "no", "I", "did", "not"])
    assert not repetition_loop(["I", "really", "really", "want", "to", "go", "home"])
    assert "repetition" in reasons("You you you you you")


def test_phantom_phrases_judged_on_the_whole_chunk():
    assert "phantom_phrase" in reasons("Thank you.", chunk_text="Thank you.")
    assert "phantom_phrase" in reasons("Subtitles by the Amara.org community",
                                       chunk_text="Subtitles by the Amara.org community")
    # a real "thank you" inside a longer conversation chunk is not flagged
    assert reasons("Thank you.", chunk_text="I called my sister. Thank you.") == ()


def test_punctuation_low_probability_and_non_speech():
    assert "punctuation_only" in flag_reasons(". . .", [], avg_logprob=-0.3,
                                              no_speech_prob=0.1, chunk_compression_ratio=1.0)
    assert "low_probability_words" in reasons("call the crisis line", p=0.2)
    assert "low_probability_words" not in reasons("call the crisis line", p=0.5)
    assert "over_non_speech" in reasons("call the crisis line", speech_prob=0.1)
    assert "over_non_speech" not in reasons("call the crisis line", speech_prob=0.8)


def _transcript() -> Transcript:
    segs = (
        Segment(id=0, start=1.0, end=2.5, text="I will call my sister.", words=tuple(words("a")),
                avg_logprob=-0.2, no_speech_prob=0.1, compression_ratio=1.1),
        Segment(id=1, start=62.0, end=63.0, text="Thank you.", verify=True,
                verify_reasons=("phantom_phrase", "no_speech")),
    )
    audio = AudioInfo(file_name="x.wav", sha256="0" * 64, duration_s=70.0,
                      container_duration_s=90.0, partial=True,
                      partial_reason="Only 70.0 s of 90.0 s could be read.")
    prov = Provenance(voicenotes_version="0", created_at="2026-01-01T00:00:00+00:00")
    return Transcript(audio=audio, segments=segs, provenance=prov, flags=("partial",))


def test_text_renderings_mark_doubt_and_warnings():
    t = _transcript()
    txt = render_txt(t)
    assert txt.splitlines()[0] == "# partial: only 70.0 s of 90.0 s could be read."
    assert "# 1 segment needs checking against the audio" in txt
    assert "[0:00:01] I will call my sister." in txt
    assert "[0:01:02] Thank you.  [check audio: a phrase Whisper often invents" in txt
    srt = render_srt(t)
    assert "2\n00:01:02,000 --> 00:01:03,000\n[check audio] Thank you.\n" in srt
    vtt = render_vtt(t)
    assert vtt.startswith("WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nI will call my sister.\n")
