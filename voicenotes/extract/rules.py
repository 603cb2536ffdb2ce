"""Loading and checking the rule files (JSON lines) under ``voicenotes/extract/rules/``.

Three kinds of rule, told apart by their keys so a site file given with ``--rules`` may mix them:
- target rules (``"type"``): what counts as an item (``targets.jsonl``);
- ConText modifier rules (``"category"``): cues that set polarity, modality, time, experiencer
  (``context.jsonl``);
- safety-net rules (``"kind"``): the risk vocabulary scanned independently (``safety_net.jsonl``).

A malformed rule raises :class:`~voicenotes.errors.RulesError` naming its file and line. This module
is light (stdlib only) so the CLI can validate files without loading spaCy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicenotes.errors import RulesError
from voicenotes.schema import CERTAINTY, EXPERIENCER, ITEM_TYPES, POLARITY

RULES_DIR = Path(__file__).resolve().parent / "rules"
BUILTIN_FILES = ("targets.jsonl", "context.jsonl", "safety_net.jsonl")
# Bump the date part when the shipped rules change; the hash part follows the file contents.
RULES_BASE_VERSION = "2026.11.26"

CONTEXT_CATEGORIES = {
    "NEGATED", "POSSIBLE", "NEGATED_POSSIBLE", "HISTORICAL", "NEGATED_HISTORICAL", "RECENT",
    "CURRENT", "FUTURE", "TIME", "CONDITIONAL", "HYPOTHETICAL", "OTHER", "OTHER_PRONOUN",
    "IMPLIES_PAST", "NEGATED_IMPLIES_PAST", "DECLINED", "PSEUDO", "TERMINATE",
}
DIRECTIONS = {"FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"}
SAFETY_KINDS = {"term", "asr_variant", "ignore", "fuzzy"}
TARGET_KEYS = {
    "id", "type", "literal", "regex", "tokens", "value", "certainty", "experiencer", "polarity",
    "requires", "requires_near", "requires_past", "suppress", "flags", "method_from_context",
    "means_from_context", "note",
}
CONTEXT_KEYS = {
    "literal", "category", "direction", "regex", "tokens", "max_scope", "allowed_types",
    "excluded_types", "terminated_by", "session_only", "note", "id",
}
SAFETY_KEYS = {"id", "kind", "regex", "words", "note"}


@dataclass
class TargetSpec:
    id: str
    type: str
    pattern: Any  # regex string or token-pattern list
    where: str  # "file line N", for messages
    value: dict = field(default_factory=dict)
    certainty: str | None = None
    experiencer: str | None = None
    polarity: str | None = None
    requires: tuple[str, ...] = ()
    requires_near: tuple[str, ...] = ()
    suppress: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    method_from_context: bool = False
    means_from_context: bool = False


@dataclass
class ContextSpec:
    literal: str
    category: str
    direction: str
    pattern: Any
    where: str
    max_scope: int | None = None
    allowed_types: tuple[str, ...] | None = None
    excluded_types: tuple[str, ...] | None = None
    terminated_by: tuple[str, ...] = ()
    session_only: bool = False


@dataclass
class SafetySpec:
    id: str
    kind: str
    where: str
    regex: re.Pattern | None = None
    words: tuple[str, ...] = ()


@dataclass
class RuleSet:
    targets: list[TargetSpec]
    context: list[ContextSpec]
    safety: list[SafetySpec]
    version: str
    files: tuple[str, ...]


def _err(where: str, what: str) -> RulesError:
    return RulesError(f"Rule file {where}: {what}.",
                      hint="Fix or remove that line (one JSON object per line; # starts a comment).")


def _compile(regex: Any, where: str) -> str:
    if not isinstance(regex, str) or not regex:
        raise _err(where, '"regex" must be a non-empty string')
    try:
        re.compile(regex, re.IGNORECASE)
    except re.error as exc:
        raise _err(where, f"the regular expression does not compile ({exc})") from None
    return regex


def _literal_regex(literal: Any, where: str) -> str:
    if not isinstance(literal, str) or not literal.strip():
        raise _err(where, '"literal" must be a non-empty string')
    words = [re.escape(w) for w in literal.strip().split()]
    return r"\b" + r"\s+".join(words) + r"\b"


def _pattern(obj: dict, where: str) -> Any:
    given = [k for k in ("literal", "regex", "tokens") if k in obj]
    if "regex" in obj:
        return _compile(obj["regex"], where)
    if "tokens" in obj:
        toks = obj["tokens"]
        if not isinstance(toks, list) or not toks or not all(isinstance(t, dict) for t in toks):
            raise _err(where, '"tokens" must be a list of spaCy token patterns (objects)')
        return toks
    if "literal" in obj:
        return _literal_regex(obj["literal"], where)
    if not given:
        raise _err(where, 'give one of "literal", "regex" or "tokens"')
    return None


def _types(val: Any, where: str, key: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    if val is None:
        return ()
    if isinstance(val, str):
        val = [val]
    if not isinstance(val, list):
        raise _err(where, f'"{key}" must be a list of item types')
    out = []
    for t in val:
        if not isinstance(t, str) or (t.upper() not in ITEM_TYPES and t.upper() not in extra):
            raise _err(where, f'"{key}" has an unknown item type {t!r}')
        out.append(t.upper())
    return tuple(out)


def _target(obj: dict, where: str) -> TargetSpec:
    unknown = set(obj) - TARGET_KEYS
    if unknown:
        raise _err(where, f"unknown key(s) {', '.join(sorted(unknown))}")
    typ = obj.get("type")
    if not isinstance(typ, str) or (typ.upper() not in ITEM_TYPES and typ.upper() != "SUPPRESS"):
        raise _err(where, f'"type" must be one of {", ".join(ITEM_TYPES)} or SUPPRESS')
    typ = typ.upper()
    value = obj.get("value", {})
    if not isinstance(value, dict):
        raise _err(where, '"value" must be an object')
    for key, allowed in (("certainty", CERTAINTY), ("experiencer", EXPERIENCER), ("polarity", POLARITY)):
        if key in obj and obj[key] not in allowed:
            raise _err(where, f'"{key}" must be one of {", ".join(allowed)}')
    flags = obj.get("flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise _err(where, '"flags" must be a list of words')
    suppress = _types(obj.get("suppress"), where, "suppress")
    if typ == "SUPPRESS" and not suppress:
        raise _err(where, 'a SUPPRESS rule needs "suppress": [item types]')
    return TargetSpec(
        id=str(obj.get("id") or where), type=typ, pattern=_pattern(obj, where), where=where,
        value=dict(value), certainty=obj.get("certainty"), experiencer=obj.get("experiencer"),
        polarity=obj.get("polarity"), requires=_types(obj.get("requires"), where, "requires"),
        requires_near=_types(obj.get("requires_near"), where, "requires_near"),
        suppress=suppress, flags=tuple(flags),
        method_from_context=bool(obj.get("method_from_context")),
        means_from_context=bool(obj.get("means_from_context")),
    )


def _context(obj: dict, where: str) -> ContextSpec:
    unknown = set(obj) - CONTEXT_KEYS
    if unknown:
        raise _err(where, f"unknown key(s) {', '.join(sorted(unknown))}")
    cat = obj.get("category")
    if not isinstance(cat, str) or cat.upper() not in CONTEXT_CATEGORIES:
        raise _err(where, f'"category" must be one of {", ".join(sorted(CONTEXT_CATEGORIES))}')
    direction = str(obj.get("direction", "BIDIRECTIONAL")).upper()
    if direction not in DIRECTIONS:
        raise _err(where, f'"direction" must be one of {", ".join(sorted(DIRECTIONS))}')
    ms = obj.get("max_scope")
    if ms is not None and (not isinstance(ms, int) or ms < 1):
        raise _err(where, '"max_scope" must be a whole number of tokens (1 or more)')
    if "allowed_types" in obj and "excluded_types" in obj:
        raise _err(where, 'use either "allowed_types" or "excluded_types", not both')
    literal = obj.get("literal")
    if not isinstance(literal, str) or not literal.strip():
        raise _err(where, '"literal" must be a non-empty string (it names the cue)')
    pattern = _pattern(obj, where)
    tb = obj.get("terminated_by", [])
    if not isinstance(tb, list) or any(str(t).upper() not in CONTEXT_CATEGORIES for t in tb):
        raise _err(where, '"terminated_by" must be a list of categories')
    return ContextSpec(
        literal=literal, category=cat.upper(), direction=direction, pattern=pattern, where=where,
        max_scope=ms,
        allowed_types=_types(obj["allowed_types"], where, "allowed_types") if "allowed_types" in obj else None,
        excluded_types=_types(obj["excluded_types"], where, "excluded_types") if "excluded_types" in obj else None,
        terminated_by=tuple(str(t).upper() for t in tb), session_only=bool(obj.get("session_only")),
    )


def _safety(obj: dict, where: str) -> SafetySpec:
    unknown = set(obj) - SAFETY_KEYS
    if unknown:
        raise _err(where, f"unknown key(s) {', '.join(sorted(unknown))}")
    kind = obj.get("kind")
    if kind not in SAFETY_KINDS:
        raise _err(where, f'"kind" must be one of {", ".join(sorted(SAFETY_KINDS))}')
    if kind == "fuzzy":
        words = obj.get("words")
        if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
            raise _err(where, 'a fuzzy rule needs "words": [words]')
        return SafetySpec(id=str(obj.get("id") or where), kind=kind, where=where,
                          words=tuple(w.lower() for w in words))
    return SafetySpec(id=str(obj.get("id") or where), kind=kind, where=where,
                      regex=re.compile(_compile(obj.get("regex"), where), re.IGNORECASE))


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _check_shape(obj: dict[str, Any], where: str) -> None:
    """The line against rule.schema.json: the types of its fields, before their meaning."""
    from voicenotes.errors import InputError
    from voicenotes.store.validate import check

    try:
        check(obj, "rule", "the rule")
    except InputError as exc:
        raise _err(where, exc.message.removeprefix("the rule is not a rule: ").rstrip(".")) \
            from None


def read_rule_file(path: Path) -> tuple[list[TargetSpec], list[ContextSpec], list[SafetySpec], bytes]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulesError(f"Cannot read the rules file {path}: {exc.strerror or exc}.",
                         hint="Check the --rules path.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RulesError(f"The rules file {path} is not UTF-8 text.",
                         hint="Save it as UTF-8 JSON lines.") from None
    targets: list[TargetSpec] = []
    context: list[ContextSpec] = []
    safety: list[SafetySpec] = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        where = f"{path.name} line {n}"
        try:
            obj = json.loads(s, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise _err(where, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        except (ValueError, RecursionError):
            raise _err(where, "not valid JSON (NaN, Infinity or nesting too deep)") from None
        if not isinstance(obj, dict):
            raise _err(where, "each line must be one JSON object")
        _check_shape(obj, where)
        if "type" in obj:
            targets.append(_target(obj, where))
        elif "category" in obj:
            context.append(_context(obj, where))
        elif "kind" in obj:
            safety.append(_safety(obj, where))
        else:
            raise _err(where, 'say what the rule is: "type" (target), "category" (ConText cue) or '
                              '"kind" (safety net)')
    return targets, context, safety, data


def load_rules(extra: Sequence[Path] = ()) -> RuleSet:
    targets: list[TargetSpec] = []
    context: list[ContextSpec] = []
    safety: list[SafetySpec] = []
    h = hashlib.sha256()
    files = []
    for p in [RULES_DIR / f for f in BUILTIN_FILES] + [Path(x) for x in extra]:
        t, c, s, data = read_rule_file(p)
        targets += t
        context += c
        safety += s
        h.update(data)
        files.append(str(p))
    h.update(classifier_hash().encode("ascii"))
    version = f"{RULES_BASE_VERSION}+{h.hexdigest()[:8]}"
    return RuleSet(targets, context, safety, version, tuple(files))


def builtin_version() -> str:
    h = hashlib.sha256()
    for f in BUILTIN_FILES:
        try:
            h.update((RULES_DIR / f).read_bytes())
        except OSError:
            pass
    h.update(classifier_hash().encode("ascii"))
    return f"{RULES_BASE_VERSION}+{h.hexdigest()[:8]}"


def classifier_hash() -> str:
    """The clause classifier's trained head and thresholds are part of the rules' version: the
    same rule files with another head extract other items."""
    from voicenotes.extract.classifier import weights_hash

    return weights_hash()
