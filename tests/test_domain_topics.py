"""One lethality-topic mapping (voicenotes.domain.topics_of): the note's "Not assessed" checklist
and the batch report's columns read it, so they agree item by item."""

from __future__ import annotations

import pytest

from voicenotes.batch.report_rows import LETHALITY, topic_of
from voicenotes.domain import LETHALITY_TOPICS
from voicenotes.note.build import _topics
from voicenotes.schema import Evidence, Item

CASES = [
    ("RISK", "preparatory", {}, "I bought a rope yesterday", {"plan"}),
    ("RISK", "attempt", {}, "took a bottle of pills last year", {"prior_attempts"}),
    ("RISK", None, {}, "thinking about it", {"ideation"}),
    ("RISK", "harm_to_others", {}, "want to hurt him", {"harm_to_others"}),
    ("RISK_FACTOR", None, {"factor": "substance_use"}, "drinking every night", {"substance_use"}),
    ("RISK_FACTOR", None, {}, "been drinking a fifth a day", {"substance_use"}),
    ("MEANS_SAFETY", None, {}, "gave the gun to his brother", {"means_access"}),
    ("PROTECTIVE", None, {}, "my kids keep me going", {"protective_factors"}),
]


@pytest.mark.parametrize("typ,sub,value,quote,want", CASES)
def test_note_and_report_read_the_same_topics(typ, sub, value, quote, want):
    item = Item(id="i001", type=typ, subtype=sub, value=value,
                evidence=Evidence(segment=0, start_char=0, end_char=len(quote), quote=quote))
    lethal = {k for k, _ in LETHALITY_TOPICS}
    as_dict = {"type": typ, "subtype": sub, "value": value, "evidence": {"quote": quote}}
    assert _topics(item) == want
    assert set(topic_of(as_dict)) & lethal == want


def test_someone_elses_statement_assesses_nothing_of_the_clients():
    item = Item(id="i001", type="RISK", subtype="attempt", experiencer="other",
                evidence=Evidence(segment=0, start_char=0, end_char=5, quote="tried"))
    assert _topics(item) == set()
    assert LETHALITY == LETHALITY_TOPICS
