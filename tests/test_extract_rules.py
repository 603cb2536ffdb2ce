"""Each failure family of negation and context cues in this domain (docs/extraction.md), on sentences written for these tests (not the dev
set), through the real spaCy + medspaCy pipeline."""

from __future__ import annotations

import pytest

from voicenotes.extract import extract_items, transcript_from_turns

START = "2026-04-15T10:00:00"  # a Wednesday


def run(turns, mode="session", start=START):
    if isinstance(turns, str):
        turns = [("counselor" if mode == "dictation" else "client", turns)]
    tr = transcript_from_turns([{"speaker": s, "text": t} for s, t in turns], mode=mode, session_start=start)
    return list(extract_items(tr, mode=mode, session_start=start).items)


def find(items, typ, words=None, turn=None, **attrs):
    out = []
    for it in items:
        if it.type != typ:
            continue
        if words and words.lower() not in it.evidence.quote.lower() and it.evidence.quote.lower() not in words.lower():
            continue
        if turn is not None and it.evidence.segment != turn:
            continue
        if all((getattr(it, k, None) if k in it.__dataclass_fields__ else it.value.get(k)) == v for k, v in attrs.items()):
            out.append(it)
    return out


def one(items, typ, words=None, **attrs):
    hits = find(items, typ, words, **attrs)
    assert hits, f"no {typ} {words!r} {attrs} in {[(i.type, i.evidence.quote, i.polarity, i.modality, i.certainty) for i in items]}"
    return hits[0]


# ------------------------------------------------------------------ pseudo-negation

@pytest.mark.parametrize("text,words", [
    ("I don't know how much longer I can do this, I want to kill myself.", "kill myself"),
    ("No matter what I do I keep thinking about suicide.", "suicide"),
    ("honestly i have no idea why but i keep wanting to die", "wanting to die"),
])
def test_pseudo_negation_does_not_negate(text, words):
    items = run(text)
    it = one(items, "RISK", words)
    assert it.polarity == "affirmed"
    assert not find(items, "RISK", polarity="negated")


def test_not_only_is_not_a_negation():
    items = run("She is not only drinking every night but also feels trapped.", mode="dictation")
    assert one(items, "RISK_FACTOR", "drinking").polarity == "affirmed"
    assert one(items, "RISK_FACTOR", "trapped", factor="trapped").polarity == "affirmed"


# ------------------------------------------------------------------ targets that contain a negator

@pytest.mark.parametrize("text,words,subtype", [
    ("Some mornings I don't want to wake up.", "want to wake up", "ideation_passive"),
    ("He keeps saying there's nothing to live for.", "nothing to live for", "ideation_passive"),
    ("i just dont want to be alive anymore", "want to be alive", "ideation_passive"),
])
def test_negator_inside_target_is_affirmed(text, words, subtype):
    items = run(text)
    it = one(items, "RISK", words)
    assert it.polarity == "affirmed"
    assert it.subtype == subtype


def test_no_reason_to_live_is_hopelessness_not_a_negated_protective_factor():
    items = run("She said there is no reason to live.", mode="dictation")
    assert one(items, "RISK_FACTOR", "no reason to live", factor="hopelessness").polarity == "affirmed"
    assert not find(items, "PROTECTIVE")


# ------------------------------------------------------------------ one negation cue over a list

def test_denies_over_a_list():
    items = run("Patient denies SI, HI, and AVH.", mode="dictation")
    assert one(items, "RISK", "SI").polarity == "negated"
    assert one(items, "RISK", "HI", subtype="harm_to_others").polarity == "negated"
    assert one(items, "RISK_FACTOR", "AVH", factor="psychosis").polarity == "negated"


def test_denies_list_in_dictation_with_spoken_commas():
    items = run("she denies suicidal ideation comma intent comma or plan period", mode="dictation")
    for sub in ("ideation_active", "intent", "plan"):
        assert one(items, "RISK", subtype=sub).polarity == "negated"


# ------------------------------------------------------------------ negation scope in unpunctuated ASR text

def test_negation_scope_stops_at_reporting_verb():
    items = run("client denies hi admits thoughts of hanging herself this week", mode="dictation")
    assert one(items, "RISK", "hi").polarity == "negated"
    it = one(items, "RISK", "thoughts of hanging", method="hanging")
    assert it.polarity == "affirmed" and it.temporality == "recent"


def test_negation_window_in_long_unpunctuated_text():
    items = run("no plan for tonight we talked a while and then she said she wants to die", mode="dictation")
    assert one(items, "RISK", "wants to die").polarity == "affirmed"


# ------------------------------------------------------------------ "reasons for" is not a terminator

def test_reasons_for_living_negated():
    items = run("Client was unable to name any reasons for living.", mode="dictation")
    assert one(items, "PROTECTIVE", "reasons for living").polarity == "negated"


