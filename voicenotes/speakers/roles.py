"""Counselor and client: who asks the questions (the heuristic), the enrolled voice, or the
``--counselor`` override; and re-deciding the roles of a labelled transcript.
numpy is imported inside functions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from voicenotes.errors import UsageError
from voicenotes.schema import Segment, Transcript
from voicenotes.speakers.options import DEFAULT_OPTIONS, SpeakerOptions

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

#: Below this heuristic confidence the transcript gets the ``roles_uncertain`` flag.
ROLE_CONFIDENCE_OK = 0.7

_QUESTION_START = re.compile(
    r"^(?:so |and |but |okay,? |ok,? |now,? |well,? )*"
    r"(?:what|what's|how|how's|why|when|where|who|whom|which|"
    r"are|is|was|were|do|does|did|have|has|had|can|could|would|will|should|shall|may|might|"
    r"tell me|can you tell|would you say)\b", re.IGNORECASE)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s.strip()]


def is_question(sentence: str) -> bool:
    """A sentence that asks: ends with "?" (Whisper punctuates most questions) or opens with a
    question word or an inverted auxiliary ("Have you…", "Is there…")."""
    s = sentence.strip()
    return s.endswith("?") or bool(_QUESTION_START.match(s))


def role_heuristic(segments: Sequence[Segment], labels: Sequence[str]) -> dict[str, Any]:
    """Who is the counselor, without an enrolled voice.

    Per speaker: the number of questions asked (:func:`is_question` over Whisper's sentences)
    and whether they spoke first. score = questions / all questions + 0.2 if first to speak
    (+ a tiny share of words so a tie stays deterministic). The highest score is the counselor;
    of the others, the one who says most is the client and the rest are ``other``.
    confidence = 0.5 + 0.5 x (share of questions asked by the counselor minus the runner-up's
    share), + 0.1 when the counselor also spoke first, - 0.1 when not, clamped to 0.05..0.99;
    with no question at all it is 0.5 (first speaker only).
    """
    questions = dict.fromkeys(labels, 0)
    words = dict.fromkeys(labels, 0)
    first = None
    for seg in segments:
        if seg.speaker not in questions or not seg.text.strip():
            continue
        first = first or seg.speaker
        words[seg.speaker] += len(seg.text.split())
        questions[seg.speaker] += sum(1 for s in _sentences(seg.text) if is_question(s))
    total_q = sum(questions.values())
    total_w = max(1, sum(words.values()))
    score = {lab: (questions[lab] / total_q if total_q else 0.0) + (0.2 if lab == first else 0.0)
             + 0.01 * words[lab] / total_w for lab in labels}
    ranked = sorted(labels, key=lambda lab: -score[lab])
    if not ranked:
        return {"counselor": None, "confidence": None, "questions": questions, "words": words,
                "first_speaker": first}
    counselor = ranked[0]
    if total_q:
        runner = ranked[1] if len(ranked) > 1 else None
        margin = (questions[counselor] - (questions[runner] if runner else 0)) / total_q
        conf = 0.5 + 0.5 * margin + (0.1 if counselor == first else -0.1)
    else:
        conf = 0.5
    return {"counselor": counselor, "confidence": round(min(0.99, max(0.05, conf)), 2),
            "questions": questions, "words": words, "first_speaker": first}


def _roles_for(counselor: str, labels: Sequence[str], words: dict[str, int]) -> dict[str, str]:
    others = sorted((lab for lab in labels if lab != counselor), key=lambda lab: -words.get(lab, 0))
    roles = {counselor: "counselor"}
    for i, lab in enumerate(others):
        roles[lab] = "client" if i == 0 else "other"
    return roles


def decide_roles(segments: Sequence[Segment], labels: Sequence[str], *,
                 counselor: str | None = None, centroids: np.ndarray | None = None,
                 enrolled: np.ndarray | None = None,
                 opts: SpeakerOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """Roles per label and how they were decided: ``--counselor`` override, else the enrolled
    voice (when one speaker matches it clearly), else :func:`role_heuristic`."""
    import numpy as np

    labels = list(labels)
    h = role_heuristic(segments, labels)
    info: dict[str, Any] = {"questions": h["questions"], "first_speaker": h["first_speaker"]}
    if not labels:
        return {**info, "roles": {}, "role_method": "none", "role_confidence": None}
    if counselor is not None:
        want = _match_label(counselor, labels)
        return {**info, "roles": _roles_for(want, labels, h["words"]),
                "role_method": "override", "role_confidence": 1.0}
    if enrolled is not None and centroids is not None and len(centroids) == len(labels):
        sims = np.asarray(centroids, dtype=np.float64) @ np.asarray(enrolled, dtype=np.float64)
        order = np.argsort(-sims)
        best = float(sims[order[0]])
        second = float(sims[order[1]]) if len(sims) > 1 else 0.0
        info["enrollment_similarity"] = {lab: round(float(s), 3)
                                         for lab, s in zip(labels, sims, strict=True)}
        if best >= opts.enroll_match and best - second >= 0.05:
            conf = min(0.99, 0.5 + (best - second))
            return {**info, "roles": _roles_for(labels[int(order[0])], labels, h["words"]),
                    "role_method": "enrollment", "role_confidence": round(conf, 2)}
        info["enrollment_note"] = "the enrolled counselor voice did not clearly match a speaker"
    if len(labels) == 1:
        # One voice only: a dictation-like recording. Only an enrolled voice or --counselor can
        # say whose it is.
        return {**info, "roles": {labels[0]: "unknown"}, "role_method": "heuristic",
                "role_confidence": 0.0}
    return {**info, "roles": _roles_for(h["counselor"], labels, h["words"]),
            "role_method": "heuristic", "role_confidence": h["confidence"]}


def _match_label(given: str, labels: Sequence[str]) -> str:
    g = str(given).strip().upper()
    if g.isdigit():
        g = f"S{int(g)}"
    for lab in labels:
        if lab.upper() == g:
            return lab
    raise UsageError(f"--counselor {str(given)[:20]} does not name a speaker of this recording "
                     f"(speakers: {', '.join(labels) or 'none'}).",
                     hint="Look at the transcript's speaker labels and give one of them, e.g. "
                     "--counselor S2.")



def set_counselor(transcript: Transcript, counselor: str) -> Transcript:
    """Re-decide the roles of an already labelled transcript with ``--counselor`` (no audio
    needed): the fix when the automatic guess swapped counselor and client."""
    sp = dict(transcript.speakers or {})
    labels = list(sp.get("labels") or dict.fromkeys(
        s.speaker for s in transcript.segments if s.speaker))
    if not labels:
        raise UsageError("This transcript has no speaker labels, so --counselor has nothing to "
                         "choose from.", hint="Run it on the recording with --speakers auto "
                         "(voicenotes note RECORDING --speakers auto --counselor S2).")
    decided = decide_roles(transcript.segments, labels, counselor=counselor)
    roles = decided["roles"]
    segments = tuple(replace(s, role=roles.get(s.speaker, s.role)) for s in transcript.segments)
    sp.update(labels=labels, roles=roles, role_method="override", role_confidence=1.0,
              counselor_override=str(counselor))
    flags = tuple(f for f in transcript.flags if f != "roles_uncertain")
    return replace(transcript, segments=segments, speakers=sp, flags=flags)
