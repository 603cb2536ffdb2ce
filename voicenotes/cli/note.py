"""``voicenotes note``: the main job — a recording (or transcript, or items) to a note draft and
a review page; ``--from-review`` renders the final note from the clinician's decisions.

Top-level imports stay light: the pipeline imports faster-whisper and spaCy only when run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from voicenotes.cli.options import (
    CounselorOption,
    MaybeOutDir,
    ModelOption,
    ModeOption,
    Preset,
    QuietOption,
    RulesOption,
    SessionStartOption,
    SpeakersOption,
    TemplateOption,
)
from voicenotes.cli.progress import AudioProgress

STAGE_NAMES = {"transcribe": "Transcribing", "speakers": "Separating speakers",
               "extract": "Finding crisis items", "note": "Writing the draft and review page"}


TIMED_STAGES = ("transcribe", "speakers")


class _StageProgress:
    """One line per stage; the timed stages (transcription, speaker separation) show the shared
    progress bar on a terminal."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = AudioProgress(not quiet and sys.stderr.isatty())
        self.stage: str | None = None
        self.started = False

    def __call__(self, stage: str, done: float, total: float) -> None:
        if self.quiet:
            return
        if stage != self.stage:  # a new stage: its own line; the last stage's bar goes
            self.stage, self.started = stage, False
            self.bar.clear()
            self.bar.note(f"{STAGE_NAMES.get(stage, stage)}…", err=True)
            return
        if stage in TIMED_STAGES and total > 1:
            if not self.started:  # the bar starts once the stage knows its audio length
                self.bar.start(STAGE_NAMES[stage], total)
                self.started = True
            self.bar.update(done, total)

    def __enter__(self) -> _StageProgress:
        self.bar.__enter__()
        return self

    def close(self) -> None:
        self.bar.__exit__(None, None, None)


def note(
    input_path: Path | None = typer.Argument(
        None, metavar="INPUT", show_default=False,
        help="An audio or video file, a transcript.json, or an items.json. With --from-review: "
        "the session folder (optional)."),
    template: TemplateOption = None,
    mode: ModeOption = None,
    session_start: SessionStartOption = None,
    out: MaybeOutDir = None,
    model: ModelOption = None,
    preset: Preset = "default",
    speakers: SpeakersOption = None,
    counselor: CounselorOption = None,
    rules: RulesOption = None,
    from_review: Path | None = typer.Option(
        None, "--from-review", metavar="FILE",
        help="Render the final note from items.reviewed.json exported by review.html, and log "
        "the decisions in the session's audit.jsonl."),
    quiet: QuietOption = False,
    seal: bool = typer.Option(
        False, "--seal", help="Seal the session folder when the run ends (every file encrypted "
        "to this installation's key; see voicenotes seal). A folder already sealed is sealed "
        "again anyway."),
) -> None:
    """Draft a crisis note from a recording: transcribe, find crisis items, write note.md and a
    review page (review.html) in a session folder. Nothing leaves this computer.

    The session folder is --out, else the recording's own session folder, else <name>-note/
    beside the input."""
    from voicenotes.errors import UsageError

    rules = rules or []
    if from_review is not None:
        _finish_review(from_review, input_path, out, template, quiet, seal)
        return
    if input_path is None:
        raise UsageError("Give the recording (or transcript.json / items.json) to draft a note from.",
                         hint="Example: voicenotes note session.flac --out notes/session-1")
    from voicenotes import pipeline

    session = pipeline.check_session(pipeline.NoteOptions(mode=mode, session_start=session_start))
    if seal:  # no key: say so before the long run, not after
        from voicenotes.store.keys import load_identity

        load_identity()
    audio_input = input_path.suffix.lower() != ".json"
    if speakers is not None or (counselor is not None and audio_input):
        # a bad spec or a missing extra stops here, before transcribing
        from voicenotes.speakers import check_available

        check_available(speakers or "auto")
    topts = None
    if model or preset != "default":
        from voicenotes.transcribe import TranscribeOptions

        topts = TranscribeOptions(model=model, preset=preset)
    progress = _StageProgress(quiet).__enter__()
    options = pipeline.NoteOptions(template=template or "crisis", mode=mode,
                                   session_start=session_start, transcribe=topts, model=model,
                                   speakers=speakers, counselor=counselor,
                                   rules_paths=tuple(rules), progress=progress, session=session)
    try:
        result = pipeline.run_note(input_path, out, options)
    finally:
        progress.close()
    for problem in result.summary.get("rebuilt") or ():
        typer.echo(f"Found in {result.out_dir}: {problem}; this run rebuilt it.", err=True)
    if not quiet:
        _print_summary(result)
    sealed = _seal_if(result.out_dir, seal)
    typer.echo(f"Note draft:  {result.note_md}{sealed}")
    typer.echo(f"Review page: {result.review_html}{sealed}")


