"""Hostile input at the door: every JSON input (transcript, items, review export, consent record,
site rules) is checked against its schema before any work, and audio headers are checked before
decoding. A bad file gives one plain line and its documented exit code (3; a consent record 5,
a rules file 8), never "unexpected problem" (exit 1), and nothing is written.

The property-based part (hypothesis, derandomized so CI sees the same inputs every run) mutates
real voicenotes files at random JSON paths with hostile values (wrong types, NaN/Infinity, 1e308,
huge integers, control characters, path tricks, deep nesting) and corrupts their bytes, runs the
real CLI in-process on each, and counts the outcomes; WAV headers are generated field by field
and opened with the real probe and decoder. ``FUZZ_COUNTS`` is printed at the end (run with -s).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_note_helpers import hand_items, hand_transcript, with_extractor_offsets
from typer.testing import CliRunner

from voicenotes.cli import app
from voicenotes.errors import AudioError

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()
FUZZ_COUNTS: Counter = Counter()


@pytest.fixture(autouse=True, scope="module")
def _build_the_cli_once():
    """Typer rebuilds the Click command on every invoke (~25 ms); thousands of fuzz runs share
    one build (the command itself is unchanged)."""
    import typer.testing

    original = typer.testing._get_command
    built = original(app)
    typer.testing._get_command = lambda a: built if a is app else original(a)
    yield
    typer.testing._get_command = original


# --------------------------------------------------------------------------- helpers


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its SHA-256 (what a run wrote or changed)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(args: list[str]):
    res = runner.invoke(app, args)
    err = res.stderr if hasattr(res, "stderr") else res.output
    return res.exit_code, err, res


def _one_plain_line(err: str) -> bool:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in err


def _small_transcript() -> dict:
    d = hand_transcript().to_dict()
    d["segments"] = d["segments"][:4]  # small, so a run that passes the door stays fast
    return d


def _items_for(transcript: dict) -> dict:
    from voicenotes.schema import Transcript

    t = Transcript.from_dict(transcript)
    items = with_extractor_offsets(hand_items(), hand_transcript())
    keep = tuple(i for i in items.items if i.evidence.segment < len(t.segments))
    return {**items.to_dict(), "items": [i.to_dict() for i in keep]}


# --------------------------------------------------------------------------- named cases


def _mutated(base: dict, path: tuple, value) -> dict:
    d = copy.deepcopy(base)
    node = d
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return d


TRANSCRIPT_CASES = [
    (("segments", 0, "text"), 5, "$.segments[0].text"),
    (("segments", 0, "text"), None, "$.segments[0].text"),
    (("segments", 0, "start"), "ten", "$.segments[0].start"),
    (("segments", 0, "words"), "a word", "$.segments[0].words"),
    (("audio",), None, "$.audio"),
    (("segments", 0, "end"), 1e308, "$.segments[0].end"),
    (("segments", 1, "role"), 3, "$.segments[1].role"),
]


@pytest.mark.parametrize("path,value,where", TRANSCRIPT_CASES)
def test_hostile_transcript_is_one_line_exit_3_nothing_written(tmp_path, path, value, where):
    src = tmp_path / "in"
    src.mkdir()
    bad = src / "transcript.json"
    bad.write_text(json.dumps(_mutated(_small_transcript(), path, value)))
    out = tmp_path / "out"
    for args in (["note", str(bad), "--out", str(out)],
                 ["extract", str(bad), "--out", str(out / "items.json")]):
        code, err, _ = _run(args)
        assert code == 3, err
        assert _one_plain_line(err), err
        assert f"transcript.json is not a voicenotes transcript: at {where} " in err, err
        assert not out.exists()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_and_overflowing_times_are_refused(tmp_path, literal):
    text = json.dumps(_small_transcript()).replace('"end": 13.0', f'"end": {literal}', 1)
    assert literal in text
    bad = tmp_path / "t.json"
    bad.write_text(text)
    code, err, _ = _run(["note", str(bad), "--out", str(tmp_path / "out")])
    assert code == 3 and _one_plain_line(err), err
    assert "not a finite number" in err
    assert not (tmp_path / "out").exists()


def test_items_with_non_string_enums_and_review_export_with_a_list(tmp_path):
    t = _small_transcript()
    items = _items_for(t)
    src = tmp_path / "in"
    src.mkdir()
    (src / "transcript.json").write_text(json.dumps(t))
    for field, value in (("polarity", 1), ("type", ["RISK"]), ("speaker", {"x": 1})):
        bad = copy.deepcopy(items)
        bad["items"][0][field] = value
        (src / "items.json").write_text(json.dumps(bad))
        code, err, _ = _run(["note", str(src / "items.json"), "--out", str(tmp_path / "o")])
        assert code == 3 and _one_plain_line(err), err
        assert f"at $.items[0].{field} " in err
        assert not (tmp_path / "o").exists()
    # a good session, then an export whose review is a list
    (src / "items.json").write_text(json.dumps(items))
    sess = tmp_path / "sess"
    assert _run(["note", str(src / "items.json"), "--out", str(sess)])[0] == 0
    before = _tree(sess)
    export = copy.deepcopy(items)
    export["items"][0]["review"] = ["accepted"]
    (tmp_path / "export.json").write_text(json.dumps(export))
    code, err, _ = _run(["note", "--from-review", str(tmp_path / "export.json"), "--out", str(sess)])
    assert code == 3 and _one_plain_line(err), err
    assert "at $.items[0].review " in err
    assert _tree(sess) == before


def test_wav_with_zero_bits_per_sample_is_exit_3_before_the_folder(tmp_path):
    wav = tmp_path / "bits0.wav"
    wav.write_bytes(_wav(bits=0))
    out = tmp_path / "out"
    code, err, _ = _run(["note", str(wav), "--out", str(out)])
    assert code == 3 and _one_plain_line(err), err
    assert "0 bits per sample" in err
    assert not out.exists()


def test_control_characters_in_a_file_name_are_shown_escaped(tmp_path):
    bad = tmp_path / "x\nError: all risk cleared\x1b[2K.json"
    bad.write_text("{not json")
    code, err, _ = _run(["note", str(bad), "--out", str(tmp_path / "o")])
    assert code == 3, err
    assert err.count("\n") == 1 and "\x1b" not in err, err
    assert "x\\nError: all risk cleared\\x1b[2K.json" in err


def _nobody_cannot_read(path: Path) -> list[str]:
    """A command prefix under which ``path`` (mode 0) cannot be read, even when the tests run
    as root: root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH obeys file modes."""
    path.chmod(0)
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_an_unreadable_file_is_one_line_exit_3_not_a_usage_box(tmp_path):
    bad = tmp_path / "transcript.json"
    bad.write_text(json.dumps(_small_transcript()))
    prefix = _nobody_cannot_read(bad)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args in (["note", str(bad), "--out", str(tmp_path / "o")], ["extract", str(bad)],
                 ["note", "--from-review", str(bad), "--out", str(tmp_path)]):
        proc = subprocess.run([*prefix, sys.executable, "-m", "voicenotes", *args],
                              capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr.strip() == (f"Error: Cannot read {bad}: permission denied. Check the "
                                       "file's permissions."), proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.fixture()
def read_only_dir(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root); chmod cannot make a "
                    "folder read-only for root")
    yield ro
    subprocess.run(["umount", "-l", str(ro)], capture_output=True)


def test_read_only_out_is_exit_7_for_extract_and_batch(tmp_path, read_only_dir):
    t = tmp_path / "transcript.json"
    t.write_text(json.dumps(_small_transcript()))
    code, err, _ = _run(["extract", str(t), "--out", str(read_only_dir / "items.json")])
    assert code == 7 and _one_plain_line(err) and "Read-only file system" in err, err
    audio_in = tmp_path / "recordings"
    audio_in.mkdir()
    (audio_in / "a.wav").write_bytes(_wav())
    code, err, _ = _run(["batch", str(audio_in), "--out", str(read_only_dir)])
    assert code == 7 and _one_plain_line(err) and "cannot be written to" in err, err


# --------------------------------------------------------------------------- paths from files


@pytest.mark.parametrize("name", ["/etc/passwd", "../../../../../../etc/passwd", "../secret.wav",
                                  "linked.wav"])
def test_audio_file_name_in_a_transcript_is_never_followed(tmp_path, name):
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF not the session's audio")
    sess = tmp_path / "sess"
    sess.mkdir()
    (sess / "linked.wav").symlink_to(secret)
    t = _small_transcript()
    t["audio"]["file_name"] = name
    t["audio"]["sha256"] = hashlib.sha256(
        Path(name if name.startswith("/") else sess / name).read_bytes()).hexdigest()
    (sess / "transcript.json").write_text(json.dumps(t))
    code, err, _ = _run(["note", str(sess / "transcript.json"), "--out", str(sess)])
    assert code == 0, err
    assert not list(sess.glob("audio*")), "a file named by the JSON was copied in"
    html = (sess / "review.html").read_text()
    assert '<audio id="audio"' not in html and 'id="no-audio"' in html


def test_the_recording_in_the_folder_is_still_found(tmp_path):
    sess = tmp_path / "sess"
    sess.mkdir()
    audio = sess / "session-0001.wav"
    audio.write_bytes(_wav())
    t = _small_transcript()
    t["audio"]["file_name"] = "session-0001.wav"
    t["audio"]["sha256"] = hashlib.sha256(audio.read_bytes()).hexdigest()
    (sess / "transcript.json").write_text(json.dumps(t))
    assert _run(["note", str(sess / "transcript.json"), "--out", str(sess)])[0] == 0
    assert '<audio id="audio" controls preload="metadata" src="session-0001.wav">' \
        in (sess / "review.html").read_text()
    # an audio.* copy of another recording is not played for this transcript
    audio.rename(sess / "audio.wav")
    t["audio"]["sha256"] = "0" * 64
    (sess / "transcript.json").write_text(json.dumps(t))
    assert _run(["note", str(sess / "transcript.json"), "--out", str(sess)])[0] == 0
    assert '<audio id="audio"' not in (sess / "review.html").read_text()


# --------------------------------------------------------------------------- WAV headers


def _wav(*, tag=1, channels=1, rate=16000, byterate=None, align=None, bits=16, fmt_size=16,
         data_size=None, data=b"\x00\x01" * 1600, magic=b"RIFF", junk=b"") -> bytes:
    align = channels * max(bits, 0) // 8 if align is None else align
    byterate = rate * align if byterate is None else byterate
    fmt = struct.pack("<HHIIHH", tag & 0xFFFF, channels & 0xFFFF, rate & 0xFFFFFFFF,
                      byterate & 0xFFFFFFFF, align & 0xFFFF, bits & 0xFFFF)
    fmt = (fmt + b"\x00" * 64)[:max(fmt_size, 0)]
    size = len(data) if data_size is None else data_size
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + junk + b"data"
            + struct.pack("<I", size & 0xFFFFFFFF) + data)
    return magic + struct.pack("<I", len(body) & 0xFFFFFFFF) + body


U32 = st.one_of(st.sampled_from([0, 1, 8000, 16000, 44100, 0xFFFFFFFF, 0x7FFFFFFF]),
                st.integers(0, 0xFFFFFFFF))
U16 = st.one_of(st.sampled_from([0, 1, 2, 8, 16, 24, 32, 64, 65, 0xFFFF]), st.integers(0, 0xFFFF))
WAV = st.fixed_dictionaries({
    "tag": st.one_of(st.sampled_from([1, 3, 6, 7, 0xFFFE, 0x55, 2]), U16),
    "channels": U16, "rate": U32, "byterate": st.one_of(st.none(), U32),
    "align": st.one_of(st.none(), U16), "bits": U16,
    "fmt_size": st.sampled_from([0, 8, 14, 16, 18, 40]),
    "data_size": st.one_of(st.none(), U32),
    "data": st.one_of(st.binary(max_size=400), st.just(b"\x00\x01" * 1600)),
    "magic": st.sampled_from([b"RIFF", b"RF64", b"BW64", b"RIFX"]),
    "junk": st.one_of(st.just(b""), st.binary(max_size=24),
                      st.just(b"LIST" + struct.pack("<I", 0xFFFFFFF0))),
})


def _open_audio(path: Path) -> int:
    """What the CLI's audio door does with ``path``: 0 usable, 3 AudioError, 1 anything else."""
    from voicenotes.audio import iter_audio, probe

    try:
        probe(path)
        for _ in iter_audio(path, max_s=2.0):
            pass
        return 0
    except AudioError as exc:
        assert "\n" not in str(exc)
        return 3
    except Exception:
        return 1


