"""One channel of a multi-channel file, streamed like :func:`voicenotes.audio.iter_audio`.

A stereo recording whose channels are in anti-phase (one wire of a balanced line, a phone
adapter that inverts one side) cancels when mixed down to mono: the mix is near silence and
the transcription would find "no speech". Such a file (``AudioInfo.channels_cancel``) is
transcribed from one channel instead; the whole-file flag stays so the draft says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from voicenotes.audio import AudioStream


class OneChannel:
    """Iterate float32 mono blocks of channel ``channel``; after iteration ``decoded_s``,
    ``decode_errors`` and ``header_repaired`` read as on the stream it wraps."""

    def __init__(self, stream: AudioStream, channel: int = 0):
        self._stream = stream
        self.channel = channel

    def __iter__(self) -> Iterator[np.ndarray]:
        import numpy as np

        for block in self._stream:
            block = np.atleast_2d(block)
            c = self.channel if self.channel < block.shape[0] else 0
            yield np.ascontiguousarray(block[c], dtype=np.float32)

    @property
    def decoded_s(self) -> float:
        return self._stream.decoded_s

    @property
    def decode_errors(self) -> int:
        return self._stream.decode_errors

    @property
    def header_repaired(self) -> bool:
        return self._stream.header_repaired


def one_channel(path: str | os.PathLike, channel: int = 0, **kwargs) -> OneChannel:
    """Stream channel ``channel`` of ``path`` (keyword arguments as for ``iter_audio``)."""
    from voicenotes.audio import iter_audio

    return OneChannel(iter_audio(path, per_channel=True, **kwargs), channel)
