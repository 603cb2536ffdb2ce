"""Items -> note drafts: templates (data files), the structured note, Markdown, review page, ics.

Import-light: only the stdlib, jinja2 and voicenotes' own small modules.
"""

from voicenotes.note.build import DRAFT_NOTICE, build_note, entries_of
from voicenotes.note.templates import DEFAULT_TEMPLATE, TEMPLATE_NAMES, load_template

__all__ = ["DRAFT_NOTICE", "DEFAULT_TEMPLATE", "TEMPLATE_NAMES", "build_note", "entries_of",
           "load_template"]
