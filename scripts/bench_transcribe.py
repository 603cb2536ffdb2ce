#!/usr/bin/env python3
"""Benchmark: voicenotes transcription vs plain faster-whisper vs the whisper-ctranslate2 CLI.

    .venv/bin/python scripts/bench_transcribe.py [--rounds N] [--models tiny.en,base] [--no-peer]

Builds a >= 10-minute file from the speech clips in tests/data (real and TTS speech with exact
references, pauses of 0.5-8 s and 45 s, room tone), then runs every configuration in a FRESH
process (import + model load + transcription), one after the other, per round:

* ``ours:<model>``   voicenotes' Transcriber (streaming windows, batched 8, beam 5, VAD 2000 ms,
                      word timestamps, dropped-speech recovery, flags)
* ``plain:<model>``  faster-whisper's own BatchedInferencePipeline on the whole file with the
                      same settings (decode_audio, batch 8, beam 5, VAD 2000 ms, word timestamps,
                      language en, int8, 2 threads)
* ``seq:base``       plain faster-whisper sequential beam 5 (its defaults, language en): the
                      accuracy reference the batched default must not fall below
* ``peer:<model>``   the whisper-ctranslate2 CLI (installed in .bench/peer, never in our deps)
                      on the same model folder, batched with the same settings

Reports per configuration: transcription seconds, CPU seconds (user+sys, less sensitive than
wall time when other jobs share the cores), real-time factor (audio s / transcription s),
process wall seconds, peak RSS, WER (Whisper English normaliser + jiwer); then our overhead vs
plain (transcription time ratio) and ours vs the peer (process wall ratio), each the median over
rounds of the within-round ratio (the machine may be shared; absolute times are medians).
The last line is one line of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
PEER_VENV = REPO / ".bench" / "peer"
PEER_VERSION = "0.5.8"


# --------------------------------------------------------------------------- workers


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(kind: str, model: str, audio: str, out_json: str) -> None:
    """Run one configuration in this (fresh) process and write its figures + text."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    t_start = time.perf_counter()
    if kind == "ours":
        from voicenotes.transcribe import TranscribeOptions, Transcriber

        tr = Transcriber(TranscribeOptions(model=model))
        tr.load()
        t_loaded, c_loaded = time.perf_counter(), _cpu_s()
        transcript = tr.transcribe(Path(audio))
        t_done, c_done = time.perf_counter(), _cpu_s()
        text = transcript.text
        extra = {"flagged_segments": sum(1 for s in transcript.segments if s.verify),
                 "segments": len(transcript.segments), **tr.stats}
    elif kind == "plain":
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        from voicenotes.models import resolve_model

        path = resolve_model(model).path
        m = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2,
                         local_files_only=True)
        pipe = BatchedInferencePipeline(model=m)
        t_loaded, c_loaded = time.perf_counter(), _cpu_s()
        segs, _info = pipe.transcribe(
            audio, language="en", beam_size=5, batch_size=8, temperature=0.0,
            condition_on_previous_text=False, vad_filter=True,
            vad_parameters={"min_silence_duration_ms": 2000}, word_timestamps=True,
            without_timestamps=True)
        segs = list(segs)
        t_done, c_done = time.perf_counter(), _cpu_s()
        text = " ".join(s.text.strip() for s in segs)
        extra = {"segments": len(segs)}
    elif kind == "seq":
        from faster_whisper import WhisperModel

        from voicenotes.models import resolve_model

        m = WhisperModel(str(resolve_model(model).path), device="cpu", compute_type="int8",
                         cpu_threads=2, local_files_only=True)
        t_loaded, c_loaded = time.perf_counter(), _cpu_s()
        segs, _info = m.transcribe(audio, language="en", beam_size=5)  # sequential defaults
        segs = list(segs)
        t_done, c_done = time.perf_counter(), _cpu_s()
        text = " ".join(s.text.strip() for s in segs)
        extra = {"segments": len(segs)}
    else:
        raise SystemExit(f"unknown worker kind {kind}")
    Path(out_json).write_text(json.dumps({
        "load_s": t_loaded - t_start, "transcribe_s": t_done - t_loaded,
        "cpu_s": c_done - c_loaded,
        "peak_rss_mb": _rss_mb(), "text": text, **extra}))


