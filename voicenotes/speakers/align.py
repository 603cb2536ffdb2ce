"""Words to speakers: the units to label (words, or wordless segments), each unit's mean speaker
score over its time span, a Viterbi pass that changes speaker cheaply only at a pause or
sentence end, and the rewrite of the transcript's segments with those labels.
numpy is imported inside functions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from voicenotes.schema import Segment, Transcript, Word
from voicenotes.speakers.options import FRAME_S, SpeakerOptions

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@dataclass
class _Unit:
    """A word (or a wordless segment) to label: its segment, word index and times."""

    seg: int
    word: int | None
    start: float
    end: float
    sentence_end: bool


def _units(transcript: Transcript) -> list[_Unit]:
    out: list[_Unit] = []
    for si, seg in enumerate(transcript.segments):
        if seg.words:
            for wi, w in enumerate(seg.words):
                out.append(_Unit(si, wi, float(w.start), float(max(w.end, w.start)),
                                 w.word.strip().endswith((".", "?", "!"))))
        else:
            out.append(_Unit(si, None, float(seg.start), float(max(seg.end, seg.start)), True))
    return out


def _span_scores(frame_scores: np.ndarray, units: list[_Unit]) -> np.ndarray:
    """Mean frame score over each unit's time span (the nearest frame for a zero-length one)."""
    import numpy as np

    n = len(frame_scores)
    out = np.zeros((len(units), frame_scores.shape[1]), dtype=np.float64)
    if n == 0:
        return out
    csum = np.vstack([np.zeros((1, frame_scores.shape[1])), np.cumsum(frame_scores, axis=0)])
    for i, u in enumerate(units):
        a = min(n - 1, max(0, int(u.start / FRAME_S)))
        b = min(n, max(a + 1, int(math.ceil(u.end / FRAME_S))))
        out[i] = (csum[b] - csum[a]) / (b - a)
    return out


def viterbi(scores: np.ndarray, units: list[_Unit], opts: SpeakerOptions) -> list[int]:
    """Best speaker sequence over the words: maximise the summed scores minus a penalty for each
    change of speaker; the penalty is waived after a pause of ``pause_s`` or a sentence end, so
    turn boundaries land on the word where the speaker really changes."""
    import numpy as np

    n, k = scores.shape
    if n == 0:
        return []
    if k == 1:
        return [0] * n
    best = scores[0].copy()
    back = np.zeros((n, k), dtype=np.int64)
    for t in range(1, n):
        gap = units[t].start - units[t - 1].end
        free = gap >= opts.pause_s or units[t - 1].sentence_end or units[t].seg != units[t - 1].seg
        pen = opts.switch_penalty * (0.25 if free else 1.0)
        stay = best
        switch = best.max() - pen
        arg = int(best.argmax())
        choose_stay = stay >= switch
        back[t] = np.where(choose_stay, np.arange(k), arg)
        best = np.where(choose_stay, stay, switch) + scores[t]
    path = [int(best.argmax())]
    for t in range(n - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def _relabel(transcript: Transcript, units: list[_Unit], labels: Sequence[str | None],
             roles: dict[str, str]) -> tuple[Segment, ...]:
    """Write word and segment speakers; split a segment where its speaker changes."""
    by_seg: dict[int, list[tuple[_Unit, str | None]]] = {}
    for u, lab in zip(units, labels, strict=True):
        by_seg.setdefault(u.seg, []).append((u, lab))
    out: list[Segment] = []
    for si, seg in enumerate(transcript.segments):
        pairs = by_seg.get(si, [])
        if not seg.words:
            lab = pairs[0][1] if pairs else None
            out.append(replace(seg, id=len(out), speaker=lab, role=_role(roles, lab)))
            continue
        words = [replace(w, speaker=lab) for w, (_, lab) in zip(seg.words, pairs, strict=True)]
        runs: list[list[Word]] = []
        for w in words:
            if runs and runs[-1][-1].speaker == w.speaker:
                runs[-1].append(w)
            else:
                runs.append([w])
        for ri, run in enumerate(runs):
            lab = run[0].speaker
            text = "".join(w.word for w in run).strip() if len(runs) > 1 else seg.text
            start = seg.start if ri == 0 else run[0].start
            end = seg.end if ri == len(runs) - 1 else run[-1].end
            out.append(replace(seg, id=len(out), start=start, end=end, text=text,
                               words=tuple(run), speaker=lab, role=_role(roles, lab)))
    return tuple(out)


def _role(roles: dict[str, str], label: str | None) -> str:
    """The role of a speaker label; ``unknown`` for a label without one (or no label)."""
    return roles.get(label, "unknown") if label is not None else "unknown"
