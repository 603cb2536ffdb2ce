#!/usr/bin/env python3
"""Benchmark the main job, `voicenotes note`, end to end: wall time, peak RSS and the share of
time per stage (transcribe / extract / note), on

  * the ~5.5-minute dev session audio (tests/data/extraction/audio/dev-long-1.flac), and
  * a 60-minute file concatenated with sox from the dev extraction renderings (made once, cached).

Each run is a fresh Python process that calls voicenotes.pipeline.run_note (the same code path as
the CLI) and reports its own peak RSS (getrusage ru_maxrss), so runs do not share a loaded model.

    .venv/bin/python scripts/bench_note.py                 # tiny.en, both files
    .venv/bin/python scripts/bench_note.py --model base    # the default model (slower)
    .venv/bin/python scripts/bench_note.py --only short    # just the dev session

Ends with ONE line of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # real speech and gold cases (tests/data/SOURCES.md)
AUDIO = DATA / "extraction" / "audio"
CACHE = REPO / ".bench"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.monotonic()
from voicenotes.pipeline import NoteOptions, run_note
from voicenotes.transcribe import TranscribeOptions
src, out, model = sys.argv[1], sys.argv[2], sys.argv[3]
opts = NoteOptions(template="crisis", mode="session", session_start="2026-03-09T14:00:00",
                   transcribe=TranscribeOptions(model=model))
r = run_note(Path(src), Path(out), opts)
wall = time.monotonic() - t0
print(json.dumps({"wall_s": wall, "timings": r.timings,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "duration_s": r.summary["duration_s"], "items": r.summary["items"],
                  "risk_items": r.summary["risk_items"]}))
"""


def sox_duration(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True,
                                check=True).stdout.strip())


def make_long(target_s: float) -> Path:
    """Concatenate the dev renderings (dev-long-1 first, then the short cases) until ≥ target."""
    CACHE.mkdir(exist_ok=True)
    out = CACHE / f"note-bench-{int(target_s // 60)}min.flac"
    if out.is_file() and sox_duration(out) >= target_s:
        return out
    pieces = [AUDIO / "dev-long-1.flac"] + sorted(AUDIO.glob("dev-[0-9]*.flac"))
    total, chosen = 0.0, []
    durations = {p: sox_duration(p) for p in pieces}
    while total < target_s:
        for p in pieces:
            chosen.append(p)
            total += durations[p]
            if total >= target_s:
                break
    tmp = out.with_suffix(".tmp.flac")
    # in batches: one sox call with hundreds of inputs is fine, but keep argv modest
    subprocess.run(["sox", *map(str, chosen), str(tmp)], check=True)
    tmp.replace(out)
    return out


def run_one(src: Path, model: str) -> dict:
    out = Path(tempfile.mkdtemp(prefix="bench-note-"))
    try:
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
        proc = subprocess.run([sys.executable, "-c", CHILD, str(src), str(out), model],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-2000:])
            raise SystemExit(f"run failed on {src.name}")
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def report(name: str, r: dict) -> str:
    stages = r["timings"]
    total = sum(stages.values()) or 1.0
    shares = ", ".join(f"{k} {v:.1f} s ({100 * v / total:.0f}%)" for k, v in stages.items())
    rtf = r["wall_s"] / r["duration_s"] if r["duration_s"] else float("nan")
    print(f"{name}: audio {r['duration_s'] / 60:.1f} min, wall {r['wall_s']:.1f} s "
          f"(RTF {rtf:.3f}), peak RSS {r['peak_rss_mb']:.0f} MB, items {r['items']} "
          f"({r['risk_items']} risk); stages: {shares}; start-up/other "
          f"{r['wall_s'] - total:.1f} s")
    return (f"{name}_wall_s={r['wall_s']:.1f} {name}_rtf={rtf:.3f} "
            f"{name}_peak_rss_mb={r['peak_rss_mb']:.0f} " +
            " ".join(f"{name}_{k}_pct={100 * v / total:.0f}" for k, v in stages.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--only", choices=("short", "long"))
    args = ap.parse_args()
    print(f"voicenotes note benchmark, model {args.model}, {os.cpu_count()} CPUs")
    figures = [f"model={args.model}"]
    if args.only in (None, "short"):
        figures.append(report("dev_long", run_one(AUDIO / "dev-long-1.flac", args.model)))
    if args.only in (None, "long"):
        src = make_long(args.minutes * 60)
        figures.append(report(f"{int(args.minutes)}min", run_one(src, args.model)))
    print(" ".join(figures))


if __name__ == "__main__":
    main()
