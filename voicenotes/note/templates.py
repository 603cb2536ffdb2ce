"""Note templates are data files: ``templates/<name>.toml`` maps item types to sections, and
``templates/labels.toml`` says how an item is named. A site may pass its own ``.toml`` path.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from voicenotes.errors import InputError

TEMPLATE_NAMES = ("crisis", "soap", "dap", "birp", "safety-plan")
DEFAULT_TEMPLATE = "crisis"


@dataclass(frozen=True)
class Part:
    title: str | None
    select: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    parts: tuple[Part, ...]
    note: str | None = None


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    style: str  # "items" (label + quote) or "quotes" (the client's own words)
    sections: tuple[Section, ...]
    claim_order: tuple[str, ...] = field(default=())
    source: str = ""

    def claiming_sections(self) -> list[Section]:
        by_id = {s.id: s for s in self.sections}
        order = [by_id[i] for i in self.claim_order if i in by_id]
        return order + [s for s in self.sections if s not in order]


def _read_toml(path: Path | None, name: str) -> dict[str, Any]:
    try:
        if path is None:
            text = resources.files("voicenotes.note").joinpath("templates").joinpath(name).read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        return tomllib.loads(text)
    except FileNotFoundError:
        raise InputError(f"The note template {path or name} was not found.",
                         hint="Use --template " + "|".join(TEMPLATE_NAMES) + ".") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"The note template {path or name} could not be read ({exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"The note template {path or name} is not valid TOML: {exc}.",
                         hint="Fix the file or use a built-in template.") from None


@cache
def labels() -> dict[str, dict[str, str]]:
    return _read_toml(None, "labels.toml")


@lru_cache(maxsize=16)
def load_template(spec: str | None = None) -> Template:
    """A built-in template by name, or a site's own ``.toml`` file by path."""
    spec = spec or DEFAULT_TEMPLATE
    if spec in TEMPLATE_NAMES:
        raw, source = _read_toml(None, f"{spec}.toml"), f"builtin:{spec}"
    elif spec.endswith(".toml"):
        raw, source = _read_toml(Path(spec), spec), str(Path(spec).resolve())
    else:
        raise InputError(f"Unknown note template '{spec}'.",
                         hint="Use --template " + "|".join(TEMPLATE_NAMES) + " or a .toml file.")
    try:
        sections = tuple(
            Section(id=s["id"], title=s["title"], note=s.get("note"),
                    parts=tuple(Part(title=p.get("title"), select=tuple(p["select"]))
                                for p in s.get("parts", ())))
            for s in raw["sections"])
        return Template(name=raw.get("name", spec), title=raw["title"],
                        style=raw.get("style", "items"), sections=sections,
                        claim_order=tuple(raw.get("claim_order", ())), source=source)
    except (KeyError, TypeError) as exc:
        raise InputError(f"The note template {spec} is missing a field ({exc}).",
                         hint="Compare it with voicenotes/note/templates/crisis.toml.") from None


def fixed_texts(template: Template) -> list[str]:
    """Every piece of fixed wording a template contributes (used by the trace test and docs)."""
    out = [template.title]
    for s in template.sections:
        out.append(s.title)
        if s.note:
            out.append(s.note)
        out.extend(p.title for p in s.parts if p.title)
    return out
