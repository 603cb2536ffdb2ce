"""Items -> a structured note (the content of ``note.json``); renderers turn it into files.

Extractive only: every entry is a templated rendering of one or more items plus their quotes and
time references. Nothing is inferred where the transcript is silent. Duplicate mentions of the
same item are merged into one entry that keeps every quote and time; no item is ever dropped
(items no template part selects go to "Other items").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from voicenotes.domain import attribution_banner, topics_of
from voicenotes.note.templates import Template, labels
from voicenotes.schema import RISK_TYPES, Item, ItemSet, Transcript

NOTE_SCHEMA_VERSION = 1
DRAFT_NOTICE = labels()["notice"]["draft"]
REVIEWED_NOTICE = labels()["notice"]["reviewed"]

# Risk summary groups, in the order the header shows them (affirmed risk first).
RISK_GROUPS = tuple(labels()["risk_group"].items())

# Lethality topics a counselor is expected to assess (Roberts' stage 1 lethality assessment, SAFE-T, C-SSRS).
LETHALITY_TOPICS = tuple(labels()["topic"].items())

# The value field that says WHAT an item is about; two mentions with the same key and the same
# attributes are one entry. Types without one (or a missing value) merge only identical quotes.
CONTENT_KEYS = {
    "RISK": ("subtype", "method"), "RISK_FACTOR": ("factor",), "MEANS": ("means",),
    "MEANS_SAFETY": ("means", "action"), "PROTECTIVE": ("factor",), "REFERRAL": ("resource", "status"),
    "CONSENT": ("scope", "granted"),
}
NEVER_MERGE = ("DISTRESS", "FOLLOW_UP")


# --------------------------------------------------------------------------- small helpers


def fmt_time(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    s = max(0, int(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


def time_ref(item: Item) -> str:
    t = fmt_time(item.evidence.t_start)
    return t if t is not None else f"turn {item.evidence.segment + 1}"


def attr(item: Item, key: str) -> Any:
    """An attribute of the item, else a field of its value (the item schema keeps both places)."""
    if key in ("subtype", "polarity", "modality", "experiencer", "temporality", "certainty",
               "speaker", "type", "experiencer_detail"):
        v = getattr(item, key)
        if v is None and key == "subtype":
            return item.value.get("subtype")
        return v
    return item.value.get(key)


def _norm(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


def _matches(item: Item, selector: dict[str, Any]) -> bool:
    if item.type not in selector.get("types", ()):
        return False
    for key, allowed in (selector.get("where") or {}).items():
        v = attr(item, key)
        v = "none" if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
        if v not in [str(a) for a in allowed]:
            return False
    return True


def is_kept(item: Item) -> bool:
    return (item.review or {}).get("status") != "rejected"


# --------------------------------------------------------------------------- rendering one entry


def when_text(value: Any) -> tuple[str, bool] | None:
    """ISO date or date-time -> ("Thu 12 Mar 2026 15:30", date_only)."""
    if not value or not isinstance(value, str):
        return None
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return d.strftime("%a %d %b %Y"), True
        dt = datetime.fromisoformat(value)
        return dt.strftime("%a %d %b %Y %H:%M"), False
    except ValueError:
        return value, False


def ambiguity(item: Item) -> list[str]:
    """Why a resolved time might be wrong (the extractor's flags), as short codes."""
    v = item.value
    out: list[str] = []
    for key in ("ambiguity", "ambiguous", "when_ambiguity"):
        a = v.get(key)
        if isinstance(a, str) and a:
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(str(x) for x in a)
        elif a is True:
            out.append("ambiguous")
    out.extend(f for f in item.review_flags if "ambig" in f or "ampm" in f or "assumed" in f)
    return sorted(set(out))


def _rating(v: Any) -> str | None:
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return f"{v[0]}–{v[1]}"
    return None if v is None else str(v)


def label_and_qualifiers(item: Item, mode: str) -> tuple[str, list[str]]:
    L = labels()
    q = L["qualifier"]
    label = L["type"].get(item.type, item.type)
    sub = attr(item, "subtype")
    if item.type == "RISK" and sub in L["subtype"]:
        label = L["subtype"][sub]
    elif item.type in ("RISK_FACTOR", "PROTECTIVE") and attr(item, "factor") in L["factor"]:
        label = f"{label}: {L['factor'][attr(item, 'factor')]}"
    elif item.type == "MEANS" and attr(item, "means") in L["means"]:
        label = f"{label}: {L['means'][attr(item, 'means')]}"
    elif item.type == "REFERRAL" and str(attr(item, "resource")) in L["resource"]:
        label = f"{label}: {L['resource'][str(attr(item, 'resource'))]}"
    elif item.type == "CONSENT" and attr(item, "scope") in L["scope"]:
        label = f"{label}: {L['scope'][attr(item, 'scope')]}"
    elif item.type == "DISTRESS" and _rating(attr(item, "value")) is not None:
        label = f"{label}: {_rating(attr(item, 'value'))}"

    quals: list[str] = []
    if item.modality == "question":
        quals.append(q["question"])
    elif item.polarity == "negated":
        quals.append(q["negated"] if item.type in RISK_TYPES else q.get("declined", q["negated"]))
    if item.modality in ("conditional", "hypothetical"):
        quals.append(q[item.modality])
    if item.experiencer == "other":
        quals.append(q["other_detail"].format(detail=item.experiencer_detail)
                     if item.experiencer_detail else q["other"])
    if item.temporality in ("past", "recent") or (item.temporality == "future"
                                                   and item.type != "FOLLOW_UP"):
        quals.append(q[item.temporality])
    if item.certainty == "possible":
        quals.append(q["possible"])
    quals.extend(_value_qualifiers(item))
    if mode == "session" and item.speaker in ("client", "counselor", "other"):
        quals.append(q["said_by"].format(speaker=item.speaker))
    return label, quals


def _value_qualifiers(item: Item) -> list[str]:
    """The qualifiers a type's value fields add ("method: overdose", "planned", "at 3:30")."""
    add = _VALUE_QUALIFIERS.get(item.type)
    return add(item, labels()) if add else []


def _q_risk(item: Item, L: dict[str, Any]) -> list[str]:
    method = attr(item, "method")
    return [L["qualifier"]["method"].format(method=L["method"].get(method, method))] if method else []


def _q_means_safety(item: Item, L: dict[str, Any]) -> list[str]:
    out = []
    for key in ("action", "means"):
        v = attr(item, key)
        if v:
            out.append(L["qualifier"][key].format(**{key: L[key].get(v, v)}))
    return out


def _q_coping(item: Item, L: dict[str, Any]) -> list[str]:
    q = L["qualifier"]
    out = [q[attr(item, key)] for key in ("status", "efficacy") if attr(item, key) in q]
    if attr(item, "maladaptive") is True:
        out.append(q["maladaptive"])
    return out


def _q_support(item: Item, L: dict[str, Any]) -> list[str]:
    role = attr(item, "role")
    return [L["qualifier"][role]] if role in ("help", "distraction") else []


def _q_referral(item: Item, L: dict[str, Any]) -> list[str]:
    status = attr(item, "status")
    return [L["qualifier"]["status"].format(status=status)] if status else []


def _q_distress(item: Item, L: dict[str, Any]) -> list[str]:
    q = L["qualifier"]
    return [q[key].format(**{key: attr(item, key)}) for key in ("scale", "time_point")
            if attr(item, key)]


def _q_follow_up(item: Item, L: dict[str, Any]) -> list[str]:
    q = L["qualifier"]
    out = []
    if attr(item, "who"):
        out.append(q["who"].format(who=attr(item, "who")))
    w = when_text(attr(item, "when"))
    if w:
        out.append((q["when_date"] if w[1] else q["when"]).format(when=w[0]))
    if ambiguity(item):
        out.append(q["ambiguous"])
    return out


def _q_consent(item: Item, L: dict[str, Any]) -> list[str]:
    granted = attr(item, "granted")
    if not isinstance(granted, bool):
        return []
    return [L["qualifier"]["granted"] if granted else L["qualifier"]["refused"]]


_VALUE_QUALIFIERS = {
    "RISK": _q_risk, "MEANS_SAFETY": _q_means_safety, "COPING": _q_coping,
    "SUPPORT": _q_support, "REFERRAL": _q_referral, "DISTRESS": _q_distress,
    "FOLLOW_UP": _q_follow_up, "CONSENT": _q_consent,
}


def merge_key(item: Item) -> tuple:
    base = (item.type, item.polarity, item.modality, item.experiencer, item.experiencer_detail,
            item.temporality, item.certainty, item.speaker, (item.review or {}).get("status"))
    if item.type in NEVER_MERGE or (item.review or {}).get("status") == "edited":
        return base + ("id", item.id)
    keys = CONTENT_KEYS.get(item.type)
    content = tuple(attr(item, k) for k in keys) if keys else ()
    if not keys or all(c is None for c in content):
        return base + ("quote", _norm(item.evidence.quote))
    return base + ("content", content)


def make_entry(items: list[Item], mode: str, style: str) -> dict[str, Any]:
    items = sorted(items, key=_order)
    first = items[0]
    label, quals = label_and_qualifiers(first, mode)
    quotes = [{
        "item_id": it.id, "text": it.evidence.quote.strip(), "time": time_ref(it),
        "t_start": it.evidence.t_start, "t_end": it.evidence.t_end, "segment": it.evidence.segment,
        "verify": it.verify,
    } for it in items]
    review = dict(first.review or {})
    entry = {
        "item_ids": [it.id for it in items], "type": first.type, "risk": first.type in RISK_TYPES,
        "label": label, "qualifiers": quals, "quotes": quotes,
        "verify_times": [q["time"] for q in quotes if q["verify"]],
        "review": review or None,
    }
    entry["text"] = render_entry(entry, style)
    return entry


def _quote_text(q: dict[str, Any]) -> str:
    s = f"“{q['text']}” [{q['time']}]"
    if q["verify"]:
        s += " (" + labels()["qualifier"]["verify"].format(time=q["time"]) + ")"
    return s


def render_entry(entry: dict[str, Any], style: str) -> str:
    quotes = "; ".join(_quote_text(q) for q in entry["quotes"])
    review = entry.get("review") or {}
    if review.get("status") == "edited" and review.get("edited_text"):
        return labels()["phrase"]["edited"].format(text=review["edited_text"].strip(), quotes=quotes)
    if style == "quotes":
        quals = [q for q in entry["qualifiers"] if not q.startswith(("said by", "who:"))]
        return quotes + (f" ({'; '.join(quals)})" if quals else "")
    joined = f" ({'; '.join(entry['qualifiers'])})" if entry["qualifiers"] else ""
    return f"{entry['label']}{joined} — {quotes}"


def _order(item: Item) -> tuple:
    t = item.evidence.t_start
    return (item.evidence.segment if t is None else -1, t or 0.0, item.evidence.start_char, item.id)


def merge(items: Iterable[Item], mode: str, style: str) -> list[dict[str, Any]]:
    groups: dict[tuple, list[Item]] = {}
    for it in sorted(items, key=_order):
        groups.setdefault(merge_key(it), []).append(it)
    entries = [make_entry(g, mode, style) for g in groups.values()]
    return sorted(entries, key=lambda e: _entry_order(e))


def _entry_order(e: dict[str, Any]) -> tuple:
    q = e["quotes"][0]
    return (q["segment"] if q["t_start"] is None else -1, q["t_start"] or 0.0, q["item_id"])


# --------------------------------------------------------------------------- header blocks


def risk_group(item: Item) -> str:
    if item.modality == "question":
        return "question"
    if item.experiencer == "other":
        return "other"
    if item.modality in ("conditional", "hypothetical"):
        return "conditional"
    if item.polarity == "negated":
        return "negated"
    if item.temporality == "past":
        return "past"
    return "affirmed"


def _topics(item: Item) -> set[str]:
    """The lethality topics an item assesses (the domain's one mapping, as the batch report reads
    it); someone else's statement assesses nothing of the client's."""
    if item.experiencer == "other":
        return set()
    clue = f"{item.rule_id or ''} {item.evidence.quote or ''}"
    return set(topics_of(item.type, attr(item, "subtype"), attr(item, "factor"), clue))


def not_assessed(items: Iterable[Item]) -> list[dict[str, str]]:
    seen: set[str] = set()
    for it in items:
        seen |= _topics(it)
    return [{"topic": k, "label": lab} for k, lab in LETHALITY_TOPICS if k not in seen]


def conflicts(items: Iterable[Item], mode: str) -> list[dict[str, Any]]:
    """The same client risk both denied and affirmed (actual statements): keep both, flag it.
    Past and present are compared apart: "used to drink" beside "doesn't drink now" is history,
    not a contradiction."""
    by: dict[tuple, dict[str, list[Item]]] = {}
    for it in items:
        if it.type in RISK_TYPES and it.modality == "actual" and it.experiencer == "client":
            key = (it.type, it.temporality == "past") + tuple(attr(it, k) for k in CONTENT_KEYS.get(it.type, ()))
            by.setdefault(key, {}).setdefault(it.polarity, []).append(it)
    out = []
    for pol in by.values():
        if "affirmed" in pol and "negated" in pol:
            its = sorted(pol["affirmed"] + pol["negated"], key=_order)
            label, _ = label_and_qualifiers(its[0], mode)
            out.append({"label": label, "item_ids": [i.id for i in its],
                        "times": [time_ref(i) for i in its],
                        "text": labels()["phrase"]["conflict"].format(
                            label=label, times=", ".join(f"[{time_ref(i)}]" for i in its))})
    return out


DECIDING_WHY = {"low_word_probability": "the word {w!r} was heard unclearly",
                "doubtful_segment": "the word {w!r} is in doubtful audio",
                "answer_contradicts_itself": "the answer contradicts itself at {w!r}"}


def _deciding_reason(found: dict[str, Any]) -> str:
    word = str(found.get("word", "")).strip(" .,;:!?")
    return DECIDING_WHY.get(str(found.get("why")), "check {w!r}").format(w=word)


def verify_audio(transcript: Transcript | None, items: Iterable[Item]) -> list[dict[str, Any]]:
    """Doubtful stretches of audio, from the transcript's flags (or the items' when only items)."""
    out = []
    if transcript is not None:
        for i, s in enumerate(transcript.segments):
            if s.verify:
                out.append({"segment": i, "t_start": s.start, "time": fmt_time(s.start),
                            "reasons": list(s.verify_reasons)})
    else:
        for it in items:
            if it.verify:
                out.append({"segment": it.evidence.segment, "t_start": it.evidence.t_start,
                            "time": time_ref(it), "reasons": list(it.asr.get("verify_reasons", []))})
    for it in items:
        if transcript is not None and it.asr.get("listen_at") is not None:
            t = float(it.asr["listen_at"])
            out.append({"segment": it.evidence.segment, "t_start": t, "time": fmt_time(t),
                        "reasons": [_deciding_reason(w) for w in it.asr.get("deciding_words", [])],
                        "item": it.id})
    seen, uniq = set(), []
    for v in out:
        key = (v["segment"], v.get("item"))
        if key not in seen:
            seen.add(key)
            uniq.append(v)
    return uniq


# --------------------------------------------------------------------------- the note


def build_note(itemset: ItemSet, template: Template, *, transcript: Transcript | None = None,
               consent: dict[str, Any] | None = None, provenance: dict[str, Any] | None = None,
               reviewed: bool = False) -> dict[str, Any]:
    """The structured note. With ``reviewed``, rejected items leave the body for an appendix."""
    mode = itemset.mode or (transcript.mode if transcript else None) or "dictation"
    all_items = list(itemset.items)
    kept = [i for i in all_items if is_kept(i)] if reviewed else all_items
    rejected = [i for i in all_items if not is_kept(i)] if reviewed else []

    header_items = [i for i in kept if i.type == "CONSENT"]
    body_items = [i for i in kept if i.type != "CONSENT"]
    claimed: dict[tuple[str, int], list[Item]] = {}
    unclaimed: list[Item] = []
    for it in body_items:
        slot = _claim(it, template)
        (claimed.setdefault(slot, []) if slot else unclaimed).append(it)

    sections: list[dict[str, Any]] = []
    for s in template.sections:
        parts = []
        for pi, p in enumerate(s.parts):
            parts.append({"title": p.title,
                          "entries": merge(claimed.get((s.id, pi), []), mode, template.style)})
        sections.append({"id": s.id, "title": s.title, "note": s.note, "parts": parts})

    risk = [i for i in kept if i.type in RISK_TYPES]
    groups = []
    for gid, title in RISK_GROUPS:
        members = [i for i in risk if risk_group(i) == gid]
        if members:
            groups.append({"group": gid, "title": title, "entries": merge(members, mode, "items")})

    if reviewed:  # say which entries the clinician did not look at (only non-risk ones can be)
        for sec in sections:
            for part in sec["parts"]:
                for e in part["entries"]:
                    if not e["review"]:
                        e["text"] = labels()["phrase"]["unreviewed"].format(text=e["text"])
    note = {
        "schema_version": NOTE_SCHEMA_VERSION,
        "template": template.name,
        "title": template.title,
        "style": template.style,
        "status": "reviewed" if reviewed else "draft",
        "notice": REVIEWED_NOTICE if reviewed else DRAFT_NOTICE,
        "mode": mode,
        "session_start": itemset.session_start or (transcript.session_start if transcript else None),
        "attribution_banner": attribution_banner(itemset.provenance),
        "header": {
            "consent_record": consent,
            "consent_items": merge(header_items, mode, "items"),
            "risk_summary": groups,
            "conflicts": conflicts(risk, mode),
            "not_assessed": not_assessed(risk + [i for i in kept if i.type in ("MEANS_SAFETY", "PROTECTIVE")]),
            "verify_audio": verify_audio(transcript, all_items),
            "transcript_flags": list(transcript.flags) if transcript else [],
        },
        "sections": sections,
        "other_items": merge(unclaimed, mode, "items"),
        "rejected": [_rejected_entry(i, mode) for i in sorted(rejected, key=_order)],
        "counts": _counts(all_items, kept, rejected),
        "provenance": provenance or {},
    }
    return note


def _claim(item: Item, template: Template) -> tuple[str, int] | None:
    for s in template.claiming_sections():
        for pi, p in enumerate(s.parts):
            if any(_matches(item, sel) for sel in p.select):
                return (s.id, pi)
    return None


def _rejected_entry(item: Item, mode: str) -> dict[str, Any]:
    e = make_entry([item], mode, "items")
    e["reason"] = (item.review or {}).get("reason") or ""
    e["text"] = labels()["phrase"]["rejected"].format(text=e["text"], reason=e["reason"])
    return e


def _counts(all_items: list[Item], kept: list[Item], rejected: list[Item]) -> dict[str, Any]:
    by_type: dict[str, int] = {}
    for i in all_items:
        by_type[i.type] = by_type.get(i.type, 0) + 1
    return {
        "items": len(all_items), "kept": len(kept), "rejected": len(rejected),
        "risk_items": sum(1 for i in all_items if i.type in RISK_TYPES),
        "verify_items": sum(1 for i in all_items if i.verify),
        "by_type": by_type,
    }


def entries_of(note: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Every body entry (sections and other items), for tests and summaries."""
    for s in note["sections"]:
        for p in s["parts"]:
            yield from p["entries"]
    yield from note["other_items"]
