"""Consent before capture: nobody is recorded who has not agreed to it.

A :class:`ConsentRecord` must exist, and be saved as ``consent.json`` (mode 0600, atomic) in the
session folder, before ``voicenotes record`` captures a single frame. It names every party present
by ROLE (never by name), what they agreed to (recording, transcription, …), for how long the audio
may be kept, how consent was given (verbal / written / e-sign), and whether this is a dictation
(only the counselor is recorded).

Three ways to get one:

* :func:`prompt_consent` — plain questions on the terminal. A "no", or no answer at all (end of
  input), raises :class:`~voicenotes.errors.ConsentError` (exit 5) and nothing is written.
* :func:`consent_from_file` — ``--consent-file FILE``: a JSON object with the same keys as the
  record (``parties``, ``scope``, ``method``, ``retention_days``, optional ``form_version``,
  ``all_party``, ``dictation``, ``consented_at``). Checked strictly; a bad file is a plain error.
* :func:`consent_from_flags` — ``--consent-parties counselor,client --consent-scope
  recording,transcription --consent-method verbal [--retention-days 30]`` for scripted use.

:func:`load_consent` reads a session folder's record back (the note header uses it).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from voicenotes import __version__
from voicenotes.errors import ConsentError
from voicenotes.record.clock import now_iso
from voicenotes.store import atomic_write_json

CONSENT_FILE = "consent.json"
CONSENT_SCHEMA_VERSION = 1

PARTY_ROLES = ("counselor", "client", "family", "supervisor", "interpreter", "other")
SCOPES = ("recording", "transcription", "ai_drafting", "supervision")
METHODS = ("verbal", "written", "e-sign")
DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650

_FILE_KEYS = {
    "parties", "scope", "method", "retention_days", "form_version", "all_party", "dictation",
    "consented_at", "schema_version", "tool_version", "destroy_by", "obtained_by", "mode",
}
_HINT_FLAGS = ("Give consent interactively, or use --consent-file FILE, or --consent-parties, "
               "--consent-scope and --consent-method.")


@dataclass(frozen=True)
class ConsentRecord:
    """Who agreed to what, before anything was recorded. Roles only, never names."""

    parties: tuple[str, ...]
    scope: tuple[str, ...]
    method: str
    retention_days: int
    consented_at: str
    dictation: bool = False
    all_party: bool = True
    form_version: str | None = None
    obtained_by: str = "counselor"
    tool_version: str = __version__
    schema_version: int = CONSENT_SCHEMA_VERSION

    @property
    def mode(self) -> str:
        return "dictation" if self.dictation else "session"

    @property
    def destroy_by(self) -> str:
        """The date (UTC) after which the recording must be destroyed."""
        start = _parse_time(self.consented_at) or datetime.now(UTC)
        return (start + timedelta(days=self.retention_days)).date().isoformat()

    def covers(self, purpose: str) -> bool:
        return purpose in self.scope

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "mode": self.mode,
            "dictation": self.dictation,
            "parties": list(self.parties),
            "all_party": self.all_party,
            "scope": list(self.scope),
            "method": self.method,
            "retention_days": self.retention_days,
            "destroy_by": self.destroy_by,
            "consented_at": self.consented_at,
            "form_version": self.form_version,
            "obtained_by": self.obtained_by,
            "tool_version": self.tool_version,
            "statement": self.statement(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConsentRecord:
        return validate_consent(d, source="the consent record")

    def statement(self) -> str:
        """One plain sentence for the note header (roles only, no names)."""
        if self.dictation:
            who = "Dictation: only the counselor is recorded"
        else:
            who = ("All parties present (" if self.all_party else "Parties (") + \
                ", ".join(self.parties) + ") consented"
        scope = ", ".join(s.replace("_", " ") for s in self.scope)
        form = f"; consent form {self.form_version}" if self.form_version else ""
        return (f"{who}; {self.method} consent to {scope}; keep for {self.retention_days} days "
                f"(destroy by {self.destroy_by}){form}; given {self.consented_at}.")

    def summary_lines(self) -> list[str]:
        return [
            f"Mode: {self.mode}",
            f"Parties: {', '.join(self.parties)}" + (" (all parties present)" if self.all_party
                                                     and not self.dictation else ""),
            f"Agreed to: {', '.join(self.scope)}",
            f"Consent given: {self.method}, at {self.consented_at}",
            f"Keep for: {self.retention_days} days (destroy by {self.destroy_by})",
        ] + ([f"Consent form version: {self.form_version}"] if self.form_version else [])


# --------------------------------------------------------------------------- validation


def _parse_time(s: str | None) -> datetime | None:
    if not s:
        return None
    try:
        t = datetime.fromisoformat(str(s).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _split(value: Any, what: str, source: str) -> tuple[str, ...]:
    if isinstance(value, str):
        parts = [p.strip().lower() for p in value.split(",")]
    elif isinstance(value, (list, tuple)):
        if not all(isinstance(p, str) for p in value):
            raise ConsentError(f"In {source}, '{what}' must be a list of words.", hint=_HINT_FLAGS)
        parts = [p.strip().lower() for p in value]
    else:
        raise ConsentError(f"In {source}, '{what}' is missing or not a list.", hint=_HINT_FLAGS)
    parts = [p.replace(" ", "_") if what == "scope" else p for p in parts if p]
    out: list[str] = []
    for p in parts:
        if p not in out:
            out.append(p)
    return tuple(out)


def _check_fields(d: Any, source: str) -> None:
    if not isinstance(d, dict):
        raise ConsentError(f"{source.capitalize()} must be a JSON object.", hint=_HINT_FLAGS)
    unknown = sorted(set(d) - _FILE_KEYS - {"statement"})
    if unknown:
        raise ConsentError(f"{source.capitalize()} has unknown field(s): {', '.join(unknown)}. "
                           f"Known fields: parties, scope, method, retention_days, form_version, "
                           f"all_party, dictation, consented_at.")


def _dictation(d: dict[str, Any], source: str, dictation: bool | None) -> bool:
    """The file's ``dictation`` agreeing with the --dictation flag (None = not given)."""
    file_dictation = d.get("dictation")
    if file_dictation is not None and not isinstance(file_dictation, bool):
        raise ConsentError(f"In {source}, 'dictation' must be true or false.")
    if dictation is None:
        return bool(file_dictation)
    if file_dictation is not None and file_dictation != dictation:
        raise ConsentError(
            f"{source.capitalize()} says dictation is {str(file_dictation).lower()}, but "
            f"--dictation was {'given' if dictation else 'not given'}.",
            hint="Make the two agree.")
    return dictation


