"""The clause classifier pass: propose items for clauses the rules found nothing of that type in.

Every sentence of a turn, and every clause of a longer sentence, is embedded (the semantic layer's
MiniLM model) and scored by the trained head (:mod:`voicenotes.extract.classifier`) for each item
type. A type scoring at least the ``propose`` threshold in a sentence that holds no item of that
type (from the rules, the discourse logic, the safety net or the semantic layer) becomes an item
whose evidence is the best-scoring clause, with the attributes the rule engine's ConText cues give
that clause (negation, time, experiencer, condition: the same code the semantic layer uses). A
proposal below the ``certain`` threshold is ``certainty: possible`` and flagged for review.

A bare answer ("Sometimes.", "Not lately.") is read together with the counselor's question before
it; it takes the question's topic and the answer's polarity, as the discourse rules do for the
questions they recognise.

Thresholds live in the classifier's manifest; they were chosen on a frozen gold set for risk
recall >= 0.95. No session text is logged.
"""

from __future__ import annotations

import re
import threading
from types import SimpleNamespace

from voicenotes.domain import RISK_TYPES

# in a session, a counselor's own sentences carry these types only (questions and reflections about
# the client's risk are the discourse rules' business)
COUNSELOR_TYPES = ("FOLLOW_UP", "REFERRAL", "MEANS_SAFETY")
MAX_ANSWER_WORDS = 6
MIN_CLAUSE_WORDS = 4  # a shorter piece of a sentence ("show last week.") is read only within it
MIN_SPLIT_WORDS = 10  # a shorter sentence is read whole (its clauses cost embeddings and add little)
_WORD = re.compile(r"[A-Za-z']+")
_NEG = re.compile(r"\b(no|not|never|nothing|none|nobody|without)\b|n't\b", re.I)

_HEAD: dict = {}
_LOCK = threading.Lock()


def available() -> bool:
    from voicenotes.extract import semantic
    from voicenotes.extract.classifier import WEIGHTS

    return semantic.available() and WEIGHTS.is_file()


def get_head():
    from voicenotes.extract.classifier import Head

    with _LOCK:
        if "h" not in _HEAD:
            _HEAD["h"] = Head()
        return _HEAD["h"]


DEFAULT_THRESHOLDS = {"risk": 0.1, "risk_clause": 0.3, "other": 0.5, "question": 0.8, "answer": 0.6,
                      "certain": 0.9}


def thresholds() -> dict:
    """Proposal thresholds: ``risk`` (RISK, RISK_FACTOR, MEANS in a client's or a dictation's
    sentence), ``risk_clause`` (the same in one clause of a longer sentence), ``other`` (every other type), ``question`` (a risk type in a counselor's question),
    ``answer`` (a bare answer taking its question's topic), ``certain`` (at or above it a proposal
    is not marked possible)."""
    t = get_head().thresholds
    return {k: float(t.get(k, v)) for k, v in DEFAULT_THRESHOLDS.items()}


def _clauses(text: str) -> list[tuple[int, int]]:
    from voicenotes.extract.semantic import _CLAUSE

    pos, parts = 0, []
    for cut in _CLAUSE.finditer(text):
        parts.append((pos, cut.start()))
        pos = cut.end()
    parts.append((pos, len(text)))
    return [(a, b) for a, b in parts if len(_WORD.findall(text[a:b])) >= MIN_CLAUSE_WORDS] if len(parts) > 1 else []


def _last_question(turn, lead: bool = True) -> str | None:
    """The turn's last question, read with the sentence before it when it is short ("Some people
    in your spot think about not being alive. Has that been you?")."""
    sents = list(turn.sents)
    for k in range(len(sents) - 1, -1, -1):
        s, e = sents[k]
        q = turn.text[s:e].strip()
        if q.endswith("?"):
            return _with_lead(turn, sents, k, q) if lead else q
    return None


def _with_lead(turn, sents, k: int, text: str) -> str:
    if k and len(_WORD.findall(text)) < MIN_SPLIT_WORDS:
        ps, pe = sents[k - 1]
        return f"{turn.text[ps:pe].strip()} {text}"
    return text


def _answer_span(ex, turn) -> tuple[int, int] | None:
    """The answer part of a reply: its first sentence (with the next one when the first is a bare
    "No." or "Yeah."), when it is short or opens with an answer word."""
    from voicenotes.extract.semantic import _sentences

    sents = list(_sentences(turn))
    if not sents:
        return None
    s, e = sents[0]
    if len(_WORD.findall(turn.text[s:e])) <= 2 and len(sents) > 1:
        e = sents[1][1]
    n = len(_WORD.findall(turn.text[s:e]))
    cls, _ = ex._answer_class(turn.text[s:e])
    if n <= MAX_ANSWER_WORDS or (cls != "content" and n <= 2 * MAX_ANSWER_WORDS):
        return s, e
    return None


