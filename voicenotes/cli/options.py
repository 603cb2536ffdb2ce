"""Options shared by several commands, declared once so each has one name and one help text.

Each alias is an ``Annotated`` type: a command writes ``model: ModelOption = None``, and the
default stays with the command. Where commands differ only in whether the option may be left
out, one declaration serves two aliases (``OutDir`` and ``MaybeOutDir``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

TEMPLATES = "crisis|soap|dap|birp|safety-plan"

ModelOption = Annotated[str | None, typer.Option(
    "--model", "-m", metavar="NAME|FOLDER",
    help="The speech-to-text (Whisper) model: base, tiny.en, or the folder of a model (see "
    "voicenotes models list). Default: $VOICENOTES_MODEL, else base (tiny.en with --preset "
    "low-memory).")]

_OUT = typer.Option(
    "--out", "-o", metavar="DIR",
    help="Folder to write into. It is created if missing, and only you can read it.")
OutDir = Annotated[Path, _OUT]
MaybeOutDir = Annotated[Path | None, _OUT]

_PRESET = typer.Option(
    "--preset", metavar="default|fast|low-memory",
    help="Speed or accuracy: default (most accurate), fast (about 15-25% faster, slightly less "
    "accurate), or low-memory (the small tiny.en model, for computers short of memory).")
Preset = Annotated[str, _PRESET]
MaybePreset = Annotated[str | None, _PRESET]

QuietOption = Annotated[bool, typer.Option(
    "--quiet", "-q",
    help="Print only the files written and any problems (no progress and no summary).")]

SpeakersOption = Annotated[str | None, typer.Option(
    "--speakers", metavar="auto|N|channels",
    help="Who speaks: auto (the default: by stereo channel if each person is on their own "
    "channel, else by voice, guessing how many people speak; one voice means a dictation, two "
    "or more a session), a number of speakers (e.g. 2), or channels. Without the speaker models "
    "(voicenotes models install) the default goes on unseparated and the draft says so.")]

CounselorOption = Annotated[str | None, typer.Option(
    "--counselor", metavar="SPEAKER",
    help="The speaker label (S1, S2, …) that is the counselor, when the automatic guess is "
    "wrong.")]

ModeOption = Annotated[str | None, typer.Option(
    "--mode", metavar="dictation|session",
    help="dictation (you, speaking about the client afterwards) or session (counselor and "
    "client in the room). Default: what the recording or transcript says, else (for a "
    "recording) what speaker separation found: one voice dictation, two or more session; for a "
    "text file, session when its lines start with 'counselor:' or 'client:'; else dictation.")]

SessionStartOption = Annotated[str | None, typer.Option(
    "--session-start", metavar="WHEN",
    help="When the session started: '2026-03-09 14:00', '2026-03-09T14:00+02:00' (the time zone "
    "is kept) or 'today 14:00'. Times such as 'tomorrow at ten' are turned into dates from it. Default: the time saved with the recording or transcript "
    "(extract: else the input file's time).")]

TemplateOption = Annotated[str | None, typer.Option(
    "--template", "-t", metavar=TEMPLATES,
    help="Note layout: crisis (five crisis stages, the default), soap, dap, birp, or "
    "safety-plan (Stanley-Brown steps in the client's own words); or a .toml file.")]

RulesOption = Annotated[list[Path] | None, typer.Option(
    "--rules", metavar="PATH",
    help="Your site's own rules file (JSON lines) for finding items; can be given more than "
    "once.")]

SemanticOption = Annotated[bool | None, typer.Option(
    "--semantic/--no-semantic",
    help="Also mark sentences close in meaning to example risk statements as possible items "
    "for review. Default: on when the 'semantic' extra is installed (off with --no-semantic "
    "or VOICENOTES_SEMANTIC=0).")]

DeviceOption = Annotated[str | None, typer.Option(
    "--device", "-d", metavar="NUMBER|NAME",
    help="Microphone: its number or part of its name (see voicenotes devices). Default: the "
    "computer's default input.")]
