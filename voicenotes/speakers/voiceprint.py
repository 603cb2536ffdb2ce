"""Voice models and features for speaker separation: loading the two networks (pyannote
segmentation-3.0 and CAM++, weights from ``voicenotes models install speakers``), Kaldi-style
filter banks, CAM++ voice embeddings, level normalisation and the Silero speech regions used for
enrollment. :mod:`voicenotes.speakers.diarize` (diarization) and :mod:`voicenotes.speakers` (words, roles,
enrollment) build on it. numpy and torch are imported inside functions.
"""

from __future__ import annotations

import functools
import importlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicenotes.errors import DependencyError, ModelError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

# oneDNN (torch's CPU convolutions) caches compiled kernels per input shape, 1024 by default; the
# voice embeddings come in many lengths, so on a long recording the cache alone grew RSS by
# ~600 MB. A cache of 64 costs about 5% of the stage's speed (scripts/bench_speakers.py). Read
# when torch first runs a convolution, so it is set before torch is imported here.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")

SAMPLE_RATE = 16000
INSTALL_HINT = ("Install speaker separation with: pip install 'voicenotes[speakers]' "
                "(or, in this checkout: .venv/bin/pip install -e '.[speakers]'), then: "
                "voicenotes models install speakers")
ENCODER_NAME = "CAM++ voice embeddings (3D-Speaker, 192-d) + pyannote segmentation-3.0"
SEGMENTATION_FILE = "segmentation-3.0.pt"
EMBEDDING_FILE = "campplus_cn_en_common.pt"
EMBED_DIM = 192


# --------------------------------------------------------------------------- dependencies


def _require() -> None:
    """Raise DependencyError (exit 9) when the optional ``speakers`` extra is missing or broken,
    and ModelError (exit 4) when its model files are not installed."""
    missing = []
    for mod in ("torch", "scipy", "asteroid_filterbanks"):
        try:
            importlib.import_module(mod)
        except Exception:
            missing.append(mod)
    if missing:
        raise DependencyError(
            "Speaker separation needs optional components that are not installed "
            f"({', '.join(missing)}).", hint=INSTALL_HINT)
    _model_dir()


def _model_dir() -> Path:
    from voicenotes.models import speaker_model_dir

    return speaker_model_dir()


@dataclass
class _Models:
    segmentation: Any
    powerset: np.ndarray  # 7 x 3: which local speakers each powerset class holds
    frame_step: float
    frame_duration: float
    embedding: Any


@functools.lru_cache(maxsize=1)
def load_models() -> _Models:
    """Load both networks once (about 0.5 s after torch is imported)."""
    _require()
    from itertools import combinations

    import numpy as np
    import torch

    from voicenotes.speakers.nets.campplus import CAMPPlus
    from voicenotes.speakers.nets.pyannet import LocalPyanNet

    folder = _model_dir()
    try:
        seg = torch.load(folder / SEGMENTATION_FILE, map_location="cpu", weights_only=True)
        cfg = seg["model"]
        net = LocalPyanNet(output_dim=cfg["output_dim"], sincnet=cfg.get("sincnet"),
                           lstm=cfg.get("lstm"), linear=cfg.get("linear"),
                           sample_rate=cfg["sample_rate"], num_channels=cfg["num_channels"])
        net.load_state_dict(seg["state_dict"], strict=True)
        net.eval()
        emb = CAMPPlus(feat_dim=80, embedding_size=EMBED_DIM)
        emb.load_state_dict(torch.load(folder / EMBEDDING_FILE, map_location="cpu",
                                       weights_only=True), strict=True)
        emb.eval()
    except (OSError, KeyError, RuntimeError, ValueError, TypeError):
        raise ModelError("The speaker-separation model files could not be read.",
                         hint="Reinstall them: voicenotes models install speakers --force") from None
    rows = []
    for size in range(cfg["powerset_max_classes"] + 1):
        for combo in combinations(range(cfg["num_regular_classes"]), size):
            r = np.zeros(cfg["num_regular_classes"], dtype=np.float32)
            r[list(combo)] = 1.0
            rows.append(r)
    return _Models(net, np.stack(rows), float(cfg["frame_step"]), float(cfg["frame_duration"]),
                   emb)


