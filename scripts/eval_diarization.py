#!/usr/bin/env python3
"""Evaluate speaker separation and print the figures.

1. Diarization error rate (pyannote.metrics, collar 0.25 s, overlapped speech scored) of
   ``voicenotes.speakers.diarize`` on the AMI meeting clips in tests/data/conversation/ami
   (speakers.rttm), with the number of speakers estimated and, for comparison, given; the
   trn*/dev* clips (used to choose settings) and the tst* clips (held out) separately, and all
   14. Also the DER with overlapped speech left out, and the error components; and (``--part
   oracle``) the ceiling of clustering the segmentation's windows: each window matched to the
   true speakers (without the second look at one-speaker stretches, voices.relabel, which can
   do better than any clustering of whole windows).
2. Role attribution on the two-voice session audio (tests/data/extraction/audio dev-41..46
   and dev-long-1): real Whisper words, speakers by voice (``--speakers auto``, no sidecar, no
   enrollment), roles by the question heuristic; the share of words whose role matches the
   sidecar turn that contains the word.

    .venv/bin/python scripts/eval_diarization.py                 # both parts, Whisper base
    .venv/bin/python scripts/eval_diarization.py --part ami
    .venv/bin/python scripts/eval_diarization.py --part roles --model tiny.en

Needs the speakers and test extras (pip install -e '.[test,speakers]').
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # real speech and gold cases (tests/data/SOURCES.md)
AMI = DATA / "conversation" / "ami"
AUDIO = DATA / "extraction" / "audio"
SESSIONS = ["dev-41", "dev-42", "dev-43", "dev-44", "dev-45", "dev-46", "dev-long-1"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(REPO))


SPLITS = (("trn+dev", ("trn", "dev")), ("tst (held out)", ("tst",)))


def ami() -> None:
    """DER on the AMI clips. The RTTM file ids are the clip file stems (``dev00`` ->
    ``dev00.flac``); settings were chosen on the trn*/dev* clips only, so the tst* clips are
    reported separately as held out. Overlapped speech is scored: the diarizer gives two
    speakers where it hears two."""
    from faster_whisper import decode_audio
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    from voicenotes.speakers import diarize

    warnings.filterwarnings("ignore", message=".*uem.*")
    ref: dict[str, Annotation] = defaultdict(Annotation)
    for line in (AMI / "speakers.rttm").read_text().splitlines():
        p = line.split()
        ref[p[1]][Segment(float(p[3]), float(p[3]) + float(p[4]))] = p[7]
    files = {f.stem for f in AMI.glob("*.flac")}
    if set(ref) != files:
        raise SystemExit(f"RTTM ids and clip files differ: {sorted(set(ref) ^ files)}")
    print(f"AMI clips: {len(ref)} x 30 s, {sum(len(a.labels()) for a in ref.values())} "
          "speaker-clip pairs (RTTM ids = file stems)")
    wavs = {clip: decode_audio(str(AMI / f"{clip}.flac")) for clip in ref}

    def report(name, der, der_no, secs):
        acc = der.accumulated_
        print(f"    {name:15s} DER {abs(der):5.1%} (overlap scored); without overlapped speech "
              f"{abs(der_no):5.1%}; of {acc['total']:.1f} s scored: missed "
              f"{acc['missed detection']:.1f} s, false alarm {acc['false alarm']:.1f} s, "
              f"confusion {acc['confusion']:.1f} s{secs}")

    for mode in ("estimated", "given"):
        print(f"  speakers {mode} (collar 0.25 s):")
        t = time.perf_counter()
        total, total_no = DiarizationErrorRate(collar=0.25), \
            DiarizationErrorRate(collar=0.25, skip_overlap=True)
        counts = []
        for name, prefixes in SPLITS:
            der = DiarizationErrorRate(collar=0.25)
            der_no = DiarizationErrorRate(collar=0.25, skip_overlap=True)
            for clip in sorted(c for c in ref if c.startswith(prefixes)):
                n = len(ref[clip].labels()) if mode == "given" else None
                d = diarize(wavs[clip].copy(), n)
                hyp = Annotation()
                for k, (a, b, lab) in enumerate(d.turns()):  # overlapping turns allowed
                    hyp[Segment(a, b), k] = lab
                for m in (der, der_no, total, total_no):
                    m(ref[clip], hyp)
                counts.append(f"{clip}:{len(d.labels)}/{len(ref[clip].labels())}")
            report(name, der, der_no, "")
        report("all 14 clips", total, total_no, f"; {time.perf_counter() - t:.1f} s")
        if mode == "estimated":
            print("    found/true speakers per clip: " + " ".join(counts))


def oracle() -> None:
    """The ceiling of the segmentation: the same windows and reconstruction, but each window's
    local speakers matched to the true speakers (the overlap of their activity with the RTTM,
    Hungarian) instead of clustered. Shows how much of the DER better clustering could win."""
    import importlib

    import numpy as np
    from faster_whisper import decode_audio
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate
    from scipy.optimize import linear_sum_assignment

    # the module, not the facade's diarize() function of the same name
    voices = importlib.import_module("voicenotes.speakers.diarize")

    warnings.filterwarnings("ignore", message=".*uem.*")
    ref: dict[str, Annotation] = defaultdict(Annotation)
    for line in (AMI / "speakers.rttm").read_text().splitlines():
        p = line.split()
        ref[p[1]][Segment(float(p[3]), float(p[3]) + float(p[4]))] = p[7]
    m = voices.load_models()
    total = DiarizationErrorRate(collar=0.25)
    split = {name: DiarizationErrorRate(collar=0.25) for name, _ in SPLITS}
    for clip in sorted(ref):
        wav = decode_audio(str(AMI / f"{clip}.flac"))
        starts, hard = voices.segment(wav)
        labs = sorted(ref[clip].labels())
        assign = np.full(hard.shape[::2], -1)
        for w, s0 in enumerate(starts):
            t = s0 / 16000 + np.arange(hard.shape[1]) * m.frame_step + 0.5 * m.frame_duration
            truth = np.zeros((len(t), len(labs)))
            for seg, _, lab in ref[clip].itertracks(yield_label=True):
                truth[(t >= seg.start) & (t < seg.end), labs.index(lab)] = 1
            rows, cols = linear_sum_assignment(-(hard[w].T @ truth))
            for r, c in zip(rows, cols, strict=False):
                if hard[w, :, r].any():
                    assign[w, r] = c
        _, active = voices.reconstruct(starts, hard, assign, len(labs), len(wav))
        hyp = Annotation()
        off = 0.5 * m.frame_duration
        for k, lab in enumerate(labs):
            x = np.diff(np.concatenate([[0], active[:, k].astype(int), [0]]))
            for i, (a, b) in enumerate(zip(np.where(x == 1)[0], np.where(x == -1)[0], strict=False)):
                hyp[Segment(a * m.frame_step + off, b * m.frame_step + off), (k, i)] = lab
        total(ref[clip], hyp)
        for name, prefixes in SPLITS:
            if clip.startswith(prefixes):
                split[name](ref[clip], hyp)
    print("  windows matched to the true speakers instead of clustered (no relabel): DER "
          + "; ".join(f"{name} {abs(m_):.1%}" for name, m_ in split.items())
          + f"; all 14 clips {abs(total):.1%}")


def _truth(turns, w) -> str:
    mid = (w.start + w.end) / 2
    return min(turns, key=lambda r: 0 if r[0] <= mid <= r[1]
               else min(abs(mid - r[0]), abs(mid - r[1])))[2]


def roles(model: str) -> None:
    from voicenotes.speakers import assign_speakers
    from voicenotes.transcribe import TranscribeOptions, Transcriber

    tr = Transcriber(TranscribeOptions(model=model))
    total = right = 0
    audio_s = spk_s = 0.0
    print(f"Session audio, Whisper {model}, --speakers auto, no enrollment, no sidecar:")
    for cid in SESSIONS:
        flac = AUDIO / f"{cid}.flac"
        with open(AUDIO / f"{cid}.segments.tsv", newline="", encoding="utf-8") as fh:
            turns = [(float(r["start_s"]), float(r["end_s"]), r["speaker"])
                     for r in csv.DictReader(fh, delimiter="\t")]
        t = tr.transcribe(flac)
        t0 = time.perf_counter()
        out = assign_speakers(t, flac, "auto", enrollment=False)
        dt = time.perf_counter() - t0
        pairs = [(s.role, _truth(turns, w)) for s in out.segments for w in s.words]
        ok = sum(a == b for a, b in pairs)
        total += len(pairs)
        right += ok
        audio_s += out.audio.duration_s
        spk_s += dt
        sp = out.speakers
        print(f"  {cid:11s} {len(pairs):5d} words  right role {ok / max(1, len(pairs)):.1%}  "
              f"speakers {sp['count']}  roles {sp['role_method']} "
              f"(confidence {sp['role_confidence']})  speaker stage {dt:.1f} s")
    print(f"  ALL: {right}/{total} words with the right role = {right / max(1, total):.2%}; "
          f"speaker stage {spk_s:.1f} s for {audio_s / 60:.1f} min of audio")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("all", "ami", "oracle", "roles"), default="all")
    ap.add_argument("--model", default="base", help="Whisper model for the roles part")
    args = ap.parse_args()
    if args.part in ("all", "ami"):
        ami()
    if args.part in ("all", "oracle"):
        oracle()
    if args.part in ("all", "roles"):
        roles(args.model)


if __name__ == "__main__":
    main()
