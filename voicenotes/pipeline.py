"""The only module that chains the stages: audio -> transcript -> items -> note.

:func:`run_note` takes an audio/video file (transcribe, extract, note), a transcript JSON
(extract, note) or an items JSON (note only) and writes one session folder:

``transcript.json`` ``items.json`` ``note.md`` ``note.json`` ``review.html`` ``followups.ics``
(only when a follow-up has a resolved time; RFC 5545 needs at least one event) and
``audio.<ext>`` (a private copy of the input audio that review.html plays, unless the input
already sits in the folder). Each file is written atomically with mode 0600 as soon as its stage
finishes, so a crash or Ctrl-C keeps every finished stage. ``audit.jsonl`` gets one
``draft_created`` event (hashes only).

:func:`finalize_review` is the ``--from-review`` side: it renders ``note.reviewed.md`` /
``note.reviewed.json`` from a clinician's decisions and appends them to the audit log.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicenotes import __version__
from voicenotes.domain import SESSION_START_FORMS, SessionContext, session_context
from voicenotes.errors import InputError, StorageError, UsageError
from voicenotes.schema import RISK_TYPES, ItemSet, Transcript
from voicenotes.store import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    ensure_private_dir,
    fsync_dir,
    sha256_bytes,
    sha256_file,
    sweep_temp_files,
)
from voicenotes.store.audit import audit_head
from voicenotes.store.lock import session_lock
from voicenotes.store.seal import exists as sealed_exists
from voicenotes.store.seal import read_bytes
from voicenotes.store.validate import Invalid, read_json
from voicenotes.store.validate import check as check_json

MODES = ("dictation", "session")
#: Formats Chromium/Firefox play in an <audio> element; others are referenced but may not play.
BROWSER_AUDIO = {".flac", ".wav", ".mp3", ".ogg", ".oga", ".opus", ".webm", ".m4a", ".mp4",
                 ".aac"}
STAGES = ("transcribe", "speakers", "extract", "note")

Progress = Callable[[str, float, float], None]  # (stage, done, total)


@dataclass
class NoteOptions:
    """What ``voicenotes note`` does. ``None`` means "work it out": mode from the consent
    record or the speaker labels, session start from ``--session-start``, the transcript,
    the recording journal or the consent time (in that order)."""

    template: str = "crisis"
    mode: str | None = None
    session_start: str | None = None
    transcribe: Any = None           # voicenotes.transcribe.TranscribeOptions
    model: str | None = None         # shortcut for transcribe.model
    speakers: str | None = None      # speaker spec for voicenotes.speakers.assign_speakers
    counselor: str | None = None     # speaker label forced to be the counselor (--counselor)
    rules_paths: Sequence[Path] = ()
    copy_audio: bool = True          # private copy of the audio beside review.html
    progress: Progress | None = None
    session: SessionContext | None = None  # mode and start, when the caller parsed them already


@dataclass
class NoteResult:
    out_dir: Path
    input_kind: str                  # audio | transcript | items
    paths: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def note_md(self) -> Path:
        return self.paths["note.md"]

    @property
    def review_html(self) -> Path:
        return self.paths["review.html"]


# --------------------------------------------------------------------------- inputs


def _load_json(path: Path, kind: str | None = None) -> Any:
    """A JSON input read strictly and checked against its schema (store.validate)."""
    return read_json(path, kind)


def classify_input(path: Path) -> tuple[str, Any]:
    """('audio', None) | ('transcript', Transcript) | ('items', ItemSet)."""
    if not path.exists():
        raise InputError(f"{path} does not exist.", hint="Check the path and try again.")
    if path.is_dir():
        raise InputError(f"{path} is a folder; voicenotes note takes one file.",
                         hint="Use voicenotes batch for a folder of recordings.")
    if path.suffix.lower() == ".json":
        data = _load_json(path)
        if isinstance(data, dict) and "segments" in data and "audio" in data:
            check_json(data, "transcript", path.name)
            return "transcript", Transcript.from_dict(data)
        if isinstance(data, dict) and "items" in data:
            check_json(data, "items", path.name)
            return "items", ItemSet.from_dict(data)
        raise InputError(f"{path.name} is neither a transcript nor an items file.",
                         hint="Give the transcript.json or items.json that voicenotes wrote.")
    return "audio", None


def _read_json_quiet(path: Path) -> dict[str, Any] | None:
    try:
        d = read_json(path)
        return d if isinstance(d, dict) else None
    except InputError:
        return None


def load_consent_record(folder: Path) -> dict[str, Any] | None:
    """consent.json from ``folder`` (written by ``voicenotes record``), as a dict for the header."""
    path = folder / "consent.json"
    if not path.is_file():
        return None
    try:
        from voicenotes.record.consent import load_consent

        rec = load_consent(folder)
        return rec.to_dict() if rec is not None else None
    except ImportError:  # pragma: no cover - consent module is part of the package
        return _read_json_quiet(path)


def check_session(options: NoteOptions) -> SessionContext:
    """The session context of the options, checked before any work: a start that cannot be
    read stops here with one plain line (exit 2)."""
    if options.session is not None:
        return options.session
    try:
        ctx = session_context(options.mode, options.session_start)
    except ValueError as exc:
        raise UsageError(f"--session-start '{str(options.session_start)[:40]}' cannot be read: "
                         f"{exc}.", hint=f"Use a form such as {SESSION_START_FORMS}.") from None
    if options.mode is not None and options.mode not in MODES:
        raise UsageError(f"Unknown mode '{options.mode}'.",
                         hint="Use --mode dictation or --mode session.")
    return ctx


def _session_start(ctx: SessionContext, folder: Path, transcript: Transcript | None,
                   consent: dict[str, Any] | None) -> tuple[str | None, str]:
    if ctx.start is not None:
        return ctx.start_iso, "option"
    if transcript is not None and transcript.session_start:
        return transcript.session_start, "transcript"
    journal = _read_json_quiet(folder / "recording.json")
    if journal and isinstance(journal.get("started_at"), str) and journal["started_at"]:
        return _local_naive(journal["started_at"]), "recording.json"
    if consent and isinstance(consent.get("consented_at"), str) and consent["consented_at"]:
        return _local_naive(consent["consented_at"]), "consent.json"
    return None, "unknown"


def _local_naive(iso: str) -> str:
    """An aware UTC stamp -> local wall-clock time without zone (how people say "tomorrow at 3")."""
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if dt.tzinfo is not None:
        dt = dt.astimezone().replace(tzinfo=None)
    return dt.replace(microsecond=0).isoformat()


def _mode(options: NoteOptions, transcript: Transcript | None,
          consent: dict[str, Any] | None, found: str | None = None) -> str:
    """--mode, else what the recording's consent declared, else what the speaker stage found,
    else the transcript's own mode, else from its roles, else dictation."""
    if options.mode:
        if options.mode not in MODES:
            raise UsageError(f"Unknown mode '{options.mode}'.", hint="Use --mode dictation or --mode session.")
        return options.mode
    if consent and consent.get("mode") in MODES:
        return consent["mode"]
    if found in MODES:
        return str(found)
    if transcript is not None and transcript.mode in MODES:
        return transcript.mode
    if transcript is not None and any(s.role in ("client", "counselor") and s.role != "unknown"
                                      for s in transcript.segments) \
            and len({s.role for s in transcript.segments}) > 1:
        return "session"
    return "dictation"


