"""The Typer app: thin. Each area registers its commands from ``voicenotes/cli/<area>.py``.

Command modules import only typer, the stdlib and light voicenotes modules at top level, so that
``voicenotes --help`` never loads faster-whisper, ctranslate2, spaCy or sounddevice.
Every :class:`~voicenotes.errors.VoicenotesError` becomes one plain line on stderr and its exit
code; an unexpected exception becomes one line too (no traceback, since a traceback could carry
session words) unless ``VOICENOTES_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys

import typer
from typer.core import TyperGroup

from voicenotes import __version__
from voicenotes.errors import Interrupted, VoicenotesError


def _click_exception() -> type[Exception]:
    """Click's base error: newer typer vendors Click, older typer uses the click package."""
    try:
        from typer._click.exceptions import ClickException as vendored

        return vendored
    except ImportError:  # pragma: no cover
        from click import ClickException as plain

        return plain


_ClickException = _click_exception()


class _Group(TyperGroup):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except VoicenotesError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("Stopped. Work that had finished is kept.", err=True)
            raise typer.Exit(Interrupted.exit_code) from None
        except (typer.Exit, typer.Abort, SystemExit, _ClickException):
            raise  # Click's own usage errors (bad option values) print usage and exit 2
        except BrokenPipeError:
            # output piped into e.g. `head`, which closed early: end quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
        except Exception as exc:
            if os.environ.get("VOICENOTES_DEBUG") == "1":
                raise
            typer.echo(
                f"Error: voicenotes hit an unexpected problem ({type(exc).__name__}). "
                "Finished outputs are kept. Run again with VOICENOTES_DEBUG=1 to see details.",
                err=True,
            )
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    name="voicenotes",
    help="Turn a consented counseling recording into a reviewable note draft, entirely on this "
    "computer. Nothing is sent anywhere.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"voicenotes {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Runs before every command: what it writes is readable by this user only."""
    os.umask(0o077)


def _register() -> None:
    from voicenotes.cli.commands import ALL

    for module in ALL:
        module.register(app)
    _unwrap_help(app)


def _unwrap_help(typer_app: typer.Typer) -> None:
    """Join the hard-wrapped lines of docstrings so help re-wraps to the terminal width
    (paragraph breaks are kept)."""
    import inspect
    import re

    def unwrap(text: str | None) -> str | None:
        return re.sub(r"(?<!\n)\n(?!\n)", " ", text) if text else text

    for info in typer_app.registered_commands:
        info.help = unwrap(info.help or inspect.getdoc(info.callback))
    for group in typer_app.registered_groups:
        sub = group.typer_instance
        if sub is None:
            continue
        group.help = unwrap(group.help or sub.info.help)
        _unwrap_help(sub)


_register()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - Ctrl-C outside a command
        typer.echo("Stopped.", err=True)
        sys.exit(Interrupted.exit_code)
