#!/usr/bin/env python3
"""Benchmark of the optional semantic layer of extraction (extra 'semantic'): load time, embedding
throughput, and extract_items with and without the layer on the long dev session repeated 8 times.
Prints figures only (no session text)."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # real speech and gold cases (tests/data/SOURCES.md)


def main() -> int:
    t0 = time.perf_counter()
    from voicenotes.extract import semantic as sem

    if not sem.available():
        print("the 'semantic' extra is not installed: pip install -e '.[semantic]'")
        return 1
    det = sem.Detector()
    print(f"load (onnxruntime session, tokenizer, {len(det.protos)} prototypes): {time.perf_counter() - t0:.2f} s")
    case = json.loads((DATA / "extraction" / "dev-long.jsonl").read_text().splitlines()[0])
    sents = [x for t in case["turns"] for x in re.split(r"(?<=[.?!])\s+", t["text"]) if x.strip()] * 8
    words = sum(len(s.split()) for s in sents)
    t0 = time.perf_counter()
    det.score(sents)
    dt = time.perf_counter() - t0
    print(f"embedding: {len(sents)} sentences, {words} words in {dt:.2f} s = {len(sents) / dt:.0f} sentences/s, "
          f"{words / dt:.0f} words/s (1 thread)")
    from voicenotes.extract import extract_items, transcript_from_turns

    tr = transcript_from_turns(case["turns"] * 8, mode="session", session_start=case["session_start"])
    extract_items(tr, mode="session", semantic=False)
    extract_items(tr, mode="session", semantic=True)
    for on in (False, True):
        t0 = time.perf_counter()
        its = extract_items(tr, mode="session", semantic=on)
        dt = time.perf_counter() - t0
        print(f"extract_items semantic={on}: {dt:.2f} s, {words / dt:.0f} words/s, {len(its.items)} items")
    return 0


if __name__ == "__main__":
    sys.exit(main())
