"""Text is text in Markdown: whatever came from a recording, a file or an edit is shown as
written and can never add structure to a note.

:func:`md_text` puts a value on one line (every line break and control character becomes a
space, so it cannot start a heading, list item, ticked box, quote or table row of its own) and
backslash-escapes the characters that would otherwise turn it into emphasis, strike-through,
code, a link or image, raw HTML or an entity, plus a block marker at its very start (where it
follows a list bullet). Used for every value the Markdown renderers insert; the JSON, plain text,
DOCX and PDF outputs keep the text unchanged.
"""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_INLINE = re.compile(
    r"([\\`*<|~]"
    r"|(?<!\w)_|_(?!\w)"  # an underscore inside a word never makes emphasis
    r"|&(?=#?\w+;)"  # an entity (&lt; &#10;) shows as written
    r"|\[(?!\d{1,2}(?::\d{2}){1,2}\](?![(\[:])))")
# at the start of the text (after a bullet): a heading, quote, list marker or numbered item
_BLOCK_START = re.compile(r"^(#|>|[-+=]|\d+(?=[.)]))")


def md_text(value: Any, *, block: bool = True) -> str:
    """``value`` as one line of literal Markdown text. ``block=False`` for text that follows a
    heading's ``#`` (where a block marker is plain text already). A time stamp such as
    ``[01:40]`` keeps its bracket unescaped (it cannot become a link or a box)."""
    text = " ".join(_CONTROL.sub(" ", str(value)).split())
    text = _INLINE.sub(r"\\\1", text)
    m = _BLOCK_START.match(text) if block else None
    if m:
        end = m.end()
        if m.group(1)[0].isdigit():
            return text[:end] + "\\" + text[end:]  # "1." -> "1\."
        return "\\" + text
    return text
