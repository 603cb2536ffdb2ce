"""The engine: one model loaded once, and a file streamed through it window by window.

* The model is loaded lazily: ``WhisperModel(path, device="cpu", compute_type="int8",
  cpu_threads=2, local_files_only=True)`` after the offline guard (nothing is ever downloaded
  here), wrapped in faster-whisper's ``BatchedInferencePipeline``.
* The audio is streamed (:func:`voicenotes.audio.iter_audio`) and cut into windows inside pauses
  (:mod:`~voicenotes.transcribe.windows`); each window goes through the batched pipeline as a
  numpy array with the settings of :class:`~voicenotes.transcribe.options.TranscribeOptions`.
* Speech the VAD hears but no word covers (the batched decoder sometimes ends a chunk early) is
  decoded again on its own; what still gives no words is kept as a flagged placeholder.

Nothing here writes logs with transcript words; exceptions carry file names only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicenotes import __version__
from voicenotes.errors import AudioError, ModelError, UsageError
from voicenotes.schema import AudioInfo, Provenance, Segment, Transcript
from voicenotes.transcribe.assemble import Assembler, Chunk
from voicenotes.transcribe.options import TranscribeOptions
from voicenotes.transcribe.vad import (
    SAMPLE_RATE,
    clips_for,
    speech_regions,
    uncovered_speech,
    vad_recorder,
)
from voicenotes.transcribe.windows import iter_windows

if TYPE_CHECKING:  # pragma: no cover
    from voicenotes.models import ResolvedModel

#: Text of the placeholder segment kept where speech was detected but no words came out.
UNTRANSCRIBED_TEXT = "[speech not transcribed]"

Progress = Callable[[float, float], None]


class Transcriber:
    """Loads the model once (on first use) and transcribes files with it."""

    def __init__(self, options: TranscribeOptions | None = None):
        self.options = options or TranscribeOptions()
        self._model: Any = None
        self._pipeline: Any = None
        self.resolved: ResolvedModel | None = None
        #: counters over this transcriber's life: speech gaps found, chunks recovered by a second
        #: decode, stretches still untranscribed (kept as flagged placeholders)
        self.stats = {"gaps": 0, "recovered": 0, "untranscribed": 0, "windows": 0}
        #: where each window of the last file started (s): every cut lies in a pause
        self.window_starts: list[float] = []

    # -- model ---------------------------------------------------------------------------
    def load(self) -> Any:
        """Resolve and load the model (idempotent). Raises ModelError with the fixing command."""
        if self._pipeline is not None:
            return self._pipeline
        from voicenotes.models import offline_guard, resolve_model

        offline_guard()
        resolved = resolve_model(self.options.model_spec)
        self._check_model(resolved)
        from faster_whisper import BatchedInferencePipeline

        model = self._whisper(resolved)
        self.resolved = resolved
        self._model = model
        self._pipeline = BatchedInferencePipeline(model=model)
        return self._pipeline

    def _check_model(self, resolved: ResolvedModel) -> None:
        """The model can do the asked language and has everything it needs locally."""
        lang = self.options.language
        if lang not in (None, "en") and not resolved.multilingual:
            raise UsageError(
                f"The model '{resolved.name}' understands English only, so it cannot transcribe "
                f"language '{lang}'.", hint="Use --model base, or leave out --language.")
        if not (Path(resolved.path) / "tokenizer.json").is_file():
            # faster-whisper would otherwise try to fetch a tokenizer from the internet
            raise ModelError(f"The model folder {resolved.path} has no tokenizer.json.",
                             hint=f"Reinstall it: voicenotes models install {resolved.name}")

    def _whisper(self, resolved: ResolvedModel) -> Any:
        from faster_whisper import WhisperModel

        try:
            return WhisperModel(str(resolved.path), device="cpu",
                                compute_type=self.options.compute_type,
                                cpu_threads=int(self.options.cpu_threads),
                                local_files_only=True)
        except Exception as exc:  # ctranslate2 raises RuntimeError on a damaged model.bin
            raise ModelError(
                f"The model '{resolved.name}' could not be loaded ({type(exc).__name__}).",
                hint=f"Check it with: voicenotes models verify {resolved.name}") from None

    @property
    def model_name(self) -> str | None:
        return self.resolved.name if self.resolved else None

    # -- transcription -------------------------------------------------------------------
    def transcribe(self, path: Path, progress: Progress | None = None, *,
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
        total = float(info.duration_s or 0.0)
        stream: Any
        if info.channels_cancel:  # the mono mix is near silence: hear one channel instead
            from voicenotes.audio.onechannel import one_channel

            stream = one_channel(path, 0, sample_rate=SAMPLE_RATE)
        else:
            stream = vaudio.iter_audio(path, sample_rate=SAMPLE_RATE)
        if progress is not None:
            progress(0.0, total)
        self.window_starts = []
        t0 = time.monotonic()
        # Chunks are small (text, words, figures); they are assembled at the end, when the
        # decoded duration that timestamps are clamped to is known.
        chunks, language = self._decode(path, pipeline, stream, total, progress)
        info = vaudio.finish_check(info, stream.decoded_s, stream.decode_errors,
                                   header_repaired=stream.header_repaired)
        asm = Assembler(float(info.duration_s), self.options.split_segments)
        for c in chunks:
            asm.add(c)
        segments = tuple(asm.segments)
        flags = _file_flags(info, segments)
        return Transcript(audio=info, segments=segments, provenance=self._provenance(t0),
                          language=language or "en", flags=flags)

    def _decode(self, path: Path, pipeline: Any, stream: Iterable[Any], total: float,
                progress: Progress | None) -> tuple[list[Chunk], str | None]:
        """Every window of the stream through the pipeline: the chunks and the language."""
        opts = self.options
        recorder = vad_recorder()
        chunks: list[Chunk] = []
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
                language = fw_info.language
                chunks.extend(self._window_chunks(pipeline, window, fw_segments, probs,
                                                  offset_s, language,
                                                  _clamped(progress, win_end, total)))
            except (ValueError, RuntimeError, IndexError) as exc:
                raise AudioError(f"{path.name}: the audio could not be transcribed "
                                 f"({type(exc).__name__}).",
                                 hint="Open it in a media player to check, or export it "
                                 "again.") from None
            del window
            if progress is not None:
                progress(win_end, max(total, win_end))
        return chunks, language

    def _window_chunks(self, pipeline: Any, window: Any, fw_segments: Iterable[Any], probs: Any,
                       offset_s: float, language: str | None,
                       progress: Callable[[float], None] | None) -> list[Chunk]:
        """One window's decoded segments as chunks, with skipped speech decoded again."""
        regions = speech_regions(probs)
        mine: list[Chunk] = []
        for seg in fw_segments:
            mine.append(Chunk.of(seg, probs, offset_s, regions))
            if progress is not None:
                progress(offset_s + seg.end)
        if self.options.recover_dropped:
            mine = self._recover(pipeline, window, probs, regions, offset_s, mine, language)
        return mine

    def _provenance(self, t0: float) -> Provenance:
        """Everything that decided this transcript: model, settings, library versions."""
        resolved = self.resolved
        assert resolved is not None  # load() has run
        settings = self.options.settings()
        settings["versions"] = _versions()
        settings["elapsed_s"] = round(time.monotonic() - t0, 3)
        return Provenance(
            voicenotes_version=__version__,
            created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
            model_name=resolved.name,
            model_sha256=resolved.sha256,
            settings=settings,
        )

    # -- dropped-speech recovery ---------------------------------------------------------
    def _recover(self, pipeline: Any, window: Any, probs: Any,
                 regions: Sequence[tuple[float, float]], offset_s: float,
                 chunks: list[Chunk], language: str | None) -> list[Chunk]:
        """Re-decode speech the batched pass skipped (a chunk whose decoding stopped early).

        The VAD's speech stretches are compared with the transcribed words; each stretch of
        ≥ 1.5 s that no word covers is decoded again on its own (``clip_timestamps``). What
        still gives no words is kept as a flagged ``[speech not transcribed]`` segment, so the
        reader knows something was said there."""
        spans = _covered(chunks)
        gaps = uncovered_speech(regions, spans)
        self.stats["gaps"] += len(gaps)
        if not gaps:
            return chunks
        win_s = len(window) / SAMPLE_RATE
        kw = self.options.decode_kwargs()
        kw.update(vad_filter=False, vad_parameters=None, language=language or kw["language"],
                  clip_timestamps=clips_for(gaps, win_s))
        fw_segments, _ = pipeline.transcribe(window, **kw)
        recovered = [Chunk.of(seg, probs, offset_s, regions) for seg in fw_segments]
        kept = _new_words_only(recovered, sorted(spans))
        self.stats["recovered"] += len(kept)
        spans2 = spans + [(w.start, w.end) for c in kept for w in c.words]
        for a, b in uncovered_speech(gaps, spans2):
            self.stats["untranscribed"] += 1
            kept.append(Chunk(offset_s, a, b, UNTRANSCRIBED_TEXT, [], [], None, None, None,
                              ("untranscribed_speech",)))
        out = chunks + kept
        out.sort(key=lambda c: (c.words[0].start if c.words else c.start))
        return out


