"""Scoring extracted items against gold cases (data/extraction/README.md, "Scoring").

- detection: an expected item is found when a predicted item of the same type has evidence
  overlapping ``match`` in the right turn (by turn/segment + start_char/end_char, or, when those are
  absent or point elsewhere, by locating ``evidence.quote`` in the turns: exact, case/punctuation-
  insensitive, then fuzzy); pairing is one-to-one per type (best attribute agreement first);
- a prediction that overlaps no expected item of its type is a false positive;
- attributes: among found items, the share whose listed attributes all equal the gold (looked up on
  the item, then in ``value``; missing core attributes count as affirmed / actual / client /
  current / certain; strings compare case-insensitively with ``-``, ``_`` and spaces alike; a
  date-only gold ``when`` matches any prediction on that date);
- risk recall: detection recall over RISK, RISK_FACTOR and MEANS together;
- forbidden: predicted items that match a ``forbid`` entry.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicenotes.errors import InputError
from voicenotes.schema import ITEM_TYPES, RISK_TYPES

CORE_DEFAULTS = {"polarity": "affirmed", "modality": "actual", "experiencer": "client",
                 "temporality": "current", "certainty": "certain"}
NON_ATTR = {"type", "match"}


def read_gold(path: Path) -> list[dict]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"Cannot read the gold file {path}: {exc.strerror or exc}.",
                         hint="Check the path to the .jsonl file.") from None
    except UnicodeDecodeError:
        raise InputError(f"The gold file {path} is not UTF-8 text.", hint="Give a JSON-lines file.") from None
    cases = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            c = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(f"{path.name} line {n} is not valid JSON.",
                             hint="Each line must be one gold case object.") from None
        if not isinstance(c, dict) or "id" not in c or not isinstance(c.get("turns"), list):
            raise InputError(f"{path.name} line {n} is not a gold case (needs id and turns).",
                             hint="See data/extraction/README.md for the format.")
        cases.append(c)
    if not cases:
        raise InputError(f"{path.name} holds no cases.", hint="Give a JSON-lines file of gold cases.")
    return cases


def _norm_str(v: Any) -> Any:
    if isinstance(v, str):
        return re.sub(r"[-_ ]+", " ", v.strip().lower())
    return v


def values_equal(key: str, gold: Any, pred: Any) -> bool:
    if key == "when" and isinstance(gold, str) and isinstance(pred, str) and len(gold) == 10:
        return pred[:10] == gold
    if isinstance(gold, bool) or isinstance(pred, bool):
        return gold is pred or gold == pred
    if isinstance(gold, (int, float)) and isinstance(pred, (int, float)):
        return abs(float(gold) - float(pred)) < 1e-9
    if isinstance(gold, list) and isinstance(pred, list):
        return len(gold) == len(pred) and all(values_equal(key, g, p) for g, p in zip(gold, pred, strict=True))
    return _norm_str(gold) == _norm_str(pred)


def lookup(item: dict, key: str) -> Any:
    if key in item and item[key] is not None and key != "value":
        return item[key]
    val = item.get("value") or {}
    if key in val:
        return val[key]
    if key == "value" and "value" in val:
        return val["value"]
    return CORE_DEFAULTS.get(key)


def _squash(s: str) -> tuple[str, list[int]]:
    out, idx = [], []
    for i, ch in enumerate(s):
        if ch.isalnum():
            out.append(ch.lower())
            idx.append(i)
        elif out and out[-1] != " ":
            out.append(" ")
            idx.append(i)
    return "".join(out), idx


def locate(quote: str, turns: list[str]) -> tuple[int, int, int] | None:
    """Find a quote in the turns: exact, case/punctuation-insensitive, then fuzzy."""
    if not quote or not quote.strip():
        return None
    for ti, t in enumerate(turns):
        j = t.find(quote)
        if j >= 0:
            return ti, j, j + len(quote)
    q, _ = _squash(quote)
    q = q.strip()
    for ti, t in enumerate(turns):
        st, idx = _squash(t)
        j = st.find(q)
        if j >= 0 and q:
            return ti, idx[j], idx[min(j + len(q), len(idx)) - 1] + 1
    best = None
    for ti, t in enumerate(turns):
        st, idx = _squash(t)
        if not st:
            continue
        sm = difflib.SequenceMatcher(None, q, st, autojunk=False)
        blocks = [b for b in sm.get_matching_blocks() if b.size >= 3]
        if not blocks:
            continue
        matched = sum(b.size for b in blocks)
        score = matched / max(1, len(q))
        if score >= 0.6 and (best is None or score > best[0]):
            s = blocks[0].b
            e = blocks[-1].b + blocks[-1].size
            best = (score, ti, idx[s], idx[min(e, len(idx)) - 1] + 1)
    return best[1:] if best else None


def place(pred: dict, turns: list[str], turn_of: Callable[[dict], int | None] | None = None):
    """(turn, start, end) of a prediction's evidence in the gold turns."""
    ev = pred.get("evidence") or {}
    quote = ev.get("quote") or ""
    if turn_of is not None:
        ti = turn_of(pred)
        if ti is not None:
            hit = locate(quote, [turns[ti]])
            if hit:
                return ti, hit[1], hit[2]
            return ti, 0, len(turns[ti])
        return locate(quote, turns)
    ti = ev.get("turn", ev.get("segment"))
    s, e = ev.get("start_char"), ev.get("end_char")
    if isinstance(ti, int) and 0 <= ti < len(turns) and isinstance(s, int) and isinstance(e, int) \
            and (not quote or turns[ti][s:e] == quote):
        return ti, s, e
    return locate(quote, turns)


