"""The review workstation on a sealed folder writes nothing in the clear.

A real session folder (`note` on a short speech clip with tiny.en) is sealed through the CLI, then
reviewed through the real review server over HTTP: a decision with edited wording, the clinician's
fields and the signing. Every new file must be sealed, the decision must be read back by a new
server, and `unseal` must give a readable review.state.json."""

from __future__ import annotations

import json
import os
import urllib.request

from test_seal import AGE_HEADER, CLEAR, home, keyed, real_session, runner  # noqa: F401  (fixtures)

from voicenotes.cli import app

MARK = "Zebrawording clinician phrase"


def _post(server, action, body):
    req = urllib.request.Request(server.url + "api/" + action, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
        return json.loads(r.read())


def _serve(folder):
    from voicenotes.review.app import ReviewApp, ReviewServer
    from voicenotes.store import seal

    seal._IDENTITY_CACHE.clear()  # a new process would start without the opened key
    review = ReviewApp(folder)
    return review, ReviewServer(review, 0).start()


def test_review_and_signing_of_a_sealed_folder_leave_no_plaintext(keyed, real_session, tmp_path):
    import shutil

    from voicenotes.store.seal import read_text

    folder = tmp_path / "sealed"
    shutil.copytree(real_session, folder)
    words = [s["text"].strip() for s in json.loads((folder / "transcript.json").read_text())
             ["segments"] if len(s["text"].strip()) > 8]
    assert words, "the clip gave no transcript words to look for"
    assert runner.invoke(app, ["seal", str(folder)]).exit_code == 0
    before = set(os.listdir(folder))

    review, server = _serve(folder)
    try:
        items = review.store.itemset.items
        assert items, "the clip gave no items to decide on"
        first = items[0].id
        _post(server, "decide", {"id": first, "status": "edited", "edited_text": MARK})
        for i in review.store.risk_items():
            if i.id != first:
                _post(server, "decide", {"id": i.id, "status": "accepted"})
        _post(server, "clinician", {"fields": {"name": "Dr Test", "risk_level": "low",
                                               "rationale": MARK, "attestation": True}})
        signed = _post(server, "sign", {})
    finally:
        server.stop()
    assert signed.get("signed") or review.store.state.get("signed")

    names = set(os.listdir(folder))
    new = names - before
    assert "review.state.json.age" in new and "items.reviewed.json.age" in new
    assert any(n.startswith("note.signed") and n.endswith(".md.age") for n in new)
    assert not [n for n in names if n not in CLEAR and not n.endswith(".age")], names
    for n in names:  # no session words and no clinician wording anywhere in the clear
        data = (folder / n).read_bytes()
        if n.endswith(".age") and n != "sealed.key.age":
            assert data.startswith(AGE_HEADER), n
        text = data.decode("utf-8", "replace").lower()
        assert MARK.lower() not in text, n
        assert not [w for w in words if w.lower() in text], n
        assert (folder / n).stat().st_mode & 0o077 == 0, n

    # a new server (the key opened afresh) reads the decision and the signature back
    again, server = _serve(folder)
    server.stop()
    assert again.store.state["decisions"][first]["edited_text"] == MARK
    assert again.store.state["signed"]
    assert MARK in read_text(folder / "items.reviewed.json")

    res = runner.invoke(app, ["unseal", str(folder)])
    assert res.exit_code == 0, res.output
    state = json.loads((folder / "review.state.json").read_text("utf-8"))
    assert state["decisions"][first]["edited_text"] == MARK
    assert state["clinician"]["rationale"] == MARK
    assert MARK in (folder / "items.reviewed.json").read_text("utf-8")


def test_a_passphrase_folder_is_written_to_its_own_key_or_refused(home, tmp_path, monkeypatch):
    from test_note_helpers import items_input

    from voicenotes.errors import InputError
    from voicenotes.review.app import ReviewApp
    from voicenotes.store import seal

    src, items = items_input(tmp_path)
    out = tmp_path / "out"
    assert runner.invoke(app, ["note", str(src / "items.json"), "--out", str(out)]).exit_code == 0
    monkeypatch.setenv("VOICENOTES_PASSPHRASE", "correct horse battery staple")
    res = runner.invoke(app, ["seal", str(out), "--passphrase"])
    assert res.exit_code == 0, res.output
    seal._IDENTITY_CACHE.clear()
    review = ReviewApp(out)  # opens the folder key with the passphrase, once
    monkeypatch.delenv("VOICENOTES_PASSPHRASE")
    first = items.items[0].id
    review.post("decide", {"id": first, "status": "edited", "edited_text": MARK})
    assert (out / "review.state.json.age").is_file() and not (out / "review.state.json").exists()
    # it opens with the folder's own key (no installation key exists here)
    assert MARK in seal.read_text(out / "review.state.json")
    # without the folder key opened, nothing is written, and the refusal is one plain line
    seal._IDENTITY_CACHE.clear()
    before = (out / "review.state.json.age").read_bytes()
    try:
        seal.write_private(out / "review.state.json", b"{}")
    except InputError as exc:
        assert "passphrase" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("a passphrase folder was written without its key")
    assert (out / "review.state.json.age").read_bytes() == before
    assert not (out / "review.state.json").exists()
