"""A small held-out gold set written for this project (not the shared dev set), in the gold
format of data/extraction/README.md, scored by the same scorer. It guards against rules that only
fit the dev sentences."""

from __future__ import annotations

from voicenotes.extract import extract_items, transcript_from_turns
from voicenotes.extract.evaluate import score_case, summarize

S = "2026-05-04T15:00:00"  # a Monday

CASES = [
    {"id": "ho-01", "mode": "dictation", "session_start": S, "turns": [{"speaker": "counselor", "text":
        "Client denies current suicidal ideation but reports an attempt by cutting in 2018. No firearms in the home."}],
     "expect": [{"type": "RISK", "match": "current suicidal ideation", "polarity": "negated", "temporality": "current"},
                {"type": "RISK", "match": "an attempt by cutting in 2018", "subtype": "attempt", "polarity": "affirmed", "temporality": "past"},
                {"type": "MEANS", "match": "firearms", "means": "firearm", "polarity": "negated"}],
     "forbid": [{"type": "RISK", "match": "an attempt by cutting", "polarity": "negated"}]},
    {"id": "ho-02", "mode": "session", "session_start": S, "turns": [
        {"speaker": "counselor", "text": "Have you had thoughts of ending your life in the last few weeks?"},
        {"speaker": "client", "text": "Yes. Almost every day."},
        {"speaker": "counselor", "text": "Do you have a plan for how you would do it?"},
        {"speaker": "client", "text": "I've thought about taking all my pills at once."}],
     "expect": [{"type": "RISK", "match": "Have you had thoughts of ending your life", "modality": "question", "speaker": "counselor"},
                {"type": "RISK", "match": "Yes. Almost every day.", "polarity": "affirmed", "modality": "actual", "speaker": "client"},
                {"type": "RISK", "match": "Do you have a plan for how you would do it?", "modality": "question", "speaker": "counselor"},
                {"type": "RISK", "match": "taking all my pills at once", "method": "overdose", "polarity": "affirmed", "speaker": "client"},
                {"type": "MEANS", "match": "my pills", "means": "medication", "polarity": "affirmed"}],
     "forbid": [{"type": "RISK", "speaker": "client", "polarity": "negated"}]},
    {"id": "ho-03", "mode": "session", "session_start": S, "turns": [
        {"speaker": "client", "text": "My sister killed herself when I was in college, and lately I keep thinking I might end up the same way."}],
     "expect": [{"type": "RISK_FACTOR", "match": "My sister killed herself", "factor": "family_history_suicide", "experiencer": "other", "temporality": "past"},
                {"type": "RISK", "match": "I might end up the same way", "certainty": "possible", "experiencer": "client"}],
     "forbid": [{"type": "RISK", "match": "My sister killed herself", "experiencer": "client"}]},
    {"id": "ho-04", "mode": "dictation", "session_start": S, "turns": [{"speaker": "counselor", "text":
        "client rated distress a seven out of ten period she agreed to remove the rifle from the house and her neighbor will keep it period counselor will call her wednesday at four thirty period"}],
     "expect": [{"type": "DISTRESS", "match": "a seven out of ten", "value": 7},
                {"type": "MEANS_SAFETY", "match": "remove the rifle from the house", "means": "firearm"},
                {"type": "MEANS", "match": "the rifle", "means": "firearm", "polarity": "affirmed"},
                {"type": "MEANS_SAFETY", "match": "her neighbor will keep it", "means": "firearm", "action": "hand_over", "experiencer": "client"},
                {"type": "FOLLOW_UP", "match": "counselor will call her wednesday at four thirty", "who": "counselor", "when": "2026-05-06T16:30:00"}],
     "forbid": [{"type": "MEANS_SAFETY", "experiencer": "other"}]},
    {"id": "ho-05", "mode": "session", "session_start": S, "turns": [
        {"speaker": "client", "text": "I'm not going to hurt myself, I just needed to talk to someone."}],
     "expect": [{"type": "RISK", "match": "I'm not going to hurt myself", "polarity": "negated"}],
     "forbid": [{"type": "RISK", "polarity": "affirmed"}]},
    {"id": "ho-06", "mode": "dictation", "session_start": S, "turns": [{"speaker": "counselor", "text":
        "Client was referred to the crisis text line and declined a referral to outpatient therapy. She will attend a grief group on Thursday evening."}],
     "expect": [{"type": "REFERRAL", "match": "crisis text line", "resource": "crisis_text_line", "status": "given"},
                {"type": "REFERRAL", "match": "outpatient therapy", "resource": "outpatient_therapy", "status": "declined"},
                {"type": "REFERRAL", "match": "grief group", "resource": "support_group"},
                {"type": "FOLLOW_UP", "match": "She will attend a grief group on Thursday evening", "who": "client", "when": "2026-05-07"}],
     "forbid": [{"type": "REFERRAL", "resource": "outpatient_therapy", "status": "given"}]},
    {"id": "ho-07", "mode": "session", "session_start": S, "turns": [
        {"speaker": "client", "text": "When I'm alone on weekends it gets really dark in my head. Calling my best friend usually helps."}],
     "expect": [{"type": "TRIGGER", "match": "When I'm alone on weekends", "polarity": "affirmed"},
                {"type": "COPING", "match": "Calling my best friend usually helps", "status": "tried", "efficacy": "helpful"},
                {"type": "SUPPORT", "match": "my best friend"}],
     "forbid": []},
    {"id": "ho-08", "mode": "session", "session_start": S, "turns": [
        {"speaker": "counselor", "text": "Is there a gun in the house?"},
        {"speaker": "client", "text": "My husband has a couple of hunting rifles in the basement."}],
     "expect": [{"type": "MEANS", "match": "Is there a gun in the house?", "modality": "question"},
                {"type": "MEANS", "match": "hunting rifles in the basement", "means": "firearm", "polarity": "affirmed", "experiencer": "client"}],
     "forbid": [{"type": "MEANS", "experiencer": "other"}, {"type": "MEANS", "polarity": "negated"}]},
]


