"""Plain 16-bit PCM WAV files: the 44-byte header, a crash-safe writer whose size fields are
patched and fsync'd as it goes, and a lossless join of rolled-over parts."""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path
from typing import Any

from voicenotes.errors import StorageError
from voicenotes.store import fsync_dir

WAV_HEADER_BYTES = 44
SAMPLE_WIDTH = 2  # int16
DEFAULT_SAMPLE_RATE = 16000
_HEADER = "<4sI4s4sIHHIIHH4sI"


def wav_header(rate: int, channels: int, data_bytes: int, sampwidth: int = SAMPLE_WIDTH) -> bytes:
    block_align = channels * sampwidth
    return struct.pack(
        _HEADER,
        b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, channels, rate,
        rate * block_align, block_align, sampwidth * 8, b"data", data_bytes)


def read_header(head: bytes) -> dict[str, int] | None:
    """Parse our fixed 44-byte PCM header; None when it is not one."""
    if len(head) < WAV_HEADER_BYTES:
        return None
    (riff, riff_size, wave_, fmt, fmt_len, tag, channels, rate, _byte_rate, block_align, bits,
     data, data_size) = struct.unpack(_HEADER, head[:WAV_HEADER_BYTES])
    if (riff, wave_, fmt, data) != (b"RIFF", b"WAVE", b"fmt ", b"data") or fmt_len != 16 \
            or tag != 1 or channels < 1 or rate < 1 or bits % 8:
        return None
    return {"riff_size": riff_size, "channels": channels, "rate": rate,
            "sampwidth": bits // 8, "block_align": block_align, "data_size": data_size}


def read_file_header(path: Path) -> dict[str, int] | None:
    """:func:`read_header` of the file at ``path``."""
    with open(path, "rb") as fh:
        return read_header(fh.read(WAV_HEADER_BYTES))


class CrashSafeWav:
    """A PCM WAV file whose size fields are patched and fsync'd on :meth:`sync`."""

    def __init__(self, path: Path, rate: int, channels: int):
        self.path = Path(path)
        self.rate, self.channels = rate, channels
        self.frame_bytes = channels * SAMPLE_WIDTH
        self.data_bytes = 0
        self.synced_bytes = WAV_HEADER_BYTES  # file offset up to which data is fsync'd
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._write_all(wav_header(rate, channels, 0))
        os.fsync(self.fd)
        fsync_dir(self.path.parent)

    @property
    def frames(self) -> int:
        return self.data_bytes // self.frame_bytes

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def write(self, data: bytes) -> None:
        self._write_all(data)
        self.data_bytes += len(data)

    def sync(self) -> None:
        os.pwrite(self.fd, struct.pack("<I", 36 + self.data_bytes), 4)
        os.pwrite(self.fd, struct.pack("<I", self.data_bytes), 40)
        os.fsync(self.fd)
        self.synced_bytes = WAV_HEADER_BYTES + self.data_bytes

    def close(self) -> None:
        if self.fd < 0:
            return
        try:
            self.sync()
        finally:
            os.close(self.fd)
            self.fd = -1


# --------------------------------------------------------------------------- joining parts


def _same_format_headers(files: list[Path]) -> list[dict[str, int]]:
    infos = []
    for f in files:
        info = read_file_header(f)
        if info is None:
            raise StorageError(f"{f.name} is not a recording made by voicenotes.")
        infos.append(info)
    first = infos[0]
    fmt = (first["rate"], first["channels"], first["sampwidth"])
    if any((i["rate"], i["channels"], i["sampwidth"]) != fmt for i in infos):
        raise StorageError("The recording's files have different formats and cannot be joined.")
    return infos


def _copy_data(src: Path, data_size: int, out: Any) -> None:
    with open(src, "rb") as fh:
        fh.seek(WAV_HEADER_BYTES)
        left = data_size
        while left > 0:
            block = fh.read(min(left, 1 << 20))
            if not block:
                break
            out.write(block)
            left -= len(block)


def combine_wavs(files: list[Path], dest: Path) -> Path:
    """Concatenate rolled-over files (same format) losslessly into one WAV, atomically."""
    files = [Path(f) for f in files]
    infos = _same_format_headers(files)
    first = infos[0]
    total = sum(i["data_size"] for i in infos)
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=dest.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(wav_header(first["rate"], first["channels"], total, first["sampwidth"]))
            for f, info in zip(files, infos, strict=True):
                _copy_data(f, info["data_size"], out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StorageError(f"Could not join the recording's files: {exc.strerror or exc}.",
                           hint="The separate files are kept; run `voicenotes note` on each.") \
            from None
    return dest
