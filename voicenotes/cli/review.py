"""``voicenotes review``: the local review workstation for one session folder."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from voicenotes.cli.options import TEMPLATES


def review(
    session_dir: Path = typer.Argument(..., metavar="SESSION_DIR", show_default=False,
                                       help="The session folder `voicenotes note` wrote."),
    port: int = typer.Option(0, "--port", metavar="N",
                             help="Port on 127.0.0.1 to listen on. Default: a free one."),
    no_browser: bool = typer.Option(False, "--no-browser",
                                    help="Print the address instead of opening a browser."),
    template: str | None = typer.Option(None, "--template", "-t", metavar=TEMPLATES,
                                        help="Note layout for the preview and the signed note. "
                                        "Default: the draft's."),
    idle_minutes: float = typer.Option(
        5.0, "--idle-minutes", metavar="MIN",
        help="Stop this many minutes after the review page was closed."),
) -> None:
    """Review a draft in your browser and sign the note: accept, edit or reject each item, set
    the risk level, see the note as it will be signed. Every decision is saved to the session
    folder as you make it. Runs on this computer only (127.0.0.1); Ctrl-C stops it."""
    from voicenotes.errors import UsageError
    from voicenotes.review.app import ReviewApp, ReviewServer

    if not session_dir.is_dir():
        raise UsageError(f"{session_dir} is not a folder.",
                         hint="Give the session folder `voicenotes note` wrote.")
    if not 0 <= port <= 65535:
        raise UsageError("--port must be between 1 and 65535 (or 0 for a free one).")
    app = ReviewApp(session_dir, template=template, idle_stop_s=max(30.0, idle_minutes * 60))
    try:
        server = ReviewServer(app, port).start()
    except OSError as exc:
        raise UsageError(f"Could not listen on 127.0.0.1 port {port}: {exc.strerror or exc}.",
                         hint="Choose another --port, or leave it out for a free one.") from None
    typer.echo(f"Review page: {server.url}", err=False)
    typer.echo("Decisions are saved as you make them. Press Ctrl-C to stop.", err=True)
    if not no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        while not server.idle():
            time.sleep(0.5)
        typer.echo("The review page was closed; stopped. Your decisions are saved.", err=True)
    except KeyboardInterrupt:
        typer.echo("Stopped. Your decisions are saved.", err=True)
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    app.command("review", no_args_is_help=True)(review)