def run_worker(kind: str, model: str, audio: Path, tmp: Path) -> dict:
    out = tmp / f"{kind}-{model}.json"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, model, str(audio),
                           str(out)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{kind}:{model} failed:\n{proc.stderr[-2000:]}")
    res = json.loads(out.read_text())
    res["wall_s"] = wall
    return res


def ensure_peer() -> Path:
    exe = PEER_VENV / "bin" / "whisper-ctranslate2"
    if not exe.exists():
        print(f"Installing whisper-ctranslate2=={PEER_VERSION} into {PEER_VENV} (bench only) …",
              file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q",
                        f"whisper-ctranslate2=={PEER_VERSION}"], check=True)
    return exe


def run_peer(exe: Path, model: str, audio: Path, tmp: Path) -> dict:
    from voicenotes.models import resolve_model

    path = resolve_model(model).path
    out_dir = tmp / f"peer-{model}"
    out_dir.mkdir(exist_ok=True)
    cmd = [str(exe), str(audio), "--model_directory", str(path), "--device", "cpu",
           "--compute_type", "int8", "--threads", "2", "--beam_size", "5", "--language", "en",
           "--batched", "True", "--batch_size", "8", "--vad_filter", "True",
           "--vad_min_silence_duration_ms", "2000", "--word_timestamps", "True",
           "--output_format", "txt", "--output_dir", str(out_dir), "--verbose", "False"]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"peer:{model} failed:\n{proc.stderr[-2000:]}")
    txt = next(out_dir.glob("*.txt")).read_text()
    # RUSAGE_CHILDREN is the max over all children so far; reliable only when it grew
    return {"wall_s": wall, "transcribe_s": None, "load_s": None,
            "peak_rss_mb": after / 1024.0 if after > before else None, "text": txt}


# --------------------------------------------------------------------------- main