def _candidates(ex, turns, mode) -> tuple[list[dict], list[str]]:
    """Candidate spans and the texts to embed. A candidate: turn, sentence (s, e), clause (cs, ce),
    the index of its text and, for an answer, the index of its question's text."""
    from voicenotes.extract.semantic import _sentences

    out: list[dict] = []
    texts: list[str] = []

    def add(text: str) -> int:
        texts.append(text)
        return len(texts) - 1

    for ti, t in enumerate(turns):
        prev = turns[ti - 1] if ti else None
        q = _last_question(prev) if mode == "session" and prev is not None and prev.role == "counselor" \
            and t.role != "counselor" else None
        ans = _answer_span(ex, t) if q else None
        if q and ans:
            qi = add(q)
            out.append({"turn": t, "s": ans[0], "e": ans[1], "cs": ans[0], "ce": ans[1],
                        "i": add(f"{q} {t.text[ans[0]:ans[1]]}"), "q": qi, "lead": q != _last_question(prev, lead=False)})
        sents = list(_sentences(t))
        for k, (s, e) in enumerate(sents):
            if ans and s < ans[1]:
                continue
            text = t.text[s:e]
            n = len(_WORD.findall(text))
            if n < 3:
                continue
            read = _with_lead(t, sents, k, text) if t.role == "counselor" and _is_question(text) else text
            out.append({"turn": t, "s": s, "e": e, "cs": s, "ce": e, "i": add(read), "q": None, "lead": read != text})
            for a, b in (_clauses(text) if n >= MIN_SPLIT_WORDS else ()):
                out.append({"turn": t, "s": s, "e": e, "cs": s + a, "ce": s + b, "i": add(text[a:b]), "q": None,
                            "lead": False})
    return out, texts


def _is_question(text: str) -> bool:
    return text.rstrip().endswith("?")


def _allowed(ex, turn, mode, typ, text, answer) -> bool:
    if mode == "session" and turn.role == "counselor" and typ not in COUNSELOR_TYPES \
            and not (typ in RISK_TYPES and _is_question(text)):
        return False
    # a look-alike idiom ("dead tired", "killed it") is not a risk statement
    return not (typ in RISK_TYPES and not answer and any(ig.regex.search(text) for ig in ex.sn_ignore))


def _threshold(thr: dict, mode: str, turn, typ: str, clause: bool) -> float:
    if typ not in RISK_TYPES:
        return thr["other"]
    if mode == "session" and turn.role == "counselor":
        return thr["question"]
    return max(thr["risk"], thr["risk_clause"]) if clause else thr["risk"]


def _best(head, cands, P, propose: float, certain: float) -> dict:
    """Per (turn, sentence, type): the best-scoring candidate at or above ``propose``. An answer
    scores the lower of its question alone and question + answer."""
    best: dict = {}
    for c in cands:
        row = P[c["i"]]
        if c["q"] is not None:
            row = P[c["q"]].copy()
            row[:] = [min(x, y) for x, y in zip(P[c["q"]], P[c["i"]], strict=True)]
        top = float(max(row))
        for k, typ in enumerate(head.types):
            p = float(row[k])
            key = (c["turn"].idx, c["cs"], c["ce"], typ)
            if p < certain and p < top:
                continue  # a doubtful proposal must at least be the clause's likeliest type
            if p >= propose and (key not in best or p > best[key][0]):
                best[key] = (p, c)
    return best


def _embed(texts: list[str]):
    """Embeddings of ``texts``, reusing those the semantic layer computed for this extraction."""
    import numpy as np

    from voicenotes.extract.semantic import get_detector

    det = get_detector()
    known = det.last_embedded or {}
    det.last_embedded = None
    todo = [i for i, t in enumerate(texts) if t not in known]
    fresh = det.emb.embed([texts[i] for i in todo]) if todo else None
    X = np.empty((len(texts), 384), dtype=np.float32)
    for i, t in enumerate(texts):
        if t in known:
            X[i] = known[t]
    if fresh is not None:
        X[todo] = fresh
    return X