@settings(max_examples=250, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzz_wav_headers(tmp_path_factory, data):
    hostile = data.draw(WAV, label="hostile fields")
    # some fields hostile, the rest those of a good 16-bit mono file (a few or all of them)
    keep = data.draw(st.sets(st.sampled_from(sorted(hostile)), max_size=len(hostile)))
    fields = {k: hostile[k] for k in keep}
    path = tmp_path_factory.mktemp("wav", numbered=True) / "fuzz.wav"
    path.write_bytes(_wav(**fields))
    code = _open_audio(path)
    FUZZ_COUNTS["wav", code] += 1
    assert code in (0, 3), fields


# --------------------------------------------------------------------------- JSON fuzzing

def _deep() -> list:
    deep: list = []
    for _ in range(70):  # deeper than any voicenotes file nests
        deep = [deep]
    return deep


HOSTILE = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -1e308, -1.0, 5e-324,
                     2 ** 64]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "../../etc/passwd", "/etc/shadow", "x\nError: risk cleared",
                     "\u2028", "RISK", "client", "accepted", "rejected", "session", "0" * 64,
                     "<script>alert(1)</script>", "# heading", "\x00"]),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.builds(_deep), st.builds(dict), st.builds(list),
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _mutate(data, base: dict) -> bytes:
    """1-3 hostile edits at random JSON paths, then maybe a byte-level corruption."""
    doc = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        paths = [p for p in _paths(doc) if 0 < len(p) <= 8]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        node = doc
        for k in path[:-1]:
            node = node[k]
        if data.draw(st.booleans(), label="delete") and isinstance(node, dict):
            del node[path[-1]]
        else:
            node[path[-1]] = data.draw(HOSTILE, label="value")
    raw = json.dumps(doc, allow_nan=True).encode()
    how = data.draw(st.sampled_from(["none"] * 6 + ["truncate", "byte", "bom", "latin1"]),
                    label="bytes")
    if how == "truncate":
        raw = raw[:data.draw(st.integers(0, max(len(raw) - 1, 0)))]
    elif how == "byte" and raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        raw = raw[:i] + bytes([data.draw(st.integers(0, 255))]) + raw[i + 1:]
    elif how == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif how == "latin1":
        raw = raw.replace(b'"', b'"\xe9', 1)
    return raw


