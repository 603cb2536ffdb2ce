"""The acoustic half of speaker separation: voice embeddings and mono diarization.

Silero voice-activity regions (the VAD that ships with faster-whisper) -> 1.6-s windows every
0.75 s -> speaker embeddings (the GE2E voice encoder whose weights ship inside the
``resemblyzer`` wheel, run with torch on the CPU; nothing downloads) -> agglomerative clustering
on cosine distance (number of speakers estimated by silhouette with a same-voice check and tiny
clusters folded, or given) -> per-frame speaker scores (:class:`Diarization`).

:mod:`voicenotes.speakers` builds on this (words, turns, channels, roles, enrollment) and
re-exports these names. numpy and torch are imported inside functions. Nothing here sees
transcript words.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from voicenotes.errors import DependencyError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


SAMPLE_RATE = 16000
FRAME_S = 0.01  # one mel frame (10 ms hop)
INSTALL_HINT = ("Install speaker separation with: pip install 'voicenotes[speakers]' "
                "(or, in this checkout: .venv/bin/pip install -e '.[speakers]').")
ENCODER_NAME = "resemblyzer GE2E voice encoder (resemblyzer 0.1.4, 256-d)"


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class SpeakerOptions:
    """Settings of the speaker stage, with the defaults used everywhere.

    window_s/hop_s: embedding windows (the encoder was trained on 1.6-s partials).
    max_speakers: upper bound when the number of speakers is estimated.
    same_voice_similarity: two clusters whose centroids are at least this similar (cosine) are
      one voice, so a one-speaker recording is not split in two.
    switch_penalty: cost of a speaker change between two words with no pause (Viterbi, in
      units of mean cosine score); ``pause_s`` or a sentence end makes a change free.
    enroll_match: cosine similarity of a speaker to the enrolled counselor voice needed to call
      that speaker the counselor.
    vad_*: Silero settings for the mono path (a lower threshold than Silero's 0.5: far-field
      speech is quiet; chosen on the AMI trn/dev clips, enrollment keeps 0.35).
    min_cluster_s: when the number of speakers is estimated, a cluster of fewer windows than
      this many seconds of hops is folded into its nearest one (a laugh or a few mixed
      windows are not a speaker; chosen on the AMI trn/dev clips).
    """

    window_s: float = 1.6
    hop_s: float = 0.75
    min_region_s: float = 0.3
    max_speakers: int = 6
    same_voice_similarity: float = 0.8
    switch_penalty: float = 0.08
    pause_s: float = 0.35
    enroll_match: float = 0.75
    channel_correlation_max: float = 0.3
    channel_dominance_min: float = 0.6
    channel_dominance_db: float = 10.0
    vad_threshold: float = 0.25
    vad_min_silence_ms: int = 250
    vad_pad_ms: int = 200
    min_cluster_s: float = 2.0


DEFAULT_OPTIONS = SpeakerOptions()


# --------------------------------------------------------------------------- dependencies


def _require() -> None:
    """Raise DependencyError (exit 9) when the optional ``speakers`` extra is missing or broken."""
    missing = []
    for mod in ("torch", "sklearn"):
        try:
            importlib.import_module(mod)
        except Exception:  # noqa: BLE001 - ImportError, or a broken install (OSError …)
            missing.append(mod)
    try:
        if importlib.util.find_spec("resemblyzer") is None:
            missing.append("resemblyzer")
    except (ImportError, ValueError):
        missing.append("resemblyzer")
    if missing:
        raise DependencyError(
            "Speaker separation needs optional components that are not installed "
            f"({', '.join(missing)}).", hint=INSTALL_HINT)


def _weights_path() -> Path:
    """The encoder weights inside the installed resemblyzer package (not imported: its
    ``__init__`` pulls librosa and webrtcvad, which we do not need)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError("The speaker-embedding model is not installed.", hint=INSTALL_HINT)
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    if not path.is_file():
        raise DependencyError("The speaker-embedding model file is missing from the resemblyzer "
                              "package.", hint="Reinstall it: " + INSTALL_HINT)
    return path


