"""Crash-safe recording from a microphone, with the consent gate before it and recovery after
a crash. Nothing here deletes audio, on any path.

How a recording is kept safe: PortAudio hands ~100 ms blocks of 16-bit PCM to a callback that
only queues them; a writer thread writes every block straight away into plain WAV files
(``session-0001.wav``, …, rolled over every 10 min), and every second patches the size fields,
fsyncs, and rewrites the journal ``recording.json`` atomically with the fsync'd offsets. A pulled
plug loses at most about a second; ``kill -9`` at most the blocks still queued. The journal says
``recording`` until the end, then ``finished``; :func:`recover` repairs a folder left in
``recording`` from the file lengths and marks it ``recovered``.

Modules:

* :mod:`~voicenotes.record.consent` — consent records: who, what scope, how given, when.
* :mod:`~voicenotes.record.devices` — the sound library, input devices, format, storage check.
* :mod:`~voicenotes.record.wavfile` — WAV headers, the crash-safe WAV writer, joining parts.
* :mod:`~voicenotes.record.journal` — ``recording.json``, its states, part names, the folder lock.
* :mod:`~voicenotes.record.display` — stop/pause keys and line commands, the status line.
* :mod:`~voicenotes.record.writer` — the writer thread (queue → rolling WAV files + journal).
* :mod:`~voicenotes.record.capture` — one recording session (:class:`Recorder`), session folders.
* :mod:`~voicenotes.record.recover` — repairing interrupted recordings.
* :mod:`~voicenotes.record.clock` — time stamps and durations as text.

sounddevice is imported only when recording starts (:func:`import_sounddevice`).
"""

from voicenotes.record.capture import (
    Recorder,
    RecordOptions,
    new_session_folder,
)
from voicenotes.record.clock import fmt_duration
from voicenotes.record.devices import (
    check_storage,
    choose_device,
    import_sounddevice,
    list_input_devices,
    pick_format,
)
from voicenotes.record.journal import COMBINED_NAME, LOCK_FILE
from voicenotes.record.recover import recover
from voicenotes.record.wavfile import (
    DEFAULT_SAMPLE_RATE,
    SAMPLE_WIDTH,
    WAV_HEADER_BYTES,
    combine_wavs,
    read_header,
    wav_header,
)

__all__ = [
    "COMBINED_NAME", "DEFAULT_SAMPLE_RATE", "LOCK_FILE", "SAMPLE_WIDTH", "WAV_HEADER_BYTES",
    "RecordOptions", "Recorder", "check_storage", "choose_device", "combine_wavs",
    "fmt_duration", "import_sounddevice", "list_input_devices", "new_session_folder",
    "pick_format", "read_header", "recover", "wav_header",
]
