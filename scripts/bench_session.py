#!/usr/bin/env python3
"""Benchmark ``voicenotes note`` with its default flags (speakers found by default) on a long
two-voice session, and the cost of the speaker stage on a one-voice dictation.

Session: a 60-minute two-voice recording built from the dev dialogue audio
(tests/data/extraction/audio dev-41…46 and dev-long-1, repeated in that order and cut at
``--minutes``; 16-kHz mono FLAC, built once with sox into the work folder). One fresh process
runs ``pipeline.run_note`` with default options and the given Whisper model, pinned to
``--cores`` CPUs; printed: end-to-end wall time (process start to exit, imports and model
loading included), peak RSS of the process (ru_maxrss) and each stage's share of the wall time.

Dictation cost (``--dictation``): samples/dictation.flac drafted in fresh processes with the
default flags (the speaker stage runs and finds one voice) and with ``--mode dictation`` (the
declared dictation skips it); printed: wall time and peak RSS of each, and the difference.

    .venv/bin/python scripts/bench_session.py                       # 60 min, base, 2 cores
    .venv/bin/python scripts/bench_session.py --minutes 10 --model tiny.en
    .venv/bin/python scripts/bench_session.py --dictation --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AUDIO = REPO / "tests" / "data" / "extraction" / "audio"
PARTS = [f"dev-4{i}" for i in range(1, 7)] + ["dev-long-1"]
DICTATION = REPO / "samples" / "dictation.flac"

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from pathlib import Path
from voicenotes import pipeline
opts = pipeline.NoteOptions(model=sys.argv[3], mode=(sys.argv[4] or None), copy_audio=False)
res = pipeline.run_note(Path(sys.argv[1]), Path(sys.argv[2]), opts)
print(json.dumps({"timings": res.timings, "in_process_s": time.perf_counter() - t0,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "mode": res.summary["mode"], "speakers": res.summary.get("speakers"),
                  "items": res.summary["items"], "duration_s": res.summary["duration_s"]}))
"""


def build_session(work: Path, minutes: float) -> Path:
    out = work / f"session-{minutes:g}min.flac"
    if out.is_file():
        return out
    want = minutes * 60.0
    seq: list[str] = []
    total = 0.0
    durations = {p: float(subprocess.run(["soxi", "-D", str(AUDIO / f"{p}.flac")],
                                         capture_output=True, text=True, check=True).stdout)
                 for p in PARTS}
    while total < want:
        for p in PARTS:
            seq.append(str(AUDIO / f"{p}.flac"))
            total += durations[p]
            if total >= want:
                break
    print(f"Building a {minutes:g}-minute session from {len(seq)} dialogue files …", flush=True)
    tmp = out.with_suffix(".tmp.flac")
    subprocess.run(["sox", *seq, "-r", "16000", "-c", "1", str(tmp), "trim", "0", str(want)],
                   check=True)
    tmp.replace(out)
    return out


def run_child(audio: Path, out: Path, model: str, mode: str | None, cores: int) -> dict:
    cpus = sorted(os.sched_getaffinity(0))[:cores]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": str(cores)}
    t0 = time.perf_counter()
    proc = subprocess.run(["taskset", "-c", ",".join(map(str, cpus)), sys.executable, "-c", CHILD,
                           str(audio), str(out), model, mode or ""],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"the note run failed ({proc.returncode}): {proc.stderr[-1500:]}")
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    rec["wall_s"] = wall
    return rec


def session(args, work: Path) -> None:
    audio = build_session(work, args.minutes)
    print(f"Drafting {audio.name} with default flags, Whisper {args.model}, {args.cores} cores …",
          flush=True)
    rec = run_child(audio, work / "note", args.model, None, args.cores)
    wall = rec["wall_s"]
    stages = dict(rec["timings"])
    stages["start-up (imports, outside the stages)"] = max(0.0, wall - sum(stages.values()))
    print(f"\naudio: {rec['duration_s'] / 60:.1f} min; mode found: {rec['mode']}; "
          f"speakers: {(rec['speakers'] or {}).get('voices')} voices; items: {rec['items']}")
    print(f"end to end: {wall:.1f} s ({wall / 60:.2f} min, "
          f"{rec['duration_s'] / wall:.1f}x real time); peak RSS {rec['peak_mb']:.0f} MB")
    print("stage shares:")
    for name, s in stages.items():
        print(f"  {name:<40} {s:7.1f} s  {100 * s / wall:5.1f}%")


def dictation(args, work: Path) -> None:
    runs: dict[str, list[dict]] = {"default (speakers found)": [],
                                   "--mode dictation (no speaker stage)": []}
    for i in range(args.repeat):
        for label, mode in (("default (speakers found)", None),
                            ("--mode dictation (no speaker stage)", "dictation")):
            rec = run_child(DICTATION, work / f"d-{i}-{mode}", args.model, mode, args.cores)
            runs[label].append(rec)
    print(f"\n{DICTATION.name}, Whisper {args.model}, {args.cores} cores, {args.repeat} runs each "
          "(median):")
    med = {}
    for label, recs in runs.items():
        wall = statistics.median(r["wall_s"] for r in recs)
        peak = statistics.median(r["peak_mb"] for r in recs)
        spk = statistics.median(r["timings"].get("speakers", 0.0) for r in recs)
        med[label] = (wall, peak)
        print(f"  {label:<38} wall {wall:6.1f} s  speaker stage {spk:5.1f} s  "
              f"peak RSS {peak:6.0f} MB  mode {recs[0]['mode']}")
    (w1, p1), (w0, p0) = med.values()
    print(f"  added by finding the speakers: {w1 - w0:+.1f} s wall, {p1 - p0:+.0f} MB peak RSS")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--model", default="base")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="work folder (kept; default: a "
                    "temporary one)")
    ap.add_argument("--dictation", action="store_true",
                    help="measure the speaker stage's cost on samples/dictation.flac instead")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-session-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (dictation if args.dictation else session)(args, work)


if __name__ == "__main__":
    main()
