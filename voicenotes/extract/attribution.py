"""Who an item is attributed to, checked after extraction: a question never becomes the
client's statement.

Extraction reasons over turns. When the speakers were separated and the roles are known, a
counselor's screening question ("Have you had thoughts about killing yourself?") is an item
with modality ``question`` and the client's answer carries the polarity. When the roles cannot
be known, the words of a question would otherwise read as the client's own risk. So this step,
run over the extracted items:

* decides whether the attribution can be trusted (:func:`attribution_state`): not when the
  speakers were not separated (speaker components or weights missing), when a recording said
  to be a session yielded one voice (two voices in one channel that could not be told apart),
  or when the roles were guessed with low confidence;
* always: an item about the client's state (:data:`STATE_TYPES`) whose sentence is a question
  asked by the counselor, or — when the roles are not trusted — by anyone, becomes modality
  ``question``: it is shown as asked, never as affirmed; its polarity is what the extraction
  gives a question, and only an answer attributed to a speaker can say more;
* when the roles are not trusted: no item keeps a speaker (who said it is unknown), and
  items whose polarity came from an answer in another turn are marked for review.

The outcome is stored in the items' provenance (``attribution``) so the note, the review page
and the batch report can say so at the top. Nothing here logs session words.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from voicenotes.domain import UNVERIFIED_BANNER, attribution_banner  # noqa: F401 - re-exported
from voicenotes.schema import Item, ItemSet, Transcript

#: Below this role confidence the counselor/client guess is not trusted (same figure as the
#: speakers stage's ``roles_uncertain`` flag).
ROLE_CONFIDENCE_MIN = 0.7
#: Rules whose polarity comes from the answer in the next turn, not from the item's own words.
ANSWER_RULES = ("answer-to-screening-question", "answer-method-question")

#: Items about the client's state, which a question must never assert. Offers and plans put as
#: questions ("Can I call you tomorrow at ten?", "Would you see a doctor?") are left to the
#: extraction, which reads the reply that accepts or refuses them.
STATE_TYPES = ("RISK", "RISK_FACTOR", "MEANS", "DISTRESS", "TRIGGER", "PRECIPITANT", "COPING",
               "SUPPORT", "PROTECTIVE")

_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def attribution_state(transcript: Transcript | None, mode: str) -> dict[str, Any]:
    """``{"verified": bool, "reason": str | None}`` for a transcript about to be drafted."""
    if transcript is None:
        return {"verified": True, "reason": None}
    sp = transcript.speakers or {}
    raw = sp.get("decision")
    decision: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if decision.get("outcome") == "not_separated":
        return {"verified": False, "reason": decision.get("reason") or "speakers not separated"}
    if decision.get("outcome") == "dictation" and not sp.get("labels"):
        if mode == "session":
            return {"verified": False,
                    "reason": "one voice was found in a session: two voices could not be told "
                              "apart"}
        return {"verified": True, "reason": None}
    labels = sp.get("labels")
    if not labels:
        if any(s.role in ("counselor", "client") for s in transcript.segments):
            return {"verified": True, "reason": None}  # roles given with the turns (text input)
        return {"verified": False, "reason": "speaker separation was not run"}
    if mode == "session" and len(labels) < 2:
        return {"verified": False,
                "reason": "one voice was found in a session: two voices could not be told apart"}
    conf = sp.get("role_confidence")
    if (mode == "session" and sp.get("role_method") == "heuristic" and conf is not None
            and float(conf) < ROLE_CONFIDENCE_MIN):
        return {"verified": False,
                "reason": f"who is the counselor was guessed with low confidence ({conf})"}
    return {"verified": True, "reason": None}


def _question_start() -> re.Pattern[str]:
    from voicenotes.speakers import _QUESTION_START

    return _QUESTION_START


def sentence_at(text: str, pos: int) -> tuple[int, int]:
    """Character span of the sentence of ``text`` that holds position ``pos``."""
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() >= pos:
            return start, m.start()
        start = m.end()
    return start, len(text)


def is_question(sentence: str) -> bool:
    s = sentence.strip()
    return s.endswith("?") or bool(_question_start().match(s))


def _asked(item: Item, transcript: Transcript, verified: bool) -> bool:
    """The item's words sit in a question (asked by the counselor, or by anyone when the roles
    are not known)."""
    ev = item.evidence
    if not 0 <= ev.segment < len(transcript.segments):
        return False
    seg = transcript.segments[ev.segment]
    if verified and seg.role != "counselor":
        return False
    a, b = sentence_at(seg.text, ev.start_char)
    return is_question(seg.text[a:b])


def _as_question(item: Item) -> Item:
    cues = {k: list(v) for k, v in item.evidence.cues.items()}
    cues.setdefault("modality", []).append("asked as a question")
    return replace(item, modality="question", evidence=replace(item.evidence, cues=cues))


def _unattributed(item: Item) -> Item:
    flags = list(item.review_flags)
    if item.rule_id in ANSWER_RULES and "review" not in flags:
        flags.append("review")
    if "roles_unverified" not in flags:
        flags.append("roles_unverified")
    return replace(item, speaker="unknown", review_flags=tuple(flags))


def attribute(itemset: ItemSet, transcript: Transcript | None,
              state: dict[str, Any] | None = None) -> ItemSet:
    """Apply the attribution rules of the module doc; record the state in the provenance."""
    if state is None:
        state = attribution_state(transcript, itemset.mode)
    verified = bool(state.get("verified"))
    items: list[Item] = []
    asked = 0
    for it in itemset.items:
        if transcript is not None and it.type in STATE_TYPES and it.modality != "question" \
                and it.rule_id not in ANSWER_RULES and _asked(it, transcript, verified):
            it = _as_question(it)
            asked += 1
        if not verified:
            it = _unattributed(it)
        items.append(it)
    prov = dict(itemset.provenance)
    prov["attribution"] = {"verified": verified, "reason": state.get("reason"),
                           "questions_marked": asked}
    return replace(itemset, items=tuple(items), provenance=prov)


def banner(itemset: ItemSet | None) -> str | None:
    """The line the note, the review page and the batch report show at the top, or None."""
    return None if itemset is None else attribution_banner(itemset.provenance)
