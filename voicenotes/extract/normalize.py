"""Text normalisation for extraction: dictated punctuation, spoken numbers, times and dates.

Character offsets always map back to the original segment text (``offmap``), so evidence spans
point at the words the counselor actually said.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

# ------------------------------------------------------------------ dictated punctuation

_SPOKEN = re.compile(
    r"[ \t]*\b(period(?! of\b)|full stop|comma|question mark|exclamation (?:point|mark)|semicolon|"
    r"colon|new paragraph|next paragraph|new line|open quote|close quote|end quote|unquote|"
    r"quote)\b",
    re.IGNORECASE,
)
_PUNCT = {
    "period": ".", "full stop": ".", "comma": ",", "question mark": "?", "exclamation point": "!",
    "exclamation mark": "!", "semicolon": ";", "colon": ":", "open quote": ' "', "close quote": '"',
    "end quote": '"', "unquote": '"', "quote": ' "',
}


def spoken_punctuation(text: str) -> tuple[str, list[int]]:
    """Convert dictated punctuation words to marks. Returns the new text and, for every character
    of it (plus one past the end), the index of the original character it came from."""
    out: list[str] = []
    offmap: list[int] = []
    pos = 0
    capitalize_next = False

    def copy(start: int, end: int) -> None:
        """Copy text[start:end], capitalising the first letter after a spoken full stop."""
        nonlocal capitalize_next
        for i in range(start, end):
            ch = text[i]
            if capitalize_next and ch.isalpha():
                ch = ch.upper()
                capitalize_next = False
            elif capitalize_next and not ch.isspace():
                capitalize_next = False
            out.append(ch)
            offmap.append(i)

    for m in _SPOKEN.finditer(text):
        copy(pos, m.start())
        word = m.group(1).lower()
        if word in ("new paragraph", "next paragraph", "new line"):
            prev = "".join(out).rstrip()
            rep = "\n" if prev.endswith((".", "?", "!", ":")) or not prev else ".\n"
            capitalize_next = True
        else:
            rep = _PUNCT.get(word, "")
            if rep in (".", "?", "!"):
                capitalize_next = True
        for ch in rep:
            out.append(ch)
            offmap.append(m.start(1))
        pos = m.end()
    copy(pos, len(text))
    offmap.append(len(text))
    return "".join(out), offmap


# ------------------------------------------------------------------ numbers

_NUM_WORDS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "a hundred": 100,
}
NUMBER_WORD_RE = r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|" \
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|" \
    r"eighty|ninety|a hundred|hundred|\d+(?:\.\d+)?)"


@lru_cache(maxsize=4096)
def to_digits(phrase: str) -> str:
    """Spoken numbers to digits with text2num's ``alpha2digit`` (kept for values, not for spans)."""
    try:
        from text_to_num import alpha2digit
    except ImportError:  # pragma: no cover - text2num is a dependency
        return phrase
    try:
        return alpha2digit(phrase, "en")
    except Exception:
        return phrase


def number_value(word: str) -> float | None:
    w = word.lower().strip()
    if w in _NUM_WORDS:
        return float(_NUM_WORDS[w])
    try:
        return float(w)
    except ValueError:
        d = to_digits(w)
        try:
            return float(d)
        except ValueError:
            return None


def clean_number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


# ------------------------------------------------------------------ dates and times

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_session_start(s: str | None) -> dt.datetime | None:
    if not s:
        return None
    try:
        d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d.replace(tzinfo=None)


@lru_cache(maxsize=2048)
def _dateparser(phrase: str, base_iso: str, prefer: str) -> dt.date | None:
    try:
        import dateparser
    except ImportError:  # pragma: no cover
        return None
    base = dt.datetime.fromisoformat(base_iso)
    try:
        r = dateparser.parse(phrase, languages=["en"], settings={
            "RELATIVE_BASE": base, "PREFER_DATES_FROM": prefer, "RETURN_AS_TIMEZONE_AWARE": False})
    except Exception:
        return None
    return r.date() if r else None