def test_reasons_for_living_affirmed_with_factor():
    items = run("His grandkids are the reason he keeps going.", mode="dictation")
    it = one(items, "PROTECTIVE")
    assert it.polarity == "affirmed" and it.value.get("factor") == "children"


# ------------------------------------------------------------------ family cue vs means holders and supporters

def test_relative_holding_means_is_clients_item():
    items = run("Her father keeps a loaded rifle in his truck.", mode="dictation")
    assert one(items, "MEANS", "rifle", means="firearm").experiencer == "client"


def test_relative_doing_means_safety_is_clients_item():
    items = run("Her sister agreed to hold onto the pills at her apartment.", mode="dictation")
    it = one(items, "MEANS_SAFETY", "hold onto the pills", means="medication", action="hand_over")
    assert it.experiencer == "client"


def test_relatives_attempt_is_family_history():
    items = run("my cousin tried to kill himself two years ago", mode="session")
    it = one(items, "RISK_FACTOR", factor="family_history_suicide")
    assert it.experiencer == "other" and it.temporality == "past"
    assert not find(items, "RISK", experiencer="client", polarity="affirmed")


def test_friends_overdose_is_exposure():
    items = run("Client has a friend who overdosed last month.", mode="dictation")
    it = one(items, "RISK_FACTOR", factor="exposure_to_suicide")
    assert it.experiencer == "other"


def test_collateral_report_stays_clients():
    items = run("Mother reports no history of self harm.", mode="dictation")
    it = one(items, "RISK", "self harm", subtype="self_harm")
    assert it.experiencer == "client" and it.polarity == "negated" and it.temporality == "past"


# ------------------------------------------------------------------ conditionals imply a past episode

def test_conditional_with_implied_past():
    items = run("If the suicidal thoughts return she will call her therapist.", mode="dictation")
    assert find(items, "RISK", modality="conditional")
    past = find(items, "RISK", modality="actual", temporality="past", polarity="affirmed")
    assert past and "implied_past" in past[0].review_flags
    assert not find(items, "RISK", modality="actual", temporality="current")


def test_conditional_cutting_again():
    items = run("if i start cutting again i'll call my mom")
    assert one(items, "RISK", subtype="self_harm", modality="conditional")
    assert find(items, "RISK", subtype="self_harm", modality="actual", temporality="past")
    assert one(items, "SUPPORT", "my mom").value["role"] == "help"


def test_easier_if_is_not_a_condition():
    items = run("Sometimes it would be easier if I never woke up.")
    it = one(items, "RISK", "never woke up")
    assert it.modality == "actual" and it.polarity == "affirmed"


# ------------------------------------------------------------------ hedges

def test_hedged_answer_is_possible():
    items = run([("counselor", "Are you thinking about suicide?"), ("client", "Not really.")])
    q = one(items, "RISK", turn=0)
    assert q.modality == "question"
    a = one(items, "RISK", turn=1)
    assert a.certainty == "possible" and a.speaker == "client" and a.modality == "actual"


def test_hedge_in_statement():
    items = run("I guess I kind of want to die sometimes.")
    assert one(items, "RISK", "want to die").certainty == "possible"


# ------------------------------------------------------------------ idioms

def test_idiom_is_possible_never_asserted():
    items = run("This commute is killing me.")
    it = one(items, "RISK", "killing me")
    assert it.certainty == "possible" and "idiom" in it.review_flags


def test_harmless_idioms_are_not_items():
    items = run("I could kill for a burger right now and I'm dying to see that movie.")
    assert not find(items, "RISK")


# ------------------------------------------------------------------ declined referrals

@pytest.mark.parametrize("text,resource", [
    ("She refused the referral to the mobile crisis team.", "mobile_crisis"),
    ("Client declined the support group but accepted 988.", "support_group"),
])
def test_declined_referral_is_kept_with_status(text, resource):
    items = run(text, mode="dictation")
    assert one(items, "REFERRAL", resource=resource).value["status"] == "declined"


def test_declined_then_accepted():
    items = run("Client declined the support group but accepted 988.", mode="dictation")
    assert one(items, "REFERRAL", resource="988").value["status"] != "declined"


# ------------------------------------------------------------------ spoken punctuation in dictation

def test_spoken_punctuation_splits_sentences():
    text = "client denies suicidal ideation period reports drinking six beers a night period new paragraph she will call nine eight eight if needed"
    items = run(text, mode="dictation")
    assert one(items, "RISK", "suicidal ideation").polarity == "negated"
    assert one(items, "RISK_FACTOR", "drinking").polarity == "affirmed"
    ref = one(items, "REFERRAL", resource="988")
    # evidence points at the words as dictated (offsets map back to the original text)
    assert ref.evidence.quote == "nine eight eight"


