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
_WORD = re.compile(r"[A-Za-z']+")

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


def thresholds() -> tuple[float, float]:
    t = get_head().thresholds
    return float(t.get("propose", 0.5)), float(t.get("certain", 0.8))


def _clauses(text: str) -> list[tuple[int, int]]:
    from voicenotes.extract.semantic import _CLAUSE

    pos, parts = 0, []
    for cut in _CLAUSE.finditer(text):
        parts.append((pos, cut.start()))
        pos = cut.end()
    parts.append((pos, len(text)))
    return [(a, b) for a, b in parts if len(_WORD.findall(text[a:b])) >= 3] if len(parts) > 1 else []


def _last_question(turn) -> str | None:
    for s, e in reversed(turn.sents):
        q = turn.text[s:e].strip()
        if q.endswith("?"):
            return q
    return None


def _candidates(ex, turns, mode):
    """(turn, sent_start, sent_end, clause_start, clause_end, text_to_embed, answer_to)"""
    from voicenotes.extract.semantic import _sentences

    out = []
    for ti, t in enumerate(turns):
        prev = turns[ti - 1] if ti else None
        q = _last_question(prev) if mode == "session" and prev is not None and prev.role == "counselor" \
            and t.role != "counselor" else None
        for k, (s, e) in enumerate(_sentences(t)):
            text = t.text[s:e]
            n = len(_WORD.findall(text))
            if k == 0 and q and n <= MAX_ANSWER_WORDS:
                out.append((t, s, e, s, e, f"{q} {text}", q))
                continue
            if n < 3:
                continue
            out.append((t, s, e, s, e, text, None))
            for a, b in _clauses(text):
                out.append((t, s, e, s + a, s + b, text[a:b], None))
    return out


def _allowed(ex, turn, mode, typ, text, answer_to) -> bool:
    if mode == "session" and turn.role == "counselor" and typ not in COUNSELOR_TYPES:
        return False
    if typ in RISK_TYPES and answer_to is None and any(ig.regex.search(text) for ig in ex.sn_ignore):
        return False  # a look-alike idiom ("dead tired", "killed it")
    return True


def apply(ex, turns, mode: str, session_start: str | None) -> dict:
    """Add the classifier's proposals to the extractor's turns (after every other pass).
    Returns the number of items added per type."""
    from voicenotes.extract import normalize as nz
    from voicenotes.extract.semantic import get_detector

    head = get_head()
    propose, certain = thresholds()
    cands = _candidates(ex, turns, mode)
    if not cands:
        return {}
    P = head.forward(get_detector().emb.embed([c[5] for c in cands]))
    best: dict = {}
    for c, row in zip(cands, P):
        t, s, e, cs, ce, _text, q = c
        for k, typ in enumerate(head.types):
            p = float(row[k])
            key = (t.idx, s, e, typ)
            if p >= propose and (key not in best or p > best[key][0]):
                best[key] = (p, t, s, e, cs, ce, q)
    base = nz.parse_session_start(session_start)
    added: dict = {}
    for (_ti, s, e, typ), (p, t, _s, _e, cs, ce, q) in best.items():
        if not _allowed(ex, t, mode, typ, t.text[cs:ce], q):
            continue
        if any(not m.drop and m.type == typ and m.start < e and s < m.end for m in t.mentions):
            continue
        m = _answer(ex, t, s, e, typ) if q else _mention(ex, t, s, e, cs, ce, typ, mode, base)
        if m is None:
            continue
        m.source = "classifier"
        m.cue("type", f"classifier:{p:.2f}")
        if p < certain:
            m.certainty = "possible"
            m.cue("certainty", "classifier below the confident threshold")
            m.flags.append("review")
        t.mentions.append(m)
        added[typ] = added.get(typ, 0) + 1
    return added


def _mention(ex, turn, s, e, cs, ce, typ, mode, base):
    from voicenotes.extract.engine import Mention
    from voicenotes.extract.rules import TargetSpec
    from voicenotes.extract.semantic import _mention as sem_mention

    proto = SimpleNamespace(id="classifier", value={}, text="")
    m = sem_mention(ex, turn, s, e, cs, ce, typ, proto, mode, base, Mention, TargetSpec)
    if m is None:
        return None
    while ce > cs and turn.text[ce - 1] in " ,;:":
        ce -= 1
    m.start, m.end = cs, ce
    return m


def _answer(ex, turn, s, e, typ):
    """A bare answer to the counselor's question: the question's topic, the answer's polarity."""
    from voicenotes.extract.engine import Mention

    m = Mention(turn=turn.idx, start=s, end=e, type=typ, rule_id="classifier-answer")
    cls, cspan = ex._answer_class(turn.text)
    if cls == "neg":
        m.polarity = "negated"
        m.cue("polarity", turn.text[cspan[0]:cspan[1]] if cspan else "no")
    elif cls == "hedge":
        m.certainty = "possible"
        m.cue("certainty", turn.text[cspan[0]:cspan[1]] if cspan else "hedge")
    m.flags.append("answer_inferred")
    m.cue("type", "answer to the question in the previous turn")
    return m
