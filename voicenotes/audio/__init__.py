"""Finding, checking and decoding audio input (reliability.md §0, §2, §4; performance.md §2).

The danger with audio is not the crash but the *silent partial success*: faster-whisper's decoder
returns whatever PyAV could read, skips invalid frames without telling anyone, and trusts a WAV
header that a crashed recorder never finished (0.1 s read out of 9.8 s). This module makes every
one of those cases visible:

* :func:`find_inputs` turns files and folders into a deterministic list of audio files, never
  touching FIFOs, devices or sockets (opening a FIFO hangs forever) and surviving symlink loops.
* :func:`probe` rejects what is not usable audio with one plain line (:class:`AudioError`) and
  returns an :class:`~voicenotes.schema.AudioInfo` with the SHA-256, the duration the container
  claims and, for PCM WAV, the duration the *file size* implies.
* :func:`iter_audio` decodes in a streaming way (mono float32 at 16 kHz, the same samples as
  ``faster_whisper.decode_audio``) in fixed blocks so memory stays flat for a 10-hour file, and
  counts decoded seconds and decode errors. A WAV whose header under-states its data is read in
  full through an in-memory header repair (the file on disk is never changed).
* :func:`finish_check` turns "decoded less than expected" into ``partial=True`` and a reason.
* :func:`check_channels` detects stereo whose downmix cancels (anti-phase wiring).

numpy and PyAV are imported inside the functions: ``voicenotes --help`` must stay light.
Messages never contain session content; file names are fine.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import stat
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voicenotes.errors import AudioError
from voicenotes.schema import AudioInfo

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

AUDIO_EXTENSIONS = frozenset({
    # audio
    "wav", "wave", "flac", "mp3", "m4a", "m4b", "aac", "ogg", "oga", "opus", "wma", "aiff",
    "aif", "aifc", "caf", "amr", "awb", "ac3", "mka", "spx", "au", "snd", "w64", "rf64", "ape",
    "wv", "mp2", "gsm", "3ga",
    # video with a sound track
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "3gp", "3g2", "wmv", "asf", "flv", "mpg", "mpeg",
    "ts", "mts", "m2ts", "vob", "ogv",
})

SAMPLE_RATE = 16000
#: A decode may fall short of the expected duration by this much before the input is partial.
PARTIAL_TOLERANCE_S = 0.5
#: Sample rates outside this range are a broken header, not audio (real files go 8 k-768 kHz).
MIN_RATE, MAX_RATE = 1000, 1_536_000
#: Downmix energy below this fraction of the mean channel energy means the channels cancel.
CANCEL_RATIO = 0.25
#: How much of a multi-channel file :func:`probe` decodes to look for cancelling channels.
CHANNEL_CHECK_S = 300.0
#: Consecutive demuxer errors after which decoding gives up (the rest counts as missing).
_MAX_CONSECUTIVE_ERRORS = 200

_FIXED_RATE_WAV_TAGS = {1: "pcm", 3: "float", 6: "alaw", 7: "mulaw"}
_TMP_PREFIX = ".tmp-"


# --------------------------------------------------------------------------- finding inputs


def _name(path: Path) -> str:
    """The path as a printable string (undecodable bytes in a file name become U+FFFD)."""
    return printable(str(path))


def printable(text: str) -> str:
    """``text`` with surrogate-escaped bytes (non-UTF-8 file names) replaced, safe to print or
    write as UTF-8 JSON."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _stat_error(path: Path, exc: OSError) -> AudioError:
    """Turn an ``os.stat`` failure into one plain line."""
    if exc.errno == errno.ELOOP:
        return AudioError(f"{_name(path)} is a symbolic link that points back to itself (a link "
                          "loop), so there is nothing to read.",
                          hint="Give the real file instead of the link.")
    if exc.errno == errno.ENOENT:
        if os.path.lexists(path):
            return AudioError(f"{_name(path)} is a link to a file that no longer exists.",
                              hint="Give the real file instead of the link.")
        return AudioError(f"No such file: {_name(path)}.",
                          hint="Check the spelling and the folder.")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return AudioError(f"Cannot read {_name(path)}: permission denied.",
                          hint="Ask the file's owner for read access, or copy it somewhere you "
                          "can read.")
    if exc.errno == errno.ENOTDIR:
        return AudioError(f"No such file: {_name(path)} (a part of the path is not a folder).",
                          hint="Check the spelling and the folder.")
    if exc.errno == errno.ENAMETOOLONG:
        return AudioError(f"The file name is too long: {_name(path)}.",
                          hint="Rename or move the file to a shorter path.")
    return AudioError(f"Cannot read {_name(path)}: {exc.strerror or 'system error'}.",
                      hint="Check the file and try again.")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def is_audio_name(path: Path) -> bool:
    """True when the file name has one of :data:`AUDIO_EXTENSIONS` (case-insensitive)."""
    return path.suffix[1:].lower() in AUDIO_EXTENSIONS


