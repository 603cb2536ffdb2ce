"""Streaming decode: an audio or video file -> float32 blocks at 16 kHz, memory flat whatever
the length.

The samples are those of ``faster_whisper.decode_audio`` (PyAV, s16, divided by 32768), but
read block by block; frames PyAV rejects are counted, never silently dropped, and a WAV whose
header under-states its data is read in full through the in-memory header repair.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicenotes.audio.files import check_regular, open_container
from voicenotes.audio.names import shown
from voicenotes.audio.wavheader import header_of, needs_repair, repaired_wav
from voicenotes.errors import AudioError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

SAMPLE_RATE = 16000
#: Consecutive demuxer errors after which decoding gives up (the rest counts as missing).
_MAX_CONSECUTIVE_ERRORS = 200


class AudioStream:
    """Iterate over an audio file's samples in fixed blocks; see :func:`iter_audio`.

    After iteration: ``decoded_s`` (seconds of audio produced), ``decode_errors`` (packets or
    demuxer reads PyAV rejected as invalid and that were skipped), ``header_repaired`` (a WAV
    header under-stated the data and was corrected in memory), ``channels`` and
    ``source_rate`` of the input.
    """

    def __init__(self, path: str | os.PathLike, *, block_s: float = 30.0,
                 sample_rate: int = SAMPLE_RATE, per_channel: bool = False,
                 max_s: float | None = None):
        if block_s <= 0:
            raise ValueError("block_s must be positive")
        self.path = Path(path)
        self.block_s = float(block_s)
        self.sample_rate = int(sample_rate)
        self.per_channel = per_channel
        self.max_s = max_s
        self.decoded_samples = 0
        self.decode_errors = 0
        self.header_repaired = False
        self.channels: int | None = None
        self.source_rate: int | None = None
        self.finished = False

    @property
    def decoded_s(self) -> float:
        return self.decoded_samples / self.sample_rate

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._blocks()

    def _blocks(self) -> Iterator[np.ndarray]:
        import gc

        check_regular(self.path)
        source = self._repaired_source()
        container = open_container(self.path, source)
        convert = None
        try:
            stream = self._audio_stream(container)
            group_n = max(4096, min(500_000, int((self.source_rate or 48000) * 10)))
            convert = _Converter(self.per_channel, self.sample_rate, group_n)
            yield from self._cut(convert.arrays(self._frames(container, stream)))
            self.finished = True
        finally:
            container.close()
            if source is not None:
                source.close()
            del convert
            gc.collect()  # PyAV resampler graphs are freed only by the GC (faster-whisper#390)

    def _repaired_source(self) -> Any:
        """A view of the file with its WAV header repaired when it needs it, else None."""
        wav = header_of(self.path)
        if wav is not None and needs_repair(self.path, wav):
            source = repaired_wav(self.path, wav)
            self.header_repaired = True
            return source
        return None

    def _audio_stream(self, container: Any) -> Any:
        """The first sound track; records its rate and channels."""
        if not container.streams.audio:
            raise AudioError(f"{shown(self.path)} has no sound track, so there is nothing "
                             "to transcribe.", hint="Use the recording that has the sound.")
        stream = container.streams.audio[0]
        self.source_rate = int(stream.sample_rate or 0) or None
        self.channels = int(getattr(stream, "channels", 0) or 0) or None
        return stream

    def _cut(self, arrays: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Regroup int16 arrays into float blocks of ``block_s`` (stopping at ``max_s``)."""
        import numpy as np

        block_n = max(1, int(round(self.block_s * self.sample_rate)))
        limit = None if self.max_s is None else int(self.max_s * self.sample_rate)
        pending: list[np.ndarray] = []
        pending_n = 0
        for arr in arrays:
            if limit is not None:
                room = limit - self.decoded_samples - pending_n
                if room <= 0:
                    break
                arr = arr[:, :room]
            pending.append(arr)
            pending_n += arr.shape[1]
            while pending_n >= block_n:
                block, pending, pending_n = _take(pending, block_n, pending_n)
                self.decoded_samples += block.shape[1]
                yield self._to_float(block)
        if pending_n:
            block = np.concatenate(pending, axis=1)
            pending = []
            self.decoded_samples += block.shape[1]
            yield self._to_float(block)

    def _to_float(self, block: np.ndarray) -> np.ndarray:
        import numpy as np

        out = block.astype(np.float32) / 32768.0
        return out if self.per_channel else out[0]

    def _frames(self, container: Any, stream: Any) -> Iterator[Any]:
        """Decode packet by packet; count and skip what PyAV rejects (never stop silently)."""
        import av

        consecutive = 0
        while True:
            demux = container.demux(stream)
            try:
                for packet in demux:
                    try:
                        frames = packet.decode()
                    except av.error.FFmpegError:
                        self.decode_errors += 1
                        continue
                    consecutive = 0
                    yield from frames
                return
            except av.error.EOFError:
                return
            except av.error.FFmpegError:
                # a demuxer error ends PyAV's generator; a new one resumes after the bad bytes
                self.decode_errors += 1
                consecutive += 1
                if consecutive >= _MAX_CONSECUTIVE_ERRORS:
                    return


