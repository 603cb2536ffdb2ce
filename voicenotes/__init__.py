"""voicenotes: local, private crisis-counseling note drafts from audio.

Audio -> transcript -> items -> note. Every stage is a function over small JSON-round-tripping
dataclasses (see :mod:`voicenotes.schema`). This module imports nothing heavy: faster-whisper,
spaCy and sounddevice are imported only where they are used. Importing it turns library
telemetry off before any of those libraries load (:mod:`voicenotes.privacy`).
"""

from voicenotes.privacy import quiet_libraries

__version__ = "0.1.0"

__all__ = ["__version__"]

quiet_libraries()