def _real(path: Path) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def _under(path: Path, roots: Sequence[Path]) -> bool:
    for root in roots:
        if path == root or root in path.parents:
            return True
    return False


def find_inputs(paths: Iterable[str | os.PathLike], *,
                outputs_to_skip: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Expand files and folders into the list of inputs to process.

    * Paths are kept in the order given; a folder is searched recursively (following links to
      folders, each real folder visited once, so link loops end) and its audio files are added
      in sorted path order. The result is the same for the same tree on every run.
    * Inside folders only names with an :data:`AUDIO_EXTENSIONS` extension count; hidden files
      (``.name``, which includes interrupted ``.tmp-*`` writes and macOS ``._name`` shadows),
      non-regular files (FIFOs, devices, sockets), broken links and link loops are skipped
      without opening them.
    * A file named explicitly is kept whatever its extension (:func:`probe` decides); an explicit
      FIFO/device/link loop is kept too so that :func:`probe` can say what is wrong with it.
    * ``outputs_to_skip``: files or folders (e.g. the ``--out`` folder) that a folder search
      must not take input from. Only what lies *inside* the searched folder is skipped: with
      ``--out`` equal to (or above) the input folder the search still runs, and a file named
      explicitly is always kept.
    * The same real file is listed once. A missing path raises :class:`AudioError`.
    """
    skip_all = [_real(Path(p)) for p in outputs_to_skip]
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path, skip: Sequence[Path] = ()) -> None:
        real = _real(p)
        if real in seen or _under(real, skip):
            return
        seen.add(real)
        out.append(p)

    for raw in paths:
        p = Path(raw)
        try:
            st = os.stat(p)
        except OSError as exc:
            if exc.errno == errno.ELOOP or (exc.errno == errno.ENOENT and os.path.lexists(p)):
                add(p)  # probe() gives the plain reason
                continue
            raise _stat_error(p, exc) from None
        if stat.S_ISDIR(st.st_mode):
            root = _real(p)
            skip = [q for q in skip_all if q != root and q not in root.parents]
            for f in _walk_folder(p, skip):
                add(f, skip)
        else:
            add(p)
    return out


def _walk_folder(root: Path, skip: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=None):
        try:
            dst = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (dst.st_dev, dst.st_ino)
        if key in visited or _under(_real(Path(dirpath)), skip):
            dirnames[:] = []
            continue
        visited.add(key)
        here = _real(Path(dirpath))
        keep = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            sub = Path(dirpath) / d
            if os.path.islink(sub):
                target = _real(sub)
                if target == here or target in here.parents:
                    continue  # a link back up the tree: a loop, not more recordings
            keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            if name.startswith(".") or name.startswith(_TMP_PREFIX):
                continue
            f = Path(dirpath) / name
            if not is_audio_name(f):
                continue
            try:
                fst = os.stat(f)  # follows links; never opens
            except OSError:
                continue  # broken link, link loop, vanished
            if stat.S_ISREG(fst.st_mode):
                found.append(f)
    found.sort(key=lambda q: q.relative_to(root).parts)
    return found


# --------------------------------------------------------------------------- WAV header


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


def _chunk_chain_ok(fh, offset: int, size: int) -> bool:
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
                b = fh.read(min(csize, 40))
                if len(b) < 16:
                    raise AudioError(f"{_name(path)} has a damaged WAV header (format block too "
                                     "short).", hint="Export the recording again.")
                tag, chans, rate, _bps, align, bits = struct.unpack("<HHIIHH", b[:16])
                if tag == 0xFFFE and len(b) >= 26:
                    tag = struct.unpack("<H", b[24:26])[0]
                fmt = (tag, chans, rate, align, bits)
            elif cid == b"data":
                if fmt is None:
                    return None
                tag, chans, rate, align, bits = fmt
                if rate < MIN_RATE or rate > MAX_RATE:
                    raise AudioError(
                        f"{_name(path)} has a damaged header: it claims a sample rate of "
                        f"{rate} Hz, which no recording has.",
                        hint="Export or convert the recording again (e.g. to 16 kHz WAV).")
                if chans == 0:
                    raise AudioError(f"{_name(path)} has a damaged header: it claims 0 "
                                     "channels.", hint="Export the recording again.")
                if align == 0 and bits:
                    align = chans * ((bits + 7) // 8)
                declared: int | None = csize
                if rf64 and csize == 0xFFFFFFFF and ds64_data is not None:
                    declared = ds64_data
                elif csize in (0, 0xFFFFFFFF):
                    declared = None
                return WavHeader(tag, chans, rate, align, bits, body, declared, size - body,
                                 4, offset + 4, rf64)
            offset = body + csize + (csize & 1)
            if csize == 0xFFFFFFFF:
                return None  # let the demuxer judge a chunk that claims the rest of the file
    # walked the whole file (or 4096 chunks) without finding the audio: do not let the demuxer
    # crawl through it (FFmpeg takes ~0.2 s per MB of junk)
    raise AudioError(f"{_name(path)} is a WAV file with no audio data in it (its header is "
                     "damaged or it was never written).",
                     hint="Export the recording again, or use the recorder's backup copy.")


def _needs_repair(path: Path, h: WavHeader) -> bool:
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
        self._fh = open(path, "rb")
        self._patches = patches
        self._size = os.fstat(self._fh.fileno()).st_size

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


def _repaired_wav(path: Path, h: WavHeader) -> _PatchedFile:
    usable = h.available_data - h.available_data % h.block_align
    data_size = usable if usable <= 0xFFFFFFFE else 0xFFFFFFFF
    riff_size = min(h.data_offset + usable - 8, 0xFFFFFFFF)
    return _PatchedFile(path, {h.riff_size_offset: struct.pack("<I", riff_size),
                               h.data_size_offset: struct.pack("<I", data_size)})


# --------------------------------------------------------------------------- probe


def _av_errors():
    import av

    return (av.error.FFmpegError, OSError, ValueError, IndexError, EOFError)


def _check_regular(path: Path) -> os.stat_result:
    """Stat first (never open a FIFO); raise AudioError for anything but a readable file."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _stat_error(path, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(f"{_name(path)} is a folder, not an audio file.",
                         hint="voicenotes transcribe accepts folders and processes every audio "
                         "file inside.")
    if not stat.S_ISREG(st.st_mode):
        raise AudioError(f"{_name(path)} is {_kind(st.st_mode)}, not a recording file; it was "
                         "not opened.", hint="Save the recording to a regular file first.")
    if st.st_size == 0:
        raise AudioError(f"{_name(path)} is empty (0 bytes): there is no recording in it.",
                         hint="Check the recording was saved or copied completely.")
    if not os.access(path, os.R_OK):
        raise AudioError(f"Cannot read {_name(path)}: permission denied.",
                         hint="Ask the file's owner for read access, or copy it somewhere you "
                         "can read.")
    return st


