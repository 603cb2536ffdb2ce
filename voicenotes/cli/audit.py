"""``voicenotes audit verify PATH``: check session audit logs are whole, in order and signed here."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from voicenotes.errors import InputError, IntegrityError, VoicenotesError


def _audit_folders(root: Path) -> list[Path]:
    """``root`` itself when it holds an audit log, else every folder under it that does (links
    are not followed)."""
    from voicenotes.store.audit import AUDIT_FILE

    if os.path.lexists(root / AUDIT_FILE):
        return [root]
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        if AUDIT_FILE in filenames:
            found.append(Path(dirpath))
    return found


def verify_cmd(
    path: Path = typer.Argument(..., help="A session folder, or a folder of many sessions.",
                                show_default=False),
) -> None:
    """Check each session's audit.jsonl: every entry in order, none removed, added or changed,
    each signed with this computer's audit key, and the notes' record of the log's end present.

    Prints one line per session folder. Exit code 0 when all are intact; 10 (with the first bad
    line of each damaged log) when not.
    """
    from voicenotes.store.audit import check_folder
    from voicenotes.store.audit_key import load_key

    if not path.is_dir():
        raise InputError(f"{path} is not a folder.", hint="Give a session folder or a folder of "
                         "sessions.")
    folders = _audit_folders(path)
    if not folders:
        raise InputError(f"No audit log (audit.jsonl) was found in {path}.",
                         hint="Give a folder that voicenotes note or review wrote.")
    key = load_key(create=False)
    bad = unchecked = 0
    for folder in folders:
        try:
            res = check_folder(folder, key)
        except (OSError, VoicenotesError) as exc:  # a link in the log's place, unreadable file
            bad += 1
            why = exc.message if isinstance(exc, VoicenotesError) else (exc.strerror or str(exc))
            typer.echo(f"DAMAGED     {folder}: the log cannot be checked: {why}")
            continue
        if res.ok:
            torn = f"; {res.torn} cut-off line(s) set aside" if res.torn else ""
            typer.echo(f"intact      {folder} ({res.lines} entries{torn})")
        else:
            bad += 1
            unchecked += res.no_key
            typer.echo(f"{'NOT CHECKED' if res.no_key else 'DAMAGED    '} {folder}: {res.reason}")
    if bad and bad == unchecked:
        raise IntegrityError(f"{bad} audit log(s) could not be checked: this computer has no "
                             "audit key.", hint="Check them on the computer that wrote them, or "
                             "restore its audit.key from a backup.")
    if bad:
        raise IntegrityError(f"{bad} of {len(folders)} audit log(s) failed the check.",
                             hint="Keep the folder as it is and tell whoever looks after records.")


def register(app: typer.Typer) -> None:
    sub = typer.Typer(name="audit", help="Check session audit logs (audit.jsonl).",
                      no_args_is_help=True)
    sub.command("verify")(verify_cmd)
    app.add_typer(sub, name="audit")
