"""Stereo whose downmix cancels: left and right in anti-phase (a miswired telehealth headset or
interface) sum to near silence when mixed to mono, and the transcript would be empty."""

from __future__ import annotations

import os
from dataclasses import dataclass

from voicenotes.audio.decode import SAMPLE_RATE, iter_audio

#: Downmix energy below this fraction of the mean channel energy means the channels cancel.
CANCEL_RATIO = 0.25
#: How much of a multi-channel file :func:`~voicenotes.audio.probe` decodes to look for
#: cancelling channels.
CHANNEL_CHECK_S = 300.0


@dataclass(frozen=True)
class ChannelCheck:
    """Result of :func:`check_channels`. ``ratio`` is RMS(downmix) / RMS(channels) over the
    active parts (1.0 identical channels, ~0.71 independent or one silent channel, 0 exact
    anti-phase); ``None`` when nothing was loud enough to judge."""

    channels: int
    ratio: float | None
    cancel: bool
    active_s: float


def check_channels(path: str | os.PathLike, *, max_s: float | None = CHANNEL_CHECK_S,
                   frame_s: float = 0.5, threshold: float = CANCEL_RATIO) -> ChannelCheck:
    """Decide whether downmixing ``path`` to mono would cancel its content.

    Per ``frame_s`` frame: mean square of each channel and of the plain average of the channels
    (the downmix). Active frames are those whose mean channel level is above −50 dBFS and above
    10% of the 95th-percentile level (so speech, not the noise floor, decides). ratio =
    sqrt(Σ downmix energy / Σ mean channel energy) over active frames; ``cancel`` when
    ratio < ``threshold`` (0.25, i.e. the downmix is ≥12 dB quieter than its channels).
    """
    import numpy as np

    channels, ch_ms, mono_ms = _frame_energies(path, max_s, max(1, int(frame_s * SAMPLE_RATE)))
    if channels < 2 or not ch_ms:
        return ChannelCheck(channels, None, False, 0.0)
    ch = np.asarray(ch_ms)
    mono = np.asarray(mono_ms)
    level = np.sqrt(ch)
    floor = max(10 ** (-50 / 20), 0.1 * float(np.percentile(level, 95)))
    active = level >= floor
    if not active.any():
        return ChannelCheck(channels, None, False, 0.0)
    ratio = float(np.sqrt(mono[active].sum() / ch[active].sum()))
    return ChannelCheck(channels, round(ratio, 4), ratio < threshold,
                        round(float(active.sum()) * frame_s, 2))


def _frame_energies(path: str | os.PathLike, max_s: float | None,
                    n: int) -> tuple[int, list[float], list[float]]:
    """(channels, mean channel energy per ``n``-sample frame, downmix energy per frame); the
    lists stay empty for a one-channel file."""
    import numpy as np

    ch_ms: list[float] = []
    mono_ms: list[float] = []
    channels = 1
    carry = None
    for block in iter_audio(path, per_channel=True, max_s=max_s, block_s=30.0):
        channels = block.shape[0]
        if channels < 2:
            return channels, [], []
        if carry is not None:
            block = np.concatenate([carry, block], axis=1)
        usable = block.shape[1] - block.shape[1] % n
        carry = block[:, usable:] if usable < block.shape[1] else None
        frames = block[:, :usable].astype(np.float64).reshape(channels, -1, n)
        ch_ms.extend((frames ** 2).mean(axis=2).mean(axis=0).tolist())
        mono_ms.extend((frames.mean(axis=0) ** 2).mean(axis=1).tolist())
    return channels, ch_ms, mono_ms
