"""``review.html`` (one self-contained page) and the ``--from-review`` side: applying a
clinician's decisions and the append-only audit log.

The page embeds its data as JSON in a ``<script type="application/json">`` block (``<``, ``>``
and ``&`` escaped) and builds the DOM with ``textContent`` only, so transcript words can never
become markup. A Content-Security-Policy forbids every network fetch; the audio is referenced
relative to the page (``audio.<ext>`` in the same folder).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from voicenotes.domain import attribution_banner
from voicenotes.errors import InputError
from voicenotes.note.build import fmt_time, label_and_qualifiers, render_entry, time_ref
from voicenotes.schema import RISK_TYPES, Item, ItemSet, Transcript
from voicenotes.store.audit import AUDIT_FILE, append_audit, verify_audit

REVIEW_STATUSES = ("accepted", "edited", "rejected")


def _safe_json(obj: Any) -> str:
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


HIGHLIGHT_PRIORITY = ("RISK", "MEANS", "RISK_FACTOR", "MEANS_SAFETY")


def _priority(item: Item) -> int:
    """Overlapping evidence: the highlight takes the colour (and first click) of the riskiest."""
    t = item.type
    return HIGHLIGHT_PRIORITY.index(t) if t in HIGHLIGHT_PRIORITY else len(HIGHLIGHT_PRIORITY)


def _pieces(text: str, spans: list[tuple[int, int, Item]]) -> list[dict[str, Any]]:
    """Split ``text`` at evidence boundaries; each piece lists the items covering it."""
    cuts = {0, len(text)}
    for a, b, _ in spans:
        cuts.update((a, b))
    cuts_sorted = sorted(c for c in cuts if 0 <= c <= len(text))
    out = []
    for a, b in zip(cuts_sorted, cuts_sorted[1:], strict=False):
        if a == b:
            continue
        cover = sorted((it for s, e, it in spans if s <= a and b <= e), key=_priority)
        out.append({"text": text[a:b], "items": [i.id for i in cover],
                    "type": cover[0].type if cover else None})
    return out


def _span(item: Item, text: str) -> tuple[int, int] | None:
    ev = item.evidence
    a, b = max(0, ev.start_char), min(len(text), ev.end_char)
    if a < b and text[a:b].strip().lower() == ev.quote.strip().lower():
        return a, b
    q = ev.quote.strip()
    i = text.lower().find(q.lower()) if q else -1
    if i >= 0:
        return i, i + len(q)
    return (a, b) if a < b else None


def page_data(itemset: ItemSet, transcript: Transcript | None, *, audio_name: str | None,
              items_sha256: str, title: str, generated_at: str) -> dict[str, Any]:
    mode = itemset.mode or "dictation"
    items = []
    for it in itemset.items:
        label, quals = label_and_qualifiers(it, mode)
        items.append({
            "id": it.id, "type": it.type, "risk": it.type in RISK_TYPES, "label": label,
            "qualifiers": quals, "quote": it.evidence.quote, "time": time_ref(it),
            "t_start": it.evidence.t_start, "segment": it.evidence.segment, "verify": it.verify,
            "review": it.review or None, "source": it.source,
        })
    segments = []
    if transcript is not None:
        by_seg: dict[int, list[Item]] = {}
        for it in itemset.items:
            by_seg.setdefault(it.evidence.segment, []).append(it)
        for i, s in enumerate(transcript.segments):
            spans = []
            for it in by_seg.get(i, []):
                sp = _span(it, s.text)
                if sp:
                    spans.append((sp[0], sp[1], it))
            segments.append({
                "i": i, "start": s.start, "time": fmt_time(s.start),
                "speaker": s.role if s.role != "unknown" else (s.speaker or ""),
                "verify": s.verify, "reasons": list(s.verify_reasons),
                "pieces": _pieces(s.text, spans),
            })
    return {
        "title": title, "generated_at": generated_at, "items_sha256": items_sha256,
        "audio": audio_name, "mode": mode, "items": items, "segments": segments,
        "itemset": itemset.to_dict(), "attribution_banner": attribution_banner(itemset.provenance),
        "audio_sha256": transcript.audio.sha256 if transcript is not None else None,
    }


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("voicenotes.review", "templates"),
                              autoescape=True, keep_trailing_newline=True)


def render_review_html(data: dict[str, Any]) -> str:
    from urllib.parse import quote

    audio = quote(data["audio"]) if data["audio"] else None  # "#", "?" or spaces in a file name
    return _env().get_template("review.html.j2").render(
        title=data["title"], audio=audio, data_json=_safe_json(data),
        attribution_banner=data.get("attribution_banner"))


# --------------------------------------------------------------------------- applying a review


def load_reviewed(path: Path, session_items: ItemSet, *, items_sha256: str | None = None,
                  audio_sha256: str | None = None) -> ItemSet:
    """The session's items with the decisions from an exported ``items.reviewed.json``.

    Item content always comes from the session's own items.json; only ``review`` is taken
    from the export. Every risk item must carry a decision; a rejection needs a reason."""
    from voicenotes.store.validate import read_json

    if not Path(path).exists():
        raise InputError(f"The reviewed file {path} does not exist.")
    raw = read_json(Path(path), "review")  # checked against its schema: one plain line if not
    ids = [d["id"] for d in raw["items"]]
    reviewed = {d["id"]: d.get("review") or {} for d in raw["items"]}
    if len(ids) != len(reviewed):
        raise InputError(f"{Path(path).name} lists {len(ids) - len(reviewed)} item id(s) more "
                         "than once, so its decisions are ambiguous.",
                         hint="Export it again from the review page.")
    _check_same_session(Path(path).name, raw, session_items, items_sha256, audio_sha256)
    known = {i.id for i in session_items.items}
    unknown = [i for i in reviewed if i not in known]
    if unknown:
        raise InputError(f"{Path(path).name} does not belong to this session folder "
                         f"({len(unknown)} item ids are not in its items.json).",
                         hint="Pass the session folder the review page came from with --out.")
    items, missing = [], []
    for it in session_items.items:
        r = _clean_review(reviewed.get(it.id) or {})
        if it.type in RISK_TYPES and r.get("status") not in REVIEW_STATUSES:
            missing.append(it.id)
        items.append(Item.from_dict({**it.to_dict(), "review": r}))
    if missing:
        raise InputError(f"{len(missing)} risk item(s) have no review decision.",
                         hint="Open review.html, accept, edit or reject every risk item, then "
                         "export again.")
    return ItemSet(items=tuple(items), mode=session_items.mode,
                   session_start=session_items.session_start,
                   rules_version=session_items.rules_version,
                   transcript_sha256=session_items.transcript_sha256,
                   provenance=session_items.provenance)


def _check_same_session(name: str, raw: dict[str, Any], session_items: ItemSet,
                        items_sha256: str | None, audio_sha256: str | None) -> None:
    """Refuse an export made from another session folder: its items hash, audio hash or
    transcript hash differ from this folder's, or an item id names a different item."""
    meta: dict[str, Any] = raw["review_meta"] if isinstance(raw.get("review_meta"), dict) else {}
    pairs = [(meta.get("items_sha256"), items_sha256), (meta.get("audio_sha256"), audio_sha256),
             (raw.get("transcript_sha256"), session_items.transcript_sha256)]
    mine = {i.id: i for i in session_items.items}
    differs = any(a and b and a != b for a, b in pairs) or any(
        d["id"] in mine and (d.get("type") or mine[d["id"]].type) != mine[d["id"]].type
        for d in raw["items"])
    if differs:
        raise InputError(f"{name} was exported from another session: its items or audio do not "
                         "match this folder's items.json.",
                         hint="Pass the session folder the review page came from with --out.")


