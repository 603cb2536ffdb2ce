"""The speaker stage's tunable figures (:class:`SpeakerOptions`) and its 10-ms frame."""

from __future__ import annotations

from dataclasses import dataclass

FRAME_S = 0.01  # the frame of the diarization's frame scores (10 ms)


@dataclass(frozen=True)
class SpeakerOptions:
    """Settings of the speaker stage, with the defaults used everywhere.

    seg_step_s: hop between 10-s segmentation windows (2.5 s: each moment is seen by four
      windows; 1 s was no better on the AMI trn/dev clips and 2.5x slower).
    cluster_threshold: cosine distance at which complete-linkage clustering stops merging.
    merge_similarity: clusters whose centroids are at least this similar (cosine) are one voice.
    min_clean_ratio: a window's local speaker takes part in clustering only with at least this
      share of the window spoken alone (shorter, mixed bits are matched to the clusters after).
    count_bias: added to the windows' mean speaker count before rounding (0.2: a second voice
      counts where half of the windows that saw the moment hear it).
    max_speakers: upper bound when the number of speakers is estimated.
    embed_max_s: a voice embedding uses at most this much of a window's speech (its middle).
    share_iou: every other window takes its neighbour's embeddings for the local speakers whose
      activity matches (see :func:`window_embeddings`); None embeds every window. The two
      speed settings halve and halve again the time of the stage at the same DER on the AMI
      trn/dev clips and the dev sessions.
    relabel_s / relabel_hop_s / relabel_min_s / relabel_passes: the second look at one-speaker
      stretches (see :func:`relabel`): voice embeddings of ``relabel_s`` of audio every
      ``relabel_hop_s``, over stretches of at least ``relabel_min_s``; the clusters' voices are
      re-estimated from them between passes. ``relabel_passes=0`` turns it off.
    switch_penalty / pause_s: the word-level Viterbi of voicenotes.speakers (in units of the
      speaker activity, 0..1): a change of speaker between two words with no pause costs this
      much; after a pause of ``pause_s`` or a sentence end a quarter of it.
    enroll_match: cosine similarity of a speaker to the enrolled counselor voice needed to call
      that speaker the counselor.
    The clustering settings were chosen on the AMI trn/dev clips and the dev session audio;
    the AMI tst clips were held out (scripts/eval_diarization.py).
    """

    seg_step_s: float = 2.5
    cluster_threshold: float = 0.6
    merge_similarity: float = 0.8
    min_clean_ratio: float = 0.1
    count_bias: float = 0.2
    embed_max_s: float | None = 3.0
    share_iou: float | None = 0.7
    max_speakers: int = 8
    relabel_s: float = 1.0
    relabel_hop_s: float = 1.0
    relabel_min_s: float = 0.5
    relabel_passes: int = 2
    switch_penalty: float = 0.08
    pause_s: float = 0.35
    enroll_match: float = 0.5
    channel_correlation_max: float = 0.3
    channel_dominance_min: float = 0.6
    channel_dominance_db: float = 10.0


DEFAULT_OPTIONS = SpeakerOptions()
