"""The note stage on hand-made items: nothing dropped, grouping, merging, checklists, ics,
escaping. (Golden and trace tests run the real extractor: test_note_golden.py, test_note_trace.py.)"""

from __future__ import annotations

import json

import pytest
from icalendar import Calendar
from test_note_helpers import HAND_QUOTES, hand_items, hand_transcript, with_extractor_offsets

from voicenotes.note.build import build_note, entries_of
from voicenotes.note.ics import render_ics
from voicenotes.note.render import render_markdown
from voicenotes.note.templates import TEMPLATE_NAMES, load_template
from voicenotes.review.page import page_data, render_review_html
from voicenotes.schema import RISK_TYPES, Evidence, Item, ItemSet


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_every_item_appears_and_every_risk_item_is_in_the_summary(template):
    items = hand_items()
    note = build_note(items, load_template(template))
    body_ids = {i for e in entries_of(note) for i in e["item_ids"]}
    consent_ids = {i for e in note["header"]["consent_items"] for i in e["item_ids"]}
    assert body_ids | consent_ids == {i.id for i in items.items}
    summary_ids = {i for g in note["header"]["risk_summary"] for e in g["entries"] for i in e["item_ids"]}
    assert summary_ids == {i.id for i in items.items if i.type in RISK_TYPES}
    md = render_markdown(note)
    for q in HAND_QUOTES:  # every quote, risk or not, is in the Markdown
        assert f"“{q}”" in md
    assert md.startswith(f"# {load_template(template).title}\n\n**DRAFT — requires clinician review**")


def test_risk_summary_order_and_groups():
    note = build_note(hand_items(), load_template("crisis"))
    groups = [(g["group"], [i for e in g["entries"] for i in e["item_ids"]])
              for g in note["header"]["risk_summary"]]
    assert groups == [
        ("affirmed", ["h01", "h10", "h08"]),  # the two mentions merge into one entry
        ("negated", ["h02", "h03"]),
        ("past", ["h04"]),
        ("other", ["h05"]),
        ("conditional", ["h06"]),
        ("question", ["h07"]),
    ]
    affirmed = note["header"]["risk_summary"][0]["entries"]
    merged = affirmed[0]
    assert [q["time"] for q in merged["quotes"]] == ["00:10", "01:35"]  # both times kept
    md = render_markdown(note)
    assert md.index("### Affirmed risk") < md.index("### Pertinent negatives") < md.index(
        "### History (past)") < md.index("### Third-party") < md.index("### Conditional") < md.index(
        "### Screening questions asked")


def test_qualifiers_show_negation_condition_history_and_doubtful_audio():
    md = render_markdown(build_note(hand_items(), load_template("crisis")))
    assert "Suicidal ideation (denied or absent; said by counselor) — “denies current suicidal ideation” [00:20]" in md
    assert "Suicide attempt (past; method: overdose) — “took pills in 2019” [00:30]" in md
    assert "(about: brother; past)" in md
    assert "(conditional) — “if the urges come back” [00:50] (verify audio at 00:50)" in md
    assert "Protective factor: Pet (possible" in md
    assert "when: Tue 10 Mar 2026 10:00" in md
    assert "when: Tue 17 Mar 2026 (no clock time said); time is ambiguous" in md


def test_not_assessed_lists_only_topics_never_mentioned():
    note = build_note(hand_items(), load_template("crisis"))
    assert [t["topic"] for t in note["header"]["not_assessed"]] == ["intent", "substance_use", "harm_to_others"]
    only_negated = ItemSet(items=tuple(i for i in hand_items().items if i.id == "h02"))
    topics = [t["topic"] for t in build_note(only_negated, load_template("crisis"))["header"]["not_assessed"]]
    assert "ideation" not in topics and "plan" in topics  # a denial is an assessment
    third_party = ItemSet(items=tuple(i for i in hand_items().items if i.id == "h05"))
    topics = [t["topic"] for t in build_note(third_party, load_template("crisis"))["header"]["not_assessed"]]
    assert "prior_attempts" in topics  # the brother's attempt says nothing about the client's


def test_empty_items_make_an_honest_note_without_defaults():
    md = render_markdown(build_note(ItemSet(items=()), load_template("soap")))
    assert "No risk statements were found in the recording." in md
    assert "Not mentioned in the recording." in md
    for word in ("denies", "normal", "no risk", "stable", "within normal"):
        assert word not in md.lower().replace("no risk statements were found", "")
    # every lethality topic is on the not-assessed checklist
    assert md.count("- [ ] ") == 8


def test_whole_recording_warnings_are_plain():
    t = hand_transcript()
    t = t.__class__(**{**t.__dict__, "flags": ("partial",)})
    md = render_markdown(build_note(hand_items(), load_template("crisis"), transcript=t))
    assert "- Whole recording: the file seems truncated or damaged: only part of it was transcribed" in md
    assert "- verify audio at 00:50" in md  # the doubtful segment of the hand transcript


def test_conflicting_statements_are_both_kept_and_flagged():
    ev = lambda q, t: Evidence(segment=0, start_char=0, end_char=len(q), quote=q, t_start=t)  # noqa: E731
    items = ItemSet(items=(
        Item(id="a", type="RISK", evidence=ev("no I'm not suicidal", 5.0), subtype="ideation_active", polarity="negated"),
        Item(id="b", type="RISK", evidence=ev("I've been thinking about killing myself", 65.0), subtype="ideation_active"),
    ))
    note = build_note(items, load_template("crisis"))
    assert note["header"]["conflicts"][0]["item_ids"] == ["a", "b"]
    md = render_markdown(note)
    assert "Suicidal ideation: denied and affirmed — check [00:05], [01:05]" in md