def _match_span(match: str, turns: list[str]) -> tuple[int, int, int] | None:
    for ti, t in enumerate(turns):
        j = t.find(match)
        if j >= 0:
            return ti, j, j + len(match)
    return locate(match, turns)


def _overlap(a, b) -> int:
    if a is None or b is None or a[0] != b[0]:
        return 0
    return max(0, min(a[2], b[2]) - max(a[1], b[1]))


def attrs_ok(exp: dict, pred: dict) -> tuple[int, int]:
    keys = [k for k in exp if k not in NON_ATTR]
    ok = sum(1 for k in keys if values_equal(k, exp[k], lookup(pred, k)))
    return ok, len(keys)


@dataclass
class CaseResult:
    id: str
    expected: int = 0
    found: int = 0
    attr_ok: int = 0
    fp: int = 0
    forbidden: int = 0
    per_type: dict = field(default_factory=dict)  # type -> [tp, fp, n_expected]
    risk_expected: int = 0
    risk_found: int = 0
    misses: list = field(default_factory=list)
    attr_errors: list = field(default_factory=list)
    forbidden_hits: list = field(default_factory=list)
    false_positives: list = field(default_factory=list)


def _pair(exps, preds, exp_spans, placed) -> dict:
    """Expected item index -> predicted item index: same type, overlapping, best attributes first."""
    pairs = []
    for ei, e in enumerate(exps):
        for pi, p in enumerate(preds):
            if p.get("type") != e["type"]:
                continue
            ov = _overlap(exp_spans[ei], placed[pi])
            if ov > 0:
                ok, n = attrs_ok(e, p)
                pairs.append((-(ok == n), -ok, -ov, ei, pi))
    pairs.sort()
    used_e, used_p, paired = set(), set(), {}
    for _, _, _, ei, pi in pairs:
        if ei in used_e or pi in used_p:
            continue
        used_e.add(ei)
        used_p.add(pi)
        paired[ei] = pi
    return paired


def _score_expected(res: CaseResult, exps, preds, paired) -> None:
    for ei, e in enumerate(exps):
        res.expected += 1
        res.per_type[e["type"]][2] += 1
        if e["type"] in RISK_TYPES:
            res.risk_expected += 1
        if ei in paired:
            p = preds[paired[ei]]
            res.found += 1
            res.per_type[e["type"]][0] += 1
            if e["type"] in RISK_TYPES:
                res.risk_found += 1
            ok, n = attrs_ok(e, p)
            if ok == n:
                res.attr_ok += 1
            else:
                bad = {k: (e[k], lookup(p, k)) for k in e if k not in NON_ATTR and not values_equal(k, e[k], lookup(p, k))}
                res.attr_errors.append((e["type"], e["match"], bad))
        else:
            res.misses.append((e["type"], e["match"]))


