"""Text is text: a transcript or an edit whose words hold a line break, ``#``, ``- [x]``, raw
HTML, emphasis, strike-through, links, code, table pipes or entities adds no structure to
note.md, note.reviewed.md or an exported Markdown note: parsed by a real Markdown parser
(markdown-it, CommonMark with GFM tables and strike-through), the hostile note has exactly the
structure of the same note with plain words, and every hostile character is still shown."""

from __future__ import annotations

import json
from dataclasses import replace

import markdown_it
from test_note_helpers import hand_items, hand_transcript, with_extractor_offsets
from typer.testing import CliRunner

from voicenotes.cli import app
from voicenotes.schema import ItemSet, Transcript

runner = CliRunner()

HOSTILE = ("\n# Risk cleared\n- [x] risk cleared\r\n<img src=x onerror=alert(1)><!-- c --> "
           "~~denied~~ **safe** _low_ [click](http://evil.example) ![i](x.png) `code` "
           "&lt;b&gt; &#10;\n| a | b |\n|---|---|\n> quoted\n1. numbered\u2028--- \\*")
PLAIN = " plain words that say nothing special at all"
EDIT_HOSTILE = "Denies ideation.\n\n## Risk: none\n- [x] cleared <script>alert(1)</script>"
EDIT_PLAIN = "Denies ideation and says nothing special at all"


def _structure(md_text: str) -> list:
    """The note's structure: block tokens, and every inline token that is not plain text."""
    md = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    out = []
    for t in md.parse(md_text):
        if t.type == "inline":
            out.append([c.type for c in t.children or [] if c.type not in ("text", "text_special")])
        else:
            out.append((t.type, t.tag, t.markup))
    return out


def _visible(md_text: str) -> str:
    md = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    return "".join(c.content for t in md.parse(md_text) if t.type == "inline"
                   for c in t.children or [] if c.type in ("text", "text_special"))


def _session(tmp_path, extra: str, name: str):
    """The hand session, with ``extra`` appended to every quote (and its segment)."""
    t = hand_transcript()
    segs = list(t.segments)
    items = []
    base = with_extractor_offsets(hand_items(), t)
    for it in base.items:
        items.append(replace(it, evidence=replace(it.evidence, quote=it.evidence.quote + extra)))
    for it in base.items:
        s = segs[it.evidence.segment]
        segs[it.evidence.segment] = replace(s, text=s.text.replace(it.evidence.quote,
                                                                   it.evidence.quote + extra, 1))
    t2 = Transcript.from_dict({**t.to_dict(), "segments": [s.to_dict() for s in segs]})
    items2 = with_extractor_offsets(ItemSet(items=tuple(items), mode=base.mode,
                                            session_start=base.session_start,
                                            rules_version=base.rules_version), t2)
    src = tmp_path / name
    src.mkdir()
    (src / "transcript.json").write_text(json.dumps(t2.to_dict()))
    (src / "items.json").write_text(json.dumps(items2.to_dict()))
    out = tmp_path / (name + "-out")
    res = runner.invoke(app, ["note", str(src / "items.json"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out, items2


def _review(tmp_path, out, items, edit: str, name: str):
    d = items.to_dict()
    for it in d["items"]:
        r = {"status": "accepted"}
        if it["id"] == "h02":
            r = {"status": "edited", "edited_text": edit}
        elif it["id"] == "h06":
            r = {"status": "rejected", "reason": edit}
        it["review"] = {"reviewed_at": "2026-03-09T16:00:00Z", **r}
    p = tmp_path / f"{name}.reviewed.json"
    p.write_text(json.dumps(d))
    res = runner.invoke(app, ["note", "--from-review", str(p), "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["export", str(out), "--format", "md"])
    assert res.exit_code == 0, res.output


def test_hostile_transcript_and_edits_add_no_structure(tmp_path):
    bad, bad_items = _session(tmp_path, HOSTILE, "hostile")
    good, good_items = _session(tmp_path, PLAIN, "plain")
    _review(tmp_path, bad, bad_items, EDIT_HOSTILE, "hostile")
    _review(tmp_path, good, good_items, EDIT_PLAIN, "plain")
    for name in ("note.md", "note.reviewed.md", "note.draft.md"):
        hostile, plain = (bad / name).read_text(), (good / name).read_text()
        assert "risk cleared" in hostile.lower() and "plain words" in plain, name
        # the same headings, lists, items and inline markup as the plain note, line for line
        assert _structure(hostile) == _structure(plain), name
        assert len(hostile.splitlines()) == len(plain.splitlines()), name
        # and the words are all still there to read, as written (line breaks become spaces)
        seen = _visible(hostile)
        for piece in ("# Risk cleared", "- [x] risk cleared", "<img src=x onerror=alert(1)>",
                      "~~denied~~", "**safe**", "_low_", "[click](http://evil.example)",
                      "`code`", "&lt;b&gt; &#10;", "| a | b |", "> quoted", "1. numbered",
                      "\\*"):
            assert piece in seen, (name, piece)
    reviewed = _visible((bad / "note.reviewed.md").read_text())
    assert "## Risk: none - [x] cleared <script>alert(1)</script>" in reviewed
    # the JSON keeps the words as they were (line breaks included)
    entries = [e["text"] for s in json.loads((bad / "note.json").read_text())["sections"]
               for p in s["parts"] for e in p["entries"]]
    assert any("\n# Risk cleared\n- [x] risk cleared" in t for t in entries)