def _seal_if(folder: Path, asked: bool) -> str:
    """Seal ``folder`` when asked or when it was sealed before this run wrote into it; returns
    the suffix its files now carry."""
    from voicenotes.store.seal import SUFFIX, is_sealed, reseal

    if not (asked or is_sealed(folder)):
        return ""
    report = reseal(folder)
    typer.echo(f"Sealed {len(report.done)} file(s) in {folder}: voicenotes review and export "
               "open them; voicenotes unseal decrypts them.", err=True)
    return SUFFIX


def _print_summary(result) -> None:
    s = result.summary
    echo = lambda m: typer.echo(m, err=True)  # noqa: E731
    if s.get("transcript_reused"):
        echo(f"Reused the transcript already in {result.out_dir} (same audio, model and settings); "
             "delete its transcript.json to transcribe again.")
    if (s.get("speakers") or {}).get("line"):
        echo(s["speakers"]["line"])
    echo(f"Found {s['items']} items ({s['risk_items']} about risk).")
    if s["not_assessed"]:
        echo("Not assessed in the recording: " + ", ".join(t.replace("_", " ") for t in s["not_assessed"]) + ".")
    if s["verify_audio"]:
        echo(f"{s['verify_audio']} passage(s) of doubtful audio are marked 'verify audio' in the draft.")
    for f in s["transcript_flags"]:
        echo(f"Whole-recording warning: {f}.")
    if "followups.ics" in result.paths:
        echo(f"Follow-ups calendar: {result.paths['followups.ics']}")
    if s["unresolved_followups"] and not s["session_start"]:
        echo("Relative times (e.g. 'tomorrow at ten') were not turned into dates because the "
             "session start is unknown. Add --session-start 2026-03-09T14:00 (your session's date "
             "and time) to resolve them.")
    echo("The draft must be reviewed: open the review page in a browser, review every risk item, "
         "export, then run voicenotes note --from-review items.reviewed.json --out "
         f"{result.out_dir}")


def _finish_review(reviewed: Path, input_path: Path | None, out: Path | None,
                   template: str | None, quiet: bool, seal: bool = False) -> None:
    from voicenotes import pipeline
    from voicenotes.errors import InputError

    if not reviewed.is_file():
        raise InputError(f"{reviewed} does not exist.", hint="Export it from review.html first.")
    session = pipeline.find_session_dir(reviewed, out, input_path)
    result = pipeline.finalize_review(reviewed, session, template=template)
    if not quiet:
        d = result.summary["decisions"]
        typer.echo("Review decisions: " + ", ".join(f"{v} {k}" for k, v in sorted(d.items()))
                   + ". Logged in audit.jsonl.", err=True)
    sealed = _seal_if(session, seal)
    typer.echo(f"Final note:  {result.paths['note.reviewed.md']}{sealed}")
    typer.echo(f"Audit log:   {result.paths['audit.jsonl']}")


def register(app: typer.Typer) -> None:
    app.command("note", no_args_is_help=True)(note)
