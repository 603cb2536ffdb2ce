"""`voicenotes transcribe` through Typer's CliRunner: exit codes first, then outputs."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat

import pytest
from conftest import SPEECH
from typer.testing import CliRunner

from voicenotes.cli import app

JFK = SPEECH / "clips" / "misc__jfk.flac"
SHORT = SPEECH / "clips" / "ljspeech_lj001__LJ001-0002.flac"


def run(*args, env=None):
    return CliRunner().invoke(app, ["transcribe", *map(str, args)], env=env)


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


# --------------------------------------------------------------------------- exit codes


def test_no_arguments_shows_help_and_usage_exit():
    r = run()
    assert r.exit_code in (0, 2)
    assert "INPUT" in r.output


@pytest.mark.parametrize("args,needle", [
    (["--format", "docx"], "Unknown output format 'docx'"),
    (["--preset", "turbo"], "Unknown preset 'turbo'"),
])
def test_bad_options_exit_2_with_one_line(tmp_path, args, needle):
    r = run(JFK, "--out", tmp_path / "out", *args)
    assert r.exit_code == 2
    assert needle in r.stderr
    assert len(_lines(r.stderr)) == 1


def test_missing_file_exits_3_with_one_line(tmp_path):
    r = run(tmp_path / "nope.wav", "--out", tmp_path / "out")
    assert r.exit_code == 3
    assert _lines(r.stderr) == [f"Skipped: No such file: {tmp_path / 'nope.wav'}. "
                                "Check the spelling and the folder."]


def test_text_renamed_wav_exits_3(tmp_path):
    fake = tmp_path / "session.wav"
    fake.write_text("not a recording\n" * 100)
    r = run(fake, "--out", tmp_path / "out", "--model", "tiny.en")
    assert r.exit_code == 3
    assert len(_lines(r.stderr)) == 1 and "session.wav" in r.stderr
    assert "Traceback" not in r.output


def test_missing_model_exits_4_and_names_the_fixing_command(tmp_path):
    env = {"VOICENOTES_MODELS_DIR": str(tmp_path / "empty-store")}
    r = run(JFK, "--out", tmp_path / "out", "--model", "base", env=env)
    assert r.exit_code == 4
    assert "voicenotes models install base" in r.stderr
    assert len(_lines(r.stderr)) == 1


def test_unwritable_output_exits_7_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = run(JFK, "--out", blocker / "sub", "--model", "tiny.en")
    assert r.exit_code == 7
    assert len(_lines(r.stderr)) == 1


@pytest.mark.model
def test_english_only_model_refuses_other_language(tmp_path):
    r = run(JFK, "--out", tmp_path / "out", "--model", "tiny.en", "--language", "es")
    assert r.exit_code == 2
    assert "English only" in r.stderr and "--model base" in r.stderr


# --------------------------------------------------------------------------- outputs


@pytest.fixture(scope="module")
def jfk_outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "out"
    r = run(JFK, "--out", out, "--model", "tiny.en", "--format", "json,txt,srt,vtt")
    return r, out


@pytest.mark.model
def test_all_formats_written_private_and_valid(jfk_outputs):
    r, out = jfk_outputs
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["misc__jfk.json", "misc__jfk.srt", "misc__jfk.txt", "misc__jfk.vtt"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    data = json.loads((out / "misc__jfk.json").read_text())
    assert "ask not what your country can do for you" in " ".join(
        s["text"] for s in data["segments"]).lower()
    srt = (out / "misc__jfk.srt").read_text()
    assert re.match(r"1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n\S", srt)
    vtt = (out / "misc__jfk.vtt").read_text()
    assert vtt.startswith("WEBVTT\n\n") and " --> " in vtt
    txt = (out / "misc__jfk.txt").read_text()
    assert txt.startswith("[0:00:00] And so my fellow Americans")
    assert "misc__jfk.json" in r.stdout and "Transcribed 1 file into" in r.stdout


@pytest.mark.model
def test_json_output_matches_the_schema_and_round_trips(jfk_outputs):
    import jsonschema

    from voicenotes.schema import Transcript
    from voicenotes.transcribe import schema_path

    _, out = jfk_outputs
    data = json.loads((out / "misc__jfk.json").read_text())
    schema = json.loads(schema_path().read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema)
    assert Transcript.from_dict(data).to_dict() == data
    prov = data["provenance"]
    assert prov["model_name"] == "tiny.en" and len(prov["model_sha256"]) == 64
    s = prov["settings"]
    assert (s["beam_size"], s["batch_size"], s["compute_type"], s["cpu_threads"]) == (5, 8, "int8", 2)
    assert s["vad_parameters"] == {"min_silence_duration_ms": 2000}
    assert s["word_timestamps"] is True and s["condition_on_previous_text"] is False
    assert data["audio"]["sha256"] == __import__("hashlib").sha256(JFK.read_bytes()).hexdigest()
    assert data["audio"]["duration_s"] == pytest.approx(11.0, abs=0.05)


@pytest.mark.model
def test_folder_input_collisions_and_a_bad_file_among_good_ones(tmp_path):
    src = tmp_path / "in"
    (src / "a").mkdir(parents=True)
    (src / "b").mkdir()
    shutil.copy(SHORT, src / "a" / "memo.flac")
    shutil.copy(JFK, src / "b" / "memo.flac")
    (src / "b" / "broken.wav").write_bytes(b"RIFF....WAVEjunk" * 10)
    (src / "notes.txt").write_text("not audio, not listed")
    out = tmp_path / "out"
    r = run(src, "--out", out, "--model", "tiny.en", "--format", "json")
    assert r.exit_code == 3, r.output
    assert sorted(p.name for p in out.iterdir()) == ["memo-2.json", "memo.json"]
    first = json.loads((out / "memo.json").read_text())
    second = json.loads((out / "memo-2.json").read_text())
    assert "comparatively modern" in " ".join(s["text"] for s in first["segments"])
    assert "your country" in " ".join(s["text"] for s in second["segments"])
    bad = [ln for ln in _lines(r.stderr) if "broken.wav" in ln]
    assert len(bad) == 1
    assert "Transcribed 2 of 3 inputs" in r.stderr


@pytest.mark.model
def test_quiet_prints_only_paths_and_flags(tmp_path):
    import subprocess

    trunc = tmp_path / "cut.flac"
    data = JFK.read_bytes()
    trunc.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    r = run(trunc, "--out", out, "--model", "tiny.en", "--quiet")
    assert r.exit_code == 0, r.output
    assert _lines(r.stdout) == [str(out / "cut.json"), str(out / "cut.txt")]
    assert _lines(r.stderr) and all(ln.startswith("cut.flac: partial") for ln in _lines(r.stderr))
    txt = (out / "cut.txt").read_text()
    assert txt.startswith("# partial: ")
    del subprocess


def test_help_names_every_option():
    r = CliRunner().invoke(app, ["transcribe", "--help"])
    assert r.exit_code == 0
    for opt in ("--model", "--out", "--format", "--preset", "--language", "--quiet"):
        assert opt in r.output
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
