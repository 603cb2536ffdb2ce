"""Render a structured note (build.py) as Markdown through the Jinja2 layout ``note.md.j2``.

Every value the layout inserts passes through :func:`~voicenotes.note.mdtext.md_text` (the
environment's ``finalize``), so text from a transcript, a file or an edit stays text: a line
break, ``#``, ``- [x]`` or raw HTML in it cannot add a heading, a ticked box or markup.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from voicenotes.note.mdtext import md_text


def _scalar(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(_scalar(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    if v is None:
        return "—"
    return str(v)


def _heading(v: Any) -> Markup:
    """Heading text: escaped inline, already past the ``#`` (no block marker to guard)."""
    return Markup(md_text(v, block=False))


def _inline(v: Any) -> Markup:
    """A value in the middle of a line (after ``key: ``): escaped inline."""
    return Markup(md_text(_scalar(v), block=False))


def _finalize(v: Any) -> str:
    return v if isinstance(v, Markup) else md_text(v)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("voicenotes.note", "templates"),
        autoescape=False,  # Markdown, not HTML: values are escaped for Markdown by finalize
        finalize=_finalize,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["consent_value"] = _inline
    env.filters["prov_value"] = _inline
    env.filters["heading"] = _heading
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
