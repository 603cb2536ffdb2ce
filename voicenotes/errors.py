"""One small exception tree. The CLI turns each class into one plain line and an exit code.

Messages are written for counselors, not programmers: say what happened and what to do next.
They must never contain session content (transcript words, quotes); file names are fine.
"""

from __future__ import annotations


class VoicenotesError(Exception):
    """Base class: a problem the user can act on. ``exit_code`` is stable and documented."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:  # one line, hint appended
        return f"{self.message} {self.hint}" if self.hint else self.message


class UsageError(VoicenotesError):
    """Bad arguments or options (Click itself uses 2 for its own usage errors)."""

    exit_code = 2


class InputError(VoicenotesError):
    """The input is missing, unreadable, or not what the command needs (not audio, bad JSON...)."""

    exit_code = 3


class AudioError(InputError):
    """The file is not usable audio: empty, no audio stream, undecodable, a FIFO or device."""

    exit_code = 3


class ModelError(VoicenotesError):
    """A model is missing, incomplete or corrupt; the hint names the command that fixes it."""

    exit_code = 4


class ConsentError(VoicenotesError):
    """Consent was refused or not recorded: nothing is captured or written."""

    exit_code = 5


class DeviceError(VoicenotesError):
    """No usable input device, PortAudio missing, or the device failed."""

    exit_code = 6


class StorageError(VoicenotesError):
    """The output folder is not writable, is full, or a write failed."""

    exit_code = 7


class RulesError(VoicenotesError):
    """A rules file is malformed; the message names its file and line."""

    exit_code = 8


class DependencyError(VoicenotesError):
    """An optional component is not installed; the hint says how to install it."""

    exit_code = 9


class Interrupted(VoicenotesError):
    """The user stopped the run (Ctrl-C). Finished work is kept."""

    exit_code = 130

