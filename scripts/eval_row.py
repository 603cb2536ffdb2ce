"""Score the extractor on a gold set and print one eval/history.md row (aggregate figures only).

    python scripts/eval_row.py eval/sets/frozen-1.jsonl [--note "first contact"]

Prints nothing about single cases, so it is safe to run on the frozen set.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import tempfile
from pathlib import Path

from voicenotes.extract.evaluate import read_gold, run_text_eval, stage_recalls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("gold", type=Path)
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        s = run_text_eval(read_gold(a.gold), Path(d), write=False)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "voicenotes"], capture_output=True, text=True).stdout.strip()
    stages = " / ".join(r for _, r in stage_recalls(s))
    print(f"| {dt.date.today().isoformat()} | {a.gold.stem} | {commit}{'+' if dirty else ''} | {s.risk_recall:.3f} "
          f"| {s.f1:.3f} | {s.attr_acc:.3f} | {s.forbidden} | {stages} | {a.note} |")
    per = ", ".join(f"{t} {tp}/{n}" for t, (tp, _fp, n) in s.per_type.items() if n)
    print(f"recall per type: {per}")


if __name__ == "__main__":
    main()
