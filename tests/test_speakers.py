"""Speaker separation and roles on real speech.

The conversations are built from real human recordings in ``tests/data/speech``: voice A is
the LJSpeech reader, voice B the LibriSpeech test-clean speaker 1089. Their words carry the
reference text of each clip, timed inside the clip, so the right speaker of every word is known.
The stereo version puts each voice on its own channel (telehealth layout). Real torch, the real
segmentation and CAM++ weights (``voicenotes models install speakers``), real Silero VAD; no
stubs.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from voicenotes.cli import app
from voicenotes.errors import InputError, UsageError
from voicenotes.schema import AudioInfo, Provenance, Segment, Transcript, Word
from voicenotes.store import sha256_file

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # the tests own their data (see tests/data/SOURCES.md)
SPEECH = DATA / "speech"
AUDIO = DATA / "extraction" / "audio"
AMI = DATA / "conversation" / "ami"
RATE = 16000

A = "ljspeech_lj001__LJ001-00"
B = "librispeech_testclean__1089-134686-000"
TURNS = [("A", A + "01"), ("B", B + "0"), ("A", A + "04"), ("B", B + "1"), ("A", A + "06")]
ENROLL_B = ["librispeech_testclean__1089-134691-0000", "librispeech_testclean__1089-134691-0001"]
GAP_S = 0.7


def _refs() -> dict[str, dict]:
    with open(SPEECH / "refs.tsv", newline="", encoding="utf-8") as fh:
        return {r["id"]: r for r in csv.DictReader(fh, delimiter="\t")}


def _load(row: dict) -> np.ndarray:
    from faster_whisper import decode_audio

    return decode_audio(str(SPEECH / row["file"]))


def _write_wav(path: Path, channels: list[np.ndarray]) -> Path:
    data = np.stack(channels, axis=1) if len(channels) > 1 else channels[0][:, None]
    pcm = (np.clip(data, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return path


def _transcript(path: Path, placed: list[tuple[str, float, float, str]],
                merge: tuple[int, int] | None = None) -> Transcript:
    """One segment per turn with words spread over the clip; ``merge`` joins two turns into one
    segment (as Whisper does when a reply follows quickly) so the speaker stage must split it."""
    segs = []
    for _who, start, end, text in placed:
        toks = text.split()
        span = (end - start - 0.2) / len(toks)
        words = tuple(Word(start + 0.1 + i * span, start + 0.1 + (i + 0.8) * span, " " + t, 0.9)
                      for i, t in enumerate(toks))
        segs.append(Segment(id=len(segs), start=start, end=end, text=text, words=words))
    if merge:
        i, j = merge
        a, b = segs[i], segs[j]
        joined = Segment(id=i, start=a.start, end=b.end, text=a.text + " " + b.text,
                         words=a.words + b.words)
        segs = segs[:i] + [joined] + segs[j + 1:]
        segs = [replace(s, id=k) for k, s in enumerate(segs)]
    info = AudioInfo(file_name=path.name, sha256=sha256_file(path),
                     duration_s=placed[-1][2] + 1.0, channels=None)
    return Transcript(audio=info, segments=tuple(segs),
                      provenance=Provenance(voicenotes_version="test", created_at="2026-01-01"))


@pytest.fixture(scope="session")
def convo(tmp_path_factory, data_dir):
    """Mono and stereo versions of the same 5-turn A/B conversation, plus the truth per word."""
    refs = _refs()
    rng = np.random.default_rng(7)
    clips, placed = [], []
    t = 0.5
    for who, rid in TURNS:
        wav = _load(refs[rid])
        clips.append((who, int(round(t * RATE)), wav))
        placed.append((who, t, t + len(wav) / RATE, refs[rid]["text"]))
        t += len(wav) / RATE + GAP_S
    n = int((t + 0.5) * RATE)
    chans = {"A": np.zeros(n, np.float32), "B": np.zeros(n, np.float32)}
    for who, at, wav in clips:
        chans[who][at:at + len(wav)] = wav
    room = lambda: (rng.standard_normal(n) * 10 ** (-62 / 20)).astype(np.float32)  # noqa: E731
    d = tmp_path_factory.mktemp("convo")
    mono = _write_wav(d / "mono.wav", [chans["A"] + chans["B"] + room()])
    stereo = _write_wav(d / "stereo.wav", [chans["A"] + room(), chans["B"] + room()])
    dual = _write_wav(d / "dual.wav", [chans["A"] + chans["B"]] * 2)
    enroll_b = np.concatenate([np.concatenate([_load(refs[r]), np.zeros(8000, np.float32)])
                               for r in ENROLL_B])
    enroll_file = _write_wav(d / "enroll-b.wav", [enroll_b])
    short = _write_wav(d / "short.wav", [_load(refs[A + "08"])])  # 1.8 s
    return {"mono": mono, "stereo": stereo, "dual": dual, "placed": placed,
            "enroll_b": enroll_file, "short": short}


def _truth(placed, merge=None):
    """Who says each word, in transcript order."""
    return [who for who, _, _, text in placed for _ in text.split()]


def _by_word(t: Transcript) -> list[tuple[str, str]]:
    return [(w.speaker, s.role) for s in t.segments for w in s.words]


def _accuracy(labels: list[str], truth: list[str]) -> float:
    """Share of words whose label maps to the right voice (label -> the voice it mostly holds)."""
    best = {}
    for lab in set(labels):
        votes = [tr for lb, tr in zip(labels, truth, strict=False) if lb == lab]
        best[lab] = max(set(votes), key=votes.count)
    return sum(best[lb] == tr for lb, tr in zip(labels, truth, strict=False)) / len(truth)


# --------------------------------------------------------------------------- spec, features


def test_parse_spec():
    from voicenotes.speakers import parse_spec

    assert parse_spec("auto") == ("auto", None)
    assert parse_spec(" Channels ") == ("channels", None)
    assert parse_spec("2") == ("n", 2)
    for bad in ("two", "0", "-1", "99", ""):
        with pytest.raises(UsageError):
            parse_spec(bad)


def test_fbank_matches_kaldi(convo):
    """CAM++'s input is computed in torch; it must equal Kaldi's fbank (kaldi-native-fbank, the
    reference implementation, with the settings 3D-Speaker trained with)."""
    import kaldi_native_fbank as knf
    from faster_whisper import decode_audio

    from voicenotes.speakers.voiceprint import fbank

    wav = decode_audio(str(convo["mono"]))[: RATE * 5]
    ours = fbank(wav).numpy()
    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = RATE
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.frame_opts.window_type = "povey"
    opts.mel_opts.num_bins = 80
    opts.mel_opts.low_freq = 20.0
    opts.mel_opts.high_freq = 0.0
    opts.use_energy = False
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(RATE, wav.tolist())
    fb.input_finished()
    ref = np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)])
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 2e-2, np.abs(ours - ref).max()
    assert np.abs(ours - ref).mean() < 1e-3


# --------------------------------------------------------------------------- channels


def test_channels_exact_and_segment_split(convo):
    from voicenotes.speakers import assign_speakers

    tr = _transcript(convo["stereo"], convo["placed"], merge=(1, 2))
    out = assign_speakers(tr, convo["stereo"], "channels", enrollment=False)
    labels = [w.speaker for s in out.segments for w in s.words]
    truth = _truth(convo["placed"])
    assert labels == ["S1" if w == "A" else "S2" for w in truth]
    assert out.speakers["method"] == "channels"
    # the merged B+A segment was split back into two, at the word where the voice changes
    assert len(out.segments) == len(convo["placed"])
    assert [s.speaker for s in out.segments] == ["S1", "S2", "S1", "S2", "S1"]
    assert all(s.text.split() == t[3].split() for s, t in zip(out.segments, convo["placed"], strict=False))
    assert [s.id for s in out.segments] == list(range(len(out.segments)))


def test_sentences_of_one_speaker_become_one_turn(convo):
    """Whisper gives sentence-sized segments; with speakers they are joined into one segment per
    turn (extraction reasons per turn), keeping every word and every doubt flag."""
    from voicenotes.speakers import assign_speakers

    tr = _transcript(convo["stereo"], convo["placed"])
    halves = []
    for seg in tr.segments:
        k = len(seg.words) // 2
        for part, words in ((0, seg.words[:k]), (1, seg.words[k:])):
            halves.append(Segment(id=len(halves), start=words[0].start, end=words[-1].end,
                                  text="".join(w.word for w in words).strip(), words=words,
                                  avg_logprob=-0.2 - part, verify=(len(halves) == 3),
                                  verify_reasons=("low_confidence",) if len(halves) == 3 else ()))
    tr = replace(tr, segments=tuple(halves))
    out = assign_speakers(tr, convo["stereo"], "channels", enrollment=False)
    assert [s.text for s in out.segments] == [p[3] for p in convo["placed"]]
    assert sum(len(s.words) for s in out.segments) == sum(len(s.words) for s in halves)
    assert [s.verify for s in out.segments] == [False, True, False, False, False]
    assert out.segments[1].verify_reasons == ("low_confidence",)
    assert out.segments[1].avg_logprob == -1.2  # the most doubtful part's figure
    assert out.speakers["segments"] == "turns"
    kept = assign_speakers(tr, convo["stereo"], "channels", enrollment=False, turns=False)
    assert len(kept.segments) == len(halves)


def test_auto_uses_channels_only_when_they_hold_different_voices(convo):
    from voicenotes.speakers import assign_speakers

    tr = _transcript(convo["stereo"], convo["placed"])
    out = assign_speakers(tr, convo["stereo"], "auto", enrollment=False)
    assert out.speakers["method"] == "channels"
    assert abs(out.speakers["channel_correlation"]) < 0.1

    # the same conversation on both channels (a plain stereo recording): voices, not channels
    tr2 = _transcript(convo["dual"], convo["placed"])
    out2 = assign_speakers(tr2, convo["dual"], "auto", enrollment=False)
    assert out2.speakers["method"] == "segmentation-embedding-clustering"
    assert out2.speakers["channel_correlation"] > 0.99
    assert out2.speakers["count"] == 2


# --------------------------------------------------------------------------- mono


def test_mono_two_real_voices_found_and_words_attributed(convo):
    from voicenotes.speakers import assign_speakers

    tr = _transcript(convo["mono"], convo["placed"], merge=(1, 2))
    out = assign_speakers(tr, convo["mono"], "auto", enrollment=False)
    sp = out.speakers
    assert sp["method"] == "segmentation-embedding-clustering" and sp["count_estimated"] is True
    assert sp["count"] == 2, sp
    labels = [w.speaker for s in out.segments for w in s.words]
    assert _accuracy(labels, _truth(convo["placed"])) >= 0.97
    # segments follow the voices: the merged segment is split again
    assert [s.speaker for s in out.segments] == ["S1", "S2", "S1", "S2", "S1"]
    # every segment's words carry its speaker; roles are filled from the labels
    for s in out.segments:
        assert {w.speaker for w in s.words} == {s.speaker}
        assert s.role == sp["roles"][s.speaker]
    assert sorted(sp["roles"].values()) == ["client", "counselor"]
    # nobody asks a question here: the roles are a guess, and the transcript says so
    assert sp["role_method"] == "heuristic" and sp["role_confidence"] < 0.7
    assert "roles_uncertain" in out.flags
    # round trip through JSON keeps everything
    again = Transcript.from_dict(json.loads(json.dumps(out.to_dict())))
    assert again == out


def test_uncertain_roles_reach_the_note(convo, tmp_path):
    """A guessed role assignment is shown in the note (under the audio to verify) and in the
    text transcript header, with the command that fixes it."""
    from voicenotes.speakers import assign_speakers
    from voicenotes.transcribe import render_txt

    tr = replace(_transcript(convo["mono"], convo["placed"]), mode="session",
                 session_start="2026-03-09T14:00:00")
    out = assign_speakers(tr, convo["mono"], "2", enrollment=False)
    assert "--counselor S1" in render_txt(out)
    src = tmp_path / "transcript.json"
    src.write_text(json.dumps(out.to_dict()))
    res = CliRunner().invoke(app, ["note", str(src), "--out", str(tmp_path / "note"), "-q"])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "note" / "note.md").read_text()
    assert "guessed with low confidence" in md and "--counselor S1" in md
    # the fix: the same transcript with --counselor, no audio needed; roles swap, warning goes
    before = {s.speaker: s.role for s in out.segments}
    res = CliRunner().invoke(app, ["note", str(src), "--counselor", "S2",
                                   "--out", str(tmp_path / "note2"), "-q"])
    assert res.exit_code == 0, res.output
    assert "guessed with low confidence" not in (tmp_path / "note2" / "note.md").read_text()
    fixed = Transcript.from_dict(json.loads((tmp_path / "note2" / "transcript.json").read_text()))
    after = {s.speaker: s.role for s in fixed.segments}
    assert after == {"S2": "counselor", "S1": "client"} and before != after
    assert fixed.speakers["role_method"] == "override"
    res = CliRunner().invoke(app, ["note", str(tmp_path / "note" / "items.json"),
                                   "--counselor", "S2", "--out", str(tmp_path / "note3")])
    assert res.exit_code == 2


def test_given_number_of_speakers(convo):
    from voicenotes.speakers import assign_speakers

    tr = _transcript(convo["mono"], convo["placed"])
    two = assign_speakers(tr, convo["mono"], "2", enrollment=False)
    assert two.speakers["count"] == 2 and two.speakers["count_estimated"] is False
    labels = [w.speaker for s in two.segments for w in s.words]
    assert _accuracy(labels, _truth(convo["placed"])) >= 0.97
    one = assign_speakers(tr, convo["mono"], 1, enrollment=False)
    assert one.speakers["labels"] == ["S1"]
    assert {s.role for s in one.segments} == {"unknown"}  # one voice: only enrollment can say


def test_clustering_keeps_two_voices_of_one_window_apart_and_one_voice_together(convo):
    """Real CAM++ embeddings of the two real voices, placed in windows the way the segmentation
    reports them: one voice over many windows is one speaker; a second voice heard in a few
    windows is its own speaker."""
    from voicenotes.speakers.diarize import cluster
    from voicenotes.speakers.voiceprint import embed_utterance

    refs = _refs()
    va = [embed_utterance(_load(refs[A + n])) for n in ("01", "04", "06", "08", "09")]
    vb = [embed_utterance(_load(refs[B + n])) for n in ("0", "1")]
    n_frames = 589
    hard = np.zeros((7, n_frames, 3), dtype=np.uint8)
    embs = np.full((7, 3, 192), np.nan, dtype=np.float32)
    for w in range(5):  # windows 0-4: voice A alone
        hard[w, :, 0] = 1
        embs[w, 0] = va[w]
    for w, e in zip((5, 6), vb, strict=False):  # windows 5-6: A then B, each alone for half the window
        hard[w, : n_frames // 2, 0] = 1
        hard[w, n_frames // 2:, 1] = 1
        embs[w, 0] = va[w - 5]
        embs[w, 1] = e
    assign, cents = cluster(embs, hard)
    assert len(cents) == 2
    a_label = assign[0, 0]
    assert all(assign[w, 0] == a_label for w in range(7))
    assert assign[5, 1] == assign[6, 1] != a_label
    # one voice the segmentation split into two local speakers of each window: the clustering
    # keeps them apart at first, the centroid check (merge_similarity) joins them into one voice
    hard2 = np.zeros((2, n_frames, 3), dtype=np.uint8)
    hard2[:, :, :2] = 1
    embs2 = np.full((2, 3, 192), np.nan, dtype=np.float32)
    embs2[0, 0], embs2[0, 1], embs2[1, 0], embs2[1, 1] = va[0], va[1], va[2], va[3]
    _, cents2 = cluster(embs2, hard2)
    assert len(cents2) == 1
    # ...whereas the two real voices in each of those windows stay two speakers
    embs2[0, 1], embs2[1, 1] = vb
    assign3, cents3 = cluster(embs2, hard2)
    assert len(cents3) == 2 and assign3[0, 0] == assign3[1, 0] != assign3[0, 1] == assign3[1, 1]


def test_overlapped_speech_gets_two_speakers(data_dir):
    """AMI trn09: a long turn with others cutting in (13 s of overlapped speech in 30 s). The
    diarizer must report overlapping turns of two speakers, most of them where the reference
    has overlap too."""
    from collections import defaultdict

    from faster_whisper import decode_audio

    from voicenotes.speakers import diarize

    d = diarize(decode_audio(str(AMI / "trn09.flac")))
    assert d.overlap_s >= 3.0, d.overlap_s
    n = 3000
    ref = defaultdict(lambda: np.zeros(n, dtype=int))
    for line in (AMI / "speakers.rttm").read_text().splitlines():
        p = line.split()
        if p[1] == "trn09":
            a, b = float(p[3]), float(p[3]) + float(p[4])
            ref[p[7]][int(a * 100):int(b * 100)] = 1
    ref_count = sum(ref.values())
    hyp_count = np.zeros(n, dtype=int)
    for a, b, _ in d.turns():
        hyp_count[int(a * 100):int(b * 100)] += 1
    both = (hyp_count >= 2)
    assert both.sum() >= 300
    assert (ref_count[both] >= 2).mean() >= 0.7  # the overlap it reports is mostly real


def test_two_voices_taking_turns_in_one_window_are_told_apart(data_dir):
    """AMI dev00, 20-30 s: two men take turns quickly, and the segmentation model hears them as
    one local speaker in every window that covers it, so clustering alone labels all of it one
    speaker. The second look at one-speaker stretches (voices.relabel) must give MEE012's turn
    (26.2-28.4 s) another speaker than MEE009's (24.0-26.0 s), and the same as MEE012's earlier
    turn (13.5-16.5 s)."""
    from faster_whisper import decode_audio

    from voicenotes.speakers import diarize

    d = diarize(decode_audio(str(AMI / "dev00.flac")))

    def who(a: float, b: float) -> str:
        time: dict[str, float] = {}
        for x, y, lab in d.turns():
            time[lab] = time.get(lab, 0.0) + max(0.0, min(b, y) - max(a, x))
        lab, t = max(time.items(), key=lambda kv: kv[1])
        assert t >= 0.6 * (b - a), (a, b, time)  # someone is heard for most of the stretch
        return lab

    assert who(26.6, 28.0) != who(24.0, 26.0)
    assert who(26.6, 28.0) == who(13.5, 16.5)


def test_transcript_of_other_audio_is_refused(convo):
    from voicenotes.speakers import assign_speakers

    tr = _transcript(convo["mono"], convo["placed"])
    with pytest.raises(InputError, match="different audio file"):
        assign_speakers(tr, convo["stereo"], "auto", enrollment=False)


# --------------------------------------------------------------------------- roles


def _segs(rows):
    return [Segment(id=i, start=i, end=i + 1, text=t, speaker=s) for i, (s, t) in enumerate(rows)]


def test_role_heuristic_questions_and_first_speaker():
    from voicenotes.speakers import decide_roles, role_heuristic

    rows = [("S2", "Hi, thanks for calling. What's going on tonight?"),
            ("S1", "I can't sleep. Everything feels pointless."),
            ("S2", "Have you had thoughts of killing yourself? Is there a gun at home"),
            ("S1", "Sometimes. No gun."),
            ("S2", "Okay. Who could you call tonight?")]
    h = role_heuristic(_segs(rows), ["S1", "S2"])
    assert h["counselor"] == "S2" and h["questions"] == {"S1": 0, "S2": 4}
    assert h["confidence"] >= 0.9
    d = decide_roles(_segs(rows), ["S1", "S2"])
    assert d["roles"] == {"S2": "counselor", "S1": "client"} and d["role_method"] == "heuristic"
    # no questions at all: the first speaker, with low confidence
    flat = [("S1", "I was at work."), ("S2", "Right."), ("S1", "Then I went home.")]
    h2 = role_heuristic(_segs(flat), ["S1", "S2"])
    assert h2["counselor"] == "S1" and h2["confidence"] == 0.5
    # three voices: the one who says most besides the counselor is the client
    three = rows + [("S3", "Hi, I'm his sister."), ("S1", "She drove me here today, yes.")]
    d3 = decide_roles(_segs(three), ["S1", "S2", "S3"])
    assert d3["roles"] == {"S2": "counselor", "S1": "client", "S3": "other"}
    # --counselor overrides, and a wrong label is a usage error naming the real ones
    d4 = decide_roles(_segs(rows), ["S1", "S2"], counselor="s1")
    assert d4["roles"]["S1"] == "counselor" and d4["role_method"] == "override"
    with pytest.raises(UsageError, match="S1, S2"):
        decide_roles(_segs(rows), ["S1", "S2"], counselor="S7")


def test_channels_with_an_enrolled_voice_work_without_the_speaker_weights(convo, tmp_path,
                                                                          monkeypatch):
    """Channel separation needs no models: with a counselor enrolled but the speaker weights
    missing, the channels still split and the roles fall back to the question heuristic."""
    from voicenotes.speakers import assign_speakers

    monkeypatch.setenv("VOICENOTES_SPEAKER_MODELS", str(tmp_path / "not-installed"))
    tr = _transcript(convo["stereo"], convo["placed"])
    voice = np.ones(192, dtype=np.float32) / np.sqrt(192)
    out = assign_speakers(tr, convo["stereo"], "channels", enrollment=voice)
    assert out.speakers["method"] == "channels"
    assert out.speakers["role_method"] == "heuristic"
    assert set(out.speakers["roles"].values()) == {"counselor", "client"}


def test_counselor_override_end_to_end(convo):
    from voicenotes.speakers import assign_speakers

    tr = _transcript(convo["stereo"], convo["placed"])
    out = assign_speakers(tr, convo["stereo"], "channels", counselor="S2", enrollment=False)
    assert out.speakers["roles"] == {"S1": "client", "S2": "counselor"}
    assert all(s.role == ("counselor" if s.speaker == "S2" else "client") for s in out.segments)


# --------------------------------------------------------------------------- enrollment


def test_enroll_then_enrolled_voice_is_counselor(convo, isolated_home, monkeypatch):
    """Voice B speaks second and asks nothing, so the heuristic would pick A; enrolling B (from
    other recordings of the same person) makes B the counselor."""
    from voicenotes import speakers as spk

    monkeypatch.setenv("VOICENOTES_HOME", str(isolated_home / "vn"))
    res = CliRunner().invoke(app, ["enroll", str(convo["enroll_b"]), "--yes"])
    assert res.exit_code == 0, res.output
    path = spk.enrollment_path()
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    rec = json.loads(path.read_text())
    assert len(rec["embedding"]) == 192 and rec["consent"]["given"] is True
    assert "wav" not in json.dumps(rec["source"]).replace(".wav", "")  # no audio kept, only numbers

    tr = _transcript(convo["mono"], convo["placed"])
    out = spk.assign_speakers(tr, convo["mono"], "auto")
    assert out.speakers["role_method"] == "enrollment", out.speakers
    roles_by_voice = {}
    for (who, _, _, _text), seg in zip(convo["placed"], out.segments, strict=False):
        roles_by_voice.setdefault(who, set()).add(seg.role)
    assert roles_by_voice == {"A": {"client"}, "B": {"counselor"}}
    # without the enrollment the guess picks the first speaker (A)
    guess = spk.assign_speakers(tr, convo["mono"], "auto", enrollment=False)
    assert guess.speakers["role_method"] == "heuristic"
    assert guess.segments[0].role == "counselor"

    res = CliRunner().invoke(app, ["enroll", "--show"])
    assert res.exit_code == 0 and "is enrolled" in res.output
    res = CliRunner().invoke(app, ["enroll", "--forget"])
    assert res.exit_code == 0 and not path.exists()


def test_enrollment_from_the_old_voice_model_asks_to_enroll_again(isolated_home, monkeypatch):
    """Enrollments stored before the voice model changed (schema 1, 256 numbers) cannot be
    compared with today's voices: one plain error naming the fix, never a silent mismatch."""
    from voicenotes import speakers as spk

    monkeypatch.setenv("VOICENOTES_HOME", str(isolated_home / "vn"))
    path = spk.enrollment_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"schema_version": 1, "role": "counselor",
                                "embedding": [0.1] * 256}))
    with pytest.raises(InputError, match="earlier version") as exc:
        spk.load_enrollment()
    assert "voicenotes enroll" in exc.value.hint


