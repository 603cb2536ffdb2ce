"""``followups.ics``: one RFC 5545 event per follow-up with a resolved time (via ``icalendar``).

PHI is kept minimal: no names, no quotes. The summary says who follows up; the description
points at the draft and the time in the recording, and says so when the time is ambiguous or
no clock time was said. Times are floating local times, or UTC when the session start gave a zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from voicenotes.note.build import ambiguity, attr, is_kept, time_ref
from voicenotes.schema import Item

PRODID = "-//voicenotes//crisis note follow-ups//EN"
EVENT_MINUTES = 15
WHO = {"client": "client", "counselor": "counselor", "other": "someone else"}


def _when(item: Item) -> date | datetime | None:
    w = attr(item, "when")
    if not isinstance(w, str) or not w:
        return None
    try:
        return date.fromisoformat(w) if len(w) == 10 else datetime.fromisoformat(w)
    except ValueError:
        return None


def follow_up_items(items: Iterable[Item]) -> list[Item]:
    """Follow-ups that are plans (not denied, asked or hypothetical) and have a resolved time."""
    return [i for i in items
            if i.type == "FOLLOW_UP" and is_kept(i) and i.polarity == "affirmed"
            and i.modality in ("actual", "conditional") and _when(i) is not None]


def _start(session_start: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(session_start) if session_start else None
    except ValueError:
        return None


def _before(when: date | datetime, start: datetime | None) -> bool:
    """``when`` is before the session started. A start with a zone and a time without one (or
    the reverse) are compared as the session's wall-clock times."""
    if start is None:
        return False
    if not isinstance(when, datetime):
        return when < start.date()
    if (when.tzinfo is None) != (start.tzinfo is None):
        if when.tzinfo is not None:
            when = when.astimezone(start.tzinfo).replace(tzinfo=None) if start.tzinfo \
                else when.replace(tzinfo=None)
        else:
            start = start.replace(tzinfo=None)
    return when < start


def _event_time(when: date | datetime) -> date | datetime:
    """An aware time is written in UTC (unambiguous in every calendar); a time without a zone
    stays a floating local time."""
    if isinstance(when, datetime) and when.tzinfo is not None:
        return when.astimezone(UTC)
    return when


def build_calendar(items: Iterable[Item], *, uid_salt: str, generated_at: datetime | None = None,
                   session_start: str | None = None):
    """An ``icalendar.Calendar`` with one VEVENT per follow-up, or None when there are none."""
    from icalendar import Calendar, Event

    chosen = follow_up_items(items)
    if not chosen:
        return None
    stamp = (generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    for item in chosen:
        when = _when(item)
        assert when is not None  # follow_up_items keeps only items with a resolved time
        who = WHO.get(str(attr(item, "who")))
        ev = Event()
        ev.add("uid", f"{item.id}-{uid_salt[:16]}@voicenotes.local")
        ev.add("dtstamp", stamp)
        ev.add("summary", f"Crisis follow-up ({who})" if who else "Crisis follow-up")
        before = _before(when, _start(session_start))
        ev.add("description", _description(item, when, before))
        if isinstance(when, datetime):
            ev.add("dtstart", _event_time(when))
            ev.add("duration", timedelta(minutes=EVENT_MINUTES))
        else:
            ev.add("dtstart", when)  # all-day: VALUE=DATE
        ev.add("class", "CONFIDENTIAL")
        ev.add("transp", "OPAQUE")
        if ambiguity(item) or not isinstance(when, datetime) or before:
            ev.add("status", "TENTATIVE")
        cal.add_component(ev)
    return cal


def _description(item: Item, when: Any, before_session: bool = False) -> str:
    lines = [f"From a voicenotes draft (item {item.id}), said at {time_ref(item)} in the recording. "
             "Check the draft before relying on this entry."]
    flags = ambiguity(item)
    if flags:
        lines.append("The time said was ambiguous (" + ", ".join(flags) + "); this date or time "
                     "is a best guess - confirm it against the recording.")
    if not isinstance(when, datetime):
        lines.append("No clock time was said; the event is all-day.")
    if before_session:
        lines.append("This time is before the session started, so it is probably wrong; check it "
                     "against the recording.")
    if item.modality == "conditional":
        lines.append("This follow-up depends on a condition stated in the session.")
    return "\n".join(lines)


def render_ics(items: Iterable[Item], *, uid_salt: str, generated_at: datetime | None = None,
               session_start: str | None = None) -> bytes | None:
    cal = build_calendar(items, uid_salt=uid_salt, generated_at=generated_at,
                         session_start=session_start)
    return None if cal is None else cal.to_ical()
