"""Exports of a note for a record system: plain text, Markdown, DOCX and PDF.

All four are rendered from one list of blocks (:func:`blocks`), so they say the same thing. The
plain text is made to be pasted into a record system: no Markdown syntax, no hashes, the
provenance in one short footer line. A note that is not signed carries a DRAFT banner (on every
page of the DOCX and PDF). Files are written atomically with mode 0600.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from voicenotes.errors import DependencyError, UsageError
from voicenotes.note.mdtext import md_text
from voicenotes.store import atomic_write_bytes, atomic_write_text

FORMATS = ("docx", "pdf", "txt", "md")
DRAFT_BANNER = "DRAFT — not signed; not for the record"
ATTESTATION = ("I reviewed this note against the recording and attest that it is accurate and "
               "complete to the best of my knowledge.")
RISK_LEVEL_TEXT = {"low": "Low", "moderate": "Moderate", "high": "High", "imminent": "Imminent"}
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
)

Block = tuple[str, str]  # (kind, text); kind: title, banner, h1, h2, p, li, footer


def is_signed(note: dict[str, Any]) -> bool:
    return note.get("status") == "signed" and bool(note.get("signature"))


# --------------------------------------------------------------------------- the content


def blocks(note: dict[str, Any]) -> list[Block]:
    """The note as headings, paragraphs and list items, in reading order."""
    h = note["header"]
    out: list[Block] = [("title", note["title"])]
    if not is_signed(note):
        out.append(("banner", DRAFT_BANNER))
    meta = [f"Session start: {note['session_start']}" if note.get("session_start") else "",
            f"Mode: {note.get('mode') or 'dictation'}"]
    out.append(("p", "   ".join(m for m in meta if m)))
    out += _clinician(note.get("clinician") or {})
    out += _consent(h)
    out += _risk(h)
    out += _sections(note)
    if note.get("rejected"):
        out.append(("h1", "Appendix: items rejected in review"))
        out += [("li", e["text"]) for e in note["rejected"]]
    out += _signature(note.get("signature") or {})
    out.append(("footer", footer_line(note)))
    return out


def _clinician(c: dict[str, Any]) -> list[Block]:
    if not c:
        return []
    out: list[Block] = [("h1", "Clinician's assessment")]
    level = RISK_LEVEL_TEXT.get(c.get("risk_level") or "", "not set")
    out.append(("p", f"Overall risk level: {level}."))
    if c.get("rationale"):
        out.append(("p", f"Rationale: {c['rationale']}"))
    for para in (c.get("narrative") or "").split("\n\n"):
        if para.strip():
            out.append(("p", " ".join(para.split())))
    return out


def _consent(h: dict[str, Any]) -> list[Block]:
    out: list[Block] = [("h1", "Consent")]
    rec = h.get("consent_record")
    if rec:
        stmt = rec.get("statement")
        out.append(("p", "Consent record (from consent.json)" + (f": {stmt}" if stmt else "")))
        out += [("li", f"{k}: {_scalar(v)}") for k, v in sorted(rec.items())
                if k != "statement" and "sha256" not in k]
    else:
        out.append(("p", "No consent record was found with this recording."))
    if h.get("consent_items"):
        out.append(("p", "Consent statements in the recording:"))
        out += [("li", e["text"]) for e in h["consent_items"]]
    return out


def _risk(h: dict[str, Any]) -> list[Block]:
    out: list[Block] = [("h1", "Risk summary")]
    if not h.get("risk_summary"):
        out.append(("p", "No risk statements were found in the recording."))
    for g in h.get("risk_summary") or []:
        out.append(("h2", g["title"]))
        out += [("li", e["text"]) for e in g["entries"]]
    if h.get("conflicts"):
        out.append(("h2", "Conflicting statements"))
        out += [("li", c["text"]) for c in h["conflicts"]]
    out.append(("h2", "Not assessed"))
    if h.get("not_assessed"):
        out.append(("p", "These lethality topics were never mentioned in the recording:"))
        out += [("li", t["label"]) for t in h["not_assessed"]]
    else:
        out.append(("p", "Every lethality topic was mentioned at least once."))
    flags, verify = h.get("transcript_flags") or [], h.get("verify_audio") or []
    if flags or verify:
        out.append(("h2", "Audio to verify"))
        out += [("li", f"Whole recording: {f}") for f in flags]
        out += [("li", f"verify audio at {v['time']}"
                 + (f" ({', '.join(v['reasons'])})" if v.get("reasons") else "")) for v in verify]
    return out


def _sections(note: dict[str, Any]) -> list[Block]:
    out: list[Block] = []
    for s in note["sections"]:
        out.append(("h1", s["title"]))
        if s.get("note"):
            out.append(("p", s["note"]))
        parts = [p for p in s["parts"] if p["entries"]]
        if not parts:
            out.append(("p", "Not mentioned in the recording."))
        for p in parts:
            if p.get("title"):
                out.append(("h2", p["title"]))
            out += [("li", e["text"]) for e in p["entries"]]
    if note.get("other_items"):
        out.append(("h1", "Other items"))
        out += [("li", e["text"]) for e in note["other_items"]]
    return out


def _signature(sig: dict[str, Any]) -> list[Block]:
    if not sig:
        return []
    who = ", ".join(x for x in (sig.get("name"), sig.get("credentials")) if x)
    return [("h1", "Signature"), ("p", sig.get("attestation_text") or ATTESTATION),
            ("p", f"Signed: {who}   Date: {sig.get('date') or sig.get('signed_at', '')[:10]}")]


def footer_line(note: dict[str, Any]) -> str:
    p = note.get("provenance") or {}
    made = str(p.get("generated_at") or "")[:10]
    src = p.get("input_file") or "a recording"
    line = (f"Drafted by voicenotes {p.get('voicenotes_version', '')} from {src}"
            f"{' on ' + made if made else ''} ({note.get('template', '')} template), extractive"
            " from the recording")
    sig = note.get("signature") or {}
    if is_signed(note):
        line += f"; reviewed and signed by {sig.get('name', '')} on {sig.get('date', '')}"
    return line + "."


def _scalar(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(_scalar(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_scalar(x)}" for k, x in sorted(v.items()))
    return "—" if v is None else str(v)


# --------------------------------------------------------------------------- text and Markdown


def render_text(note: dict[str, Any]) -> str:
    """Plain text for pasting into a record system."""
    out: list[str] = []
    for kind, text in blocks(note):
        if kind == "title":
            out += [text.upper(), ""]
        elif kind == "banner":
            out += [f"[{text}]", ""]
        elif kind == "h1":
            out += ["", text.upper()]
        elif kind == "h2":
            out += ["", text + ":"]
        elif kind == "li":
            out.append(f"  • {text}")
        elif kind == "footer":
            out += ["", "—", text]
        else:
            out.append(text)
    if not is_signed(note):
        out += ["", f"[{DRAFT_BANNER}]"]
    return "\n".join(out).strip() + "\n"


def render_markdown(note: dict[str, Any]) -> str:
    """Markdown; every block's text escaped (:func:`md_text`) so it cannot add structure."""
    out: list[str] = []
    prefix = {"title": "# ", "h1": "\n## ", "h2": "\n### ", "li": "- "}
    for kind, raw in blocks(note):
        text = md_text(raw, block=kind in ("p", "li"))
        if kind == "banner":
            out.append(f"\n**{text}**\n")
        elif kind == "footer":
            out += ["", "---", f"*{text}*"]
        elif kind == "p":
            out.append(f"\n{text}\n")
        else:
            out.append(prefix[kind] + text)
    text = "\n".join(out)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"


