"""Doubt flags: why a transcribed segment needs checking against the audio.

Doubtful segments are **flagged, never deleted** (``verify`` + ``verify_reasons``): a reader can
check a flagged line, but cannot check a line that was silently dropped. The checks are
Whisper's own (no-speech probability, mean log-probability, compression ratio), plus repetition
loops, stock phrases Whisper invents from silence, runs of uncertain words and text over audio
the VAD does not hear as speech.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from voicenotes.schema import Word

#: Thresholds that mark a segment ``verify=True`` (flag, never delete). Whisper's own fallback
#: thresholds, and figures measured on real speech, silence, noise and music.
FLAG_THRESHOLDS: dict[str, float] = {
    # the model's probability that the decoding window held no speech (Whisper's 0.6)
    "no_speech_prob": 0.6,
    # mean token log-probability of the decoding window below this = low confidence (Whisper's -1)
    "avg_logprob": -1.0,
    # gzip compression ratio of the window's text above this = repetitive text (Whisper's 2.4)
    "compression_ratio": 2.4,
    # a word with probability below this is "uncertain" ...
    "word_probability": 0.35,
    # ... and this many uncertain words in a row flag the segment
    "low_probability_run": 3,
    # a one-word n-gram repeated this many times in a row is a loop ("you you you you")
    "repeat_unigram": 4,
    # a longer n-gram (2..8 words) repeated this many times in a row is a loop
    "repeat_ngram": 3,
    # text whose words lie where the VAD's mean speech probability is below this = text over
    # non-speech (silence, noise, music)
    "min_speech_prob": 0.3,
}

#: Stock phrases Whisper produces from silence, noise or music. A decoding chunk whose whole text
#: is one of these is flagged ``phantom_phrase``.
PHANTOM_PHRASES = (
    "you", "thank you", "thank you very much", "thanks", "thanks for watching",
    "thank you for watching", "thanks for listening", "thank you for listening",
    "please subscribe", "like and subscribe", "bye", "bye bye", "okay", "so", "oh", "uh", "um",
    "the end", "music", "applause", "silence", "i'm sorry",
)
PHANTOM_PREFIXES = ("subtitles by", "subtitled by", "captions by", "transcribed by",
                    "translated by", "amara org", "www ", "http")

#: Plain-language text for each verify reason (shown in txt/srt/vtt and by the CLI).
REASON_TEXT = {
    "no_speech": "the model thinks this may not be speech",
    "low_confidence": "low recognition confidence",
    "repetition": "repeated text (possible recognition loop)",
    "phantom_phrase": "a phrase Whisper often invents from silence or noise",
    "punctuation_only": "punctuation only",
    "low_probability_words": "several uncertain words in a row",
    "over_non_speech": "text where the audio does not sound like speech",
    "untranscribed_speech": "speech was detected here but could not be transcribed",
}


_WORD_RE = re.compile(r"[\w']+", re.UNICODE)


def _norm_words(text: str) -> list[str]:
    """Lower-case words without punctuation or edge apostrophes."""
    return [w.strip("'") for w in _WORD_RE.findall(text.lower()) if w.strip("'")]


def repetition_loop(words: Sequence[str]) -> bool:
    """True when an n-gram repeats back to back: a 1-gram ``repeat_unigram`` times, or a 2..8-gram
    ``repeat_ngram`` times ("tzufafinin, tzufafinin, …" or a sentence said over and over)."""
    n_words = len(words)
    for n in range(1, 9):
        need = int(FLAG_THRESHOLDS["repeat_unigram"] if n == 1 else FLAG_THRESHOLDS["repeat_ngram"])
        if n * need > n_words:
            break
        for i in range(0, n_words - n * need + 1):
            gram = words[i:i + n]
            reps = 1
            j = i + n
            while j + n <= n_words and words[j:j + n] == gram:
                reps += 1
                j += n
                if reps >= need:
                    return True
    return False


def is_phantom(text: str) -> bool:
    """True when the whole text is a stock phrase Whisper produces from silence or noise."""
    norm = " ".join(_norm_words(text))
    if not norm:
        return False
    return norm in PHANTOM_PHRASES or any(norm.startswith(p) for p in PHANTOM_PREFIXES)


def is_punctuation_only(text: str) -> bool:
    """True for text with characters but no word in it ("...", "?")."""
    return bool(text.strip()) and not _WORD_RE.search(text)


def compression_ratio(text: str) -> float:
    """Bytes / zlib-compressed bytes of the text (Whisper's repetition measure)."""
    import zlib

    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def flag_reasons(
    text: str,
    words: Sequence[Word],
    *,
    avg_logprob: float | None,
    no_speech_prob: float | None,
    chunk_compression_ratio: float | None,
    chunk_text: str | None = None,
    speech_prob: float | None = None,
) -> tuple[str, ...]:
    """Why a segment needs checking against the audio (empty tuple: nothing doubtful).

    ``avg_logprob``/``no_speech_prob``/``chunk_compression_ratio`` are the figures of the
    ≤ 30-s decoding chunk the segment came from; ``chunk_text`` is that chunk's whole text
    (phantom phrases are judged on it, so a real "thank you" inside a conversation is not
    flagged); ``speech_prob`` is the mean Silero VAD speech probability under its words.
    """
    t = FLAG_THRESHOLDS
    reasons: list[str] = []
    if not text.strip():
        return ()
    if no_speech_prob is not None and no_speech_prob >= t["no_speech_prob"]:
        reasons.append("no_speech")
    if avg_logprob is not None and avg_logprob < t["avg_logprob"]:
        reasons.append("low_confidence")
    norm = _norm_words(text)
    if ((chunk_compression_ratio is not None and chunk_compression_ratio > t["compression_ratio"])
            or compression_ratio(text) > t["compression_ratio"] or repetition_loop(norm)):
        reasons.append("repetition")
    if is_phantom(chunk_text if chunk_text is not None else text) or (
            chunk_text is None and is_phantom(text)):
        reasons.append("phantom_phrase")
    if is_punctuation_only(text):
        reasons.append("punctuation_only")
    best = _longest_uncertain_run(words)
    if best >= t["low_probability_run"] or (
            0 < len(words) < t["low_probability_run"] and best == len(words)):
        reasons.append("low_probability_words")
    if speech_prob is not None and speech_prob < t["min_speech_prob"]:
        reasons.append("over_non_speech")
    return tuple(reasons)



def _longest_uncertain_run(words: Sequence[Word]) -> int:
    """The most words in a row below the ``word_probability`` threshold (punctuation-only
    tokens neither count nor break a run)."""
    run = best = 0
    for w in words:
        if _WORD_RE.search(w.word) and w.probability < FLAG_THRESHOLDS["word_probability"]:
            run += 1
            best = max(best, run)
        elif _WORD_RE.search(w.word):
            run = 0
    return best
