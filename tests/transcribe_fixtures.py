"""Build long test recordings from the real speech clips in tests/data with sox, and score transcripts.

Used by tests/test_transcribe_*.py and scripts/bench_transcribe.py / bench_memory.py. Every
file is real audio made by sox from ``tests/data/speech/clips`` (real or TTS speech with
exact references); the pauses are digital silence or a low pink-noise room tone.
"""

from __future__ import annotations

import csv
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # the tests own their data (see tests/data/SOURCES.md)
SPEECH = DATA / "speech"
RATE = 16000


@dataclass(frozen=True)
class Placed:
    """One clip inside a built file: where it starts/ends (s) and its reference text."""

    id: str
    start: float
    end: float
    text: str


def load_refs() -> list[dict]:
    with open(SPEECH / "refs.tsv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _sox(*args) -> None:
    # -R: repeatable (fixed seeds for dither and noise), so a built file is the same every run
    proc = subprocess.run(["sox", "-R", *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sox failed: {proc.stderr[-500:]}")


def _frames(path: Path) -> int:
    with wave.open(str(path)) as w:
        return w.getnframes()


def build(dst: Path, clips: list[dict], pauses: list[float], *, lead: float = 1.0,
          room_tone: bool = True) -> list[Placed]:
    """Concatenate ``clips`` (rows of refs.tsv) with ``pauses[i]`` seconds after clip i.

    16 kHz mono 16-bit WAV. With ``room_tone`` a pink-noise bed at about -55 dBFS runs under the
    whole file (pauses are then room tone, as in a real room, not digital zero).
    Returns where each clip landed.
    """
    dst = Path(dst)
    work = dst.with_name(dst.stem + ".parts")
    work.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    placed: list[Placed] = []
    t = lead
    head = work / "lead.wav"
    _sox("-n", "-r", RATE, "-c", 1, "-b", 16, head, "trim", 0, lead)
    parts.append(head)
    for i, row in enumerate(clips):
        pause = pauses[i] if i < len(pauses) else 1.0
        part = work / f"{i:04d}.wav"
        _sox(SPEECH / row["file"], "-r", RATE, "-c", 1, "-b", 16, part, "norm", -3, "pad", 0, pause)
        n = _frames(part)
        clip_s = n / RATE - pause
        placed.append(Placed(row["id"], round(t, 3), round(t + clip_s, 3), row["text"]))
        t += n / RATE
        parts.append(part)
    joined = work / "joined.wav"
    # sox handles many inputs at once; chunk to stay under argument limits
    _sox(*parts, joined)
    if room_tone:
        noise = work / "noise.wav"
        total = _frames(joined) / RATE
        _sox("-n", "-r", RATE, "-c", 1, "-b", 16, noise, "synth", f"{total:.3f}", "pinknoise",
             "vol", "0.002")
        _sox("-m", joined, noise, "-b", 16, dst)
    else:
        joined.replace(dst)
    for p in work.iterdir():
        p.unlink()
    work.rmdir()
    return placed


def speech_onsets(path: Path, placed: list[Placed], *, floor_db: float = -35.0) -> list[tuple[float, float]]:
    """True (start, end) of the speech in each placed clip: first/last 20-ms frame whose level
    is within ``floor_db`` of the clip's loudest frame."""
    import numpy as np

    with wave.open(str(path)) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)
    out = []
    hop = RATE // 50
    for p in placed:
        seg = audio[int(p.start * RATE):int(p.end * RATE)]
        n = len(seg) // hop
        rms = np.sqrt((seg[: n * hop].reshape(n, hop) ** 2).mean(axis=1)) + 1e-9
        db = 20 * np.log10(rms / rms.max())
        idx = np.nonzero(db > floor_db)[0]
        out.append((p.start + idx[0] * hop / RATE, p.start + (idx[-1] + 1) * hop / RATE))
    return out


def normalizer():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def words_in(transcript, start: float, end: float, margin: float = 0.5) -> str:
    """The transcript's words whose middle lies in [start - margin, end + margin]."""
    got = []
    for seg in transcript.segments:
        if seg.words:
            got.extend(w.word for w in seg.words
                       if start - margin <= (w.start + w.end) / 2 <= end + margin)
        elif start - margin <= (seg.start + seg.end) / 2 <= end + margin:
            got.append(" " + seg.text)
    return "".join(got).strip()


def clip_scores(transcript, placed: list[Placed]) -> list[dict]:
    """Per placed clip: normalised reference/hypothesis, WER and the fraction of reference words
    recovered (hits / reference words)."""
    import jiwer

    norm = normalizer()
    rows = []
    for p in placed:
        ref = norm(p.text)
        hyp = norm(words_in(transcript, p.start, p.end))
        if hyp.strip():
            out = jiwer.process_words(ref, hyp)
            hits, wer = out.hits, out.wer
        else:
            hits, wer = 0, 1.0
        rows.append({"id": p.id, "ref": ref, "hyp": hyp, "wer": wer,
                     "recall": hits / max(1, len(ref.split())),
                     "ref_words": len(ref.split()), "hyp_words": len(hyp.split())})
    return rows


def corpus_wer(transcript, placed: list[Placed]) -> float:
    import jiwer

    norm = normalizer()
    ref = " ".join(norm(p.text) for p in placed)
    hyp = norm(transcript.text)
    return jiwer.wer(ref, hyp)


def multipause_plan(refs: list[dict], min_total_s: float = 180.0, first: int = 0):
    """Clips and pauses for the long multi-pause file: clips from index ``first`` on, pauses
    cycling through 0.5-8 s, with one 45-s pause after the first third."""
    cycle = [0.5, 1.0, 2.0, 0.8, 4.0, 1.2, 8.0, 0.6, 3.0, 5.0]
    clips, pauses, total = [], [], 1.0
    for i, row in enumerate(refs[first:]):
        clips.append(row)
        pause = cycle[i % len(cycle)]
        pauses.append(pause)
        total += float(row["duration_s"]) + pause
        if total >= min_total_s:
            break
    pauses[len(pauses) // 3] = 45.0
    return clips, pauses
