"""Reading a WAV header, and repairing an unfinished one in memory.

A recorder that crashes before finalising its file leaves a header that under-states the data
(0.1 s claimed out of 9.8 s held); decoders trust the header and stop early. Here the header is
compared with the file size, and a view of the file with the two size fields corrected is handed
to the decoder instead. The file on disk is never changed.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from voicenotes.audio.files import read_error
from voicenotes.audio.names import shown
from voicenotes.errors import AudioError

#: Sample rates outside this range are a broken header, not audio (real files go 8 k-768 kHz).
MIN_RATE, MAX_RATE = 1000, 1_536_000

_FIXED_RATE_WAV_TAGS = {1: "pcm", 3: "float", 6: "alaw", 7: "mulaw"}


@dataclass(frozen=True)
class WavHeader:
    """What a RIFF/RF64 WAVE header says, next to what the file holds."""

    format_tag: int
    channels: int
    sample_rate: int
    block_align: int
    bits: int
    data_offset: int
    declared_data: int | None  # bytes the header claims (None: 0 or 0xFFFFFFFF placeholder)
    available_data: int  # bytes the file holds after the data chunk start
    riff_size_offset: int
    data_size_offset: int
    rf64: bool

    @property
    def fixed_rate(self) -> bool:
        return self.format_tag in _FIXED_RATE_WAV_TAGS and self.block_align > 0

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * self.block_align

    @property
    def declared_s(self) -> float | None:
        if not self.fixed_rate or self.declared_data is None:
            return None
        return self.declared_data / self.bytes_per_second

    @property
    def file_s(self) -> float | None:
        if not self.fixed_rate:
            return None
        usable = self.available_data - self.available_data % self.block_align
        return usable / self.bytes_per_second


def _chunk_chain_ok(fh: BinaryIO, offset: int, size: int) -> bool:
    """True when the bytes from ``offset`` to EOF are a plausible chain of RIFF chunks."""
    steps = 0
    while offset + 8 <= size and steps < 64:
        fh.seek(offset)
        head = fh.read(8)
        if len(head) < 8:
            return False
        cid, csize = head[:4], struct.unpack("<I", head[4:])[0]
        if not all(32 <= b < 127 for b in cid):
            return False
        offset += 8 + csize + (csize & 1)
        steps += 1
    # a trailing pad byte or a few zero bytes are tolerated
    return offset >= size or size - offset < 8


def read_wav_header(path: Path) -> WavHeader | None:
    """Parse a WAVE header; None when the file is not RIFF/RF64 WAVE or has no data chunk.

    Raises :class:`AudioError` for a header that cannot describe audio (0 Hz, absurd rate,
    0 channels) and for a RIFF/WAVE file in which no data chunk can be found.
    """
    size = os.stat(path).st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64", b"BW64"):
            return None
        rf64 = head[:4] != b"RIFF"
        ds64_data: int | None = None
        fmt: tuple[int, int, int, int, int] | None = None
        offset = 12
        for _ in range(4096):  # a real header has a handful of chunks; junk must not spin
            if offset + 8 > size:
                break
            fh.seek(offset)
            ch = fh.read(8)
            cid, csize = ch[:4], struct.unpack("<I", ch[4:])[0]
            body = offset + 8
            if cid == b"ds64":
                b = fh.read(min(csize, 28))
                if len(b) >= 16:
                    ds64_data = struct.unpack("<Q", b[8:16])[0]
            elif cid == b"fmt ":
                fmt = _format_chunk(path, fh.read(min(csize, 40)))
            elif cid == b"data":
                if fmt is None:
                    return None
                declared: int | None = csize
                if rf64 and csize == 0xFFFFFFFF and ds64_data is not None:
                    declared = ds64_data
                elif csize in (0, 0xFFFFFFFF):
                    declared = None
                return _header(path, fmt, body, declared, size - body, offset + 4, rf64)
            offset = body + csize + (csize & 1)
            if csize == 0xFFFFFFFF:
                return None  # let the demuxer judge a chunk that claims the rest of the file
    # walked the whole file (or 4096 chunks) without finding the audio: do not let the demuxer
    # crawl through it (FFmpeg takes ~0.2 s per MB of junk)
    raise AudioError(f"{shown(path)} is a WAV file with no audio data in it (its header is "
                     "damaged or it was never written).",
                     hint="Export the recording again, or use the recorder's backup copy.")


def _format_chunk(path: Path, b: bytes) -> tuple[int, int, int, int, int]:
    """(format tag, channels, rate, block align, bits) from a ``fmt `` chunk's body."""
    if len(b) < 16:
        raise AudioError(f"{shown(path)} has a damaged WAV header (format block too "
                         "short).", hint="Export the recording again.")
    tag, chans, rate, _bps, align, bits = struct.unpack("<HHIIHH", b[:16])
    if tag == 0xFFFE and len(b) >= 26:
        tag = struct.unpack("<H", b[24:26])[0]
    return tag, chans, rate, align, bits


