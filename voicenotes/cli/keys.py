"""``voicenotes keys init | show``: the installation's sealing key."""

from __future__ import annotations

import typer

BACKUP_ADVICE = (
    "A lost key is lost data: every session sealed to it can never be opened again, by anyone, "
    "including you. Back it up now: copy the file {path} to a USB stick kept locked away, or "
    "paste its contents into your organisation's password manager. Anyone holding a copy can "
    "open your sealed sessions, so keep the copy as safe as the sessions themselves."
)


def keys_init() -> None:
    """Make this installation's sealing key (an age X25519 key, readable by you only) and print
    its public part, the recipient that `voicenotes seal` encrypts to."""
    from voicenotes.store.keys import init_identity

    recipient, path = init_identity()
    typer.echo(f"Recipient: {recipient}")
    typer.echo(f"Key file:  {path} (readable by you only)")
    typer.echo(BACKUP_ADVICE.format(path=path), err=True)


def keys_show() -> None:
    """Print this installation's recipient (the public part of the key) and where the key is."""
    from voicenotes.store.keys import identity_path, recipient

    typer.echo(f"Recipient: {recipient()}")
    typer.echo(f"Key file:  {identity_path()}")


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        name="keys",
        help="The sealing key of this installation: `keys init` makes it, `keys show` prints it. "
        "Sealed sessions open only with it (or with their passphrase).",
        no_args_is_help=True,
    )
    sub.command("init")(keys_init)
    sub.command("show")(keys_show)
    app.add_typer(sub, name="keys")
