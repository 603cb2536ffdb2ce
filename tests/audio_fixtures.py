"""Generators for real audio test files (sox, ffmpeg, espeak-ng): the bad-input corpus of
the bad-input corpus (docs/transcription.md, input checks) and a few helpers other tests can reuse.

Import from tests: ``from audio_fixtures import speech_wav, make_corpus, ...`` (pytest puts
``tests/`` on ``sys.path``). Every function writes real files with the real tools; nothing is
mocked. Files are deterministic (fixed text, fixed random seeds).
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import wave
from pathlib import Path

TOOLS = ("sox", "ffmpeg", "espeak-ng")

#: The test sentence (about 12 s of espeak-ng speech).
SPEECH_TEXT = (
    "I have been feeling hopeless since I lost my job. Sometimes I think about ending it. "
    "When that happens I call my sister and go for a walk. "
    "I promise I will call the crisis line tomorrow at 10."
)


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def run(*cmd: str | os.PathLike) -> None:
    """Run a tool; raise with its stderr (test data only, no session content) on failure."""
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-800:]}")


def ffmpeg(*args: str | os.PathLike) -> None:
    run("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args)


def speech_wav(path: Path, text: str = SPEECH_TEXT, *, rate: int = 16000,
               repeat: int = 1) -> Path:
    """Synthetic speech (espeak-ng) as 16-bit mono WAV at ``rate``, ``repeat`` times in a row."""
    path = Path(path)
    raw = path.with_name(path.stem + ".espeak.wav")
    run("espeak-ng", "-w", raw, text)
    if repeat > 1:
        run("sox", *([raw] * repeat), "-r", str(rate), "-c", "1", "-b", "16", path)
    else:
        run("sox", raw, "-r", str(rate), "-c", "1", "-b", "16", path)
    raw.unlink()
    return path


def wav_duration(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def write_wav_bytes(path: Path, pcm: bytes, *, rate: int = 16000, channels: int = 1,
                    bits: int = 16, data_size: int | None = None,
                    riff_size: int | None = None) -> Path:
    """Write a PCM WAV by hand so any header field can lie (rate 0, sizes 0/0xFFFFFFFF...)."""
    align = channels * bits // 8
    data_size = len(pcm) if data_size is None else data_size
    riff_size = 36 + len(pcm) if riff_size is None else riff_size
    header = (b"RIFF" + struct.pack("<I", riff_size & 0xFFFFFFFF) + b"WAVE"
              + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate & 0xFFFFFFFF,
                                      (rate * align) & 0xFFFFFFFF, align, bits)
              + b"data" + struct.pack("<I", data_size & 0xFFFFFFFF))
    Path(path).write_bytes(header + pcm)
    return Path(path)


def pcm_of(path: Path) -> tuple[bytes, int, int]:
    """(frames, rate, channels) of a WAV file read with the stdlib."""
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes()), w.getframerate(), w.getnchannels()


def with_data_size(src: Path, dst: Path, data_size: int) -> Path:
    """Copy ``src`` (PCM WAV) with the header's data size (and RIFF size) set to a lie."""
    pcm, rate, ch = pcm_of(src)
    riff = 36 + data_size if data_size not in (0, 0xFFFFFFFF) else data_size
    return write_wav_bytes(dst, pcm, rate=rate, channels=ch, data_size=data_size, riff_size=riff)