def _clean_review(r: dict[str, Any]) -> dict[str, Any]:
    status = r.get("status")
    if status not in REVIEW_STATUSES:
        return {}
    out = {"status": status, "reason": str(r.get("reason") or "").strip(),
           "edited_text": str(r.get("edited_text") or "").strip(),
           "reviewed_at": str(r.get("reviewed_at") or "")}
    if status == "rejected" and not out["reason"]:
        raise InputError("A rejected item has no reason.",
                         hint="Reject asks for a reason in review.html; export again.")
    if status == "edited" and not out["edited_text"]:
        out["status"] = "accepted"
    return out


# --------------------------------------------------------------------------- audit log


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def review_events(itemset: ItemSet, *, reviewed_file_sha256: str) -> list[dict[str, Any]]:
    out = []
    for it in itemset.items:
        r = it.review or {}
        out.append({
            "event": "review_decision", "item_id": it.id, "item_type": it.type,
            "risk": it.type in RISK_TYPES, "decision": r.get("status") or "unreviewed",
            "reviewed_at": r.get("reviewed_at") or None,
            "reason_sha256": _sha(r["reason"]) if r.get("reason") else None,
            "edited_text_sha256": _sha(r["edited_text"]) if r.get("edited_text") else None,
            "reviewed_file_sha256": reviewed_file_sha256,
        })
    return out


__all__ = ["AUDIT_FILE", "append_audit", "load_reviewed", "page_data", "render_entry",
           "render_review_html", "review_events", "verify_audit"]
