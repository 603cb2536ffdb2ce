"""Assembling decoded chunks into schema segments.

Each ≤ 30-s decoding chunk is split into sentence-sized segments at sentence ends and pauses;
timestamps are offset by the window start, made monotonic and clamped inside the audio, and
each segment gets its doubt flags (:func:`~voicenotes.transcribe.guards.flag_reasons`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voicenotes.schema import Segment, Word
from voicenotes.transcribe.guards import flag_reasons
from voicenotes.transcribe.vad import trim_word_ends, word_speech_probs

_SENTENCE_END = re.compile(r"[.?!…]['\")\]]*$")


@dataclass
class Chunk:
    """What we keep of one faster-whisper segment (one ≤ 30-s decoding chunk): small."""

    offset_s: float
    start: float
    end: float
    text: str
    words: list[Any]  # faster_whisper Word objects, window-relative times
    speech: list[float | None]  # per word: mean VAD speech probability under it (None: unknown)
    avg_logprob: float | None
    no_speech_prob: float | None
    compression_ratio: float | None
    reasons: tuple[str, ...] = ()  # reasons known before assembly (e.g. untranscribed_speech)

    @classmethod
    def of(cls, seg: Any, probs: Any, offset_s: float,
           regions: Sequence[tuple[float, float]] = ()) -> Chunk:
        """Keep a faster-whisper segment, its word ends trimmed to the VAD's speech."""
        words = list(seg.words or ())
        trim_word_ends(words, regions)
        return cls(offset_s, float(seg.start), float(seg.end), seg.text, words,
                   word_speech_probs(probs, words), float(seg.avg_logprob),
                   float(seg.no_speech_prob), float(seg.compression_ratio))


class Assembler:
    """Turns chunks (window-relative) into clamped, monotonic, flagged schema segments."""

    def __init__(self, duration_s: float, split: bool):
        self.duration = max(0.0, duration_s)
        self.split = split
        self.segments: list[Segment] = []
        self.last_t = 0.0

    def _t(self, t: float) -> float:
        return round(min(max(t, 0.0), self.duration), 3)

    def add(self, c: Chunk) -> None:
        """Add one chunk's segments (one per sentence-sized piece, or one for a chunk with text
        but no words)."""
        words, speech = self._place_words(c)
        chunk_text = c.text.strip()
        if words:
            pieces = _split_words(words) if self.split else [words]
        else:
            pieces = [[]]
        for piece in pieces:
            if piece:
                text = "".join(w.word for w in piece).strip()
                start, end = piece[0].start, max(w.end for w in piece)
                vad = _mean_prob([speech[id(w)] for w in piece])
            else:
                text = chunk_text
                start = max(self._t(c.start + c.offset_s), self.last_t)
                end = max(self._t(c.end + c.offset_s), start)
                self.last_t = start
                vad = None
            if text:
                self._append(c, piece, text, start, end, chunk_text, vad)

    def _place_words(self, c: Chunk) -> tuple[list[Word], dict[int, float | None]]:
        """The chunk's words on the file's clock, monotonic and clamped, with the VAD speech
        probability of each (by ``id``)."""
        words: list[Word] = []
        speech: dict[int, float | None] = {}
        for fw, sp in zip(c.words, c.speech, strict=True):
            start = max(self._t(fw.start + c.offset_s), self.last_t)
            end = max(self._t(fw.end + c.offset_s), start)
            self.last_t = start
            w = Word(start=start, end=end, word=fw.word,
                     probability=round(float(fw.probability), 4))
            speech[id(w)] = sp
            words.append(w)
        return words, speech

    def _append(self, c: Chunk, piece: list[Word], text: str, start: float, end: float,
                chunk_text: str, vad: float | None) -> None:
        if c.reasons:
            reasons = c.reasons
        else:
            reasons = flag_reasons(
                text, piece, avg_logprob=c.avg_logprob, no_speech_prob=c.no_speech_prob,
                chunk_compression_ratio=c.compression_ratio, chunk_text=chunk_text,
                speech_prob=vad)
        self.segments.append(Segment(
            id=len(self.segments), start=start, end=end, text=text, words=tuple(piece),
            avg_logprob=_r4(c.avg_logprob), no_speech_prob=_r4(c.no_speech_prob),
            compression_ratio=_r4(c.compression_ratio),
            verify=bool(reasons), verify_reasons=reasons))


def _split_words(words: list[Word], max_gap_s: float = 1.0) -> list[list[Word]]:
    """Split a chunk's words into sentence-sized pieces: after a sentence end, or at a pause."""
    pieces: list[list[Word]] = []
    cur: list[Word] = []
    for w in words:
        if cur and (w.start - cur[-1].end) >= max_gap_s:
            pieces.append(cur)
            cur = []
        cur.append(w)
        if _SENTENCE_END.search(w.word.strip()):
            pieces.append(cur)
            cur = []
    if cur:
        pieces.append(cur)
    return pieces


def _mean_prob(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(sum(vals) / len(vals), 3) if vals else None


def _r4(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)