@functools.lru_cache(maxsize=1)
def load_encoder():
    """Load the voice encoder once (about 0.1 s after torch is imported)."""
    _require()
    import torch
    from torch import nn

    class _Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(40, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-8)

    try:
        state = torch.load(_weights_path(), map_location="cpu", weights_only=True)["model_state"]
    except DependencyError:
        raise
    except Exception:  # noqa: BLE001 - a damaged file: say so plainly
        raise DependencyError("The speaker-embedding model file could not be read.",
                              hint="Reinstall it: " + INSTALL_HINT) from None
    enc = _Encoder()
    enc.load_state_dict({k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))})
    enc.eval()
    return enc


# --------------------------------------------------------------------------- features


@functools.lru_cache(maxsize=1)
def _mel_basis():
    """40 Slaney mel filters for a 400-point FFT at 16 kHz (librosa's ``filters.mel`` defaults;
    a test checks it against librosa)."""
    import numpy as np

    n_fft, n_mels, sr = 400, 40, SAMPLE_RATE
    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)

    def hz_to_mel(f):
        f = np.asanyarray(f, dtype=np.float64)
        f_sp = 200.0 / 3
        mels = f / f_sp
        min_log_hz = 1000.0
        logstep = np.log(6.4) / 27.0
        return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)

    def mel_to_hz(m):
        m = np.asanyarray(m, dtype=np.float64)
        f_sp = 200.0 / 3
        freqs = f_sp * m
        min_log_mel = 1000.0 / f_sp
        logstep = np.log(6.4) / 27.0
        return np.where(m >= min_log_mel, 1000.0 * np.exp(logstep * (m - min_log_mel)), freqs)

    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    return (weights * enorm[:, None]).astype(np.float32)


def mel_frames(wav: "np.ndarray") -> "np.ndarray":
    """Mel power spectrogram, frames x 40, one frame per 10 ms (frame i centred at i*10 ms):
    the encoder's input, as resemblyzer computes it with librosa (centred, zero-padded).
    Computed in blocks, so memory stays at the output plus one block."""
    import numpy as np

    n_fft, hop, half = 400, 160, 200
    wav = np.asarray(wav, dtype=np.float32)
    n = 1 + len(wav) // hop
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    out = np.empty((n, 40), dtype=np.float32)
    basis = _mel_basis().T
    step = 6000  # frames per block (60 s)
    for a in range(0, n, step):
        b = min(n, a + step)
        lo, hi = a * hop - half, (b - 1) * hop + half  # samples this block's frames read
        seg = wav[max(0, lo):min(len(wav), hi)]
        seg = np.pad(seg, (max(0, -lo), max(0, hi - len(wav))))
        idx = np.arange(b - a)[:, None] * hop + np.arange(n_fft)[None, :]
        spec = np.abs(np.fft.rfft(seg[idx] * window, axis=1)) ** 2
        out[a:b] = spec.astype(np.float32) @ basis
    return out


def normalize_volume(wav: "np.ndarray", target_dbfs: float = -30.0,
                     inplace: bool = False) -> "np.ndarray":
    """Raise (never lower) the level to ``target_dbfs`` RMS, as the encoder was trained."""
    import numpy as np

    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
    if rms <= 1e-9:
        return wav
    change = target_dbfs - 20 * math.log10(rms)
    if change < 0:
        return wav
    gain = np.float32(10 ** (change / 20))
    if inplace and isinstance(wav, np.ndarray) and wav.dtype == np.float32:
        wav *= gain
        return wav
    return (wav * gain).astype(np.float32)


def embed_windows(mels: "np.ndarray", starts: Sequence[int], length: int,
                  batch: int = 128) -> "np.ndarray":
    """Embeddings (n x 256, L2-normed) of mel windows ``mels[s:s+length]``."""
    import numpy as np
    import torch

    enc = load_encoder()
    if not len(starts):
        return np.zeros((0, 256), dtype=np.float32)
    out = []
    # One thread: this small LSTM gains nothing from a second one, and with the other core busy
    # (Whisper, other programs) OpenMP's waiting costs several times the work (measured 8x CPU).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            for a in range(0, len(starts), batch):
                chunk = np.stack([_window(mels, s, length) for s in starts[a:a + batch]])
                out.append(enc(torch.from_numpy(chunk)).numpy())
    finally:
        torch.set_num_threads(threads)
    return np.concatenate(out).astype(np.float32)