def truncate(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    """``head -c`` the first ``fraction`` of the file (the header still claims the whole)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return Path(dst)


def corrupt(src: Path, dst: Path, *, nbytes: int = 20_000, at: float = 0.5,
            seed: int = 0) -> Path:
    """Overwrite ``nbytes`` in the middle with random bytes (``dd conv=notrunc``)."""
    data = bytearray(Path(src).read_bytes())
    start = int(len(data) * at)
    rnd = random.Random(seed)
    data[start:start + nbytes] = bytes(rnd.getrandbits(8) for _ in range(nbytes))
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def anti_phase(src: Path, dst: Path) -> Path:
    """Stereo whose right channel is the inverted left one (a downmix cancels)."""
    run("sox", src, "-c", "2", dst, "remix", "1", "1v-1")
    return Path(dst)


def video_with_audio(src: Path, dst: Path, *, vcodec: str = "libx264",
                     acodec: str = "aac") -> Path:
    """A tiny video (64x64, 5 fps, black) with ``src`` as its sound track."""
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:r=5", "-i", src, "-shortest",
           "-c:v", vcodec, *(("-preset", "ultrafast") if vcodec == "libx264" else ()),
           *(("-deadline", "realtime", "-cpu-used", "8") if "vpx" in vcodec else ()),
           "-c:a", acodec, dst)
    return Path(dst)


def video_without_audio(dst: Path, seconds: float = 3.0) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=64x64:r=5:d={seconds}", "-an",
           "-c:v", "libx264", "-preset", "ultrafast", dst)
    return Path(dst)


def joined_mp3(src: Path, dst: Path) -> Path:
    """Two MP3s glued with ``cat`` (44.1 kHz mono, then 22.05 kHz stereo): the format changes
    mid-stream, as when recordings are concatenated by hand."""
    a = Path(dst).with_name(Path(dst).stem + ".a.mp3")
    b = Path(dst).with_name(Path(dst).stem + ".b.mp3")
    ffmpeg("-i", src, "-ar", "44100", "-ac", "1", "-c:a", "libmp3lame", a)
    ffmpeg("-i", src, "-ar", "22050", "-ac", "2", "-c:a", "libmp3lame", b)
    Path(dst).write_bytes(a.read_bytes() + b.read_bytes())
    a.unlink()
    b.unlink()
    return Path(dst)


def long_noise_file(dst: Path, seconds: int, *, rate: int = 16000) -> Path:
    """A long WAV of low-level noise with a tone burst every 60 s (2 h = 230 MB at 16 kHz).

    sox makes one 60 s block (fast); the file repeats its PCM so hours take about a second.
    """
    stem = Path(dst).with_name(Path(dst).stem)
    noise, tone, block = (Path(f"{stem}.{k}.wav") for k in ("noise", "tone", "block"))
    fmt = ("-r", str(rate), "-c", "1", "-b", "16")
    run("sox", "-n", *fmt, noise, "synth", "60", "whitenoise", "vol", "0.003")
    run("sox", "-n", *fmt, tone, "synth", "1", "sine", "440", "vol", "0.1", "pad", "0", "59")
    run("sox", "-m", noise, tone, *fmt, block)
    pcm, _, _ = pcm_of(block)
    for f in (noise, tone, block):
        f.unlink()
    reps, rest = divmod(int(seconds), 60)
    total = len(pcm) * reps + (len(pcm) * rest) // 60 // 2 * 2
    with open(dst, "wb") as fh:
        fh.write(b"RIFF" + struct.pack("<I", min(36 + total, 0xFFFFFFFF)) + b"WAVE"
                 + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
                 + b"data" + struct.pack("<I", min(total, 0xFFFFFFFF)))
        for _ in range(reps):
            fh.write(pcm)
        fh.write(pcm[: total - len(pcm) * reps])
    return Path(dst)


# --------------------------------------------------------------------------- the corpus

#: name -> expected class: "reject", "partial", "repaired" (header lied, all audio read: partial
#: with header_repaired), "clean", "empty" (valid, 0 s) or "cancel" (channels cancel).
EXPECTED = {
    "empty.wav": "reject",
    "text_as.wav": "reject",
    "rate0.wav": "reject",
    "rate4e9.wav": "reject",
    "video_no_audio.mp4": "reject",
    "folder.wav": "reject",
    "fifo.wav": "reject",
    "loop_a.wav": "reject",
    "dangling.wav": "reject",
    "missing.wav": "reject",
    "zero_s.wav": "empty",
    "truncated.flac": "partial",
    "truncated.wav": "partial",
    "corrupt.flac": "partial",
    "truncated.mp3": "partial",
    "truncated.ogg": "partial",
    "truncated.opus": "partial",
    "truncated.m4a": "reject",
    "size0.wav": "repaired",
    "sizeffff.wav": "repaired",
    "sizesmall.wav": "repaired",
    "speech.mp3": "clean",
    "speech.ogg": "clean",
    "speech.opus": "clean",
    "speech.m4a": "clean",
    "speech.aiff": "clean",
    "video.mp4": "clean",
    "video.webm": "clean",
    "video.mkv": "clean",
    "phone_8k_mulaw.wav": "clean",
    "hires_384k.wav": "clean",
    "stereo_dup.wav": "clean",
    "stereo_left_only.wav": "clean",
    "séance notes 🎙/voice memo 🎙.wav": "clean",
    "anti_phase.wav": "cancel",
}


def make_corpus(folder: Path) -> dict[str, Path]:
    """Build every file of :data:`EXPECTED` in ``folder``; returns name -> path.

    ``speech.wav`` (the 36 s source, 3 × :data:`SPEECH_TEXT`) and ``speech.flac`` are added too.
    """
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    src = speech_wav(d / "speech.wav", repeat=3)
    p: dict[str, Path] = {"speech.wav": src}

    def at(name: str) -> Path:
        p[name] = d / name
        return p[name]

    # reject
    at("empty.wav").write_bytes(b"")
    at("text_as.wav").write_text("Meeting notes\nThis is a text file, not a recording.\n" * 40)
    pcm, _, _ = pcm_of(src)
    write_wav_bytes(at("rate0.wav"), pcm[:64000], rate=0)
    write_wav_bytes(at("rate4e9.wav"), pcm[:64000], rate=4_000_000_000)
    video_without_audio(at("video_no_audio.mp4"))
    at("folder.wav").mkdir(exist_ok=True)
    if not at("fifo.wav").exists():
        os.mkfifo(p["fifo.wav"])
    for a, b in (("loop_a.wav", "loop_b.wav"), ("loop_b.wav", "loop_a.wav")):
        if not os.path.lexists(d / a):
            os.symlink(b, d / a)
    p["loop_a.wav"] = d / "loop_a.wav"
    if not os.path.lexists(d / "dangling.wav"):
        os.symlink("gone.wav", d / "dangling.wav")
    p["dangling.wav"] = d / "dangling.wav"
    p["missing.wav"] = d / "missing.wav"
    # empty but valid
    with wave.open(str(at("zero_s.wav")), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    # partial
    run("sox", src, at("speech.flac"))
    truncate(p["speech.flac"], at("truncated.flac"), 0.5)
    truncate(src, at("truncated.wav"), 0.33)
    corrupt(p["speech.flac"], at("corrupt.flac"))
    with_data_size(src, at("size0.wav"), 0)
    with_data_size(src, at("sizeffff.wav"), 0xFFFFFFFF)
    with_data_size(src, at("sizesmall.wav"), 3200)  # what stdlib wave leaves after a kill: 0.1 s
    # clean
    ffmpeg("-i", src, "-c:a", "libmp3lame", "-b:a", "64k", at("speech.mp3"))
    ffmpeg("-i", src, "-c:a", "libvorbis", at("speech.ogg"))
    ffmpeg("-i", src, "-c:a", "libopus", at("speech.opus"))
    ffmpeg("-i", src, "-c:a", "aac", at("speech.m4a"))
    run("sox", src, at("speech.aiff"))
    for ext in ("mp3", "ogg", "opus", "m4a"):
        truncate(p[f"speech.{ext}"], at(f"truncated.{ext}"), 0.5)
    video_with_audio(src, at("video.mp4"))
    video_with_audio(src, at("video.webm"), vcodec="libvpx", acodec="libopus")
    video_with_audio(src, at("video.mkv"), vcodec="libx264", acodec="libmp3lame")
    run("sox", src, "-r", "8000", "-e", "mu-law", at("phone_8k_mulaw.wav"),
        "sinc", "300-3400")
    run("sox", src, "-r", "384000", at("hires_384k.wav"))
    run("sox", src, "-c", "2", at("stereo_dup.wav"), "remix", "1", "1")
    run("sox", src, "-c", "2", at("stereo_left_only.wav"), "remix", "1", "0")
    uni = at("séance notes 🎙/voice memo 🎙.wav")
    uni.parent.mkdir(exist_ok=True)
    shutil.copyfile(src, uni)
    # cancel
    anti_phase(src, at("anti_phase.wav"))
    return p
