"""``voicenotes export``: the note of a session folder as DOCX, PDF, plain text or Markdown."""

from __future__ import annotations

from pathlib import Path

import typer


def export(
    session_dir: Path = typer.Argument(..., metavar="SESSION_DIR", show_default=False,
                                       help="The session folder `voicenotes note` wrote."),
    formats: str = typer.Option("docx,pdf,txt", "--format", "-f", metavar="docx,pdf,txt,md",
                                help="Comma-separated formats to write."),
) -> None:
    """Write the note for a record system: DOCX, PDF, plain text to paste (no Markdown, no
    hashes), Markdown. The signed note when there is one, else the draft marked DRAFT."""
    from voicenotes.errors import UsageError
    from voicenotes.note.export import parse_formats
    from voicenotes.review.sign import export_session

    fmts = parse_formats(formats)
    if not session_dir.is_dir():
        raise UsageError(f"{session_dir} is not a folder.",
                         hint="Give the session folder `voicenotes note` wrote.")
    kind, paths = export_session(session_dir, fmts)
    if kind == "draft":
        typer.echo("The note is not signed yet: these are the draft, marked DRAFT. Sign it in "
                   f"voicenotes review {session_dir}", err=True)
    for fmt in fmts:
        typer.echo(str(paths[fmt]))


def register(app: typer.Typer) -> None:
    app.command("export", no_args_is_help=True)(export)