def test_period_as_a_word_is_kept():
    items = run("she has felt hopeless for a period of weeks", mode="dictation")
    assert one(items, "RISK_FACTOR", "hopeless").polarity == "affirmed"


# ------------------------------------------------------------------ sessions: questions and answers

def test_question_and_bare_denial():
    items = run([("counselor", "Have you ever tried to kill yourself?"), ("client", "Nope, never.")])
    q = one(items, "RISK", turn=0)
    assert q.modality == "question" and q.speaker == "counselor"
    a = one(items, "RISK", turn=1)
    assert a.polarity == "negated" and a.subtype == "attempt" and a.temporality == "past"


def test_content_answer_typed_like_question():
    items = run([("counselor", "Do you have access to a gun?"), ("client", "Yeah, my husband's.")])
    a = one(items, "MEANS", turn=1)
    assert a.polarity == "affirmed" and a.value["means"] == "firearm" and a.experiencer == "client"


def test_implicit_method_answer():
    items = run([("counselor", "Do you know how you would do it?"),
                 ("client", "I have a bottle of pills I keep thinking about.")])
    r = one(items, "RISK", turn=1)
    assert r.value.get("method") == "overdose" and r.polarity == "affirmed"
    assert one(items, "MEANS", turn=1).value["means"] == "medication"


def test_third_party_caller():
    items = run([("client", "My daughter told me tonight she wants to die."),
                 ("counselor", "Does she have any pills at home?"),
                 ("client", "No pills, but she has her dad's old hunting knife.")])
    assert one(items, "RISK", "wants to die").experiencer == "other"
    q = one(items, "MEANS", turn=1)
    assert q.modality == "question" and q.experiencer == "other"


def test_consent_answer():
    items = run([("counselor", "Is it okay with you if I record this call?"), ("client", "Sure, go ahead.")])
    c = one(items, "CONSENT", turn=1)
    assert c.value == {"scope": "recording", "granted": True}


# ------------------------------------------------------------------ normalisation

def test_follow_up_times_resolved_against_session_start():
    items = run("Follow-up call scheduled Friday at 2:30 pm. She will come in next Monday at nine.", mode="dictation")
    f = one(items, "FOLLOW_UP", "Friday")
    assert f.value["when"] == "2026-04-17T14:30:00"
    g = one(items, "FOLLOW_UP", "next Monday")
    assert g.value["when"] == "2026-04-20T09:00:00"
    assert "next_weekday" in g.value["ambiguity"] and "ampm_assumed" in g.value["ambiguity"]
    assert g.value["when_raw"] == "next Monday at nine"


def test_follow_up_who_from_speaker():
    items = run([("counselor", "I'll check in with you tomorrow at four."), ("client", "Okay.")])
    f = one(items, "FOLLOW_UP")
    assert f.value["who"] == "counselor" and f.value["when"] == "2026-04-16T16:00:00"


@pytest.mark.parametrize("text,resource", [
    ("Gave her the veterans crisis line number.", "veterans_crisis_line"),
    ("Told him to text HOME to 741741.", "crisis_text_line"),
    ("She can call nine eighty-eight any time.", "988"),
    ("Encouraged him to go to the emergency room if it gets worse.", "emergency_department"),
    ("Referred to an intensive outpatient program.", "iop"),
    ("Client will attend an AA meeting on Sunday.", "support_group"),
])
def test_resource_ids(text, resource):
    items = run(text, mode="dictation")
    assert one(items, "REFERRAL", resource=resource)


def test_distress_range_and_scale():
    items = run("On a scale of zero to ten I'd say a six or maybe a seven.")
    d = one(items, "DISTRESS")
    assert d.value["value"] == [6, 7] and d.value["scale"] == "0-10" and d.certainty == "possible"


def test_distress_out_of_hundred():
    items = run("On a scale from zero to a hundred she rated her anxiety at sixty.", mode="dictation")
    assert one(items, "DISTRESS").value == {"value": 60, "scale": "0-100"}


def test_threat_to_client_is_not_client_risk():
    items = run("My husband said he would kill me if I told anyone.")
    assert one(items, "RISK_FACTOR", factor="threat_to_client").experiencer == "client"
    assert not find(items, "RISK")


# ------------------------------------------------------------------ the safety net

def test_safety_net_catches_asr_variant():
    items = run("last night i thought about taking an over those")
    it = one(items, "RISK", "over those")
    assert it.certainty == "possible" and "safety_net" in it.review_flags and it.source == "safety_net"


def test_safety_net_catches_unruled_risk_word():
    items = run("the word suicidality came up again with her sister")
    assert one(items, "RISK", "suicidality").certainty == "possible"


