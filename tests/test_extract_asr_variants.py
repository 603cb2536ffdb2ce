"""Whisper mishearings of risk words are items (possible, flagged to check the audio), with the
same negation handling as the real words — never a silent 'not assessed'."""

from voicenotes.extract import extract_items, transcript_from_turns


def _items(text, mode="dictation"):
    tr = transcript_from_turns([{"speaker": "counselor", "text": text}], mode=mode,
                               session_start="2026-03-09T14:00:00")
    return extract_items(tr, mode=mode, session_start="2026-03-09T14:00:00", semantic=False).items


def test_societal_ideation_is_a_possible_ideation_item_with_its_negation():
    (item,) = [i for i in _items("client denies current societal ideation period") if i.type == "RISK"]
    assert item.subtype == "ideation_active" and item.polarity == "negated"
    assert item.certainty == "possible" and "verify_audio" in item.review_flags


def test_societal_ideation_affirmed():
    (item,) = [i for i in _items("she reports societal thoughts every night this week") if i.type == "RISK"]
    assert item.polarity == "affirmed" and item.certainty == "possible"
