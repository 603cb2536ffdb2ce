"""The transcription engine: audio file -> :class:`~voicenotes.schema.Transcript`.

How it works (performance.md §7, reliability.md §2/§2a):

* The model is loaded once, lazily: ``WhisperModel(path, device="cpu", compute_type="int8",
  cpu_threads=2, local_files_only=True)`` after :func:`voicenotes.models.offline_guard`, and
  wrapped in faster-whisper's ``BatchedInferencePipeline``.
* The audio is **streamed** (``voicenotes.audio.iter_audio``) and cut into windows of at most
  ``window_s`` (600 s). Each cut is placed inside the longest pause found by the Silero VAD in the
  last ``cut_search_s`` (60 s) of the window; the rest is carried into the next window. Every
  sample is fed exactly once, so no word is lost or duplicated at a window edge, and peak memory
  does not grow with the length of the file.
* Each window goes through the batched pipeline as a numpy array with VAD chunking
  ``min_silence_duration_ms=2000`` (the batched default of 160 ms dropped a whole 35-word chunk),
  ``word_timestamps=True`` (``without_timestamps=False`` drops sentence tails in batched mode),
  no conditioning on previous text, language ``en`` unless asked otherwise.
* Speech the VAD hears but no word covers (the batched decoder sometimes ends a chunk early) is
  decoded again on its own; what still gives no words is kept as a flagged placeholder.
* Each ≤ 30-s decoding chunk is split into sentence-sized segments at sentence ends and pauses,
  timestamps are offset by the window start, made monotonic and clamped inside the audio.
* Doubtful segments are **flagged, never deleted** (``verify`` + ``verify_reasons``); see
  :data:`FLAG_THRESHOLDS` and :func:`flag_reasons`.

Nothing here writes logs with transcript words; exceptions carry file names only.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from pathlib import Path
from typing import Any

from voicenotes import __version__
from voicenotes.errors import AudioError, ModelError, UsageError
from voicenotes.schema import AudioInfo, Provenance, Segment, Transcript, Word

SAMPLE_RATE = 16000

PRESETS: dict[str, dict[str, Any]] = {
    # performance.md §7: base, int8, 2 threads, batched 8, beam 5, VAD min silence 2000 ms
    "default": {"model": None, "beam_size": 5, "batch_size": 8},
    # same with greedy decoding: ~1.15x (base) to 1.25x (tiny) faster, +0.4..1.5 WER points
    "fast": {"model": None, "beam_size": 1, "batch_size": 8},
    # the small English model and half the batch: ~0.8-0.9 GB peak instead of ~1.2 GB
    "low-memory": {"model": "tiny.en", "beam_size": 5, "batch_size": 4},
}

FORMATS = ("json", "txt", "srt", "vtt")

#: Thresholds that mark a segment ``verify=True`` (flag, never delete). Figures from
#: reliability.md §2/§2a and Whisper's own fallback thresholds.
FLAG_THRESHOLDS: dict[str, float] = {
    # the model's probability that the decoding window held no speech (Whisper's 0.6)
    "no_speech_prob": 0.6,
    # mean token log-probability of the decoding window below this = low confidence (Whisper's -1)
    "avg_logprob": -1.0,
    # gzip compression ratio of the window's text above this = repetitive text (Whisper's 2.4)
    "compression_ratio": 2.4,
    # a word with probability below this is "uncertain" ...
    "word_probability": 0.35,
    # ... and this many uncertain words in a row flag the segment
    "low_probability_run": 3,
    # a one-word n-gram repeated this many times in a row is a loop ("you you you you")
    "repeat_unigram": 4,
    # a longer n-gram (2..8 words) repeated this many times in a row is a loop
    "repeat_ngram": 3,
    # text whose words lie where the VAD's mean speech probability is below this = text over
    # non-speech (silence, noise, music)
    "min_speech_prob": 0.3,
}

#: Stock phrases Whisper produces from silence, noise or music. A decoding chunk whose whole text
#: is one of these is flagged ``phantom_phrase``.
PHANTOM_PHRASES = (
    "you", "thank you", "thank you very much", "thanks", "thanks for watching",
    "thank you for watching", "thanks for listening", "thank you for listening",
    "please subscribe", "like and subscribe", "bye", "bye bye", "okay", "so", "oh", "uh", "um",
    "the end", "music", "applause", "silence", "i'm sorry",
)
PHANTOM_PREFIXES = ("subtitles by", "subtitled by", "captions by", "transcribed by",
                    "translated by", "amara org", "www ", "http")

#: Text of the placeholder segment kept where speech was detected but no words came out.
UNTRANSCRIBED_TEXT = "[speech not transcribed]"

#: Plain-language text for each verify reason (shown in txt/srt/vtt and by the CLI).
REASON_TEXT = {
    "no_speech": "the model thinks this may not be speech",
    "low_confidence": "low recognition confidence",
    "repetition": "repeated text (possible recognition loop)",
    "phantom_phrase": "a phrase Whisper often invents from silence or noise",
    "punctuation_only": "punctuation only",
    "low_probability_words": "several uncertain words in a row",
    "over_non_speech": "text where the audio does not sound like speech",
    "untranscribed_speech": "speech was detected here but could not be transcribed",
}


@dataclass
class TranscribeOptions:
    """Decoding settings. ``None`` means "the preset's value" (see :data:`PRESETS`).

    Defaults are performance.md §7: model ``base`` (or ``$VOICENOTES_MODEL``), int8, 2 CPU
    threads, ``BatchedInferencePipeline(batch_size=8)``, beam 5, VAD with 2000 ms minimum silence,
    word timestamps, English.
    """

    model: str | None = None
    preset: str = "default"
    language: str | None = "en"
    beam_size: int | None = None
    batch_size: int | None = None
    cpu_threads: int = 2
    compute_type: str = "int8"
    vad_min_silence_ms: int = 2000
    word_timestamps: bool = True
    window_s: float = 600.0
    cut_search_s: float = 60.0
    split_segments: bool = True
    recover_dropped: bool = True

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise UsageError(f"Unknown preset '{self.preset}'.",
                             hint="Use one of: " + ", ".join(PRESETS) + ".")
        if self.language in ("", "auto"):
            self.language = None
        if self.cut_search_s >= self.window_s:
            self.cut_search_s = self.window_s / 2

    @property
    def model_spec(self) -> str | None:
        return self.model if self.model else PRESETS[self.preset]["model"]

    @property
    def effective_beam_size(self) -> int:
        return int(self.beam_size or PRESETS[self.preset]["beam_size"])

    @property
    def effective_batch_size(self) -> int:
        return int(self.batch_size or PRESETS[self.preset]["batch_size"])

    def decode_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``BatchedInferencePipeline.transcribe`` (a fresh dict each call:
        faster-whisper mutates ``vad_parameters``)."""
        return dict(
            language=self.language,
            task="transcribe",
            beam_size=self.effective_beam_size,
            batch_size=self.effective_batch_size,
            temperature=0.0,
            condition_on_previous_text=False,
            # The batched pipeline does not act on these three (they drive the sequential
            # fallback loop); they are passed for the record and applied below as FLAGS.
            no_speech_threshold=FLAG_THRESHOLDS["no_speech_prob"],
            log_prob_threshold=FLAG_THRESHOLDS["avg_logprob"],
            compression_ratio_threshold=FLAG_THRESHOLDS["compression_ratio"],
            vad_filter=True,
            vad_parameters={"min_silence_duration_ms": int(self.vad_min_silence_ms)},
            word_timestamps=self.word_timestamps,
            without_timestamps=True,
        )

    def settings(self) -> dict[str, Any]:
        """Everything that decides the output, for the transcript's provenance."""
        kw = self.decode_kwargs()
        return {
            "preset": self.preset,
            "engine": "faster-whisper BatchedInferencePipeline",
            "device": "cpu",
            "compute_type": self.compute_type,
            "cpu_threads": self.cpu_threads,
            "beam_size": kw["beam_size"],
            "batch_size": kw["batch_size"],
            "language": self.language,
            "temperature": 0.0,
            "condition_on_previous_text": False,
            "vad_filter": True,
            "vad_parameters": kw["vad_parameters"],
            "word_timestamps": self.word_timestamps,
            "without_timestamps": True,
            "window_s": self.window_s,
            "cut_search_s": self.cut_search_s,
            "split_segments": self.split_segments,
            "recover_dropped": self.recover_dropped,
            "flag_thresholds": dict(FLAG_THRESHOLDS),
        }