def _open_container(path: Path, source=None):
    import av

    try:
        return av.open(source if source is not None else str(path), mode="r",
                       metadata_errors="ignore")
    except PermissionError:
        raise AudioError(f"Cannot read {_name(path)}: permission denied.",
                         hint="Ask the file's owner for read access.") from None
    except _av_errors():
        raise AudioError(f"{_name(path)} is not a readable audio or video file (it may be "
                         "damaged, or a different kind of file renamed).",
                         hint="Open it in a media player to check, or export it again "
                         "(WAV, FLAC, MP3 or M4A).") from None


def probe(path: str | os.PathLike, *, check_channels_s: float | None = CHANNEL_CHECK_S) -> AudioInfo:
    """Check that ``path`` is usable audio and describe it; raise :class:`AudioError` if not.

    Never opens a non-regular file. Fills ``sha256`` (of the file), ``container_duration_s``
    (what the container/header claims), ``file_duration_s`` (what the file size implies, PCM
    WAV only), ``duration_s`` (the best estimate before decoding; :func:`finish_check` replaces
    it with the decoded duration), rate, channels and codec. For a multi-channel file the first
    ``check_channels_s`` seconds are decoded per channel to set ``channels_cancel``
    (``None`` skips it).
    """
    from voicenotes.store import sha256_file

    path = Path(path)
    _check_regular(path)
    try:
        digest = sha256_file(path)
    except PermissionError:
        raise AudioError(f"Cannot read {_name(path)}: permission denied.",
                         hint="Ask the file's owner for read access.") from None
    except OSError as exc:
        raise AudioError(f"Cannot read {_name(path)}: {exc.strerror or 'read error'}.",
                         hint="Check the disk or copy the file again.") from None

    try:
        wav = read_wav_header(path)
    except OSError as exc:
        raise AudioError(f"Cannot read {_name(path)}: {exc.strerror or 'read error'}.",
                         hint="Check the disk or copy the file again.") from None
    repair = wav is not None and _needs_repair(path, wav)
    source = _repaired_wav(path, wav) if repair else None

    container = _open_container(path, source)
    try:
        streams = container.streams
        if not streams.audio:
            if streams.video:
                raise AudioError(f"{_name(path)} has no sound track (it holds video only), so "
                                 "there is nothing to transcribe.",
                                 hint="Use the recording that has the sound.")
            raise AudioError(f"{_name(path)} contains no audio.",
                             hint="Use the recording that has the sound.")
        stream = streams.audio[0]
        cc = stream.codec_context
        rate = int(stream.sample_rate or cc.sample_rate or 0)
        channels = int(getattr(stream, "channels", 0) or cc.channels or 0)
        codec = getattr(cc.codec, "canonical_name", None) or cc.name  # "mp3", not "mp3float"
        if wav is None and rate and not MIN_RATE <= rate <= MAX_RATE:
            raise AudioError(f"{_name(path)} has a damaged header: it claims a sample rate of "
                             f"{rate} Hz.", hint="Export or convert the recording again.")
        container_s = _stream_duration(container, stream)
        _first_frame_check(path, container, stream)
    finally:
        container.close()
        if source is not None:
            source.close()

    file_s = None
    if wav is not None and wav.fixed_rate:
        rate, channels = wav.sample_rate, wav.channels
        file_s = round(wav.file_s, 3) if wav.file_s is not None else None
        declared = wav.declared_s
        container_s = declared if declared is not None else (container_s if not repair else None)
    if container_s is not None:
        container_s = round(container_s, 3)
    estimate = max([d for d in (container_s, file_s) if d is not None], default=0.0)
    info = AudioInfo(
        file_name=printable(path.name), sha256=digest, duration_s=estimate,
        container_duration_s=container_s, sample_rate=rate or None,
        channels=channels or None, codec=codec,
    )
    info = _with(info, file_duration_s=file_s, header_repaired=repair)
    if _ogg_unfinished(path):
        info = _with(info, partial=True, partial_reason=(
            "The file ends without its closing mark (an Ogg/Opus file cut short, or a recorder "
            "that stopped unexpectedly); the end of the recording may be missing."))
    if channels and channels > 1 and check_channels_s:
        check = check_channels(path, max_s=check_channels_s)
        info = _with(info, channels_cancel=check.cancel, downmix_ratio=check.ratio)
    return info


