"""``voicenotes transcribe``: audio/video files or folders -> transcripts (json, txt, srt, vtt).

Top-level imports stay light (typer and the stdlib): faster-whisper, numpy and PyAV are imported
when the command runs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from voicenotes.cli.options import (
    CounselorOption,
    ModelOption,
    OutDir,
    Preset,
    QuietOption,
    SpeakersOption,
)
from voicenotes.cli.progress import AudioProgress, mmss
from voicenotes.errors import InputError, ModelError, StorageError, UsageError, VoicenotesError

DEFAULT_OUT = Path("voicenotes-output")
DEFAULT_FORMATS = "json,txt"


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


def transcribe(
    inputs: list[Path] = typer.Argument(
        ..., metavar="INPUT...", show_default=False,
        help="Audio or video files (wav, flac, mp3, m4a, ogg, opus, mp4, mkv, webm, …) or folders "
        "(every audio/video file inside, in name order)."),
    model: ModelOption = None,
    out: OutDir = DEFAULT_OUT,
    formats: str = typer.Option(
        DEFAULT_FORMATS, "--format", "-f", metavar="json,txt,srt,vtt",
        help="Comma-separated output formats. json is the full transcript used by the other "
        "commands; txt is for reading; srt/vtt are subtitles for a media player."),
    preset: Preset = "default",
    language: str = typer.Option(
        "en", "--language", "-l", metavar="CODE",
        help="Language spoken, e.g. en, es, fr (needs the multilingual base model), or auto to "
        "detect it."),
    quiet: QuietOption = False,
    speakers: SpeakersOption = None,
    counselor: CounselorOption = None,
) -> None:
    """Transcribe recordings on this computer: each segment with its timing, word timings and
    confidence; doubtful passages are marked 'check audio', never dropped.

    One set of files per input, named after it, in the --out folder; an existing transcript of
    the same name is replaced."""
    from voicenotes.transcribe import TranscribeOptions, Transcriber, parse_formats

    fmts = parse_formats(formats)
    options = TranscribeOptions(model=model, preset=preset, language=language)
    if counselor is not None and speakers is None:
        speakers = "auto"
    if speakers is not None:  # a bad spec or a missing extra stops here, before any work
        from voicenotes.speakers import check_available, parse_spec

        parse_spec(speakers)
        check_available(speakers)
    _preflight(out)
    run = _Run(out, fmts, speakers, counselor, quiet)
    files = run.gather(inputs)
    if not files:
        first = run.failures[0][1] if run.failures else InputError("Nothing to transcribe.")
        raise typer.Exit(first.exit_code)
    run.transcriber = Transcriber(options)  # the model loads with the first file that is audio
    with AudioProgress(not quiet and sys.stderr.isatty()) as bar:
        for i, path in enumerate(files, 1):
            label = path.name if len(files) == 1 else f"{path.name} ({i} of {len(files)})"
            run.one(path, label, bar)
    run.finish()


@dataclass
class _Run:
    """One ``transcribe`` command: its settings, the files done and the inputs that failed."""

    out: Path
    fmts: list[str]
    speakers: str | None
    counselor: str | None
    quiet: bool
    transcriber: Any = None
    done: int = 0
    used: set[str] = field(default_factory=set)
    failures: list[tuple[str, VoicenotesError]] = field(default_factory=list)

    def gather(self, inputs: list[Path]) -> list[Path]:
        """The audio files named by ``inputs`` (folders expanded); unusable inputs are skipped."""
        from voicenotes import audio as vaudio

        files: list[Path] = []
        for raw in inputs:
            try:
                found = vaudio.find_inputs([raw], outputs_to_skip=[self.out])
            except InputError as exc:
                self.failures.append((str(raw), exc))
                typer.echo(f"Skipped: {exc}", err=True)
                continue
            if not found:
                empty = InputError(f"No audio or video files found in {raw}.")
                self.failures.append((str(raw), empty))
                typer.echo(f"Skipped: {empty.message}", err=True)
            for f in found:
                if f not in files:
                    files.append(f)
        return files

    def one(self, path: Path, label: str, bar: AudioProgress) -> None:
        """Transcribe one file and report it; a failure that only concerns this file is noted
        and skipped, one that would hit every file (disk, model, option) stops the command."""
        try:
            transcript, written = self._convert(path, label, bar)
        except (StorageError, ModelError, UsageError):
            raise  # disk full / no model / bad option: every other file would fail too
        except InputError as exc:
            self._skip(path, exc, f"Skipped: {exc}", bar)
            return
        except VoicenotesError as exc:
            self._skip(path, exc, f"Skipped {path.name}: {exc}", bar)
            return
        except Exception as exc:
            err = VoicenotesError(f"{path.name} could not be transcribed ({type(exc).__name__}).")
            self._skip(path, err, f"Skipped: {err}", bar)
            return
        self.done += 1
        self._report(path, transcript, written, bar)

    def _convert(self, path: Path, label: str, bar: AudioProgress) -> tuple[Any, list[Path]]:
        from voicenotes.transcribe import write_outputs

        bar.start(label, 0.0)
        transcript = self.transcriber.transcribe(path, progress=bar.update)
        transcript = self._speakers(path, transcript, bar)
        stem = _unique_stem(path.stem, self.used)
        return transcript, write_outputs(transcript, self.out, stem, self.fmts)

    def _speakers(self, path: Path, transcript: Any, bar: AudioProgress) -> Any:
        """Who speaks (by default ``auto``; unseparated, and said so, without the speaker
        models), with the same progress bar as transcription and the decision in one line."""
        from voicenotes.speakers.auto import NOT_SEPARATED, find_speakers

        if not self.quiet and bar._progress is None:
            bar.note(f"{path.name}: separating speakers…", err=True)
        bar.start(f"{path.name}: speakers", transcript.audio.duration_s)
        transcript, decision = find_speakers(transcript, path, self.speakers,
                                             counselor=self.counselor, progress=bar.update)
        if not self.quiet or decision.outcome == NOT_SEPARATED:
            bar.note(f"{path.name}: {decision.line()}", err=True)
        return transcript

    def _skip(self, path: Path, exc: VoicenotesError, line: str, bar: AudioProgress) -> None:
        self.failures.append((str(path), exc))
        bar.note(line, err=True)

    def _report(self, path: Path, transcript: Any, written: list[Path], bar: AudioProgress) -> None:
        from voicenotes.transcribe import describe_flags

        if self.quiet:
            for w in written:
                bar.note(str(w))
            for line in describe_flags(transcript):
                bar.note(f"{path.name}: {line}", err=True)
            return
        n_words = sum(len(s.words) or len(s.text.split()) for s in transcript.segments)
        bar.note(f"{path.name}: {mmss(transcript.audio.duration_s)} of audio, "
                 f"{_plural(len(transcript.segments), 'segment')}, {_plural(n_words, 'word')} -> "
                 + ", ".join(w.name for w in written))
        for line in describe_flags(transcript):
            bar.note(f"  {line}")

    def finish(self) -> None:
        """The closing summary; exits with the first failure's code when any input failed."""
        done, failures = self.done, self.failures
        if not self.quiet and (done or len(failures) > 1):
            where = self.out.resolve()
            if failures:
                typer.echo(f"Transcribed {done} of {done + len(failures)} inputs into {where}; "
                           f"{len(failures)} could not be transcribed (see above).", err=True)
            else:
                typer.echo(f"Transcribed {done} file{'s' if done != 1 else ''} into {where}")
        if failures:
            raise typer.Exit(failures[0][1].exit_code)


def register(app: typer.Typer) -> None:
    app.command("transcribe", no_args_is_help=True)(transcribe)
