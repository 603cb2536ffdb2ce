"""Shared helpers for the note tests (no tests here).

Real inputs: the gold cases in tests/data/extraction with their audio sidecar times, turned
into transcripts and run through the real extractor. ``hand_items`` builds a small ItemSet by
hand for the note stage's own unit tests (every attribute combination the renderer must show).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from conftest import EXTRACTION  # tests/data/extraction

from voicenotes.schema import AudioInfo, Evidence, Item, ItemSet, Provenance, Segment, Transcript


def gold_cases(path: Path | None = None) -> dict[str, dict]:
    path = path or EXTRACTION / "dev.jsonl"
    return {d["id"]: d for d in map(json.loads, path.read_text("utf-8").splitlines()) if d}


def sidecar_times(case_id: str) -> list[tuple[float, float, str]]:
    with open(EXTRACTION / "audio" / f"{case_id}.segments.tsv", newline="", encoding="utf-8") as fh:
        return [(float(r["start_s"]), float(r["end_s"]), r["speaker"])
                for r in csv.DictReader(fh, delimiter="\t")]


def case_transcript(case: dict) -> Transcript:
    """The case's turns as a transcript with the real audio times of its rendering."""
    from voicenotes.extract import transcript_from_turns

    t = transcript_from_turns(case["turns"], mode=case["mode"], session_start=case["session_start"])
    times = sidecar_times(case["id"])
    segs = []
    for seg, (a, b, _) in zip(t.segments, times, strict=False):
        words = ()
        segs.append(Segment(**{**{f: getattr(seg, f) for f in seg.__dataclass_fields__},
                               "start": a, "end": b, "words": words}))
    audio = AudioInfo(file_name=f"{case['id']}.flac", sha256="0" * 64, duration_s=times[-1][1] + 0.5)
    return Transcript(audio=audio, segments=tuple(segs), provenance=t.provenance,
                      mode=case["mode"], session_start=case["session_start"])


