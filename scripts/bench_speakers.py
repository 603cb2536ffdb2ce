#!/usr/bin/env python3
"""Benchmark the speaker stage: added wall time and CPU time per audio minute, and
added peak memory, each measured in a fresh process.

The input is the real two-voice session tests/data/extraction/audio/dev-long-1.flac
(5.4 min), transcribed once with Whisper (cached in the work folder), and the same session
repeated ``--repeat`` times (default 4, ~22 min) with its transcript shifted in time, so that
growth with length shows. Each measurement runs ``assign_speakers`` in a new Python process:
import + model load time, stage wall and CPU time, RSS before the stage and peak RSS
(ru_maxrss) after it.

    .venv/bin/python scripts/bench_speakers.py
    .venv/bin/python scripts/bench_speakers.py --repeat 2 --spec 2 --model tiny.en
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # real speech and gold cases (tests/data/SOURCES.md)
SRC = DATA / "extraction" / "audio" / "dev-long-1.flac"

CHILD = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
from voicenotes.schema import Transcript
from voicenotes import speakers
def rss_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
tr = Transcript.from_dict(json.load(open(sys.argv[1])))
speakers._require(); speakers.load_models()
load_s = time.perf_counter() - t0
before = rss_mb()
w0, c0 = time.perf_counter(), time.process_time()
out = speakers.assign_speakers(tr, sys.argv[2], sys.argv[3], enrollment=False)
wall, cpu = time.perf_counter() - w0, time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"load_s": load_s, "wall_s": wall, "cpu_s": cpu, "rss_before_mb": before,
                  "peak_mb": peak, "count": out.speakers["count"],
                  "method": out.speakers["method"]}))
"""


def transcript_for(work: Path, model: str) -> dict:
    cache = work / f"dev-long-1.{model}.json"
    if not cache.exists():
        from voicenotes.transcribe import TranscribeOptions, Transcriber

        print(f"Transcribing {SRC.name} once with Whisper {model} …", flush=True)
        t = Transcriber(TranscribeOptions(model=model)).transcribe(SRC)
        cache.write_text(json.dumps(t.to_dict()))
    return json.loads(cache.read_text())


def repeated(work: Path, base: dict, n: int) -> tuple[Path, Path]:
    """dev-long-1 n times in a row (WAV) and its transcript shifted to match."""
    import wave

    import numpy as np
    from faster_whisper import decode_audio

    from voicenotes.store import sha256_file

    wav = decode_audio(str(SRC))
    dur = len(wav) / 16000
    audio = work / f"dev-long-1-x{n}.wav"
    if not audio.exists():
        pcm = (np.clip(np.tile(wav, n), -1, 1) * 32767).astype("<i2")
        with wave.open(str(audio), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(pcm.tobytes())
    segs = []
    for k in range(n):
        for s in base["segments"]:
            s2 = dict(s, id=len(segs), start=s["start"] + k * dur, end=s["end"] + k * dur)
            s2["words"] = [dict(w, start=w["start"] + k * dur, end=w["end"] + k * dur)
                           for w in s["words"]]
            segs.append(s2)
    t = dict(base, segments=segs)
    t["audio"] = dict(base["audio"], file_name=audio.name, sha256=sha256_file(audio),
                      duration_s=dur * n)
    tj = work / f"dev-long-1-x{n}.json"
    tj.write_text(json.dumps(t))
    return audio, tj


def run(transcript: Path, audio: Path, spec: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(transcript), str(audio), spec],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--spec", default="auto")
    ap.add_argument("--model", default="base")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vn-bench-speakers")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    base = transcript_for(args.work, args.model)
    tj1 = args.work / "dev-long-1.json"
    tj1.write_text(json.dumps(base))
    cases = [(SRC, tj1)]
    if args.repeat > 1:
        cases.append(repeated(args.work, base, args.repeat))
    print(f"speaker stage, --speakers {args.spec}, fresh process per run, {os.cpu_count()} cores")
    for audio, tj in cases:
        minutes = json.loads(tj.read_text())["audio"]["duration_s"] / 60
        r = run(tj, audio, args.spec)
        print(f"  {audio.name:22s} {minutes:5.1f} min: import+load {r['load_s']:.1f} s; "
              f"stage {r['wall_s']:.1f} s wall = {r['wall_s'] / minutes:.2f} s per audio minute "
              f"(CPU {r['cpu_s'] / minutes:.2f} s/min); RSS before {r['rss_before_mb']:.0f} MB, "
              f"peak {r['peak_mb']:.0f} MB (+{r['peak_mb'] - r['rss_before_mb']:.0f} MB); "
              f"{r['count']} speakers, {r['method']}")
    load = os.getloadavg()[0]
    print(f"  (load average during the run: {load:.1f} on {os.cpu_count()} cores; wall times grow "
          "with other work on the machine, CPU times much less)")


if __name__ == "__main__":
    main()
