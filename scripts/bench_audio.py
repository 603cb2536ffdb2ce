#!/usr/bin/env python3
"""Benchmark voicenotes.audio: streaming decode memory/speed by length, and folder pre-flight.

    .venv/bin/python scripts/bench_audio.py [--hours 10] [--files 1000] [--workdir DIR]

1. Long files (low noise + a tone each minute, 16 kHz mono WAV) of 0.5 h and ``--hours``:
   ``iter_audio`` in a fresh process each -> seconds, x real time, peak RSS. Also the whole-file
   ``faster_whisper.decode_audio`` on the 0.5 h and 1 h files for comparison.
   target: peak RSS for 10 h <= 1.2 x the peak for 30 min.
2. Pre-flight of a folder with ``--files`` inputs (3 s clips in wav/flac/mp3/m4a, 10% bad):
   ``find_inputs`` + ``probe`` on each -> total s, ms per file, peak RSS (target: 5 000 files
   in < 60 s).
Ends with one line of figures. Needs sox, ffmpeg, espeak-ng. Files go to a temp folder that is
removed at the end (a 10 h WAV is 1.15 GB).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from audio_fixtures import ffmpeg, long_noise_file, run, speech_wav  # noqa: E402

PY = sys.executable


def child(code: str) -> dict:
    proc = subprocess.run([PY, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def stream_figures(path: Path) -> dict:
    return child(f"""
        import json, resource, time
        from voicenotes.audio import iter_audio
        t = time.perf_counter()
        stream = iter_audio({str(path)!r})
        for block in stream:
            pass
        dt = time.perf_counter() - t
        print(json.dumps({{"s": dt, "audio_s": stream.decoded_s,
                          "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
    """)


def whole_file_figures(path: Path) -> dict:
    return child(f"""
        import json, resource, time
        from faster_whisper.audio import decode_audio
        t = time.perf_counter()
        audio = decode_audio({str(path)!r})
        dt = time.perf_counter() - t
        print(json.dumps({{"s": dt, "audio_s": len(audio) / 16000,
                          "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
    """)


def preflight_figures(folder: Path) -> dict:
    return child(f"""
        import json, resource, time
        from voicenotes.audio import find_inputs, probe
        from voicenotes.errors import AudioError
        t = time.perf_counter()
        files = find_inputs([{str(folder)!r}])
        ok = bad = 0
        for f in files:
            try:
                probe(f)
                ok += 1
            except AudioError:
                bad += 1
        dt = time.perf_counter() - t
        print(json.dumps({{"s": dt, "files": len(files), "ok": ok, "bad": bad,
                          "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
    """)


def make_folder(folder: Path, n: int, work: Path) -> None:
    clip = speech_wav(work / "clip.wav", "Please call me back tomorrow morning.")
    run("sox", clip, work / "clip.flac")
    ffmpeg("-i", clip, "-c:a", "libmp3lame", work / "clip.mp3")
    ffmpeg("-i", clip, "-c:a", "aac", work / "clip.m4a")
    (work / "bad.wav").write_text("not audio\n")
    srcs = [work / "clip.wav", work / "clip.flac", work / "clip.mp3", work / "clip.m4a"]
    folder.mkdir()
    for i in range(n):
        sub = folder / f"day{i // 250:02d}"
        sub.mkdir(exist_ok=True)
        src = work / "bad.wav" if i % 10 == 9 else srcs[i % 4]
        shutil.copyfile(src, sub / f"call{i:05d}{src.suffix}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=10.0, help="length of the long file (10)")
    ap.add_argument("--files", type=int, default=1000, help="files in the pre-flight folder")
    ap.add_argument("--workdir", type=Path, default=None, help="where to put the test files")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-audio-", dir=args.workdir))
    try:
        rows = {}
        for label, seconds in (("0.5h", 1800), ("1h", 3600), (f"{args.hours:g}h",
                                                             int(args.hours * 3600))):
            if label in rows:
                continue
            f = long_noise_file(work / f"long-{label}.wav", seconds)
            rows[label] = r = stream_figures(f)
            print(f"iter_audio {label:>5}: {r['s']:6.2f} s ({r['audio_s'] / r['s']:6.0f}x real "
                  f"time), peak RSS {r['rss_mb']:6.0f} MB", flush=True)
            if seconds <= 3600:
                w = whole_file_figures(f)
                rows[f"fw-{label}"] = w
                print(f"decode_audio {label:>3}: {w['s']:6.2f} s, peak RSS {w['rss_mb']:6.0f} MB "
                      "(faster-whisper, whole file)", flush=True)
            f.unlink()
        f = long_noise_file(work / "long-44k.wav", 3600, rate=44100)
        rows["44k"] = r = stream_figures(f)
        print(f"iter_audio 1h at 44.1 kHz (resampled): {r['s']:6.2f} s "
              f"({r['audio_s'] / r['s']:4.0f}x real time), peak RSS {r['rss_mb']:4.0f} MB",
              flush=True)
        f.unlink()
        folder = work / "inputs"
        make_folder(folder, args.files, work)
        pf = preflight_figures(folder)
        print(f"pre-flight: {pf['files']} files ({pf['bad']} refused) in {pf['s']:.1f} s = "
              f"{1000 * pf['s'] / max(1, pf['files']):.1f} ms/file, peak RSS "
              f"{pf['rss_mb']:.0f} MB", flush=True)
        long_label = f"{args.hours:g}h"
        ratio = rows[long_label]["rss_mb"] / rows["0.5h"]["rss_mb"]
        print(f"SUMMARY stream peak RSS 0.5h {rows['0.5h']['rss_mb']:.0f} MB, {long_label} "
              f"{rows[long_label]['rss_mb']:.0f} MB (ratio {ratio:.2f}, target <= 1.2); "
              f"decode_audio 1h {rows['fw-1h']['rss_mb']:.0f} MB; stream speed "
              f"{rows[long_label]['audio_s'] / rows[long_label]['s']:.0f}x real time at 16 kHz, "
              f"{rows['44k']['audio_s'] / rows['44k']['s']:.0f}x resampling 44.1 kHz; "
              f"pre-flight {1000 * pf['s'] / max(1, pf['files']):.1f} ms/file over "
              f"{pf['files']} files")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
