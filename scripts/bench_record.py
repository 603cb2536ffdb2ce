#!/usr/bin/env python3
"""Recording crash-safety and cost figures, with real PortAudio capture (no sound card needed).

For each trial: `voicenotes record` captures speech through ALSA's file plugin (fed from a FIFO
at real-time pace, see tests/test_record_rig.py), is killed with SIGKILL at a random time, and
`voicenotes recover` repairs it. A copy of the killed folder is then cut to the last fsync'd
offset plus 1-4 KiB of garbage (a simulated power cut) and recovered too. Prints, per trial and
in summary: audio fed to the device, what the WAV header said before repair, what was recovered
(wave / soxi / PyAV), the loss, and the recorder's CPU time and peak memory.

    .venv/bin/python scripts/bench_record.py [--trials 8] [--min 1.5] [--max 8] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from test_record_rig import (  # noqa: E402
    CONSENT_FLAGS,
    AlsaRig,
    journal,
    only_session,
    pyav_seconds,
    soxi_seconds,
    wave_seconds,
)

from voicenotes.record import WAV_HEADER_BYTES, read_header  # noqa: E402

DATA = REPO / "tests" / "data"  # real speech and gold cases (tests/data/SOURCES.md)
CLIP_HZ = 16000


def _proc_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak RSS bytes) of a live process."""
    with open(f"/proc/{pid}/stat") as fh:
        parts = fh.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(parts[11]) + int(parts[12])) / tick
    hwm = 0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return cpu, hwm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--min", type=float, default=1.5, help="earliest kill, seconds of audio")
    ap.add_argument("--max", type=float, default=8.0, help="latest kill, seconds of audio")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)

    root = Path(tempfile.mkdtemp(prefix="bench-record-"))
    raw = root / "speech.raw"
    clips = [DATA / "speech/clips/misc__jfk.flac",
             DATA / "speech/clips/ljspeech_lj001__LJ001-0001.flac"]
    subprocess.run(["sox", *map(str, clips), "-r", str(CLIP_HZ), "-c", "1", "-b", "16", "-e",
                    "signed-integer", "-t", "raw", str(raw)], check=True)
    rig = AlsaRig(root / "rig", raw.read_bytes())
    feeder = rig.start()
    rows = []
    try:
        for t in range(args.trials):
            n = rnd.uniform(args.min, args.max)
            out = root / f"trial-{t}"
            mark = feeder.mark()
            p = rig.popen("record", "--out", str(out), "--max-seconds", "600", *CONSENT_FLAGS)
            while feeder.fed_seconds(after=mark) < n:
                if p.poll() is not None:
                    raise SystemExit(f"recorder exited early: {p.stderr.read()}")
                time.sleep(0.005)
            cpu, rss = _proc_stats(p.pid)
            fed = feeder.fed_seconds()
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            folder = only_session(out)
            wav = folder / "session-0001.wav"
            with open(wav, "rb") as fh:
                header_s = read_header(fh.read(WAV_HEADER_BYTES))["data_size"] / 2 / CLIP_HZ
            power = root / f"power-{t}"
            shutil.copytree(folder, power)
            subprocess.run([*rig_cmd(), "recover", str(out)], env=rig.env, check=True,
                           capture_output=True)
            readers = (wave_seconds(wav), soxi_seconds(wav), pyav_seconds(wav))
            # simulated power loss on the copy
            last = journal(power)["last_sync"]
            pw = power / last["file"]
            with open(pw, "r+b") as fh:
                fh.truncate(last["offset_bytes"])
                fh.seek(last["offset_bytes"])
                fh.write(os.urandom(rnd.randint(1024, 4096)))
            subprocess.run([*rig_cmd(), "recover", str(power)], env=rig.env, check=True,
                           capture_output=True)
            preaders = (wave_seconds(pw), soxi_seconds(pw), pyav_seconds(pw))
            synced = (last["offset_bytes"] - WAV_HEADER_BYTES) / 2 / CLIP_HZ
            rows.append({"n": n, "fed": fed, "header": header_s, "rec": readers, "synced": synced,
                             "prec": preaders, "cpu": cpu, "rss": rss})
            print(f"trial {t}: killed at {fed:5.2f} s fed | header said {header_s:5.2f} s | "
                  f"recovered wave/soxi/PyAV {readers[0]:5.2f}/{readers[1]:5.2f}/{readers[2]:5.2f}"
                  f" (loss {fed - readers[0]:+.2f} s) | power cut: fsync'd {synced:5.2f} s, "
                  f"recovered {preaders[0]:5.2f}/{preaders[1]:5.2f}/{preaders[2]:5.2f} "
                  f"(loss vs fed {fed - synced:+.2f} s) | recorder CPU {cpu:.2f} s, "
                  f"peak RSS {rss / 1e6:.0f} MB", flush=True)
    finally:
        rig.stop()
    loss = [r["fed"] - r["rec"][0] for r in rows]
    ploss = [r["fed"] - r["synced"] for r in rows]
    spread = [max(r["rec"]) - min(r["rec"]) for r in rows] + \
        [max(r["prec"]) - min(r["prec"]) for r in rows]
    hdr = [r["fed"] - r["header"] for r in rows]
    print(f"\n{len(rows)} kill -9 trials at {args.min}-{args.max} s: loss after recover "
          f"max {max(loss):.2f} s, mean {sum(loss) / len(loss):.2f} s; header before repair "
          f"trailed by up to {max(hdr):.2f} s; simulated power cut: loss max {max(ploss):.2f} s, "
          f"mean {sum(ploss) / len(ploss):.2f} s; readers disagree by at most {max(spread):.3f} s")
    cps = [r["cpu"] / r["fed"] for r in rows]
    print(f"recorder process: {sum(cps) / len(cps) * 100:.1f}% of one core per second of audio "
          f"(includes start-up), peak RSS max {max(r['rss'] for r in rows) / 1e6:.0f} MB")
    shutil.rmtree(root, ignore_errors=True)


def rig_cmd() -> list[str]:
    return [sys.executable, "-m", "voicenotes"]


if __name__ == "__main__":
    main()
