"""A second look at the stretches where one speaker talks: short pieces get their own voice
embeddings and each frame goes to the cluster its pieces sound most like (two similar voices
taking turns within one segmentation window). numpy is imported inside functions."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from voicenotes.speakers.options import DEFAULT_OPTIONS, SpeakerOptions
from voicenotes.speakers.voiceprint import EMBED_DIM, SAMPLE_RATE, _embed, fbank, load_models

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def relabel(wav: np.ndarray, act: np.ndarray, active: np.ndarray, cents: np.ndarray,
            opts: SpeakerOptions = DEFAULT_OPTIONS) -> tuple[np.ndarray, np.ndarray]:
    """A second look at the stretches where one speaker talks. The segmentation model sometimes
    hears two similar voices taking turns within a window as one local speaker, and the
    clustering can only label that local speaker as a whole. Here each such stretch gets voice
    embeddings of short pieces (``relabel_s`` every ``relabel_hop_s``), and each frame goes to
    the cluster its pieces sound most like; the clusters' voices are then re-estimated from the
    pieces and the stretches labelled again (``relabel_passes``). Overlapped speech is left as
    it is. Returns (act, active) with the changed frames' activities swapped accordingly."""
    k = active.shape[1]
    if opts.relabel_passes <= 0 or len(cents) < 2 or k < 2:
        return act, active
    runs, e = _single_speaker_pieces(wav, active, opts)
    if not runs:
        return act, active
    labels = _label_runs(runs, e, cents, k, opts)
    return _swap_labels(act, active, runs, labels)


#: One stretch of single-speaker frames: first and end frame, each piece's frames (run-relative)
#: and the pieces' rows in the embedding matrix.
_Run = tuple[int, int, "np.ndarray", "np.ndarray"]


def _single_speaker_pieces(wav: np.ndarray, active: np.ndarray,
                           opts: SpeakerOptions) -> tuple[list[_Run], np.ndarray]:
    """The stretches where one speaker talks, cut into short pieces, and the pieces' voice
    embeddings (one row per piece, in run order)."""
    import numpy as np

    m = load_models()
    fs, off = m.frame_step, 0.5 * m.frame_duration
    x = np.diff(np.concatenate([[0], (active.sum(axis=1) == 1).astype(np.int8), [0]]))
    runs: list[_Run] = []
    items: list = []
    embs: list[np.ndarray] = []
    for a, b in zip(np.where(x == 1)[0], np.where(x == -1)[0], strict=True):
        t0, t1 = a * fs + off, b * fs + off
        if t1 - t0 < opts.relabel_min_s:
            continue
        # equal lengths batch together: a whole piece, or a short stretch in 0.1-s steps
        length = min(opts.relabel_s, math.floor((t1 - t0) * 10) / 10)
        if length <= 0:
            continue
        ws = np.arange(t0, t1 - length + 1e-6, opts.relabel_hop_s)
        if ws[-1] + length < t1 - 1e-3:
            ws = np.append(ws, t1 - length)
        # the frames each piece covers (frame centres within [s, s + length)), run-relative
        span = np.stack([np.ceil((ws - off) / fs), np.ceil((ws + length - off) / fs)], axis=1)
        span = np.clip(span.astype(np.int64) - a, 0, b - a)
        first = len(items) + sum(len(e) for e in embs)
        n = int(round(length * SAMPLE_RATE))
        for s0 in ws:
            f = fbank(wav[int(s0 * SAMPLE_RATE):int(s0 * SAMPLE_RATE) + n])
            items.append(f - f.mean(dim=0, keepdim=True))
        runs.append((int(a), int(b), span, np.arange(first, first + len(ws))))
        if len(items) >= 256:  # embed in blocks: memory stays flat on long recordings
            embs.append(_embed(items))
            items = []
    if items:
        embs.append(_embed(items))
    if not runs:
        return runs, np.zeros((0, EMBED_DIM), dtype=np.float32)
    return runs, np.concatenate(embs)


def _spread(span: np.ndarray, vals: np.ndarray, n: int) -> np.ndarray:
    """n frames x columns: the sum of ``vals`` over the pieces covering each frame."""
    import numpy as np

    acc = np.zeros((n + 1, vals.shape[1]), dtype=np.float64)
    np.add.at(acc, span[:, 0], vals)
    np.subtract.at(acc, span[:, 1], vals)
    return np.cumsum(acc, axis=0)[:-1]


def _label_runs(runs: list[_Run], e: np.ndarray, cents: np.ndarray, k: int,
                opts: SpeakerOptions) -> list[np.ndarray]:
    """Each run's frames labelled with the closest cluster voice, the voices re-estimated from
    the pieces between passes."""
    import numpy as np

    voices = np.array(cents, dtype=np.float32)  # a copy: the clusters' centroids stay as they are
    labels: list[np.ndarray] = []
    for done in range(opts.relabel_passes):
        labels = []
        for a, b, span, ids in runs:
            labels.append(np.argmax(_spread(span, e[ids] @ voices.T, b - a), axis=1))
        if done == opts.relabel_passes - 1:
            break
        _update_voices(voices, runs, labels, e, k)
    return labels


def _update_voices(voices: np.ndarray, runs: list[_Run], labels: list[np.ndarray],
                   e: np.ndarray, k: int) -> None:
    """The clusters' voices (in place) from the pieces, each weighted by its frames now labelled
    so."""
    import numpy as np

    weights = np.zeros((len(e), k), dtype=np.float64)
    for (a, b, span, ids), lab in zip(runs, labels, strict=True):
        cover = _spread(span, np.ones((len(span), 1)), b - a)
        share = np.eye(k)[lab] / np.maximum(cover, 1.0)
        cum = np.concatenate([np.zeros((1, k)), np.cumsum(share, axis=0)])
        weights[ids] = cum[span[:, 1]] - cum[span[:, 0]]
    for c in range(k):
        if weights[:, c].sum() >= 3:
            v = weights[:, c] @ e
            voices[c] = v / max(float(np.linalg.norm(v)), 1e-8)


def _swap_labels(act: np.ndarray, active: np.ndarray, runs: list[_Run],
                 labels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Copies of (act, active) with each run's frames moved to their new labels."""
    import numpy as np

    act, active = act.copy(), active.copy()
    for (a, b, _, _), lab in zip(runs, labels, strict=True):
        cur = np.argmax(active[a:b], axis=1)
        rows = np.arange(a, b)
        old_v, new_v = act[rows, cur].copy(), act[rows, lab].copy()
        act[rows, lab], act[rows, cur] = old_v, new_v
        active[a:b] = False
        active[rows, lab] = True
    return act, active
