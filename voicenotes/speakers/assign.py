"""The speaker stage: ``assign_speakers`` labels every word and segment with a speaker and the
counselor / client roles, by audio channel or by voice. numpy is imported inside functions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicenotes.errors import AudioError, DependencyError, InputError, ModelError, UsageError
from voicenotes.schema import Transcript
from voicenotes.speakers.align import _relabel, _span_scores, _Unit, _units, viterbi
from voicenotes.speakers.decode import (
    _channel_centroids,
    _Decoded,
    decode,
    separate_channels,
)
from voicenotes.speakers.diarize import diarize
from voicenotes.speakers.enroll import load_enrollment
from voicenotes.speakers.labels import merge_turns
from voicenotes.speakers.options import DEFAULT_OPTIONS, SpeakerOptions
from voicenotes.speakers.roles import ROLE_CONFIDENCE_OK, decide_roles
from voicenotes.speakers.voiceprint import ENCODER_NAME, _require

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def parse_spec(spec: str | int | None) -> tuple[str, int | None]:
    """``auto`` | ``channels`` | ``N`` -> (kind, n). Raises UsageError for anything else."""
    s = str(spec if spec is not None else "auto").strip().lower()
    if s in ("auto", "channels"):
        return s, None
    if s.isdigit() and 1 <= int(s) <= 20:
        return "n", int(s)
    raise UsageError(f"--speakers must be auto, channels or a number of speakers from 1 to 20, "
                     f"not {str(spec)[:20]!r}.",
                     hint="For example: --speakers auto, --speakers 2 or --speakers channels.")


# --------------------------------------------------------------------------- dependencies


def check_available(spec: str | int | None = "auto") -> None:
    """Fail early (before transcribing) when ``spec`` needs the speakers extra and it is missing.
    ``channels`` needs nothing beyond the base install."""
    kind, _ = parse_spec(spec)
    if kind != "channels":
        _require()



def _check_same_audio(transcript: Transcript, audio_path: Path) -> None:
    from voicenotes.store import sha256_file

    want = transcript.audio.sha256
    if not want:
        return
    try:
        got = sha256_file(audio_path)
    except OSError as exc:
        raise AudioError(f"Cannot read {audio_path.name}: {exc.strerror or 'read error'}.",
                         hint="Check the file and try again.") from None
    if got != want:
        raise InputError(f"The transcript was made from a different audio file than "
                         f"{audio_path.name}, so its words cannot be matched to voices.",
                         hint="Give the recording the transcript was made from.")


def _no_progress(done_s: float, total_s: float) -> None:
    return None


def assign_speakers(transcript: Transcript, audio_path: Path | str, spec: str | int = "auto", *,
                    counselor: str | None = None, enrollment: Any = None,
                    options: SpeakerOptions | None = None, turns: bool = True,
                    progress: Callable[[float, float], None] | None = None) -> Transcript:
    """Fill ``Word.speaker``, ``Segment.speaker``/``role`` and ``Transcript.speakers``.

    ``spec``: ``auto`` | ``channels`` | N. ``counselor``: a label (``S2``) to force as the
    counselor. ``enrollment``: None uses the stored enrolled voice if there is one, False
    ignores it, a path or an array gives one explicitly. Segments are split where the speaker
    changes and, with ``turns`` (the default), consecutive segments of one speaker are joined
    into one segment per turn (:func:`merge_turns`; extraction reasons per turn); ids are
    renumbered. Raises UsageError for a bad spec, DependencyError (exit 9) when
    the ``speakers`` extra is missing, InputError when the transcript belongs to other audio.
    ``progress(done_s, total_s)``: seconds of audio separated so far, like transcription's.
    """
    opts = options or DEFAULT_OPTIONS
    kind, n = parse_spec(spec)
    audio_path = Path(audio_path)
    if kind != "channels":
        _require()
    _check_same_audio(transcript, audio_path)
    t0 = time.perf_counter()
    units = _units(transcript)
    mono_channel = 0 if transcript.audio.channels_cancel else None
    expected = transcript.audio.duration_s or None
    total_s = float(expected or 0.0)
    report = progress or _no_progress
    report(0.0, total_s)
    d = decode(audio_path, keep_mono=kind != "channels", mono_channel=mono_channel, opts=opts,
               expected_s=expected)
    meta: dict[str, Any] = {"spec": str(spec), "channels": d.channels}
    if d.channels >= 2:
        meta["channel_correlation"] = d.correlation
        meta["channel_dominance"] = d.dominance
    use_channels = kind == "channels" or (kind == "auto" and separate_channels(d, opts))
    centroids = None
    if use_channels:
        labels_all, path = _by_channel(d, units, opts, audio_path, meta)
    else:
        if d.mono is None:
            d = decode(audio_path, keep_mono=True, mono_channel=mono_channel, opts=opts,
                       expected_s=expected)
        labels_all, path, centroids = _by_voice(
            d, units, n, opts, meta, progress=lambda share: report(share * total_s, total_s))
    labels: list[str | None] = [labels_all[k] for k in path] if path else [None] * len(units)
    present = [lab for lab in labels_all if lab in set(labels)]
    # a cluster that won no word is dropped (it held only non-speech or a cough)
    enrolled = _enrolled_voice(enrollment)
    if use_channels and enrolled is not None and present and counselor is None:
        centroids = _channel_voices(d, audio_path)
    cents_present = _centroids_of(centroids, labels_all, present)
    # roles are decided on the split segments (questions per speaker)
    provisional = _relabel(transcript, units, labels, {})
    decided = decide_roles(provisional, present, counselor=counselor, centroids=cents_present,
                           enrolled=enrolled, opts=opts)
    roles = decided["roles"]
    segments = tuple(replace(s, role=roles.get(s.speaker, "unknown")) for s in provisional)
    _describe_roles(meta, decided, present, labels, t0)
    if counselor is not None:
        meta["counselor_override"] = str(counselor)
    meta["segments"] = "turns" if turns else "sentences"
    out = replace(transcript, segments=segments, speakers=meta,
                  flags=_role_flags(transcript, decided, present),
                  mode=transcript.mode or "session")
    report(total_s, total_s)
    return merge_turns(out) if turns else out


def _by_channel(d: _Decoded, units: list[_Unit], opts: SpeakerOptions, audio_path: Path,
                meta: dict[str, Any]) -> tuple[list[str], list[int]]:
    """One speaker per channel: each word goes to the channel with the most energy over it.
    Returns the labels and each word's label index; notes the method in ``meta``."""
    import numpy as np

    if d.channels < 2:
        raise InputError(f"{audio_path.name} has one channel, so it cannot be split by "
                         "channel.", hint="Use --speakers auto (or a number of speakers).")
    energy = d.energy
    share = energy / np.maximum(energy.sum(axis=0, keepdims=True), 1e-12)
    labels_all = [f"S{c + 1}" for c in range(d.channels)]
    scores = _span_scores(share.T.astype(np.float32), units)
    path = viterbi(scores, units, opts) if units else []
    meta.update(method="channels", channel_labels={lab: f"channel {c + 1}"
                                                   for c, lab in enumerate(labels_all)})
    return labels_all, path


