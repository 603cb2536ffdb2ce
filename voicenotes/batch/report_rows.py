"""The rows of a batch's supervision report: one per recording, read from its outputs and the
journal, with the lethality topics each recording assessed, and the counts across the folder.

No transcript words are copied into a row unless quotes are asked for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicenotes.batch.journal import Journal
from voicenotes.domain import (
    COVERAGE_TOPICS,
    LETHALITY_TOPICS,
    RISK_TYPES,
    attribution_banner,
    topics_of,
)
from voicenotes.errors import VoicenotesError
from voicenotes.store import seal

#: Lethality topics: (column, label); what counts for each is voicenotes.domain.topics_of.
LETHALITY = LETHALITY_TOPICS
COVERAGE = COVERAGE_TOPICS

NOT_ASSESSED = "not assessed"
TOPIC_STATES = ("affirmed", "denied", "mentioned", NOT_ASSESSED)


def _lower(v: Any) -> str:
    return str(v or "").lower()


def topic_of(item: dict[str, Any]) -> list[str]:
    """The lethality/coverage topics one item (an items.json entry) speaks to (the domain's one
    mapping; the rule id and evidence words only classify: no words are copied into the report)."""
    value = item.get("value") or {}
    clue = " ".join((_lower(item.get("rule_id")), _lower((item.get("evidence") or {}).get("quote"))))
    return topics_of(item.get("type"), item.get("subtype") or value.get("subtype"), value.get("factor"), clue)


def _topic_state(items: list[dict[str, Any]]) -> str:
    """affirmed: the client's own actual statement; denied: only negated statements of the
    client; mentioned: asked, conditional, hypothetical or about someone else."""
    if not items:
        return NOT_ASSESSED
    client = [i for i in items if i.get("experiencer", "client") == "client"]
    if any(i.get("polarity") == "affirmed" and i.get("modality", "actual") == "actual"
           for i in client):
        return "affirmed"
    if any(i.get("polarity") == "negated" for i in client):
        return "denied"
    return "mentioned"


@dataclass
class Row:
    recording: str
    status: str                      # done / partial / failed / pending / running / duplicate
    duration_s: float | None = None
    words: int | None = None
    risk_affirmed: int | None = None
    risk_denied: int | None = None
    topics: dict[str, str] = field(default_factory=dict)
    coverage: dict[str, bool | None] = field(default_factory=dict)
    doubtful_segments: int | None = None
    audio_flags: list[str] = field(default_factory=list)
    problem: str = ""
    expected_s: float | None = None
    output: str = ""
    quotes: list[str] = field(default_factory=list)
    model: str = ""
    speakers: str = ""               # what speaker separation found; says when unverified


def _load(path: Path) -> dict[str, Any] | None:
    """The JSON at ``path``, in the clear or sealed (opened in memory); None when unreadable."""
    try:
        return json.loads(seal.read_text(path))
    except (OSError, ValueError, VoicenotesError):
        return None


def speakers_text(transcript: dict[str, Any], items: dict[str, Any]) -> str:
    """``2 voices (session)``, ``1 voice (dictation)`` or the unverified banner with its reason."""
    prov = items.get("provenance") or {}
    banner = attribution_banner(prov)
    if banner:
        reason = (prov.get("attribution") or {}).get("reason")
        return f"{banner} ({reason})" if reason else banner
    n = (transcript.get("speakers") or {}).get("count")
    if not n:
        return ""
    mode = items.get("mode") or ""
    return f"{n} voice{'s' if n != 1 else ''}" + (f" ({mode})" if mode else "")


def row_for_outputs(recording: str, status: str, folder: Path, *, include_quotes: bool) -> Row:
    row = Row(recording=recording, status=status, output=folder.name)
    tr = _load(folder / "transcript.json")
    it = _load(folder / "items.json")
    if tr is None or it is None:
        row.problem = "outputs missing or unreadable (run the batch again with a new --out folder)"
        return row
    audio = tr.get("audio") or {}
    segs = tr.get("segments") or []
    row.duration_s = audio.get("duration_s")
    row.expected_s = audio.get("container_duration_s")
    row.words = sum(len(s.get("words") or []) or len(str(s.get("text") or "").split())
                    for s in segs)
    row.doubtful_segments = sum(1 for s in segs if s.get("verify"))
    row.audio_flags = [str(f) for f in (tr.get("flags") or [])]
    row.model = str((tr.get("provenance") or {}).get("model_name") or "")
    if status == "partial":
        row.problem = str(audio.get("partial_reason") or "audio shorter than its container")
    items = list(it.get("items") or [])
    risk = [i for i in items if i.get("type") in RISK_TYPES]
    row.risk_affirmed = sum(1 for i in risk if i.get("polarity", "affirmed") == "affirmed"
                            and i.get("modality", "actual") != "question")
    row.speakers = speakers_text(tr, it)
    row.risk_denied = sum(1 for i in risk if i.get("polarity") == "negated")
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for i in items:
        for t in topic_of(i):
            by_topic.setdefault(t, []).append(i)
    row.topics = {k: _topic_state(by_topic.get(k, [])) for k, _ in LETHALITY}
    row.coverage = {k: bool(by_topic.get(k)) for k, _ in COVERAGE}
    if include_quotes:
        for i in risk:
            ev = i.get("evidence") or {}
            label = i.get("type") + (f"/{i['subtype']}" if i.get("subtype") else "")
            row.quotes.append(f"{label} ({i.get('polarity', 'affirmed')}): {ev.get('quote', '')}")
    return row


def build_rows(journal: Journal, inputs: Iterable[tuple], out_dir: Path, *,
               include_quotes: bool) -> list[Row]:
    """One row per input file of this run (``inputs``: (rel, sha, size, mtime_ns, duplicate_of))."""
    jobs = {r["sha256"]: r for r in journal.jobs()}
    rows: list[Row] = []
    for rel, sha, _size, _mtime, dup in inputs:
        job = jobs.get(sha)
        if job is None:
            rows.append(Row(recording=rel, status="pending"))
            continue
        if dup:
            rows.append(Row(recording=rel, status="duplicate", problem=f"same audio as {dup}",
                            output=job["out_name"]))
            continue
        state = job["state"]
        if state in ("done", "partial"):
            row = row_for_outputs(rel, state, out_dir / job["out_name"],
                                  include_quotes=include_quotes)
            row.output = job["out_name"]
        elif state == "failed":
            row = Row(recording=rel, status="failed",
                      problem=f"{job['error_class']}: {job['error_message']}",
                      expected_s=job["expected_s"], duration_s=job["decoded_s"])
        else:
            row = Row(recording=rel, status=state, problem="not processed yet")
        rows.append(row)
    return rows


def counts(rows: list[Row]) -> dict[str, Any]:
    processed = [r for r in rows if r.status in ("done", "partial") and r.topics]
    c: dict[str, Any] = {
        "recordings": sum(1 for r in rows if r.status != "duplicate"),
        "done": sum(1 for r in rows if r.status == "done"),
        "partial": sum(1 for r in rows if r.status == "partial"),
        "failed": sum(1 for r in rows if r.status == "failed"),
        "duplicate": sum(1 for r in rows if r.status == "duplicate"),
        "not_processed": sum(1 for r in rows if r.status in ("pending", "running")),
        "processed": len(processed),
        "audio_s": sum(r.duration_s or 0.0 for r in processed),
        "words": sum(r.words or 0 for r in processed),
        "risk_affirmed": sum(r.risk_affirmed or 0 for r in processed),
        "risk_denied": sum(r.risk_denied or 0 for r in processed),
        "doubtful_segments": sum(r.doubtful_segments or 0 for r in processed),
        "with_doubtful_audio": sum(1 for r in processed if r.doubtful_segments or r.audio_flags),
    }
    topics = {}
    for k, _ in LETHALITY:
        topics[k] = {s: sum(1 for r in processed if r.topics.get(k) == s) for s in TOPIC_STATES}
    for k, _ in COVERAGE:
        yes = sum(1 for r in processed if r.coverage.get(k))
        topics[k] = {"affirmed": yes, "denied": 0, "mentioned": 0, NOT_ASSESSED: len(processed) - yes}
    c["topics"] = topics
    return c