def write_transcript(case: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "transcript.json"
    path.write_text(json.dumps(case_transcript(case).to_dict()), "utf-8")
    return path


def _it(n, typ, quote, t, seg=0, **kw) -> Item:
    return Item(id=f"h{n:02d}", type=typ,
                evidence=Evidence(segment=seg, start_char=0, end_char=len(quote), quote=quote,
                                  t_start=t, t_end=t + 1.5), **kw)


HAND_QUOTES = [
    "I just want to die", "denies current suicidal ideation", "no plan", "took pills in 2019",
    "her brother attempted suicide", "if the urges come back", "have you thought about killing yourself",
    "there's a gun in the closet", "he could hold the key", "i just want to die",
    "going for a walk helps", "call my sister", "my dog is the reason i'm still here",
    "I'll call you tomorrow at ten", "next tuesday maybe", "yeah that's fine to record",
]


def hand_items() -> ItemSet:
    q = HAND_QUOTES
    items = (
        _it(1, "RISK", q[0], 10.0, seg=0, subtype="ideation_passive", speaker="client"),
        _it(2, "RISK", q[1], 20.0, seg=1, subtype="ideation_active", polarity="negated", speaker="counselor"),
        _it(3, "RISK", q[2], 21.0, seg=1, subtype="plan", polarity="negated", speaker="counselor"),
        _it(4, "RISK", q[3], 30.0, seg=2, subtype="attempt", temporality="past", value={"method": "overdose"}),
        _it(5, "RISK_FACTOR", q[4], 40.0, seg=3, experiencer="other", experiencer_detail="brother",
            temporality="past", value={"factor": "family_history_suicide"}),
        _it(6, "RISK", q[5], 50.0, seg=4, modality="conditional", asr={"verify": True}),
        _it(7, "RISK", q[6], 60.0, seg=5, modality="question", speaker="counselor"),
        _it(8, "MEANS", q[7], 70.0, seg=6, value={"means": "firearm", "location": "closet"}),
        _it(9, "MEANS_SAFETY", q[8], 75.0, seg=6, value={"means": "firearm", "action": "hand_over"}),
        _it(10, "RISK", q[9], 95.0, seg=8, subtype="ideation_passive", speaker="client"),
        _it(11, "COPING", q[10], 100.0, seg=9, value={"status": "tried", "efficacy": "helpful"}),
        _it(12, "SUPPORT", q[11], 110.0, seg=10, value={"who": "sister", "role": "help"}),
        _it(13, "PROTECTIVE", q[12], 120.0, seg=11, value={"factor": "pet"}, certainty="possible"),
        _it(14, "FOLLOW_UP", q[13], 130.0, seg=12, value={"who": "counselor", "action": "call",
                                                          "when": "2026-03-10T10:00:00"}),
        _it(15, "FOLLOW_UP", q[14], 140.0, seg=13, value={"who": "client", "when": "2026-03-17",
                                                          "ambiguity": "next_week?"}),
        _it(16, "CONSENT", q[15], 2.0, seg=14, value={"scope": "recording", "granted": True}),
    )
    return ItemSet(items=items, mode="session", session_start="2026-03-09T14:00:00",
                   rules_version="hand-1")


def hand_transcript() -> Transcript:
    """Segments whose text contains each hand item's quote (for the review page)."""
    by_seg: dict[int, list[Item]] = {}
    for it in hand_items().items:
        by_seg.setdefault(it.evidence.segment, []).append(it)
    segs = []
    for i in range(15):
        its = by_seg.get(i, [])
        text = " ".join(it.evidence.quote for it in its) or "okay"
        start = its[0].evidence.t_start if its else 80.0 + i
        segs.append(Segment(id=i, start=start, end=start + 3.0, text=text,
                            role="client" if i % 2 == 0 else "counselor",
                            verify=any(it.verify for it in its)))
    return Transcript(audio=AudioInfo(file_name="a.flac", sha256="0" * 64, duration_s=150.0),
                      segments=tuple(segs),
                      provenance=Provenance(voicenotes_version="0", created_at="2026-03-09T15:00:00"),
                      mode="session", session_start="2026-03-09T14:00:00")


def with_extractor_offsets(itemset: ItemSet, transcript: Transcript) -> ItemSet:
    """Fix start/end_char so the hand items point at their quotes in the hand transcript."""
    out = []
    for it in itemset.items:
        text = transcript.segments[it.evidence.segment].text
        a = text.find(it.evidence.quote)
        ev = it.evidence
        out.append(Item.from_dict({**it.to_dict(), "evidence": {**ev.to_dict(), "start_char": a,
                                                               "end_char": a + len(ev.quote)}}))
    return ItemSet(items=tuple(out), mode=itemset.mode, session_start=itemset.session_start,
                   rules_version=itemset.rules_version)


VOLATILE = re.compile(
    r"(generated_at|created_at|transcribed_at|reviewed_at|time)(\"?\s*[:=]\s*\"?)"
    r"\d{4}-\d\d-\d\dT[\d:]+(?:\.\d+)?(?:\+00:00|Z)?")


def normalise(text: str) -> str:
    """Replace generation times so golden files compare across runs."""
    text = VOLATILE.sub(lambda m: m.group(1) + m.group(2) + "<TIME>", text)
    # the rules version is a hash of the rule files: the notes below show what changed
    text = re.sub(r"(rules_version\"?\s*[:=]\s*\"?)[\w.+-]+", r"\1<RULES>", text)
    # hashes of files that embed creation times (items.json, transcript.json) change every run
    return re.sub(r"\b[0-9a-f]{64}\b", "<SHA256>", text)


def items_input(tmp_path: Path) -> tuple[Path, ItemSet]:
    """A folder holding the hand-made transcript.json and items.json: a ``note`` input that
    needs no model."""
    t = hand_transcript()
    items = with_extractor_offsets(hand_items(), t)
    src = tmp_path / "in"
    src.mkdir()
    (src / "transcript.json").write_text(json.dumps(t.to_dict()))
    (src / "items.json").write_text(json.dumps(items.to_dict()))
    return src, items


def accept_all(items: ItemSet, tmp_path: Path) -> Path:
    """A review export (items.reviewed.json) that accepts every item."""
    d = items.to_dict()
    for it in d["items"]:
        it["review"] = {"reviewed_at": "2026-03-09T16:00:00Z", "status": "accepted"}
    reviewed = tmp_path / "items.reviewed.json"
    reviewed.write_text(json.dumps(d))
    return reviewed
