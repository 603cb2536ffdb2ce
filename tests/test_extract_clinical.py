"""Clinical readings across the items of one reply (voicenotes/extract/clinical.py), real spaCy."""

from __future__ import annotations

from voicenotes.extract import extract_items, transcript_from_turns

Q = {"speaker": "counselor", "text": "Are you thinking of killing yourself today?"}


def _answer_items(text: str):
    tr = transcript_from_turns([Q, {"speaker": "client", "text": text}], mode="session")
    return [i for i in extract_items(tr, mode="session").items if i.evidence.segment == 1 and i.type == "RISK"]


def test_a_denial_hedged_about_tonight_is_uncertain_not_a_pertinent_negative():
    items = _answer_items("Not today. I can't promise about tonight though.")
    denial = [i for i in items if i.polarity == "negated"]
    assert len(denial) == 1 and denial[0].certainty == "possible" and "review" in denial[0].review_flags
    hedge = [i for i in items if i.polarity == "affirmed"]
    assert len(hedge) == 1 and hedge[0].subtype == "intent" and hedge[0].certainty == "possible"


def test_a_plain_denial_stays_certain():
    items = _answer_items("Not today.")
    assert len(items) == 1 and items[0].polarity == "negated" and items[0].certainty == "certain"
