"""Decoding settings: :class:`TranscribeOptions` and the named presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voicenotes.errors import UsageError
from voicenotes.transcribe.guards import FLAG_THRESHOLDS

PRESETS: dict[str, dict[str, Any]] = {
    # the measured best trade-off on 2 CPU cores: base, int8, 2 threads, batched 8, beam 5,
    # VAD min silence 2000 ms
    "default": {"model": None, "beam_size": 5, "batch_size": 8},
    # same with greedy decoding: ~1.15x (base) to 1.25x (tiny) faster, +0.4..1.5 WER points
    "fast": {"model": None, "beam_size": 1, "batch_size": 8},
    # the small English model and half the batch: ~0.8-0.9 GB peak instead of ~1.2 GB
    "low-memory": {"model": "tiny.en", "beam_size": 5, "batch_size": 4},
}


@dataclass
class TranscribeOptions:
    """Decoding settings. ``None`` means "the preset's value" (see :data:`PRESETS`).

    Defaults (measured as the best speed/accuracy trade-off on 2 CPU cores): model ``base`` (or ``$VOICENOTES_MODEL``), int8, 2 CPU
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
        """The model asked for, else the preset's (None: the registry's default)."""
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
        return {
            "language": self.language,
            "task": "transcribe",
            "beam_size": self.effective_beam_size,
            "batch_size": self.effective_batch_size,
            "temperature": 0.0,
            "condition_on_previous_text": False,
            # The batched pipeline does not act on these three (they drive the sequential
            # fallback loop); they are passed for the record and applied as doubt flags.
            "no_speech_threshold": FLAG_THRESHOLDS["no_speech_prob"],
            "log_prob_threshold": FLAG_THRESHOLDS["avg_logprob"],
            "compression_ratio_threshold": FLAG_THRESHOLDS["compression_ratio"],
            "vad_filter": True,
            "vad_parameters": {"min_silence_duration_ms": int(self.vad_min_silence_ms)},
            "word_timestamps": self.word_timestamps,
            "without_timestamps": True,
        }

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
