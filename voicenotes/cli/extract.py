"""``voicenotes extract`` (transcript or text -> items.json) and ``voicenotes eval`` (score the
extractor on gold cases). Top-level imports stay light: spaCy/medspaCy load inside the commands."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections import Counter
from pathlib import Path

import typer

from voicenotes.cli.options import (
    ModelOption,
    ModeOption,
    RulesOption,
    SemanticOption,
    SessionStartOption,
    SpeakersOption,
)
from voicenotes.errors import InputError, UsageError

_PREFIX = ("counselor:", "client:", "counsellor:", "therapist:", "caller:", "c:", "cl:")
_ROLE = {"counselor": "counselor", "counsellor": "counselor", "therapist": "counselor",
         "client": "client", "caller": "client"}


def _check_mode(mode: str | None) -> str | None:
    if mode is None:
        return None
    m = mode.lower()
    if m not in ("dictation", "session"):
        raise UsageError(f"Unknown mode '{mode}'.", hint="Use --mode dictation or --mode session.")
    return m


def _check_start(s: str | None) -> str | None:
    if s is None:
        return None
    from voicenotes.domain import SESSION_START_FORMS, session_context

    try:
        return session_context(None, s).start_iso
    except ValueError as exc:
        raise UsageError(f"--session-start '{s[:40]}' cannot be read: {exc}.",
                         hint=f"Use a form such as {SESSION_START_FORMS}.") from None


def _text_turns(text: str, mode: str | None):
    turns = []
    saw_prefix = False
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        spk = None
        low = s.lower()
        for p in _PREFIX:
            if low.startswith(p):
                name = p[:-1]
                spk = _ROLE.get(name, "counselor" if name == "c" else "client")
                s = s[len(p):].strip()
                saw_prefix = True
                break
        turns.append({"speaker": spk, "text": s})
    if not turns:
        raise InputError("The input has no text.", hint="Give a transcript JSON or a text file with one turn per line.")
    if mode is None:
        mode = "session" if saw_prefix else "dictation"
    for t in turns:
        if t["speaker"] is None:
            t["speaker"] = "counselor" if mode == "dictation" else "unknown"
    return turns, mode


def load_input(path: Path, mode: str | None):
    """A transcript JSON or plain text -> (Transcript, mode, source kind)."""
    from voicenotes.extract import transcript_from_turns
    from voicenotes.schema import Transcript

    if not path.exists():
        raise InputError(f"{path} does not exist.", hint="Check the file name.")
    if not path.is_file():
        raise InputError(f"{path} is not a regular file.", hint="Give a transcript JSON or a text file.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}.", hint="Check the file permissions.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not text (is it an audio file?).",
                         hint="Run 'voicenotes transcribe' first, or 'voicenotes note' for audio.") from None
    stripped = text.lstrip()
    if path.suffix.lower() == ".json" or stripped.startswith("{"):
        from voicenotes.store.validate import check, parse_json

        obj = parse_json(text, path.name,
                         hint="Give the transcript.json written by 'voicenotes transcribe'.")
        if isinstance(obj, dict) and isinstance(obj.get("turns"), list):
            m = _check_mode(obj.get("mode")) or mode or "session"
            return transcript_from_turns(obj["turns"], mode=m, session_start=obj.get("session_start")), mode or m, "turns"
        if not isinstance(obj, dict) or "segments" not in obj:
            raise InputError(f"{path.name} is not a voicenotes transcript (no segments).",
                             hint="Give the transcript.json written by 'voicenotes transcribe'.")
        check(obj, "transcript", path.name)  # one plain line naming the JSON path if not
        tr = Transcript.from_dict(obj)
        return tr, mode or tr.mode or "dictation", "transcript"
    turns, m = _text_turns(text, mode)
    return transcript_from_turns(turns, mode=m, session_start=None), m, "text"


def summary_lines(itemset) -> list[str]:
    """Counts only: never transcript words."""
    from voicenotes.extract import _ORDER

    items = itemset.items
    by = Counter(i.type for i in items)
    lines = [f"Found {len(items)} item(s)."]
    for t in _ORDER:
        if not by.get(t):
            continue
        sub = [i for i in items if i.type == t]
        notes = []
        for label, n in (("negated", sum(i.polarity == "negated" for i in sub)),
                         ("question", sum(i.modality == "question" for i in sub)),
                         ("conditional", sum(i.modality in ("conditional", "hypothetical") for i in sub)),
                         ("someone else", sum(i.experiencer == "other" for i in sub)),
                         ("past", sum(i.temporality == "past" for i in sub)),
                         ("possible", sum(i.certainty == "possible" for i in sub))):
            if n:
                notes.append(f"{n} {label}")
        extra = f" ({', '.join(notes)})" if notes else ""
        lines.append(f"  {t:<13}{by[t]:>4}{extra}")
    net = sum(1 for i in items if i.source == "safety_net")
    verify = sum(1 for i in items if "verify_audio" in i.review_flags)
    if net:
        lines.append(f"Safety net: {net} risk word(s) no rule explained were added as 'possible' items for review.")
    if verify:
        lines.append(f"{verify} risk item(s) come from doubtful audio: listen before accepting them.")
    return lines


def extract(
    input_path: Path = typer.Argument(..., metavar="INPUT", show_default=False,
                                      help="A transcript.json from 'voicenotes transcribe', or a text file "
                                           "with one turn per line ('counselor:' / 'client:' prefixes set speakers)."),
    mode: ModeOption = None,
    session_start: SessionStartOption = None,
    rules: RulesOption = None,
    out: Path | None = typer.Option(None, "--out", metavar="FILE",
                                       help="Where to write the items (default: items.json beside INPUT)."),
    semantic: SemanticOption = None,
) -> None:
    """Find crisis items (risk, means, safety steps, supports, referrals, follow-ups...) in a transcript."""
    from voicenotes.extract import extract_items
    from voicenotes.extract.rules import load_rules
    from voicenotes.store import atomic_write_json

    rules = rules or []
    m = _check_mode(mode)
    start = _check_start(session_start)
    if semantic:
        from voicenotes.extract.semantic import require

        require()
    load_rules(rules)  # malformed site rules fail fast, naming file and line
    tr, m, kind = load_input(input_path, m)
    note = None
    if not start:
        start = tr.session_start
    if not start:
        try:
            start = dt.datetime.fromtimestamp(input_path.stat().st_mtime).replace(microsecond=0).isoformat()
            note = f"No session start given: times are resolved against the file's time ({start}). Use --session-start to set it."
        except OSError:
            start = None
    target = out or (input_path.parent / "items.json")
    if target.exists() and target.is_dir():
        raise UsageError(f"--out {target} is a folder.", hint="Give a file name such as items.json.")
    itemset = extract_items(tr, mode=m, session_start=start, rules_paths=rules, semantic=semantic)
    atomic_write_json(target, itemset.to_dict())
    for line in summary_lines(itemset):
        typer.echo(line)
    if note:
        typer.echo(note, err=True)
    typer.echo(f"Wrote {target}")


def evaluate(
    gold: Path = typer.Argument(..., metavar="GOLD.jsonl", show_default=False,
                                help="Gold cases, one JSON object a line (data/extraction format)."),
    pred_dir: Path = typer.Option(..., "--pred-dir", metavar="DIR",
                                  help="Folder for the predictions (<id>.items.json per case)."),
    audio: Path | None = typer.Option(None, "--audio", metavar="DIR",
                                         help="Transcribe each case's <id>.flac from this folder first (speakers "
                                              "from <id>.segments.tsv), to see the loss from speech recognition."),
    model: ModelOption = None,
    rules: RulesOption = None,
    speakers: SpeakersOption = None,
    details: bool = typer.Option(False, "--details", help="Also list misses, attribute errors and false "
                                                          "positives (these show gold text)."),
    semantic: SemanticOption = None,
) -> None:
    """Score extraction on gold cases: per-type precision/recall/F1, attribute accuracy, risk recall,
    forbidden items. The last line is machine-readable.

    With --audio, each case is transcribed first (with tiny.en unless --model names another);
    --speakers then takes speakers and roles from the voices instead of the sidecar file."""
    from voicenotes.extract.evaluate import format_summary, read_gold, run_audio_eval, run_text_eval
    from voicenotes.extract.rules import load_rules

    rules = rules or []
    if semantic:
        from voicenotes.extract.semantic import require

        require()
    if semantic is not None:
        os.environ["VOICENOTES_SEMANTIC"] = "1" if semantic else "0"  # read by extract_items here
    load_rules(rules)
    cases = read_gold(gold)
    if pred_dir.exists() and not pred_dir.is_dir():
        raise UsageError(f"--pred-dir {pred_dir} is a file.", hint="Give a folder.")
    if audio is not None:
        if not audio.is_dir():
            raise InputError(f"--audio {audio} is not a folder.", hint="Give the folder with <id>.flac files.")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from voicenotes.transcribe import TranscribeOptions, Transcriber

        name = model or "tiny.en"
        typer.echo(f"Transcribing {len(cases)} case(s) with Whisper {name}…", err=True)
        tx = Transcriber(TranscribeOptions(model=name))
        done = [0]

        def progress(cid: str) -> None:
            done[0] += 1
            if sys.stderr.isatty() or done[0] % 10 == 0 or done[0] == len(cases):
                typer.echo(f"  {done[0]}/{len(cases)}", err=True)

        if speakers:
            from voicenotes.speakers import check_available

            check_available(speakers)
        summary = run_audio_eval(cases, pred_dir, audio, tx, rules_paths=rules, progress=progress,
                                 speakers=speakers)
    else:
        summary = run_text_eval(cases, pred_dir, rules_paths=rules)
    typer.echo(format_summary(summary, details=details))


def register(app: typer.Typer) -> None:
    app.command("extract")(extract)
    app.command("eval")(evaluate)
