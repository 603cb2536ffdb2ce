"""Crisis-item extraction: transcript -> items (item schema v1, docs/extraction.md).

Public API (contract in the common brief):
- :func:`extract_items` (transcript, mode, session_start, rules_paths) -> ItemSet
- :func:`transcript_from_turns` (turns of {"speaker", "text"}) -> Transcript
- :data:`RULES_VERSION`

spaCy and medspaCy are imported lazily (the first extraction loads and caches the pipeline).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voicenotes import __version__
from voicenotes.errors import InputError
from voicenotes.extract.rules import builtin_version, load_rules
from voicenotes.schema import (
    AudioInfo,
    Evidence,
    Item,
    ItemSet,
    Provenance,
    Segment,
    Transcript,
)

RULES_VERSION: str = builtin_version()
MODES = ("dictation", "session")
_ORDER = ("RISK", "RISK_FACTOR", "MEANS", "MEANS_SAFETY", "PROTECTIVE", "TRIGGER", "PRECIPITANT",
          "DISTRESS", "COPING", "SUPPORT", "REFERRAL", "FOLLOW_UP", "CONSENT")

_ENGINES: dict = {}
_LOCK = threading.Lock()


def get_extractor(rules_paths: Sequence[Path] = (), use_model: bool | None = None):
    """The loaded extractor for these rule files (built once, then cached)."""
    from voicenotes.extract.engine import Extractor
    from voicenotes.extract.nlp import get_nlp

    key = tuple(str(Path(p).resolve()) for p in rules_paths)
    rules = load_rules([Path(p) for p in rules_paths])
    with _LOCK:
        k = (key, rules.version, use_model)
        if k not in _ENGINES:
            nlp, info = get_nlp(rules, key, use_model)
            _ENGINES[k] = Extractor(nlp, rules, info)
        return _ENGINES[k]


def transcript_from_turns(turns: list[dict], *, mode: str = "session",
                          session_start: str | None = None) -> Transcript:
    """A transcript for text input: one Segment per turn, role = the turn's speaker."""
    segs = []
    for i, t in enumerate(turns):
        if not isinstance(t, dict) or not isinstance(t.get("text"), str):
            raise InputError(f"Turn {i + 1} has no text.", hint="Each turn needs \"speaker\" and \"text\".")
        spk = str(t.get("speaker") or "unknown").lower()
        role = spk if spk in ("counselor", "client", "other") else "unknown"
        segs.append(Segment(id=i, start=0.0, end=0.0, text=t["text"], speaker=spk, role=role))
    digest = hashlib.sha256(json.dumps([s.text for s in segs]).encode("utf-8")).hexdigest()
    audio = AudioInfo(file_name="(text)", sha256=digest, duration_s=0.0)
    prov = Provenance(voicenotes_version=__version__,
                      created_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                      settings={"source": "text"})
    return Transcript(audio=audio, segments=tuple(segs), provenance=prov, mode=mode,
                      session_start=session_start)


def _times(seg: Segment, os_: int, oe: int) -> tuple[float | None, float | None]:
    """Audio times of a character span: from word timestamps when present, else the segment's."""
    if seg.words:
        # align words to the text by searching each word in order
        pos = 0
        spans = []
        low = seg.text
        for w in seg.words:
            token = w.word.strip()
            if not token:
                continue
            j = low.find(token, pos)
            if j < 0:
                j = low.lower().find(token.lower(), pos)
            if j < 0:
                continue
            spans.append((j, j + len(token), w.start, w.end))
            pos = j + len(token)
        inside = [(s, e) for a, b, s, e in spans if a < oe and os_ < b]
        if inside:
            return round(min(s for s, _ in inside), 3), round(max(e for _, e in inside), 3)
    if seg.end or seg.start:
        return seg.start, seg.end
    return None, None


def _asr_info(seg, t0, t1) -> dict[str, Any]:
    """The recognizer's confidence around an item's quote, from its segment and words."""
    asr: dict[str, Any] = {"verify": bool(seg.verify)}
    if seg.verify_reasons:
        asr["verify_reasons"] = list(seg.verify_reasons)
    for k in ("avg_logprob", "no_speech_prob", "compression_ratio"):
        v = getattr(seg, k)
        if v is not None:
            asr[k] = v
    if seg.words:
        lows = [w for w in seg.words if w.probability is not None and w.probability < 0.5]
        ws = [w for w in seg.words if t0 is not None and w.end > t0 and w.start < (t1 or 0)]
        if ws:
            asr["min_word_probability"] = round(min(w.probability for w in ws), 3)
        asr["low_confidence_words"] = len(lows)
    return asr


