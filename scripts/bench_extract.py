#!/usr/bin/env python3
"""Extraction benchmark: pipeline load time and throughput (words/s after load) on the long dev
session, repeated to at least 50,000 words. Prints figures (wall clock and CPU time); asserts nothing.

    .venv/bin/python scripts/bench_extract.py [--words 50000] [--blank] [--semantic | --classifier]

--blank measures the rule path (spacy.blank + sentencizer) instead of the statistical pipeline.
--classifier runs the semantic layer and the clause classifier (as installed) and also prints the
time of a 60-minute session (--session-words, about 9,000 words) from a cold start: import, loading
every model, and extraction.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # real speech and gold cases (tests/data/SOURCES.md)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=50_000)
    ap.add_argument("--blank", action="store_true", help="rule path only (no statistical pipeline)")
    ap.add_argument("--semantic", action="store_true",
                    help="also run the semantic layer (default: rules alone; see scripts/bench_semantic.py)")
    ap.add_argument("--classifier", action="store_true", help="the semantic layer and the clause classifier")
    ap.add_argument("--session-words", type=int, default=9_000, help="words of the cold-start session (--classifier)")
    args = ap.parse_args()
    if args.classifier:
        args.semantic = True
    os.environ["VOICENOTES_CLASSIFIER"] = "1" if args.classifier else "0"
    sys.path.insert(0, str(REPO))
    case = json.loads((DATA / "extraction" / "dev-long.jsonl").read_text().splitlines()[0])
    turns = case["turns"]
    words_per = sum(len(t["text"].split()) for t in turns)
    reps = max(1, -(-args.words // words_per))
    big = turns * reps
    n_words = words_per * reps

    t0 = time.perf_counter()
    import voicenotes.extract as ex
    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    c1 = time.process_time()
    extractor = ex.get_extractor((), use_model=False if args.blank else None)
    t_load = time.perf_counter() - t1
    c_load = time.process_time() - c1
    t_models = 0.0
    if args.classifier:
        from voicenotes.extract import classify, semantic

        tm = time.perf_counter()
        semantic.get_detector()
        classify.get_head()
        t_models = time.perf_counter() - tm
        reps_s = max(1, -(-args.session_words // words_per))
        tr_s = ex.transcript_from_turns(turns * reps_s, mode="session", session_start=case["session_start"])
        ts = time.perf_counter()
        cs = time.process_time()
        its_s = ex.extract_items(tr_s, mode="session", session_start=case["session_start"], semantic=True)
        t_session = time.perf_counter() - ts
        c_session = time.process_time() - cs
        c_cold = time.process_time()
        cold = t0
    tr_small = ex.transcript_from_turns(turns, mode="session", session_start=case["session_start"])
    t2 = time.perf_counter()
    ex.extract_items(tr_small, mode="session", session_start=case["session_start"],
                     use_model=False if args.blank else None,
                     semantic=args.semantic)
    t_first = time.perf_counter() - t2  # includes one-off warm-up (date parser tables)

    tr = ex.transcript_from_turns(big, mode="session", session_start=case["session_start"])
    t3 = time.perf_counter()
    c3 = time.process_time()
    items = ex.extract_items(tr, mode="session", session_start=case["session_start"],
                             use_model=False if args.blank else None,
                     semantic=args.semantic)
    dt = time.perf_counter() - t3
    cdt = time.process_time() - c3
    print(f"pipeline       {extractor.info['model']} ({', '.join(extractor.info['pipes'])})")
    print(f"cpu cores      {os.cpu_count()}")
    print(f"import_s       {t_import:.2f}")
    print(f"load_s         {t_load:.2f}   (import + build: {t_import + t_load:.2f}; cpu {c_load:.2f} s)")
    if args.classifier:
        print(f"models_load_s  {t_models:.2f}   (MiniLM int8 + prototypes + classifier head)")
        print(f"session_s      {t_session:.2f}   ({words_per * reps_s} words, {len(its_s.items)} items, first extraction "
              f"after load, incl. warm-up; cpu {c_session:.2f} s)")
        print(f"cold_start_s   {ts - cold + t_session:.2f}   (import, every model loaded, that session extracted; "
              f"cpu {c_cold:.2f} s)")
    print(f"first_call_s   {t_first:.2f}   (one session, {words_per} words{'' if args.classifier else ', incl. warm-up'})")
    print(f"words          {n_words}  ({reps} x the long dev session as one transcript, {len(big)} turns)")
    print(f"items          {len(items.items)}")
    print(f"extract_s      {dt:.2f}")
    print(f"words_per_s    {n_words / dt:,.0f}   (per cpu-second: {n_words / cdt:,.0f})")
    print(f"load_average   {' '.join(f'{x:.2f}' for x in os.getloadavg())}   (other work on the machine slows the wall-clock figures)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
