"""The hand-off objects between stages: frozen dataclasses that round-trip to JSON.

audio -> :class:`Transcript` -> :class:`ItemSet` -> note. ``to_dict``/``from_dict`` are the only
serialisation path; JSON Schemas of the files live in ``voicenotes/schemas/``.
Times are seconds from the start of the audio. Speaker roles are ``counselor``, ``client``,
``other`` or ``unknown``; ``speaker`` holds the raw label (e.g. ``S1``) when diarization made one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from voicenotes.domain import (  # noqa: F401 - re-exported: the hand-off objects' vocabulary
    CERTAINTY,
    EXPERIENCER,
    ITEM_TYPES,
    MODALITY,
    POLARITY,
    RISK_TYPES,
    ROLES,
    TEMPORALITY,
)

TRANSCRIPT_SCHEMA_VERSION = 1
ITEMS_SCHEMA_VERSION = 1



def _build(cls, data: dict[str, Any]):
    """Construct ``cls`` from a dict, ignoring unknown keys (forward compatibility)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


# --------------------------------------------------------------------------- transcript


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        return _build(cls, d)


@dataclass(frozen=True)
class Segment:
    """One stretch of speech. ``verify`` is set when the audio is doubtful; such a segment is
    kept (flag, never delete) and ``verify_reasons`` says why (e.g. ``low_confidence``,
    ``repetition``, ``no_speech``, ``phantom_phrase``, ``punctuation_only``)."""

    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    verify: bool = False
    verify_reasons: tuple[str, ...] = ()
    speaker: str | None = None
    role: str = "unknown"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["words"] = [w.to_dict() for w in self.words]
        d["verify_reasons"] = list(self.verify_reasons)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Segment:
        d = dict(d)
        d["words"] = tuple(Word.from_dict(w) for w in d.get("words", ()))
        d["verify_reasons"] = tuple(d.get("verify_reasons", ()))
        return _build(cls, d)


@dataclass(frozen=True)
class AudioInfo:
    """What was decoded, and whether it is all there.

    ``partial`` is set when the decoded duration is shorter than the container or the file size
    implies (truncated or corrupt input); ``channels_cancel`` when a downmix would cancel speech.
    """

    file_name: str
    sha256: str
    duration_s: float
    container_duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    codec: str | None = None
    partial: bool = False
    partial_reason: str | None = None
    channels_cancel: bool = False
    # added by voicenotes.audio (B1): the duration the file size implies (PCM WAV), frames PyAV
    # rejected as invalid, a WAV header repaired in memory, RMS(downmix)/RMS(channels).
    file_duration_s: float | None = None
    decode_errors: int = 0
    header_repaired: bool = False
    downmix_ratio: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioInfo:
        return _build(cls, d)


@dataclass(frozen=True)
class Provenance:
    voicenotes_version: str
    created_at: str
    model_name: str | None = None
    model_sha256: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Provenance:
        return _build(cls, d)


@dataclass(frozen=True)
class Transcript:
    """A transcript with provenance. ``flags`` are whole-file warnings such as ``partial``,
    ``no_speech`` or ``channels_cancel``; ``mode`` is ``dictation`` or ``session``."""

    audio: AudioInfo
    segments: tuple[Segment, ...]
    provenance: Provenance
    language: str = "en"
    mode: str | None = None
    session_start: str | None = None
    flags: tuple[str, ...] = ()
    speakers: dict[str, Any] = field(default_factory=dict)
    schema_version: int = TRANSCRIPT_SCHEMA_VERSION

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "language": self.language,
            "mode": self.mode,
            "session_start": self.session_start,
            "flags": list(self.flags),
            "audio": self.audio.to_dict(),
            "provenance": self.provenance.to_dict(),
            "speakers": dict(self.speakers),
            "segments": [s.to_dict() for s in self.segments],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        return cls(
            audio=AudioInfo.from_dict(d["audio"]),
            segments=tuple(Segment.from_dict(s) for s in d.get("segments", ())),
            provenance=Provenance.from_dict(d["provenance"]),
            language=d.get("language", "en"),
            mode=d.get("mode"),
            session_start=d.get("session_start"),
            flags=tuple(d.get("flags", ())),
            speakers=dict(d.get("speakers") or {}),
            schema_version=d.get("schema_version", TRANSCRIPT_SCHEMA_VERSION),
        )


# --------------------------------------------------------------------------- items


@dataclass(frozen=True)
class Evidence:
    """Where an item came from: ``segment`` index into the transcript (== turn index for gold
    cases), character span in that segment's text, audio times, the quoted words, and the cue
    words that set each attribute (e.g. ``{"polarity": ["denies"]}``)."""

    segment: int
    start_char: int
    end_char: int
    quote: str
    t_start: float | None = None
    t_end: float | None = None
    cues: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["turn"] = self.segment  # the gold scorer accepts either name
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        d = dict(d)
        if "segment" not in d and "turn" in d:
            d["segment"] = d["turn"]
        return _build(cls, d)


@dataclass(frozen=True)
class Item:
    """One clinically relevant statement (item schema v1, docs/extraction.md)."""

    id: str
    type: str
    evidence: Evidence
    subtype: str | None = None
    value: dict[str, Any] = field(default_factory=dict)
    polarity: str = "affirmed"
    modality: str = "actual"
    experiencer: str = "client"
    experiencer_detail: str | None = None
    temporality: str = "current"
    certainty: str = "certain"
    speaker: str = "unknown"
    asr: dict[str, Any] = field(default_factory=dict)
    review_flags: tuple[str, ...] = ()
    source: str = "rules"
    rule_id: str | None = None
    review: dict[str, Any] = field(default_factory=dict)

    @property
    def verify(self) -> bool:
        """Check the audio: the segment was doubtful, or the words are a known mishearing."""
        return bool(self.asr.get("verify")) or "verify_audio" in self.review_flags

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["evidence"] = self.evidence.to_dict()
        d["review_flags"] = list(self.review_flags)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Item:
        d = dict(d)
        d["evidence"] = Evidence.from_dict(d["evidence"])
        d["review_flags"] = tuple(d.get("review_flags", ()))
        return _build(cls, d)


@dataclass(frozen=True)
class ItemSet:
    """The content of ``items.json``."""

    items: tuple[Item, ...]
    mode: str = "dictation"
    session_start: str | None = None
    rules_version: str | None = None
    transcript_sha256: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    schema_version: int = ITEMS_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "mode": self.mode,
            "session_start": self.session_start,
            "rules_version": self.rules_version,
            "transcript_sha256": self.transcript_sha256,
            "provenance": dict(self.provenance),
            "items": [i.to_dict() for i in self.items],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ItemSet:
        return cls(
            items=tuple(Item.from_dict(i) for i in d.get("items", ())),
            mode=d.get("mode", "dictation"),
            session_start=d.get("session_start"),
            rules_version=d.get("rules_version"),
            transcript_sha256=d.get("transcript_sha256"),
            provenance=dict(d.get("provenance") or {}),
            schema_version=d.get("schema_version", ITEMS_SCHEMA_VERSION),
        )