# --------------------------------------------------------------------------- flagging

_PUNCT_RE = re.compile(r"[^\w\s']+", re.UNICODE)
_WORD_RE = re.compile(r"[\w']+", re.UNICODE)


def _norm_words(text: str) -> list[str]:
    return [w.strip("'") for w in _WORD_RE.findall(text.lower()) if w.strip("'")]


def repetition_loop(words: Sequence[str]) -> bool:
    """True when an n-gram repeats back to back: a 1-gram ``repeat_unigram`` times, or a 2..8-gram
    ``repeat_ngram`` times ("tzufafinin, tzufafinin, …" or a sentence said over and over)."""
    n_words = len(words)
    for n in range(1, 9):
        need = int(FLAG_THRESHOLDS["repeat_unigram"] if n == 1 else FLAG_THRESHOLDS["repeat_ngram"])
        if n * need > n_words:
            break
        for i in range(0, n_words - n * need + 1):
            gram = words[i:i + n]
            reps = 1
            j = i + n
            while j + n <= n_words and words[j:j + n] == gram:
                reps += 1
                j += n
                if reps >= need:
                    return True
    return False


def is_phantom(text: str) -> bool:
    norm = " ".join(_norm_words(text))
    if not norm:
        return False
    return norm in PHANTOM_PHRASES or any(norm.startswith(p) for p in PHANTOM_PREFIXES)