def test_heldout_gold_scores():
    results = []
    for c in CASES:
        tr = transcript_from_turns(c["turns"], mode=c["mode"], session_start=c["session_start"])
        items = extract_items(tr, mode=c["mode"], session_start=c["session_start"]).to_dict()["items"]
        results.append(score_case(c, items))
    s = summarize(results)
    misses = [(r.id, m) for r in results for m in r.misses]
    attrs = [(r.id, a) for r in results for a in r.attr_errors]
    forb = [(r.id, f) for r in results for f in r.forbidden_hits]
    print(f"held-out: risk_recall={s.risk_recall:.3f} f1={s.f1:.3f} attr_acc={s.attr_acc:.3f} forbidden={s.forbidden}")
    print("misses", misses, "\nattr", attrs, "\nforbidden", forb)
    assert s.forbidden == 0, forb
    assert s.risk_recall >= 0.9, misses
    assert s.f1 >= 0.8 and s.attr_acc >= 0.8


# A second batch, written after the first was tuned (first run reported in the commit message).
CASES2 = [
    {"id": "hb-01", "mode": "dictation", "session_start": S, "turns": [{"speaker": "counselor", "text":
        "Client endorses suicidal thoughts with a plan to overdose on her husband's oxycodone. She denies intent tonight. Her husband has agreed to lock up the medication."}],
     "expect": [{"type": "RISK", "match": "suicidal thoughts", "polarity": "affirmed", "experiencer": "client"},
                {"type": "RISK", "match": "a plan to overdose", "subtype": "plan", "method": "overdose", "polarity": "affirmed"},
                {"type": "MEANS", "match": "her husband's oxycodone", "means": "medication", "experiencer": "client", "polarity": "affirmed"},
                {"type": "RISK", "match": "intent", "subtype": "intent", "polarity": "negated"},
                {"type": "MEANS_SAFETY", "match": "lock up the medication", "means": "medication", "action": "lock", "experiencer": "client"}],
     "forbid": [{"type": "MEANS", "experiencer": "other"}, {"type": "RISK", "match": "suicidal thoughts", "polarity": "negated"}]},
    {"id": "hb-02", "mode": "session", "session_start": S, "turns": [
        {"speaker": "client", "text": "I got fired on Friday and my wife says she wants a divorce. I feel like a complete failure."}],
     "expect": [{"type": "PRECIPITANT", "match": "I got fired on Friday", "date": "2026-05-01"},
                {"type": "RISK_FACTOR", "match": "I got fired", "factor": "recent_loss", "experiencer": "client"},
                {"type": "PRECIPITANT", "match": "she wants a divorce"},
                {"type": "RISK_FACTOR", "match": "she wants a divorce", "factor": "recent_loss", "experiencer": "client"},
                {"type": "PRECIPITANT", "match": "I feel like a complete failure"}],
     "forbid": []},
    {"id": "hb-03", "mode": "session", "session_start": S, "turns": [
        {"speaker": "counselor", "text": "Are you having any thoughts of hurting someone else?"},
        {"speaker": "client", "text": "No. I'm angry but I'd never hurt anyone."}],
     "expect": [{"type": "RISK", "match": "thoughts of hurting someone else", "modality": "question"},
                {"type": "RISK", "match": "No.", "polarity": "negated", "speaker": "client"},
                {"type": "RISK_FACTOR", "match": "I'm angry", "factor": "agitation"}],
     "forbid": [{"type": "RISK", "speaker": "client", "polarity": "affirmed"}]},
    {"id": "hb-04", "mode": "dictation", "session_start": S, "turns": [{"speaker": "counselor", "text":
        "history of two suicide attempts comma most recently in january period currently denies si period states her cat and her nephew keep her going period"}],
     "expect": [{"type": "RISK", "match": "two suicide attempts", "subtype": "attempt", "polarity": "affirmed"},
                {"type": "RISK", "match": "denies si", "polarity": "negated", "temporality": "current"},
                {"type": "PROTECTIVE", "match": "keep her going", "polarity": "affirmed"}],
     "forbid": [{"type": "RISK", "match": "two suicide attempts", "polarity": "negated"}]},
    {"id": "hb-05", "mode": "session", "session_start": S, "turns": [
        {"speaker": "counselor", "text": "How many drinks have you had tonight?"},
        {"speaker": "client", "text": "Maybe eight or nine. I always drink more when I'm alone."}],
     "expect": [{"type": "RISK_FACTOR", "match": "How many drinks have you had tonight?", "modality": "question"},
                {"type": "RISK_FACTOR", "match": "Maybe eight or nine.", "factor": "substance_use", "polarity": "affirmed"},
                {"type": "RISK_FACTOR", "match": "I always drink more", "factor": "substance_use", "polarity": "affirmed"}],
     "forbid": [{"type": "RISK_FACTOR", "polarity": "negated"}, {"type": "DISTRESS"}]},
    {"id": "hb-06", "mode": "session", "session_start": S, "turns": [
        {"speaker": "client", "text": "I wrote letters to my kids last night, just in case."}],
     "expect": [{"type": "RISK", "match": "I wrote letters to my kids", "subtype": "preparatory", "polarity": "affirmed", "temporality": "recent"}],
     "forbid": [{"type": "RISK", "polarity": "negated"}]},
    {"id": "hb-07", "mode": "dictation", "session_start": S, "turns": [{"speaker": "counselor", "text":
        "Client's roommate will stay with her tonight. Client will text the crisis text line if urges to self harm return and will see her therapist on Tuesday at 1 pm."}],
     "expect": [{"type": "SUPPORT", "match": "roommate will stay with her"},
                {"type": "REFERRAL", "match": "crisis text line", "resource": "crisis_text_line"},
                {"type": "RISK", "match": "urges to self harm", "subtype": "self_harm", "modality": "conditional"},
                {"type": "REFERRAL", "match": "her therapist", "resource": "outpatient_therapy"},
                {"type": "FOLLOW_UP", "match": "will see her therapist on Tuesday at 1 pm", "who": "client", "when": "2026-05-05T13:00:00"}],
     "forbid": [{"type": "RISK", "match": "urges to self harm", "modality": "actual", "temporality": "current"}]},
]