def _window(mels, start: int, length: int):
    import numpy as np

    w = mels[start:start + length]
    if len(w) < length:
        w = np.concatenate([w, np.zeros((length - len(w), mels.shape[1]), dtype=mels.dtype)])
    return w


def embed_utterance(wav: "np.ndarray") -> "np.ndarray":
    """One L2-normed embedding for a stretch of one person's speech (mean of 1.6-s partials)."""
    import numpy as np

    mels = mel_frames(normalize_volume(wav))
    length = 160
    starts = list(range(0, max(1, len(mels) - length + 1), 80)) or [0]
    embs = embed_windows(mels, starts, length)
    v = embs.mean(axis=0)
    return (v / max(float(np.linalg.norm(v)), 1e-8)).astype(np.float32)


# --------------------------------------------------------------------------- mono diarization


@dataclass
class Diarization:
    """The acoustic result of the mono path: ``labels[k]`` is cluster k's label (``S1``, ``S2``
    … in order of first speech), ``centroids`` k x 256, ``frame_scores`` frames x k (cosine
    similarity of the windows around each 10-ms frame to each centroid), ``speech`` the VAD
    regions in seconds."""

    labels: list[str]
    centroids: "np.ndarray"
    frame_scores: "np.ndarray"
    speech: list[tuple[float, float]]
    estimated: bool
    silhouette: float | None = None
    n_windows: int = 0

    def frame_labels(self) -> "np.ndarray":
        """Index of the best speaker per frame (-1 outside speech)."""
        import numpy as np

        best = np.argmax(self.frame_scores, axis=1) if len(self.labels) else \
            np.zeros(len(self.frame_scores), dtype=int)
        mask = np.zeros(len(self.frame_scores), dtype=bool)
        for a, b in self.speech:
            mask[int(round(a / FRAME_S)):int(round(b / FRAME_S))] = True
        return np.where(mask, best, -1)

    def turns(self) -> list[tuple[float, float, str]]:
        """(start_s, end_s, label) runs of speech, for RTTM output and DER."""
        lab = self.frame_labels()
        out: list[tuple[float, float, str]] = []
        start = None
        for i in range(len(lab) + 1):
            cur = lab[i] if i < len(lab) else -1
            prev = lab[i - 1] if i > 0 else -1
            if i > 0 and cur != prev and prev >= 0:
                out.append((round(start * FRAME_S, 3), round(i * FRAME_S, 3), self.labels[prev]))
            if cur >= 0 and (i == 0 or cur != prev):
                start = i
        return out

    def overlap_turns(self, margin: float, min_s: float = 0.3) -> list[tuple[float, float, str]]:
        """Second-speaker runs (start_s, end_s, label) for overlapped speech: speech frames
        where the runner-up speaker scores within ``margin`` of the best one, in runs of at
        least ``min_s``. Extra to :meth:`turns` (an RTTM may hold overlapping turns); the
        one-speaker-per-word labels of :func:`assign_speakers` never use it."""
        import numpy as np

        if margin <= 0 or len(self.labels) < 2:
            return []
        lab = self.frame_labels()
        order = np.argsort(-self.frame_scores, axis=1)
        top = np.take_along_axis(self.frame_scores, order[:, :2], axis=1)
        second = np.where((lab >= 0) & (top[:, 0] - top[:, 1] <= margin), order[:, 1], -1)
        out: list[tuple[float, float, str]] = []
        min_f = int(round(min_s / FRAME_S))
        i, n = 0, len(second)
        while i < n:
            if second[i] < 0:
                i += 1
                continue
            j = i
            while j < n and second[j] == second[i]:
                j += 1
            if j - i >= min_f:
                out.append((round(i * FRAME_S, 3), round(j * FRAME_S, 3), self.labels[second[i]]))
            i = j
        return out