def test_past_use_beside_a_current_denial_is_history_not_a_conflict():
    ev = lambda q, t: Evidence(segment=0, start_char=0, end_char=len(q), quote=q, t_start=t)  # noqa: E731
    items = ItemSet(items=(
        Item(id="a", type="RISK_FACTOR", evidence=ev("I used to drink a lot", 5.0),
             value={"factor": "substance_use"}, temporality="past"),
        Item(id="b", type="RISK_FACTOR", evidence=ev("I don't drink now", 65.0),
             value={"factor": "substance_use"}, polarity="negated"),
    ))
    assert build_note(items, load_template("crisis"))["header"]["conflicts"] == []
    now = ItemSet(items=(items.items[0].__class__(**{**items.items[0].__dict__, "temporality": "current"}),
                         items.items[1]))
    assert len(build_note(now, load_template("crisis"))["header"]["conflicts"]) == 1


def test_safety_plan_is_in_the_clients_words():
    md = render_markdown(build_note(hand_items(), load_template("safety-plan")))
    step = lambda title: md.split(title, 1)[1].split("\n## ", 1)[0]  # noqa: E731
    assert "- “going for a walk helps” [01:40] (tried; helpful)" in step("Step 2 — Internal coping")
    assert "“call my sister” [01:50]" in step("Step 4 — People whom I can ask for help")
    assert "“he could hold the key” [01:15]" in step("Step 6 — Making the environment safe")
    assert "“my dog is the reason i'm still here” [02:00]" in step("Reasons for living")
    assert "988" in step("Step 5")


def test_followups_ics_parses_back_and_keeps_phi_out():
    data = render_ics(hand_items().items, uid_salt="abc123")
    cal = Calendar.from_ical(data)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 2
    timed, allday = events
    assert timed.decoded("dtstart").isoformat() == "2026-03-10T10:00:00"
    assert timed.decoded("duration").total_seconds() == 900
    assert allday.decoded("dtstart").isoformat() == "2026-03-17"
    assert "ambiguous" in str(allday.get("description")) and allday.get("status") == "TENTATIVE"
    assert len({str(e.get("uid")) for e in events}) == 2
    text = data.decode()
    for q in HAND_QUOTES:
        assert q.lower() not in text.lower()
    assert "sister" not in text.lower()
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and b"VERSION:2.0" in data and b"PRODID:" in data


def test_ics_flags_a_time_before_the_session_started():
    data = render_ics(hand_items().items, uid_salt="abc123", session_start="2026-03-10T12:00:00")
    timed = list(Calendar.from_ical(data).walk("VEVENT"))[0]
    assert "before the session started" in str(timed.get("description"))
    assert timed.get("status") == "TENTATIVE"


def test_no_ics_without_a_resolved_followup():
    items = ItemSet(items=tuple(i for i in hand_items().items if i.type != "FOLLOW_UP"))
    assert render_ics(items.items, uid_salt="x") is None


def test_review_page_escapes_transcript_text():
    evil = '</script><img src=x onerror="alert(1)"> & <b>bold</b>'
    t = hand_transcript()
    segs = list(t.segments)
    segs[0] = segs[0].__class__(**{**segs[0].__dict__, "text": segs[0].text + " " + evil})
    t = t.__class__(**{**t.__dict__, "segments": tuple(segs)})
    items = with_extractor_offsets(hand_items(), t)
    html = render_review_html(page_data(items, t, audio_name="audio.flac", items_sha256="0",
                                        title="<i>title</i>", generated_at="now"))
    assert evil not in html
    assert "<img" not in html and "<b>bold" not in html and "<i>title" not in html
    assert html.count("</script>") == 2  # the data block and the code block, nothing injected
    data_block = html.split('id="vn-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data_block)["segments"][0]["pieces"][-1]["text"].endswith(evil)
    assert "http://" not in html and "https://" not in html


def test_overlapping_evidence_highlights_the_risk_item_first():
    from voicenotes.review.page import _pieces

    ev = lambda a, b: Evidence(segment=0, start_char=a, end_char=b, quote="x")  # noqa: E731
    text = "I got laid off last week"
    pre = Item(id="p", type="PRECIPITANT", evidence=ev(2, 14))
    loss = Item(id="r", type="RISK_FACTOR", evidence=ev(6, 14))
    pieces = _pieces(text, [(2, 14, pre), (6, 14, loss)])
    assert [(p["text"], p["type"], p["items"]) for p in pieces] == [
        ("I ", None, []), ("got ", "PRECIPITANT", ["p"]), ("laid off", "RISK_FACTOR", ["r", "p"]),
        (" last week", None, [])]


def test_review_page_audio_link_survives_odd_file_names():
    html = render_review_html(page_data(hand_items(), None, audio_name="../rec #1 ?.flac",
                                        items_sha256="0", title="t", generated_at="now"))
    assert 'src="../rec%20%231%20%3F.flac"' in html


def test_unknown_template_is_a_plain_error(tmp_path):
    from voicenotes.errors import InputError

    with pytest.raises(InputError):
        load_template("narrative")
    bad = tmp_path / "site.toml"
    bad.write_text("title = 'x'\n[[sections]]\nid = 1\n")
    with pytest.raises(InputError):
        load_template(str(bad))