def build_file(tmp: Path):
    from transcribe_fixtures import build, load_refs, multipause_plan

    refs = load_refs()
    clips, pauses = multipause_plan(refs, 1e9)  # all 58 clips
    clips = clips + refs[:12]  # and 12 again, to pass 10 minutes
    pauses = pauses + [1.0, 2.0, 0.8, 4.0, 1.2, 8.0, 0.6, 3.0, 5.0, 0.5, 1.0, 2.0]
    f = tmp / "bench10.wav"
    placed = build(f, clips, pauses)
    return f, placed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--models", default="tiny.en,base")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-seq", action="store_true", help="skip the sequential base reference")
    ap.add_argument("--worker", nargs=4, metavar=("KIND", "MODEL", "AUDIO", "OUT"))
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    import jiwer
    from transcribe_fixtures import normalizer

    tmp = Path(tempfile.mkdtemp(prefix="vn-bench-"))
    try:
        audio, placed = build_file(tmp)
        duration = placed[-1].end + 1.0
        norm = normalizer()
        ref = " ".join(norm(p.text) for p in placed)
        models = [m for m in args.models.split(",") if m]
        peer = None if args.no_peer else ensure_peer()
        print(f"file: {duration / 60:.1f} min, {len(placed)} clips, {len(ref.split())} reference "
              f"words; cpu count {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}")
        results: dict[str, list[dict]] = {}
        for r in range(args.rounds):
            for model in models:
                kinds = ("ours", "plain") + (("peer",) if peer else ())
                if model == "base" and not args.no_seq:
                    kinds += ("seq",)
                for kind in kinds:
                    key = f"{kind}:{model}"
                    if kind == "peer":
                        res = run_peer(peer, model, audio, tmp)
                    else:
                        res = run_worker(kind, model, audio, tmp)
                    res["wer"] = jiwer.wer(ref, norm(res.pop("text")))
                    results.setdefault(key, []).append(res)
                    ts = res["transcribe_s"]
                    print(f"round {r + 1} {key:14s} wall {res['wall_s']:6.1f} s  "
                          + (f"transcribe {ts:6.1f} s  RTF {duration / ts:5.1f}x  CPU "
                             f"{res['cpu_s']:6.1f} s  " if ts else "")
                          + (f"peak RSS {res['peak_rss_mb']:.0f} MB  " if res['peak_rss_mb'] else "")
                          + f"WER {res['wer']:.2%}"
                          + (f"  recovered {res.get('recovered')} flagged "
                             f"{res.get('flagged_segments')}" if kind == "ours" else ""),
                          flush=True)

        def med(key, field):
            vals = [x[field] for x in results.get(key, []) if x.get(field) is not None]
            return statistics.median(vals) if vals else None

        print("\nmedians over", args.rounds, "round(s):")
        summary = []
        for model in models:
            o_t, p_t = med(f"ours:{model}", "transcribe_s"), med(f"plain:{model}", "transcribe_s")
            o_w, q_w = med(f"ours:{model}", "wall_s"), med(f"peer:{model}", "wall_s")
            rtf = duration / o_t

            def ratio(a, b, field):  # median over rounds of the within-round ratio
                pairs = [x[field] / y[field] for x, y in
                         zip(results.get(a, []), results.get(b, []), strict=False) if x.get(field) and y.get(field)]
                return statistics.median(pairs) if pairs else None

            over = (ratio(f"ours:{model}", f"plain:{model}", "transcribe_s") - 1) * 100
            over_cpu = (ratio(f"ours:{model}", f"plain:{model}", "cpu_s") - 1) * 100
            peer_ratio = ratio(f"ours:{model}", f"peer:{model}", "wall_s")
            line = (f"{model}: ours RTF {rtf:.1f}x (transcribe {o_t:.1f} s, wall {o_w:.1f} s), "
                    f"peak RSS {med(f'ours:{model}', 'peak_rss_mb'):.0f} MB, "
                    f"WER {med(f'ours:{model}', 'wer'):.2%}; plain faster-whisper RTF "
                    f"{duration / p_t:.1f}x, peak RSS {med(f'plain:{model}', 'peak_rss_mb'):.0f} MB,"
                    f" WER {med(f'plain:{model}', 'wer'):.2%}; overhead {over:+.1f}% wall, "
                    f"{over_cpu:+.1f}% CPU time")
            part = (f"{model} RTF {rtf:.1f}x RSS {med(f'ours:{model}', 'peak_rss_mb'):.0f}MB "
                    f"WER {med(f'ours:{model}', 'wer'):.1%} | plain WER "
                    f"{med(f'plain:{model}', 'wer'):.1%} overhead {over:+.1f}% (CPU {over_cpu:+.1f}%)")
            if q_w:
                line += (f"; whisper-ctranslate2 wall {q_w:.1f} s, WER "
                         f"{med(f'peer:{model}', 'wer'):.2%}, ours/peer wall {peer_ratio:.2f}")
                part += (f" | peer WER {med(f'peer:{model}', 'wer'):.1%} ours/peer wall "
                         f"{peer_ratio:.2f}")
            s_w = med(f"seq:{model}", "wer")
            if s_w is not None:
                line += (f"; sequential beam-5 RTF {duration / med(f'seq:{model}', 'transcribe_s'):.1f}x"
                         f" WER {s_w:.2%}")
                part += f" | seq-b5 WER {s_w:.1%}"
            print(line)
            summary.append(part)
        print(f"BENCH {duration / 60:.1f}-min file, {args.rounds} round(s): " + " || ".join(summary))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