class _Rig:
    """The files a fuzz example starts from, made once (a real session folder among them)."""

    def __init__(self, root: Path):
        self.root = root
        self.transcript = _small_transcript()
        self.items = _items_for(self.transcript)
        self.export = copy.deepcopy(self.items)
        for it in self.export["items"]:
            it["review"] = {"status": "accepted", "reviewed_at": "2026-03-09T16:00:00Z"}
        self.consent = {"parties": ["counselor", "client"], "scope": ["recording", "transcription"],
                        "method": "verbal", "retention_days": 30, "dictation": False,
                        "consented_at": "2026-03-09T13:58:00+00:00"}
        self.rule = {"id": "site-1", "type": "RISK", "literal": "want to die"}
        src = root / "src"
        src.mkdir()
        (src / "transcript.json").write_text(json.dumps(self.transcript))
        (src / "items.json").write_text(json.dumps(self.items))
        self.pristine = root / "pristine"
        code, err, _ = _run(["note", str(src / "items.json"), "--out", str(self.pristine)])
        assert code == 0, err
        self.n = 0

    def case(self, kind: str, raw: bytes) -> tuple[list[str], Path, dict[str, str]]:
        """(CLI args, folder that must stay unchanged on rejection, its files before)."""
        self.n += 1
        work = self.root / f"c{self.n}"
        work.mkdir()
        out = work / "out"
        if kind == "review":
            sess = work / "sess"
            shutil.copytree(self.pristine, sess)
            (work / "export.json").write_bytes(raw)
            return (["note", "--from-review", str(work / "export.json"), "--out", str(sess)],
                    sess, _tree(sess))
        (work / "transcript.json").write_text(json.dumps(self.transcript))
        args = ["note", str(work / "transcript.json"), "--out", str(out)]
        if kind == "transcript":
            (work / "transcript.json").write_bytes(raw)
        elif kind == "extract":
            (work / "transcript.json").write_bytes(raw)
            args = ["extract", str(work / "transcript.json"), "--out", str(out / "items.json")]
        elif kind == "items":
            (work / "items.json").write_bytes(raw)
            args = ["note", str(work / "items.json"), "--out", str(out)]
        elif kind == "consent":
            (work / "consent.json").write_bytes(raw)
        elif kind == "rules":
            (work / "site.jsonl").write_bytes(b"# site rules\n" + raw + b"\n")
            args += ["--rules", str(work / "site.jsonl")]
        return args, out, {}