def resolve_day(phrase: str, base: dt.datetime, prefer: str = "future") -> tuple[dt.date | None, list[str]]:
    """A day phrase ("tomorrow", "thursday", "next tuesday", "two weeks ago") to a date.
    Returns the date and ambiguity notes."""
    p = phrase.lower().strip()
    p = re.sub(r"^(on|this coming|by|until)\s+", "", p)
    notes: list[str] = []
    if p in ("today", "tonight", "this afternoon", "this evening", "this morning", "later today",
             "now", "right now") or p.startswith("as soon as"):
        return base.date(), notes
    if p.startswith("tomorrow"):
        return base.date() + dt.timedelta(days=1), notes
    if p in ("yesterday", "last night"):
        return base.date() - dt.timedelta(days=1), notes
    if p in ("this week", "next week", "this weekend", "later this week"):
        return None, ["week_only"]
    m = re.match(r"(next |last )?(" + "|".join(WEEKDAYS) + r")( (morning|afternoon|evening|night))?$", p)
    if m:
        wd = WEEKDAYS.index(m.group(2))
        if m.group(1) == "next ":
            notes.append("next_weekday")
        if prefer == "past" or m.group(1) == "last ":
            delta = (base.weekday() - wd) % 7 or 7
            return base.date() - dt.timedelta(days=delta), notes
        delta = (wd - base.weekday()) % 7 or 7
        return base.date() + dt.timedelta(days=delta), notes
    d = _dateparser(to_digits(p), base.replace(microsecond=0).isoformat(), prefer)
    return d, notes


_TIME_RE = re.compile(
    r"\b(noon|midday|midnight|(1[0-2]|0?[1-9])(?:[:.](\d\d)|\s+(\d\d)|([0-5]\d))?(?:\s*(a\.?\s?m\.?|p\.?\s?m\.?|o'clock))?"
    r"(\s+in the (morning|afternoon|evening)|\s+at night|\s+tonight)?)",
    re.IGNORECASE,
)


def resolve_time(phrase: str) -> tuple[int, int, list[str]] | None:
    """A clock phrase ("ten a.m.", "four thirty", "noon") to (hour, minute, notes). Bare hours:
    8-11 are a.m., 12 is noon, 1-7 are p.m. (noted as ``ampm_assumed``)."""
    p = to_digits(phrase.lower())
    p = re.sub(r"\bforty[- ]five\b", "45", p)
    p = re.sub(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|thirty)\b",
               lambda x: str(_NUM_WORDS[x.group(1)]), p)
    m = _TIME_RE.search(p)
    if not m:
        return None
    if m.group(1) in ("noon", "midday"):
        return 12, 0, []
    if m.group(1) == "midnight":
        return 0, 0, []
    hour = int(m.group(2))
    minute = int(m.group(3) or m.group(4) or m.group(5) or 0)
    if hour > 23 or minute > 59:
        return None
    ampm = (m.group(6) or "").replace(".", "").replace(" ", "")
    part = m.group(8) or ("night" if m.group(7) and "night" in m.group(7) else None)
    notes: list[str] = []
    if hour <= 12:
        if ampm.startswith("a") or part == "morning":
            hour = 0 if hour == 12 else hour
        elif ampm.startswith("p") or part in ("afternoon", "evening", "night"):
            hour = hour if hour == 12 else hour + 12
        elif hour == 12:
            pass
        elif 1 <= hour <= 7:
            hour += 12
            notes.append("ampm_assumed")
        else:
            notes.append("ampm_assumed")
    return hour, minute, notes


# ------------------------------------------------------------------ recency buckets

_AGO = re.compile(r"\b(\w+|a|an) (day|night|week|month|year)s? ago\b")


def bucket(cue: str, base: dt.datetime | None) -> str | None:
    """A time cue to current / recent (within about a month) / past / future."""
    c = cue.lower().strip()
    if re.search(r"\b(history|hx|h/o|prior|previous|previously|used to|as a (child|kid|teen)|"
                 r"growing up|in high school|in college|lifetime|ever|before|when (i|she|he|the)|"
                 r"(i|she|he) was)\b", c):
        return "past"
    if re.search(r"\blast year\b|\byears ago\b|\ba long time ago\b", c):
        return "past"
    m = re.search(r"\b(19|20)\d\d\b", c) or re.search(r"\b(nineteen|twenty) \w+", c)
    if m:
        year = number_value(to_digits(m.group(0)).replace(" ", "")) if not m.group(0).isdigit() else float(m.group(0))
        if year and base and int(year) >= base.year:
            return "recent"
        return "past"
    m = _AGO.search(c)
    if m:
        n = number_value(m.group(1)) if m.group(1) not in ("a", "an") else 1.0
        unit = m.group(2)
        days = (n or 1) * {"day": 1, "night": 1, "week": 7, "month": 30, "year": 365}[unit]
        return "recent" if days <= 35 else "past"
    if re.search(r"\b(past|last) (few |couple of )?(\w+ )?(days|weeks|nights)\b", c):
        return "recent"
    if re.search(r"\blast (night|week|weekend|month)\b|\byesterday\b|\bthis (morning|week|past weekend)\b|"
                 r"\brecently\b|\blately\b|\bearlier today\b", c):
        return "recent"
    if re.search(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", c):
        return "recent"
    if re.search(r"\b(next week|next month|tomorrow|in the future|later this week)\b", c):
        return "future"
    if re.search(r"\b(current|currently|right now|now|today|tonight|at present|presently|since)\b", c):
        return "current"
    return None
