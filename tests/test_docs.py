"""Docs cannot drift from the CLI: every command has help text and is shown in README.md."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from voicenotes.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        path = prefix + (name,)
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path)
        else:
            yield path, cmd


def test_every_command_has_help_and_is_in_the_readme():
    group = typer.main.get_command(app)
    found = list(_commands(group))
    assert len(found) >= 12, [p for p, _ in found]
    for path, cmd in found:
        assert (cmd.help or "").strip(), f"{' '.join(path)} has no help text"
        usage = "voicenotes " + " ".join(path)
        assert re.search(re.escape(usage) + r"\b", README), f"README never shows `{usage}`"


def test_readme_holds_the_two_setup_commands_and_ci_runs_one():
    assert "scripts/demo" in README and "scripts/test" in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "scripts/test" in ci
