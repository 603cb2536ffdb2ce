"""The clause classifier's trained head: item types from a clause's sentence embedding.

The embedding is all-MiniLM-L6-v2 (int8 ONNX, the semantic layer's :class:`Embedder`); the head is
a one-hidden-layer MLP (or a logistic regression, whichever measured better when trained) with one
sigmoid output per item type, stored in ``head.npz`` beside this file with ``manifest.json``
(corpus hash, seed, held-out metrics). Both are written by ``scripts/train_classifier.py`` from the
labelled clauses of ``corpus/``; nothing is trained at run time. numpy only, no torch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

HERE = Path(__file__).parent
WEIGHTS = HERE / "head.npz"
MANIFEST = HERE / "manifest.json"
CORPUS = HERE / "corpus"


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.jsonl"))


def corpus_hash() -> str:
    h = hashlib.sha256()
    for p in corpus_files():
        h.update(p.name.encode("utf-8"))
        h.update(p.read_bytes())
    return h.hexdigest()


def weights_hash() -> str:
    """sha256 of the shipped head and its manifest (which holds the proposal thresholds)."""
    h = hashlib.sha256()
    for p in (WEIGHTS, MANIFEST):
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def training_text(row: dict) -> str:
    """The text a corpus row is embedded as: a bare answer is read with its question."""
    q = row.get("question")
    return f"{q} {row['text']}" if q else row["text"]


class Head:
    """forward(X) -> probabilities (n, len(types))."""

    def __init__(self, path: Path = WEIGHTS):
        import numpy as np

        self.np = np
        with np.load(path, allow_pickle=False) as z:
            self.types = [str(t) for t in z["types"]]
            self.layers = [(z[f"W{i}"], z[f"b{i}"]) for i in range(int(z["n_layers"]))]
            self.subtypes = [str(t) for t in z["subtypes"]]
            self.sub = (z["Ws"], z["bs"])
        manifest = json.loads(MANIFEST.read_text(encoding="utf-8")) if MANIFEST.is_file() else {}
        self.thresholds: dict = manifest.get("thresholds", {})

    def forward(self, X):
        np = self.np
        h = X
        for i, (W, b) in enumerate(self.layers):
            h = h @ W + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return 1.0 / (1.0 + np.exp(-h))

    def subtype(self, x) -> str:
        """The likeliest RISK subtype of one clause embedding."""
        W, b = self.sub
        return self.subtypes[int((x @ W + b).argmax())]
