"""``voicenotes seal PATH`` / ``voicenotes unseal PATH``: encryption at rest of session folders."""

from __future__ import annotations

from pathlib import Path

import typer

_PATH_HELP = "A session folder, or a folder holding many (every session folder below it)."
_PASS_HELP = ("Use a passphrase (asked for, or taken from VOICENOTES_PASSPHRASE) instead of this "
              "installation's key.")


def _folders(path: Path) -> list[Path]:
    from voicenotes.errors import InputError
    from voicenotes.store.seal import session_folders

    if not path.is_dir() or path.is_symlink():
        raise InputError(f"{path} is not a folder.",
                         hint="Give a session folder, or a folder holding session folders.")
    found = session_folders(path)
    if not found:
        raise InputError(f"No session folder found in {path}.",
                         hint="Give the folder `voicenotes note` or `voicenotes record` wrote.")
    return found


def _passphrase(confirm: bool) -> str:
    import os

    from voicenotes.store.seal import ENV_PASSPHRASE

    return os.environ.get(ENV_PASSPHRASE) or typer.prompt(
        "Passphrase", hide_input=True, confirmation_prompt=confirm)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def seal(
    path: Path = typer.Argument(..., metavar="PATH", show_default=False, help=_PATH_HELP),
    passphrase: bool = typer.Option(False, "--passphrase", help=_PASS_HELP),
) -> None:
    """Encrypt every file of a session folder (audio included) as NAME.age, readable only with
    this installation's key (`voicenotes keys init`) or the passphrase. Each original is removed
    only after its sealed copy was checked. review, export and note --from-review still work on
    a sealed folder, decrypting in memory only. audit.jsonl and consent.json stay readable: they
    hold no session words."""
    from voicenotes.record.journal import being_recorded
    from voicenotes.store.seal import seal_folder

    folders = _folders(path)
    secret = _passphrase(confirm=True) if passphrase else None
    total, count = 0, 0
    for folder in folders:
        if being_recorded(folder):
            typer.echo(f"Not sealed: {folder} is being recorded right now. Seal it when the "
                       "recording is done.", err=True)
            continue
        report = seal_folder(folder, passphrase=secret)
        total, count = total + report.bytes, count + 1
        typer.echo(f"Sealed {len(report.done)} file(s) in {folder}")
        for why in report.skipped:
            typer.echo(f"  not sealed: {why}", err=True)
    typer.echo(f"{count} session folder(s) sealed ({_mb(total)}).", err=True)


def unseal(
    path: Path = typer.Argument(..., metavar="PATH", show_default=False, help=_PATH_HELP),
    passphrase: bool = typer.Option(False, "--passphrase",
                                    help="Ask for the passphrase now (it is asked for anyway when "
                                    "a folder needs one)."),
) -> None:
    """Decrypt a sealed session folder back to its original files (byte for byte)."""
    from voicenotes.store.seal import is_sealed, unseal_folder

    folders = [f for f in _folders(path) if is_sealed(f)]
    secret = _passphrase(confirm=False) if passphrase else None
    for folder in folders:
        report = unseal_folder(folder, passphrase=secret)
        typer.echo(f"Unsealed {len(report.done)} file(s) in {folder}")
        for why in report.skipped:
            typer.echo(f"  not unsealed: {why}", err=True)
    typer.echo(f"{len(folders)} session folder(s) unsealed.", err=True)


def register(app: typer.Typer) -> None:
    app.command("seal", no_args_is_help=True)(seal)
    app.command("unseal", no_args_is_help=True)(unseal)
