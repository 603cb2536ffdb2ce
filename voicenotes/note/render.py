"""Render a structured note (build.py) as Markdown through the Jinja2 layout ``note.md.j2``."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jinja2


def _scalar(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(_scalar(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    if v is None:
        return "—"
    return str(v)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("voicenotes.note", "templates"),
        autoescape=False,  # Markdown, not HTML: review.html escapes separately
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["consent_value"] = _scalar
    env.filters["prov_value"] = _scalar
    return env


def render_markdown(note: dict[str, Any]) -> str:
    from voicenotes.note.templates import labels

    text = _env().get_template("note.md.j2").render(note=note, h=note["header"],
                                                     flag_text=labels().get("flag", {}))
    # Collapse runs of blank lines the layout's conditionals leave behind.
    out, blank = [], 0
    for line in text.splitlines():
        blank = blank + 1 if not line.strip() else 0
        if blank <= 1:
            out.append(line.rstrip())
    return "\n".join(out).strip() + "\n"


def render_json(note: dict[str, Any]) -> str:
    return json.dumps(note, indent=2, ensure_ascii=False) + "\n"