def is_punctuation_only(text: str) -> bool:
    return bool(text.strip()) and not _WORD_RE.search(text)


def compression_ratio(text: str) -> float:
    import zlib

    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def flag_reasons(
    text: str,
    words: Sequence[Word],
    *,
    avg_logprob: float | None,
    no_speech_prob: float | None,
    chunk_compression_ratio: float | None,
    chunk_text: str | None = None,
    speech_prob: float | None = None,
) -> tuple[str, ...]:
    """Why a segment needs checking against the audio (empty tuple: nothing doubtful).

    ``avg_logprob``/``no_speech_prob``/``chunk_compression_ratio`` are the figures of the
    ≤ 30-s decoding chunk the segment came from; ``chunk_text`` is that chunk's whole text
    (phantom phrases are judged on it, so a real "thank you" inside a conversation is not
    flagged); ``speech_prob`` is the mean Silero VAD speech probability under its words.
    """
    t = FLAG_THRESHOLDS
    reasons: list[str] = []
    if not text.strip():
        return ()
    if no_speech_prob is not None and no_speech_prob >= t["no_speech_prob"]:
        reasons.append("no_speech")
    if avg_logprob is not None and avg_logprob < t["avg_logprob"]:
        reasons.append("low_confidence")
    norm = _norm_words(text)
    if ((chunk_compression_ratio is not None and chunk_compression_ratio > t["compression_ratio"])
            or compression_ratio(text) > t["compression_ratio"] or repetition_loop(norm)):
        reasons.append("repetition")
    if is_phantom(chunk_text if chunk_text is not None else text) or (
            chunk_text is None and is_phantom(text)):
        reasons.append("phantom_phrase")
    if is_punctuation_only(text):
        reasons.append("punctuation_only")
    run = best = 0
    for w in words:
        if _WORD_RE.search(w.word) and w.probability < t["word_probability"]:
            run += 1
            best = max(best, run)
        elif _WORD_RE.search(w.word):
            run = 0
    if best >= t["low_probability_run"] or (
            0 < len(words) < t["low_probability_run"] and best == len(words)):
        reasons.append("low_probability_words")
    if speech_prob is not None and speech_prob < t["min_speech_prob"]:
        reasons.append("over_non_speech")
    return tuple(reasons)


# --------------------------------------------------------------------------- windowing


