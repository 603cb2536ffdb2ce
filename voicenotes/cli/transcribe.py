"""``voicenotes transcribe``: audio/video files or folders -> transcripts (json, txt, srt, vtt).

Top-level imports stay light (typer and the stdlib): faster-whisper, numpy and PyAV are imported
when the command runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from voicenotes.cli.speakers import COUNSELOR_HELP, SPEAKERS_HELP

DEFAULT_OUT = Path("voicenotes-output")
DEFAULT_FORMATS = "json,txt"


def _mmss(s: float) -> str:
    s = int(max(0.0, s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60:02d}:{s % 60:02d}"


class _Progress:
    """A rich progress bar on a terminal (audio time done / total, speed, ETA); silent otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None
        self._task = None
        self._t0 = 0.0

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.fields[audio]}"), TextColumn("{task.fields[speed]}"),
                TextColumn("{task.fields[eta]}"),
                console=Console(stderr=True), transient=True)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def start(self, label: str, total_s: float) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._t0 = time.monotonic()
        self._task = self._progress.add_task(
            label, total=max(total_s, 0.001), audio=f"00:00 / {_mmss(total_s)}", speed="",
            eta="")

    def update(self, done_s: float, total_s: float) -> None:
        if self._progress is None or self._task is None:
            return
        elapsed = max(time.monotonic() - self._t0, 1e-6)
        speed = done_s / elapsed
        eta = (total_s - done_s) / speed if speed > 0 else 0.0
        self._progress.update(
            self._task, completed=min(done_s, total_s), total=max(total_s, 0.001),
            audio=f"{_mmss(done_s)} / {_mmss(total_s)} audio",
            speed=f"{speed:.0f}x real time" if done_s > 0 else "",
            eta=f"about {_mmss(eta)} left" if done_s > 0 and eta >= 1 else "")

    def note(self, message: str, err: bool = False) -> None:
        if self._progress is not None:
            self._progress.console.print(message, markup=False, highlight=False)
        else:
            typer.echo(message, err=err)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _unique_stem(stem: str, used: set[str]) -> str:
    candidate, n = stem, 2
    while candidate.lower() in used:
        candidate = f"{stem}-{n}"
        n += 1
    used.add(candidate.lower())
    return candidate


def _preflight(out: Path) -> None:
    """Fail before hours of work if the output folder cannot be written."""
    import os
    import tempfile

    from voicenotes.errors import StorageError
    from voicenotes.store import TMP_PREFIX, ensure_private_dir

    ensure_private_dir(out)
    try:
        fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=out)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise StorageError(f"Cannot write into the output folder {out}: "
                           f"{exc.strerror or 'write error'}.",
                           hint="Choose another folder with --out.") from None


def _speakers(bar: _Progress, path: Path, transcript, speakers: str | None,
              counselor: str | None, *, quiet: bool, show_bar: bool):
    """Who speaks (by default ``auto``; unseparated, and said so, without the speaker models),
    with the same progress bar as transcription and the decision in one line."""
    from voicenotes.speakers.auto import NOT_SEPARATED, find_speakers

    if not quiet and not show_bar:
        bar.note(f"{path.name}: separating speakers…", err=True)
    bar.start(f"{path.name}: speakers", transcript.audio.duration_s)
    transcript, decision = find_speakers(transcript, path, speakers, counselor=counselor,
                                         progress=bar.update)
    if not quiet or decision.outcome == NOT_SEPARATED:
        bar.note(f"{path.name}: {decision.line()}", err=True)
    return transcript


