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