def vad_regions(wav: "np.ndarray", threshold: float = 0.35, min_silence_ms: int = 250,
                pad_ms: int = 200) -> list[tuple[float, float]]:
    """Speech regions (seconds) from the Silero VAD that ships with faster-whisper. A lower
    threshold and wider padding than Silero's defaults: far-field meeting speech is quiet, and a
    missed region is lost from diarization (diarize passes SpeakerOptions.vad_*; the defaults
    here serve enrollment)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(threshold=threshold, min_silence_duration_ms=min_silence_ms,
                      speech_pad_ms=pad_ms, min_speech_duration_ms=100)
    block = 300 * SAMPLE_RATE  # 5-min blocks: the VAD's working memory stays flat
    out: list[tuple[float, float]] = []
    for off in range(0, max(1, len(wav)), block):
        part = wav[off:off + block]
        if len(part) < SAMPLE_RATE // 10:
            continue
        out.extend(((off + c["start"]) / SAMPLE_RATE, (off + c["end"]) / SAMPLE_RATE)
                   for c in get_speech_timestamps(part, opts))
    return out


def _window_starts(regions, n_frames: int, opts: SpeakerOptions) -> list[tuple[int, int]]:
    """(start_frame, length) windows covering each region."""
    win = int(round(opts.window_s / FRAME_S))
    hop = int(round(opts.hop_s / FRAME_S))
    out: list[tuple[int, int]] = []
    for a_s, b_s in regions:
        a, b = int(a_s / FRAME_S), min(n_frames, int(math.ceil(b_s / FRAME_S)))
        if b - a < int(opts.min_region_s / FRAME_S):
            continue
        if b - a <= win:
            out.append((a, b - a))
            continue
        s = a
        while s + win < b:
            out.append((s, win))
            s += hop
        out.append((b - win, win))
    return out


def _embed_all(mels, windows) -> "np.ndarray":
    import numpy as np

    embs = np.zeros((len(windows), 256), dtype=np.float32)
    by_len: dict[int, list[int]] = {}
    for i, (_, n) in enumerate(windows):
        by_len.setdefault(n, []).append(i)
    for n, idx in by_len.items():
        embs[idx] = embed_windows(mels, [windows[i][0] for i in idx], n)
    return embs


def _normed(x):
    import numpy as np

    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


def cluster(embs: "np.ndarray", n_speakers: int | None,
            opts: SpeakerOptions = DEFAULT_OPTIONS) -> tuple["np.ndarray", float | None]:
    """Cluster window embeddings. Given N: agglomerative (cosine, average linkage) into N.
    Estimated: the k in 2..max_speakers with the best cosine silhouette, then clusters whose
    centroids are ``same_voice_similarity`` alike are merged (so one voice stays one speaker).
    Returns (labels per window, silhouette of the chosen k or None)."""
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    n = len(embs)
    if n == 0:
        return np.zeros(0, dtype=int), None
    if n_speakers == 1 or n < 3:
        return np.zeros(n, dtype=int), None

    def agglo(k):
        return AgglomerativeClustering(n_clusters=k, metric="cosine",
                                       linkage="average").fit_predict(embs)

    if n_speakers:
        return _refine(embs, agglo(min(n_speakers, n))), None
    best_k, best_s, best_lab = 1, -1.0, np.zeros(n, dtype=int)
    for k in range(2, min(opts.max_speakers, n - 1) + 1):
        lab = _refine(embs, agglo(k))
        if len(set(lab.tolist())) < 2:
            continue
        s = float(silhouette_score(embs, lab, metric="cosine"))
        if s > best_s:
            best_k, best_s, best_lab = k, s, lab
    lab = _merge_small(embs, _merge_same_voice(embs, best_lab, opts),
                       opts.min_cluster_s / opts.hop_s)
    return lab, (round(best_s, 4) if best_k > 1 else None)


def _centroids(embs, lab):
    import numpy as np

    ks = sorted(set(lab.tolist()))
    return _normed(np.stack([embs[lab == k].mean(axis=0) for k in ks])), ks


def _refine(embs, lab, rounds: int = 3):
    """A few nearest-centroid passes (k-means on the sphere) after the agglomerative start."""
    import numpy as np

    for _ in range(rounds):
        cents, ks = _centroids(embs, lab)
        new = np.asarray(ks)[np.argmax(embs @ cents.T, axis=1)]
        if np.array_equal(new, lab):
            break
        lab = new
    _, ks = _centroids(embs, lab)
    remap = {k: i for i, k in enumerate(ks)}
    return np.asarray([remap[k] for k in lab.tolist()])


def _merge_small(embs, lab, min_windows: float):
    """Fold clusters of fewer than ``min_windows`` windows into their nearest neighbour (a
    cough, a laugh or a few windows of mixed voices are not a speaker of their own)."""
    import numpy as np

    while min_windows > 0:
        ks, counts = np.unique(lab, return_counts=True)
        if len(ks) < 2 or counts.min() >= min_windows:
            return lab
        small = ks[int(np.argmin(counts))]
        cents, order = _centroids(embs, lab)
        sim = cents @ cents[order.index(small)]
        sim[order.index(small)] = -2
        lab = np.where(lab == small, order[int(np.argmax(sim))], lab)
        lab = _refine(embs, lab, rounds=1)
    return lab


def _merge_same_voice(embs, lab, opts):
    import numpy as np

    while True:
        cents, ks = _centroids(embs, lab)
        if len(ks) < 2:
            return lab
        sim = cents @ cents.T
        np.fill_diagonal(sim, -1)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] < opts.same_voice_similarity:
            return lab
        lab = np.where(lab == ks[j], ks[i], lab)
        lab = _refine(embs, lab, rounds=1)


def diarize(wav: "np.ndarray", n_speakers: int | None = None,
            opts: SpeakerOptions = DEFAULT_OPTIONS,
            regions: list[tuple[float, float]] | None = None,
            inplace: bool = False) -> Diarization:
    """Who spoke when, from mono 16-kHz audio alone (no transcript needed). ``inplace``: the
    caller's array may be rescaled and is released early (saves one copy of the audio)."""
    import numpy as np

    _require()
    wav = normalize_volume(np.asarray(wav, dtype=np.float32), inplace=inplace)
    mels = mel_frames(wav)
    n_frames = len(mels)
    if regions is None:
        regions = vad_regions(wav, opts.vad_threshold, opts.vad_min_silence_ms, opts.vad_pad_ms)
    del wav  # only the mel frames are needed from here on
    windows = _window_starts(regions, n_frames, opts)
    embs = _embed_all(mels, windows)
    lab, sil = cluster(embs, n_speakers, opts)
    if not len(windows):
        return Diarization([], np.zeros((0, 256), np.float32), np.zeros((n_frames, 0)), regions,
                           n_speakers is None)
    cents, ks = _centroids(embs, lab)
    sims = embs @ cents.T  # windows x k
    # Each frame: weighted mean of the scores of the windows that cover it (a Hann weight, so a
    # window speaks mostly for its centre); frames no window covers take the nearest window's.
    acc = np.zeros((n_frames, len(ks)), dtype=np.float64)
    wsum = np.zeros(n_frames, dtype=np.float64)
    for (s, n), row in zip(windows, sims):
        w = np.hanning(n + 2)[1:-1]
        e = min(n_frames, s + n)
        acc[s:e] += w[:e - s, None] * row[None, :]
        wsum[s:e] += w[:e - s]
    covered = wsum > 0
    if not covered.all():
        idx = np.where(covered)[0]
        near = idx[np.clip(np.searchsorted(idx, np.arange(n_frames)), 0, len(idx) - 1)]
        prev = idx[np.clip(np.searchsorted(idx, np.arange(n_frames)) - 1, 0, len(idx) - 1)]
        pick = np.where(np.abs(prev - np.arange(n_frames)) < np.abs(near - np.arange(n_frames)),
                        prev, near)
        acc[~covered] = acc[pick[~covered]]
        wsum[~covered] = wsum[pick[~covered]]
    scores = (acc / wsum[:, None]).astype(np.float32)
    # label clusters S1, S2 … in order of first speech
    first = [int(np.argmax(np.argmax(scores, axis=1) == k)) if (np.argmax(scores, axis=1) == k).any()
             else n_frames for k in range(len(ks))]
    order = sorted(range(len(ks)), key=lambda k: first[k])
    scores = scores[:, order]
    cents = cents[order]
    labels = [f"S{i + 1}" for i in range(len(order))]
    return Diarization(labels, cents, scores, regions, n_speakers is None, sil, len(windows))
