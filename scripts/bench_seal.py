#!/usr/bin/env python3
"""Benchmark sealing (age encryption at rest) of a session folder, and its share of a `note` run.

Builds (once, cached in .bench/) a 60-minute 16 kHz mono WAV with sox from the speech clips in
tests/data/speech/clips, then:

  1. runs `voicenotes note` (tiny.en by default; a fresh Python process, the CLI's code path) on
     the first --note-minutes of it, and extrapolates its wall time linearly to 60 minutes
     (transcription, which is linear in length, is most of it); --note-minutes 60 measures the
     whole hour instead;
  2. makes a session folder like the one `note` leaves for the hour: the outputs of that run with
     the 60-minute WAV as its audio, and times `seal_folder` and `unseal_folder` on it (with a
     throw-away installation key), checking the round trip is byte-identical.

    .venv/bin/python scripts/bench_seal.py                    # 5-minute note run, extrapolated
    .venv/bin/python scripts/bench_seal.py --note-minutes 60  # the real hour (slow)

Ends with ONE line of figures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLIPS = REPO / "tests" / "data" / "speech" / "clips"
CACHE = REPO / ".bench"
HOUR_S = 3600


def hour_wav() -> Path:
    out = CACHE / "seal-60min.wav"
    if out.is_file():
        return out
    CACHE.mkdir(exist_ok=True)
    clips = sorted(CLIPS.glob("*.flac"))
    once = CACHE / "seal-clips.wav"
    subprocess.run(["sox", *map(str, clips), "-r", "16000", "-c", "1", "-b", "16", str(once)],
                   check=True)
    length = float(subprocess.run(["soxi", "-D", str(once)], check=True, capture_output=True,
                                  text=True).stdout)
    repeats = int(HOUR_S // length) + 1
    subprocess.run(["sox", str(once), str(out), "repeat", str(repeats), "trim", "0", str(HOUR_S)],
                   check=True)
    once.unlink()
    return out


def run_note(wav: Path, minutes: float, model: str, workdir: Path) -> tuple[Path, float]:
    src = wav
    if minutes < 60:
        src = workdir / "excerpt.wav"
        subprocess.run(["sox", str(wav), str(src), "trim", "0", str(minutes * 60)], check=True)
    out = workdir / "note-out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "voicenotes", "note", str(src), "--model", model,
                    "--out", str(out), "--quiet"], check=True, env=env, stdout=subprocess.DEVNULL)
    return out, time.monotonic() - t0


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--note-minutes", type=float, default=5.0)
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--repeat", type=int, default=3, help="seal/unseal rounds (best is kept)")
    args = ap.parse_args()

    wav = hour_wav()
    with tempfile.TemporaryDirectory(prefix="bench-seal-") as tmp:
        work = Path(tmp)
        os.environ["VOICENOTES_HOME"] = str(work / "home")  # a throw-away installation key
        sys.path.insert(0, str(REPO))
        from voicenotes.store.keys import init_identity
        from voicenotes.store.seal import seal_folder, unseal_folder

        init_identity()
        note_out, note_s = run_note(wav, args.note_minutes, args.model, work)
        note_hour_s = note_s * 60 / args.note_minutes
        folder = work / "session"
        shutil.copytree(note_out, folder)
        for old in folder.glob("audio.*"):
            old.unlink()
        shutil.copy(wav, folder / "audio.wav")
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        before = digest(folder)
        seal_s, unseal_s = [], []
        for _ in range(args.repeat):
            t0 = time.monotonic()
            seal_folder(folder)
            seal_s.append(time.monotonic() - t0)
            t0 = time.monotonic()
            unseal_folder(folder)
            unseal_s.append(time.monotonic() - t0)
        identical = digest(folder) == before

    mb = size / 1e6
    best_seal, best_unseal = min(seal_s), min(unseal_s)
    print(f"folder for 60 min of audio: {mb:.1f} MB ({len(before)} files)")
    print(f"seal:   best {best_seal:.2f} s of {args.repeat} "
          f"(all: {', '.join(f'{s:.2f}' for s in seal_s)}) = {best_seal / mb * 1000:.1f} ms/MB")
    print(f"unseal: best {best_unseal:.2f} s = {best_unseal / mb * 1000:.1f} ms/MB")
    print(f"note ({args.model}) on {args.note_minutes:g} min: {note_s:.1f} s wall "
          f"-> {note_hour_s:.0f} s for 60 min" + (" (extrapolated)" if args.note_minutes < 60 else ""))
    print(f"round trip byte-identical: {identical}")
    print(f"FIGURES seal_ms_per_MB={best_seal / mb * 1000:.1f} unseal_ms_per_MB="
          f"{best_unseal / mb * 1000:.1f} seal_60min_s={best_seal:.2f} note_60min_s={note_hour_s:.0f} "
          f"seal_share_of_note={100 * best_seal / note_hour_s:.1f}% identical={identical}")


if __name__ == "__main__":
    main()
