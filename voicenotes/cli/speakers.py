"""``voicenotes enroll``: keep an embedding of the counselor's own voice, so that in session
recordings the matching speaker is labelled ``counselor``.
Top-level imports stay light (typer and the stdlib).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from voicenotes.cli.options import DeviceOption


def _ask_consent() -> str:
    """Ask the counselor on the terminal; a no or no answer raises ConsentError."""
    from voicenotes.errors import ConsentError

    typer.echo("voicenotes will keep a voice profile of YOU (192 numbers describing your voice, "
               "not audio) on this computer, to label you as the counselor in session "
               "recordings. You can remove it any time with: voicenotes enroll --forget",
               err=True)
    if not sys.stdin.isatty():
        raise ConsentError("Enrolling your voice needs your consent, and there is no terminal "
                           "to ask on.", hint="Run it again with --yes to give consent.")
    try:
        answer = input("Do you agree? [y/N] ").strip().lower()
    except EOFError:
        answer = ""
    if answer not in ("y", "yes"):
        raise ConsentError("Consent was not given: no voice profile was stored.")
    return "prompt"


def _record(seconds: float, device: str | None):
    """Capture ``seconds`` of the microphone as 16-kHz mono float32 (kept in memory only)."""
    import numpy as np

    from voicenotes.errors import DeviceError
    from voicenotes.record import choose_device, import_sounddevice, pick_format

    sd = import_sounddevice()
    dev = choose_device(device, sd)
    rate, channels = pick_format(sd, dev)
    typer.echo(f"Recording {seconds:.0f} s from '{dev['name']}'. Speak normally, on your own "
               "(read something aloud, or describe your day)…", err=True)
    try:
        # 16-bit, as the recorder captures (pick_format checked it): some ALSA devices hand
        # raw 16-bit bytes to a float32 request (seen with the file plugin: NaN samples)
        data = sd.rec(int(seconds * rate), samplerate=rate, channels=channels, dtype="int16",
                      device=dev["index"])
        sd.wait()
    except Exception:
        raise DeviceError("Recording from the microphone failed.",
                          hint="Check the microphone with `voicenotes devices`, or enroll from a "
                          "file: voicenotes enroll FILE") from None
    wav = (np.asarray(data, dtype=np.float32) / 32768.0).mean(axis=1)
    if not len(wav) or not np.isfinite(wav).all():
        raise DeviceError("The microphone delivered no usable sound.",
                          hint="Check it with `voicenotes devices`, or enroll from a file: "
                          "voicenotes enroll FILE")
    if rate != 16000:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(16000, rate)
        wav = resample_poly(wav, 16000 // g, rate // g).astype(np.float32)
    return wav, dev["name"]


def enroll(
    file: Path | None = typer.Argument(
        None, metavar="[FILE]", show_default=False,
        help="A recording of you alone (at least 5 s of speech; 20-30 s is better). Without "
        "FILE, records from the microphone for --seconds."),
    seconds: float = typer.Option(
        30.0, "--seconds", min=5.0, max=300.0, metavar="N",
        help="How long to record from the microphone when no FILE is given."),
    device: DeviceOption = None,
    yes: bool = typer.Option(
        False, "--yes", "-y",
        help="You consent to keeping your voice profile on this computer (no question asked)."),
    show: bool = typer.Option(False, "--show", help="Say whether a voice is enrolled, and stop."),
    forget: bool = typer.Option(False, "--forget", help="Delete the enrolled voice profile."),
) -> None:
    """Enroll the counselor's own voice: in session recordings (--speakers) the speaker who
    matches it is labelled counselor. Only a voice profile is kept (mode 0600), never audio.

    Without FILE, it records from the microphone (--device) for --seconds."""
    from voicenotes import speakers as spk

    if forget:
        removed = spk.forget_enrollment()
        typer.echo("Your voice profile was deleted." if removed else "No voice profile was stored.")
        return
    if show:
        rec = spk.read_enrollment_record()
        if rec is None:
            typer.echo("No voice is enrolled. Enroll with: voicenotes enroll FILE")
        else:
            src = rec.get("source") or {}
            typer.echo(f"A counselor voice is enrolled ({spk.enrollment_path()}), made "
                       f"{rec.get('created_at')} from {src.get('speech_s')} s of speech "
                       f"({src.get('kind', 'file')}).")
        return
    if file is not None and not file.exists():
        from voicenotes.errors import InputError

        raise InputError(f"{file} does not exist.", hint="Check the path of the recording.")
    spk._require()  # exit 9 with the install command before asking anything
    how = "flag --yes" if yes else _ask_consent()
    if file is not None:
        rec = spk.enroll_file(file, consent_how=how)
    else:
        wav, name = _record(seconds, device)
        rec = spk.enroll_audio(wav, {"device": name}, consent_how=how, what="microphone")
    typer.echo(f"Enrolled your voice from {rec['source']['speech_s']} s of speech. Saved to "
               f"{rec['path']} (readable only by you).")
    typer.echo("In session recordings (--speakers), the speaker who matches it is labelled "
               "counselor.")


def register(app: typer.Typer) -> None:
    app.command("enroll")(enroll)