def test_every_risk_word_is_covered():
    """Nothing in the risk vocabulary disappears: every hit of the safety-net vocabulary lies
    inside some item's evidence, whatever the sentence."""

    from voicenotes.extract import get_extractor
    ex = get_extractor()
    texts = [
        "Denies suicidal ideation and has no thoughts of killing herself.",
        "She said her friend killed himself last spring.",
        "If he overdoses again his mother will call 911.",
        "He is not suicidal, he said it was a joke about wanting to die.",
        "they were talking about self harm at school",
    ]
    for t in texts:
        items = run(t, mode="dictation")
        spans = [(i.evidence.start_char, i.evidence.end_char) for i in items]
        for s in ex.rules.safety:
            if s.regex is None or s.kind == "ignore":
                continue
            for m in s.regex.finditer(t):
                assert any(a < m.end() and m.start() < b for a, b in spans), (t, m.group(0))


def test_verify_flag_carried_to_items():
    from voicenotes.schema import Segment, Transcript, Word
    base = transcript_from_turns([{"speaker": "client", "text": "i want to kill myself"}], mode="session")
    words = tuple(Word(start=1.0 + i * 0.3, end=1.2 + i * 0.3, word=(" " if i else "") + w, probability=0.4)
                  for i, w in enumerate(["i", "want", "to", "kill", "myself"]))
    seg = Segment(id=0, start=1.0, end=2.5, text="i want to kill myself", words=words, avg_logprob=-1.2,
                  no_speech_prob=0.3, verify=True, verify_reasons=("low_confidence",), role="client")
    tr = Transcript(audio=base.audio, segments=(seg,), provenance=base.provenance, mode="session")
    it = one(list(extract_items(tr, mode="session").items), "RISK", "kill myself")
    assert it.asr["verify"] is True and it.asr["verify_reasons"] == ["low_confidence"]
    assert "verify_audio" in it.review_flags
    assert it.evidence.t_start == pytest.approx(1.9) and it.evidence.t_end == pytest.approx(2.4)


# ------------------------------------------------------------------ more held-out guards

def test_not_suicidal_is_a_pertinent_negative():
    items = run("I'm not suicidal, I'm just exhausted.")
    assert one(items, "RISK", "suicidal").polarity == "negated"
    assert not find(items, "RISK", polarity="affirmed")


def test_cant_stop_is_not_a_negation():
    items = run("i dont know i just cant stop thinking about ending it")
    assert one(items, "RISK", "ending it").polarity == "affirmed"


def test_quantity_overdose_is_an_attempt():
    items = run("Last week I swallowed half a bottle of my sleeping pills.")
    it = one(items, "RISK", subtype="attempt", method="overdose")
    assert it.polarity == "affirmed" and it.temporality == "recent"


def test_collateral_denial_negates_means():
    items = run("Mother denies any firearms in the home.", mode="dictation")
    assert one(items, "MEANS", "firearms").polarity == "negated"


def test_declined_means_safety_proposal_is_negated():
    items = run([("counselor", "Would you be willing to give the razors to your roommate tonight?"),
                 ("client", "no i dont want to")])
    it = one(items, "MEANS_SAFETY", means="sharps", action="hand_over")
    assert it.polarity == "negated" and it.speaker == "counselor"


def test_dictation_sentence_split_across_segments_keeps_negation():
    """Whisper cuts dictation at pauses: the denial and the risk words land in different
    segments. Scopes still see the sentence; evidence points into the right segments."""
    from voicenotes.schema import Segment, Transcript
    base = transcript_from_turns([{"speaker": "counselor", "text": "x"}], mode="dictation")
    segs = (Segment(id=0, start=0.0, end=2.0, text="Client denies any"),
            Segment(id=1, start=2.6, end=5.0, text="suicidal ideation and reports cutting her arms last week."),
            Segment(id=2, start=5.5, end=7.0, text="Follow up call tomorrow at ten."))
    tr = Transcript(audio=base.audio, segments=segs, provenance=base.provenance, mode="dictation")
    items = list(extract_items(tr, mode="dictation", session_start=START).items)
    si = one(items, "RISK", "suicidal ideation")
    assert si.polarity == "negated" and si.evidence.segment == 1 and si.evidence.t_start == 2.6
    cut = one(items, "RISK", "cutting her arms", subtype="self_harm")
    assert cut.polarity == "affirmed" and cut.evidence.segment == 1
    fu = one(items, "FOLLOW_UP")
    assert fu.evidence.segment == 2 and fu.value["when"] == "2026-04-16T10:00:00"
    for it in items:
        seg = segs[it.evidence.segment]
        assert seg.text[it.evidence.start_char:it.evidence.end_char] == it.evidence.quote