def _parties(d: dict[str, Any], source: str, dictation: bool) -> tuple[str, ...]:
    if "parties" not in d and dictation:
        parties: tuple[str, ...] = ("counselor",)
    else:
        parties = _split(d.get("parties"), "parties", source)
    bad = [p for p in parties if p not in PARTY_ROLES]
    if bad:
        raise ConsentError(f"In {source}, unknown party role(s): {', '.join(bad)}. Use roles, not "
                           f"names: {', '.join(PARTY_ROLES)}.")
    if not parties:
        raise ConsentError(f"In {source}, no party is listed.", hint=_HINT_FLAGS)
    if "counselor" not in parties:
        raise ConsentError(f"In {source}, the parties must include the counselor.")
    if dictation and parties != ("counselor",):
        raise ConsentError(
            f"Dictation records only the counselor, but {source} lists "
            f"{', '.join(parties)}.", hint="Leave out --dictation to record a session.")
    if not dictation and len(parties) < 2:
        raise ConsentError(
            f"{source.capitalize()} lists only the counselor. For a session, list every party "
            "present (e.g. counselor,client).",
            hint="Use --dictation to record only yourself.")
    return parties


def _check_all_party(d: dict[str, Any], source: str) -> None:
    all_party = d.get("all_party", True)
    if not isinstance(all_party, bool):
        raise ConsentError(f"In {source}, 'all_party' must be true or false.")
    if not all_party:
        raise ConsentError("Recording needs the consent of every party present; "
                           f"{source} says not everyone agreed. Nothing was recorded.")


def _scope(d: dict[str, Any], source: str) -> tuple[str, ...]:
    scope = _split(d.get("scope"), "scope", source)
    bad = [s for s in scope if s not in SCOPES]
    if bad:
        raise ConsentError(f"In {source}, unknown scope(s): {', '.join(bad)}. "
                           f"Choose from: {', '.join(SCOPES)}.")
    if "recording" not in scope:
        raise ConsentError(f"{source.capitalize()} does not include consent to recording, so "
                           "nothing can be recorded.")
    return scope


