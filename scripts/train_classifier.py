"""Train the clause classifier's head on the labelled corpus (reproducible: fixed seed).

    python scripts/train_classifier.py [--seed 13] [--cache /tmp/emb.npy]

Embeds every corpus clause with the shipped MiniLM int8 model (a bare answer together with its
question), splits the corpus 80/20 (stratified by writer file, fixed seed), trains a logistic
regression and a one-hidden-layer MLP (numpy, full-batch Adam, L2) with one sigmoid output per item
type, reports both on the held-out 20%, then refits the better one on the whole corpus and writes
voicenotes/extract/classifier/head.npz and manifest.json (corpus hash, seed, held-out metrics).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from voicenotes.domain import ITEM_TYPES
from voicenotes.extract.classifier import (
    MANIFEST,
    WEIGHTS,
    corpus_files,
    corpus_hash,
    training_text,
)
from voicenotes.extract.semantic import MODEL_ID, Embedder

TYPES = list(ITEM_TYPES)


def load_corpus() -> tuple[list[str], np.ndarray, list[str], list[str | None]]:
    texts, labels, files, subtypes = [], [], [], []
    for p in corpus_files():
        for line in p.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            texts.append(training_text(row))
            labels.append([1.0 if t in row.get("types", []) else 0.0 for t in TYPES])
            files.append(p.name)
            types = row.get("types") or []
            subtypes.append(row.get("subtype") if types and types[0] == "RISK" else None)
    return texts, np.array(labels, dtype=np.float32), files, subtypes


def train_softmax(X, y: np.ndarray, k: int, seed: int, epochs: int = 300, lr: float = 5e-3, l2: float = 1e-4):
    """Multinomial logistic regression (the RISK subtype head)."""
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 0.01, (X.shape[1], k)).astype(np.float32)
    b = np.zeros(k, np.float32)
    Y = np.eye(k, dtype=np.float32)[y]
    mw, vw, mb, vb = (np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b))
    for step in range(1, epochs + 1):
        z = X @ W + b
        z = np.exp(z - z.max(1, keepdims=True))
        g = (z / z.sum(1, keepdims=True) - Y) / len(X)
        gW, gb = X.T @ g + l2 * W, g.sum(0)
        mw, vw = 0.9 * mw + 0.1 * gW, 0.999 * vw + 0.001 * gW * gW
        mb, vb = 0.9 * mb + 0.1 * gb, 0.999 * vb + 0.001 * gb * gb
        W = W - lr * (mw / (1 - 0.9 ** step)) / (np.sqrt(vw / (1 - 0.999 ** step)) + 1e-8)
        b = b - lr * (mb / (1 - 0.9 ** step)) / (np.sqrt(vb / (1 - 0.999 ** step)) + 1e-8)
    return W, b


def init(sizes: list[int], rng: np.random.Generator) -> list[list[np.ndarray]]:
    return [[rng.normal(0, np.sqrt(2.0 / a), (a, b)).astype(np.float32), np.zeros(b, np.float32)]
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)]


def forward(params, X):
    acts = [X]
    h = X
    for i, (W, b) in enumerate(params):
        h = h @ W + b
        if i < len(params) - 1:
            h = np.maximum(h, 0.0)
        acts.append(h)
    return acts


def train(X, Y, hidden: int, seed: int, epochs: int = 400, lr: float = 3e-3, l2: float = 1e-4):
    rng = np.random.default_rng(seed)
    sizes = [X.shape[1]] + ([hidden] if hidden else []) + [Y.shape[1]]
    params = init(sizes, rng)
    m = [[np.zeros_like(p) for p in layer] for layer in params]
    v = [[np.zeros_like(p) for p in layer] for layer in params]
    pos = Y.mean(0).clip(1e-3)
    wpos = np.sqrt((1 - pos) / pos).astype(np.float32)  # up-weight the rare positives a little
    for step in range(1, epochs + 1):
        acts = forward(params, X)
        prob = 1 / (1 + np.exp(-acts[-1]))
        w = np.where(Y > 0, wpos, 1.0)
        g = w * (prob - Y) / len(X)
        for i in range(len(params) - 1, -1, -1):
            W, _b = params[i]
            gW = acts[i].T @ g + l2 * W
            gb = g.sum(0)
            if i:
                g = (g @ W.T) * (acts[i] > 0)
            for j, gr in enumerate((gW, gb)):
                m[i][j] = 0.9 * m[i][j] + 0.1 * gr
                v[i][j] = 0.999 * v[i][j] + 0.001 * gr * gr
                mh = m[i][j] / (1 - 0.9 ** step)
                vh = v[i][j] / (1 - 0.999 ** step)
                params[i][j] = params[i][j] - lr * mh / (np.sqrt(vh) + 1e-8)
    return params


def metrics(params, X, Y, thr: float = 0.5) -> dict[str, Any]:
    prob = 1 / (1 + np.exp(-forward(params, X)[-1]))
    pred = prob >= thr
    out: dict[str, Any] = {}
    for k, t in enumerate(TYPES):
        tp = int((pred[:, k] & (Y[:, k] > 0)).sum())
        fp = int((pred[:, k] & (Y[:, k] == 0)).sum())
        fn = int((~pred[:, k] & (Y[:, k] > 0)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        out[t] = {"precision": round(p, 3), "recall": round(r, 3),
                  "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0, "n": tp + fn}
    out["macro_f1"] = round(float(np.mean([out[t]["f1"] for t in TYPES])), 3)
    return out


def split(files: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    test = np.zeros(len(files), bool)
    for f in sorted(set(files)):
        idx = np.array([i for i, x in enumerate(files) if x == f])
        rng.shuffle(idx)
        test[idx[: len(idx) // 5]] = True
    return ~test, test


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--cache", type=Path, help="reuse/store the corpus embeddings here (.npy)")
    a = ap.parse_args()
    texts, Y, files, subtypes = load_corpus()
    t0 = time.perf_counter()
    if a.cache and a.cache.is_file():
        X = np.load(a.cache)
    else:
        X = Embedder(threads=2).embed(texts)
        if a.cache:
            np.save(a.cache, X)
    print(f"{len(texts)} clauses embedded in {time.perf_counter() - t0:.1f} s")
    tr, te = split(files, a.seed)
    results = {}
    for name, hidden in (("logreg", 0), ("mlp", a.hidden)):
        params = train(X[tr], Y[tr], hidden, a.seed)
        results[name] = (hidden, metrics(params, X[te], Y[te]))
        print(f"{name:7s} held-out macro F1 {results[name][1]['macro_f1']:.3f}")
    best = max(results, key=lambda k: results[k][1]["macro_f1"])
    hidden, held = results[best]
    for t in TYPES:
        h = held[t]
        print(f"  {t:13s} P {h['precision']:.2f} R {h['recall']:.2f} F1 {h['f1']:.2f} n {h['n']}")
    names = sorted({s for s in subtypes if s})
    has = np.array([s is not None for s in subtypes])
    ys = np.array([names.index(s) if s else 0 for s in subtypes])
    Ws, bs = train_softmax(X[tr & has], ys[tr & has], len(names), a.seed)
    sub_acc = float(((X[te & has] @ Ws + bs).argmax(1) == ys[te & has]).mean())
    print(f"RISK subtype head: held-out accuracy {sub_acc:.3f} ({int((te & has).sum())} clauses)")
    Ws, bs = train_softmax(X[has], ys[has], len(names), a.seed)
    params = train(X, Y, hidden, a.seed)
    arrays = {"types": np.array(TYPES), "n_layers": np.array(len(params)),
              "subtypes": np.array(names), "Ws": Ws.astype(np.float32), "bs": bs.astype(np.float32)}
    for i, (W, b) in enumerate(params):
        arrays[f"W{i}"] = W.astype(np.float32)
        arrays[f"b{i}"] = b.astype(np.float32)
    np.savez_compressed(WEIGHTS, **arrays)
    old = json.loads(MANIFEST.read_text(encoding="utf-8")) if MANIFEST.is_file() else {}
    manifest = {
        "embedding_model": MODEL_ID, "head": best, "hidden": hidden, "seed": a.seed,
        "corpus_sha256": corpus_hash(), "corpus_clauses": len(texts),
        "split": "80/20 per writer file, fixed seed; shipped head refit on the whole corpus",
        "heldout_threshold": 0.5, "heldout": {k: v[1] for k, v in results.items()},
        "heldout_subtype_accuracy": round(sub_acc, 3),
        # proposal thresholds are chosen on the frozen gold set, not here; kept across retraining
        "thresholds": old.get("thresholds", {}),
        **({"thresholds_chosen_on": old["thresholds_chosen_on"]} if "thresholds_chosen_on" in old else {}),
    }
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {WEIGHTS.name} ({best}) and {MANIFEST.name}")


if __name__ == "__main__":
    main()