def test_heldout_second_batch():
    results = []
    for c in CASES2:
        tr = transcript_from_turns(c["turns"], mode=c["mode"], session_start=c["session_start"])
        items = extract_items(tr, mode=c["mode"], session_start=c["session_start"]).to_dict()["items"]
        results.append(score_case(c, items))
    s = summarize(results)
    print(f"held-out 2: risk_recall={s.risk_recall:.3f} f1={s.f1:.3f} attr_acc={s.attr_acc:.3f} forbidden={s.forbidden}")
    print("misses", [(r.id, m) for r in results for m in r.misses])
    print("attr", [(r.id, a) for r in results for a in r.attr_errors])
    print("fp", [(r.id, a) for r in results for a in r.false_positives])
    print("forbidden", [(r.id, f) for r in results for f in r.forbidden_hits])
    assert s.forbidden == 0
    assert s.risk_recall >= 0.9
    assert s.f1 >= 0.8 and s.attr_acc >= 0.8


# A third batch (first run: risk_recall 0.667 f1 0.769 attr 0.900 forbidden 0; see the commit).
CASES3 = [
 {"id":"hc-01","mode":"session","session_start":S,"turns":[
   {"speaker":"counselor","text":"Sometimes when people feel this overwhelmed they think about suicide. Has that crossed your mind?"},
   {"speaker":"client","text":"Honestly, yeah. Mostly at night."}],
  "expect":[{"type":"RISK","match":"Has that crossed your mind?","modality":"question"},
            {"type":"RISK","match":"Honestly, yeah.","polarity":"affirmed","speaker":"client"}],
  "forbid":[{"type":"RISK","speaker":"client","polarity":"negated"}]},
 {"id":"hc-02","mode":"session","session_start":S,"turns":[
   {"speaker":"client","text":"I'm calling about my best friend. She posted that she's going to end it tonight and she isn't answering her phone."}],
  "expect":[{"type":"RISK","match":"she's going to end it tonight","experiencer":"other","polarity":"affirmed"}],
  "forbid":[{"type":"RISK","experiencer":"client","polarity":"affirmed"}]},
 {"id":"hc-03","mode":"session","session_start":S,"turns":[
   {"speaker":"client","text":"I'm dying to get out of this house, my parents are driving me crazy."}],
  "expect":[],"forbid":[{"type":"RISK","certainty":"certain"}]},
 {"id":"hc-04","mode":"dictation","session_start":S,"turns":[{"speaker":"counselor","text":
   "Client reports she stopped taking her medication two weeks ago and has been hearing voices. She denies any suicidal or homicidal ideation."}],
  "expect":[{"type":"RISK_FACTOR","match":"hearing voices","factor":"psychosis","polarity":"affirmed"},
            {"type":"RISK","match":"suicidal","polarity":"negated"},
            {"type":"RISK","match":"homicidal ideation","subtype":"harm_to_others","polarity":"negated"}],
  "forbid":[{"type":"RISK","polarity":"affirmed"}]},
 {"id":"hc-05","mode":"session","session_start":S,"turns":[
   {"speaker":"counselor","text":"Do you have any weapons at home?"},
   {"speaker":"client","text":"Just kitchen knives. And my boyfriend has a gun but he keeps it at his place."}],
  "expect":[{"type":"MEANS","match":"Do you have any weapons at home?","modality":"question"},
            {"type":"MEANS","match":"kitchen knives","means":"sharps","polarity":"affirmed"},
            {"type":"MEANS","match":"my boyfriend has a gun","means":"firearm","polarity":"affirmed","experiencer":"client"}],
  "forbid":[{"type":"MEANS","experiencer":"other"}]},
 {"id":"hc-06","mode":"dictation","session_start":S,"turns":[{"speaker":"counselor","text":
   "Client was given 911 and the local mobile crisis number. She will go to the emergency room if she feels unsafe. Client consented to a follow-up call from this writer tomorrow at 10 am."}],
  "expect":[{"type":"REFERRAL","match":"911","resource":"911","status":"given"},
            {"type":"REFERRAL","match":"mobile crisis","resource":"mobile_crisis","status":"given"},
            {"type":"REFERRAL","match":"emergency room","resource":"emergency_department"},
            {"type":"FOLLOW_UP","match":"a follow-up call from this writer tomorrow at 10 am","who":"counselor","when":"2026-05-05T10:00:00"},
            {"type":"CONSENT","match":"consented to a follow-up call","scope":"contact","granted":True}],
  "forbid":[]},
]


def test_heldout_third_batch():
    results = []
    for c in CASES3:
        tr = transcript_from_turns(c["turns"], mode=c["mode"], session_start=c["session_start"])
        items = extract_items(tr, mode=c["mode"], session_start=c["session_start"]).to_dict()["items"]
        results.append(score_case(c, items))
    s = summarize(results)
    print(f"held-out 3: risk_recall={s.risk_recall:.3f} f1={s.f1:.3f} attr_acc={s.attr_acc:.3f} forbidden={s.forbidden}")
    assert s.forbidden == 0
    assert s.risk_recall >= 0.9
    assert s.f1 >= 0.8 and s.attr_acc >= 0.8