def _ogg_unfinished(path: Path) -> bool:
    """True for an Ogg file (Vorbis, Opus, FLAC-in-Ogg) whose last page is cut short or lacks
    the end-of-stream flag. Ogg containers compute their duration from the last page, so a
    truncated file otherwise looks complete."""
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as fh:
            if fh.read(4) != b"OggS":
                return False
            start = max(0, size - 131072)
            fh.seek(start)
            tail = fh.read()
    except OSError:
        return False
    pos = tail.rfind(b"OggS")
    while pos >= 0:
        head = tail[pos:pos + 27]
        if len(head) == 27 and head[4] == 0:  # version 0: a real page header
            nseg = head[26]
            table = tail[pos + 27:pos + 27 + nseg]
            if len(table) < nseg:
                return True
            end = pos + 27 + nseg + sum(table)
            if end > len(tail):
                return True  # the last page is cut short
            return not head[5] & 0x04  # no end-of-stream flag on the last page
        pos = tail.rfind(b"OggS", 0, pos)
    return True  # no page header in the last 128 KB (pages are < 64 KB): damaged tail


def _stream_duration(container, stream) -> float | None:
    """Seconds of the *audio* stream the container claims, or None when it does not say.

    The stream's own duration first, then a Matroska/WebM per-track ``DURATION`` tag; the
    container's overall duration only when there is no other stream (with video it measures
    the picture, which may run longer than the sound).
    """
    import av

    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    for key, value in (stream.metadata or {}).items():
        if key.upper() == "DURATION":
            try:
                h, m, sec = str(value).split(":")
                return int(h) * 3600 + int(m) * 60 + float(sec)
            except ValueError:
                break
    if container.duration and container.duration > 0 and len(container.streams) == 1:
        return container.duration / av.time_base
    return None