def test_enroll_needs_consent_and_enough_speech(convo, isolated_home, monkeypatch):
    from voicenotes import speakers as spk

    monkeypatch.setenv("VOICENOTES_HOME", str(isolated_home / "vn"))
    res = CliRunner().invoke(app, ["enroll", str(convo["enroll_b"])], input="")
    assert res.exit_code == 5, res.output
    assert not spk.enrollment_path().exists()
    res = CliRunner().invoke(app, ["enroll", str(convo["short"]), "--yes"])
    assert res.exit_code == 3 and "needs at least 5 s" in res.output
    assert not spk.enrollment_path().exists()
    res = CliRunner().invoke(app, ["enroll", str(convo["short"]) + ".missing", "--yes"])
    assert res.exit_code == 3


# --------------------------------------------------------------------------- missing extra


def test_missing_extra_is_exit_9_with_install_command(tmp_path, convo):
    """A real process where torch cannot be imported: --speakers stops before transcribing."""
    block = tmp_path / "block" / "torch"
    block.mkdir(parents=True)
    (block / "__init__.py").write_text("raise ImportError('torch is not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(block.parent), "HF_HUB_OFFLINE": "1"}
    for args in (["transcribe", str(convo["mono"]), "--speakers", "auto", "-o", str(tmp_path)],
                 ["note", str(convo["mono"]), "--speakers", "2", "--out", str(tmp_path / "n")],
                 ["enroll", str(convo["enroll_b"]), "--yes"]):
        proc = subprocess.run([sys.executable, "-m", "voicenotes", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 9, (args, proc.stderr)
        assert "pip install 'voicenotes[speakers]'" in proc.stderr
        assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- DER on AMI


def test_diarization_error_rate_on_real_meeting_clips(data_dir):
    """DER (pyannote.metrics, collar 0.25 s, overlap scored) on two AMI clips. A guard against
    regressions, not the headline figure (scripts/eval_diarization.py reports all 14 clips)."""
    from collections import defaultdict

    metrics = pytest.importorskip("pyannote.metrics.diarization")
    from faster_whisper import decode_audio
    from pyannote.core import Annotation
    from pyannote.core import Segment as PSeg

    from voicenotes.speakers import diarize

    ref = defaultdict(Annotation)
    for line in (AMI / "speakers.rttm").read_text().splitlines():
        p = line.split()
        ref[p[1]][PSeg(float(p[3]), float(p[3]) + float(p[4]))] = p[7]
    der = metrics.DiarizationErrorRate(collar=0.25)
    for clip in ("dev01", "trn03"):
        d = diarize(decode_audio(str(AMI / f"{clip}.flac")))
        hyp = Annotation()
        for a, b, lab in d.turns():
            hyp[PSeg(a, b)] = lab
        der(ref[clip], hyp)
    assert abs(der) <= 0.15, abs(der)  # 8.7% when written; 17% before voices.relabel


# --------------------------------------------------------------------------- real Whisper


@pytest.mark.model
def test_transcribe_cli_speakers_on_session_audio(tmp_path, data_dir):
    """dev-41: a real counselor/client session rendered to speech; real tiny.en Whisper words,
    speakers by voice (no sidecar), roles by the question heuristic; every output shows them."""
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["transcribe", str(AUDIO / "dev-41.flac"), "--model", "tiny.en",
                                   "--speakers", "auto", "-f", "json,txt,srt,vtt", "-o", str(out),
                                   "-q"])
    assert res.exit_code == 0, res.output
    t = Transcript.from_dict(json.loads((out / "dev-41.json").read_text()))
    with open(AUDIO / "dev-41.segments.tsv", newline="") as fh:
        turns = [(float(r["start_s"]), float(r["end_s"]), r["speaker"])
                 for r in csv.DictReader(fh, delimiter="\t")]

    def truth(w):
        mid = (w.start + w.end) / 2
        return min(turns, key=lambda r: 0 if r[0] <= mid <= r[1]
                   else min(abs(mid - r[0]), abs(mid - r[1])))[2]

    pairs = [(s.role, truth(w)) for s in t.segments for w in s.words]
    assert len(pairs) > 40
    assert sum(a == b for a, b in pairs) / len(pairs) >= 0.97
    assert t.speakers["role_method"] == "heuristic" and t.speakers["role_confidence"] >= 0.7
    assert "roles_uncertain" not in t.flags
    txt = (out / "dev-41.txt").read_text()
    assert "Counselor (S1):" in txt and "Client (S2):" in txt and "# Speakers (by voice)" in txt
    assert "<v Counselor (S1)>" in (out / "dev-41.vtt").read_text()
    assert "Client (S2): " in (out / "dev-41.srt").read_text()