def apply(ex, turns, mode: str, session_start: str | None) -> dict:
    """Add the classifier's proposals to the extractor's turns (after every other pass).
    Returns the number of items added per type."""
    from voicenotes.extract import normalize as nz

    head = get_head()
    thr = thresholds()
    propose = min(thr["risk"], thr["other"], thr["question"], thr["answer"])
    cands, texts = _candidates(ex, turns, mode)
    if not cands:
        return {}
    X = _embed(texts)
    P = head.forward(X)
    base = nz.parse_session_start(session_start)
    focus = _other_focus(turns)
    added: dict = {}
    props = sorted(_best(head, cands, P, propose, thr["certain"]).items(), key=lambda kv: -kv[1][0])
    for (_ti, cs, ce, typ), (p, c) in props:
        t, s, e = c["turn"], c["s"], c["e"]
        answer = c["q"] is not None
        if p < (thr["answer"] if answer else _threshold(thr, mode, t, typ, (c["cs"], c["ce"]) != (s, e))):
            continue
        if c["lead"] and typ not in RISK_TYPES:
            continue  # the sentence before a question is read for indirect screening questions only
        if not _allowed(ex, t, mode, typ, t.text[s:e], answer):
            continue
        same = ("RISK", "RISK_FACTOR") if typ in ("RISK", "RISK_FACTOR") else (typ,)
        if any(not m.drop and m.type in same and m.start < ce and cs < m.end for m in t.mentions):
            # the rules (or a better-scoring clause) already hold this type here; a risk statement
            # and a risk factor on the same words are one finding, as in the semantic layer
            continue
        m = _answer(ex, t, s, e, typ) if answer else _mention(ex, t, s, e, c["cs"], c["ce"], typ, mode, base)
        if m is None:
            continue
        m.source = "classifier"
        m.rule_id = m.rule_id if answer else "classifier"
        m.cue("type", f"classifier:{p:.2f}")
        if typ in ("MEANS", "PROTECTIVE") and not answer and (m.polarity == "negated" or _NEG.search(t.text[cs:ce])):
            # "I didn't take any": a negated action, not a means denial (the rules read those); "no
            # reason to live" is hopelessness, a risk factor, not a denied protective factor
            continue
        _third_person(t, m, cs, ce, focus)
        if mode == "session" and t.role == "counselor" and typ in RISK_TYPES:
            m.modality, m.polarity, m.certainty = "question", "affirmed", "certain"
            m.start, m.end = s, e  # the whole question, not the clause that scored best
            m.cues.pop("polarity", None)
            m.cue("modality", "?")
        if typ == "RISK" and not m.subtype:
            m.subtype = head.subtype(X[c["i"]])
        if p < thr["certain"] and m.modality != "question":
            m.certainty = "possible"
            m.cue("certainty", "classifier below the confident threshold")
            m.flags.append("review")
        t.mentions.append(m)
        added[typ] = added.get(typ, 0) + 1
    return added


_THIRD = re.compile(r"\b(he|she|they|his|her|their|him|them|himself|herself)\b", re.I)
_FIRST = re.compile(r"\b(i|i'm|i've|i'd|i'll|my|me|myself|mine)\b", re.I)


def _other_focus(turns) -> bool:
    """The conversation is about someone else's risk (a caller about a son): the discourse rules'
    test, a rule RISK item of a third person as an actual statement."""
    return any(m.type == "RISK" and m.experiencer == "other" and m.exp_cue_kind == "OTHER_PRONOUN"
               and m.modality == "actual" and not m.drop for t in turns for m in t.mentions)


def _third_person(turn, m, cs: int, ce: int, other_focus: bool) -> None:
    """A client's clause about someone else ("she's done it before", "he keeps those himself"): the
    item is that person's. Means the client can reach stay the client's ("my dad has a gun, he
    doesn't lock it up") unless the whole conversation is about the other person, as the discourse
    rules decide. Dictation is in the third person throughout, so this holds only in a session."""
    if turn.role != "client" or m.experiencer != "client" or "experiencer" in m.fixed:
        return
    if m.type not in ("RISK", "RISK_FACTOR", "MEANS") or (m.type == "MEANS" and not other_focus):
        return  # a support, a coping step, a follow-up named by a pronoun is still the client's
    clause = turn.text[cs:ce]
    third = _THIRD.search(clause)
    if third and not _FIRST.search(clause):
        m.experiencer = "other"
        m.detail = third.group(1).lower()
        m.cue("experiencer", m.detail)


def _mention(ex, turn, s, e, cs, ce, typ, mode, base):
    from voicenotes.extract.engine import Mention
    from voicenotes.extract.rules import TargetSpec
    from voicenotes.extract.semantic import _mention as sem_mention

    proto = SimpleNamespace(id="classifier", value={}, text="")
    m = sem_mention(ex, turn, s, e, cs, ce, typ, proto, mode, base, Mention, TargetSpec,
                    certainty=None, flags=("classifier",))
    if m is None:
        return None
    while ce > cs and turn.text[ce - 1] in " ,;:.!":
        ce -= 1
    m.start, m.end = cs, ce
    return m


def _answer(ex, turn, s, e, typ):
    """A bare answer to the counselor's question: the question's topic, the answer's polarity."""
    from voicenotes.extract.engine import Mention

    m = Mention(turn=turn.idx, start=s, end=e, type=typ, rule_id="classifier-answer")
    cls, cspan = ex._answer_class(turn.text[s:e])
    if cspan:
        cspan = (s + cspan[0], s + cspan[1])
    if cls == "neg":
        m.polarity = "negated"
        m.cue("polarity", turn.text[cspan[0]:cspan[1]] if cspan else "no")
    elif cls == "hedge":
        m.certainty = "possible"
        m.cue("certainty", turn.text[cspan[0]:cspan[1]] if cspan else "hedge")
    m.flags += ["classifier", "answer_inferred"]
    m.cue("type", "answer to the question in the previous turn")
    return m