def transcribe(
    inputs: list[Path] = typer.Argument(
        ..., metavar="INPUT...", show_default=False,
        help="Audio or video files (wav, flac, mp3, m4a, ogg, opus, mp4, mkv, webm, …) or folders "
        "(every audio/video file inside, in name order)."),
    model: str | None = typer.Option(
        None, "--model", "-m", metavar="NAME|PATH",
        help="Whisper model: base, tiny.en, or a CTranslate2 model folder. "
        "Default: $VOICENOTES_MODEL, else base (tiny.en with --preset low-memory)."),
    out: Path = typer.Option(
        DEFAULT_OUT, "--out", "-o", metavar="DIR",
        help="Folder for the transcripts (created, private to you). One set of files per input, "
        "named after it; an existing transcript of the same name is replaced."),
    formats: str = typer.Option(
        DEFAULT_FORMATS, "--format", "-f", metavar="json,txt,srt,vtt",
        help="Comma-separated output formats. json is the full transcript used by the other "
        "commands; txt is for reading; srt/vtt are subtitles for a media player."),
    preset: str = typer.Option(
        "default", "--preset", metavar="default|fast|low-memory",
        help="default: beam 5, batch 8. fast: greedy decoding (beam 1), ~15-25% faster, slightly "
        "less accurate. low-memory: the small tiny.en model, batch 4."),
    language: str = typer.Option(
        "en", "--language", "-l", metavar="CODE",
        help="Language spoken, e.g. en, es, fr (needs the multilingual base model), or auto to "
        "detect it."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q",
        help="No progress bar and no summary; print only the files written and any problems."),
    speakers: str | None = typer.Option(
        None, "--speakers", metavar="auto|N|channels", help=SPEAKERS_HELP),
    counselor: str | None = typer.Option(
        None, "--counselor", metavar="SPEAKER", help=COUNSELOR_HELP),
) -> None:
    """Transcribe recordings on this computer: each segment with its timing, word timings and
    confidence; doubtful passages are marked 'check audio', never dropped."""
    from voicenotes import audio as vaudio
    from voicenotes.errors import InputError, ModelError, StorageError, UsageError, VoicenotesError
    from voicenotes.transcribe import (
        TranscribeOptions,
        Transcriber,
        describe_flags,
        parse_formats,
        write_outputs,
    )

    fmts = parse_formats(formats)
    options = TranscribeOptions(model=model, preset=preset, language=language)
    if counselor is not None and speakers is None:
        speakers = "auto"
    if speakers is not None:  # a bad spec or a missing extra stops here, before any work
        from voicenotes.speakers import check_available, parse_spec

        parse_spec(speakers)
        check_available(speakers)
    _preflight(out)

    failures: list[tuple[str, VoicenotesError]] = []
    files: list[Path] = []
    for raw in inputs:
        try:
            found = vaudio.find_inputs([raw], outputs_to_skip=[out])
        except InputError as exc:
            failures.append((str(raw), exc))
            typer.echo(f"Skipped: {exc}", err=True)
            continue
        if not found:
            exc = InputError(f"No audio or video files found in {raw}.")
            failures.append((str(raw), exc))
            typer.echo(f"Skipped: {exc.message}", err=True)
        for f in found:
            if f not in files:
                files.append(f)
    if not files:
        first = failures[0][1] if failures else InputError("Nothing to transcribe.")
        raise typer.Exit(first.exit_code)

    transcriber = Transcriber(options)  # the model loads with the first file that is audio
    used: set[str] = set()
    done = 0
    show_bar = not quiet and sys.stderr.isatty()
    with _Progress(show_bar) as bar:
        for i, path in enumerate(files, 1):
            label = path.name if len(files) == 1 else f"{path.name} ({i} of {len(files)})"
            try:
                bar.start(label, 0.0)
                transcript = transcriber.transcribe(path, progress=bar.update)
                transcript = _speakers(bar, path, transcript, speakers, counselor,
                                       quiet=quiet, show_bar=show_bar)
                stem = _unique_stem(path.stem, used)
                written = write_outputs(transcript, out, stem, fmts)
            except (StorageError, ModelError, UsageError):
                raise  # disk full / no model / bad option: every other file would fail too
            except InputError as exc:
                failures.append((str(path), exc))
                bar.note(f"Skipped: {exc}", err=True)
                continue
            except VoicenotesError as exc:
                failures.append((str(path), exc))
                bar.note(f"Skipped {path.name}: {exc}", err=True)
                continue
            except Exception as exc:
                err = VoicenotesError(f"{path.name} could not be transcribed "
                                      f"({type(exc).__name__}).")
                failures.append((str(path), err))
                bar.note(f"Skipped: {err}", err=True)
                continue
            done += 1
            if quiet:
                for w in written:
                    bar.note(str(w))
                for line in describe_flags(transcript):
                    bar.note(f"{path.name}: {line}", err=True)
                continue
            n_words = sum(len(s.words) or len(s.text.split()) for s in transcript.segments)
            bar.note(f"{path.name}: {_mmss(transcript.audio.duration_s)} of audio, "
                     f"{_plural(len(transcript.segments), 'segment')}, {_plural(n_words, 'word')} -> "
                     + ", ".join(w.name for w in written))
            for line in describe_flags(transcript):
                bar.note(f"  {line}")
    if not quiet and (done or len(failures) > 1):
        where = out.resolve()
        if failures:
            typer.echo(f"Transcribed {done} of {done + len(failures)} inputs into {where}; "
                       f"{len(failures)} could not be transcribed (see above).", err=True)
        else:
            typer.echo(f"Transcribed {done} file{'s' if done != 1 else ''} into {where}")
    if failures:
        raise typer.Exit(failures[0][1].exit_code)


def register(app: typer.Typer) -> None:
    app.command("transcribe", no_args_is_help=True)(transcribe)