def _score_false_positives(res: CaseResult, exps, preds, exp_spans, placed) -> None:
    for pi, p in enumerate(preds):
        if not any(p.get("type") == e["type"] and _overlap(exp_spans[ei], placed[pi]) > 0 for ei, e in enumerate(exps)):
            res.fp += 1
            if p.get("type") in res.per_type:
                res.per_type[p["type"]][1] += 1
            res.false_positives.append((p.get("type"), (p.get("evidence") or {}).get("quote", "")))


def _score_forbidden(res: CaseResult, case: dict, preds, turns, placed) -> None:
    for p_i, p in enumerate(preds):
        for f in case.get("forbid", []):
            if p.get("type") != f.get("type"):
                continue
            if "match" in f:
                sp = _match_span(f["match"], turns)
                if _overlap(sp, placed[p_i]) <= 0:
                    continue
            if all(values_equal(k, v, lookup(p, k)) for k, v in f.items() if k not in NON_ATTR):
                res.forbidden += 1
                res.forbidden_hits.append((p.get("type"), f))
                break


def score_case(case: dict, preds: list[dict], turn_of=None) -> CaseResult:
    turns = [t["text"] for t in case["turns"]]
    res = CaseResult(case["id"])
    placed = [place(p, turns, turn_of) for p in preds]
    exps = case.get("expect", [])
    exp_spans = [_match_span(e["match"], turns) for e in exps]
    for t in ITEM_TYPES:
        res.per_type.setdefault(t, [0, 0, 0])
    paired = _pair(exps, preds, exp_spans, placed)
    _score_expected(res, exps, preds, paired)
    _score_false_positives(res, exps, preds, exp_spans, placed)
    _score_forbidden(res, case, preds, turns, placed)
    return res


@dataclass
class Summary:
    cases: list
    per_type: dict
    precision: float
    recall: float
    f1: float
    attr_acc: float
    risk_recall: float
    forbidden: int


def summarize(results: Iterable[CaseResult]) -> Summary:
    results = list(results)
    per = {t: [0, 0, 0] for t in ITEM_TYPES}
    for r in results:
        for t, (tp, fp, n) in r.per_type.items():
            per[t][0] += tp
            per[t][1] += fp
            per[t][2] += n
    tp = sum(v[0] for v in per.values())
    fp = sum(v[1] for v in per.values())
    n = sum(v[2] for v in per.values())
    p = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / n if n else 0.0
    f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
    found = sum(r.found for r in results)
    attr = sum(r.attr_ok for r in results) / found if found else 0.0
    rn = sum(r.risk_expected for r in results)
    rr = sum(r.risk_found for r in results) / rn if rn else 0.0
    return Summary(results, per, p, rc, f1, attr, rr, sum(r.forbidden for r in results))


def format_summary(s: Summary, details: bool = False) -> str:
    lines = [f"{'type':<14}{'P':>7}{'R':>7}{'F1':>7}{'gold':>6}{'found':>7}{'false+':>8}"]
    for t, (tp, fp, n) in s.per_type.items():
        if not (tp or fp or n):
            continue
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / n if n else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        lines.append(f"{t:<14}{p:7.2f}{r:7.2f}{f:7.2f}{n:6d}{tp:7d}{fp:8d}")
    lines.append(f"{'all':<14}{s.precision:7.2f}{s.recall:7.2f}{s.f1:7.2f}")
    lines.append(f"attribute accuracy {s.attr_acc:.3f}   risk recall {s.risk_recall:.3f}   forbidden {s.forbidden}")
    if details:
        for r in s.cases:
            for m in r.misses:
                lines.append(f"  MISS  {r.id} {m[0]} {m[1]!r}")
            for a in r.attr_errors:
                lines.append(f"  ATTR  {r.id} {a[0]} {a[1]!r} {a[2]}")
            for f in r.false_positives:
                lines.append(f"  FP    {r.id} {f[0]} {f[1]!r}")
            for f in r.forbidden_hits:
                lines.append(f"  FORB  {r.id} {f[0]} {f[1]}")
    lines.append("recall per type: " + ", ".join(
        f"{t} {tp}/{n}={tp / n:.2f}" for t, (tp, _fp, n) in s.per_type.items() if n))
    lines.append("stage recall: " + ", ".join(f"{name} {r}" for name, r in stage_recalls(s)))
    lines.append(f"risk_recall={s.risk_recall:.3f} f1={s.f1:.3f} attr_acc={s.attr_acc:.3f} forbidden={s.forbidden}")
    return "\n".join(lines)