def find_cut(tail, sample_rate: int = SAMPLE_RATE) -> int:
    """Where to cut ``tail`` (1-D float32): the middle of its longest pause.

    Silero VAD speech probability per 32-ms frame; a pause is a run of frames below 0.35 (the
    VAD's own end-of-speech threshold). Ties go to the latest pause. With no pause at all (music,
    continuous noise), the quietest 32-ms frame. Returns a sample index into ``tail``.
    """
    import numpy as np
    from faster_whisper.vad import get_vad_model

    frame = 512
    n = len(tail) // frame
    if n <= 2:
        return len(tail)
    audio = np.ascontiguousarray(tail[: n * frame], dtype=np.float32)
    probs = np.asarray(get_vad_model()(audio)).reshape(-1)[:n]
    silent = probs < 0.35
    best_len, best_mid = 0, -1
    i = 0
    while i < n:
        if silent[i]:
            j = i
            while j < n and silent[j]:
                j += 1
            if j - i >= best_len:
                best_len, best_mid = j - i, (i + j) // 2
            i = j
        else:
            i += 1
    if best_len == 0:
        rms = np.sqrt((audio.reshape(n, frame) ** 2).mean(axis=1))
        best_mid = int(np.argmin(rms[::-1]))
        best_mid = n - 1 - best_mid
    return int(best_mid * frame + frame // 2)


def iter_windows(blocks: Iterable, window_s: float, cut_search_s: float,
                 sample_rate: int = SAMPLE_RATE) -> Iterator[tuple[int, Any]]:
    """Group streamed blocks into ``(offset_samples, window)`` pairs, each ≤ ``window_s``
    long, cut inside a pause (:func:`find_cut`). Every sample appears in exactly one window."""
    import numpy as np

    win = int(window_s * sample_rate)
    search = int(cut_search_s * sample_rate)
    parts: list = []
    held = 0
    offset = 0
    for block in blocks:
        if block is None or len(block) == 0:
            continue
        parts.append(np.asarray(block, dtype=np.float32))
        held += len(parts[-1])
        while held >= win:
            buf = np.concatenate(parts) if len(parts) > 1 else parts[0]
            start = win - search
            cut = start + find_cut(buf[start:win], sample_rate)
            cut = max(1, min(cut, win))
            yield offset, buf[:cut]
            rest = buf[cut:]
            offset += cut
            parts = [rest] if len(rest) else []
            held = len(rest)
    if held:
        buf = np.concatenate(parts) if len(parts) > 1 else parts[0]
        yield offset, buf


# --------------------------------------------------------------------------- segment assembly

_SENTENCE_END = re.compile(r"[.?!…]['\")\]]*$")


def _split_words(words: list[Word], max_gap_s: float = 1.0) -> list[list[Word]]:
    """Split a chunk's words into sentence-sized pieces: after a sentence end, or at a pause."""
    pieces: list[list[Word]] = []
    cur: list[Word] = []
    for w in words:
        if cur and (w.start - cur[-1].end) >= max_gap_s:
            pieces.append(cur)
            cur = []
        cur.append(w)
        if _SENTENCE_END.search(w.word.strip()):
            pieces.append(cur)
            cur = []
    if cur:
        pieces.append(cur)
    return pieces


class _VadProbeRecorder:
    """Wraps faster-whisper's Silero VAD model and keeps (per thread) the speech probabilities
    of its last call, so "text over non-speech" can be judged at no extra cost: the batched
    pipeline computes these probabilities for each window anyway."""

    def __init__(self, model):
        import threading

        self._model = model
        self._local = threading.local()

    def __call__(self, audio, *args, **kwargs):
        out = self._model(audio, *args, **kwargs)
        self._local.last = out
        return out

    def take(self):
        out = getattr(self._local, "last", None)
        self._local.last = None
        return out


_RECORDER: _VadProbeRecorder | None = None


def _vad_recorder() -> _VadProbeRecorder:
    """Install the recorder once (faster-whisper is pinned to 1.2.1, whose
    ``get_speech_timestamps`` fetches the model through ``faster_whisper.vad.get_vad_model``)."""
    global _RECORDER
    import faster_whisper.vad as fvad

    if _RECORDER is None:
        _RECORDER = _VadProbeRecorder(fvad.get_vad_model())
        fvad.get_vad_model = lambda: _RECORDER  # type: ignore[assignment]
    return _RECORDER


def _word_speech_probs(probs, words, sample_rate: int = SAMPLE_RATE) -> list[float | None]:
    """Mean Silero speech probability over each word's span (window-relative times)."""
    if probs is None:
        return [None] * len(words)
    import numpy as np

    p = np.asarray(probs).reshape(-1)
    out: list[float | None] = []
    for w in words:
        a = int(max(0.0, w.start) * sample_rate) // 512
        b = max(a + 1, int(math.ceil(max(0.0, w.end) * sample_rate / 512)))
        span = p[a:b]
        out.append(float(span.mean()) if len(span) else None)
    return out


def _mean_prob(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(sum(vals) / len(vals), 3) if vals else None


def speech_regions(probs, *, threshold: float = 0.5, neg_threshold: float = 0.35,
                   merge_gap_s: float = 0.3, min_s: float = 0.25,
                   sample_rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """Speech stretches (s, window-relative) from Silero per-frame probabilities: start at
    ``threshold``, end below ``neg_threshold`` (the VAD's own hysteresis), merge gaps shorter
    than ``merge_gap_s``, drop stretches shorter than ``min_s``."""
    if probs is None:
        return []
    import numpy as np

    p = np.asarray(probs).reshape(-1)
    frame_s = 512 / sample_rate
    regions: list[list[float]] = []
    start = None
    for i, v in enumerate(p):
        if start is None and v >= threshold:
            start = i
        elif start is not None and v < neg_threshold:
            regions.append([start * frame_s, i * frame_s])
            start = None
    if start is not None:
        regions.append([start * frame_s, len(p) * frame_s])
    merged: list[list[float]] = []
    for r in regions:
        if merged and r[0] - merged[-1][1] < merge_gap_s:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    return [(round(a, 3), round(b, 3)) for a, b in merged if b - a >= min_s]


def uncovered_speech(regions: Sequence[tuple[float, float]],
                     spans: Sequence[tuple[float, float]], *, slack_s: float = 0.5,
                     min_gap_s: float = 0.6) -> list[tuple[float, float]]:
    """Parts of the VAD's speech ``regions`` that no transcribed word ``spans`` covers (each span
    widened by ``slack_s``), longer than ``min_gap_s``: speech the decoder skipped."""
    cover = sorted((a - slack_s, b + slack_s) for a, b in spans)
    out: list[tuple[float, float]] = []
    for ra, rb in regions:
        t = ra
        for ca, cb in cover:
            if cb <= t:
                continue
            if ca >= rb:
                break
            if ca - t >= min_gap_s:
                out.append((t, ca))
            t = max(t, cb)
            if t >= rb:
                break
        if rb - t >= min_gap_s:
            out.append((t, rb))
    return out


def _trim_word_ends(words, regions: Sequence[tuple[float, float]], pad_s: float = 0.2) -> None:
    """Whisper's alignment often stretches a word that ends an utterance into the following
    pause. A word that starts inside a VAD speech stretch ends at most ``pad_s`` after it."""
    if not regions:
        return
    import bisect

    starts = [a for a, _ in regions]
    for w in words:
        i = bisect.bisect_right(starts, w.start) - 1
        if i < 0:
            continue
        a, b = regions[i]
        if a <= w.start <= b and w.end > b + pad_s:
            w.end = round(max(w.start, b + pad_s), 3)


def _clips_for(gaps: Sequence[tuple[float, float]], limit_s: float, pad_s: float = 0.2,
               max_s: float = 29.0) -> list[dict[str, float]]:
    """Decoding clips (≤ ``max_s`` each) covering ``gaps`` padded by ``pad_s``."""
    clips: list[dict[str, float]] = []
    for a, b in gaps:
        a, b = max(0.0, a - pad_s), min(limit_s, b + pad_s)
        while b - a > 0.05:
            e = min(b, a + max_s)
            clips.append({"start": round(a, 3), "end": round(e, 3)})
            a = e
    return clips


@dataclass
class _Chunk:
    """What we keep of one faster-whisper segment (one ≤ 30-s decoding chunk): small."""

    offset_s: float
    start: float
    end: float
    text: str
    words: list  # faster_whisper Word objects, window-relative times
    speech: list  # per word: mean VAD speech probability under it (None: unknown)
    avg_logprob: float | None
    no_speech_prob: float | None
    compression_ratio: float | None
    reasons: tuple[str, ...] = ()  # reasons known before assembly (e.g. untranscribed_speech)

    @classmethod
    def of(cls, seg, probs, offset_s: float,
           regions: Sequence[tuple[float, float]] = ()) -> _Chunk:
        words = list(seg.words or ())
        _trim_word_ends(words, regions)
        return cls(offset_s, float(seg.start), float(seg.end), seg.text, words,
                   _word_speech_probs(probs, words), float(seg.avg_logprob),
                   float(seg.no_speech_prob), float(seg.compression_ratio))


def _r4(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)


class _Assembler:
    """Turns chunks (window-relative) into clamped, monotonic, flagged schema segments."""

    def __init__(self, duration_s: float, split: bool):
        self.duration = max(0.0, duration_s)
        self.split = split
        self.segments: list[Segment] = []
        self.last_t = 0.0

    def _t(self, t: float) -> float:
        return round(min(max(t, 0.0), self.duration), 3)

    def add(self, c: _Chunk) -> None:
        words: list[Word] = []
        speech: dict[int, float | None] = {}
        for fw, sp in zip(c.words, c.speech):
            start = max(self._t(fw.start + c.offset_s), self.last_t)
            end = max(self._t(fw.end + c.offset_s), start)
            self.last_t = start
            w = Word(start=start, end=end, word=fw.word,
                     probability=round(float(fw.probability), 4))
            speech[id(w)] = sp
            words.append(w)
        chunk_text = c.text.strip()
        if words:
            pieces = _split_words(words) if self.split else [words]
        else:
            pieces = [[]]
        for piece in pieces:
            if piece:
                text = "".join(w.word for w in piece).strip()
                start, end = piece[0].start, max(w.end for w in piece)
                vad = _mean_prob([speech[id(w)] for w in piece])
            else:
                text = chunk_text
                start = max(self._t(c.start + c.offset_s), self.last_t)
                end = max(self._t(c.end + c.offset_s), start)
                self.last_t = start
                vad = None
            if not text:
                continue
            if c.reasons:
                reasons = c.reasons
            else:
                reasons = flag_reasons(
                    text, piece, avg_logprob=c.avg_logprob, no_speech_prob=c.no_speech_prob,
                    chunk_compression_ratio=c.compression_ratio, chunk_text=chunk_text,
                    speech_prob=vad)
            self.segments.append(Segment(
                id=len(self.segments), start=start, end=end, text=text, words=tuple(piece),
                avg_logprob=_r4(c.avg_logprob), no_speech_prob=_r4(c.no_speech_prob),
                compression_ratio=_r4(c.compression_ratio),
                verify=bool(reasons), verify_reasons=reasons))


# --------------------------------------------------------------------------- the engine


def _resolve_model(spec: str | None):
    from voicenotes.models import resolve_model

    return resolve_model(spec)


def _offline_guard() -> None:
    from voicenotes.models import offline_guard

    offline_guard()


class Transcriber:
    """Loads the model once (on first use) and transcribes files with it."""

    def __init__(self, options: TranscribeOptions | None = None):
        self.options = options or TranscribeOptions()
        self._model = None
        self._pipeline = None
        self.resolved = None
        #: counters over this transcriber's life: speech gaps found, chunks recovered by a second
        #: decode, stretches still untranscribed (kept as flagged placeholders)
        self.stats = {"gaps": 0, "recovered": 0, "untranscribed": 0, "windows": 0}
        #: where each window of the last file started (s): every cut lies in a pause
        self.window_starts: list[float] = []

    # -- model ---------------------------------------------------------------------------
    def load(self):
        """Resolve and load the model (idempotent). Raises ModelError with the fixing command."""
        if self._pipeline is not None:
            return self._pipeline
        _offline_guard()
        resolved = _resolve_model(self.options.model_spec)
        lang = self.options.language
        if lang not in (None, "en") and not resolved.multilingual:
            raise UsageError(
                f"The model '{resolved.name}' understands English only, so it cannot transcribe "
                f"language '{lang}'.", hint="Use --model base, or leave out --language.")
        if not (Path(resolved.path) / "tokenizer.json").is_file():
            # faster-whisper would otherwise try to fetch a tokenizer from the internet
            raise ModelError(f"The model folder {resolved.path} has no tokenizer.json.",
                             hint=f"Reinstall it: voicenotes models install {resolved.name}")
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        try:
            model = WhisperModel(str(resolved.path), device="cpu",
                                 compute_type=self.options.compute_type,
                                 cpu_threads=int(self.options.cpu_threads),
                                 local_files_only=True)
        except Exception as exc:  # ctranslate2 raises RuntimeError on a damaged model.bin
            raise ModelError(
                f"The model '{resolved.name}' could not be loaded ({type(exc).__name__}).",
                hint=f"Check it with: voicenotes models verify {resolved.name}") from None
        self.resolved = resolved
        self._model = model
        self._pipeline = BatchedInferencePipeline(model=model)
        return self._pipeline

    @property
    def model_name(self) -> str | None:
        return self.resolved.name if self.resolved else None

    # -- dropped-speech recovery ---------------------------------------------------------
    def _recover(self, pipeline, window, probs, regions, offset_s: float,
                 chunks: list[_Chunk], language: str | None) -> list[_Chunk]:
        """Re-decode speech the batched pass skipped (a chunk whose decoding stopped early).

        The VAD's speech stretches are compared with the transcribed words; each stretch of
        ≥ 1.5 s that no word covers is decoded again on its own (``clip_timestamps``). What
        still gives no words is kept as a flagged ``[speech not transcribed]`` segment, so the
        reader knows something was said there."""
        spans: list[tuple[float, float]] = []
        for c in chunks:
            if c.words:
                spans.extend((w.start, w.end) for w in c.words)
            elif c.text.strip():
                spans.append((c.start, c.end))
        gaps = uncovered_speech(regions, spans)
        self.stats["gaps"] += len(gaps)
        if not gaps:
            return chunks
        win_s = len(window) / SAMPLE_RATE
        kw = self.options.decode_kwargs()
        kw.update(vad_filter=False, vad_parameters=None, language=language or kw["language"],
                  clip_timestamps=_clips_for(gaps, win_s))
        fw_segments, _ = pipeline.transcribe(window, **kw)
        recovered = [_Chunk.of(seg, probs, offset_s, regions) for seg in fw_segments]
        # drop recovered words that repeat words already there (clip padding), keep the rest
        taken = sorted(spans)
        kept: list[_Chunk] = []
        for c in recovered:
            words = [w for w in c.words
                     if not any(a <= (w.start + w.end) / 2 <= b for a, b in taken)]
            if len(words) != len(c.words):
                keep = {id(w) for w in words}
                c.speech = [sp for w, sp in zip(c.words, c.speech) if id(w) in keep]
                c.words = words
                c.text = "".join(w.word for w in words)
            if c.text.strip():
                kept.append(c)
        self.stats["recovered"] += len(kept)
        spans2 = spans + [(w.start, w.end) for c in kept for w in c.words]
        for a, b in uncovered_speech(gaps, spans2):
            self.stats["untranscribed"] += 1
            kept.append(_Chunk(offset_s, a, b, UNTRANSCRIBED_TEXT, [], [], None, None, None,
                               ("untranscribed_speech",)))
        out = chunks + kept
        out.sort(key=lambda c: (c.words[0].start if c.words else c.start))
        return out

    # -- transcription -------------------------------------------------------------------
    def transcribe(self, path: Path,
                   progress: Callable[[float, float], None] | None = None, *,
                   info: AudioInfo | None = None) -> Transcript:
        """Transcribe one file. Raises AudioError (not audio), ModelError, KeyboardInterrupt.

        ``progress(done_s, total_s)`` is called as audio is finished (seconds of audio).
        ``info``: the file's :func:`voicenotes.audio.probe` result when the caller already has
        it (saves hashing and checking the file twice)."""
        from voicenotes import audio as vaudio

        path = Path(path)
        if info is None:
            info = vaudio.probe(path)
        pipeline = self.load()
        opts = self.options
        total = float(info.duration_s or 0.0)
        if info.channels_cancel:  # the mono mix is near silence: hear one channel instead
            from voicenotes.audio.onechannel import one_channel

            stream = one_channel(path, 0, sample_rate=SAMPLE_RATE)
        else:
            stream = vaudio.iter_audio(path, sample_rate=SAMPLE_RATE)
        recorder = _vad_recorder()
        if progress is not None:
            progress(0.0, total)

        # Chunks are small (text, words, figures); they are assembled at the end, when the
        # decoded duration that timestamps are clamped to is known.
        chunks: list[_Chunk] = []
        self.window_starts = []
        done_s = 0.0
        t0 = time.monotonic()
        language = opts.language
        for offset, window in iter_windows(stream, opts.window_s, opts.cut_search_s):
            offset_s = offset / SAMPLE_RATE
            win_end = offset_s + len(window) / SAMPLE_RATE
            self.stats["windows"] += 1
            self.window_starts.append(round(offset_s, 3))
            try:
                recorder.take()
                fw_segments, fw_info = pipeline.transcribe(window, **opts.decode_kwargs())
                probs = recorder.take()
                regions = speech_regions(probs)
                language = fw_info.language
                mine: list[_Chunk] = []
                for seg in fw_segments:
                    mine.append(_Chunk.of(seg, probs, offset_s, regions))
                    if progress is not None:
                        progress(min(offset_s + seg.end, win_end), max(total, win_end))
                if opts.recover_dropped:
                    mine = self._recover(pipeline, window, probs, regions, offset_s, mine,
                                         language)
                chunks.extend(mine)
            except (ValueError, RuntimeError, IndexError) as exc:
                raise AudioError(f"{path.name}: the audio could not be transcribed "
                                 f"({type(exc).__name__}).",
                                 hint="Open it in a media player to check, or export it "
                                 "again.") from None
            del window
            done_s = win_end
            if progress is not None:
                progress(done_s, max(total, done_s))
        info = vaudio.finish_check(info, stream.decoded_s, stream.decode_errors,
                                   header_repaired=stream.header_repaired)
        asm = _Assembler(float(info.duration_s), opts.split_segments)
        for c in chunks:
            asm.add(c)
        segments = tuple(asm.segments)

        flags: list[str] = []
        if info.partial:
            flags.append("partial")
        if not any(not s.verify for s in segments):
            flags.append("no_speech")
        if info.channels_cancel:
            flags.append("channels_cancel")

        resolved = self.resolved
        settings = opts.settings()
        settings["versions"] = _versions()
        settings["elapsed_s"] = round(time.monotonic() - t0, 3)
        prov = Provenance(
            voicenotes_version=__version__,
            created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
            model_name=resolved.name,
            model_sha256=resolved.sha256,
            settings=settings,
        )
        return Transcript(audio=info, segments=segments, provenance=prov,
                          language=language or "en", flags=tuple(flags))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("faster-whisper", "ctranslate2", "onnxruntime", "av"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def transcribe_file(path: Path, options: TranscribeOptions | None = None,
                    progress: Callable[[float, float], None] | None = None) -> Transcript:
    """Transcribe one file with a fresh :class:`Transcriber`."""
    return Transcriber(options).transcribe(Path(path), progress=progress)


# --------------------------------------------------------------------------- outputs


def _ts(t: float, sep: str = ",") -> str:
    ms = int(round(max(0.0, t) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _clock(t: float) -> str:
    s = int(max(0.0, t))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def describe_flags(transcript: Transcript) -> list[str]:
    """Plain lines for the whole-file flags and the number of segments to check."""
    a = transcript.audio
    lines: list[str] = []
    if "partial" in transcript.flags:
        if a.partial_reason:
            lines.append(f"partial: {a.partial_reason[0].lower()}{a.partial_reason[1:]}")
        elif a.container_duration_s:
            lines.append(f"partial: the file seems truncated; {a.duration_s:.1f} s of "
                         f"{a.container_duration_s:.1f} s decoded")
        else:
            lines.append("partial: the file seems truncated or damaged")
    if "channels_cancel" in transcript.flags:
        lines.append("channels cancel: the left and right channels cancel each other when mixed, "
                     "so the first channel alone was transcribed; check the recording setup")
    if "no_speech" in transcript.flags:
        lines.append("no speech: nothing that reliably sounds like speech was found")
    n = sum(1 for s in transcript.segments if s.verify)
    if n:
        lines.append(f"{n} segment{'s' if n != 1 else ''} need{'s' if n == 1 else ''} checking "
                     "against the audio")
    return lines


def _marker(seg: Segment) -> str:
    return "[check audio] " if seg.verify else ""


def render_txt(t: Transcript) -> str:
    from voicenotes.speakers import describe_speakers, speaker_prefix

    out = [f"# {line}" for line in describe_flags(t) + describe_speakers(t)]
    for s in t.segments:
        reasons = "; ".join(REASON_TEXT.get(r, r) for r in s.verify_reasons)
        note = f"  [check audio: {reasons}]" if s.verify else ""
        out.append(f"[{_clock(s.start)}] {speaker_prefix(s)}{s.text}{note}")
    return "\n".join(out) + "\n"


def render_srt(t: Transcript) -> str:
    from voicenotes.speakers import speaker_prefix

    blocks = []
    for i, s in enumerate(t.segments, 1):
        blocks.append(f"{i}\n{_ts(s.start)} --> {_ts(max(s.end, s.start + 0.001))}\n"
                      f"{_marker(s)}{speaker_prefix(s)}{s.text}\n")
    return "\n".join(blocks)


def render_vtt(t: Transcript) -> str:
    from voicenotes.speakers import speaker_name

    blocks = ["WEBVTT\n"]
    for s in t.segments:
        name = speaker_name(s)
        voice = f"<v {name}>" if name else ""  # WebVTT voice span: players show the speaker
        blocks.append(f"{_ts(s.start, '.')} --> {_ts(max(s.end, s.start + 0.001), '.')}\n"
                      f"{voice}{_marker(s)}{s.text}\n")
    return "\n".join(blocks)


def parse_formats(spec: str | Sequence[str]) -> list[str]:
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for raw in items:
        f = raw.strip().lower().lstrip(".")
        if not f:
            continue
        if f not in FORMATS:
            raise UsageError(f"Unknown output format '{raw.strip()}'.",
                             hint="Use any of: " + ",".join(FORMATS) + ".")
        if f not in out:
            out.append(f)
    if not out:
        raise UsageError("No output format given.", hint="Use e.g. --format json,txt.")
    return out


def write_outputs(transcript: Transcript, out_dir: Path, stem: str,
                  formats: Sequence[str] = ("json", "txt")) -> list[Path]:
    """Write ``<stem>.<fmt>`` for each format into ``out_dir`` atomically with mode 0600."""
    from voicenotes.store import atomic_write_json, atomic_write_text, ensure_private_dir

    out_dir = Path(out_dir)
    ensure_private_dir(out_dir)
    written: list[Path] = []
    for fmt in parse_formats(formats):
        target = out_dir / f"{stem}.{fmt}"
        if fmt == "json":
            atomic_write_json(target, transcript.to_dict())
        elif fmt == "txt":
            atomic_write_text(target, render_txt(transcript))
        elif fmt == "srt":
            atomic_write_text(target, render_srt(transcript))
        elif fmt == "vtt":
            atomic_write_text(target, render_vtt(transcript))
        written.append(target)
    return written


def schema_path() -> Path:
    return Path(__file__).resolve().parent.parent / "schemas" / "transcript.schema.json"


__all__ = [
    "FLAG_THRESHOLDS", "FORMATS", "PRESETS", "REASON_TEXT", "TranscribeOptions", "Transcriber",
    "describe_flags", "flag_reasons", "iter_windows", "find_cut", "parse_formats",
    "render_srt", "render_txt", "render_vtt", "schema_path", "transcribe_file", "write_outputs",
]
