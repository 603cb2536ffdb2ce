"""Validation at the door: every JSON file voicenotes reads is checked against its JSON Schema
(``voicenotes/schemas/``) before any work is done, so a malformed or hostile file is refused with
one plain line naming the file and the place in it, and nothing is written.

What is refused beyond the schemas themselves: ``NaN``/``Infinity`` and numbers too large to be a
float (``1e400``), nesting deeper than :data:`MAX_DEPTH`, and text that is not UTF-8. Messages name
the file and a JSON path (``$.segments[0].text``) but never a value from the file: values can be
session words.

``jsonschema`` is imported only when a file is checked, so ``voicenotes --help`` stays light.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

from voicenotes.errors import InputError, plain_line

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
#: kind -> (schema file, what the file is called in messages)
KINDS = {
    "transcript": ("transcript.schema.json", "a voicenotes transcript"),
    "items": ("items.schema.json", "a voicenotes items file"),
    "review": ("review-export.schema.json", "a reviewed items file from review.html"),
    "consent": ("consent.schema.json", "a consent record"),
    "rule": ("rule.schema.json", "a rule"),
}
#: deeper JSON than this is refused before parsing (no voicenotes file nests beyond ~8 levels)
MAX_DEPTH = 64
_HINTS = {
    "transcript": "Give the transcript.json that voicenotes wrote, unedited.",
    "items": "Give the items.json that voicenotes wrote, unedited.",
    "review": "Export it again with the Export button of review.html.",
    "consent": "Record consent again, or fix the consent file.",
    "rule": "Fix or remove that line (one JSON object per line; # starts a comment).",
}


class Invalid(InputError):
    """A JSON input that does not match its schema (exit 3)."""


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _depth(text: str) -> int:
    """Deepest bracket nesting of JSON text, ignoring brackets inside strings."""
    deepest = depth = 0
    in_str = escaped = False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(text: str, name: str, *, hint: str | None = None) -> Any:
    """Strict JSON: no NaN/Infinity, no overflowing numbers, bounded nesting."""
    problem: str | None = None
    if _depth(text) > MAX_DEPTH:
        problem = f"nests deeper than {MAX_DEPTH} levels"
    else:
        try:
            return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
        except json.JSONDecodeError as exc:
            problem = f"is not valid JSON (line {exc.lineno})"
        except (ValueError, RecursionError):
            problem = "holds a number that is not a finite number (NaN, Infinity or too large)"
    raise Invalid(f"{plain_line(name)} {problem}.", hint=hint)


def read_json(path: Path, kind: str | None = None) -> Any:
    """Read, parse and (when ``kind`` is given) validate a JSON file; InputError otherwise."""
    path = Path(path)
    hint = _HINTS.get(kind or "", "Give the file voicenotes wrote.")
    from voicenotes.store.seal import read_bytes  # a sealed folder's file: decrypted in memory

    try:
        data = read_bytes(path)
    except FileNotFoundError:
        raise InputError(f"{plain_line(str(path))} does not exist.",
                         hint="Check the path and try again.") from None
    except IsADirectoryError:
        raise InputError(f"{plain_line(str(path))} is a folder, not a file.", hint=hint) from None
    except OSError as exc:
        raise InputError(f"Cannot read {plain_line(str(path))}: "
                         f"{(exc.strerror or type(exc).__name__).lower()}.",
                         hint="Check the file's permissions.") from None
    return loads(data, path.name, kind)


def loads(data: bytes, name: str, kind: str | None = None) -> Any:
    """:func:`read_json` for bytes already read (``name`` is the file's name in messages)."""
    hint = _HINTS.get(kind or "", "Give the file voicenotes wrote.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(f"{plain_line(name)} is not UTF-8 text.", hint=hint) from None
    obj = parse_json(text, name, hint=hint)
    if kind is not None:
        check(obj, kind, name)
    return obj


@cache
def _validator(kind: str):
    from jsonschema import Draft202012Validator

    schema = json.loads((SCHEMAS / KINDS[kind][0]).read_text("utf-8"))
    return Draft202012Validator(schema)


def json_path(parts) -> str:
    """``$.segments[0].text`` from jsonschema's path deque (keys escaped to one line)."""
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{plain_line(str(p))}"
    return out


def _problem(err) -> str:
    """What is wrong, in plain words and without the offending value (it may be session words)."""
    v = err.validator
    if v == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"should be {_TYPE_WORDS.get(want, want)}"
    if v == "required":
        inst = err.instance if isinstance(err.instance, dict) else {}
        missing = [k for k in err.validator_value if k not in inst]
        return f"lacks the field '{missing[0]}'" if missing else "lacks a required field"
    if v in ("enum", "const"):
        return "is not one of the allowed values"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return "is out of range"
    if v in ("pattern", "minLength"):
        return "is not in the expected form"
    if v == "uniqueItems":
        return "lists a value more than once"
    if v == "anyOf":
        return "is not in any of the accepted forms"
    return "is not valid here"


_TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number",
               "object": "an object", "array": "a list", "boolean": "true or false",
               "null": "null"}


def check(obj: Any, kind: str, name: str) -> None:
    """Raise :class:`Invalid` naming ``name`` and the JSON path of the first violation."""
    from jsonschema.exceptions import best_match

    err = best_match(_validator(kind).iter_errors(obj))
    if err is None:
        return
    raise Invalid(f"{plain_line(name)} is not {KINDS[kind][1]}: at {json_path(err.absolute_path)} "
                  f"the value {_problem(err)}.", hint=_HINTS[kind])
