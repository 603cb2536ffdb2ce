"""voicenotes.audio on the real bad-input corpus (sox, ffmpeg, espeak-ng).

No Whisper model is needed; every file is real and decoded with the real PyAV.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import (
    EXPECTED,
    joined_mp3,
    long_noise_file,
    make_corpus,
    missing_tools,
    pcm_of,
    wav_duration,
    write_wav_bytes,
)

from voicenotes.audio import (
    AUDIO_EXTENSIONS,
    check_channels,
    find_inputs,
    finish_check,
    iter_audio,
    probe,
)
from voicenotes.errors import AudioError
from voicenotes.schema import AudioInfo

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    missing = missing_tools()
    if missing:
        pytest.fail(f"missing tools {missing}: scripts/test installs sox, ffmpeg and espeak-ng")
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def speech_s(corpus) -> float:
    return wav_duration(corpus["speech.wav"])


def decode_channels(path, *, max_s=None) -> np.ndarray:
    """The whole file (or its first ``max_s`` s) per channel: float32 ``(channels, n)``."""
    blocks = list(iter_audio(path, per_channel=True, max_s=max_s, block_s=60.0))
    if not blocks:
        return np.zeros((1, 0), dtype=np.float32)
    return np.concatenate(blocks, axis=1)


def decode(path: Path, info: AudioInfo | None = None, **kw):
    stream = iter_audio(path, **kw)
    blocks = list(stream)
    audio = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    info = info if info is not None else probe(path)
    return audio, stream, finish_check(info, stream.decoded_s, stream.decode_errors)


def assert_plain(exc: AudioError, *words: str) -> None:
    """One plain line: no newline, no traceback, no chained library exception, exit code 3."""
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text, text
    assert exc.__cause__ is None, "no chained library exception"
    assert exc.__context__ is None or exc.__suppress_context__, "raise ... from None expected"
    assert exc.exit_code == 3
    assert len(text) < 300, text
    for w in words:
        assert w in text, (w, text)


# --------------------------------------------------------------------------- reject

REJECT_WORDS = {
    "empty.wav": ("empty.wav", "empty (0 bytes)"),
    "text_as.wav": ("text_as.wav", "not a readable audio"),
    "rate0.wav": ("rate0.wav", "0 Hz"),
    "rate4e9.wav": ("rate4e9.wav", "4000000000 Hz"),
    "video_no_audio.mp4": ("video_no_audio.mp4", "no sound track"),
    "folder.wav": ("folder.wav", "is a folder"),
    "loop_a.wav": ("loop_a.wav", "link loop"),
    "dangling.wav": ("dangling.wav", "no longer exists"),
    "missing.wav": ("No such file", "missing.wav"),
    "truncated.m4a": ("truncated.m4a", "not a readable audio"),  # its index (moov) is lost
}


def test_expected_classes_cover_the_corpus(corpus):
    assert set(EXPECTED) <= set(corpus)
    rejects = {n for n, c in EXPECTED.items() if c == "reject"}
    assert rejects == set(REJECT_WORDS) | {"fifo.wav"}


@pytest.mark.parametrize("name", sorted(REJECT_WORDS))
def test_reject_with_one_plain_line(corpus, name):
    with pytest.raises(AudioError) as ei:
        probe(corpus[name])
    assert_plain(ei.value, *REJECT_WORDS[name])
    # the streaming decoder refuses the same input the same way (it is called on its own too)
    with pytest.raises(AudioError) as ei2:
        list(iter_audio(corpus[name]))
    assert_plain(ei2.value)


def _run_with_timeout(code: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def test_fifo_and_device_are_never_opened(corpus):
    """A FIFO named .wav hangs any reader that opens it; probe must stat and refuse at once."""
    code = f"""
        from voicenotes.audio import probe, iter_audio, find_inputs
        from voicenotes.errors import AudioError
        for p in ({str(corpus['fifo.wav'])!r}, "/dev/zero", "/dev/null"):
            for fn in (probe, lambda q: list(iter_audio(q))):
                try:
                    fn(p)
                except AudioError as exc:
                    print(str(exc))
        print("found:", find_inputs([{str(corpus['fifo.wav'].parent)!r}]).__len__())
    """
    proc = _run_with_timeout(code, timeout=30)  # TimeoutExpired fails the test
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sum("named pipe (FIFO)" in line for line in lines) == 2, lines
    assert sum("is a device" in line for line in lines) == 4, lines
    assert all("was not opened" in line for line in lines[:-1])


def test_permission_denied(tmp_path, corpus):
    folder = tmp_path / "locked"
    folder.mkdir()
    target = folder / "locked.wav"
    shutil.copyfile(corpus["speech.wav"], target)
    target.chmod(0)
    folder.chmod(0o755)
    tmp_path.chmod(0o755)
    code = f"""
        from voicenotes.audio import probe
        from voicenotes.errors import AudioError
        try:
            probe({str(target)!r})
        except AudioError as exc:
            print("ERR", exc)
    """
    if os.geteuid() == 0:  # root reads anything: drop to nobody for this check
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv")
        parents = [p for p in tmp_path.parents if p != Path("/")]
        old = {p: p.stat().st_mode for p in parents}
        try:
            for p in parents:
                p.chmod(p.stat().st_mode | 0o005)
            proc = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                                   PY, "-c", textwrap.dedent(code)], capture_output=True,
                                  text=True, timeout=60, cwd="/")
        finally:
            for p, mode in old.items():
                p.chmod(mode & 0o7777)
    else:
        proc = _run_with_timeout(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ERR Cannot read") and "permission denied" in proc.stdout
    assert proc.stdout.count("\n") == 1


# --------------------------------------------------------------------------- partial


def test_truncated_flac_and_wav_are_partial(corpus, speech_s):
    for name, fraction in (("truncated.flac", 0.5), ("truncated.wav", 0.33)):
        info = probe(corpus[name])
        # the header still claims the whole recording
        assert info.container_duration_s == pytest.approx(speech_s, abs=0.01)
        audio, stream, done = decode(corpus[name], info)
        assert done.partial, name
        assert "could be read" in done.partial_reason
        assert stream.decoded_s == pytest.approx(speech_s * fraction, abs=1.0)
        assert done.duration_s == pytest.approx(stream.decoded_s, abs=0.001)
        assert len(audio) == stream.decoded_samples
    wav = probe(corpus["truncated.wav"])
    assert wav.file_duration_s == pytest.approx(speech_s * 0.33, abs=0.05)


def test_truncated_compressed_files_are_partial(corpus, speech_s):
    for name in ("truncated.mp3", "truncated.ogg", "truncated.opus"):
        info = probe(corpus[name])
        audio, stream, done = decode(corpus[name], info)
        assert done.partial, name
        assert stream.decoded_s == pytest.approx(speech_s / 2, abs=2.0)
    # Ogg states the duration of what is left, so the missing end mark is what tells
    ogg = probe(corpus["truncated.ogg"])
    assert ogg.partial and "closing mark" in ogg.partial_reason
    assert ogg.container_duration_s == pytest.approx(speech_s / 2, abs=2.0)
    done = finish_check(ogg, 16.0, 0)
    assert done.partial_reason.count("closing mark") == 1
    assert finish_check(done, 16.0, 0).partial_reason == done.partial_reason  # idempotent


def test_corrupt_flac_is_partial(corpus, speech_s):
    audio, stream, done = decode(corpus["corrupt.flac"])
    assert done.partial, "20 KB of random bytes in a FLAC must not pass silently"
    assert stream.decoded_s < speech_s - 0.5 or stream.decode_errors > 0
    # faster-whisper's own decoder returns the same shortened audio without a word
    from faster_whisper.audio import decode_audio

    assert len(decode_audio(str(corpus["corrupt.flac"]))) == len(audio)


@pytest.mark.parametrize("name", ["size0.wav", "sizeffff.wav", "sizesmall.wav"])
def test_unfinished_wav_header_reads_everything(corpus, name):
    src_audio, _, _ = decode(corpus["speech.wav"])
    audio, stream, done = decode(corpus[name])
    assert stream.header_repaired and done.header_repaired
    assert len(audio) == len(src_audio)
    assert np.array_equal(audio, src_audio)
    assert done.partial and "header was never finished" in done.partial_reason
    assert done.decode_errors == 0
    # the file on disk is untouched
    assert hashlib.sha256(corpus[name].read_bytes()).hexdigest() == done.sha256


def test_small_header_is_what_pyav_alone_would_trust(corpus, speech_s):
    """Why the repair exists: the unpatched decoder reads only the 0.1 s the header claims."""
    from faster_whisper.audio import decode_audio

    assert len(decode_audio(str(corpus["sizesmall.wav"]))) / 16000 == pytest.approx(0.1, abs=0.01)
    info = probe(corpus["sizesmall.wav"])
    assert info.container_duration_s == pytest.approx(0.1, abs=0.001)
    assert info.file_duration_s == pytest.approx(speech_s, abs=0.001)


def test_wav_header_over_junk_is_refused_quickly(tmp_path, corpus):
    """RIFF/WAVE then 20 MB of zeros: no data chunk. FFmpeg would crawl it for seconds."""
    import time

    junk = tmp_path / "junk.wav"
    junk.write_bytes(corpus["speech.wav"].read_bytes()[:12] + bytes(20_000_000))
    t = time.perf_counter()
    with pytest.raises(AudioError) as ei:
        probe(junk)
    assert time.perf_counter() - t < 2.0
    assert_plain(ei.value, "junk.wav", "no audio data")
    only_header = tmp_path / "header_only.wav"
    only_header.write_bytes(corpus["speech.wav"].read_bytes()[:36])  # cut inside the header
    with pytest.raises(AudioError):
        probe(only_header)


def test_wav_with_trailing_chunk_is_not_repaired(tmp_path, corpus):
    """A correct header followed by a LIST chunk is a normal file, not a crashed one."""
    pcm, rate, ch = pcm_of(corpus["speech.wav"])
    tail = b"LIST" + (12).to_bytes(4, "little") + b"INFOISFT\x00\x00\x00\x00"
    f = write_wav_bytes(tmp_path / "list.wav", pcm, rate=rate, channels=ch,
                        riff_size=36 + len(pcm) + len(tail))
    with open(f, "ab") as fh:
        fh.write(tail)
    audio, stream, done = decode(f)
    assert not stream.header_repaired and not done.partial
    assert len(audio) == len(pcm) // 2


def test_format_change_mid_stream_reads_both_parts(tmp_path, corpus, speech_s):
    """Glued recordings (rate and channels change): every part is read; faster-whisper's own
    decoder stops silently after the first part."""
    from faster_whisper.audio import decode_audio

    joined = joined_mp3(corpus["speech.wav"], tmp_path / "joined.mp3")
    audio, stream, done = decode(joined)
    assert stream.decoded_s == pytest.approx(2 * speech_s, abs=0.3)
    assert len(decode_audio(str(joined))) / 16000 == pytest.approx(speech_s, abs=0.3)
    assert not done.partial or "damaged part" in done.partial_reason
    both = decode_channels(joined)
    assert both.shape == (1, len(audio))  # per-channel keeps the first layout throughout


def test_short_junk_tail_is_ignored_long_tail_is_read(tmp_path, corpus):
    pcm, rate, ch = pcm_of(corpus["speech.wav"])
    junk = write_wav_bytes(tmp_path / "junk.wav", pcm[:32000], rate=rate, channels=ch)
    with open(junk, "ab") as fh:
        fh.write(b"\x00\x01junk" * 50)  # 500 bytes: not a chunk, far less than 0.25 s
    audio, stream, done = decode(junk)
    assert not stream.header_repaired and not done.partial and len(audio) == 16000
    # a header finalised at 1 s over 3 s of data: the recorder died between header updates
    late = write_wav_bytes(tmp_path / "late.wav", pcm[:96000], rate=rate, channels=ch,
                           data_size=32000)
    audio, stream, done = decode(late)
    assert stream.header_repaired and len(audio) == 48000 and done.partial


def test_non_utf8_file_name(tmp_path, corpus):
    odd = Path(os.fsdecode(tmp_path.as_posix().encode() + b"/caf\xe9 notes.wav"))
    shutil.copyfile(corpus["speech.wav"], odd)
    assert find_inputs([tmp_path]) == [odd]
    info = probe(odd)
    assert info.file_name == "caf\ufffd notes.wav"
    info.file_name.encode("utf-8")  # safe to write as JSON
    assert sum(len(b) for b in iter_audio(odd)) == round(wav_duration(corpus["speech.wav"]) * 16000)
    missing = Path(os.fsdecode(tmp_path.as_posix().encode() + b"/gone\xe9.wav"))
    with pytest.raises(AudioError) as ei:
        probe(missing)
    str(ei.value).encode("utf-8")


# --------------------------------------------------------------------------- clean

CLEAN = sorted(n for n, c in EXPECTED.items() if c == "clean")


@pytest.mark.parametrize("name", CLEAN)
def test_clean_inputs(corpus, speech_s, name):
    info = probe(corpus[name])
    assert info.sha256 == hashlib.sha256(corpus[name].read_bytes()).hexdigest()
    assert info.file_name == Path(name).name
    assert info.sample_rate and info.channels and info.codec
    audio, stream, done = decode(corpus[name], info)
    assert not done.partial, done.partial_reason
    assert done.decode_errors == 0 and not done.channels_cancel
    assert done.duration_s == pytest.approx(speech_s, abs=0.1)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.01 < float(np.sqrt(np.mean(audio ** 2))) < 0.5, "speech level expected"


def test_rates_and_channels_reported(corpus):
    assert probe(corpus["phone_8k_mulaw.wav"]).sample_rate == 8000
    assert probe(corpus["hires_384k.wav"]).sample_rate == 384000
    assert probe(corpus["stereo_dup.wav"]).channels == 2
    assert probe(corpus["speech.opus"]).codec == "opus"


@pytest.mark.parametrize("name", ["speech.wav", "speech.mp3", "speech.m4a", "video.webm",
                                  "stereo_left_only.wav", "hires_384k.wav", "corrupt.flac"])
def test_same_samples_as_faster_whisper(corpus, name):
    """Streaming must feed Whisper exactly what faster_whisper.decode_audio would."""
    from faster_whisper.audio import decode_audio

    ref = decode_audio(str(corpus[name]))
    got = np.concatenate(list(iter_audio(corpus[name], block_s=7.0)))
    assert got.shape == ref.shape and np.array_equal(got, ref)


def test_zero_second_wav_is_empty_not_broken(corpus):
    info = probe(corpus["zero_s.wav"])
    assert info.duration_s == 0.0
    stream = iter_audio(corpus["zero_s.wav"])
    assert list(stream) == []
    done = finish_check(info, stream.decoded_s, stream.decode_errors)
    assert not done.partial and done.duration_s == 0.0


def test_explicit_file_with_unknown_extension_is_probed(tmp_path, corpus):
    odd = tmp_path / "recording.dat"
    shutil.copyfile(corpus["speech.mp3"], odd)
    assert find_inputs([odd]) == [odd]
    assert probe(odd).codec == "mp3"
    assert find_inputs([tmp_path]) == []  # inside a folder only audio extensions count


# --------------------------------------------------------------------------- channels


def test_anti_phase_stereo_cancels(corpus):
    info = probe(corpus["anti_phase.wav"])
    assert info.channels_cancel and info.downmix_ratio < 0.05
    mono, _, _ = decode(corpus["anti_phase.wav"], info)
    both = decode_channels(corpus["anti_phase.wav"])
    assert both.shape[0] == 2 and both.shape[1] == len(mono)
    assert np.sqrt(np.mean(both ** 2)) > 0.05, "each channel carries the speech"
    assert np.sqrt(np.mean(mono ** 2)) < 0.001, "the mono downmix is (near) silence"


def test_other_stereo_does_not_cancel(corpus):
    dup = check_channels(corpus["stereo_dup.wav"])
    left = check_channels(corpus["stereo_left_only.wav"])
    assert not dup.cancel and dup.ratio == pytest.approx(1.0, abs=0.01)
    assert not left.cancel and left.ratio == pytest.approx(0.707, abs=0.01)
    assert dup.active_s > 10
    both = decode_channels(corpus["stereo_left_only.wav"], max_s=5)
    assert both.shape == (2, 80000)
    assert np.abs(both[1]).max() == 0 and np.abs(both[0]).max() > 0.1
    mono = check_channels(corpus["speech.wav"])
    assert mono.channels == 1 and not mono.cancel and mono.ratio is None


# --------------------------------------------------------------------------- streaming


def test_blocks_have_fixed_size_and_max_s(corpus, speech_s):
    stream = iter_audio(corpus["speech.flac"], block_s=7.0)
    sizes = [len(b) for b in stream]
    assert all(s == 7 * 16000 for s in sizes[:-1]) and 0 < sizes[-1] <= 7 * 16000
    assert sum(sizes) == stream.decoded_samples == round(speech_s * 16000)
    assert stream.finished
    short = iter_audio(corpus["speech.mp3"], block_s=2.0, max_s=5.0)
    assert sum(len(b) for b in short) == 5 * 16000


def test_long_file_streams_with_flat_memory(tmp_path):
    """2 h (230 MB of PCM) streamed in 30 s blocks: RSS must not grow with the length."""
    long_wav = long_noise_file(tmp_path / "two_hours.wav", 7200)
    code = f"""
        from voicenotes.audio import iter_audio

        def rss_mb(field="VmRSS"):
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith(field):
                        return int(line.split()[1]) / 1024

        stream = iter_audio({str(long_wav)!r})
        rss = [rss_mb() for _ in [0]]
        for i, block in enumerate(stream):
            rss.append(rss_mb())
        q = len(rss) // 4
        first, last = max(rss[2:q]), max(rss[-q:])
        # VmHWM is this process's own high-water mark (ru_maxrss can carry the forking
        # parent's figure across exec, so a big pytest process would inflate it)
        hw = rss_mb("VmHWM")
        print(stream.decoded_s, first, last, hw)
    """
    proc = _run_with_timeout(code, timeout=120)
    long_wav.unlink()
    assert proc.returncode == 0, proc.stderr
    decoded, first, last, high_water = map(float, proc.stdout.split())
    assert decoded == 7200.0
    print(f"2 h stream: RSS max over the first quarter {first:.0f} MB, over the last quarter "
          f"{last:.0f} MB, high-water {high_water:.0f} MB")
    # flat with length: the last half hour needs no more than the first (a one-off allocator
    # spike is not growth), and no whole-file buffer ever (2 h of float32 audio is 460 MB)
    assert last - first < 50, (first, last)
    assert high_water < 300, high_water


# --------------------------------------------------------------------------- finish_check


def test_finish_check_tolerance_and_reasons():
    info = AudioInfo(file_name="x.wav", sha256="0" * 64, duration_s=10.0,
                     container_duration_s=10.0, file_duration_s=12.0)
    assert not finish_check(info, 11.6).partial
    short = finish_check(info, 11.4)
    assert short.partial and short.duration_s == 11.4 and "12.0 s" in short.partial_reason
    errs = finish_check(info, 12.0, decode_errors=3)
    assert errs.partial and "3 damaged parts" in errs.partial_reason
    assert errs.decode_errors == 3
    unknown = AudioInfo(file_name="x.webm", sha256="0" * 64, duration_s=0.0)
    assert not finish_check(unknown, 5.0).partial
    assert info.partial is False  # a copy is returned


# --------------------------------------------------------------------------- find_inputs


def _tree(root: Path, corpus) -> None:
    wav = corpus["speech.wav"]
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "out").mkdir()
    for rel in ("b.wav", "a.WAV", "sub/z.mp3", "sub/deeper/y.flac", ".tmp-x.wav", "._a.wav",
                ".hidden/c.wav", "out/result.wav"):
        shutil.copyfile(wav, root / rel)
    (root / "notes.txt").write_text("not audio")
    (root / "transcript.json").write_text("{}")
    os.symlink("..", root / "sub" / "loop")          # folder link loop
    os.symlink("b.wav", root / "link_to_b.wav")       # same file twice
    os.symlink("loop2.wav", root / "loop1.wav")       # file link loop
    os.symlink("loop1.wav", root / "loop2.wav")
    os.symlink("gone.m4a", root / "dangling.m4a")
    os.mkfifo(root / "pipe.wav")


def test_find_inputs_folder_rules(tmp_path, corpus):
    root = tmp_path / "in"
    root.mkdir()
    _tree(root, corpus)
    got = find_inputs([root], outputs_to_skip=[root / "out"])
    assert [p.relative_to(root).as_posix() for p in got] == [
        "a.WAV", "b.wav", "sub/deeper/y.flac", "sub/z.mp3"]
    assert find_inputs([root], outputs_to_skip=[root / "out"]) == got  # deterministic
    with_out = find_inputs([root])
    assert root / "out" / "result.wav" in with_out
    # --out equal to or above the searched folder does not hide the folder itself
    assert find_inputs([root / "sub"], outputs_to_skip=[root]) == [
        root / "sub" / "deeper" / "y.flac", root / "sub" / "z.mp3"]
    assert len(find_inputs([root], outputs_to_skip=[root])) == 5
    # a file named explicitly is kept even inside the output folder
    assert find_inputs([root / "out" / "result.wav"], outputs_to_skip=[root / "out"]) == [
        root / "out" / "result.wav"]


def test_find_inputs_explicit_paths(tmp_path, corpus):
    root = tmp_path / "in"
    root.mkdir()
    _tree(root, corpus)
    got = find_inputs([root / "notes.txt", root / "sub", root / "b.wav", root / "link_to_b.wav",
                       root / "pipe.wav", root / "loop1.wav"])
    # explicit files kept in the order given (probe judges them), duplicates once
    assert [p.relative_to(root).as_posix() for p in got] == [
        "notes.txt", "sub/deeper/y.flac", "sub/z.mp3", "b.wav", "pipe.wav", "loop1.wav"]
    for bad in ("pipe.wav", "loop1.wav", "notes.txt"):
        with pytest.raises(AudioError):
            probe(root / bad)
    with pytest.raises(AudioError) as ei:
        find_inputs([root / "b.wav", root / "nope.wav"])
    assert_plain(ei.value, "No such file", "nope.wav")


def test_extensions_cover_the_issue_list():
    for ext in ("wav", "flac", "mp3", "m4a", "aac", "ogg", "oga", "opus", "wma", "aiff", "aif",
                "caf", "mp4", "m4v", "mov", "mkv", "webm", "avi", "3gp", "amr"):
        assert ext in AUDIO_EXTENSIONS


def test_module_import_is_light():
    proc = _run_with_timeout("""
        import sys, voicenotes.audio
        heavy = [m for m in ("av", "numpy", "faster_whisper", "ctranslate2") if m in sys.modules]
        print(heavy)
    """)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr
