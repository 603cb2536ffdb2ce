"""CLI basics: light and fast --help, --version, help text everywhere, errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from voicenotes import __version__

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("faster_whisper", "ctranslate2", "spacy", "medspacy", "sounddevice",
         # what faster-whisper itself would drag in
         "av", "onnxruntime", "huggingface_hub", "tokenizers", "torch")

# Runs the real app on each argv list, then reports which heavy modules got imported.
HELP_PROBE = """
import json, sys
from voicenotes.cli import app
import typer.main
def walk(cmd, path=()):
    yield path
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from walk(sub, path + (name,))
paths = [list(p) for p in walk(typer.main.get_command(app))] if sys.argv[1] == "all" else [[]]
seen = {}
for p in paths:
    try:
        app([*p, "--help"], prog_name="voicenotes")
    except SystemExit:
        pass
    seen[" ".join(p) or "(top)"] = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
print("@@" + json.dumps(seen))
"""


def _run(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("VOICENOTES_DEBUG", None)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def _heavy_after_help(which: str) -> dict[str, list[str]]:
    proc = _run(f"HEAVY = {HEAVY!r}\n" + HELP_PROBE, which)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("@@"))
    return json.loads(line[2:])


def test_top_level_help_imports_nothing_heavy():
    assert _heavy_after_help("top") == {"(top)": []}


def test_every_command_help_imports_nothing_heavy():
    seen = _heavy_after_help("all")
    assert len(seen) > 1, "no commands registered?"
    assert {path: mods for path, mods in seen.items() if mods} == {}


def test_help_is_fast():
    runs = []
    for _ in range(2):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "voicenotes", "--help"], capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
        runs.append(time.perf_counter() - t0)
        assert proc.returncode == 0 and "Usage" in proc.stdout
    print(f"voicenotes --help wall time: {min(runs):.3f} s (best of {len(runs)})")
    assert min(runs) < 2.0


def test_version():
    proc = subprocess.run([sys.executable, "-m", "voicenotes", "--version"], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and proc.stdout.strip() == f"voicenotes {__version__}"


def test_every_command_has_help_text():
    import typer.main

    from voicenotes.cli import app

    missing = []

    def walk(cmd, path):
        text = (cmd.help or cmd.short_help or "").strip()
        if not text or text == "Root options.":
            missing.append(" ".join(path) or "(top)")
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, path + (name,))

    walk(typer.main.get_command(app), ())
    assert missing == []


def test_unexpected_exception_is_one_line_without_traceback():
    code = (
        "from voicenotes.cli import app, main\n"
        "@app.command('boom')\n"
        "def boom():\n"
        "    'Fails on purpose.'\n"
        "    raise RuntimeError('client said SECRET-WORDS in session')\n"
        "import sys; sys.argv = ['voicenotes', 'boom']\n"
        "main()\n"
    )
    proc = _run(code)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "Traceback" not in proc.stderr and "SECRET-WORDS" not in proc.stderr + proc.stdout
    assert "VOICENOTES_DEBUG=1" in lines[0]


def test_voicenotes_error_and_ctrl_c_map_to_their_exit_codes():
    for exc, code in (("ModelError('The x model is missing.', hint='Run: y.')", 4),
                      ("KeyboardInterrupt()", 130)):
        src = (
            "from voicenotes.cli import app, main\n"
            "from voicenotes.errors import ModelError\n"
            "@app.command('boom')\n"
            "def boom():\n"
            "    'Fails on purpose.'\n"
            f"    raise {exc}\n"
            "import sys; sys.argv = ['voicenotes', 'boom']\n"
            "main()\n"
        )
        proc = _run(src)
        assert proc.returncode == code, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_every_subpackage_is_listed_in_pyproject():
    # The package-dir mapping for models/ needs an explicit package list; a subpackage missing
    # from it would work in the editable install and vanish from the built wheel.
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(d.relative_to(REPO).parts)
        for d in [REPO / "voicenotes", *(REPO / "voicenotes").rglob("*")]
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert config["package-dir"]["voicenotes._registry"] == "models"