STAGES = (("triggers+precipitants", ("TRIGGER", "PRECIPITANT")), ("coping", ("COPING",)),
          ("supports", ("SUPPORT",)), ("means safety", ("MEANS_SAFETY",)), ("follow-up", ("FOLLOW_UP",)))


def stage_recalls(s: Summary) -> list[tuple[str, str]]:
    """Detection recall of the stage items the note exists for ("-" when the gold has none)."""
    out = []
    for name, types in STAGES:
        tp = sum(s.per_type[t][0] for t in types)
        n = sum(s.per_type[t][2] for t in types)
        out.append((name, f"{tp / n:.2f}" if n else "-"))
    return out


def run_text_eval(cases: list[dict], pred_dir: Path, rules_paths=(), write=True) -> Summary:
    from voicenotes.extract import extract_items, transcript_from_turns
    from voicenotes.store import atomic_write_json, ensure_private_dir

    if write:
        ensure_private_dir(Path(pred_dir))
    results = []
    for c in cases:
        tr = transcript_from_turns(c["turns"], mode=c.get("mode", "session"), session_start=c.get("session_start"))
        its = extract_items(tr, mode=c.get("mode"), session_start=c.get("session_start"), rules_paths=rules_paths)
        d = its.to_dict()
        if write:
            atomic_write_json(Path(pred_dir) / f"{c['id']}.items.json", d)
        results.append(score_case(c, d["items"]))
    return summarize(results)


# ------------------------------------------------------------------ audio path

