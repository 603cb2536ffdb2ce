"""The words that decide an item's polarity, modality or time, checked against the audio.

"Yeah, I have." and "Yeah, I haven't." differ by one short sound, and Whisper sometimes hears
the wrong one; so do "no"/"know", "never"/"ever", "can"/"can't". When such a deciding word in
an item's sentence was heard with a low word probability (under :data:`MIN_PROBABILITY`), or
sits in a segment the transcription flagged as doubtful, the item is marked ``verify_audio``
(the same review flag doubtful segments set) with the time to listen at (``asr.listen_at``).

The deciding words are the fixed list below, any "…n't" contraction, and the cue words the
extraction recorded for the item's polarity, modality and time. A short answer that contradicts
itself ("Yeah, I haven't.", "No, I have.") is checked too, however confidently it was heard:
that is how a misheard "have"/"haven't" shows (Whisper heard "Yeah. I have been." as "Yeah,
I haven't." with a word probability of 0.86). Runs after extraction, over the
items and the transcript's word timings; nothing here logs session words.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from voicenotes.extract.attribution import sentence_at
from voicenotes.schema import Item, ItemSet, Segment, Transcript, Word

MIN_PROBABILITY = 0.5
DECIDING_WORDS = frozenset({
    "have", "haven't", "has", "hasn't", "had", "hadn't", "did", "didn't", "do", "don't",
    "does", "doesn't", "can", "can't", "cannot", "no", "know", "not", "never", "ever", "used",
    "nope", "yes", "yeah",
})
CUE_ATTRS = ("polarity", "modality", "temporality")
YES = frozenset({"yeah", "yes", "yep", "yup", "yea"})
NO = frozenset({"no", "nope", "nah"})
AUX = frozenset({"have", "has", "had", "did", "do", "does", "can", "am", "was", "will"})
#: Answers longer than this many words are not checked for contradicting themselves.
SHORT_ANSWER_WORDS = 6
_TOKEN = re.compile(r"[^\w']+")


def _norm(word: str) -> str:
    return _TOKEN.sub("", word.strip().lower().replace("\u2019", "'"))


def _word_spans(seg: Segment) -> list[tuple[int, int, Word]]:
    """Each timed word with its character span in the segment's text (searched in order)."""
    spans: list[tuple[int, int, Word]] = []
    pos = 0
    low = seg.text.lower()
    for w in seg.words:
        token = w.word.strip().lower()
        if not token:
            continue
        j = low.find(token, pos)
        if j < 0:
            continue
        spans.append((j, j + len(token), w))
        pos = j + len(token)
    return spans


def _cue_words(item: Item) -> set[str]:
    out: set[str] = set()
    for attr in CUE_ATTRS:
        for cue in item.evidence.cues.get(attr, ()):
            out.update(_norm(t) for t in str(cue).split() if _norm(t))
    return out


def _deciding(word: str, cues: set[str]) -> bool:
    w = _norm(word)
    return bool(w) and (w in DECIDING_WORDS or w.endswith("n't") or w in cues)


def _found(w: Word, why: str) -> dict[str, Any]:
    return {"word": w.word.strip(), "probability": round(float(w.probability), 3),
            "t": round(float(w.start), 2), "why": why}


def _contradiction(words: list[Word]) -> Word | None:
    """The word that contradicts a short answer's opening yes or no, or None."""
    toks = [_norm(w.word) for w in words]
    if not toks or len(toks) > SHORT_ANSWER_WORDS:
        return None
    negation = [i for i, t in enumerate(toks[1:], 1)
                if t.endswith("n't") or t in ("not", "never", "no", "cannot")]
    if toks[0] in YES and negation:
        return words[negation[0]]
    if toks[0] in NO and not negation:
        aux = [i for i, t in enumerate(toks[1:], 1) if t in AUX]
        return words[aux[0]] if aux else None
    return None


def doubtful_words(item: Item, seg: Segment) -> list[dict[str, Any]]:
    """The deciding words of ``item``'s sentence that need a listen (empty when none)."""
    if not seg.words:
        return []
    a, b = sentence_at(seg.text, min(item.evidence.start_char, max(0, len(seg.text) - 1)))
    b = max(b, item.evidence.end_char)
    cues = _cue_words(item)
    out = []
    inside = [w for s, e, w in _word_spans(seg) if e > a and s < b]
    for w in inside:
        if not _deciding(w.word, cues):
            continue
        low = w.probability is not None and w.probability < MIN_PROBABILITY
        if low or seg.verify:
            out.append(_found(w, "low_word_probability" if low else "doubtful_segment"))
    odd = _contradiction(inside)
    if odd is not None and not any(f["t"] == round(float(odd.start), 2) for f in out):
        out.append(_found(odd, "answer_contradicts_itself"))
    return out


def check_deciding_words(itemset: ItemSet, transcript: Transcript | None) -> ItemSet:
    """Mark items whose deciding words are doubtful ``verify_audio``, with ``asr.listen_at``."""
    if transcript is None:
        return itemset
    items: list[Item] = []
    marked = 0
    for it in itemset.items:
        idx = it.evidence.segment
        if 0 <= idx < len(transcript.segments):
            found = doubtful_words(it, transcript.segments[idx])
            if found:
                it = _mark(it, found)
                marked += 1
        items.append(it)
    prov = dict(itemset.provenance)
    prov["deciding_words_checked"] = {"min_probability": MIN_PROBABILITY, "items_marked": marked}
    return replace(itemset, items=tuple(items), provenance=prov)


def _mark(item: Item, found: list[dict[str, Any]]) -> Item:
    asr = dict(item.asr)
    asr["verify"] = True
    reasons = list(asr.get("verify_reasons") or [])
    if "deciding_word_doubtful" not in reasons:
        reasons.append("deciding_word_doubtful")
    asr["verify_reasons"] = reasons
    asr["deciding_words"] = found
    asr["listen_at"] = min(f["t"] for f in found)
    flags = list(item.review_flags)
    if "verify_audio" not in flags:
        flags.append("verify_audio")
    return replace(item, asr=asr, review_flags=tuple(flags))