# --------------------------------------------------------------------------- features


@functools.lru_cache(maxsize=1)
def _kaldi_mel_banks() -> np.ndarray:
    """80 triangular filters on Kaldi's mel scale, 20 Hz..8 kHz, for a 512-point FFT (257 bins,
    the Nyquist bin weighted 0) — what Kaldi's and torchaudio's ``fbank`` use."""
    import numpy as np

    def mel(f):
        return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    lo, hi = mel(20.0), mel(SAMPLE_RATE / 2)
    delta = (hi - lo) / 81
    fm = mel(np.arange(256) * SAMPLE_RATE / 512)
    banks = np.zeros((80, 257), dtype=np.float32)
    for b in range(80):
        left, centre, right = lo + b * delta, lo + (b + 1) * delta, lo + (b + 2) * delta
        up = (fm - left) / (centre - left)
        down = (right - fm) / (right - centre)
        banks[b, :256] = np.maximum(0.0, np.minimum(up, down))
    return banks


def fbank(wav: np.ndarray):
    """Kaldi-compatible log mel filter banks (frames x 80, 25-ms Povey windows every 10 ms,
    snip_edges, pre-emphasis 0.97, DC removed, no dither): CAM++'s input. A torch tensor."""
    import torch

    x = torch.as_tensor(wav, dtype=torch.float32)
    if len(x) < 400:
        x = torch.nn.functional.pad(x, (0, 400 - len(x)))
    frames = x.unfold(0, 400, 160)
    frames = frames - frames.mean(dim=1, keepdim=True)
    frames = torch.cat([frames[:, :1] * (1 - 0.97), frames[:, 1:] - 0.97 * frames[:, :-1]], dim=1)
    window = torch.hann_window(400, periodic=False, dtype=torch.float64).pow(0.85).float()
    power = torch.fft.rfft(frames * window, n=512).abs().pow(2)
    banks = torch.from_numpy(_kaldi_mel_banks())
    return torch.log(torch.clamp(power @ banks.T, min=1.1920929e-07))


def _embed(feats: list, batch: int = 16) -> np.ndarray:
    """L2-normed CAM++ embeddings of mean-normalised filter-bank stretches (one per item)."""
    import numpy as np
    import torch

    net = load_models().embedding
    out = np.zeros((len(feats), EMBED_DIM), dtype=np.float32)
    by_len: dict[int, list[int]] = {}
    for i, f in enumerate(feats):
        by_len.setdefault(len(f), []).append(i)
    with torch.inference_mode():
        for idx in by_len.values():  # equal lengths run as one batch (no padding)
            for a in range(0, len(idx), batch):
                part = idx[a:a + batch]
                v = net(torch.stack([feats[i] for i in part])).numpy()
                out[part] = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-8)
    return out


def normalize_volume(wav: np.ndarray, target_dbfs: float = -30.0) -> np.ndarray:
    """Raise (never lower) the level to ``target_dbfs`` RMS (quiet enrollment recordings reach
    the voice-activity detector at a usable level)."""
    import numpy as np

    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
    if rms <= 1e-9:
        return wav
    change = target_dbfs - 20 * math.log10(rms)
    if change < 0:
        return wav
    return (wav * np.float32(10 ** (change / 20))).astype(np.float32)



def embed_utterance(wav: np.ndarray, max_s: float = 60.0) -> np.ndarray:
    """One L2-normed voice embedding for a stretch of one person's speech (its first ``max_s``
    seconds; filter banks mean-normalised over the stretch)."""
    import numpy as np

    wav = np.asarray(wav, dtype=np.float32)[:int(max_s * SAMPLE_RATE)]
    feats = fbank(wav)
    return _embed([feats - feats.mean(dim=0, keepdim=True)])[0]


def vad_regions(wav: np.ndarray, threshold: float = 0.35, min_silence_ms: int = 250,
                pad_ms: int = 200) -> list[tuple[float, float]]:
    """Speech regions (seconds) from the Silero VAD that ships with faster-whisper: how much of
    an enrollment recording is speech, and which stretches to embed."""
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