def _header(path: Path, fmt: tuple[int, int, int, int, int], body: int, declared: int | None,
            available: int, data_size_offset: int, rf64: bool) -> WavHeader:
    """The header once its data chunk is found; a rate or channel count no audio has is an
    error."""
    tag, chans, rate, align, bits = fmt
    if rate < MIN_RATE or rate > MAX_RATE:
        raise AudioError(
            f"{shown(path)} has a damaged header: it claims a sample rate of "
            f"{rate} Hz, which no recording has.",
            hint="Export or convert the recording again (e.g. to 16 kHz WAV).")
    if chans == 0:
        raise AudioError(f"{shown(path)} has a damaged header: it claims 0 "
                         "channels.", hint="Export the recording again.")
    if align == 0 and bits:
        align = chans * ((bits + 7) // 8)
    return WavHeader(tag, chans, rate, align, bits, body, declared, available,
                     4, data_size_offset, rf64)


def header_of(path: Path) -> WavHeader | None:
    """:func:`read_wav_header` with a read failure turned into one plain line."""
    try:
        return read_wav_header(path)
    except OSError as exc:
        raise read_error(path, exc) from None


def needs_repair(path: Path, h: WavHeader) -> bool:
    """True when the header under-states the data the file holds (crash before finalising)."""
    if not h.fixed_rate or h.rf64:
        return False
    if h.declared_data is None:
        return h.available_data >= h.block_align
    if h.declared_data >= h.available_data:
        return False
    if h.available_data - h.declared_data < max(h.block_align, h.bytes_per_second // 4):
        return False  # a short tail (< 0.25 s) after a finished header is junk, not audio
    end = h.data_offset + h.declared_data + (h.declared_data & 1)
    with open(path, "rb") as fh:
        return not _chunk_chain_ok(fh, end, h.data_offset + h.available_data)


class _PatchedFile(io.RawIOBase):
    """A read-only view of a file with a few byte ranges replaced in memory."""

    def __init__(self, path: Path, patches: dict[int, bytes]):
        super().__init__()
        self._fh = open(path, "rb")  # noqa: SIM115 - held open for the decoder, closed in close()
        self._patches = patches

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def readinto(self, b) -> int:
        pos = self._fh.tell()
        n = self._fh.readinto(b)
        if not n:
            return 0
        mv = memoryview(b)
        for off, data in self._patches.items():
            lo, hi = max(off, pos), min(off + len(data), pos + n)
            if lo < hi:
                mv[lo - pos:hi - pos] = data[lo - off:hi - off]
        return n

    def close(self) -> None:
        try:
            self._fh.close()
        finally:
            super().close()


def repaired_wav(path: Path, h: WavHeader) -> _PatchedFile:
    """A view of ``path`` whose RIFF and data sizes cover every whole frame the file holds."""
    usable = h.available_data - h.available_data % h.block_align
    data_size = usable if usable <= 0xFFFFFFFE else 0xFFFFFFFF
    riff_size = min(h.data_offset + usable - 8, 0xFFFFFFFF)
    return _PatchedFile(path, {h.riff_size_offset: struct.pack("<I", riff_size),
                               h.data_size_offset: struct.pack("<I", data_size)})

