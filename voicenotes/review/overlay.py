"""The clinician's changes to what the machine heard and found, kept beside the originals.

``items.json`` and ``transcript.json`` are never rewritten by a review: the store keeps an
overlay (items the clinician added from a transcript selection, corrected words, swapped
counselor/client roles) and this module applies it, in the order made, to give the transcript
and items the review, the preview and the signed note use. Each change is audited by the store.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from voicenotes.domain import EXPERIENCER, ITEM_TYPES, MODALITY, POLARITY, TEMPORALITY
from voicenotes.errors import UsageError
from voicenotes.schema import Evidence, Item, ItemSet, Transcript

SWAP = {"counselor": "client", "client": "counselor"}
ADDED_PREFIX = "c"


def _swap_role(role: str) -> str:
    return SWAP.get(role, role)


def corrected_texts(transcript: Transcript | None, corrections: list[dict[str, Any]]) -> list[str]:
    texts = [s.text for s in transcript.segments] if transcript is not None else []
    for c in corrections:
        i = c["segment"]
        if 0 <= i < len(texts):
            t = texts[i]
            texts[i] = t[:c["start"]] + c["text"] + t[c["end"]:]
    return texts


def _reanchor(ev: Evidence, corrections: list[dict[str, Any]], base: list[str]) -> Evidence:
    """Move an item's span through the corrections of its segment; a span touching a corrected
    stretch grows to hold the whole correction, and its quote is read from the new text."""
    texts = list(base)
    a, b, touched = ev.start_char, ev.end_char, False
    for c in corrections:
        if c["segment"] != ev.segment or not 0 <= ev.segment < len(texts):
            continue
        delta = len(c["text"]) - (c["end"] - c["start"])
        if c["end"] <= a and c["start"] < a:
            a, b = a + delta, b + delta
        elif c["start"] < b and c["end"] > a or (c["start"] == c["end"] and a <= c["start"] <= b):
            a, b, touched = min(a, c["start"]), max(b, c["end"]) + delta, True
        t = texts[ev.segment]
        texts[ev.segment] = t[:c["start"]] + c["text"] + t[c["end"]:]
    if not touched:
        return replace(ev, start_char=a, end_char=b) if (a, b) != (ev.start_char, ev.end_char) else ev
    return replace(ev, start_char=a, end_char=b, quote=texts[ev.segment][a:b])


def effective(itemset: ItemSet, transcript: Transcript | None,
              state: dict[str, Any]) -> tuple[ItemSet, Transcript | None]:
    corrections = list(state.get("corrections") or [])
    swapped = bool(state.get("roles_swapped"))
    base = [s.text for s in transcript.segments] if transcript is not None else []
    items = []
    for it in list(itemset.items) + [Item.from_dict(d) for d in state.get("added") or []]:
        if corrections and it.source != "clinician":  # added items are anchored in the new text
            it = replace(it, evidence=_reanchor(it.evidence, corrections, base))
        if swapped:
            it = replace(it, speaker=_swap_role(it.speaker))
        items.append(it)
    new_items = replace(itemset, items=tuple(items))
    if transcript is None:
        return new_items, None
    texts = corrected_texts(transcript, corrections)
    segs = tuple(replace(s, text=texts[i], role=_swap_role(s.role) if swapped else s.role)
                 for i, s in enumerate(transcript.segments))
    return new_items, replace(transcript, segments=segs)


def _check_span(transcript: Transcript | None, texts: list[str], body: dict[str, Any]) -> tuple[int, int, int]:
    try:
        seg, start, end = int(body["segment"]), int(body["start"]), int(body["end"])
    except (KeyError, TypeError, ValueError):
        raise UsageError("Select some words of one transcript line first.") from None
    if transcript is None or not 0 <= seg < len(texts) or not 0 <= start < end <= len(texts[seg]):
        raise UsageError("Select some words of one transcript line first.", hint="Reload the page.")
    return seg, start, end


def new_item(transcript: Transcript | None, texts: list[str], body: dict[str, Any],
             n: int, reviewed_at: str) -> Item:
    """An item the extractor missed, from the clinician's selection in the transcript."""
    seg, start, end = _check_span(transcript, texts, body)
    typ = str(body.get("type") or "")
    if typ not in ITEM_TYPES:
        raise UsageError("Choose the item's type.")
    attrs: dict[str, str] = {}
    for k, default, allowed in (("polarity", "affirmed", POLARITY), ("modality", "actual", MODALITY),
                                ("experiencer", "client", EXPERIENCER),
                                ("temporality", "current", TEMPORALITY)):
        attrs[k] = str(body.get(k) or default)
        if attrs[k] not in allowed:
            raise UsageError(f"Unknown {k} {attrs[k]!r}.")
    s = transcript.segments[seg]  # type: ignore[union-attr]
    text = texts[seg]
    span = max(s.end - s.start, 0.0)
    t_start = round(s.start + span * start / max(len(text), 1), 2)
    t_end = round(s.start + span * end / max(len(text), 1), 2)
    ev = Evidence(segment=seg, start_char=start, end_char=end, quote=text[start:end],
                  t_start=t_start, t_end=t_end)
    return Item(id=f"{ADDED_PREFIX}{n:02d}", type=typ, evidence=ev, speaker=s.role,
                source="clinician", polarity=attrs["polarity"], modality=attrs["modality"],
                experiencer=attrs["experiencer"], temporality=attrs["temporality"],
                review={"status": "accepted", "reviewed_at": reviewed_at, "added": True})


def correction(transcript: Transcript | None, texts: list[str], body: dict[str, Any],
               at: str) -> dict[str, Any]:
    seg, start, end = _check_span(transcript, texts, body)
    new = " ".join(str(body.get("text") or "").split())
    if not new:
        raise UsageError("Type the corrected words.")
    return {"segment": seg, "start": start, "end": end, "original": texts[seg][start:end],
            "text": new, "at": at}