def read_sidecar(path: Path) -> list[tuple[float, float, str]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if n == 0 and parts and parts[0] == "start_s":
                continue
            if len(parts) >= 3:
                rows.append((float(parts[0]), float(parts[1]), parts[2]))
    return rows


def segment_turns(transcript, turns_tsv: list[tuple[float, float, str]]) -> list[int]:
    """For scoring only: the gold turn each segment lies in (most of its speech by time)."""
    out = []
    for seg in transcript.segments:
        spans = [(w.start, w.end) for w in seg.words] or [(seg.start, seg.end)]
        overlap = [sum(max(0.0, min(e, te) - max(s, ts)) for s, e in spans)
                   for ts, te, _ in turns_tsv]
        if overlap and max(overlap) > 0:
            out.append(max(range(len(overlap)), key=overlap.__getitem__))
        else:
            mid = (spans[0][0] + spans[-1][1]) / 2
            out.append(min(range(len(turns_tsv)), key=lambda i: min(
                abs(mid - turns_tsv[i][0]), abs(mid - turns_tsv[i][1]))) if turns_tsv else 0)
    return out


def assign_turns(transcript, turns_tsv: list[tuple[float, float, str]]):
    """Speakers from the sidecar turn times: every Whisper word goes to the turn its time overlaps
    most (nearest turn when none); segments are split where the turn changes. Returns the new
    transcript and, per new segment, the gold turn index."""
    from voicenotes.schema import Segment, Transcript, Word

    def turn_for(s: float, e: float) -> int:
        best, bi = -1.0, 0
        for i, (ts, te, _) in enumerate(turns_tsv):
            ov = min(e, te) - max(s, ts)
            if ov > best:
                best, bi = ov, i
        if best <= 0:
            mid = (s + e) / 2
            bi = min(range(len(turns_tsv)), key=lambda i: min(abs(mid - turns_tsv[i][0]), abs(mid - turns_tsv[i][1])))
        return bi

    new_segs: list[Segment] = []
    seg_turn: list[int] = []
    for seg in transcript.segments:
        words = list(seg.words)
        if not words:
            ti = turn_for(seg.start, seg.end)
            role = turns_tsv[ti][2] if turns_tsv else "unknown"
            new_segs.append(Segment(**{**seg.__dict__, "id": len(new_segs), "role": role, "speaker": role}))
            seg_turn.append(ti)
            continue
        groups: list[tuple[int, list]] = []
        for w in words:
            ti = turn_for(w.start, w.end)
            if groups and groups[-1][0] == ti:
                groups[-1][1].append(w)
            else:
                groups.append((ti, [w]))
        for ti, ws in groups:
            role = turns_tsv[ti][2]
            text = "".join(w.word for w in ws).strip()
            nws = tuple(Word(start=w.start, end=w.end, word=w.word, probability=w.probability, speaker=role) for w in ws)
            new_segs.append(Segment(id=len(new_segs), start=ws[0].start, end=ws[-1].end, text=text, words=nws,
                                    avg_logprob=seg.avg_logprob, no_speech_prob=seg.no_speech_prob,
                                    compression_ratio=seg.compression_ratio, verify=seg.verify,
                                    verify_reasons=seg.verify_reasons, speaker=role, role=role))
            seg_turn.append(ti)
    # merge consecutive segments of the same turn so a turn reads as one segment
    merged: list[Segment] = []
    mturn: list[int] = []
    for s, ti in zip(new_segs, seg_turn, strict=True):
        if merged and mturn[-1] == ti:
            p = merged[-1]
            merged[-1] = Segment(id=p.id, start=p.start, end=s.end, text=(p.text + " " + s.text).strip(),
                                 words=p.words + s.words, avg_logprob=p.avg_logprob, no_speech_prob=p.no_speech_prob,
                                 compression_ratio=p.compression_ratio, verify=p.verify or s.verify,
                                 verify_reasons=tuple(dict.fromkeys(p.verify_reasons + s.verify_reasons)),
                                 speaker=p.speaker, role=p.role)
        else:
            merged.append(Segment(**{**s.__dict__, "id": len(merged)}))
            mturn.append(ti)
    t = Transcript(audio=transcript.audio, segments=tuple(merged), provenance=transcript.provenance,
                   language=transcript.language, mode=transcript.mode, session_start=transcript.session_start,
                   flags=transcript.flags, speakers=dict(transcript.speakers))
    return t, mturn


def run_audio_eval(cases: list[dict], pred_dir: Path, audio_dir: Path, transcriber, rules_paths=(),
                   progress: Callable[[str], None] | None = None,
                   speakers: str | None = None) -> Summary:
    """``speakers`` (auto|N|channels): session cases get their speakers and roles from the voices
    (voicenotes.speakers), not from the sidecar. The sidecar times are then used only by the
    scorer, to know which gold turn each predicted segment lies in (:func:`segment_turns`)."""
    from voicenotes.extract import extract_items
    from voicenotes.store import atomic_write_json, ensure_private_dir

    ensure_private_dir(Path(pred_dir))
    results = []
    for c in cases:
        flac = Path(audio_dir) / f"{c['id']}.flac"
        tsv = Path(audio_dir) / f"{c['id']}.segments.tsv"
        if not flac.is_file():
            raise InputError(f"No audio for case {c['id']} in {audio_dir}.",
                             hint="Give --audio the folder with <id>.flac and <id>.segments.tsv.")
        if progress:
            progress(c["id"])
        tr = transcriber.transcribe(flac)
        tr = _with_mode(tr, mode=c.get("mode"), session_start=c.get("session_start"))
        if speakers:
            if c.get("mode") == "session":
                from voicenotes.speakers import assign_speakers

                tr = assign_speakers(tr, flac, speakers, enrollment=False)
            seg_turn = segment_turns(tr, read_sidecar(tsv)) if tsv.is_file() else None
        elif tsv.is_file():
            rows = read_sidecar(tsv)
            tr, seg_turn = assign_turns(tr, rows)
        else:
            seg_turn = None
        its = extract_items(tr, mode=c.get("mode"), session_start=c.get("session_start"), rules_paths=rules_paths)
        d = its.to_dict()
        atomic_write_json(Path(pred_dir) / f"{c['id']}.items.json", d)
        turn_of: Callable[[dict], int | None] | None = None
        if seg_turn is not None:
            def _turn_of(p, st=seg_turn):
                seg = (p.get("evidence") or {}).get("segment")
                return st[seg] if isinstance(seg, int) and 0 <= seg < len(st) else None
            turn_of = _turn_of
        results.append(score_case(c, d["items"], turn_of=turn_of or (lambda p: None)))
    return summarize(results)


def _with_mode(tr, *, mode, session_start):
    from voicenotes.schema import Transcript

    return Transcript(audio=tr.audio, segments=tr.segments, provenance=tr.provenance, language=tr.language,
                      mode=mode or tr.mode, session_start=session_start or tr.session_start, flags=tr.flags,
                      speakers=dict(tr.speakers))
