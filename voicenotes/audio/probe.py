"""Checking that a file is usable audio, and, after decoding, whether all of it was read.

The danger with audio is the *silent partial success*: a decoder returns whatever it could
read. :func:`probe` rejects what is not audio with one plain line and records what the file
promises (the container's duration and, for PCM WAV, the duration its size implies);
:func:`finish_check` compares that promise with what was decoded and marks the shortfall.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from voicenotes.audio.channels import CHANNEL_CHECK_S, check_channels
from voicenotes.audio.files import av_errors, check_regular, open_container, read_error
from voicenotes.audio.names import printable, shown
from voicenotes.audio.wavheader import (
    MAX_RATE,
    MIN_RATE,
    WavHeader,
    header_of,
    needs_repair,
    repaired_wav,
)
from voicenotes.errors import AudioError
from voicenotes.schema import AudioInfo

#: A decode may fall short of the expected duration by this much before the input is partial.
PARTIAL_TOLERANCE_S = 0.5

_OGG_UNFINISHED = ("The file ends without its closing mark (an Ogg/Opus file cut short, or a "
                   "recorder that stopped unexpectedly); the end of the recording may be missing.")


def probe(path: str | os.PathLike, *, check_channels_s: float | None = CHANNEL_CHECK_S) -> AudioInfo:
    """Check that ``path`` is usable audio and describe it; raise :class:`AudioError` if not.

    Never opens a non-regular file. Fills ``sha256`` (of the file), ``container_duration_s``
    (what the container/header claims), ``file_duration_s`` (what the file size implies, PCM
    WAV only), ``duration_s`` (the best estimate before decoding; :func:`finish_check` replaces
    it with the decoded duration), rate, channels and codec. For a multi-channel file the first
    ``check_channels_s`` seconds are decoded per channel to set ``channels_cancel``
    (``None`` skips it).
    """
    path = Path(path)
    check_regular(path)
    digest = _sha256(path)
    wav = header_of(path)
    repair = wav is not None and needs_repair(path, wav)
    rate, channels, codec, container_s = _read_container(path, wav, repair)

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
        channels=channels or None, codec=codec, file_duration_s=file_s, header_repaired=repair,
    )
    if _ogg_unfinished(path):
        info = dataclasses.replace(info, partial=True, partial_reason=_OGG_UNFINISHED)
    if channels and channels > 1 and check_channels_s:
        check = check_channels(path, max_s=check_channels_s)
        info = dataclasses.replace(info, channels_cancel=check.cancel, downmix_ratio=check.ratio)
    return info


def _sha256(path: Path) -> str:
    from voicenotes.store import sha256_file

    try:
        return sha256_file(path)
    except PermissionError:
        raise AudioError(f"Cannot read {shown(path)}: permission denied.",
                         hint="Ask the file's owner for read access.") from None
    except OSError as exc:
        raise read_error(path, exc) from None


def _read_container(path: Path, wav: WavHeader | None,
                    repair: bool) -> tuple[int, int, str, float | None]:
    """Open the file (through the in-memory header repair when ``repair``) and return the
    sound track's (rate, channels, codec, claimed seconds); reject a file with no sound or
    whose first packets do not decode."""
    source = repaired_wav(path, wav) if repair and wav is not None else None
    container = open_container(path, source)
    try:
        streams = container.streams
        if not streams.audio:
            if streams.video:
                raise AudioError(f"{shown(path)} has no sound track (it holds video only), so "
                                 "there is nothing to transcribe.",
                                 hint="Use the recording that has the sound.")
            raise AudioError(f"{shown(path)} contains no audio.",
                             hint="Use the recording that has the sound.")
        stream = streams.audio[0]
        cc = stream.codec_context
        rate = int(stream.sample_rate or cc.sample_rate or 0)
        channels = int(getattr(stream, "channels", 0) or cc.channels or 0)
        codec = getattr(cc.codec, "canonical_name", None) or cc.name  # "mp3", not "mp3float"
        if wav is None and rate and not MIN_RATE <= rate <= MAX_RATE:
            raise AudioError(f"{shown(path)} has a damaged header: it claims a sample rate of "
                             f"{rate} Hz.", hint="Export or convert the recording again.")
        container_s = _stream_duration(container, stream)
        _first_frame_check(path, container, stream)
    finally:
        container.close()
        if source is not None:
            source.close()
    return rate, channels, codec, container_s


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


def _stream_duration(container: Any, stream: Any) -> float | None:
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


def _first_frame_check(path: Path, container: Any, stream: Any) -> None:
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
    except av_errors():
        errors += 1
    if packets and errors >= packets:
        raise AudioError(f"{shown(path)} cannot be decoded: its audio data is damaged or in a "
                         "format this computer cannot read.",
                         hint="Open it in a media player to check, or export it again.")


def finish_check(info: AudioInfo, decoded_s: float, decode_errors: int = 0,
                 *, header_repaired: bool | None = None) -> AudioInfo:
    """Compare what was decoded with what the file promised; return an updated copy.

    ``duration_s`` becomes ``decoded_s``. ``partial`` is set (with a plain ``partial_reason``)
    when the decode fell short of the container's or the file size's duration by more than
    :data:`PARTIAL_TOLERANCE_S`, when PyAV rejected frames as invalid, or when a WAV header had
    to be repaired (the recorder stopped before finishing the file, so its end may be missing).
    """
    repaired = bool(info.header_repaired if header_repaired is None else header_repaired)
    reasons = _earlier_reasons(info) + _decode_reasons(info, decoded_s, decode_errors, repaired)
    changes: dict[str, Any] = {"duration_s": round(float(decoded_s), 3),
                               "decode_errors": int(decode_errors), "header_repaired": repaired}
    if reasons:
        text = "; ".join(reasons)
        changes.update(partial=True, partial_reason=text[:1].upper() + text[1:] + ".")
    return dataclasses.replace(info, **changes)


def _decode_reasons(info: AudioInfo, decoded_s: float, decode_errors: int,
                    repaired: bool) -> list[str]:
    """Why this decode is partial: too short, damaged parts skipped, an unfinished header."""
    expected = [d for d in (info.container_duration_s, info.file_duration_s) if d is not None]
    reasons: list[str] = []
    if expected:
        want = max(expected) if not repaired else (info.file_duration_s or max(expected))
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
    return reasons


def _earlier_reasons(info: AudioInfo) -> list[str]:
    """What :func:`probe` already found (e.g. an Ogg file without its end mark), without the
    reasons a decode gives, so running :func:`finish_check` twice states each reason once."""
    earlier: list[str] = []
    if info.partial and info.partial_reason:
        earlier = [r[:1].lower() + r[1:] for r in info.partial_reason.rstrip(".").split("; ")]
    return [r for r in earlier if not r.startswith(("only ", "the file's header was never"))
            and "damaged part" not in r]


def _fmt_s(s: float) -> str:
    """Seconds for a message: "7.5 s", "12:05" or "1:02:03"."""
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
