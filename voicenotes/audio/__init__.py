"""Finding, checking and decoding audio input.

The danger with audio is not the crash but the *silent partial success*: a decoder returns
whatever it could read, skips invalid frames without telling anyone, and trusts a WAV header that
a crashed recorder never finished. This package makes each of those cases visible.

Modules:

* ``discover``: :func:`find_inputs`, the one input discovery for every command (files and
  folders -> a deterministic list of recordings; never opens FIFOs or devices, survives link
  loops).
* ``files``: stat before opening, one plain line for each way a path can be unreadable.
* ``wavheader``: WAV header reading and the in-memory repair of an unfinished header.
* ``probe``: :func:`probe` (is this usable audio, what does it promise) and :func:`finish_check`
  (was all of it decoded).
* ``decode``: :func:`iter_audio`, streaming mono or per-channel float32 at 16 kHz.
* ``channels``: :func:`check_channels`, stereo whose downmix cancels.
* ``names``: :func:`printable`, file names safe to print.

numpy and PyAV are imported inside the functions: ``voicenotes --help`` must stay light.
Messages never contain session content; file names are fine.
"""

from __future__ import annotations

from voicenotes.audio.channels import ChannelCheck, check_channels
from voicenotes.audio.decode import SAMPLE_RATE, AudioStream, iter_audio
from voicenotes.audio.discover import AUDIO_EXTENSIONS, find_inputs, is_audio_name
from voicenotes.audio.names import printable
from voicenotes.audio.probe import finish_check, probe

__all__ = [
    "AUDIO_EXTENSIONS", "SAMPLE_RATE", "AudioStream", "ChannelCheck", "check_channels",
    "find_inputs", "finish_check", "is_audio_name", "iter_audio", "printable", "probe",
]