def _first_frame_check(path: Path, container, stream) -> None:
    """Reject a file whose first packets all fail to decode (e.g. garbage after a real header).

    A file with no packets at all (a 0-second WAV) is accepted: it is empty audio, not broken.
    """
    import av

    packets = errors = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            packets += 1
            try:
                if packet.decode():
                    return
            except av.error.FFmpegError:
                errors += 1
            if packets >= 32:
                break
    except _av_errors():
        errors += 1
    if packets and errors >= packets:
        raise AudioError(f"{_name(path)} cannot be decoded: its audio data is damaged or in a "
                         "format this computer cannot read.",
                         hint="Open it in a media player to check, or export it again.")


def _with(info: AudioInfo, **changes) -> AudioInfo:
    """``dataclasses.replace`` limited to the fields AudioInfo has (schema may lag behind)."""
    names = {f.name for f in dataclasses.fields(AudioInfo)}
    return dataclasses.replace(info, **{k: v for k, v in changes.items() if k in names})


# --------------------------------------------------------------------------- streaming decode


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

        import av
        import numpy as np

        _check_regular(self.path)
        source = None
        try:
            wav = read_wav_header(self.path)
        except OSError as exc:
            raise AudioError(f"Cannot read {_name(self.path)}: {exc.strerror or 'read error'}.",
                             hint="Check the disk or copy the file again.") from None
        if wav is not None and _needs_repair(self.path, wav):
            source = _repaired_wav(self.path, wav)
            self.header_repaired = True
        container = _open_container(self.path, source)
        block_n = max(1, int(round(self.block_s * self.sample_rate)))
        limit = None if self.max_s is None else int(self.max_s * self.sample_rate)
        resampler = None
        fifo = None
        try:
            if not container.streams.audio:
                raise AudioError(f"{_name(self.path)} has no sound track, so there is nothing "
                                 "to transcribe.", hint="Use the recording that has the sound.")
            stream = container.streams.audio[0]
            self.source_rate = int(stream.sample_rate or 0) or None
            self.channels = int(getattr(stream, "channels", 0) or 0) or None
            group_n = max(4096, min(500_000, int((self.source_rate or 48000) * 10)))
            pending: list[np.ndarray] = []
            pending_n = 0

            out_layout = None if self.per_channel else "mono"

            def resampled(frame):
                nonlocal resampler, out_layout
                if resampler is None:
                    if out_layout is None and frame is not None:
                        # per channel: keep the first layout even if the stream changes later
                        out_layout = frame.layout
                    resampler = av.audio.resampler.AudioResampler(
                        format="s16p" if self.per_channel else "s16",
                        layout=out_layout, rate=self.sample_rate)
                for out in resampler.resample(frame):
                    arr = out.to_ndarray()
                    if not self.per_channel:
                        arr = arr.reshape(1, -1)
                    yield arr

            def grouped():
                nonlocal fifo
                for frame in self._frames(container, stream):
                    frame.pts = None  # as faster-whisper: ignore timestamp gaps
                    if fifo is None:
                        fifo = av.audio.fifo.AudioFifo()
                    try:
                        fifo.write(frame)
                    except ValueError:  # format/layout/rate changed mid-stream
                        if fifo.samples:
                            yield fifo.read()
                        yield _FLUSH  # the next resampler takes the new input format
                        fifo = av.audio.fifo.AudioFifo()
                        fifo.write(frame)
                    if fifo.samples >= group_n:
                        yield fifo.read()
                if fifo is not None and fifo.samples:
                    yield fifo.read()

            def arrays():
                nonlocal resampler
                for item in grouped():
                    if item is _FLUSH:
                        if resampler is not None:
                            yield from resampled(None)
                            resampler = None
                        continue
                    yield from resampled(item)
                if resampler is not None:
                    yield from resampled(None)

            for arr in arrays():
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
            self.finished = True
        finally:
            container.close()
            if source is not None:
                source.close()
            del resampler, fifo
            gc.collect()  # PyAV resampler graphs are freed only by the GC (faster-whisper#390)

    def _to_float(self, block):
        import numpy as np

        out = block.astype(np.float32) / 32768.0
        return out if self.per_channel else out[0]

    def _frames(self, container, stream):
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
    pass