def _method(d: dict[str, Any], source: str) -> str:
    method = d.get("method")
    if not isinstance(method, str) or method.strip().lower() not in METHODS:
        raise ConsentError(f"In {source}, 'method' must be one of: {', '.join(METHODS)}.",
                           hint=_HINT_FLAGS)
    return method.strip().lower()


def _retention_days(d: dict[str, Any], source: str) -> int:
    days = d.get("retention_days", DEFAULT_RETENTION_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_RETENTION_DAYS:
        raise ConsentError(f"In {source}, 'retention_days' must be a whole number of days from 1 "
                           f"to {MAX_RETENTION_DAYS}.")
    return days


def _form_version(d: dict[str, Any], source: str) -> str | None:
    form_version = d.get("form_version")
    if form_version is not None and (not isinstance(form_version, str) or len(form_version) > 80):
        raise ConsentError(f"In {source}, 'form_version' must be a short text.")
    return (form_version or "").strip() or None


def _consented_at(d: dict[str, Any], source: str) -> str:
    at = d.get("consented_at")
    if at is None:
        return now_iso("seconds")
    parsed = _parse_time(at)
    if parsed is None:
        raise ConsentError(f"In {source}, 'consented_at' is not a date-time (use ISO 8601, e.g. "
                           "2026-11-26T14:30:00+00:00).")
    return parsed.isoformat()


def validate_consent(d: dict[str, Any], *, source: str = "the consent file",
                     dictation: bool | None = None) -> ConsentRecord:
    """Build a :class:`ConsentRecord` from a dict, or raise a plain ConsentError."""
    _check_fields(d, source)
    dictation = _dictation(d, source, dictation)
    parties = _parties(d, source, dictation)
    _check_all_party(d, source)
    scope = _scope(d, source)
    method = _method(d, source)
    days = _retention_days(d, source)
    form_version = _form_version(d, source)
    return ConsentRecord(
        parties=parties, scope=scope, method=method, retention_days=days,
        consented_at=_consented_at(d, source),
        dictation=dictation, all_party=True, form_version=form_version,
    )


# --------------------------------------------------------------------------- sources


def consent_from_file(path: Path, *, dictation: bool | None) -> ConsentRecord:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConsentError(f"The consent file {path} does not exist. Nothing was recorded.") \
            from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConsentError(f"Cannot read the consent file {path} "
                           f"({getattr(exc, 'strerror', None) or type(exc).__name__}). "
                           "Nothing was recorded.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConsentError(f"The consent file {path.name} is not valid JSON (line {exc.lineno}). "
                           "Nothing was recorded.") from None
    return validate_consent(data, source=f"the consent file {path.name}", dictation=dictation)


def consent_from_flags(*, parties: str | None, scope: str | None, method: str | None,
                       retention_days: int | None, form_version: str | None,
                       dictation: bool) -> ConsentRecord:
    missing = []
    if parties is None and not dictation:
        missing.append("--consent-parties")
    if scope is None:
        missing.append("--consent-scope")
    if method is None:
        missing.append("--consent-method")
    if missing:
        raise ConsentError(f"Consent options are incomplete: also give {', '.join(missing)}. "
                           "Nothing was recorded.",
                           hint="Example: --consent-parties counselor,client --consent-scope "
                                "recording,transcription --consent-method verbal.")
    d: dict[str, Any] = {"scope": scope, "method": method, "form_version": form_version}
    if parties is not None:
        d["parties"] = parties
    if retention_days is not None:
        d["retention_days"] = retention_days
    return validate_consent(d, source="the consent options", dictation=dictation)


class _Asker:
    def __init__(self, read: Callable[[], str], write: Callable[[str], None]):
        self.read, self.write = read, write

    def ask(self, question: str, default: str | None = None) -> str:
        shown = f"{question} [{default}]: " if default else f"{question}: "
        self.write(shown)
        line = self.read()
        if line == "":  # end of input: nobody answered
            self.write("\n")
            raise ConsentError("No answer was given to the consent question, so nothing was "
                               "recorded.", hint="Run `voicenotes record` again and answer the "
                                                 "questions, or use --consent-file.")
        ans = line.strip()
        return ans if ans else (default or "")

    def yes_no(self, question: str) -> bool:
        for _ in range(3):
            a = self.ask(f"{question} (yes/no)").lower()
            if a in ("y", "yes"):
                return True
            if a in ("n", "no"):
                return False
            self.write("Please answer yes or no.\n")
        raise ConsentError("No clear yes or no was given, so nothing was recorded.")

    def choice(self, question: str, options: Sequence[str], default: str) -> str:
        for _ in range(3):
            a = self.ask(f"{question} ({'/'.join(options)})", default).lower()
            if a in options:
                return a
            self.write(f"Please answer one of: {', '.join(options)}.\n")
        raise ConsentError("No valid answer was given, so nothing was recorded.")


def _stdin_readline() -> str:
    try:
        return sys.stdin.readline()
    except (OSError, ValueError, AttributeError):  # closed or missing stdin
        return ""


def _stderr_write(s: str) -> None:
    sys.stderr.write(s)
    sys.stderr.flush()


_REFUSED = "Consent was not given, so nothing was recorded."


def _ask_dictation_parties(a: _Asker) -> tuple[str, ...]:
    a.write("Consent for a dictation (only your own voice is recorded).\n")
    if not a.yes_no("Are you alone, with no client or other person who could be heard?"):
        raise ConsentError("A dictation records only the counselor. Someone else could be "
                           "heard, so nothing was recorded.",
                           hint="Record a session instead (leave out --dictation).")
    if not a.yes_no("Do you agree to this dictation being recorded?"):
        raise ConsentError(_REFUSED)
    return ("counselor",)


def _ask_session_parties(a: _Asker) -> tuple[str, ...]:
    a.write("Consent: every person present must agree before recording starts.\n")
    raw = a.ask("Who is present? Roles, not names, separated by commas "
                f"({', '.join(PARTY_ROLES)})", "counselor,client")
    parties = _split(raw, "parties", "your answer")
    if "counselor" not in parties:
        parties = ("counselor",) + parties
    bad = [p for p in parties if p not in PARTY_ROLES]
    if bad:
        raise ConsentError(f"Unknown role(s): {', '.join(bad)}. Use: "
                           f"{', '.join(PARTY_ROLES)}. Nothing was recorded.")
    if len(parties) < 2:
        raise ConsentError("Only the counselor is present: use --dictation to record only "
                           "yourself. Nothing was recorded.")
    if not a.yes_no(f"Has every person present ({', '.join(parties)}) agreed to be recorded?"):
        raise ConsentError(_REFUSED)
    return parties


def _ask_scope(a: _Asker, dictation: bool) -> list[str]:
    scope = ["recording"]
    if a.yes_no("Did they agree to the recording being transcribed on this computer?"
                if not dictation else "Do you agree to it being transcribed on this computer?"):
        scope.append("transcription")
    if a.yes_no("Did they agree to a note draft being made from it?"
                if not dictation else "Do you agree to a note draft being made from it?"):
        scope.append("ai_drafting")
    if a.yes_no("Did they agree to it being shared with a clinical supervisor?"
                if not dictation else "May it be shared with your clinical supervisor?"):
        scope.append("supervision")
    return scope


def _ask_retention_days(a: _Asker) -> int:
    days_raw = a.ask("How many days may the recording be kept", str(DEFAULT_RETENTION_DAYS))
    try:
        return int(days_raw)
    except ValueError:
        raise ConsentError(f"'{days_raw}' is not a number of days. Nothing was recorded.") \
            from None


def prompt_consent(*, dictation: bool, read: Callable[[], str] | None = None,
                   write: Callable[[str], None] | None = None) -> ConsentRecord:
    """Ask the consent questions. Any refusal or missing answer raises ConsentError."""
    a = _Asker(read or _stdin_readline, write or _stderr_write)
    parties = _ask_dictation_parties(a) if dictation else _ask_session_parties(a)
    scope = _ask_scope(a, dictation)
    method = "verbal" if dictation else a.choice("How was consent given?", METHODS, "verbal")
    days = _ask_retention_days(a)
    form = a.ask("Consent form version (press Enter if none)", "") or None
    return validate_consent(
        {"parties": list(parties), "scope": scope, "method": method, "retention_days": days,
         "form_version": form},
        source="your answers", dictation=dictation)


def save_consent(record: ConsentRecord, folder: Path) -> Path:
    """Write ``consent.json`` (0600, atomic) in ``folder``."""
    return atomic_write_json(Path(folder) / CONSENT_FILE, record.to_dict())


def load_consent(folder: Path) -> ConsentRecord | None:
    """The consent record saved in ``folder``, or None when there is none.

    Raises ConsentError if the file exists but is unreadable or invalid (a note must not claim
    consent it cannot show)."""
    path = Path(folder) / CONSENT_FILE
    if not path.is_file():
        return None
    return consent_from_file(path, dictation=None)

