"""Decoding a recording for the speaker stage: per-channel frame energies, the mono signal for the
voice models, and whether the channels hold different parties (telehealth, phone lines).
numpy is imported inside functions."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voicenotes.errors import AudioError
from voicenotes.speakers.options import DEFAULT_OPTIONS, FRAME_S, SpeakerOptions
from voicenotes.speakers.voiceprint import SAMPLE_RATE, embed_utterance

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@dataclass
class _Decoded:
    """What one decoding pass yields: per-channel energy per 10-ms frame, the mono signal (only
    when the mono path needs it), and the channel-layout statistics."""

    channels: int
    energy: np.ndarray  # channels x frames (mean square)
    mono: np.ndarray | None
    correlation: float | None
    dominance: float | None
    dominant_share: list[float]



def _blocks(path: Path, per_channel: bool) -> Iterator[np.ndarray]:
    """float32 blocks (channels x n) of the file at 16 kHz."""
    from voicenotes.audio import iter_audio

    yield from iter_audio(path, per_channel=per_channel, block_s=30.0)


def decode(path: Path, keep_mono: bool = True, mono_channel: int | None = None,
           opts: SpeakerOptions = DEFAULT_OPTIONS, expected_s: float | None = None) -> _Decoded:
    """One streamed pass over ``path``: frame energies per channel, layout statistics and
    (``keep_mono``) the mono downmix (or channel ``mono_channel``) for the embedding path.
    ``expected_s`` (the transcript's duration) lets the mono signal be written into one array
    instead of joined from blocks (half the peak memory on a long recording)."""
    import numpy as np

    hop = int(SAMPLE_RATE * FRAME_S)
    energies: list = []
    mono_parts: list = []
    mono_buf = np.empty(int(expected_s * SAMPLE_RATE) + SAMPLE_RATE, dtype=np.float32) \
        if keep_mono and expected_s else None
    filled = 0
    carry = None
    sxy = sxx = syy = 0.0
    for block in _blocks(Path(path), per_channel=True):
        block = np.atleast_2d(np.asarray(block, dtype=np.float32))
        if keep_mono:
            if mono_channel is not None and mono_channel < block.shape[0]:
                part = block[mono_channel]
            else:
                part = block.mean(axis=0)
            if mono_buf is not None and filled + len(part) <= len(mono_buf):
                mono_buf[filled:filled + len(part)] = part
                filled += len(part)
            else:  # no size known, or longer than announced: keep blocks
                if mono_buf is not None:
                    mono_parts.append(mono_buf[:filled].copy())
                    mono_buf, filled = None, 0
                mono_parts.append(part.copy())
        if carry is not None:
            block = np.concatenate([carry, block], axis=1)
        usable = block.shape[1] - block.shape[1] % hop
        carry = block[:, usable:] if usable < block.shape[1] else None
        frames = block[:, :usable].astype(np.float64).reshape(block.shape[0], -1, hop)
        e = (frames ** 2).mean(axis=2)
        energies.append(e)
        if block.shape[0] >= 2:
            sxy += float((frames[0] * frames[1]).sum())
            sxx += float((frames[0] ** 2).sum())
            syy += float((frames[1] ** 2).sum())
    if carry is not None and carry.shape[1]:
        energies.append((carry.astype(np.float64) ** 2).mean(axis=1, keepdims=True))
    if not energies:
        raise AudioError(f"{Path(path).name} holds no audio samples.",
                         hint="Check the recording was saved completely.")
    energy = np.concatenate(energies, axis=1)
    mono: np.ndarray | None
    if mono_buf is not None:
        mono = mono_buf[:filled]
    else:
        mono = np.concatenate(mono_parts) if keep_mono else None
    mono_parts.clear()
    channels = energy.shape[0]
    corr = dom = None
    share: list[float] = []
    if channels >= 2:
        corr = sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0
        level = energy.mean(axis=0)
        floor = max(1e-7, 0.01 * float(np.percentile(level, 95)))  # -20 dB under the loud part
        active = level >= floor
        if active.any():
            db = 10 * np.log10(np.maximum(energy[:, active], 1e-12))
            srt = np.sort(db, axis=0)
            dom = float(np.mean(srt[-1] - srt[-2] >= opts.channel_dominance_db))
            top = np.argmax(db, axis=0)
            share = [float(np.mean(top == c)) for c in range(channels)]
    return _Decoded(channels, energy, mono, None if corr is None else round(corr, 4),
                    None if dom is None else round(dom, 4), [round(s, 4) for s in share])


def separate_channels(d: _Decoded, opts: SpeakerOptions = DEFAULT_OPTIONS) -> bool:
    """True when the channels hold different parties: near-zero sample correlation, one channel
    ``channel_dominance_db`` louder in most speech frames, and every channel leading sometimes."""
    if d.channels < 2 or d.correlation is None or d.dominance is None:
        return False
    return (abs(d.correlation) <= opts.channel_correlation_max
            and d.dominance >= opts.channel_dominance_min
            and sum(1 for s in d.dominant_share if s >= 0.05) >= 2)


def _channel_centroids(d: _Decoded, path: Path) -> np.ndarray | None:
    """One voice embedding per channel, from up to 60 s of frames where that channel is active
    and clearly the loudest, for matching the enrolled voice in a channel-separated recording."""
    import numpy as np

    energy = d.energy
    db = 10 * np.log10(np.maximum(energy, 1e-12))
    level = energy.mean(axis=0)
    active = level >= max(1e-7, 0.01 * float(np.percentile(level, 95)))
    lead = np.argmax(db, axis=0)
    srt = np.sort(db, axis=0)
    clear = active & (srt[-1] - srt[-2] >= 6.0)
    hop = int(SAMPLE_RATE * FRAME_S)
    audio = np.concatenate([np.atleast_2d(b) for b in _blocks(path, per_channel=True)], axis=1)
    out = []
    for c in range(d.channels):
        idx = np.where(clear & (lead == c))[0][:6000]
        if len(idx) < 150:  # under 1.5 s of that voice: no reliable embedding
            return None
        wav = np.concatenate([audio[c, i * hop:(i + 1) * hop] for i in idx])
        out.append(embed_utterance(wav))
    return np.stack(out)