_FLUSH = _Flush()


def _take(pending, n, pending_n):
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


def decode_channels(path: str | os.PathLike, *, max_s: float | None = None,
                    sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode the whole file (or its first ``max_s`` s) per channel: float32 ``(channels, n)``.

    For short files and tests; long files should stream with ``iter_audio(per_channel=True)``.
    """
    import numpy as np

    blocks = list(iter_audio(path, per_channel=True, max_s=max_s, sample_rate=sample_rate,
                             block_s=60.0))
    if not blocks:
        return np.zeros((1, 0), dtype=np.float32)
    return np.concatenate(blocks, axis=1)


# --------------------------------------------------------------------------- checks


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

    n = max(1, int(frame_s * SAMPLE_RATE))
    ch_ms: list[float] = []
    mono_ms: list[float] = []
    channels = 1
    carry = None
    for block in iter_audio(path, per_channel=True, max_s=max_s, block_s=30.0):
        channels = block.shape[0]
        if channels < 2:
            return ChannelCheck(channels, None, False, 0.0)
        if carry is not None:
            block = np.concatenate([carry, block], axis=1)
        usable = block.shape[1] - block.shape[1] % n
        carry = block[:, usable:] if usable < block.shape[1] else None
        frames = block[:, :usable].astype(np.float64).reshape(channels, -1, n)
        ch_ms.extend((frames ** 2).mean(axis=2).mean(axis=0).tolist())
        mono_ms.extend((frames.mean(axis=0) ** 2).mean(axis=1).tolist())
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


def finish_check(info: AudioInfo, decoded_s: float, decode_errors: int = 0,
                 *, header_repaired: bool | None = None) -> AudioInfo:
    """Compare what was decoded with what the file promised; return an updated copy.

    ``duration_s`` becomes ``decoded_s``. ``partial`` is set (with a plain ``partial_reason``)
    when the decode fell short of the container's or the file size's duration by more than
    :data:`PARTIAL_TOLERANCE_S`, when PyAV rejected frames as invalid, or when a WAV header had
    to be repaired (the recorder stopped before finishing the file, so its end may be missing).
    """
    repaired = bool(getattr(info, "header_repaired", False) if header_repaired is None
                    else header_repaired)
    expected = [d for d in (info.container_duration_s, getattr(info, "file_duration_s", None))
                if d is not None]
    reasons: list[str] = []
    if expected:
        want = max(expected) if not repaired else (getattr(info, "file_duration_s", None)
                                                   or max(expected))
        if decoded_s < want - PARTIAL_TOLERANCE_S:
            reasons.append(f"only {_fmt_s(decoded_s)} of {_fmt_s(want)} could be read; the "
                           "file is probably cut short or damaged")
    if decode_errors:
        reasons.append(f"{decode_errors} damaged part{'s' if decode_errors != 1 else ''} of the "
                       f"audio could not be read and {'were' if decode_errors != 1 else 'was'} "
                       "skipped")
    if repaired:
        reasons.append("the file's header was never finished (the recorder may have stopped "
                       f"unexpectedly); all {_fmt_s(decoded_s)} in the file were read, but the "
                       "end of the recording may be missing")
    changes = {"duration_s": round(float(decoded_s), 3), "decode_errors": int(decode_errors),
               "header_repaired": repaired}
    # keep what probe() already found (e.g. an Ogg file without its end mark), once
    earlier = []
    if info.partial and info.partial_reason:
        earlier = [r[:1].lower() + r[1:] for r in info.partial_reason.rstrip(".").split("; ")]
    earlier = [r for r in earlier if not r.startswith(("only ", "the file's header was never"))
               and "damaged part" not in r]
    reasons = earlier + reasons
    if reasons:
        text = "; ".join(reasons)
        changes.update(partial=True, partial_reason=text[:1].upper() + text[1:] + ".")
    return _with(info, **changes)


def _fmt_s(s: float) -> str:
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
