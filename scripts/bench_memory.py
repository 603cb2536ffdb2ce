#!/usr/bin/env python3
"""Memory check: peak RSS of a 30-minute vs a 2-hour transcription (must be flat with length).

    .venv/bin/python scripts/bench_memory.py [--model tiny.en] [--hours 2] [--plain]

Builds, with sox, a 10-minute block of real speech from the speech clips in tests/data (pauses of 0.5-45 s,
room tone) and concatenates it with room-tone stretches into a 30-minute file (2 x [10 min
speech + 5 min room tone]) and a long file (N x [10 min speech + 20 min room tone], 2 h by
default). Each file is transcribed by voicenotes in a fresh process; the process's peak RSS
(ru_maxrss) is reported. ``--plain`` also runs faster-whisper's own BatchedInferencePipeline on
the whole long file (decode_audio of the entire file, as a library user would) for contrast.
Ends with one line of figures; the target is peak(long) <= 1.2 x peak(30 min).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def worker(kind: str, model: str, audio: str, out_json: str) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    t0 = time.perf_counter()
    if kind == "ours":
        from voicenotes.transcribe import TranscribeOptions, Transcriber

        tr = Transcriber(TranscribeOptions(model=model))
        t = tr.transcribe(Path(audio))
        words = sum(len(s.words) for s in t.segments)
        duration = t.audio.duration_s
    else:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        from voicenotes.models import resolve_model

        m = WhisperModel(str(resolve_model(model).path), device="cpu", compute_type="int8",
                         cpu_threads=2, local_files_only=True)
        segs, info = BatchedInferencePipeline(model=m).transcribe(
            audio, language="en", beam_size=5, batch_size=8,
            vad_parameters={"min_silence_duration_ms": 2000}, word_timestamps=True)
        words = sum(len(s.words or ()) for s in segs)
        duration = info.duration
    Path(out_json).write_text(json.dumps({
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "seconds": time.perf_counter() - t0, "words": words, "duration_s": duration}))


def run(kind: str, model: str, audio: Path, tmp: Path) -> dict:
    out = tmp / f"{kind}-{audio.stem}.json"
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, model, str(audio),
                           str(out)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} on {audio.name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(out.read_text())


def sox(*args) -> None:
    subprocess.run(["sox", "-R", *map(str, args)], check=True, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--worker", nargs=4, metavar=("KIND", "MODEL", "AUDIO", "OUT"))
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    from transcribe_fixtures import build, load_refs, multipause_plan

    tmp = Path(tempfile.mkdtemp(prefix="vn-mem-"))
    try:
        refs = load_refs()
        clips, pauses = multipause_plan(refs, 1e9)
        block = tmp / "speech10.wav"
        placed = build(block, clips, pauses)
        block_s = placed[-1].end + 1.0
        fmt = ("-r", 16000, "-c", 1, "-b", 16)
        tone5, tone20 = tmp / "tone5.wav", tmp / "tone20.wav"
        sox("-n", *fmt, tone5, "synth", 300, "pinknoise", "vol", 0.002)
        sox("-n", *fmt, tone20, "synth", 1200, "pinknoise", "vol", 0.002)
        short = tmp / "short.wav"
        sox(block, tone5, block, tone5, short)
        reps = max(1, round(args.hours * 3600 / (block_s + 1200)))
        long = tmp / "long.wav"
        sox(*([block, tone20] * reps), long)
        s_min = (2 * block_s + 600) / 60
        l_min = reps * (block_s + 1200) / 60
        print(f"files: {s_min:.1f} min and {l_min:.1f} min ({long.stat().st_size / 1e6:.0f} MB "
              f"WAV); model {args.model}; load average {os.getloadavg()[0]:.1f}", flush=True)
        a = run("ours", args.model, short, tmp)
        print(f"voicenotes {s_min:.0f} min: peak RSS {a['peak_rss_mb']:.0f} MB, "
              f"{a['seconds']:.0f} s, {a['words']} words", flush=True)
        b = run("ours", args.model, long, tmp)
        print(f"voicenotes {l_min:.0f} min: peak RSS {b['peak_rss_mb']:.0f} MB, "
              f"{b['seconds']:.0f} s, {b['words']} words", flush=True)
        ratio = b["peak_rss_mb"] / a["peak_rss_mb"]
        line = (f"MEMORY {args.model}: {s_min:.0f} min {a['peak_rss_mb']:.0f} MB vs "
                f"{l_min:.0f} min {b['peak_rss_mb']:.0f} MB -> ratio {ratio:.2f} "
                f"({'flat' if ratio <= 1.2 else 'NOT flat'}; target <= 1.20)")
        if args.plain:
            c = run("plain", args.model, long, tmp)
            print(f"plain faster-whisper (whole file) {l_min:.0f} min: peak RSS "
                  f"{c['peak_rss_mb']:.0f} MB, {c['seconds']:.0f} s, {c['words']} words",
                  flush=True)
            line += f"; plain faster-whisper whole-file {l_min:.0f} min {c['peak_rss_mb']:.0f} MB"
        print(line)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
