#!/usr/bin/env python3
"""Benchmark `voicenotes batch`: memory over many files and throughput for --jobs 1 and 2.

    .venv/bin/python scripts/bench_batch.py                 # 200 clips, tiny.en, jobs 1 and 2
    .venv/bin/python scripts/bench_batch.py --files 300 --model base --jobs 1

Clips are 2-3 s pieces cut with sox from tests/data/speech/clips (real speech), so the
figures measure the per-file overhead of a batch (model kept loaded, outputs, journal) rather
than long-file decoding. Prints, per --jobs value: the worker's RSS after file 50 and after the
last file (target: growth within +25 MB), the worker's peak RSS, how many workers were replaced
for memory growth (VOICENOTES_BATCH_RECYCLE_MB), and throughput in audio hours per wall hour (wall time includes starting the workers and loading the model).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = REPO / "tests" / "data"  # real speech and gold cases (tests/data/SOURCES.md)


def make_clips(folder: Path, n: int) -> float:
    with open(DATA / "speech/refs.tsv", encoding="utf-8") as fh:
        refs = list(csv.DictReader(fh, delimiter="\t"))
    src = [DATA / "speech" / r["file"] for r in refs if float(r["duration_s"]) >= 4.0]
    total = 0.0
    for i in range(n):
        clip = src[i % len(src)]
        start = 0.2 + 0.37 * (i // len(src))  # a different cut each round: no duplicates
        dur = 2.0 + (i % 3) * 0.5
        dst = folder / f"part{i // 50}" / f"clip-{i:04d}.wav"
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["sox", str(clip), "-r", "16000", "-c", "1", str(dst), "trim",
                        f"{start:.2f}", f"{dur:.2f}"], check=True, capture_output=True)
        total += dur
    return total


def run(src: Path, out: Path, jobs: int, model: str) -> dict:
    from voicenotes.batch import BatchOptions, BatchRunner

    per_worker: dict[int, list[tuple[int, int, int]]] = {}
    count = {"n": 0}

    def on_event(kind, data):
        if kind == "finish" and data.get("info"):
            count["n"] += 1
            info = data["info"]
            per_worker.setdefault(data["slot"], []).append(
                (count["n"], info.get("rss_kb", 0), info.get("hwm_kb", 0)))
            if count["n"] % 50 == 0:
                print(f"  jobs={jobs}: {count['n']} files", flush=True)

    t0 = time.monotonic()
    summary = BatchRunner(src, BatchOptions(out_dir=out, jobs=jobs, model=model),
                          on_event=on_event).run()
    wall = time.monotonic() - t0
    return {"summary": summary, "wall": wall, "workers": per_worker}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = ap.parse_args()
    if args.files < 60:
        ap.error("--files must be at least 60 (RSS is read at file 50 and at the end)")
    tmp = Path(tempfile.mkdtemp(prefix="vn-bench-batch-"))
    try:
        src = tmp / "in"
        audio_s = make_clips(src, args.files)
        print(f"{args.files} clips, {audio_s / 60:.1f} min of audio, model {args.model}, "
              f"{os.cpu_count()} CPUs")
        rows = []
        for jobs in args.jobs:
            res = run(src, tmp / f"out-j{jobs}", jobs, args.model)
            s = res["summary"]
            done = s.done + s.partial
            thr = (s.audio_s_processed / 3600) / (res["wall"] / 3600)
            for slot, samples in sorted(res["workers"].items()):
                at50 = next((r for n, r, _ in samples if n >= 50), samples[0][1])
                end = samples[-1][1]
                peak = max(h for _, _, h in samples)
                rows.append((jobs, slot, len(samples), at50 / 1024, end / 1024,
                             (end - at50) / 1024, peak / 1024))
            print(f"jobs={jobs}: workers replaced for memory growth: {s.recycled}")
            print(f"jobs={jobs}: {done}/{args.files} done, {s.failed} failed, wall "
                  f"{res['wall']:.1f} s, audio {s.audio_s_processed / 60:.1f} min, "
                  f"throughput {thr:.1f} audio h per wall h "
                  f"({s.audio_s_processed / res['wall']:.1f}x real time)")
        print()
        print("jobs worker files  RSS@file50 MB  RSS@end MB  growth MB  peak MB")
        for jobs, slot, n, a, e, g, p in rows:
            flag = "ok" if g <= 25 else "OVER +25 MB"
            print(f"{jobs:>4} {slot:>6} {n:>5}  {a:>13.1f}  {e:>10.1f}  {g:>+9.1f}  {p:>7.1f}  "
                  f"{flag}")
        print("(RSS@file50 is read when the batch's 50th file finished; with 2 workers each "
              "worker's own sample nearest that point)")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
