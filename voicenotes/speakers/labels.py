"""Showing speakers: role names, the ``Counselor (S1):`` prefix, the header lines about the
speaker stage, and joining consecutive segments of one speaker into turns."""

from __future__ import annotations

from dataclasses import replace

from voicenotes.schema import Segment, Transcript
from voicenotes.speakers.roles import ROLE_CONFIDENCE_OK

ROLE_TEXT = {"counselor": "Counselor", "client": "Client", "other": "Other speaker"}


def speaker_name(seg: Segment) -> str | None:
    """How a segment's speaker is shown: ``Counselor (S1)``, ``Client (S2)``, ``S3`` when the
    role is unknown, None when no speaker was assigned."""
    role = ROLE_TEXT.get(seg.role)
    if seg.speaker and role:
        return f"{role} ({seg.speaker})"
    if seg.speaker:
        return seg.speaker
    return role


def speaker_prefix(seg: Segment) -> str:
    """``"Counselor (S1): "`` for the txt/srt lines, empty when there is no speaker."""
    name = speaker_name(seg)
    return f"{name}: " if name else ""


def describe_speakers(t: Transcript) -> list[str]:
    """Plain lines about the speaker stage for a transcript header (no session words)."""
    sp = t.speakers or {}
    if not sp.get("labels"):
        return []
    methods: dict[str | None, str] = {"channels": "one speaker per audio channel",
                                      "segmentation-embedding-clustering": "by voice",
                                      "embedding-clustering": "by voice"}
    method = methods.get(sp.get("method"), sp.get("method", ""))
    roles = sp.get("roles") or {}
    who = ", ".join(f"{lab} = {roles.get(lab, 'unknown')}" for lab in sp["labels"])
    hows: dict[str | None, str] = {
        "enrollment": "matched to the enrolled counselor voice",
        "override": "set by --counselor",
        "heuristic": "guessed: the counselor is who asks most of the questions"}
    how = hows.get(sp.get("role_method"), "")
    conf = sp.get("role_confidence")
    line = f"Speakers ({method}): {who}"
    if how:
        line += f"; roles {how}"
        if sp.get("role_method") == "heuristic" and conf is not None:
            line += f" (confidence {conf:.2f})"
    lines = [line + "."]
    if sp.get("role_method") == "heuristic" and conf is not None and conf < ROLE_CONFIDENCE_OK:
        lines.append("The roles are uncertain: check them, and rerun with --counselor S1 (or "
                     "S2) if they are swapped.")
    return lines



def merge_turns(transcript: Transcript) -> Transcript:
    """Join consecutive segments of the same speaker into one segment per turn (ids renumbered).

    A turn is what extraction reasons over (a question and its answer, a request and the
    consent that follows). Nothing is dropped: words are kept with their own times and
    probabilities; the turn is flagged ``verify`` when any of its parts was, with every reason;
    its figures are the most doubtful of its parts (lowest avg_logprob, highest no_speech_prob
    and compression ratio).
    """
    out: list[Segment] = []
    for seg in transcript.segments:
        prev = out[-1] if out else None
        if (prev is not None and seg.speaker is not None and seg.speaker == prev.speaker
                and seg.words and prev.words):  # a wordless placeholder stays on its own
            def worst(a, b, fn):
                vals = [v for v in (a, b) if v is not None]
                return fn(vals) if vals else None

            out[-1] = replace(
                prev, end=max(prev.end, seg.end), text=f"{prev.text.strip()} {seg.text.strip()}",
                words=prev.words + seg.words,
                avg_logprob=worst(prev.avg_logprob, seg.avg_logprob, min),
                no_speech_prob=worst(prev.no_speech_prob, seg.no_speech_prob, max),
                compression_ratio=worst(prev.compression_ratio, seg.compression_ratio, max),
                verify=prev.verify or seg.verify,
                verify_reasons=tuple(dict.fromkeys(prev.verify_reasons + seg.verify_reasons)))
        else:
            out.append(replace(seg, id=len(out)))
    return replace(transcript, segments=tuple(out))
