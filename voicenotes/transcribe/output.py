"""Writing a transcript: json, plain text, SRT and WebVTT, each atomically with mode 0600.

Flagged segments carry a visible "check audio" marker in every text format, so a doubt the
engine found is never lost on the way to the reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from voicenotes.errors import UsageError
from voicenotes.schema import Segment, Transcript
from voicenotes.transcribe.guards import REASON_TEXT

FORMATS = ("json", "txt", "srt", "vtt")


def _ts(t: float, sep: str = ",") -> str:
    """A subtitle timestamp: ``HH:MM:SS,mmm`` (``.`` for WebVTT)."""
    ms = int(round(max(0.0, t) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _clock(t: float) -> str:
    """``H:MM:SS`` for the plain-text transcript."""
    s = int(max(0.0, t))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def describe_flags(transcript: Transcript) -> list[str]:
    """Plain lines for the whole-file flags and the number of segments to check."""
    a = transcript.audio
    lines: list[str] = []
    if "partial" in transcript.flags:
        if a.partial_reason:
            lines.append(f"partial: {a.partial_reason[0].lower()}{a.partial_reason[1:]}")
        elif a.container_duration_s:
            lines.append(f"partial: the file seems truncated; {a.duration_s:.1f} s of "
                         f"{a.container_duration_s:.1f} s decoded")
        else:
            lines.append("partial: the file seems truncated or damaged")
    if "channels_cancel" in transcript.flags:
        lines.append("channels cancel: the left and right channels cancel each other when mixed, "
                     "so the first channel alone was transcribed; check the recording setup")
    if "no_speech" in transcript.flags:
        lines.append("no speech: nothing that reliably sounds like speech was found")
    n = sum(1 for s in transcript.segments if s.verify)
    if n:
        lines.append(f"{n} segment{'s' if n != 1 else ''} need{'s' if n == 1 else ''} checking "
                     "against the audio")
    return lines


def _marker(seg: Segment) -> str:
    return "[check audio] " if seg.verify else ""


def render_txt(t: Transcript) -> str:
    from voicenotes.speakers import describe_speakers, speaker_prefix

    out = [f"# {line}" for line in describe_flags(t) + describe_speakers(t)]
    for s in t.segments:
        reasons = "; ".join(REASON_TEXT.get(r, r) for r in s.verify_reasons)
        note = f"  [check audio: {reasons}]" if s.verify else ""
        out.append(f"[{_clock(s.start)}] {speaker_prefix(s)}{s.text}{note}")
    return "\n".join(out) + "\n"


def render_srt(t: Transcript) -> str:
    from voicenotes.speakers import speaker_prefix

    blocks = []
    for i, s in enumerate(t.segments, 1):
        blocks.append(f"{i}\n{_ts(s.start)} --> {_ts(max(s.end, s.start + 0.001))}\n"
                      f"{_marker(s)}{speaker_prefix(s)}{s.text}\n")
    return "\n".join(blocks)


def render_vtt(t: Transcript) -> str:
    from voicenotes.speakers import speaker_name

    blocks = ["WEBVTT\n"]
    for s in t.segments:
        name = speaker_name(s)
        voice = f"<v {name}>" if name else ""  # WebVTT voice span: players show the speaker
        blocks.append(f"{_ts(s.start, '.')} --> {_ts(max(s.end, s.start + 0.001), '.')}\n"
                      f"{voice}{_marker(s)}{s.text}\n")
    return "\n".join(blocks)


def parse_formats(spec: str | Sequence[str]) -> list[str]:
    """``"json,txt"`` (or a list) -> the known formats asked for, in order, each once."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for raw in items:
        f = raw.strip().lower().lstrip(".")
        if not f:
            continue
        if f not in FORMATS:
            raise UsageError(f"Unknown output format '{raw.strip()}'.",
                             hint="Use any of: " + ",".join(FORMATS) + ".")
        if f not in out:
            out.append(f)
    if not out:
        raise UsageError("No output format given.", hint="Use e.g. --format json,txt.")
    return out


def write_outputs(transcript: Transcript, out_dir: Path, stem: str,
                  formats: Sequence[str] = ("json", "txt")) -> list[Path]:
    """Write ``<stem>.<fmt>`` for each format into ``out_dir`` atomically with mode 0600."""
    from voicenotes.store import atomic_write_json, atomic_write_text, ensure_private_dir

    out_dir = Path(out_dir)
    ensure_private_dir(out_dir)
    written: list[Path] = []
    for fmt in parse_formats(formats):
        target = out_dir / f"{stem}.{fmt}"
        if fmt == "json":
            atomic_write_json(target, transcript.to_dict())
        elif fmt == "txt":
            atomic_write_text(target, render_txt(transcript))
        elif fmt == "srt":
            atomic_write_text(target, render_srt(transcript))
        elif fmt == "vtt":
            atomic_write_text(target, render_vtt(transcript))
        written.append(target)
    return written


def schema_path() -> Path:
    """The JSON Schema of ``transcript.json``."""
    return Path(__file__).resolve().parent.parent / "schemas" / "transcript.schema.json"

