"""voicenotes: local, private crisis-counseling note drafts from audio.

Audio -> transcript -> items -> note. Every stage is a function over small JSON-round-tripping
dataclasses (see :mod:`voicenotes.schema`). This module imports nothing heavy: faster-whisper,
spaCy and sounddevice are imported only where they are used.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