#: exit codes a rejection may have, by input: consent records and rules files keep their own
#: documented codes (5: consent not shown; 8: a malformed rules file, naming file and line)
ALLOWED = {"transcript": {0, 3}, "extract": {0, 3}, "items": {0, 3}, "review": {0, 3},
           "consent": {0, 5}, "rules": {0, 8}}
EXAMPLES = {"transcript": 450, "extract": 150, "items": 400, "review": 300, "consent": 450,
            "rules": 100}


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    return _Rig(tmp_path_factory.mktemp("fuzz"))


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_fuzz_json_inputs(rig, kind):
    base = {"transcript": rig.transcript, "extract": rig.transcript, "items": rig.items,
            "review": rig.export, "consent": rig.consent, "rules": rig.rule}[kind]

    @settings(max_examples=EXAMPLES[kind], derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        raw = _mutate(data, base)
        args, watched, before = rig.case(kind, raw)
        code, err, res = _run(args)
        FUZZ_COUNTS[kind, code] += 1
        assert code in ALLOWED[kind], (code, err, res.exception)
        if code != 0:
            assert _one_plain_line(err), err
            assert _tree(watched) == before, "a rejected input left files behind"

    run()


def test_fuzz_report():
    """The figures (run with -s): examples per input and outcome, exit-1 count."""
    total = sum(FUZZ_COUNTS.values())
    exit1 = sum(n for (_, code), n in FUZZ_COUNTS.items() if code == 1)
    print(f"\nFUZZ total={total} exit1={exit1} " + " ".join(
        f"{k}:{c}={n}" for (k, c), n in sorted(FUZZ_COUNTS.items())))
    assert exit1 == 0
    if {k for k, _ in FUZZ_COUNTS} == {*EXAMPLES, "wav"}:  # every fuzz test above ran
        assert total >= 2000


# --------------------------------------------------------------------------- one writer


def test_two_concurrent_note_runs_one_fails_fast_and_nothing_mixes(tmp_path):
    """Two real `voicenotes note` processes into one folder: one writes, the other stops at once
    (exit 7, one line) and the folder is exactly what one run makes."""
    src = tmp_path / "src"
    src.mkdir()
    t = _small_transcript()
    (src / "transcript.json").write_text(json.dumps(t))
    out = tmp_path / "sess"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "voicenotes", "note", str(src / "transcript.json"), "--out",
           str(out), "-q"]
    # the first holds the lock while it loads spaCy and extracts (seconds); the second starts
    # once the lock file exists and must not wait for it
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 60
    while not (out / ".voicenotes.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.monotonic()
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    waited = time.monotonic() - t0
    first_out, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert second.returncode == 7, second.stderr
    assert _one_plain_line(second.stderr)
    assert "Another voicenotes command (note, process" in second.stderr
    assert f"is writing to {out}" in second.stderr
    assert waited < 20  # failed fast: it did not wait for the first to finish
    assert first.poll() == 0
    note = json.loads((out / "note.json").read_text())
    items_sha = hashlib.sha256((out / "items.json").read_bytes()).hexdigest()
    assert note["provenance"]["items_sha256"] == items_sha
    audit = (out / "audit.jsonl").read_text().splitlines()
    assert [json.loads(a)["event"] for a in audit] == ["draft_created"]


def test_a_folder_left_mixed_is_reported_and_rebuilt(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    t = _small_transcript()
    (src / "transcript.json").write_text(json.dumps(t))
    sess = tmp_path / "sess"
    assert _run(["note", str(src / "transcript.json"), "--out", str(sess)])[0] == 0
    made = json.loads((sess / "items.json").read_text())["provenance"]
    assert len(made["transcript_sha256"]) == 64
    # as after a kill -9 between stages: a newer transcript beside the older items and note
    t2 = copy.deepcopy(t)
    t2["segments"][0]["text"] = "I have a plan to end my life."
    (sess / "transcript.json").write_text(json.dumps(t2))
    old_note = (sess / "note.md").read_text()
    code, err, _ = _run(["export", str(sess), "--format", "md"])
    assert code == 0, err
    assert "items.json was made from a different transcript.json; rebuilt it." in err
    assert "note.md and note.json were made from a different transcript.json" in err
    assert (sess / "note.md").read_text() != old_note
    from voicenotes.pipeline import stale_artefacts

    assert stale_artefacts(sess) == []
    # an items.json changed under the note: the next note run says so and rebuilds
    items = json.loads((sess / "items.json").read_text())
    items["items"] = items["items"][:1]
    (sess / "items.json").write_text(json.dumps(items))
    assert stale_artefacts(sess) == ["note.md and note.json were made from a different items.json"]
    code, err, _ = _run(["note", str(sess / "items.json"), "--out", str(sess), "-q"])
    assert code == 0
    assert "note.md and note.json were made from a different items.json; this run rebuilt it" in err
    assert stale_artefacts(sess) == []


# --------------------------------------------------------------------------- the schemas


def test_schemas_agree_with_the_domain_and_the_builtin_rules():
    from voicenotes import domain
    from voicenotes.extract.rules import BUILTIN_FILES, RULES_DIR
    from voicenotes.store.validate import SCHEMAS, check

    item = json.loads((SCHEMAS / "items.schema.json").read_text())["$defs"]["item"]["properties"]
    for field, values in (("type", domain.ITEM_TYPES), ("polarity", domain.POLARITY),
                          ("modality", domain.MODALITY), ("experiencer", domain.EXPERIENCER),
                          ("temporality", domain.TEMPORALITY), ("certainty", domain.CERTAINTY),
                          ("speaker", domain.ROLES)):
        assert set(item[field]["enum"]) == set(values), field
    for name in BUILTIN_FILES:
        for line in (RULES_DIR / name).read_text("utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                check(json.loads(line), "rule", name)
    # what voicenotes itself writes passes its own door
    check(_small_transcript(), "transcript", "transcript.json")
    check(_items_for(_small_transcript()), "items", "items.json")


def test_review_saves_and_export_refuse_while_another_process_writes(tmp_path):
    """A real second process holds the folder's lock: a review decision and an export stop at
    once with one line (exit 7 / FolderBusy), and nothing in the folder changes."""
    from voicenotes.review.decisions import DecisionStore
    from voicenotes.store.lock import FolderBusy

    src = tmp_path / "src"
    src.mkdir()
    t = _small_transcript()
    (src / "transcript.json").write_text(json.dumps(t))
    (src / "items.json").write_text(json.dumps(_items_for(t)))
    sess = tmp_path / "sess"
    assert _run(["note", str(src / "items.json"), "--out", str(sess)])[0] == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom voicenotes.store.lock import session_lock\n"
         f"with session_lock({str(sess)!r}, 'note'):\n    print('held', flush=True)\n"
         "    sys.stdin.readline()\n"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = _tree(sess)
        store = DecisionStore(sess)
        item = store.itemset.items[0].id
        with pytest.raises(FolderBusy, match=rf"Another voicenotes command \(note, process "
                                             rf"{holder.pid}\) is writing to"):
            store.decide(item, "accepted")
        assert item not in store.snapshot()["decisions"]  # the refused change is not kept
        code, err, _ = _run(["export", str(sess), "--format", "md"])
        assert code == 7 and _one_plain_line(err), err
        assert _tree(sess) == before
    finally:
        holder.communicate("\n", timeout=30)
    store = DecisionStore(sess)
    store.decide(item, "accepted")  # the lock is free again
    assert _run(["export", str(sess), "--format", "md"])[0] == 0