def _by_voice(d: _Decoded, units: list[_Unit], n: int | None, opts: SpeakerOptions,
              meta: dict[str, Any], progress: Callable[[float], None],
              ) -> tuple[list[str], list[int], np.ndarray]:
    """Speakers by voice from the mono signal (released from ``d`` once handed over). Returns
    the labels, each word's label index and the speakers' centroids; notes the method in
    ``meta``."""
    import numpy as np

    mono, d.mono = d.mono, None
    assert mono is not None  # decoded with keep_mono
    di = diarize(mono, n, opts, progress=progress)
    del mono
    labels_all = di.labels
    scores = _span_scores(di.frame_scores, units) if labels_all else np.zeros((len(units), 0))
    path = viterbi(scores, units, opts) if labels_all and units else []
    meta.update(method="segmentation-embedding-clustering", encoder=ENCODER_NAME,
                count_estimated=n is None,
                speech_s=round(sum(b - a for a, b in di.speech), 2),
                overlap_s=di.overlap_s, windows=di.n_windows)
    return labels_all, path, di.centroids


def _enrolled_voice(enrollment: Any) -> np.ndarray | None:
    """The counselor voice to match: None uses the stored one (if any), False none, a path or
    an array that one."""
    import numpy as np

    if enrollment is False:
        return None
    if isinstance(enrollment, (str, Path)):
        return load_enrollment(Path(enrollment))
    if enrollment is not None:
        return np.asarray(enrollment, dtype=np.float32)
    return load_enrollment()


def _channel_voices(d: _Decoded, audio_path: Path) -> np.ndarray | None:
    """The channels' voice embeddings, or None when the speakers extra or its weights are
    missing (channels work without them; the roles are then guessed)."""
    try:
        _require()
        return _channel_centroids(d, audio_path)
    except (DependencyError, ModelError):
        return None


def _centroids_of(centroids: np.ndarray | None, labels_all: list[str],
                  present: list[str]) -> np.ndarray | None:
    """The centroids of the speakers that won a word, in ``present`` order."""
    import numpy as np

    if centroids is None or not present:
        return None
    return np.stack([centroids[labels_all.index(lab)] for lab in present])


def _describe_roles(meta: dict[str, Any], decided: dict[str, Any], present: list[str],
                    labels: list[str | None], t0: float) -> None:
    """The speakers block's figures: who, their roles and how they were decided, words each."""
    words_per = dict.fromkeys(present, 0)
    for lab in labels:
        if lab in words_per:
            words_per[lab] += 1
    meta.update(count=len(present), labels=present, roles=decided["roles"],
                role_method=decided["role_method"], role_confidence=decided["role_confidence"],
                questions=decided["questions"], first_speaker=decided["first_speaker"],
                words=words_per, seconds=round(time.perf_counter() - t0, 2))
    for key in ("enrollment_similarity", "enrollment_note"):
        if key in decided:
            meta[key] = decided[key]


def _role_flags(transcript: Transcript, decided: dict[str, Any],
                present: list[str]) -> tuple[str, ...]:
    """The transcript's flags, with ``roles_uncertain`` when the guessed roles are doubtful."""
    flags = tuple(f for f in transcript.flags if f != "roles_uncertain")
    if (decided["role_method"] == "heuristic" and decided["role_confidence"] is not None
            and len(present) >= 2 and decided["role_confidence"] < ROLE_CONFIDENCE_OK):
        flags += ("roles_uncertain",)  # a whole-file warning the note shows under "verify"
    return flags
