"""The domain core: what an item is, which items are risk, and the words the attributes take.

The note, the review page, the batch report and extraction all read these names from here, so
they cannot disagree. This module imports nothing of voicenotes and nothing heavy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

# ----------------------------------------------------------------------------- item types

#: The 13 item types of extraction (schema v1), in the order notes list them.
ITEM_TYPES = (
    "RISK", "RISK_FACTOR", "MEANS", "MEANS_SAFETY", "TRIGGER", "PRECIPITANT", "DISTRESS",
    "COPING", "SUPPORT", "PROTECTIVE", "REFERRAL", "FOLLOW_UP", "CONSENT",
)
#: The types whose recall must stay highest: a missed one is a safety failure.
RISK_TYPES = ("RISK", "RISK_FACTOR", "MEANS")

# ----------------------------------------------------------------------------- attributes

ROLES = ("counselor", "client", "other", "unknown")
POLARITY = ("affirmed", "negated")
MODALITY = ("actual", "conditional", "hypothetical", "question")
EXPERIENCER = ("client", "other")
TEMPORALITY = ("current", "recent", "past", "future")
CERTAINTY = ("certain", "possible")

# ----------------------------------------------------------------------------- lethality topics
# The topics a counselor is expected to assess, and which items speak to each. The note's "Not
# assessed" checklist and the batch report's columns both read :func:`topics_of`, so they agree.

#: (key, label) of the eight lethality topics, in checklist order.
LETHALITY_TOPICS = (
    ("ideation", "Ideation"),
    ("plan", "Plan"),
    ("intent", "Intent"),
    ("means_access", "Means access"),
    ("prior_attempts", "Prior attempts"),
    ("protective_factors", "Protective factors"),
    ("substance_use", "Substance use"),
    ("harm_to_others", "Harm to others"),
)
#: (key, label) of the stage topics the batch report also counts.
COVERAGE_TOPICS = (("coping", "Coping"), ("referrals", "Referrals"), ("follow_up", "Follow-up"))

SUBSTANCE_WORDS = ("substance", "alcohol", "drink", "drug", "intox", "overdos", "opioid",
                   "cannabis", "marijuana", "cocaine", "meth", "heroin", "pills_misuse")
#: RISK subtypes that name their topic outright. A preparatory act (a rope bought, a note written)
#: is part of a plan being carried out; it is not an attempt.
RISK_SUBTYPE_TOPIC = {"plan": "plan", "preparatory": "plan", "intent": "intent",
                      "attempt": "prior_attempts", "harm_to_others": "harm_to_others"}
#: Item types that speak to one topic whatever their details.
TYPE_TOPIC = {"MEANS": "means_access", "MEANS_SAFETY": "means_access",
              "PROTECTIVE": "protective_factors", "COPING": "coping",
              "REFERRAL": "referrals", "FOLLOW_UP": "follow_up"}


def topics_of(item_type: str | None, subtype: str | None = None, factor: str | None = None,
              clue: str = "") -> list[str]:
    """The lethality and coverage topics one item speaks to. ``subtype`` and ``factor`` decide
    first; where they are empty, ``clue`` (the rule id and evidence words, lower case) is looked at
    only to classify. Whose statement it is (the client's or someone else's) is for the caller: a
    relative's attempt says nothing about the client's own."""
    sub = (subtype or "").lower()
    fac = (factor or "").lower()
    clue = clue.lower()
    if item_type == "RISK":
        if sub.startswith("ideation"):
            return ["ideation"]
        if sub in RISK_SUBTYPE_TOPIC:
            return [RISK_SUBTYPE_TOPIC[sub]]
        if sub == "self_harm":
            return []  # counted with the risk items; not one of the eight topics
        if "attempt" in clue:
            return ["prior_attempts"]
        if "plan" in clue:
            return ["plan"]
        return ["ideation"]  # an unspecified suicide-risk mention
    if item_type == "RISK_FACTOR":
        text = f"{sub} {fac}" if (sub or fac) else clue
        topics = ["substance_use"] if any(w in text for w in SUBSTANCE_WORDS) else []
        if "attempt" in f"{sub} {fac} {clue}":
            topics.append("prior_attempts")  # e.g. a relative's attempt (someone else's: see above)
        return topics
    return [TYPE_TOPIC[item_type]] if item_type in TYPE_TOPIC else []


# ----------------------------------------------------------------------------- session context
# (the session's mode and its time-zone-aware start, built once and passed down)

#: The modes a note can be drafted in: the counselor dictating, or a recorded session.
MODES = ("dictation", "session")

SESSION_START_FORMS = '"2026-03-09 14:00", "2026-03-09T14:00+02:00" or "today 14:00"'
_RELATIVE_DAY = re.compile(r"^(today|yesterday)(?:\s+at)?\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?"
                           r"\s*(z|utc|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)


@dataclass(frozen=True)
class SessionContext:
    """When the session started (time-zone aware) and its mode, worked out once and passed to
    the stages that resolve times ("tomorrow at ten") or reason about speakers.

    ``floating``: the start was given without a zone (a wall-clock time, read in this computer's
    zone); it is then written without an offset, as before, so calendars stay local times."""

    mode: str | None = None
    start: datetime | None = None
    floating: bool = True

    @property
    def start_iso(self) -> str | None:
        """The start as written into transcript, items and note (offset kept when one was given)."""
        if self.start is None:
            return None
        if self.floating:
            return self.start.replace(tzinfo=None).isoformat()
        return self.start.isoformat()

    @property
    def zone(self) -> tzinfo | None:
        return None if self.start is None else self.start.tzinfo

    def localize(self, when: datetime) -> datetime:
        """A resolved time said in the session ("tomorrow at ten", no zone) as an aware time in
        the session's zone; an aware time is returned as it is."""
        if when.tzinfo is not None or self.start is None:
            return when
        return when.replace(tzinfo=self.start.tzinfo)


