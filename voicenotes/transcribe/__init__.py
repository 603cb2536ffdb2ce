"""The transcription engine: audio file -> :class:`~voicenotes.schema.Transcript`.

A file is streamed, cut into windows inside pauses, decoded by faster-whisper's batched pipeline
on the CPU, and assembled into sentence-sized segments. Doubtful segments are **flagged, never
deleted**; speech the decoder skipped is decoded again, or kept as a flagged placeholder.

Modules:

* ``options``: :class:`TranscribeOptions` and the presets.
* ``engine``: :class:`Transcriber` (model loading behind the offline guard, the window loop,
  the second look at skipped speech, provenance).
* ``windows``: :func:`iter_windows` and :func:`find_cut` (every cut inside a pause).
* ``vad``: Silero speech probabilities, speech stretches, speech no word covers.
* ``assemble``: decoded chunks -> clamped, monotonic, flagged segments.
* ``guards``: the doubt flags (:func:`flag_reasons`, :data:`FLAG_THRESHOLDS`,
  :data:`REASON_TEXT`).
* ``output``: json/txt/srt/vtt rendering and writing, :func:`describe_flags`.

faster-whisper, ctranslate2 and numpy are imported inside the functions that use them:
``voicenotes --help`` must stay light.
"""

from __future__ import annotations

from voicenotes.transcribe.engine import Transcriber
from voicenotes.transcribe.guards import (
    FLAG_THRESHOLDS,
    REASON_TEXT,
    flag_reasons,
    repetition_loop,
)
from voicenotes.transcribe.options import PRESETS, TranscribeOptions
from voicenotes.transcribe.output import (
    FORMATS,
    describe_flags,
    parse_formats,
    render_srt,
    render_txt,
    render_vtt,
    schema_path,
    write_outputs,
)
from voicenotes.transcribe.vad import speech_regions, uncovered_speech
from voicenotes.transcribe.windows import find_cut, iter_windows

__all__ = [
    "FLAG_THRESHOLDS", "FORMATS", "PRESETS", "REASON_TEXT", "TranscribeOptions", "Transcriber",
    "describe_flags", "find_cut", "flag_reasons", "iter_windows", "parse_formats", "render_srt",
    "render_txt", "render_vtt", "repetition_loop", "schema_path", "speech_regions",
    "uncovered_speech", "write_outputs",
]
