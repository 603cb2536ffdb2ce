"""Turn a transcript into items (item schema v1, docs/extraction.md).

Stages, per segment then across turns:
1. dictated punctuation converted (dictation only), offsets kept;
2. spaCy + medspaCy: targets from the rule files into a span group, ConText cues set the
   attributes (``span._.modifiers``);
3. per-turn rules: lists of warning signs, distress ratings, follow-ups, supports, "except"
   re-opening means access, anaphora ("they were daily"), family history;
4. discourse: screening questions and the answers that follow, proposals and replies, consent,
   narrative time carried over, implied earlier episodes;
5. the safety net: an independent scan of the raw text against the risk vocabulary; every hit
   no item covers becomes a ``possible`` RISK item flagged for review.

No session text is ever logged or put in an exception message.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from voicenotes.domain import RISK_TYPES
from voicenotes.extract import normalize as nz
from voicenotes.extract.nlp import SPAN_GROUP, STATE

ICASE = re.IGNORECASE

KIN = (r"mother|mom|mum|father|dad|brother|sister|uncle|aunt|cousin|grandmother|grandma|grandfather|"
       r"grandpa|son|daughter|husband|wife|partner|boyfriend|girlfriend|fiance|fiancee|stepdad|"
       r"stepmom|nephew|niece|parents?|family")
FRIENDS = r"friend|best friend|buddy|roommate|coworker|co-worker|classmate|neighbor|neighbour|pastor|sponsor|boss|teacher|coach"
PERSON_NOUN = rf"(?:{KIN}|{FRIENDS})"

METHOD_WORDS = [
    ("overdose", r"overdos\w*|pills|meds|medications?|oxy\w*|tylenol|insulin|painkillers|od\b"),
    ("firearm", r"guns?|shotgun|rifle|pistol|handgun|firearms?|shoot\w*|revolver"),
    ("hanging", r"hang\w*|noose|rope|ligature"),
    ("cutting", r"cut\w*|blades?|razors?|knife|knives|sharpener"),
    ("vehicle", r"driv\w+ into|crash\w*|car into|drive off"),
    ("jumping", r"jump\w*|bridge|roof"),
]
MEANS_TO_METHOD = {"firearm": "firearm", "medication": "overdose", "ligature": "hanging",
                   "sharps": "cutting", "vehicle": "vehicle", "heights": "jumping"}
MEANS_WORDS = [
    ("firearm", r"guns?|shotguns?|rifles?|pistols?|handguns?|firearms?|revolvers?|weapons?|shells|ammo|ammunition|bullets"),
    ("medication", r"pills|medications?|meds|oxy\w*|tylenol|insulin|painkillers|prescriptions?|supply"),
    ("ligature", r"rope|noose|ligature|belt|cord"),
    ("sharps", r"knife|knives|blades?|razors?|sharpener"),
    ("vehicle", r"car|truck|vehicle"),
    ("heights", r"bridge|roof|balcony|cliff"),
]
PROTECTIVE_WORDS = [
    ("children", r"kids|kid's|kid|children|child|daughters?|sons?|girls|boys|baby|grandkids|grandchildren"),
    ("pet", r"dog|dogs|cat|cats|pet|pets|puppy|kitten|horse"),
    ("faith", r"god|faith|church|religion|religious|pray\w*"),
    ("treatment", r"therapy|therapist|treatment|counseling|counselor"),
    ("future_plans", r"graduation|wedding|future|plans|school|college"),
    ("family", r"family|wife|husband|mom|mother|dad|father|parents|sister|brother|partner|grandma|grandmother"),
]

SAFETY_NET_COVER = ("RISK", "RISK_FACTOR", "REFERRAL")
WEEKDAY = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b", ICASE)
FUT_INTENT = re.compile(r"\b(gonna|going to|will|'ll|plan(s|ning)? to|about to|intend(s)? to|ready to)\b", ICASE)
NEAR_CUE = re.compile(r"\b(denies|denied|deny|denying|no|any|without|has|have|had|made|making|with|endorses|endorsed|admits)\s+(a\s+|any\s+|an\s+)?(specific\s+|clear\s+|definite\s+|suicide\s+|suicidal\s+)?$", ICASE)
ROI_REQ = re.compile(r"\b(send|share|release|give|talk to|speak to|speak with|contact|call|update|reach out to|fax|email)\b[^?]*\b(your|the|a) (psychiatrist|doctor|therapist|counselor|case manager|school|family|mom|mother|dad|father|parents?|wife|husband|partner|pcp|provider|prescriber|nurse|psychologist|social worker)\b", ICASE)

NEG_ANSWER = re.compile(
    r"^(no\b|nope\b|nah\b|never\b|not (at all|really|that i know of|today|tonight|now|right now|anymore|lately|recently)\b|"
    r"i (haven't|have not|don't|do not|didn't|did not|wouldn't|won't)\b|(he|she|they) (hasn't|has not|doesn't|didn't|haven't)\b|"
    r"not\b|mm-?mm\b|uh-?uh\b|none\b)", ICASE)
HEDGE_ANSWER = re.compile(
    r"^(not really|i (don't|dont|do not) know|kind of|kinda|sort of|maybe|i guess|i'm not sure|not sure|"
    r"not that i know of|probably|possibly|i (don't|dont) think so|sometimes|a little)\b", ICASE)
NEG_HEDGES = re.compile(r"^(not really|not that i know of|i (don't|dont) think so|probably not|not sure)\b", ICASE)
AFF_ANSWER = re.compile(
    r"^(yeah|yes|yep|yup|yea|ya|uh-?huh|mm+-?hm+|i have|i do|i did|i am|i'm|i was|i've|i had|he has|she has|he did|she did|"
    r"all the time|every (day|night)|pretty much|definitely|absolutely|a lot|sure|okay|ok|alright|all right|"
    r"that's fine|that's okay|fine|go ahead|of course|i can|i will|i'll|i could|that works|sounds good|\w+ works)\b", ICASE)
ANSWER_PREFIX = re.compile(r"^\s*((me|who, me|honestly|well|um+|uh+|so|i mean|okay so)[?,.!]*\s+)+", ICASE)

SCREEN_Q = re.compile(
    r"^(?:(?:and|so|okay|now|also|but|then|right|in the past \w+|tonight|today),?\s+|(?:\w+\s+){0,4}\w+,\s+)*"
    r"(is|are|was|were|do|does|did|have|has|had|any|how (much|often|many|long)|where|will)\b", ICASE)
SCREEN_Q_ANY = re.compile(r"\b(have|has|had|do|does|did|are|is|were|was)\s+(you|he|she|they|anyone|anybody|someone|there|your|the|it|those|that)\b", ICASE)
PROPOSAL = re.compile(r"\b(would|could|can|will) you (be willing|be open|please|call|ask|let|have|give|keep|lock|put|try|go|consider|agree|think about)\b|"
                      r"\b(could|can|may) i\b|\bwould it be\b|\bis it (okay|alright|all right)\b|\bhow about\b|\bwhat if we\b", ICASE)
WH_Q = re.compile(r"^(?:(?:and|so|okay|now),?\s+)*(what|who|why|when|which|whose|how (are|is|do|did|would|could))\b", ICASE)
THIRD_SUBJ = re.compile(r"^(?:(?:and|so|okay|now),?\s+)*(has|does|did|is|was|will|would|can|could|have)\s+(he|she|they|your (son|daughter|brother|sister|husband|wife|partner|friend|mom|dad|mother|father))\b", ICASE)

CONTACT = re.compile(
    r"\b(give (?:you|him|her|them|me) a (?:call|ring)|call (?:me|you|him|her) back|check(?:ing)? in|check-in|follow(?:ing)?[- ]up(?: call)?|"
    r"call(?:s|ing)?|text(?:s|ing)?|see (?:you|him|her)|meet(?:ing)?|come (?:back )?in|go(?:ing)? (?:to|there|in)|attend(?:s|ing)?|visit)\b", ICASE)
COMMIT = re.compile(r"\b(will|'ll|going to|gonna|agreed to|agrees to|agree to|scheduled|plans? to|planned to|could you|would you be (willing|open)|"
                    r"can you|could i|can i|i'd like (you )?to|i would like (you )?to|let's|promised? to|is to|needs to|want you to)\b", ICASE)
DAYX = (r"today|tonight|this (?:morning|afternoon|evening|week|weekend)|tomorrow(?: (?:morning|afternoon|evening|night))?|"
        r"(?:next |this |on )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?: (?:morning|afternoon|evening|night))?|"
        r"next week|later today|in (?:a|one|two|three|four|five|\d+|a couple of|a few) (?:days?|weeks?)|as soon as (?:we hang up|we're done|we are done|possible|we get off(?: the phone)?)")
CLOCK_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|1[0-2][0-5]\d|[1-9][0-5]\d|\d{1,2}(?:[:.]\d\d)?)"
TIMEX = re.compile(
    rf"\b(?P<day>{DAYX})\b|\b(?P<time>(?:at|by|around|before|after|about) (?:noon|midnight|{CLOCK_WORD}(?: (?:oh )?(?:fifteen|thirty|forty[- ]five|o'clock|\d\d))?"
    rf"(?: ?[ap]\.? ?m\.?| in the (?:morning|afternoon|evening)| at night)?)|(?:{CLOCK_WORD}) (?:thirty|fifteen|forty[- ]five|o'clock)(?: ?[ap]\.? ?m\.?| in the (?:morning|afternoon|evening))?)", ICASE)
CLAUSE_BOUND = re.compile(r",\s*(and\s+)?|\band if\b|\bif\b|\bwhen\b|;|\bso that\b|\bso we\b|\band then\b|\band\b", ICASE)

DISTRACTION = re.compile(r"\b(sit|sitting|hang out|grab|coffee|breakfast|lunch|dinner|watch|play|game|movie|kitchen|walk with|go over)\b", ICASE)
SUPPORT_VERB = re.compile(
    r"\b(call|calling|text|texting|talk to|talking to|reach out to|reaching out to|stay with|staying with|hang out with|go over to|visit|visiting|tell|go sit(?: in the \w+)? with|sit(?: in the \w+)? with|call or text|lean on)\s+", ICASE)
SUPPORT_WHO = re.compile(
    rf"^((?:my|her|his|your|their) (?:\w+ )?(?:{PERSON_NOUN})\b(?: (?!(?:tonight|today|tomorrow|and|or|if|to|about|when|at|for|now|again|back|every|later|this|right|most|each|some|all|sometimes|too|a|an|the|on|in|with|so|but|because|then|after|before|who|that|instead|first|more|less|once|twice|daily|weekly|yet|first)\b)[a-z]+\b)?)", ICASE)
NAME_LIST = re.compile(r"^([A-Z][a-z]+(?:,? (?:and |or )?[A-Z][a-z]+)*)")
NOT_NAMES = {"I", "Okay", "Yeah", "Yes", "No", "Thanks", "Thank", "Monday", "Tuesday", "Wednesday", "Thursday",
             "Friday", "Saturday", "Sunday", "Main", "Street", "Saint", "March", "April", "May", "June", "July",
             "The", "If", "And", "But", "So", "Then", "When", "Me", "You", "Him", "Her", "Them", "It"}

RATING_CTX = re.compile(r"\b(scale|out of (ten|10|a hundred|100)|rate|rating|rated|distress|how (upset|distressed|bad|anxious|overwhelmed))\b", ICASE)
SCALE_RE = re.compile(r"\b(zero|one|0|1) to (ten|10|a hundred|one hundred|100)\b|\b(zero|one|0|1) (is|being|means) [^.?!]{0,40}?\b(ten|10|a hundred|100) (is|being|means)\b", ICASE)
NUM_RE = re.compile(
    rf"\b(?P<pre>(?:a|an|like a|like an|about a|about an|maybe a|maybe an|around a|around an|maybe|like|about|at a|at an|to a|to an|at|was)\s+)?"
    rf"(?P<num>{nz.NUMBER_WORD_RE})(?P<half>\s+and a half)?(?P<outof>\s+out of\s+(?:ten|10|a hundred|100))?\b", ICASE)
UNIT_AFTER = re.compile(r"^\s*(years?|days?|weeks?|months?|hours?|minutes?|times?|beers?|drinks?|pills|sessions?|o'clock|"
                        r"thirty|kids|of|year-old|\w+ old|people|dollars|miles|percent|am|pm|a\.m|p\.m)\b", ICASE)

RECORD_REQ = re.compile(r"\brecord(ed|ing)?\b", ICASE)
SUPPORT_Q = re.compile(r"\b(who|anyone|anybody|someone|somebody)\b.*\b(call|reach out|talk to|turn to|with you|lean on|help|be with|stay with|go to)\b", ICASE)
REASONS_Q = re.compile(r"\b(matters? to you|reasons? (for|to) liv|keeps? you (going|alive|here)|worth living|important to you|"
                       r"stopping you|stops you|holding you back|reason to (live|keep going))\b", ICASE)
RATING_Q = re.compile(r"\b(scale|rate|out of (ten|10)|how (upset|distressed|bad|anxious))\b", ICASE)
METHOD_Q = re.compile(r"\b(how|a way|any way|what way|a method|what method|which way) (you|he|she) (would|might|could|'d) (do it|kill|end|hurt)|"
                      r"\bthought about how\b|\bhow would you\b|\bwhat method\b|\b(a|any) (way|method|plan) to (kill|end|hurt)\b", ICASE)
HARDEST_Q = re.compile(r"\b(hardest part|worst part|last straw)\b", ICASE)
WARNING_LIST = re.compile(r"\bwarning signs?\b(?:[^:.;]*?)(?::|\b(?:are|include|includes|identified(?: are| were| include)?|were)\b)\s*(?P<list>[^.;?!]+)", ICASE)
ANAPHORA = re.compile(r"\b(they|those thoughts|the thoughts|these thoughts|the urges|those urges)\s+(were|was|used to be|started|came back|got|have been|had been)\b[^.,;!?]*", ICASE)
PAST_VERB = re.compile(r"\b(sat|took|went|put|held|got|was|were|did|had|gave|felt|thought|tried|found|\w+ed)\b", ICASE)
DEFINITE = re.compile(r"\b(the|those|that|these|it|your)\s+(?:\w+\s+)?$", ICASE)
ASSERT_POSSESS = re.compile(r"\b(have|has|had|keeps?|kept|owns?|'ve got|got|is in|are in|is kept|are kept|there's|there is|there are|is on|are on|'s in|is under|are under|is loaded|access)\b", ICASE)
CLIENT_REF_ACTION = re.compile(r"\b(call|called|calling|text|texted|go|went|going|attend|attended|tried|try|reach|reached|use|used|contact|contacted|see|saw|seeing|started|start|booked|appointment)\b", ICASE)


@dataclass
class Mention:
    turn: int
    start: int
    end: int
    type: str
    value: dict = field(default_factory=dict)
    polarity: str = "affirmed"
    modality: str = "actual"
    experiencer: str = "client"
    detail: str | None = None
    temporality: str | None = None
    certainty: str = "certain"
    cues: dict = field(default_factory=dict)
    flags: list = field(default_factory=list)
    rule_id: str | None = None
    source: str = "rules"
    implies_past: bool = False
    fixed: set = field(default_factory=set)
    subtype: str | None = None
    drop: bool = False
    exp_cue_kind: str | None = None

    def cue(self, attr: str, word: str) -> None:
        lst = self.cues.setdefault(attr, [])
        if word not in lst:
            lst.append(word)


@dataclass
class Turn:
    idx: int
    role: str
    speaker: str
    orig: str
    text: str
    offmap: list
    doc: Any = None
    sents: list = field(default_factory=list)
    mentions: list = field(default_factory=list)
    raw_types: set = field(default_factory=set)
    times: list = field(default_factory=list)  # (bucket, cue)
    questions: list = field(default_factory=list)  # topic dicts
    segmap: list | None = None  # dictation: the segment of every character (segments joined)

    def locate(self, start: int, end: int) -> tuple[int, int, int]:
        """(segment index, start, end) in the original segment text for a span of ``text``."""
        start = max(0, min(start, len(self.text) - 1)) if self.text else 0
        end = max(start + 1, min(end, len(self.text)))
        if self.segmap is None:
            os_ = self.offmap[start]
            oe = self.offmap[end - 1] + 1 if end - 1 < len(self.offmap) else self.offmap[-1]
            return self.idx, os_, max(oe, os_ + 1)
        seg = self.segmap[start]
        last = end - 1
        while last > start and self.segmap[last] != seg:
            last -= 1
        os_ = self.offmap[start]
        return seg, os_, max(self.offmap[last] + 1, os_ + 1)


def _sent_of(turn: Turn, pos: int) -> tuple[int, int]:
    for s, e in turn.sents:
        if s <= pos < e:
            return s, e
    return 0, len(turn.text)


def _find_word(patterns, text: str) -> str | None:
    for name, pat in patterns:
        if re.search(r"\b(" + pat + r")\b", text, ICASE):
            return name
    return None


def _nearest_word(patterns, text: str, pos: int) -> str | None:
    best = None
    for name, pat in patterns:
        for m in re.finditer(r"\b(" + pat + r")\b", text, ICASE):
            d = abs(m.start() - pos)
            if best is None or d < best[0]:
                best = (d, name)
    return best[1] if best else None


class Extractor:
    def __init__(self, nlp, rules, info):
        self.nlp = nlp
        self.rules = rules
        self.info = info
        self.sn_terms = [s for s in rules.safety if s.kind in ("term", "asr_variant")]
        self.sn_ignore = [s for s in rules.safety if s.kind == "ignore"]
        self.sn_fuzzy = tuple(w for s in rules.safety if s.kind == "fuzzy" for w in s.words)
        self._rx: dict = {}
        self.ctx_time = [(re.compile(c.pattern, ICASE), c.category) for c in rules.context
                         if isinstance(c.pattern, str) and c.category in ("HISTORICAL", "TIME", "CURRENT", "RECENT", "FUTURE")]

    # ------------------------------------------------------------------ entry
    def run(self, segments, mode: str, session_start: str | None):
        base = nz.parse_session_start(session_start)
        turns: list[Turn] = []
        texts = []
        if mode == "dictation":
            # Whisper cuts a dictation at pauses, often mid-sentence ("denies ... | suicidal
            # ideation"): join segments until one ends a sentence, so cue scopes see the sentence.
            group: list = []
            groups: list = []
            for i, seg in enumerate(segments):
                text, offmap = nz.spoken_punctuation(seg.text or "")
                group.append((i, text, offmap))
                if re.search(r"[.?!]\s*$", text) or not text.strip() or len(group) >= 20:
                    groups.append(group)
                    group = []
            if group:
                groups.append(group)
            for gi, group in enumerate(groups):
                parts, offmap, segmap = [], [], []
                for k, (i, text, om) in enumerate(group):
                    if k:
                        parts.append(" ")
                        offmap.append(len(segments[group[k - 1][0]].text or ""))
                        segmap.append(group[k - 1][0])
                    parts.append(text)
                    offmap.extend(om[:len(text)])
                    segmap.extend([i] * len(text))
                offmap.append(offmap[-1] + 1 if offmap else 0)
                segmap.append(group[-1][0])
                seg0 = segments[group[0][0]]
                role = seg0.role if seg0.role in ("counselor", "client") else "counselor"
                t = Turn(gi, role, role, "".join(parts), "".join(parts), offmap)
                t.segmap = segmap
                turns.append(t)
                texts.append(t.text)
        else:
            for i, seg in enumerate(segments):
                orig = seg.text or ""
                text, offmap = orig, list(range(len(orig) + 1))
                role = seg.role if seg.role in ("counselor", "client") else "unknown"
                speaker = role if role in ("counselor", "client") else "unknown"
                turns.append(Turn(i, role, speaker, orig, text, offmap))
                texts.append(text)
        STATE.mode = mode
        for turn, doc in zip(turns, self.nlp.pipe(texts, batch_size=64), strict=True):
            turn.doc = doc
            turn.sents = [(s.start_char, s.end_char) for s in doc.sents] or [(0, len(turn.text))]
        for turn in turns:
            self._turn_targets(turn, turns, mode, base)
        for turn in turns:
            self._turn_rules(turn, turns, mode, base)
        if mode == "session":
            self._discourse(turns, base)
        self._post(turns, mode, base)
        self._safety_net(turns)
        return turns

    # ------------------------------------------------------------------ targets + ConText
    def _turn_targets(self, turn: Turn, turns, mode, base):
        doc = turn.doc
        spans = list(doc.spans[SPAN_GROUP]) if SPAN_GROUP in doc.spans else []
        self._turn_times(turn, doc, base)
        suppress = [(sp.start_char, sp.end_char, set(self._spec_of(sp, doc).suppress))
                    for sp in spans if sp.label_ == "SUPPRESS"]
        cands = []
        for sp in spans:
            if sp.label_ == "SUPPRESS":
                continue
            spec = self._spec_of(sp, doc)
            if any(s < sp.end_char and sp.start_char < e and spec.type in types for s, e, types in suppress):
                continue
            cands.append((sp, spec))
        turn.raw_types = {spec.type for _, spec in cands}
        # same-type containment: keep the longer span
        keep = []
        for sp, spec in cands:
            contained = any(o is not sp and ospec.type == spec.type and o.start_char <= sp.start_char
                            and sp.end_char <= o.end_char and (o.end_char - o.start_char) > (sp.end_char - sp.start_char)
                            for o, ospec in cands)
            dup = any(o is not sp and ospec.type == spec.type and o.start_char == sp.start_char
                      and o.end_char == sp.end_char and id(o) < id(sp) for o, ospec in cands)
            if not contained and not dup:
                keep.append((sp, spec))
        window_types = set()
        for t in turns[max(0, turn.idx - 4):turn.idx]:
            window_types |= t.raw_types
        for sp, spec in keep:
            if spec.requires and not (set(spec.requires) & (window_types | (turn.raw_types - ({spec.type} if spec.type in spec.requires and not any(
                    o is not sp and ospec.type in spec.requires for o, ospec in keep) else set())))):
                continue
            if spec.requires_near:
                ss, se = _sent_of(turn, sp.start_char)
                if not any(o is not sp and ospec.type in spec.requires_near and ss <= o.start_char < se
                           and ospec.id != spec.id for o, ospec in keep):
                    # "denies any plan." / "no plan" / "has a plan" as its own sentence after risk talk
                    head = turn.text[max(ss, sp.start_char - 24):sp.start_char]
                    if not (NEAR_CUE.search(head) and set(spec.requires_near) & (
                            window_types | {ospec.type for o, ospec in keep if o is not sp and ospec.id != spec.id})):
                        continue
            m = self._mention(turn, sp, spec, mode, base)
            if m:
                turn.mentions.append(m)

    @staticmethod
    def _turn_times(turn: Turn, doc, base) -> None:
        """The time cues of the turn (for carry-over and answers)."""
        graph = getattr(doc._, "context_graph", None)
        if graph is not None:
            for mod in graph.modifiers:
                if mod.category in ("HISTORICAL", "TIME", "RECENT", "CURRENT", "NEGATED_HISTORICAL"):
                    s, e = mod.modifier_span
                    cue = doc[s:e].text
                    b = "past" if mod.category in ("HISTORICAL", "NEGATED_HISTORICAL") else (
                        "recent" if mod.category == "RECENT" else "current" if mod.category == "CURRENT" else nz.bucket(cue, base))
                    if b:
                        turn.times.append((b, cue))

    def _spec_of(self, sp, doc):
        """The rule that matched a span. spaCy keys ``Span._`` values by character offsets, so two
        spans of different types on the same words share one ``target_rule``; recover the right one."""
        rule = sp._.target_rule
        spec = rule.metadata["spec"]
        if spec.type == sp.label_:
            return spec
        for cand in self.rules.targets:
            if cand.type != sp.label_:
                continue
            if isinstance(cand.pattern, str):
                rx = self._rx.get(cand.id)
                if rx is None:
                    rx = self._rx[cand.id] = re.compile(cand.pattern, ICASE)
                for mm in rx.finditer(doc.text, max(0, sp.start_char - 1)):
                    if mm.start() > sp.start_char + 1:
                        break
                    if abs(mm.start() - sp.start_char) <= 1 and abs(mm.end() - sp.end_char) <= 1:
                        return cand
        for cand in self.rules.targets:
            if cand.type == sp.label_:
                return cand
        return spec

    def _mention(self, turn, sp, spec, mode, base) -> Mention | None:
        doc = turn.doc
        m = Mention(turn=turn.idx, start=sp.start_char, end=sp.end_char, type=spec.type,
                    value=dict(spec.value), rule_id=spec.id, flags=list(spec.flags))
        m.subtype = m.value.pop("subtype", None)
        self._spec_fixed(m, spec)
        temps = []
        for mod in sp._.modifiers:
            if not mod.allows(sp.label_.upper()):
                continue
            if sp.start <= mod.modifier_span[0] and mod.modifier_span[1] <= sp.end:
                continue  # a cue inside the target never modifies it (medspaCy's overlap test misses this case)
            cat = mod.category
            s, e = mod.modifier_span
            cue = doc[s:e].text
            dist = min(abs(s - sp.end), abs(sp.start - e))
            self._mod_polarity_certainty(m, cat, cue)
            b = self._mod_time(cat, cue, sp, base)
            if b:
                temps.append((dist, b, cue))
            self._mod_modality_experiencer(m, cat, cue)
        if re.search(r"\b(history of|hx of|h/o)\b", sp.text, ICASE):
            temps.append((0, "past", "history of"))
        if temps:
            temps.sort(key=lambda x: (x[0], {"past": 0, "recent": 1, "future": 2, "current": 3}[x[1]]))
            m.temporality = temps[0][1]
            m.cue("temporality", temps[0][2])
        self._mention_tail(m, sp, spec, mode)
        return m

    @staticmethod
    def _spec_fixed(m: Mention, spec) -> None:
        """Attributes the rule itself fixes; ConText cues do not change them."""
        if spec.certainty:
            m.certainty = spec.certainty
            m.fixed.add("certainty")
            if spec.certainty == "possible":
                m.cue("certainty", "rule:" + spec.id)
        if spec.experiencer:
            m.experiencer = spec.experiencer
            m.fixed.add("experiencer")
        if spec.polarity:
            m.polarity = spec.polarity
            m.fixed.add("polarity")

    @staticmethod
    def _mod_polarity_certainty(m: Mention, cat: str, cue: str) -> None:
        if cat in ("NEGATED", "NEGATED_POSSIBLE", "NEGATED_HISTORICAL", "NEGATED_IMPLIES_PAST") \
                and "polarity" not in m.fixed:
            m.polarity = "negated"
            m.cue("polarity", cue)
        if cat in ("POSSIBLE", "NEGATED_POSSIBLE") and "certainty" not in m.fixed:
            m.certainty = "possible"
            m.cue("certainty", cue)

    @staticmethod
    def _mod_time(cat: str, cue: str, sp, base) -> str | None:
        """The time bucket a ConText cue gives its target, or None."""
        if cat in ("HISTORICAL", "NEGATED_HISTORICAL"):
            return "past"
        elif cat == "RECENT":
            return "recent"
        elif cat == "CURRENT":
            return "current"
        elif cat == "FUTURE":
            return "future"
        elif cat == "TIME":
            b = nz.bucket(cue, base)
            if b == "recent" and WEEKDAY.search(cue) and not re.search(r"\b(last|past|ago)\b", cue, ICASE):
                try:
                    stext = sp.sent.text
                except Exception:  # no sentence boundaries on this span
                    stext = sp.text
                if FUT_INTENT.search(stext) and not re.search(r"\b(was|were|had|did)\b", stext, ICASE):
                    b = "future"  # "i'm gonna jump off the bridge on saturday"
            return b
        return None

    @staticmethod
    def _mod_modality_experiencer(m: Mention, cat: str, cue: str) -> None:
        if cat in ("IMPLIES_PAST", "NEGATED_IMPLIES_PAST"):
            m.implies_past = True
            m.cue("implied_past", cue)
        if cat == "CONDITIONAL" and m.modality == "actual":
            m.modality = "conditional"
            m.cue("modality", cue)
        if cat == "HYPOTHETICAL":
            m.modality = "hypothetical"
            m.cue("modality", cue)
        if cat in ("OTHER", "OTHER_PRONOUN") and "experiencer" not in m.fixed:
            m.experiencer = "other"
            m.exp_cue_kind = cat
            words = cue.lower().split()
            m.detail = words[-1] if words else None
            m.cue("experiencer", cue)
        if cat == "DECLINED":
            m.value["_declined"] = True
            m.cue("status", cue)

    @staticmethod
    def _mention_tail(m: Mention, sp, spec, mode) -> None:
        # reflexive third person in a session: someone else's behaviour
        if mode == "session" and "experiencer" not in m.fixed and m.type in ("RISK",) and \
                re.search(r"\b(himself|herself|themselves)\b", sp.text, ICASE) and m.experiencer == "client":
            m.experiencer = "other"
            m.detail = "he/she"
            m.exp_cue_kind = "OTHER_PRONOUN"
            m.cue("experiencer", sp.text.split()[-1])
        if spec.method_from_context:
            m.value["_method_ctx"] = True
        if spec.means_from_context:
            m.value["_means_ctx"] = True

    # ------------------------------------------------------------------ per-turn rules
    def _turn_rules(self, turn: Turn, turns, mode, base):
        text = turn.text
        self._warning_lists(turn)
        self._disposed(turn)
        self._except_reopen(turn)
        self._anaphora(turn, base)
        self._distress(turn, turns, mode)
        self._followups(turn, turns, mode, base)
        self._supports(turn, mode)
        # values that need the sentence
        for m in turn.mentions:
            ss, se = _sent_of(turn, m.start)
            sent = text[ss:se]
            span = text[m.start:m.end]
            if m.type == "RISK":
                self._risk_method(text, m, span, ss, se)
            elif m.type in ("MEANS", "MEANS_SAFETY"):
                self._means_values(text, m, span, sent, ss)
            elif m.type == "COPING":
                self._coping_values(turn, m, sent, ss)
            elif m.type == "PROTECTIVE":
                self._protective_value(text, m, span, ss)
            elif m.type == "PRECIPITANT":
                self._precipitant_values(m, span, sent, base)
            elif m.type == "REFERRAL":
                self._referral_values(turn, m, sent, mode)
            elif m.type == "CONSENT" and (m.value.pop("_declined", None) or m.polarity == "negated"):
                m.value["granted"] = False
                m.polarity = "affirmed"
            if m.type in ("MEANS_SAFETY", "FOLLOW_UP") and m.value.pop("_declined", None):
                m.polarity = "negated"
            m.value.pop("_declined", None)

    @staticmethod
    def _risk_method(text: str, m: Mention, span: str, ss: int, se: int) -> None:
        """The method of a risk item, from its words or a method word near it in the sentence."""
        if not m.value.get("method") and m.subtype not in ("harm_to_others", "ideation_passive"):
            meth = _find_word(METHOD_WORDS, span)
            if not meth and m.subtype in ("attempt", "ideation_active", "preparatory", "self_harm", "plan", None):
                ws, we = max(ss, m.start - 30), min(se, m.end + 30)
                for name, pat in METHOD_WORDS:
                    hit = re.search(r"\b(" + pat + r")\b", text[ws:we], ICASE)
                    if hit:
                        hs, he = ws + hit.start(), ws + hit.end()
                        between = text[min(he, m.end):max(hs, m.start)] if hs >= m.end else text[he:m.start]
                        if re.search(r"[.;,]|\b(but|and|reports|denies)\b", between, ICASE):
                            continue
                        meth = name
                        m.start, m.end = min(m.start, hs), max(m.end, he)
                        m.cue("method", hit.group(0))
                        break
            if meth and not (m.subtype == "self_harm" and meth not in ("cutting", "overdose", "hanging")):
                m.value["method"] = meth

    @staticmethod
    def _means_values(text: str, m: Mention, span: str, sent: str, ss: int) -> None:
        """The means of a MEANS or MEANS_SAFETY item, and the safety action (hand over, lock)."""
        if not m.value.get("means"):
            mm = _find_word(MEANS_WORDS, span) if m.type == "MEANS_SAFETY" or m.value.get("_means_ctx") is None else None
            if mm and not (mm == "vehicle" and m.type == "MEANS_SAFETY"):
                m.value["means"] = mm
        if m.type == "MEANS_SAFETY" and not m.value.get("action"):
            pre = text[max(ss, m.start - 40):m.start]
            if re.search(r"\b(hold|keep|store|take|pick up|come get|come pick up)\b", span, ICASE) and (
                    re.search(rf"\b(she|he|they|someone|somebody|{PERSON_NOUN})\b|\b[A-Z][a-z]+\b", pre)
                    or re.search(r"\b(at|in|to) (his|her|their|my|your) (\w+'?s? )?(house|place|home|apartment|car|truck|safe|office|locker|storage unit)\b", span, ICASE)):
                m.value["action"] = "hand_over"
            elif re.search(r"\block", span, ICASE) or (re.search(r"\b(hold|keep|store)\b", span, ICASE) and re.search(r"\block", sent, ICASE)):
                m.value["action"] = "lock"

    @staticmethod
    def _protective_value(text: str, m: Mention, span: str, ss: int) -> None:
        if not m.value.get("factor"):
            f = _nearest_word(PROTECTIVE_WORDS, text[ss:m.start], m.start - ss) if m.start > ss else None
            f = f or _find_word(PROTECTIVE_WORDS, span) or _nearest_word(PROTECTIVE_WORDS, text, m.start)
            if f:
                m.value["factor"] = f

    @staticmethod
    def _precipitant_values(m: Mention, span: str, sent: str, base) -> None:
        """The event of a precipitant and its date, from a day or an "ago" in the sentence."""
        m.value.setdefault("event", span)
        if base is not None and not m.value.get("date"):
            for tm in TIMEX.finditer(sent):
                if tm.group("day"):
                    d, _ = nz.resolve_day(tm.group("day"), base, prefer="past")
                    if d:
                        m.value["date"] = d.isoformat()
                        break
            if not m.value.get("date"):
                am = re.search(r"\b(\w+|a) (days?|weeks?|nights?) ago\b|\byesterday\b|\blast night\b", sent, ICASE)
                if am:
                    d, _ = nz.resolve_day(am.group(0), base, prefer="past")
                    if d:
                        m.value["date"] = d.isoformat()

    def _coping_values(self, turn, m, sent, ss):
        text = turn.text
        clause_start = ss
        for b in re.finditer(r"[,;]|\bbut\b", text[ss:m.start]):
            clause_start = ss + b.end()
        pre = text[clause_start:m.start]
        post = text[m.end:min(len(text), m.end + 60)]
        post_clause = re.split(r"[.;?!,]|\bbut\b", post)[0]
        whole = pre + text[m.start:m.end] + post_clause
        if re.search(r"\b(will|'ll|going to|gonna|could|plan(s|ned)? to|agreed to|would|try to|can try|should|is going to)\b", pre, ICASE):
            m.value.setdefault("status", "planned")
        else:
            m.value.setdefault("status", "tried")
        rest = text[m.end:_sent_of(turn, m.start)[1]]
        if re.search(r"\b(worse|didn't (do anything|help|work)|did not (help|work)|doesn't (help|work)|does not (help|work)|"
                     r"no use|useless|nothing helps)\b", whole, ICASE) or re.search(
                r"\bbut (it|that|they|this) (didn't|did not|doesn't|does not|never) (do anything|help|work)", rest, ICASE):
            m.value.setdefault("efficacy", "unhelpful")
        elif re.search(r"\b(helps|helped|works|worked|better|calms)\b", whole, ICASE):
            m.value.setdefault("efficacy", "helpful")
        else:
            m.value.setdefault("efficacy", "unknown")
        m.value.setdefault("maladaptive", bool(re.search(r"\b(drink\w*|alcohol|beer|using|drugs|high|cutting|smok\w*)\b",
                                                         text[m.start:m.end], ICASE)))

    def _referral_values(self, turn, m, sent, mode):
        if m.value.pop("_declined", None) or m.polarity == "negated":
            m.value["status"] = "declined"
            m.polarity = "affirmed"
            return
        ss, se = _sent_of(turn, m.start)
        left = re.split(r"\band\b|[,;]|\bbut\b", turn.text[ss:m.start], flags=ICASE)[-1]
        right = re.split(r"\band\b|[,;]|\bbut\b", turn.text[m.end:se], flags=ICASE)[0]
        fsent = turn.text[ss:se]
        sent = left + turn.text[m.start:m.end] + right if mode == "dictation" else sent
        if re.search(r"\b(hung up|no answer|didn't answer|did not answer|couldn't get through|could not get through|no one (answered|picked up)|nobody (answered|picked up)|didn't pick up|did not pick up)\b", fsent, ICASE) \
                and re.search(r"\b(called|tried|texted|reached out to)\b", left + turn.text[m.start:m.end], ICASE):
            m.value["status"] = "attempted"
            return
        if turn.role == "client":
            if re.search(r"\b(hold|hung up|no answer|didn't answer|did not answer|couldn't get through|could not get through|busy|no one (answered|picked up)|nobody (answered|picked up))\b", sent, ICASE) \
                    and re.search(r"\b(called|tried|texted|went)\b", sent, ICASE):
                m.value["status"] = "attempted"
            elif re.search(r"\b(called|texted|went|used|attended|have been going|go to)\b", sent, ICASE) or re.search(r"\b(will|'ll|going to|gonna)\b", sent, ICASE):
                m.value["status"] = "accepted"
            return
        if re.search(r"\b(scheduled|appointment|booked|intake (is|on))\b", sent, ICASE):
            m.value["status"] = "scheduled"
        elif re.search(r"\b(agreed to|agrees to|accepted|will go|will call|plans to|is going to|will attend|will contact)\b", sent, ICASE):
            m.value["status"] = "accepted"
        else:
            m.value["status"] = "given"

    def _warning_lists(self, turn: Turn):
        text = turn.text
        for wm in WARNING_LIST.finditer(text):
            ls, le = wm.start("list"), wm.end("list")
            parts = []
            pos = ls
            for sep in re.finditer(r",\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+", text[ls:le]):
                parts.append((pos, ls + sep.start()))
                pos = ls + sep.end()
            parts.append((pos, le))
            for m in turn.mentions:
                if ls <= m.start < le and m.type in ("RISK_FACTOR", "TRIGGER"):
                    m.drop = True
            for s, e in parts:
                while s < e and text[s] in " \t\n":
                    s += 1
                while e > s and text[e - 1] in " \t\n.":
                    e -= 1
                if e - s < 3:
                    continue
                mm = Mention(turn=turn.idx, start=s, end=e, type="TRIGGER", rule_id="warning-sign-list",
                             value={"pattern": text[s:e]})
                mm.cue("type", "warning signs")
                turn.mentions.append(mm)

    def _disposed(self, turn: Turn):
        for a in turn.mentions:
            if a.type == "MEANS_SAFETY" and a.value.get("action") == "dispose":
                for b in turn.mentions:
                    if b.type == "MEANS" and a.start <= b.start and b.end <= a.end:
                        b.drop = True

    def _except_reopen(self, turn: Turn):
        text = turn.text
        means = [m for m in turn.mentions if m.type == "MEANS" and not m.drop]
        for a in means:
            if a.polarity != "negated":
                continue
            for b in means:
                if b is a or b.start <= a.end or _sent_of(turn, a.start) != _sent_of(turn, b.start):
                    continue
                between = text[a.end:b.start]
                if re.search(r"\b(except|other than|apart from|aside from|but)\b", between, ICASE) and len(between) < 60:
                    a.polarity = "affirmed"
                    a.end = b.end
                    a.cues.pop("polarity", None)
                    a.cue("polarity", "except")
                    b.drop = True
                    break

    def _anaphora(self, turn: Turn, base):
        text = turn.text
        risks = [m for m in turn.mentions if m.type == "RISK"]
        if not risks:
            return
        for am in ANAPHORA.finditer(text):
            ante = [m for m in risks if m.end <= am.start()]
            if not ante or any(m.start >= am.start() and m.start < am.end() for m in risks):
                continue
            a = ante[-1]
            mm = Mention(turn=turn.idx, start=am.start(), end=am.end(), type="RISK", rule_id="anaphora-risk",
                         subtype=a.subtype, value={k: v for k, v in a.value.items() if k == "method"})
            mm.cue("type", am.group(1))
            clause = am.group(0)
            if re.search(r"\b(n't|not|never|no longer)\b", clause, ICASE):
                mm.polarity = "negated"
                mm.cue("polarity", "not")
            for rx, cat in self.ctx_time:
                tmm = rx.search(clause)
                if tmm:
                    b = nz.bucket(tmm.group(0), base) if cat == "TIME" else {"HISTORICAL": "past", "CURRENT": "current", "RECENT": "recent", "FUTURE": "future"}[cat]
                    if b:
                        mm.temporality = b
                        mm.cue("temporality", tmm.group(0))
                        break
            turn.mentions.append(mm)

    def _distress(self, turn: Turn, turns, mode):
        text = turn.text
        prev_q = None
        if mode == "session" and turn.role != "counselor" and turn.idx > 0 and turns[turn.idx - 1].role == "counselor" \
                and RATING_Q.search(turns[turn.idx - 1].text):
            prev_q = turns[turn.idx - 1].text
        if turn.role == "counselor" and mode == "session" and "?" in text:
            return  # the counselor's rating question is not a rating
        if not (RATING_CTX.search(text) or prev_q):
            return
        scale = self._rating_scale(turn, turns, prev_q)
        nums = self._rating_numbers(turn, prev_q, scale)
        if not nums:
            return
        for g in self._rating_groups(text, nums):
            turn.mentions.append(self._rating_mention(turn, g, scale))

    @staticmethod
    def _rating_scale(turn: Turn, turns, prev_q: str | None) -> str | None:
        """The rating scale ("0-10", "1-100") said in the turn or the question before it."""
        text = turn.text
        scale_src = text if SCALE_RE.search(text) else (prev_q or "")
        scale = None
        sm = SCALE_RE.search(scale_src)
        if sm:
            g_lo, g_hi = (sm.group(1), sm.group(2)) if sm.group(1) else (sm.group(3), sm.group(5))
            lo = 0 if g_lo.lower() in ("zero", "0") else 1
            hi = 100 if "hundred" in g_hi.lower() or g_hi == "100" else 10
            scale = f"{lo}-{hi}"
        elif prev_q and re.search(r"\bsame\b", prev_q, ICASE):
            for t in reversed(turns[:turn.idx]):
                for m in t.mentions:
                    if m.type == "DISTRESS" and m.value.get("scale"):
                        scale = m.value["scale"]
                        break
                if scale:
                    break
        return scale

    @staticmethod
    def _rating_numbers(turn: Turn, prev_q: str | None, scale: str | None) -> list[tuple[int, int, Any]]:
        """(start, end, value) of the numbers of the turn that read as a rating."""
        text = turn.text
        masked = SCALE_RE.sub(lambda x: " " * len(x.group(0)), text)
        masked = re.sub(r"\b(scale|rate|rating|rated) (of|from)\b", lambda x: " " * len(x.group(0)), masked, flags=ICASE)
        nums = []
        for nm in NUM_RE.finditer(masked):
            if UNIT_AFTER.match(masked[nm.end():]):
                continue
            pre = (nm.group("pre") or "").strip().lower()
            sent_s, sent_e = _sent_of(turn, nm.start())
            if not prev_q and not RATING_CTX.search(text[sent_s:sent_e]):
                continue
            at_sent_start = not text[sent_s:nm.start()].strip()
            if not (pre or nm.group("outof") or at_sent_start or prev_q):
                continue
            if not pre and not nm.group("outof") and not prev_q and not at_sent_start:
                continue
            v = nz.number_value(nm.group("num"))
            if v is None:
                continue
            if nm.group("half"):
                v += 0.5
            if scale and v > int(scale.split("-")[1]):
                continue
            if not scale and v > 100:
                continue
            nums.append((nm.start("num") if not pre else nm.start(), nm.end(), v))
        return nums

    @staticmethod
    def _rating_groups(text: str, nums) -> list[list[tuple[int, int, Any]]]:
        """Numbers a few words apart ("six or seven", "maybe a five, six") form one rating."""
        groups: list[list[tuple[int, int, Any]]] = []
        for n in nums:
            if groups:
                last = groups[-1][-1]
                between = text[last[1]:n[0]]
                if len(between) <= 12 and re.fullmatch(r"[\s,.]*(maybe|or|to|-|,)?[\s,.]*(maybe )?(a |an )?", between, ICASE):
                    groups[-1].append(n)
                    continue
            groups.append([n])
        return groups

    @staticmethod
    def _rating_mention(turn: Turn, g, scale: str | None) -> Mention:
        """The DISTRESS item of one rating, with its time point (start or end of the call) and hedge."""
        text = turn.text
        s, e = g[0][0], g[-1][1]
        vals = [nz.clean_number(x[2]) for x in g]
        value = vals[0] if len(vals) == 1 else [min(vals), max(vals)]
        m = Mention(turn=turn.idx, start=s, end=e, type="DISTRESS", rule_id="distress-rating",
                    value={"value": value})
        if scale:
            m.value["scale"] = scale
        ss, se = _sent_of(turn, s)
        tps = list(re.finditer(r"\b(at the (start|beginning)|start of|beginning of|initially|at first|by the end|at the end|end of the call|end of the session|by the close)\b", text[ss:se], ICASE))
        tp = None
        if tps:
            def _d(x):
                a, b = ss + x.start(), ss + x.end()
                return (a - e) if a >= e else (s - b) + 5
            tp = min(tps, key=_d)
            if _d(tp) > 50:
                tp = None
        if tp:
            m.value["time_point"] = "start" if re.search(r"start|beginning|initially|first", tp.group(0), ICASE) else "end"
            m.cue("time_point", tp.group(0))
        if len(vals) > 1 or re.search(r"\b(maybe|like|about|around|i guess)\b", text[max(ss, s - 12):e], ICASE):
            m.certainty = "possible"
            m.cue("certainty", "range/hedge")
        return m

    def _followups(self, turn: Turn, turns, mode, base):
        text = turn.text
        has_ref_turn = any(m.type == "REFERRAL" for m in turn.mentions)
        last_date = None
        for ss, se in turn.sents:
            sent = text[ss:se]
            contacts = list(CONTACT.finditer(sent))
            for ci, cm in enumerate(contacts):
                verb = cm.group(1).lower()
                if (verb.startswith("go") or verb.startswith("attend")) and not (has_ref_turn or re.search(r"\b(clinic|appointment|group|er|emergency|hospital|there)\b", sent[cm.end():cm.end() + 40], ICASE)):
                    continue
                prev_end = contacts[ci - 1].end() if ci else 0
                if ci and re.fullmatch(r"[\w' ]{0,25}\bto\s*", sent[prev_end:cm.start()]):
                    continue  # "call you next week to check in": one follow-up
                next_start = contacts[ci + 1].start() if ci + 1 < len(contacts) else len(sent)
                before = sent[prev_end:cm.start()]
                cut = 0
                for b in CLAUSE_BOUND.finditer(before):
                    cut = b.end()
                before_c = before[cut:]
                after = sent[cm.end():next_start]
                ab = CLAUSE_BOUND.search(after, 1)
                after_c = after[:ab.start()] if ab else after
                scheduled = re.search(r"\b(scheduled|appointment|booked)\b", sent, ICASE)
                if not (COMMIT.search(before_c) or scheduled or (verb.startswith(("follow", "check")) and TIMEX.search(sent))):
                    continue
                if mode == "dictation" and not re.search(r"\b(client|counselor|writer|clinician|she|he|i|we|they|you|patient)\b", sent[:cm.start()], ICASE) and not scheduled \
                        and not verb.startswith(("follow", "check")):
                    continue
                times, dist = self._followup_times(before, after_c)
                obj_pair = re.search(r"^\s*(me|you|back|in with you)\b", after_c, ICASE) or "back" in verb or verb.startswith("check") or "you" in verb
                if not (times or obj_pair or scheduled):
                    continue
                if re.search(r"\b(can|could) (call|text)\b", before_c[-12:] + verb, ICASE) and not re.search(r"\bcould (you|i)\b", before_c, ICASE):
                    continue
                # who
                who = None
                subj, dep_subj = self._followup_subjects(turn, sent, ss, cm, before, before_c, after_c)
                if subj or dep_subj:
                    w = subj[-1].group(1) if subj else dep_subj
                    assert w is not None  # one of the two is set on this branch
                    who = self._followup_who(w, turn, mode)
                elif mode == "dictation" and scheduled:
                    who = None
                day, tme, raw = self._followup_day_time(times, dist)
                vl = verb.lower()
                action = ("call" if "call" in vl else "text" if vl.startswith("text") else "check_in" if vl.startswith("check")
                          else "follow_up" if vl.startswith("follow") else "meet" if vl.startswith(("see", "meet"))
                          else "visit")
                value: dict[str, Any] = {"who": who, "action": action}
                when, ambiguity, last_date = self._followup_when(day, tme, base, last_date)
                self._followup_value_extras(value, raw, when, ambiguity, sent, cm, after_c)
                st, en = self._followup_span(turn, ss, prev_end + cut, subj, before_c, cm, after_c)
                m = Mention(turn=turn.idx, start=st, end=en, type="FOLLOW_UP", rule_id="follow-up", value=value)
                m.temporality = "future"
                m.cue("type", verb)
                turn.mentions.append(m)

    @staticmethod
    def _followup_times(before: str, after_c: str):
        """The time expressions around a contact verb, with their distance from it."""
        tcut = 0
        for b in re.finditer(r",\s*and\b(?!\s+if)|\band\b(?!\s+if)|;", before):
            tcut = b.end()
        t_after = list(TIMEX.finditer(after_c))
        t_before = list(TIMEX.finditer(before[tcut:]))
        btxt_len = len(before) - tcut
        times = t_after + t_before
        dist = {id(t): t.start() for t in t_after}
        dist.update({id(t): btxt_len - t.end() for t in t_before})
        return times, dist

    @staticmethod
    def _followup_value_extras(value: dict, raw, when, ambiguity, sent: str, cm, after_c: str) -> None:
        """The when (as said and resolved), its ambiguity notes and an "if ..." condition."""
        if raw:
            value["when_raw"] = " ".join(raw)
        if when:
            value["when"] = when
        if ambiguity:
            value["ambiguity"] = sorted(set(ambiguity))
        cond = re.search(r"\b(if|unless|in case)\b[^,.;]*", sent, ICASE)
        if cond and (cond.start() < cm.start() or cond.start() < cm.end() + len(after_c)):
            value["condition"] = cond.group(0)

    def _followup_subjects(self, turn: Turn, sent: str, ss: int, cm, before: str, before_c: str, after_c: str):
        """The subject words before a contact verb, and the dependency parse's subject (or the
        one a "from the counselor" after the verb names)."""
        subj_rx = r"\b((?i:i'd|i'll|i|you'll|you|we'll|we|he|she|they|client|counselor|writer|clinician|this writer)|[A-Z][a-z]+)\b"
        subj = list(re.finditer(subj_rx, before_c if before_c.strip() else before))
        if not subj or all(x.group(1) in NOT_NAMES - {"I", "You", "Me"} for x in subj):
            subj = [x for x in re.finditer(subj_rx, sent[:cm.start()]) if x.group(1) not in NOT_NAMES - {"I", "You"}]
        dep_subj = self._dep_subject(turn, ss + cm.start())
        frm = re.match(r"\s*(?:\w+\s+){0,2}from\s+(this writer|the writer|writer|the counselor|counselor|me|us|the clinician|clinician|the client|client)\b", after_c, ICASE)
        if frm:
            subj = []
            dep_subj = "counselor" if frm.group(1).lower() not in ("the client", "client") else "client"
            if turn.role == "client" and frm.group(1).lower() in ("me", "us"):
                dep_subj = "client"
        return subj, dep_subj

    @staticmethod
    def _followup_who(w: str, turn: Turn, mode) -> str | None:
        """Who does the follow-up, from its subject word and the speaker."""
        who = None
        wl = w.lower()
        if wl.startswith("i") and wl in ("i", "i'd", "i'll"):
            who = turn.role if turn.role in ("counselor", "client") else None
        elif wl.startswith("you"):
            who = {"counselor": "client", "client": "counselor"}.get(turn.role)
        elif wl.startswith("we"):
            who = "counselor" if turn.role == "counselor" else None
        elif wl in ("counselor", "writer", "clinician", "this writer"):
            who = "counselor"
        elif wl in ("client",) or (wl in ("he", "she") and mode == "dictation"):
            who = "client"
        elif w[0].isupper() and w not in NOT_NAMES:
            who = "other"
        return who

    @staticmethod
    def _followup_day_time(times, dist):
        """The nearest day and clock time of a follow-up, and their words as said."""
        day = tme = None
        raw = []
        for tm in sorted(times, key=lambda x: dist[id(x)]):
            if tm.group("day") and not day:
                day = tm.group("day")
                raw.append(day)
            elif tm.group("time") and not tme:
                tme = tm.group("time")
                raw.append(tme)
        return day, tme, raw

    @staticmethod
    def _followup_when(day, tme, base, last_date):
        """The date (and time) of a follow-up as ISO text, the ambiguity notes, and the date a
        later bare clock time in the turn refers to."""
        ambiguity: list[str] = []
        when = None
        if base is not None:
            date = None
            if day:
                date, notes = nz.resolve_day(day, base, prefer="future")
                ambiguity += notes
            elif tme and last_date:
                date = last_date
            elif tme:
                date = base.date()
            if date:
                last_date = date
                when = date.isoformat()
                if tme:
                    r = nz.resolve_time(tme)
                    if r:
                        h, mi, notes = r
                        ambiguity += notes
                        when = f"{date.isoformat()}T{h:02d}:{mi:02d}:00"
        return when, ambiguity, last_date

    @staticmethod
    def _followup_span(turn: Turn, ss: int, clause_off: int, subj, before_c: str, cm, after_c: str):
        """The follow-up's span: from its subject (or verb) to its last time expression."""
        st = ss + clause_off + (subj[-1].start() if subj and before_c.strip() else len(before_c))
        st = min(st, ss + cm.start())
        en = ss + cm.end()
        ends = [ss + cm.end() + t.end() for t in TIMEX.finditer(after_c)]
        if ends:
            en = max(en, max(ends))
        else:
            en = min(ss + cm.end() + len(after_c.rstrip(" ,.?")), ss + cm.end() + 60)
        while st < en and turn.text[st] in " ,;":
            st += 1
        return st, en

    def _dep_subject(self, turn: Turn, char: int) -> str | None:
        """The grammatical subject of the verb at ``char`` from the dependency parse (statistical
        pipeline only): "I'd like you to call me back" -> "you". None when unknown."""
        doc = turn.doc
        if doc is None or not doc.has_annotation("DEP"):
            return None
        tok = None
        for t in doc:
            if t.idx <= char < t.idx + len(t.text) + 1:
                tok = t
                break
        if tok is None:
            return None
        head = tok if tok.pos_ in ("VERB", "AUX") else tok.head
        for child in head.children:
            if child.dep_ in ("nsubj", "nsubjpass") and child.lower_ in (
                    "i", "you", "we", "he", "she", "they", "client", "counselor", "writer", "clinician"):
                return child.text
        return None

    def _past_tense(self, turn: Turn, ss: int, se: int) -> bool:
        """Whether the sentence narrates the past: the tagger's VBD/VBN when the statistical
        pipeline is loaded, else a word list."""
        doc = turn.doc
        if doc is not None and doc.has_annotation("TAG"):
            return any(t.tag_ in ("VBD",) for t in doc if ss <= t.idx < se)
        return bool(PAST_VERB.search(turn.text[ss:se]))

    def _supports(self, turn: Turn, mode):
        text = turn.text
        for pm in re.finditer(rf"\b((?:(?:my|her|his|their|client's|the client's)\s+)?(?:\w+\s+)?(?:{PERSON_NOUN}))\s+(?:will|is going to|can|could|agreed to|'ll|offered to|is coming to)\s+(?:stay|be|sit|come over|check on)\b(?:\s+(?:with|on)\s+(?:her|him|them|me|the client))?", text, ICASE):
            s, e = pm.start(), pm.end()
            if any(m.type == "SUPPORT" and m.start < e and s < m.end for m in turn.mentions):
                continue
            m = Mention(turn=turn.idx, start=s, end=e, type="SUPPORT", rule_id="support-person-stays",
                        value={"who": pm.group(1), "role": "help"})
            m.cue("type", "stays with the client")
            turn.mentions.append(m)
        for sv in SUPPORT_VERB.finditer(text):
            rest = text[sv.end():]
            wm = SUPPORT_WHO.match(rest)
            who = wm.group(1) if wm else None
            if not who:
                nm = NAME_LIST.match(rest)
                if nm and nm.group(1).split(",")[0].split()[0] not in NOT_NAMES:
                    who = nm.group(1)
            if not who:
                continue
            s, e = sv.start(), sv.end() + len(who)
            ss, se = _sent_of(turn, s)
            if any(m.type == "MEANS_SAFETY" and ss <= m.start < se for m in turn.mentions):
                continue
            if re.search(r"\b(about the|pick up)\b", text[e:se], ICASE):
                continue
            clause = re.split(r",|\band\b|\bor\b|\bthen\b", text[e:se], flags=ICASE)[0]
            role = "distraction" if DISTRACTION.search(sv.group(0) + " " + who + " " + clause) else "help"
            m = Mention(turn=turn.idx, start=s, end=e, type="SUPPORT", rule_id="support-contact",
                        value={"who": who, "role": role})
            m.cue("type", sv.group(1))
            turn.mentions.append(m)

    # ------------------------------------------------------------------ discourse (sessions)
    def _question_topic(self, turn: Turn, ss: int, se: int):
        sent = turn.text[ss:se]
        lead = re.match(r"^\s*(when|if|since|after|before|because|now that|while)\b[^,?]{0,80},\s*", sent, ICASE)
        if lead and SCREEN_Q.match(sent[lead.end():]):
            sent = sent[lead.end():]  # "When you feel this empty, do you ever ...?"
        is_q = sent.rstrip().endswith("?") or SCREEN_Q.match(sent.strip())
        if not is_q:
            # unpunctuated speech: "that's a lot to carry to how much have you been drinking lately"
            emb = re.search(r"\b(how (much|often|many)|have you|has (he|she|anyone)|are you|do you|does (he|she)|did you|is there|were you)\b", sent, ICASE)
            if emb and emb.start() > 0 and any(ss + emb.start() <= m.start < se and m.type in RISK_TYPES for m in turn.mentions):
                ss = ss + emb.start()
                sent = sent[emb.start():]
                is_q = True
        if not is_q or WH_Q.match(sent.strip()) and not re.match(r"^(?:(?:and|so|okay|now),?\s+)*(where|how (much|often|many|long))\b", sent.strip(), ICASE):
            return None
        if PROPOSAL.search(sent):
            return None
        if not (SCREEN_Q.match(sent.strip()) or SCREEN_Q_ANY.search(sent)):
            return None
        ms = [m for m in turn.mentions if ss <= m.start < se and m.type in RISK_TYPES and not m.drop]
        if not ms and re.search(r"\b(that|it|this|those thoughts|these thoughts|anything like that|something like that)\b", sent, ICASE):
            # "... people think about suicide. Has that crossed your mind?"
            prev = [(ps, pe) for ps, pe in turn.sents if pe <= ss]
            if prev:
                ps, pe = prev[-1]
                ms = [m for m in turn.mentions if ps <= m.start < pe and m.type in RISK_TYPES and not m.drop]
                for m in ms:
                    m.end = max(m.end, se - (len(turn.text[ss:se]) - len(turn.text[ss:se].rstrip())))
                    m.cue("modality", "question refers back")
        if not ms or all(m.polarity == "negated" for m in ms):
            return None
        order = {"RISK": 0, "RISK_FACTOR": 1, "MEANS": 2}
        top = sorted(ms, key=lambda m: (order[m.type], m.start))[0]
        topic = {"type": top.type, "subtype": top.subtype, "value": {k: v for k, v in top.value.items() if not k.startswith("_")},
                 "experiencer": "other" if THIRD_SUBJ.match(sent.strip()) or top.experiencer == "other" else "client",
                 "temporality": None, "method_q": bool(METHOD_Q.search(sent)), "turn": turn.idx, "sent": (ss, se),
                 "definite": False, "detail": top.detail}
        topic["temporality"] = self._question_temporality(sent)
        if top.type == "MEANS" \
                and re.search(r"\b(the|those|that|these|your|his|her)\s+(\w+\s+)?(" + MEANS_WORDS[0][1] + "|" + MEANS_WORDS[1][1] + r")\b", sent, ICASE) \
                and not re.search(r"\b(any|a|an)\s+(\w+\s+)?(" + MEANS_WORDS[0][1] + "|" + MEANS_WORDS[1][1] + r")\b", sent, ICASE):
            topic["definite"] = True
        self._mark_questioned(ms, topic)
        return topic

    @staticmethod
    def _question_temporality(sent: str) -> str | None:
        """The time a screening question asks about, from its wording."""
        if re.search(r"\b(have|has|had|did) (you|he|she|they|anyone|anybody) ever\b|\bever (tried|attempted|made|been|had|done)\b|"
                     r"\bbefore\b|\bin your life\b|\bhistory\b|\bin the past\b(?! (month|week|two weeks|few))", sent, ICASE):
            return "past"
        elif re.search(r"\b(tonight|right now|today|currently|now)\b", sent, ICASE):
            return "current"
        elif re.search(r"\b(in the past (month|week|two weeks|few \w+)|lately|recently|this week)\b", sent, ICASE):
            return "recent"
        return None

    @staticmethod
    def _mark_questioned(ms: list[Mention], topic: dict) -> None:
        """The items a question asks about are questions, not statements."""
        for m in ms:
            m.modality = "question"
            m.polarity = "affirmed"
            m.certainty = "certain"
            m.cues.pop("polarity", None)
            m.cue("modality", "?")
            m.implies_past = False
            if topic["experiencer"] == "other" and "experiencer" not in m.fixed:
                m.experiencer = "other"

    def _answer_class(self, text: str) -> tuple[str, tuple[int, int] | None]:
        t = ANSWER_PREFIX.sub("", text.strip())
        off = len(text.strip()) - len(t)
        for cls, rx in (("hedge", HEDGE_ANSWER), ("neg", NEG_ANSWER), ("aff", AFF_ANSWER)):
            m = rx.match(t)
            if m:
                return cls, (off, off + m.end())
        return "content", None

    def _discourse(self, turns, base):
        other_focus = self._other_focus(turns)
        for ti, turn in enumerate(turns):
            nxt = turns[ti + 1] if ti + 1 < len(turns) else None
            reply = nxt if nxt is not None and nxt.role != "counselor" else None
            if turn.role == "counselor":
                self._counselor_turn(turn, reply, turns)
            elif turn.role in ("client", "unknown"):
                self._client_references(turn, turns, ti)
                if other_focus:
                    self._other_focus_means(turn)
        self._carry_narrative_time(turns)

    @staticmethod
    def _other_focus(turns) -> bool:
        """Whether the session talks about someone else's risk ("he tried to ...")."""
        other_focus = False
        for t in turns:
            for m in t.mentions:
                if m.type == "RISK" and m.experiencer == "other" and m.exp_cue_kind == "OTHER_PRONOUN" and m.modality == "actual":
                    other_focus = True
        return other_focus

    def _counselor_turn(self, turn: Turn, reply: Turn | None, turns) -> None:
        """A counselor turn's questions; its references inside statements and proposals are not
        items (README "Where an item sits"); then the client's reply to it."""
        for ss, se in turn.sents:
            topic = self._question_topic(turn, ss, se)
            if topic:
                turn.questions.append(topic)
        for m in turn.mentions:
            if m.modality == "question" or m.drop:
                continue
            if m.type in ("MEANS", "RISK_FACTOR") and DEFINITE.search(turn.text[max(0, m.start - 25):m.start]):
                ss, se = _sent_of(turn, m.start)
                if not ASSERT_POSSESS.search(turn.text[ss:m.start]) or turn.text[ss:se].rstrip().endswith("?"):
                    m.drop = True
            if m.type == "CONSENT" and turn.text[slice(*_sent_of(turn, m.start))].rstrip().endswith("?"):
                m.drop = True
            if m.type in RISK_TYPES and turn.text[slice(*_sent_of(turn, m.start))].rstrip().endswith("?") and m.modality != "question":
                m.drop = True  # open question mentioning a risk word; the safety net still sees it
        if reply is not None:
            self._answers(turn, reply, turns)
            self._proposal_replies(turn, reply)
            self._special_questions(turn, reply)

    @staticmethod
    def _client_references(turn: Turn, turns, ti: int) -> None:
        """A client's reference back to means already named, or to a referral without acting on
        it, is not an item."""
        for m in turn.mentions:
            if m.type == "MEANS" and DEFINITE.search(turn.text[max(0, m.start - 25):m.start]) and \
                    not ASSERT_POSSESS.search(turn.text[slice(*_sent_of(turn, m.start))]) and any(
                    x.type == "MEANS" and x.value.get("means") == m.value.get("means") and not x.drop
                    for pt in turns[max(0, ti - 30):ti] for x in pt.mentions):
                m.drop = True  # a reference back to means already in the draft
            ss_, se_ = _sent_of(turn, m.start)
            clause = re.split(r"\bbut\b|;", turn.text[ss_:m.start], flags=ICASE)[-1] + turn.text[m.start:m.end] + \
                re.split(r"\bbut\b|;|,", turn.text[m.end:se_], flags=ICASE)[0]
            if m.type == "REFERRAL" and not CLIENT_REF_ACTION.search(clause):
                m.drop = True

    @staticmethod
    def _other_focus_means(turn: Turn) -> None:
        """In a session about someone else's risk, means after "he/she" are theirs."""
        for m in turn.mentions:
            if m.type in ("MEANS",) and m.experiencer == "client":
                ss, se = _sent_of(turn, m.start)
                pre = turn.text[ss:m.start]
                if re.search(r"\b(he|she|they)\b", pre, ICASE) and not re.search(r"\b(i|my|me)\b", pre, ICASE):
                    m.experiencer = "other"
                    m.cue("experiencer", "he/she")

    def _carry_narrative_time(self, turns) -> None:
        """Narrative time carried over from the previous turns of the same speaker."""
        for ti, turn in enumerate(turns):
            for m in turn.mentions:
                if m.temporality is None and m.type in ("RISK", "MEANS") and m.modality == "actual" and turn.role == "client":
                    ss, se = _sent_of(turn, m.start)
                    if not self._past_tense(turn, ss, se):
                        continue
                    for pt in reversed(turns[max(0, ti - 4):ti]):
                        if pt.role != turn.role:
                            continue
                        tb = [b for b, _ in pt.times if b in ("recent", "past")]
                        if tb:
                            m.temporality = tb[-1]
                            m.cue("temporality", "earlier turn")
                            break

    def _span_head(self, turn: Turn, cls_span) -> tuple[int, int]:
        text = turn.text
        lead = len(text) - len(text.lstrip())
        s0 = lead
        first = turn.sents[0] if turn.sents else (0, len(text))
        e = first[1]
        words = len(text[s0:e].split())
        if cls_span and words > 8:
            e = s0 + cls_span[1]
        while e > s0 and text[e - 1] in " \n":
            e -= 1
        return s0, max(e, s0 + 1)

    def _answers(self, qturn: Turn, reply: Turn, turns):
        for topic in qturn.questions:
            cls, cspan = self._answer_class(reply.text)
            same = [m for m in reply.mentions if m.type == topic["type"] and not m.drop]
            if topic["experiencer"] == "other":
                for m in same:
                    if "experiencer" not in m.fixed:
                        m.experiencer = "other"
                        m.cue("experiencer", "question about someone else")
            if topic["method_q"] and self._method_answer(reply):
                continue
            first_end = reply.sents[0][1] if reply.sents else len(reply.text)
            if same and len(reply.sents) > 1 and not any(m.start < first_end for m in same) and cls == "content" \
                    and len(reply.text[:first_end].split()) <= 6 and topic["type"] != "MEANS":
                # "once, when i was nineteen. i took a bunch of pills": the short first sentence is the
                # answer itself; the content item in the next sentence is a separate item
                same = []
            if same and (cls == "content" or (cls == "aff" and not re.match(
                    r"(yeah|yes|yep|yup|yea|ya|uh-?huh|mm+-?hm+|sure|definitely|absolutely|of course|okay|ok)\b",
                    ANSWER_PREFIX.sub("", reply.text.strip()), ICASE))):
                continue  # "I've thought about taking all my pills": the content item carries it
            if topic["type"] == "MEANS" and same:
                continue
            if topic["type"] == "MEANS" and topic["definite"] and cls == "neg":
                continue
            s, e = self._span_head(reply, cspan)
            mm = Mention(turn=reply.idx, start=s, end=e, type=topic["type"], subtype=topic["subtype"],
                         value=dict(topic["value"]), rule_id="answer-to-screening-question", source="discourse",
                         experiencer=topic["experiencer"], detail=topic.get("detail") if topic["experiencer"] == "other" else None)
            mm.cue("type", "answer to the question in the previous turn")
            self._answer_attrs(mm, cls, cspan, reply, topic)
            reply.mentions.append(mm)

    @staticmethod
    def _method_answer(reply: Turn) -> bool:
        """A RISK item for the answer to a question about method; False when there is none to add."""
        means = [m for m in reply.mentions if m.type == "MEANS" and not m.drop]
        meth = MEANS_TO_METHOD.get(means[0].value.get("means")) if means else None
        s: int | None
        e: int | None
        tm = re.search(r"\b(i've|i have|i|i'd|i've been) (thought|been thinking|thinking) about (that|it|this|using (it|that|them))\b", reply.text, ICASE)
        if tm:
            s, e = tm.start(), tm.end()
        elif means:
            s, e = means[0].start, means[0].end
        else:
            s = e = None
        if s is not None and e is not None and not any(m.type == "RISK" and m.start <= s < m.end for m in reply.mentions):
            mm = Mention(turn=reply.idx, start=s, end=e, type="RISK", subtype="ideation_active",
                         rule_id="answer-method-question", source="discourse",
                         value={"method": meth} if meth else {})
            mm.cue("type", "answer to a question about method")
            reply.mentions.append(mm)
            return True
        return False

    @staticmethod
    def _answer_attrs(mm: Mention, cls: str, cspan: tuple[int, int] | None, reply: Turn, topic: dict) -> None:
        """Polarity, certainty and time of an answer item, from the kind of answer and the question."""
        if cls == "neg":
            mm.polarity = "negated"
            mm.cue("polarity", reply.text[cspan[0]:cspan[1]] if cspan else "no")
        elif cls == "hedge":
            assert cspan is not None  # a hedge answer always comes with its matched span
            mm.certainty = "possible"
            mm.cue("certainty", reply.text[cspan[0]:cspan[1]])
            if NEG_HEDGES.match(ANSWER_PREFIX.sub("", reply.text.strip())):
                mm.polarity = "negated"
                mm.cue("polarity", reply.text[cspan[0]:cspan[1]])
        elif cls == "content":
            mm.flags.append("answer_inferred")
        tb = [b for b, _ in reply.times]
        if tb and cls != "neg":
            mm.temporality = tb[0]
        elif topic["temporality"]:
            mm.temporality = topic["temporality"]
        if topic["type"] == "RISK_FACTOR" and topic["value"].get("factor") == "family_history_suicide":
            mm.experiencer = "other"
            mm.fixed.add("experiencer")

    def _proposal_replies(self, turn: Turn, reply: Turn):
        props = [m for m in turn.mentions if m.type in ("REFERRAL", "MEANS_SAFETY") and not m.drop and m.modality != "question"]
        if not props:
            return
        cls, cspan = self._answer_class(reply.text)
        t = ANSWER_PREFIX.sub("", reply.text.strip())
        if re.match(r"^(no|nope|nah|i don't want|i'd rather not|not really|i can't|i won't|i don't think)", t, ICASE):
            cls = "neg"
        elif re.match(rf"^((my|his|her) (\w+ )?({PERSON_NOUN})( [A-Z][a-z]+)?|[A-Z][a-z]+) (could|can|will|would)\b", t, ICASE):
            cls = "aff"
        for m in props:
            if m.type == "REFERRAL" and m.value.get("status") in ("given", None):
                if cls in ("aff", "hedge") and not NEG_HEDGES.match(t):
                    m.value["status"] = "accepted"
                    m.cue("status", "reply: " + (reply.text[cspan[0]:cspan[1]] if cspan else "yes"))
                elif cls == "neg" or NEG_HEDGES.match(t):
                    m.value["status"] = "declined"
                    m.cue("status", "reply: no")
            elif m.type == "MEANS_SAFETY" and cls == "neg":
                m.polarity = "negated"
                m.cue("polarity", "reply: no")
        ms_props = [m for m in props if m.type == "MEANS_SAFETY"]
        first = reply.text[slice(*reply.sents[0])].strip() if reply.sents else reply.text.strip()
        if ms_props and not any(m.type == "MEANS_SAFETY" for m in reply.mentions) and cls != "neg" and (
                re.search(rf"\b(my|his|her|a|our) (\w+ )?({PERSON_NOUN})\b", first, ICASE)
                or any(w not in NOT_NAMES for w in re.findall(r"(?<=\s)[A-Z][a-z]+\b", first))):
            s, e = self._span_head(reply, None)
            mm = Mention(turn=reply.idx, start=s, end=e, type="MEANS_SAFETY", rule_id="reply-to-means-safety-proposal",
                         source="discourse", value={k: v for k, v in ms_props[0].value.items() if k in ("means",)})
            mm.value["action"] = "hand_over"
            mm.cue("type", "reply to a means-safety proposal")
            reply.mentions.append(mm)

    def _special_questions(self, turn: Turn, reply: Turn):
        qtext = turn.text
        cls, cspan = self._answer_class(reply.text)
        # consent to record: the item sits at the client's answer
        if RECORD_REQ.search(qtext) and "?" in qtext and not any(m.type == "CONSENT" for m in reply.mentions) \
                and cls in ("aff", "neg", "hedge"):
            s, e = self._span_head(reply, cspan)
            mm = Mention(turn=reply.idx, start=s, end=e, type="CONSENT", rule_id="answer-to-consent-request",
                         source="discourse", value={"scope": "recording", "granted": cls != "neg"})
            mm.cue("granted", reply.text[cspan[0]:cspan[1]] if cspan else "")
            reply.mentions.append(mm)
        if ROI_REQ.search(qtext) and "?" in qtext and PROPOSAL.search(qtext) \
                and not any(m.type == "CONSENT" for m in reply.mentions):
            t0 = ANSWER_PREFIX.sub("", reply.text.strip())
            if re.match(r"^(no|nope|nah|i'd rather (you )?(not|didn't)|i would rather (you )?(not|didn't)|please don't|don't|i don't want)", t0, ICASE):
                cls = "neg"
            if cls in ("aff", "neg"):
                s, e = self._span_head(reply, cspan)
                mm = Mention(turn=reply.idx, start=s, end=e, type="CONSENT", rule_id="answer-to-release-request",
                             source="discourse", value={"scope": "release_of_information", "granted": cls != "neg"})
                mm.cue("granted", reply.text[cspan[0]:cspan[1]] if cspan else "")
                reply.mentions.append(mm)
        qsent = [turn.text[s:e] for s, e in turn.sents if turn.text[s:e].rstrip().endswith("?")]
        qs = " ".join(qsent) or (turn.text if re.search(r"\b(someone|anyone|who) (you|you'd) (could|can|would|might)\b", turn.text, ICASE) else "")
        if qs and SUPPORT_Q.search(qs) and not any(m.type == "SUPPORT" for m in reply.mentions) and cls != "neg":
            s, e = self._span_head(reply, None)
            if len(reply.text[s:e].split()) <= 2 and len(reply.sents) > 1:
                e = reply.sents[1][1]  # "yeah | my sister's coming over": the person is in the next sentence
                while e > s and reply.text[e - 1] in " \n":
                    e -= 1
            role = "distraction" if DISTRACTION.search(reply.text) else ("help" if re.search(r"\b(reach out|help|turn to|call|lean on)\b", qs, ICASE) else None)
            mm = Mention(turn=reply.idx, start=s, end=e, type="SUPPORT", rule_id="answer-to-support-question",
                         source="discourse", value={"role": role} if role else {})
            mm.cue("type", "answer to who could help")
            reply.mentions.append(mm)
        if qs and REASONS_Q.search(qs) and not any(m.type == "PROTECTIVE" for m in reply.mentions) and cls != "neg":
            f = _find_word(PROTECTIVE_WORDS, reply.text[:self._span_head(reply, None)[1]]) or _find_word(PROTECTIVE_WORDS, reply.text)
            s, e = self._span_head(reply, None)
            mm = Mention(turn=reply.idx, start=s, end=e, type="PROTECTIVE", rule_id="answer-to-reasons-question",
                         source="discourse", value={"factor": f} if f else {})
            mm.cue("type", "answer to what matters")
            reply.mentions.append(mm)
        if qs and HARDEST_Q.search(qs) and not any(m.type == "PRECIPITANT" for m in reply.mentions) and cls == "content":
            s, e = self._span_head(reply, None)
            mm = Mention(turn=reply.idx, start=s, end=e, type="PRECIPITANT", rule_id="answer-to-precipitant-question",
                         source="discourse", value={"event": reply.text[s:e]})
            reply.mentions.append(mm)

    # ------------------------------------------------------------------ whole-transcript post-processing
    def _post(self, turns, mode, base):
        all_m = [m for t in turns for m in t.mentions if not m.drop]
        # family / friends' suicidal behaviour in the client's history -> RISK_FACTOR
        for t in turns:
            for m in t.mentions:
                if m.drop:
                    continue
                self._post_other_person(t, m, all_m, mode)
                self._post_friend_exposure(t, m)
                self._post_method_from_means(t, m, turns)
                self._post_means_from_earlier(t, m, turns)
                for k in [k for k in m.value if k.startswith("_")]:
                    m.value.pop(k, None)
        # a definite reference back to means already in the draft ("lock up the medication") is
        # part of the step, not a new access item
        self._drop_means_references(turns, mode)
        # implied earlier episode ("if the urges come back", "no longer")
        self._implied_past_episodes(turns)
        # distress time points across a session: first and last rating
        self._distress_time_points(turns, mode)

    @staticmethod
    def _post_other_person(t: Turn, m: Mention, all_m, mode) -> None:
        """Someone else's suicidal behaviour is a risk factor of the client; someone else's risk
        factor or precipitant is dropped unless the session is about that person."""
        if m.type == "RISK" and m.experiencer == "other" and m.modality == "actual" and m.polarity == "affirmed" and (
                (m.exp_cue_kind == "OTHER" and (m.temporality == "past" or m.subtype == "attempt"))
                or m.temporality == "past"):
            m.type = "RISK_FACTOR"
            kin = re.search(rf"\b({KIN})\b", m.detail or "", ICASE)
            m.value = {"factor": "family_history_suicide" if kin else "exposure_to_suicide"}
            m.subtype = None
            m.cue("type", "someone else's suicidal behaviour")
        elif m.type in ("RISK_FACTOR", "PRECIPITANT") and m.experiencer == "other" and \
                m.value.get("factor") not in ("family_history_suicide", "exposure_to_suicide") and "experiencer" not in m.fixed:
            focus = any(x.type == "RISK" and x.experiencer == "other" and x.exp_cue_kind == "OTHER_PRONOUN" for x in all_m)
            own = re.search(r"\b(my|i|i'm|i've)\s+$" if t.role == "client" else
                            (r"\b(his|her|he|she|he's|she's|client's|the client's)\s+$" if mode == "dictation" else r"\bmy\s+$"),
                            t.text[max(0, m.start - 16):m.start], ICASE)
            if own and m.type == "RISK_FACTOR":
                # "his girlfriend worries about HIS drinking": the relative is the reporter
                m.experiencer = "client"
                m.cue("experiencer", own.group(0).strip())
            elif not focus or m.type == "PRECIPITANT" or m.value.get("factor") == "recent_loss":
                m.drop = True

    @staticmethod
    def _post_friend_exposure(t: Turn, m: Mention) -> None:
        """A friend's (not a relative's) suicide is exposure, not family history."""
        if m.type == "RISK_FACTOR" and m.value.get("factor") == "family_history_suicide" and (
                (m.detail and re.fullmatch(rf"({FRIENDS})", m.detail, ICASE))
                or (not m.detail and re.search(rf"\b({FRIENDS}|guy|girl|kid|student|someone|somebody)\b(\s+\w+){{0,3}}\s*$",
                                               t.text[max(0, m.start - 40):m.start], ICASE)
                    and not re.search(rf"\b({KIN})\b(\s+\w+){{0,3}}\s*$", t.text[max(0, m.start - 40):m.start], ICASE))):
            m.value["factor"] = "exposure_to_suicide"

    @staticmethod
    def _post_method_from_means(t: Turn, m: Mention, turns) -> None:
        """A risk item's method from the means talked about in this or the previous turns."""
        if m.type == "RISK" and m.value.get("_method_ctx") and not m.value.get("method"):
            meth = None
            for pt in [t] + list(reversed(turns[max(0, t.idx - 4):t.idx])):
                ms = [x for x in pt.mentions if x.type == "MEANS" and x.value.get("means") and (pt is not t or x.start < m.start)]
                if ms:
                    meth = MEANS_TO_METHOD.get(ms[-1].value["means"])
                    break
            if meth:
                m.value["method"] = meth
                m.cue("method", "means talked about")

    @staticmethod
    def _post_means_from_earlier(t: Turn, m: Mention, turns) -> None:
        """A means item without its means takes the one of an earlier mention."""
        if m.type in ("MEANS", "MEANS_SAFETY") and not m.value.get("means"):
            for pt in [t] + list(reversed(turns[max(0, t.idx - 6):t.idx])):
                ms = [x for x in pt.mentions if x.type == "MEANS" and x.value.get("means") and (pt is not t or x.start < m.start)]
                if not ms and pt is t:
                    ms = [x for x in pt.mentions if x.type in ("MEANS",) and x.value.get("means")]
                if ms:
                    m.value["means"] = ms[-1].value["means"]
                    m.cue("means", "earlier mention")
                    break

    @staticmethod
    def _drop_means_references(turns, mode) -> None:
        seen_means: list = []
        for t in turns:
            for m in t.mentions:
                if m.drop or m.type != "MEANS" or m.modality == "question":
                    continue
                kind = m.value.get("means")
                earlier = [x for x in seen_means if x.value.get("means") == kind and (x.turn, x.start) < (m.turn, m.start)]
                definite = re.search(r"\b(the|that|those|these)\s+$", t.text[max(0, m.start - 12):m.start], ICASE) or \
                    re.match(r"(the|that|those|these)\s", t.text[m.start:m.end], ICASE)
                if earlier and definite and (t.role != "counselor" or mode == "dictation"):
                    ss, se = _sent_of(t, m.start)
                    before_w = t.text[max(ss, m.start - 30):m.start]
                    after_w = t.text[m.end:se]
                    if not (re.search(r"\b(have|has|had|keeps?|kept|owns?|'ve got|got|there's|there is|there are)\s+(\w+\s+){0,2}$", before_w, ICASE)
                            or re.match(r"\s*(is|are|'s|were|was)\s+(still\s+)?(in|on|under|kept|loaded|at|hidden|stored)\b", after_w, ICASE)):
                        m.drop = True
                        continue
                seen_means.append(m)

    @staticmethod
    def _implied_past_episodes(turns) -> None:
        for t in turns:
            for m in list(t.mentions):
                if m.drop or not m.implies_past or m.type not in ("RISK", "RISK_FACTOR"):
                    continue
                if m.modality not in ("conditional",) and m.polarity != "negated":
                    continue
                stated = any(x is not m and not x.drop and x.type == m.type and x.polarity == "affirmed" and x.temporality == "past"
                             and x.value.get("factor") == m.value.get("factor") for tt in turns for x in tt.mentions)
                if stated:
                    continue
                c = Mention(turn=m.turn, start=m.start, end=m.end, type=m.type, subtype=m.subtype, value=dict(m.value),
                            experiencer=m.experiencer, detail=m.detail, temporality="past", rule_id=(m.rule_id or "") + "+implied-past",
                            flags=["implied_past"], fixed=set(m.fixed))
                c.cue("temporality", (m.cues.get("implied_past") or ["implied"])[0])
                t.mentions.append(c)

    @staticmethod
    def _distress_time_points(turns, mode) -> None:
        ratings = [m for t in turns for m in t.mentions if m.type == "DISTRESS" and not m.drop]
        if mode == "session" and len({m.turn for m in ratings}) >= 2:
            if "time_point" not in ratings[0].value:
                ratings[0].value["time_point"] = "start"
            if "time_point" not in ratings[-1].value:
                ratings[-1].value["time_point"] = "end"

    # ------------------------------------------------------------------ safety net
    def _safety_net(self, turns):
        for t in turns:
            text = t.text
            masked = text
            for s in self.sn_ignore:
                masked = s.regex.sub(lambda x: " " * len(x.group(0)), masked)
            hits = []
            for s in self.sn_terms:
                for hm in s.regex.finditer(masked):
                    hits.append((hm.start(), hm.end(), s.id, s.kind))
            if self.sn_fuzzy:
                for wm in re.finditer(r"[a-z]{6,14}", masked.lower()):
                    w = wm.group(0)
                    if w[0] not in "so" or w in self.sn_fuzzy:
                        continue
                    for target in self.sn_fuzzy:
                        if abs(len(target) - len(w)) <= 2 and difflib.SequenceMatcher(None, w, target).ratio() >= 0.84:
                            hits.append((wm.start(), wm.end(), "fuzzy:" + target, "asr_variant"))
                            break
            # only a risk item (or a named resource such as "suicide hotline") accounts for a risk-vocabulary
            # hit: a MEANS on "jump off the bridge" or a COPING span must not hide the risk statement itself
            live = [m for m in t.mentions if not m.drop and m.type in SAFETY_NET_COVER]
            for s, e, sid, kind in hits:
                if any(m.start < e and s < m.end for m in live):
                    continue
                mm = Mention(turn=t.idx, start=s, end=e, type="RISK", certainty="possible", rule_id=sid,
                             source="safety_net", flags=["safety_net"] + (["asr_variant"] if kind == "asr_variant" else []))
                mm.cue("type", "risk vocabulary")
                t.mentions.append(mm)
                live.append(mm)