def _clamped(progress: Progress | None, win_end: float,
             total: float) -> Callable[[float], None] | None:
    """Progress inside a window: never past the window's end."""
    if progress is None:
        return None
    return lambda t: progress(min(t, win_end), max(total, win_end))


def _covered(chunks: Iterable[Chunk]) -> list[tuple[float, float]]:
    """The spans (window-relative) the chunks' words cover; a chunk with text but no words
    covers its whole span."""
    spans: list[tuple[float, float]] = []
    for c in chunks:
        if c.words:
            spans.extend((w.start, w.end) for w in c.words)
        elif c.text.strip():
            spans.append((c.start, c.end))
    return spans


def _new_words_only(recovered: Iterable[Chunk],
                    taken: Sequence[tuple[float, float]]) -> list[Chunk]:
    """Drop recovered words that repeat words already there (clip padding), keep the rest."""
    kept: list[Chunk] = []
    for c in recovered:
        words = [w for w in c.words
                 if not any(a <= (w.start + w.end) / 2 <= b for a, b in taken)]
        if len(words) != len(c.words):
            keep = {id(w) for w in words}
            c.speech = [sp for w, sp in zip(c.words, c.speech, strict=True) if id(w) in keep]
            c.words = words
            c.text = "".join(w.word for w in words)
        if c.text.strip():
            kept.append(c)
    return kept


def _file_flags(info: AudioInfo, segments: Sequence[Segment]) -> tuple[str, ...]:
    """Whole-file flags: partial audio, no trustworthy speech, cancelling channels."""
    flags: list[str] = []
    if info.partial:
        flags.append("partial")
    if not any(not s.verify for s in segments):
        flags.append("no_speech")
    if info.channels_cancel:
        flags.append("channels_cancel")
    return tuple(flags)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("faster-whisper", "ctranslate2", "onnxruntime", "av"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