class _Flush:
    """Marks a format change: the resampler so far is drained and a new one started."""


_FLUSH = _Flush()


class _Converter:
    """Decoded frames -> int16 arrays ``(channels, n)`` at the output rate.

    Frames are grouped in a FIFO (resampling many small frames one by one is slow); a change of
    format, layout or rate mid-stream drains the current resampler and starts a new one.
    """

    def __init__(self, per_channel: bool, rate: int, group_n: int):
        self.per_channel = per_channel
        self.rate = rate
        self.group_n = group_n
        self.out_layout: Any = None if per_channel else "mono"
        self.resampler: Any = None
        self.fifo: Any = None

    def arrays(self, frames: Iterable[Any]) -> Iterator[np.ndarray]:
        for item in self._grouped(frames):
            if item is _FLUSH:
                if self.resampler is not None:
                    yield from self._resampled(None)
                    self.resampler = None
                continue
            yield from self._resampled(item)
        if self.resampler is not None:
            yield from self._resampled(None)

    def _resampled(self, frame: Any) -> Iterator[np.ndarray]:
        import av

        if self.resampler is None:
            if self.out_layout is None and frame is not None:
                # per channel: keep the first layout even if the stream changes later
                self.out_layout = frame.layout
            self.resampler = av.audio.resampler.AudioResampler(
                format="s16p" if self.per_channel else "s16",
                layout=self.out_layout, rate=self.rate)
        for out in self.resampler.resample(frame):
            arr = out.to_ndarray()
            if not self.per_channel:
                arr = arr.reshape(1, -1)
            yield arr

    def _grouped(self, frames: Iterable[Any]) -> Iterator[Any]:
        import av

        for frame in frames:
            frame.pts = None  # as faster-whisper: ignore timestamp gaps
            if self.fifo is None:
                self.fifo = av.audio.fifo.AudioFifo()
            try:
                self.fifo.write(frame)
            except ValueError:  # format/layout/rate changed mid-stream
                if self.fifo.samples:
                    yield self.fifo.read()
                yield _FLUSH  # the next resampler takes the new input format
                self.fifo = av.audio.fifo.AudioFifo()
                self.fifo.write(frame)
            if self.fifo.samples >= self.group_n:
                yield self.fifo.read()
        if self.fifo is not None and self.fifo.samples:
            yield self.fifo.read()


def _take(pending: list[np.ndarray], n: int,
          pending_n: int) -> tuple[np.ndarray, list[np.ndarray], int]:
    """The first ``n`` samples of ``pending`` as one block, and what remains."""
    import numpy as np

    joined = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
    block, rest = joined[:, :n], joined[:, n:]
    return block, ([rest] if rest.shape[1] else []), pending_n - n


def iter_audio(path: str | os.PathLike, *, block_s: float = 30.0,
               sample_rate: int = SAMPLE_RATE, per_channel: bool = False,
               max_s: float | None = None) -> AudioStream:
    """Stream ``path`` as float32 blocks of ``block_s`` seconds (the last one shorter).

    Mono by default: the same samples as ``faster_whisper.decode_audio(path)`` (PyAV mono s16
    resampling to ``sample_rate``, divided by 32768), shape ``(n,)``. ``per_channel=True`` keeps
    the input's channels, shape ``(channels, n)`` (telehealth stereo, channel checks).
    ``max_s`` stops after that much audio. Memory stays at a few blocks whatever the length.

    Returns an :class:`AudioStream`; iterate it, then read ``decoded_s``/``decode_errors``::

        stream = iter_audio(path)
        for block in stream:
            ...
        info = finish_check(info, stream.decoded_s, stream.decode_errors)
    """
    return AudioStream(path, block_s=block_s, sample_rate=sample_rate,
                       per_channel=per_channel, max_s=max_s)