def _zone(text: str | None) -> tzinfo | None:
    if not text:
        return None
    if text.lower() in ("z", "utc"):
        return datetime.fromisoformat("2000-01-01T00:00+00:00").tzinfo
    sign = 1 if text[0] == "+" else -1
    digits = text[1:].replace(":", "")
    return datetime.fromisoformat(
        f"2000-01-01T00:00{'+' if sign > 0 else '-'}{digits[:2]}:{digits[2:]}").tzinfo


def parse_session_start(value: str, *, now: datetime | None = None) -> tuple[datetime, bool]:
    """Read a session start as people type it; return (aware datetime, floating).

    Accepts ISO date and time with a space or a "T" ("2026-03-09 14:00", "2026-03-09T14:00"),
    optionally with a zone ("+02:00", "Z"), and "today 14:00" / "yesterday 9:30pm". Without a
    zone the time is this computer's local time (``floating`` True). Raises ValueError with a
    plain message for anything else (a bare date has no time and is refused)."""
    text = " ".join(str(value).strip().split())
    if not text:
        raise ValueError("it is empty")
    m = _RELATIVE_DAY.match(text)
    if m:
        base = (now or datetime.now()).date()
        day = base if m.group(1).lower() == "today" else base - timedelta(days=1)
        hour, minute = int(m.group(2)), int(m.group(3) or 0)
        if m.group(4):
            if not 1 <= hour <= 12:
                raise ValueError("the hour is not on a 12-hour clock")
            hour = hour % 12 + (12 if m.group(4).lower() == "pm" else 0)
        if hour > 23 or minute > 59:
            raise ValueError("the time of day is not valid")
        naive = datetime(day.year, day.month, day.day, hour, minute)
        return _aware(naive, _zone(m.group(5)))
    iso = re.sub(r"(?<=\d) (?=\d{1,2}:)", "T", text, count=1)
    iso = re.sub(r"\s*(?:utc|z)$", "+00:00", iso, flags=re.IGNORECASE)
    iso = re.sub(r"\s+(?=[+-]\d{2}:?\d{2}$)", "", iso)
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError("it is not a date and time") from None
    if "T" not in iso and isinstance(parsed, date) and parsed.hour == parsed.minute == 0 \
            and ":" not in iso:
        raise ValueError("it has a date but no time of day")
    return _aware(parsed.replace(tzinfo=None), parsed.tzinfo)


def _aware(naive: datetime, zone: tzinfo | None) -> tuple[datetime, bool]:
    if zone is not None:
        return naive.replace(tzinfo=zone), False
    return naive.astimezone(), True  # this computer's zone, with the offset of that date


def session_context(mode: str | None, start: str | None) -> SessionContext:
    """A :class:`SessionContext` from the option values (either may be None). Raises ValueError
    (with a plain reason) for a start that cannot be read."""
    if start is None or not str(start).strip():
        return SessionContext(mode=mode)
    when, floating = parse_session_start(start)
    return SessionContext(mode=mode, start=when, floating=floating)


#: Shown at the top of the note, the review page and the batch report when who said what could
#: not be established (speakers not separated, or roles guessed with low confidence).
UNVERIFIED_BANNER = "Speakers not separated — risk attribution unverified"


def attribution_banner(provenance: dict | None) -> str | None:
    """The banner for items whose provenance says the attribution is not verified, else None."""
    att = (provenance or {}).get("attribution")
    if isinstance(att, dict) and att.get("verified") is False:
        return UNVERIFIED_BANNER
    return None
