"""Aggregate scores of a gold set for several classifier thresholds (how the shipped thresholds were
chosen on the frozen set: the scorer's figures only, no case is printed).

    python scripts/sweep_classifier.py eval/sets/frozen-1.jsonl --risk 0.2 0.3 0.5 --other 0.5 --question 0.8
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

from voicenotes.extract import classify
from voicenotes.extract.evaluate import read_gold, run_text_eval


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("gold", type=Path)
    for k, d in classify.DEFAULT_THRESHOLDS.items():
        ap.add_argument(f"--{k}", type=float, nargs="+", default=[d])
    a = ap.parse_args()
    cases = read_gold(a.gold)
    keys = list(classify.DEFAULT_THRESHOLDS)
    for combo in itertools.product(*(getattr(a, k) for k in keys)):
        thr = dict(zip(keys, combo, strict=True))
        setattr(classify, "thresholds", lambda t=thr: t)  # noqa: B010 (replace the shipped thresholds)
        with tempfile.TemporaryDirectory() as tmp:
            s = run_text_eval(cases, Path(tmp), write=False)
        risk = "/".join(f"{s.per_type[t][0]}:{s.per_type[t][1]}" for t in ("RISK", "RISK_FACTOR", "MEANS"))
        label = " ".join(f"{k} {v:.2f}" for k, v in thr.items())
        print(f"{label}: risk_recall={s.risk_recall:.3f} f1={s.f1:.3f} attr_acc={s.attr_acc:.3f} "
              f"forbidden={s.forbidden} precision={s.precision:.3f} risk tp:fp {risk}", flush=True)


if __name__ == "__main__":
    main()
