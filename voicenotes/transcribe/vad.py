"""The Silero VAD's view of a window: speech probabilities per 32-ms frame, speech stretches,
and the speech no transcribed word covers.

The batched pipeline computes the probabilities for each window anyway; a thin recorder around
faster-whisper's VAD model keeps them, so "text over non-speech" and "speech without words"
can be judged at no extra cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Whisper and Silero both take 16 kHz mono.
SAMPLE_RATE = 16000


class _VadProbeRecorder:
    """Wraps faster-whisper's Silero VAD model and keeps (per thread) the speech probabilities
    of its last call, so "text over non-speech" can be judged at no extra cost: the batched
    pipeline computes these probabilities for each window anyway."""

    def __init__(self, model: Any):
        import threading

        self._model = model
        self._local = threading.local()

    def __call__(self, audio: Any, *args: Any, **kwargs: Any) -> Any:
        out = self._model(audio, *args, **kwargs)
        self._local.last = out
        return out

    def take(self) -> Any:
        """The probabilities of this thread's last VAD call (None if none since the last
        take)."""
        out = getattr(self._local, "last", None)
        self._local.last = None
        return out


_RECORDER: _VadProbeRecorder | None = None


def vad_recorder() -> _VadProbeRecorder:
    """Install the recorder once (faster-whisper is pinned to 1.2.1, whose
    ``get_speech_timestamps`` fetches the model through ``faster_whisper.vad.get_vad_model``)."""
    global _RECORDER
    import faster_whisper.vad as fvad

    if _RECORDER is None:
        _RECORDER = _VadProbeRecorder(fvad.get_vad_model())
        fvad.get_vad_model = lambda: _RECORDER
    return _RECORDER


def word_speech_probs(probs: Any, words: Sequence[Any], sample_rate: int = SAMPLE_RATE) -> list[float | None]:
    """Mean Silero speech probability over each word's span (window-relative times)."""
    if probs is None:
        return [None] * len(words)
    import numpy as np

    p = np.asarray(probs).reshape(-1)
    out: list[float | None] = []
    for w in words:
        a = int(max(0.0, w.start) * sample_rate) // 512
        b = max(a + 1, int(math.ceil(max(0.0, w.end) * sample_rate / 512)))
        span = p[a:b]
        out.append(float(span.mean()) if len(span) else None)
    return out


def speech_regions(probs: Any, *, threshold: float = 0.5, neg_threshold: float = 0.35,
                   merge_gap_s: float = 0.3, min_s: float = 0.25,
                   sample_rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """Speech stretches (s, window-relative) from Silero per-frame probabilities: start at
    ``threshold``, end below ``neg_threshold`` (the VAD's own hysteresis), merge gaps shorter
    than ``merge_gap_s``, drop stretches shorter than ``min_s``."""
    if probs is None:
        return []
    import numpy as np

    p = np.asarray(probs).reshape(-1)
    frame_s = 512 / sample_rate
    regions: list[list[float]] = []
    start = None
    for i, v in enumerate(p):
        if start is None and v >= threshold:
            start = i
        elif start is not None and v < neg_threshold:
            regions.append([start * frame_s, i * frame_s])
            start = None
    if start is not None:
        regions.append([start * frame_s, len(p) * frame_s])
    merged: list[list[float]] = []
    for r in regions:
        if merged and r[0] - merged[-1][1] < merge_gap_s:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    return [(round(a, 3), round(b, 3)) for a, b in merged if b - a >= min_s]


def uncovered_speech(regions: Sequence[tuple[float, float]],
                     spans: Sequence[tuple[float, float]], *, slack_s: float = 0.5,
                     min_gap_s: float = 0.6) -> list[tuple[float, float]]:
    """Parts of the VAD's speech ``regions`` that no transcribed word ``spans`` covers (each span
    widened by ``slack_s``), longer than ``min_gap_s``: speech the decoder skipped."""
    cover = sorted((a - slack_s, b + slack_s) for a, b in spans)
    out: list[tuple[float, float]] = []
    for ra, rb in regions:
        t = ra
        for ca, cb in cover:
            if cb <= t:
                continue
            if ca >= rb:
                break
            if ca - t >= min_gap_s:
                out.append((t, ca))
            t = max(t, cb)
            if t >= rb:
                break
        if rb - t >= min_gap_s:
            out.append((t, rb))
    return out


def trim_word_ends(words: Sequence[Any], regions: Sequence[tuple[float, float]],
                   pad_s: float = 0.2) -> None:
    """Whisper's alignment often stretches a word that ends an utterance into the following
    pause. A word that starts inside a VAD speech stretch ends at most ``pad_s`` after it."""
    if not regions:
        return
    import bisect

    starts = [a for a, _ in regions]
    for w in words:
        i = bisect.bisect_right(starts, w.start) - 1
        if i < 0:
            continue
        a, b = regions[i]
        if a <= w.start <= b and w.end > b + pad_s:
            w.end = round(max(w.start, b + pad_s), 3)


def clips_for(gaps: Sequence[tuple[float, float]], limit_s: float, pad_s: float = 0.2,
              max_s: float = 29.0) -> list[dict[str, float]]:
    """Decoding clips (≤ ``max_s`` each) covering ``gaps`` padded by ``pad_s``."""
    clips: list[dict[str, float]] = []
    for a, b in gaps:
        a, b = max(0.0, a - pad_s), min(limit_s, b + pad_s)
        while b - a > 0.05:
            e = min(b, a + max_s)
            clips.append({"start": round(a, 3), "end": round(e, 3)})
            a = e
    return clips

