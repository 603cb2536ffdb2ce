"""The review app's decision store and signing, without a browser: the rules the server enforces
(risk items one by one, Sign gated, a signed note read-only, amendments as new versions)."""

from __future__ import annotations

import json
import stat

import pytest
from test_note_helpers import hand_items, hand_transcript

from voicenotes.errors import UsageError
from voicenotes.review.decisions import DecisionStore, SignedError
from voicenotes.review.sign import export_session, sign
from voicenotes.store.audit import verify_audit

RISK = ("RISK", "RISK_FACTOR", "MEANS")


@pytest.fixture
def folder(tmp_path):
    from voicenotes.pipeline import run_note

    src = tmp_path / "src"
    src.mkdir()
    (src / "items.json").write_text(json.dumps(hand_items().to_dict()))
    (src / "transcript.json").write_text(json.dumps(hand_transcript().to_dict()))
    out = tmp_path / "session"
    run_note(src / "items.json", out)
    return out


def test_sign_is_gated_then_read_only_and_amendments_are_new_versions(folder):
    st = DecisionStore(folder)
    risk = [i for i in st.itemset.items if i.type in RISK]
    other = [i for i in st.itemset.items if i.type not in RISK]
    with pytest.raises(UsageError, match="cannot be accepted in bulk"):
        st.bulk_accept([risk[0].id])
    assert st.bulk_accept([i.id for i in other]) == len(other)
    with pytest.raises(UsageError, match="needs a reason"):
        st.decide(risk[0].id, "rejected")
    for it in risk[:-1]:
        st.decide(it.id, "accepted")
    st.set_clinician({"name": "Dana Reyes", "attestation": True, "risk_level": "moderate"})
    with pytest.raises(UsageError, match="1 risk item"):
        sign(st)
    st.decide(risk[-1].id, "rejected", reason="not said")
    st.set_clinician({"risk_level": ""})
    with pytest.raises(UsageError, match="risk level"):
        sign(st)
    assert not (folder / "note.signed.txt").exists()
    with pytest.raises(UsageError, match="risk level"):
        st.set_clinician({"risk_level": "severe"})
    st.set_clinician({"risk_level": "moderate"})
    out = sign(st)
    assert out["stem"] == "note.signed" and "note.signed.pdf" in out["files"]
    with pytest.raises(SignedError):
        st.decide(risk[0].id, "rejected", reason="changed my mind")
    # a restart reads the same state: still signed
    st2 = DecisionStore(folder)
    with pytest.raises(SignedError):
        st2.set_clinician({"risk_level": "high"})
    v1 = (folder / "note.signed.txt").read_text()
    assert st2.amend() == 2 and st2.blockers() == ["confirm the attestation"]
    st2.set_clinician({"risk_level": "high", "attestation": True})
    assert sign(st2)["stem"] == "note.signed.v2"
    assert (folder / "note.signed.txt").read_text() == v1  # the first signed version is kept
    assert "Overall risk level: High." in (folder / "note.signed.v2.txt").read_text()
    kind, paths = export_session(folder, ["txt"])
    assert kind == "signed" and paths["txt"].name == "note.signed.v2.txt"
    assert stat.S_IMODE(paths["txt"].stat().st_mode) == 0o600
    log = folder / "audit.jsonl"
    events = [json.loads(x)["event"] for x in log.read_text().splitlines()]
    assert events.count("note_signed") == 2 and "amendment_opened" in events and verify_audit(log)
    assert "not said" not in log.read_text() and "Dana Reyes" not in log.read_text()


def test_saved_decisions_apply_only_to_the_items_they_were_made_on(folder):
    st = DecisionStore(folder)
    first, second = st.itemset.items[0], st.itemset.items[1]
    st.decide(first.id, "accepted")
    st.decide(second.id, "rejected", reason="not said")
    # items.json written again (another run): the first id now names different words
    data = json.loads((folder / "items.json").read_text())
    data["items"][0]["evidence"]["quote"] = "something else entirely"
    (folder / "items.json").write_text(json.dumps(data))
    st2 = DecisionStore(folder)
    assert first.id not in st2.state["decisions"]
    assert st2.state["decisions"][second.id]["status"] == "rejected"