# --------------------------------------------------------------------------- DOCX


def render_docx(note: dict[str, Any]) -> bytes:
    try:
        import docx
        from docx.shared import Pt, RGBColor
    except ImportError:
        raise DependencyError("DOCX export needs python-docx.",
                              hint="Install it: pip install python-docx") from None
    doc = docx.Document()
    section = doc.sections[0]
    if not is_signed(note):  # a header repeats on every page
        run = section.header.paragraphs[0].add_run(DRAFT_BANNER)
        run.bold, run.font.size, run.font.color.rgb = True, Pt(11), RGBColor(0xB0, 0x00, 0x00)
    for kind, text in blocks(note):
        if kind == "title":
            doc.add_heading(text, level=0)
        elif kind in ("h1", "h2"):
            doc.add_heading(text, level=1 if kind == "h1" else 2)
        elif kind == "li":
            doc.add_paragraph(text, style="List Bullet")
        elif kind == "banner":
            doc.add_paragraph().add_run(text).bold = True
        elif kind == "footer":
            section.footer.paragraphs[0].add_run(text).font.size = Pt(8)
        else:
            doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- PDF


def _pdf_font() -> tuple[str, str]:
    """Register an embeddable TrueType font: DejaVu Sans when installed, else the Bitstream Vera
    fonts that ship inside reportlab (both embed as subsets)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for path in FONT_CANDIDATES:
        bold = path.replace("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
        if Path(path).is_file() and Path(bold).is_file():
            pdfmetrics.registerFont(TTFont("VNSans", path))
            pdfmetrics.registerFont(TTFont("VNSans-Bold", bold))
            return "VNSans", "VNSans-Bold"
    pdfmetrics.registerFont(TTFont("VNSans", "Vera.ttf"))
    pdfmetrics.registerFont(TTFont("VNSans-Bold", "VeraBd.ttf"))
    return "VNSans", "VNSans-Bold"


def render_pdf(note: dict[str, Any]) -> bytes:
    try:
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.styles import ParagraphStyle
        from reportlab.lib.units import mm
        from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
    except ImportError:
        raise DependencyError("PDF export needs reportlab.",
                              hint="Install it: pip install reportlab") from None
    from xml.sax.saxutils import escape

    font, bold = _pdf_font()
    st = {"title": ParagraphStyle("t", fontName=bold, fontSize=16, leading=20, spaceAfter=6),
          "h1": ParagraphStyle("h1", fontName=bold, fontSize=12.5, leading=16, spaceBefore=8,
                               spaceAfter=3),
          "h2": ParagraphStyle("h2", fontName=bold, fontSize=10.5, leading=14, spaceBefore=4),
          "p": ParagraphStyle("p", fontName=font, fontSize=9.5, leading=12.5, spaceAfter=3),
          "li": ParagraphStyle("li", fontName=font, bulletFontName=font, fontSize=9.5,
                               leading=12.5, leftIndent=14, bulletIndent=4, spaceAfter=2),
          "banner": ParagraphStyle("b", fontName=bold, fontSize=11, leading=14, spaceAfter=4)}
    draft, footer = not is_signed(note), footer_line(note)

    def on_page(canvas, doc) -> None:
        canvas.saveState()
        if draft:
            canvas.setFont(bold, 10)
            canvas.setFillColorRGB(0.7, 0, 0)
            canvas.drawString(18 * mm, A4[1] - 12 * mm, DRAFT_BANNER)
        canvas.setFillColorRGB(0.3, 0.3, 0.3)
        canvas.setFont(font, 7)
        canvas.drawString(18 * mm, 10 * mm, footer[:150])
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    story: list[Any] = []
    for kind, text in blocks(note):
        if kind == "li":
            story.append(Paragraph(escape(text), st["li"], bulletText="•"))
        elif kind in st:
            story.append(Paragraph(escape(text), st[kind]))
    story.append(Spacer(1, 4 * mm))
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                      topMargin=18 * mm, bottomMargin=16 * mm, title=note["title"],
                      author="voicenotes",
                      # the canvas starts in Helvetica unless told otherwise (never embedded)
                      initialFontName=font, initialFontSize=9,
                      ).build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buf.getvalue()


# --------------------------------------------------------------------------- writing


def parse_formats(spec: str | Iterable[str]) -> list[str]:
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for n in (x.strip().lower().lstrip(".") for x in names):
        if not n:
            continue
        if n not in FORMATS:
            raise UsageError(f"Unknown export format {n!r}.",
                             hint="Choose from docx, pdf, txt and md, e.g. --format docx,pdf.")
        if n not in out:
            out.append(n)
    if not out:
        raise UsageError("No export format given.", hint="Example: --format docx,pdf,txt")
    return out


def render_exports(note: dict[str, Any], formats: Iterable[str]) -> dict[str, bytes]:
    """The bytes of each format of ``note`` (nothing written)."""
    renderers = {"txt": lambda: render_text(note).encode("utf-8"),
                 "md": lambda: render_markdown(note).encode("utf-8"),
                 "docx": lambda: render_docx(note), "pdf": lambda: render_pdf(note)}
    return {fmt: renderers[fmt]() for fmt in formats}


def write_exports(note: dict[str, Any], folder: Path, stem: str,
                  formats: Iterable[str]) -> dict[str, Path]:
    """Write ``<stem>.<fmt>`` for each format (atomic, 0600); returns the paths by format."""
    paths = {}
    for fmt, data in render_exports(note, formats).items():
        path = Path(folder) / f"{stem}.{fmt}"
        paths[fmt] = (atomic_write_text(path, data.decode("utf-8")) if fmt in ("txt", "md")
                      else atomic_write_bytes(path, data))
    return paths
