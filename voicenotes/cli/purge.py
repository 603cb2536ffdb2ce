"""``voicenotes purge ROOT``: delete the session folders whose retention is over."""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def purge(
    root: Path = typer.Argument(..., metavar="ROOT", show_default=False,
                                help="A folder of session folders (or one session folder)."),
    older_than: float | None = typer.Option(None, "--older-than", metavar="DAYS", min=0,
                                            help="Also delete sessions older than this many days."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be deleted."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before deleting."),
) -> None:
    """Delete the session folders whose consented retention period is over (consent.json), or
    that are older than --older-than DAYS. Lists them first and asks unless --yes; records what
    was deleted (folder names, ages, sizes, never session words) in the audit log at ROOT.
    Deleting does not wipe the disk: see the privacy notes in the documentation."""
    from voicenotes.errors import InputError, UsageError
    from voicenotes.record.retention import delete_folder, plan
    from voicenotes.store.audit import append_audit
    from voicenotes.store.seal import is_session_folder

    if not root.is_dir() or root.is_symlink():
        raise InputError(f"{root} is not a folder.", hint="Give the folder holding the sessions.")
    found = plan(root, older_than)
    due = [c for c in found if c.due]
    typer.echo(f"{len(found)} session folder(s) in {root}; {len(due)} due for deletion.")
    for c in found:
        mark = "DELETE" if c.due else "keep  "
        sealed = ", sealed" if c.sealed else ""
        typer.echo(f"  {mark} {c.folder} ({_mb(c.size)}{sealed}): {c.reason}")
    if not due or dry_run:
        if dry_run and due:
            typer.echo("Dry run: nothing was deleted.", err=True)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("purge asks before deleting, and there is no terminal to ask on.",
                             hint="Check the list above, then run again with --yes.")
        if not typer.confirm(f"Delete these {len(due)} session folder(s) for good?", default=False):
            typer.echo("Nothing was deleted.", err=True)
            raise typer.Exit(0)
    log_dir = root.parent if is_session_folder(root) else root
    for c in due:
        delete_folder(c.folder)
        append_audit(log_dir, [{"event": "purge", "folder": c.folder.name,
                                "reason": "retention" if c.reason.startswith("past") else "age",
                                "age_days": round(c.age_days, 1), "bytes": c.size,
                                "sealed": c.sealed}])
        typer.echo(f"Deleted {c.folder}")
    typer.echo(f"{len(due)} session folder(s) deleted; recorded in {log_dir / 'audit.jsonl'}.",
               err=True)


def register(app: typer.Typer) -> None:
    app.command("purge", no_args_is_help=True)(purge)
