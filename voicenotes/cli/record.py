"""CLI: ``voicenotes record``, ``voicenotes recover`` and ``voicenotes devices``.

Top-level imports stay light: sounddevice and numpy are imported inside the commands (through
``voicenotes.record.import_sounddevice``).
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from voicenotes.cli.options import DeviceOption, MaybeOutDir, ModelOption
from voicenotes.errors import ConsentError, DeviceError, StorageError, UsageError

DEFAULT_OUT = "~/voicenotes/recordings"


def _default_out() -> Path:
    return Path(os.environ.get("VOICENOTES_RECORDINGS") or DEFAULT_OUT).expanduser()


def _say(msg: str = "") -> None:
    typer.echo(msg, err=True)


def _report_recovered(out: Path) -> None:
    from voicenotes.record import recover

    for rep in recover(out):
        _say(rep.message())


def record(
    out: MaybeOutDir = None,
    device: DeviceOption = None,
    max_minutes: float = typer.Option(
        120.0, "--max-minutes", min=0.01, help="Stop automatically after this many minutes "
        "of recorded audio (the disk must have room for it)."),
    dictation: bool = typer.Option(
        False, "--dictation", help="Record only yourself (a post-session dictation); "
        "no client may be present."),
    consent_file: Path | None = typer.Option(
        None, "--consent-file", help="JSON consent record (keys: parties, scope, method, "
        "retention_days, form_version) instead of the questions."),
    consent_parties: str | None = typer.Option(
        None, "--consent-parties", help="Roles of everyone present who consented, e.g. "
        "counselor,client (roles: counselor, client, family, supervisor, interpreter, other)."),
    consent_scope: str | None = typer.Option(
        None, "--consent-scope", help="What they agreed to, comma-separated, from: recording "
        "(required), transcription, ai_drafting, supervision."),
    consent_method: str | None = typer.Option(
        None, "--consent-method", help="How consent was given: verbal, written or e-sign."),
    retention_days: int | None = typer.Option(
        None, "--retention-days", help="Days the recording may be kept (default 30 with the "
        "consent options)."),
    consent_form_version: str | None = typer.Option(
        None, "--consent-form-version", help="Version of the signed consent form, if any."),
    then: str | None = typer.Option(
        None, "--then", help="After recording: `note` drafts a note from it."),
    model: ModelOption = None,
    seal: bool = typer.Option(
        False, "--seal", help="Seal the recording's folder when the recording ends (after "
        "--then note, if given): every file, audio included, encrypted to this installation's "
        "key; see voicenotes seal. While recording, the audio is written in the clear so that "
        "a crash loses nothing: after a crash, run voicenotes recover, then voicenotes seal."),
    max_seconds: float | None = typer.Option(None, "--max-seconds", hidden=True),
    rollover_seconds: float = typer.Option(600.0, "--rollover-seconds", hidden=True, min=0.5),
) -> None:
    """Record a consented session (or a dictation) from the microphone, crash-safely.

    Consent is asked first (or taken from --consent-file / the consent options); nothing is
    recorded without it. While recording: Enter or Ctrl-C stops, p pauses and resumes
    (paused stretches are not recorded). Audio is saved every second.

    Each recording gets its own sub-folder of --out, else of $VOICENOTES_RECORDINGS, else of
    ~/voicenotes/recordings. --model is the model for --then note.
    """
    from voicenotes import record as rec
    from voicenotes.record import consent as cons

    if then not in (None, "note"):
        raise UsageError(f"--then accepts only 'note', not '{then}'.")
    flags_given = any(v is not None for v in (consent_parties, consent_scope, consent_method,
                                              retention_days, consent_form_version))
    if consent_file is not None and flags_given:
        raise UsageError("Use either --consent-file or the --consent-… options, not both.")
    out_dir = (out or _default_out()).expanduser()
    limit = max_seconds if max_seconds is not None else max_minutes * 60.0

    # 1. finish any interrupted recording first (never lose audio)
    if out_dir.is_dir():
        _report_recovered(out_dir)

    # 2. pre-flight: the sealing key, storage and device, before asking anyone anything
    if seal:
        from voicenotes.store.keys import load_identity

        load_identity()
    rec.check_storage(out_dir, limit, rec.DEFAULT_SAMPLE_RATE * rec.SAMPLE_WIDTH)
    sd = rec.import_sounddevice()
    dev = rec.choose_device(device, sd)
    rate, channels = rec.pick_format(sd, dev)
    if rate * channels != rec.DEFAULT_SAMPLE_RATE:
        rec.check_storage(out_dir, limit, rate * channels * rec.SAMPLE_WIDTH)

    # 3. consent (nothing is written before this succeeds)
    if consent_file is not None:
        record_ = cons.consent_from_file(consent_file, dictation=dictation)
    elif flags_given:
        record_ = cons.consent_from_flags(
            parties=consent_parties, scope=consent_scope, method=consent_method,
            retention_days=retention_days, form_version=consent_form_version,
            dictation=dictation)
    else:
        record_ = cons.prompt_consent(dictation=dictation)
    if then == "note" and not record_.covers("transcription"):
        raise ConsentError("The consent does not cover transcription, so --then note cannot run. "
                           "Nothing was recorded.",
                           hint="Leave out --then note, or record consent that includes "
                                "transcription.")
    note_ok = True
    if then == "note":
        try:
            import voicenotes.pipeline  # noqa: F401
        except ImportError:
            note_ok = False
            _say("Note: the note step is not available in this installation; the recording "
                 "will be kept and you can draft a note later with `voicenotes note`.")

    # 4. session folder, consent.json, then capture
    folder = rec.new_session_folder(out_dir)
    cons.save_consent(record_, folder)
    _say(f"Consent recorded ({record_.mode}). Recording into {folder}")
    _say(f"Input: {dev['name']} at {rate} Hz. Enter or Ctrl-C stops, p pauses/resumes. "
         f"Limit: {rec.fmt_duration(limit)}.")
    opts = rec.RecordOptions(out=out_dir, device=device, max_seconds=limit,
                             rollover_seconds=rollover_seconds)
    result = rec.Recorder(folder, opts, sd=sd, device=dev, mode=record_.mode).run(rate, channels)

    _finish(result, folder, note=then == "note" and note_ok, model=model, seal=seal)


def _finish(result, folder: Path, *, note: bool, model: str | None, seal: bool) -> None:
    """Report the recording, draft the note when asked, then seal the folder when asked (also
    when the note step failed or was interrupted, but not when the disk is full)."""
    try:
        whole = _report_result(result, folder)
        if note and whole is not None:
            _then_note(folder, whole, model)
    except StorageError:
        if seal:  # sealing needs room on the same disk: say what is left to do
            _say(f"The folder {folder} was not sealed. Once there is room, run: "
                 f"voicenotes seal {folder}")
        raise
    except BaseException:
        if seal:
            _seal_recording(folder)
        raise
    if seal:
        _seal_recording(folder)


def _seal_recording(folder: Path) -> None:
    """Seal the finished recording's folder (its WAV files are complete by now)."""
    from voicenotes.store.seal import seal_folder

    report = seal_folder(folder)
    _say(f"Sealed {len(report.done)} file(s) in {folder}, audio included: voicenotes review and "
         "export open them; voicenotes unseal decrypts them.")


