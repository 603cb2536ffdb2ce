"""Cutting a streamed file into windows of at most ``window_s``, each cut inside a pause.

Every sample is fed exactly once, so no word is lost or duplicated at a window edge, and peak
memory does not grow with the length of the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from voicenotes.transcribe.vad import SAMPLE_RATE


def find_cut(tail: Any, sample_rate: int = SAMPLE_RATE) -> int:
    """Where to cut ``tail`` (1-D float32): the middle of its longest pause.

    Silero VAD speech probability per 32-ms frame; a pause is a run of frames below 0.35 (the
    VAD's own end-of-speech threshold). Ties go to the latest pause. With no pause at all (music,
    continuous noise), the quietest 32-ms frame. Returns a sample index into ``tail``.
    """
    import numpy as np
    from faster_whisper.vad import get_vad_model

    frame = 512
    n = len(tail) // frame
    if n <= 2:
        return len(tail)
    audio = np.ascontiguousarray(tail[: n * frame], dtype=np.float32)
    probs = np.asarray(get_vad_model()(audio)).reshape(-1)[:n]
    best_len, best_mid = _longest_pause(probs < 0.35)
    if best_len == 0:
        rms = np.sqrt((audio.reshape(n, frame) ** 2).mean(axis=1))
        best_mid = int(np.argmin(rms[::-1]))
        best_mid = n - 1 - best_mid
    return int(best_mid * frame + frame // 2)


def iter_windows(blocks: Iterable[Any], window_s: float, cut_search_s: float,
                 sample_rate: int = SAMPLE_RATE) -> Iterator[tuple[int, Any]]:
    """Group streamed blocks into ``(offset_samples, window)`` pairs, each ≤ ``window_s``
    long, cut inside a pause (:func:`find_cut`). Every sample appears in exactly one window."""
    import numpy as np

    win = int(window_s * sample_rate)
    search = int(cut_search_s * sample_rate)
    parts: list[Any] = []
    held = 0
    offset = 0
    for block in blocks:
        if block is None or len(block) == 0:
            continue
        parts.append(np.asarray(block, dtype=np.float32))
        held += len(parts[-1])
        while held >= win:
            buf = np.concatenate(parts) if len(parts) > 1 else parts[0]
            start = win - search
            cut = start + find_cut(buf[start:win], sample_rate)
            cut = max(1, min(cut, win))
            yield offset, buf[:cut]
            rest = buf[cut:]
            offset += cut
            parts = [rest] if len(rest) else []
            held = len(rest)
    if held:
        buf = np.concatenate(parts) if len(parts) > 1 else parts[0]
        yield offset, buf



def _longest_pause(silent: Any) -> tuple[int, int]:
    """(length, middle frame) of the longest run of silent frames, the latest on a tie;
    (0, -1) when no frame is silent."""
    n = len(silent)
    best_len, best_mid = 0, -1
    i = 0
    while i < n:
        if silent[i]:
            j = i
            while j < n and silent[j]:
                j += 1
            if j - i >= best_len:
                best_len, best_mid = j - i, (i + j) // 2
            i = j
        else:
            i += 1
    return best_len, best_mid
