"""Finding out who speaks by default: one voice -> dictation, two or more -> a session.

A counselor who runs ``voicenotes note call.flac`` with no flags must not get a draft in which
their own screening questions read as the client's statements. So speaker separation runs by
default (``--speakers auto``); the number of voices it finds sets the mode unless ``--mode``
says otherwise, and the decision, with its confidence, goes into the transcript's speakers
block and the note's provenance.

When separation cannot run by default (the speaker components or their weights are not
installed) nothing fails: the decision says "not separated", and the extraction's attribution
step then refuses to attribute anything to the client on the strength of a question. An
explicit ``--speakers`` still fails loudly when it cannot be done (the user asked for it).

Confidence of the voice count (a documented heuristic, not a probability):
* two or more voices: 0.5 + 5 x the second voice's share of the words, at most 0.99 (a second
  voice with a tenth of the words or more is clearly a second party; a few words may be a
  cough or a bleed-through);
* one voice: 0.9 with at least 10 s of speech, else 0.6 (short audio gives the clustering
  little to compare).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from voicenotes.domain import UNVERIFIED_BANNER
from voicenotes.errors import DependencyError, ModelError
from voicenotes.schema import Transcript

DEFAULT_SPEC = "auto"
NOT_SEPARATED = "not_separated"


@dataclass(frozen=True)
class SpeakerDecision:
    """What the speaker stage found. ``outcome``: ``dictation`` | ``session`` | ``not_separated``."""

    requested: str                    # "default" or "option"
    outcome: str
    voices: int | None = None
    confidence: float | None = None
    role_confidence: float | None = None
    reason: str | None = None

    @property
    def mode(self) -> str | None:
        return self.outcome if self.outcome in ("dictation", "session") else None

    def to_dict(self) -> dict[str, Any]:
        return {"requested": self.requested, "outcome": self.outcome, "voices": self.voices,
                "confidence": self.confidence, "role_confidence": self.role_confidence,
                "reason": self.reason}

    def line(self) -> str:
        """One plain line for the terminal (no session words)."""
        if self.outcome == NOT_SEPARATED:
            return (f"{UNVERIFIED_BANNER}: {self.reason or 'speaker separation did not run'}. "
                    "Install it with: voicenotes models install")
        conf = f"confidence {self.confidence:.2f}" if self.confidence is not None else ""
        if self.outcome == "dictation":
            return f"Speakers: one voice heard, so this is treated as a dictation ({conf})."
        roles = ""
        if self.role_confidence is not None:
            roles = f"; who is the counselor: confidence {self.role_confidence:.2f}"
        return (f"Speakers: {self.voices} voices heard, so this is treated as a session "
                f"({conf}{roles}).")


def count_confidence(speakers: dict[str, Any]) -> float | None:
    """The voice count's confidence from a transcript's speakers block (see the module doc)."""
    words = sorted((int(v) for v in (speakers.get("words") or {}).values()), reverse=True)
    n = int(speakers.get("count") or 0)
    if n >= 2 and words and sum(words):
        second = words[1] if len(words) > 1 else 0
        return round(min(0.99, 0.5 + 5.0 * second / sum(words)), 2)
    if n == 1:
        speech = speakers.get("speech_s")
        if speech is None and speakers.get("method") == "channels":
            return 0.9
        return 0.9 if (speech or 0.0) >= 10.0 else 0.6
    return None


def decision_from(speakers: dict[str, Any], requested: str) -> SpeakerDecision:
    n = int(speakers.get("count") or 0)
    conf = count_confidence(speakers)
    if n >= 2:
        return SpeakerDecision(requested, "session", n, conf, speakers.get("role_confidence"))
    return SpeakerDecision(requested, "dictation", n, conf)


def find_speakers(transcript: Transcript, audio_path: Path, spec: str | None, *,
                  counselor: str | None = None,
                  progress: Callable[[float, float], None] | None = None
                  ) -> tuple[Transcript, SpeakerDecision]:
    """Label the speakers of ``transcript`` and decide dictation or session.

    ``spec`` None means the default (auto, and a missing speaker install is not an error);
    a value is the user's ``--speakers`` (errors propagate). The returned transcript's
    ``speakers`` block holds the decision under ``"decision"``; its ``mode`` is the decided one.
    """
    from voicenotes.speakers.assign import assign_speakers, check_available

    requested = "default" if spec is None else "option"
    use = spec or DEFAULT_SPEC
    if spec is None:
        try:
            check_available(use)
        except (DependencyError, ModelError) as exc:
            reason = ("the speaker-separation models are not installed"
                      if isinstance(exc, ModelError) else
                      "the speaker-separation components are not installed")
            dec = SpeakerDecision(requested, NOT_SEPARATED, reason=reason)
            # labels left by an earlier run (a reused transcript) would be stale: drop them
            segs = tuple(replace(s, speaker=None, role="unknown",
                                 words=tuple(replace(w, speaker=None) for w in s.words))
                         for s in transcript.segments)
            flags = tuple(f for f in transcript.flags if f != "roles_uncertain")
            return replace(transcript, segments=segs, flags=flags,
                           speakers={"decision": dec.to_dict()}), dec
    out = assign_speakers(transcript, Path(audio_path), use, counselor=counselor,
                          progress=progress)
    dec = decision_from(out.speakers or {}, requested)
    if spec is None and dec.outcome == "dictation":
        # one voice found by default: the transcript stays as it was (no "S1:" on every line,
        # segments not joined into one turn); only the decision and its figures are kept
        keep = ("spec", "channels", "method", "count", "speech_s", "seconds")
        sp = {k: v for k, v in (out.speakers or {}).items() if k in keep}
        sp["decision"] = dec.to_dict()
        return replace(transcript, speakers=sp, mode="dictation"), dec
    sp = dict(out.speakers or {})
    sp["decision"] = dec.to_dict()
    return replace(out, speakers=sp, mode=dec.mode or out.mode), dec


def recorded_decision(transcript: Transcript | None) -> dict[str, Any] | None:
    """The decision stored in a transcript's speakers block (None when the stage never ran)."""
    if transcript is None:
        return None
    d = (transcript.speakers or {}).get("decision")
    return d if isinstance(d, dict) else None