def _report_result(result, folder: Path) -> Path | None:
    """Say how the recording ended and what was saved; returns the one file to draft a note from
    (the parts joined when it rolled over). Raises when the disk or the device failed."""
    from voicenotes import record as rec

    why = {"time limit reached": "the time limit was reached",
           "stopped by you": "you stopped it", "stopped by Ctrl-C": "you pressed Ctrl-C",
           "stop signal": "a stop signal was received",
           "input closed": "the input was closed"}.get(result.stop_reason, result.stop_reason)
    _say(f"Recording finished ({why}): {rec.fmt_duration(result.duration_s)} "
         f"({result.duration_s:.1f} s) saved in {folder}")
    for f in result.files:
        typer.echo(str(f))
    whole = result.files[0] if len(result.files) == 1 else None
    if len(result.files) > 1:
        # one file for the whole session (parts kept): what `voicenotes note` should be given
        try:
            whole = rec.combine_wavs(result.files, folder / rec.COMBINED_NAME)
            _say(f"The {len(result.files)} parts were joined (losslessly) into {whole.name}; "
                 "draft the note from that file.")
            typer.echo(str(whole))
        except StorageError as exc:
            _say(f"Warning: {exc} The parts are kept.")
    if result.paused:
        off = sum(p["end_s"] - p["start_s"] for p in result.paused)
        _say(f"Paused {len(result.paused)} time(s); {off:.1f} s off-record (not recorded).")
    if result.overflows:
        _say(f"Warning: the computer could not keep up {result.overflows} time(s); small gaps "
             "may be in the audio (listed in recording.json).")
    if result.storage_error:
        raise StorageError(result.storage_error)
    if result.device_error:
        kept = (f"The {result.duration_s:.1f} s recorded until then are saved in {folder}."
                if result.duration_s > 0 else "Nothing was recorded.")
        raise DeviceError(f"{result.device_error} {kept}",
                          hint="Check the microphone, then run `voicenotes devices`.")
    return whole


def _then_note(folder: Path, audio: Path, model: str | None) -> None:
    """Draft a note in the recording folder from the whole recording (``session-all.wav`` when
    it rolled over into several parts)."""
    from voicenotes import pipeline

    _say(f"Drafting a note from {audio.name} …")
    result = pipeline.run_note(audio, folder, pipeline.NoteOptions(model=model))
    line = (result.summary.get("speakers") or {}).get("line")
    if line:
        _say(line)
    for key in ("note.md", "review.html"):
        p = result.paths.get(key)
        if p:
            typer.echo(str(p))


def recover_cmd(
    folder: Path | None = typer.Argument(
        None, help="Recordings folder (or one recording's folder). Default: "
        "$VOICENOTES_RECORDINGS or ~/voicenotes/recordings."),
) -> None:
    """Repair recordings that were interrupted (crash, kill, power cut). Keeps every byte."""
    from voicenotes import record as rec

    root = (folder or _default_out()).expanduser()
    if not root.exists():
        raise StorageError(f"The folder {root} does not exist.",
                           hint="Give the folder that holds your recordings.")
    reports = rec.recover(root)
    if not reports:
        _say(f"No interrupted recordings in {root}; nothing to repair.")
        return
    for r in reports:
        typer.echo(r.message())


def devices() -> None:
    """List the sound input devices (the default is marked with *)."""
    from voicenotes import record as rec

    devs = rec.list_input_devices()
    if not devs:
        raise DeviceError("No microphone or other sound input was found.",
                          hint="Connect a microphone and run `voicenotes devices` again.")
    for d in devs:
        mark = "*" if d["default"] else " "
        rate = int(d["default_samplerate"] or 0)
        typer.echo(f"{mark} {d['index']:>3}  {d['name']}  ({d['hostapi']}, {d['channels']} ch, "
                   f"{rate} Hz)")
    typer.echo("(* = default input; choose another with `voicenotes record --device NUMBER`)")


def register(app: typer.Typer) -> None:
    app.command("record")(record)
    app.command("recover")(recover_cmd)
    app.command("devices")(devices)