def extract_items(transcript: Transcript, *, mode: str | None = "dictation",
                  session_start: str | None = None, rules_paths: Sequence[Path] = (),
                  use_model: bool | None = None, semantic: bool | None = None) -> ItemSet:
    """Find the items of a transcript. ``mode`` "dictation" (the counselor speaking about the
    client) or "session" (counselor and client turns, roles from ``Segment.role``).
    ``semantic``: also run the optional sentence-embedding layer (:mod:`voicenotes.extract.semantic`,
    extra ``semantic``). None = on when the extra is installed, unless ``VOICENOTES_SEMANTIC=0``:
    on unseen wording it raised risk recall from 0.47 to 0.72 (heldout4), and a missed risk
    statement is the worst failure this tool can have."""
    mode = (mode or transcript.mode or "dictation").lower()
    if mode not in MODES:
        raise InputError(f"Unknown mode {mode!r}.", hint="Use --mode dictation or --mode session.")
    session_start = session_start or transcript.session_start
    ex = get_extractor(rules_paths, use_model)
    segments = transcript.segments
    turns = ex.run(segments, mode, session_start)
    if mode == "session":
        from voicenotes.extract.clinical import hedged_denials

        hedged_denials(turns)
    sem_info = None
    if semantic is None:
        semantic = os.environ.get("VOICENOTES_SEMANTIC", "") != "0"
    if semantic:
        from voicenotes.extract import semantic as _sem

        if _sem.available():
            added = _sem.apply(ex, turns, mode, session_start)
            sem_info = {"model": _sem.MODEL_ID, "threshold": _sem.get_detector().threshold, "items_added": added}
            from voicenotes.extract import classify as _cls

            try:
                if _cls.available() and os.environ.get("VOICENOTES_CLASSIFIER", "") != "0":
                    sem_info["classifier"] = {"thresholds": _cls.thresholds(),
                                              "items_added": _cls.apply(ex, turns, mode, session_start)}
            finally:
                _sem.get_detector().last_embedded = None  # no session text kept after the call
    items = []
    n = 0
    for turn in turns:
        for m in turn.mentions:
            if m.drop:
                continue
            seg_idx, os_, oe = turn.locate(m.start, m.end)
            seg = segments[seg_idx]
            oe = min(oe, len(seg.text))
            os_ = min(os_, max(0, oe - 1))
            quote = seg.text[os_:oe]
            t0, t1 = _times(seg, os_, oe)
            cues = {k: list(v) for k, v in m.cues.items()}
            asr = _asr_info(seg, t0, t1)
            flags = list(dict.fromkeys(m.flags))
            if seg.verify and m.type in ("RISK", "RISK_FACTOR", "MEANS"):
                flags.append("verify_audio")
            if m.source in ("safety_net", "semantic") and "review" not in flags:
                flags.append("review")
            temporality = m.temporality or ("future" if m.type == "FOLLOW_UP" else "current")
            n += 1
            speaker = turn.speaker if turn.speaker in ("client", "counselor") else "unknown"
            items.append(Item(
                id=f"i{n:03d}", type=m.type,
                evidence=Evidence(segment=seg_idx, start_char=os_, end_char=oe, quote=quote,
                                  t_start=t0, t_end=t1, cues=cues),
                subtype=m.subtype, value={k: v for k, v in m.value.items() if v is not None},
                polarity=m.polarity, modality=m.modality, experiencer=m.experiencer,
                experiencer_detail=m.detail if m.experiencer == "other" else None,
                temporality=temporality, certainty=m.certainty, speaker=speaker, asr=asr,
                review_flags=tuple(flags), source=m.source, rule_id=m.rule_id,
            ))
    items.sort(key=lambda it: (it.evidence.segment, it.evidence.start_char, _ORDER.index(it.type) if it.type in _ORDER else 99))
    items = [Item(**{**{f: getattr(it, f) for f in it.__dataclass_fields__}, "id": f"i{k + 1:03d}"})
             for k, it in enumerate(items)]
    return ItemSet(items=tuple(items), mode=mode, session_start=session_start,
                   rules_version=ex.rules.version, transcript_sha256=transcript.audio.sha256,
                   provenance={"voicenotes_version": __version__, "nlp": ex.info.get("model"),
                               "rules_files": [Path(f).name for f in ex.rules.files],
                               **({"semantic": sem_info} if sem_info else {})})