# --------------------------------------------------------------------------- stages


def _progress(options: NoteOptions, stage: str, done: float, total: float) -> None:
    if options.progress is not None:
        options.progress(stage, done, total)


def _transcriber(options: NoteOptions, transcriber):
    if transcriber is not None:
        return transcriber
    from voicenotes.transcribe import TranscribeOptions, Transcriber

    topts = options.transcribe or TranscribeOptions()
    if options.model:
        topts = replace(topts, model=options.model)
    return Transcriber(topts)


def _copy_audio(src: Path, out_dir: Path, copy: bool) -> str | None:
    """A private copy of the input audio beside review.html (atomic, 0600); the relative name."""
    try:
        if src.resolve().parent == out_dir.resolve():
            return src.name
    except OSError:
        return None
    if not copy:
        return os.path.relpath(src.resolve(), out_dir.resolve())
    name = "audio" + src.suffix.lower()
    dest = out_dir / name
    try:
        if dest.is_file() and dest.stat().st_size == src.stat().st_size \
                and sha256_file(dest) == sha256_file(src):
            return name
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=out_dir)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                shutil.copyfileobj(inp, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
            fsync_dir(out_dir)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise StorageError(f"Could not copy the audio into {out_dir}: {exc.strerror or exc}.",
                           hint="Free some space or choose another --out folder.") from None
    return name


REUSE_KEYS = ("preset", "beam_size", "batch_size", "language", "compute_type", "vad_parameters",
              "word_timestamps")


def _reusable_transcript(out_dir: Path, audio_sha256: str, transcriber) -> Transcript | None:
    """A transcript.json an earlier (interrupted) run left in ``out_dir`` for the same audio,
    model and decoding settings: reuse it instead of transcribing hours of audio again."""
    data = _read_json_quiet(out_dir / "transcript.json")
    if not data:
        return None
    try:
        check_json(data, "transcript", "transcript.json")
        old = Transcript.from_dict(data)
        opts = transcriber.options
        want_model = opts.model_spec
        if want_model is None:
            from voicenotes.models import default_model_name

            want_model = default_model_name()
        want = opts.settings()
    except Exception:
        return None
    have = old.provenance.settings or {}
    if old.audio.sha256 != audio_sha256 or old.provenance.model_name != want_model \
            or "partial" in old.flags:
        return None
    if any(have.get(k) != want.get(k) for k in REUSE_KEYS):
        return None
    return old


def _find_audio_beside(folder: Path, transcript: Transcript | None) -> Path | None:
    """The session's audio when the input is a JSON file: a regular file in the session folder
    itself, never a path taken from the JSON. ``audio.file_name`` only names a candidate in the
    folder (a bare name: no folder part, no ``..``); candidates must be regular files, not
    symlinks, so a hostile transcript cannot make voicenotes copy or link /etc/shadow or
    ../../etc/passwd. The file with the transcript's SHA-256 comes first; failing that, the file
    the transcript names; an ``audio.*`` of another recording is not used."""
    named = transcript.audio.file_name if transcript is not None else ""
    names = [named] if _bare_name(named) else []
    names += sorted(p.name for p in folder.glob("audio.*") if p.name != named)
    found = [folder / n for n in names
             if not (folder / n).is_symlink() and (folder / n).is_file()]
    if transcript is None:
        return found[0] if found else None
    for cand in found:
        if sha256_file(cand) == transcript.audio.sha256:
            return cand
    return folder / named if names and names[0] == named and folder / named in found else None


def _bare_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name \
        and "\x00" not in name


def _transcript_beside(folder: Path, itemset: ItemSet) -> Transcript | None:
    path = folder / "transcript.json"
    if not sealed_exists(path):
        return None
    data = _read_json_quiet(path)
    if data is None:
        return None
    try:
        check_json(data, "transcript", path.name)
    except Invalid:
        return None  # a damaged transcript beside items.json: no highlights rather than a crash
    audio_sha = data["audio"]["sha256"]
    if itemset.transcript_sha256 and itemset.transcript_sha256 not in (
            sha256_bytes(read_bytes(path)), _transcript_hash(data), audio_sha):
        return None  # a different transcript: better no highlights than wrong ones
    return Transcript.from_dict(data)


def _transcript_hash(data: dict[str, Any]) -> str:
    return sha256_bytes(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def _provenance(input_path: Path, input_sha: str, transcript: Transcript | None,
                itemset: ItemSet, generated_at: str, template: str) -> dict[str, Any]:
    prov: dict[str, Any] = {
        "input_file": input_path.name,
        "input_sha256": input_sha,
        "template": template,
        "rules_version": itemset.rules_version,
        "voicenotes_version": __version__,
        "generated_at": generated_at,
    }
    if transcript is not None:
        tp = transcript.provenance
        prov["audio_sha256"] = transcript.audio.sha256
        prov["audio_duration_s"] = transcript.audio.duration_s
        prov["model"] = tp.model_name
        prov["model_sha256"] = tp.model_sha256
        s = tp.settings or {}
        keys = ("preset", "compute_type", "beam_size", "batch_size", "language", "temperature",
                "vad_parameters", "word_timestamps", "condition_on_previous_text", "cpu_threads")
        prov["decoding"] = {k: s[k] for k in keys if k in s} or None
        prov["transcribed_at"] = tp.created_at
    elif itemset.provenance:
        for k in ("model", "model_name", "model_sha256"):
            if itemset.provenance.get(k):
                prov[k if k != "model_name" else "model"] = itemset.provenance[k]
    return prov


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _check_out_dir(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise StorageError(f"The output {out_dir} exists and is not a folder.",
                           hint="Choose another --out folder.")
    ensure_private_dir(out_dir)
    if not os.access(out_dir, os.W_OK):
        raise StorageError(f"The folder {out_dir} is not writable.", hint="Choose another --out folder.")
    sweep_temp_files(out_dir)
    return out_dir


def _preflight(input_path: Path, out_dir: Path, options: NoteOptions) -> None:
    """Every other input checked before the session folder is made: the consent records of the
    input's and the output's folders, the --rules files and the template. A bad one stops the
    run with nothing written."""
    from voicenotes.extract.rules import read_rule_file
    from voicenotes.note.templates import load_template

    for folder in {input_path.parent, out_dir}:
        if folder.is_dir():
            load_consent_record(folder)
    for p in options.rules_paths:
        read_rule_file(Path(p))
    load_template(options.template)


def _probe_audio(path: Path):
    """A clear AudioError before the session folder is made or a model loaded."""
    from voicenotes.audio import probe

    return probe(path)


def default_out_dir(input_path: Path) -> Path:
    """Where ``voicenotes note`` writes without ``--out``: a recording session folder (it holds
    consent.json or recording.json) or a folder of voicenotes JSON is the session folder itself;
    otherwise ``<stem>-note/`` beside the input."""
    folder = input_path.parent
    if input_path.suffix.lower() == ".json" or (folder / "consent.json").is_file() \
            or (folder / "recording.json").is_file():
        return folder
    return folder / f"{input_path.stem}-note"


def run_note(input_path: Path, out_dir: Path | None, options: NoteOptions | None = None,
             transcriber=None) -> NoteResult:
    """Run the chain on one input and write the session folder. See the module doc."""
    options = options or NoteOptions()
    input_path = Path(input_path)
    ctx = check_session(options)  # a bad --session-start costs nothing
    kind, loaded = classify_input(input_path)
    info = _probe_audio(input_path) if kind == "audio" else None
    out_dir = Path(out_dir) if out_dir else default_out_dir(input_path)
    _preflight(input_path, out_dir, options)
    out_dir = _check_out_dir(out_dir)
    with session_lock(out_dir, "note"):  # one writer per folder: a second run stops at once
        stale = stale_artefacts(out_dir)
        result = _run_note(input_path, out_dir, options, transcriber, kind, loaded, info, ctx)
    result.summary["rebuilt"] = stale  # the mismatches found, now rebuilt by this run
    return result


def _run_note(input_path: Path, out_dir: Path, options: NoteOptions, transcriber, kind: str,
              loaded: Any, info: Any, ctx: SessionContext) -> NoteResult:
    from voicenotes.note.templates import load_template

    template = load_template(options.template)  # fail on a bad template before hours of work
    result = NoteResult(out_dir=out_dir, input_kind=kind)
    timings = result.timings
    folder = input_path.parent
    consent = load_consent_record(folder)
    if consent is None and out_dir != folder:
        consent = load_consent_record(out_dir)
    transcript: Transcript | None = loaded if kind == "transcript" else None
    itemset: ItemSet | None = loaded if kind == "items" else None
    audio_src: Path | None = input_path if kind == "audio" else None

    if kind == "audio":
        assert info is not None
        transcript = _from_audio(input_path, info, out_dir, options, transcriber, result, consent)
    elif options.counselor is not None:
        if kind != "transcript":
            raise UsageError("--counselor needs the recording or its transcript.json, not "
                             "items.json.", hint="Give the recording or transcript.json.")
        from voicenotes.speakers import set_counselor  # roles again, from the labels it has

        assert transcript is not None  # kind == "transcript"
        transcript = set_counselor(transcript, options.counselor)
    if kind == "items":
        assert itemset is not None
        transcript = _transcript_beside(folder, itemset)
    if audio_src is None:
        audio_src = _find_audio_beside(folder, transcript)

    found_mode = result.summary.get("speakers", {}).get("mode")
    mode = itemset.mode if itemset is not None and not options.mode else _mode(
        options, transcript, consent, found_mode)
    session_start, start_source = _session_start(ctx, folder, transcript, consent)
    if itemset is not None and not options.session_start and itemset.session_start:
        session_start, start_source = itemset.session_start, "items"
    if transcript is not None:
        transcript = replace(transcript, mode=mode, session_start=session_start)
        if kind != "items":
            result.paths["transcript.json"] = atomic_write_json(out_dir / "transcript.json",
                                                                transcript.to_dict())
    # what each artefact was made from, checked by stale_artefacts on the next run
    transcript_sha = _transcript_hash(transcript.to_dict()) if transcript is not None else None

    if itemset is None:
        itemset = _extract(transcript, mode, session_start, options, ctx, consent, result)
        itemset = replace(itemset, provenance={**itemset.provenance,
                                               "transcript_sha256": transcript_sha})
    items_bytes = (json.dumps(itemset.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    result.paths["items.json"] = atomic_write_bytes(out_dir / "items.json", items_bytes)
    items_sha = sha256_bytes(items_bytes)

    t0 = time.monotonic()
    _progress(options, "note", 0.0, 1.0)
    generated_at = _now()
    input_sha = (transcript.audio.sha256 if kind == "audio" and transcript is not None
                 and transcript.audio.sha256 else sha256_file(input_path))
    prov = _provenance(input_path, input_sha, transcript, itemset, generated_at, template.name)
    prov["session_start_source"] = start_source
    prov["items_sha256"] = items_sha
    prov["transcript_sha256"] = transcript_sha
    prov["audit_head"] = audit_head(out_dir)  # the log's end before this draft's entry
    prov.update(_who_said_it(transcript, itemset))
    write_note_files(out_dir, itemset, template, transcript=transcript, consent=consent,
                     provenance=prov, result=result)
    audio_name = _copy_audio(audio_src, out_dir, options.copy_audio) if audio_src else None
    if audio_name and audio_name.startswith("audio."):
        result.paths["audio"] = out_dir / audio_name
    write_review_page(out_dir, itemset, transcript, audio_name=audio_name, items_sha256=items_sha,
                      title=f"{template.title} — "
                      + (transcript.audio.file_name if transcript is not None and transcript.audio.file_name
                         else input_path.name), generated_at=generated_at,
                      result=result)
    ics = _write_ics(out_dir, itemset, items_sha, generated_at, session_start)
    if ics:
        result.paths["followups.ics"] = ics
    from voicenotes.review.page import append_audit

    append_audit(out_dir, [{
        "event": "draft_created", "template": template.name, "input_sha256": input_sha,
        "items_sha256": items_sha,
        "files": {name: sha256_file(p) for name, p in sorted(result.paths.items())
                  if name != "audio"},
        "voicenotes_version": __version__,
    }])
    timings["note"] = time.monotonic() - t0
    reused = result.summary.get("transcript_reused", False)
    speakers = result.summary.get("speakers")
    result.summary = _summary(itemset, transcript, result, session_start, start_source, mode)
    result.summary["transcript_reused"] = reused
    if speakers:
        result.summary["speakers"] = speakers
    _progress(options, "note", 1.0, 1.0)
    return result


def stale_artefacts(folder: Path) -> list[str]:
    """What in a session folder was made from something other than what the folder now holds
    (a run killed half-way, or files copied in from another session): each artefact records the
    hashes of its sources (items.json: the transcript's; note.json: the items' and the
    transcript's). Plain sentences without session words; empty when all agree or when the
    files predate these records."""
    folder = Path(folder)
    tr = _read_json_quiet(folder / "transcript.json")
    t_sha = _transcript_hash(tr) if tr is not None else None
    out = []
    items = _read_json_quiet(folder / "items.json")
    made = _made_from(items)
    if made.get("transcript_sha256") and made["transcript_sha256"] != t_sha:
        out.append("items.json was made from a different transcript.json")
    note = _read_json_quiet(folder / "note.json")
    made = _made_from(note)
    if made.get("items_sha256") and (items is None
                                     or made["items_sha256"] != sha256_bytes(read_bytes(folder / "items.json"))):
        out.append("note.md and note.json were made from a different items.json")
    elif made.get("transcript_sha256") and made["transcript_sha256"] != t_sha:
        out.append("note.md and note.json were made from a different transcript.json")
    want = (tr.get("audio") or {}).get("sha256") if tr and isinstance(tr.get("audio"), dict) else None
    for p in sorted(folder.glob("audio.*")):
        if want and p.is_file() and not p.is_symlink() and sha256_file(p) != want:
            out.append(f"{p.name} is not the recording transcript.json was made from")
    return out


def _made_from(doc: dict[str, Any] | None) -> dict[str, Any]:
    """The source hashes an artefact recorded in its provenance (items_sha256 and
    transcript_sha256; only text values count)."""
    prov = doc.get("provenance") if isinstance(doc, dict) else None
    if not isinstance(prov, dict):
        return {}
    return {k: prov[k] for k in ("items_sha256", "transcript_sha256")
            if isinstance(prov.get(k), str)}


def ensure_fresh(folder: Path) -> list[str]:
    """Before ``review`` or ``export`` reads a session folder: when its artefacts disagree
    (:func:`stale_artefacts`), rebuild them from the newest source — items, note and review
    page from transcript.json when items.json is stale, else note and review page from
    items.json — with the draft's template. Returns one sentence per finding, saying what was
    done (empty: all agree). A sealed folder is reported, not rebuilt."""
    from voicenotes.store.seal import is_sealed

    folder = Path(folder)
    stale = stale_artefacts(folder)
    if not any(s.startswith(("items.json", "note.")) for s in stale):
        return stale
    if is_sealed(folder):
        return [f"{s}; unseal the folder and run voicenotes note on its transcript.json to "
                "rebuild it" for s in stale]
    draft = _read_json_quiet(folder / "note.json") or {}
    options = NoteOptions(template=_text(draft.get("template")) or "crisis", copy_audio=False)
    items_ok = not stale[0].startswith("items.json") and sealed_exists(folder / "items.json")
    source = folder / ("items.json" if items_ok else "transcript.json")
    run_note(source, folder, options)
    return [f"{s}; rebuilt it" if s.startswith(("items.json", "note.")) else s for s in stale]


def _from_audio(input_path: Path, info: Any, out_dir: Path, options: NoteOptions, transcriber,
                result: NoteResult, consent: dict[str, Any] | None) -> Transcript:
    """Transcribe (or reuse an interrupted run's transcript), then find who speaks. ``info`` is
    the probe made before the session folder (one hash of the recording per run)."""
    t0 = time.monotonic()
    tr = _transcriber(options, transcriber)
    transcript = _reusable_transcript(out_dir, info.sha256, tr)
    if transcript is not None:
        result.summary["transcript_reused"] = True
    else:
        _progress(options, "transcribe", 0.0, 1.0)
        transcript = tr.transcribe(input_path, info=info,
                                   progress=lambda d, t: _progress(options, "transcribe", d, t))
    result.timings["transcribe"] = time.monotonic() - t0
    found = _speakers_stage(options, transcript, input_path, result, _declared(options, consent))
    return found if found is not None else transcript


def _declared(options: NoteOptions, consent: dict[str, Any] | None) -> str | None:
    """The mode the counselor declared: ``--mode``, else the recording's consent record."""
    if options.mode:
        return options.mode
    if consent and consent.get("mode") in MODES:
        return str(consent["mode"])
    return None


def _speakers_stage(options: NoteOptions, transcript: Transcript, input_path: Path,
                    result: NoteResult, declared: str | None) -> Transcript | None:
    """Who speaks: by default (``--speakers auto``) unless a dictation was declared (``--mode
    dictation`` or the consent record) and no ``--speakers`` was given. Records the decision
    (and its one line) in ``result.summary``."""
    spec = options.speakers or ("auto" if options.counselor else None)
    if spec is None and declared == "dictation":
        return None  # the counselor said it is a dictation: one voice, nothing to separate
    from voicenotes.speakers.auto import find_speakers

    t0 = time.monotonic()
    _progress(options, "speakers", 0.0, 1.0)
    out, decision = find_speakers(transcript, input_path, spec, counselor=options.counselor,
                                  progress=lambda d, t: _progress(options, "speakers", d, t))
    result.timings["speakers"] = time.monotonic() - t0
    result.summary["speakers"] = {**decision.to_dict(), "mode": decision.mode,
                                  "line": decision.line()}
    return out


def _who_said_it(transcript: Transcript | None, itemset: ItemSet) -> dict[str, Any]:
    """The speaker decision and the attribution check, for the note's provenance."""
    out: dict[str, Any] = {}
    decision = (transcript.speakers or {}).get("decision") if transcript is not None else None
    if isinstance(decision, dict):
        out["speakers"] = {k: v for k, v in decision.items() if v is not None}
    attribution = itemset.provenance.get("attribution")
    if isinstance(attribution, dict):
        out["attribution"] = {k: v for k, v in attribution.items() if v is not None}
    return out


def _extract(transcript: Transcript | None, mode: str, session_start: str | None,
             options: NoteOptions, ctx: SessionContext, consent: dict[str, Any] | None,
             result: NoteResult) -> ItemSet:
    from voicenotes.extract import extract_items

    assert transcript is not None  # an audio or transcript input always has one here
    t0 = time.monotonic()
    _progress(options, "extract", 0.0, 1.0)
    itemset = extract_items(transcript, mode=mode, session_start=session_start,
                            rules_paths=tuple(Path(p) for p in options.rules_paths))
    itemset = _after_extraction(itemset, transcript, mode, options, ctx,
                                _declared(options, consent))
    result.timings["extract"] = time.monotonic() - t0
    return itemset


def _after_extraction(itemset: ItemSet, transcript: Transcript | None, mode: str,
                      options: NoteOptions, ctx: SessionContext, declared: str | None) -> ItemSet:
    """The checks run over the extracted items: who an item can be attributed to, the words
    that decide polarity against the audio, and follow-up times in the session's zone."""
    from voicenotes.extract.attribution import attribute, attribution_state
    from voicenotes.extract.audiocheck import check_deciding_words

    state = attribution_state(transcript, mode)
    if not state["verified"] and declared == "dictation" and not options.speakers \
            and not (transcript is not None and (transcript.speakers or {}).get("labels")):
        state = {"verified": True, "reason": None}  # a declared dictation: one voice
    itemset = attribute(itemset, transcript, state)
    itemset = check_deciding_words(itemset, transcript)
    return _zoned_followups(itemset, ctx)


def _zoned_followups(itemset: ItemSet, ctx: SessionContext) -> ItemSet:
    """A follow-up time said in a session whose start had a zone gets that zone."""
    if ctx.start is None or ctx.floating:
        return itemset
    items = []
    for it in itemset.items:
        when = it.value.get("when") if it.type == "FOLLOW_UP" else None
        if isinstance(when, str) and len(when) > 10:
            try:
                zoned = ctx.localize(datetime.fromisoformat(when)).isoformat()
            except ValueError:
                zoned = when
            it = replace(it, value={**it.value, "when": zoned})
        items.append(it)
    return replace(itemset, items=tuple(items), session_start=ctx.start_iso)


def write_note_files(out_dir: Path, itemset: ItemSet, template, *, transcript, consent, provenance,
                     result: NoteResult, reviewed: bool = False, stem: str = "note") -> dict:
    from voicenotes.note.build import build_note
    from voicenotes.note.render import render_json, render_markdown

    note = build_note(itemset, template, transcript=transcript, consent=consent,
                      provenance=provenance, reviewed=reviewed)
    result.paths[f"{stem}.md"] = atomic_write_text(out_dir / f"{stem}.md", render_markdown(note))
    result.paths[f"{stem}.json"] = atomic_write_text(out_dir / f"{stem}.json", render_json(note))
    result.summary["note"] = note
    return note


def write_review_page(out_dir: Path, itemset: ItemSet, transcript: Transcript | None, *,
                      audio_name: str | None, items_sha256: str, title: str, generated_at: str,
                      result: NoteResult) -> Path:
    from voicenotes.review.page import page_data, render_review_html

    data = page_data(itemset, transcript, audio_name=audio_name, items_sha256=items_sha256,
                     title=title, generated_at=generated_at)
    path = atomic_write_text(out_dir / "review.html", render_review_html(data))
    result.paths["review.html"] = path
    return path


def _write_ics(out_dir: Path, itemset: ItemSet, salt: str, generated_at: str,
               session_start: str | None) -> Path | None:
    from voicenotes.note.ics import render_ics

    data = render_ics(itemset.items, uid_salt=salt, session_start=session_start,
                      generated_at=datetime.fromisoformat(generated_at))
    path = out_dir / "followups.ics"
    if data is None:
        if path.is_file():  # a stale calendar from an earlier run would be wrong now
            path.unlink()
        return None
    return atomic_write_bytes(path, data)


def _summary(itemset: ItemSet, transcript: Transcript | None, result: NoteResult,
             session_start: str | None, start_source: str, mode: str) -> dict[str, Any]:
    note = result.summary.get("note") or {}
    items = itemset.items
    return {
        "mode": mode,
        "session_start": session_start,
        "session_start_source": start_source,
        "items": len(items),
        "risk_items": sum(1 for i in items if i.type in RISK_TYPES),
        "by_type": (note.get("counts") or {}).get("by_type", {}),
        "not_assessed": [t["topic"] for t in note.get("header", {}).get("not_assessed", [])],
        "verify_audio": len(note.get("header", {}).get("verify_audio", [])),
        "transcript_flags": list(transcript.flags) if transcript else [],
        "followup_events": 0 if "followups.ics" not in result.paths else sum(
            1 for i in items if i.type == "FOLLOW_UP" and i.value.get("when")),
        "unresolved_followups": sum(1 for i in items if i.type == "FOLLOW_UP" and not i.value.get("when")),
        "duration_s": transcript.audio.duration_s if transcript else None,
        "note": note,
    }


# --------------------------------------------------------------------------- --from-review


def find_session_dir(reviewed: Path, out_dir: Path | None, input_path: Path | None) -> Path:
    for cand in (out_dir, input_path if input_path and input_path.is_dir() else None,
                 input_path.parent if input_path and input_path.is_file() else None,
                 reviewed.parent):
        if cand is not None and sealed_exists(Path(cand) / "items.json"):
            return Path(cand)
    raise InputError("Could not find the session folder (with items.json) for this review.",
                     hint="Say which one: voicenotes note --from-review FILE --out SESSION-FOLDER")


def finalize_review(reviewed_path: Path, session_dir: Path, *, template: str | None = None) -> NoteResult:
    """Render the final note from a clinician's reviewed items and append the audit log."""
    reviewed_path = Path(reviewed_path)
    session_dir = _check_out_dir(session_dir)
    with session_lock(session_dir, "note"):
        return _finalize_review(reviewed_path, session_dir, template)


def _finalize_review(reviewed_path: Path, session_dir: Path, template: str | None) -> NoteResult:
    from voicenotes.note.templates import load_template
    from voicenotes.review.page import append_audit, load_reviewed, review_events

    session_items = ItemSet.from_dict(_load_json(session_dir / "items.json", "items"))
    transcript = _transcript_beside(session_dir, session_items)
    itemset = load_reviewed(reviewed_path, session_items,
                            items_sha256=sha256_bytes(read_bytes(session_dir / "items.json")),
                            audio_sha256=transcript.audio.sha256 if transcript else None)
    draft = _read_json_quiet(session_dir / "note.json") or {}
    tpl = load_template(template or _text(draft.get("template")) or "crisis")
    prov = dict(draft["provenance"]) if isinstance(draft.get("provenance"), dict) else {}
    prov.update({"reviewed_file_sha256": sha256_file(reviewed_path), "generated_at": _now(),
                 "template": tpl.name, "voicenotes_version": __version__})
    prov["audit_head"] = audit_head(session_dir)
    header = draft["header"] if isinstance(draft.get("header"), dict) else {}
    consent = header.get("consent_record") if isinstance(header.get("consent_record"), dict) \
        else None
    consent = consent or load_consent_record(session_dir)
    result = NoteResult(out_dir=session_dir, input_kind="review")
    reviewed_bytes = (json.dumps(itemset.to_dict(), indent=2, ensure_ascii=False) + "\n").encode()
    result.paths["items.reviewed.json"] = atomic_write_bytes(session_dir / "items.reviewed.json",
                                                             reviewed_bytes)
    note = write_note_files(session_dir, itemset, tpl, transcript=transcript, consent=consent,
                            provenance=prov, result=result, reviewed=True, stem="note.reviewed")
    events = review_events(itemset, reviewed_file_sha256=prov["reviewed_file_sha256"])
    events.append({"event": "final_note", "template": tpl.name,
                   "note_sha256": sha256_file(result.paths["note.reviewed.md"]),
                   "note_json_sha256": sha256_file(result.paths["note.reviewed.json"]),
                   "items_reviewed_sha256": sha256_bytes(reviewed_bytes),
                   "counts": note["counts"]})
    result.paths["audit.jsonl"] = append_audit(session_dir, events)
    decisions: dict[str, int] = {}
    for it in itemset.items:
        k = (it.review or {}).get("status") or "unreviewed"
        decisions[k] = decisions.get(k, 0) + 1
    result.summary = {"decisions": decisions, "note": note}
    return result
