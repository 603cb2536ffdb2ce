"""The note being signed: built from the session's items, the clinician's decisions and fields,
in the chosen template; signing writes it (JSON, Markdown, plain text, DOCX, PDF) and locks it.

Also the session's export: the signed note when there is one, else the draft with a DRAFT banner.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from voicenotes.errors import InputError
from voicenotes.note.build import build_note
from voicenotes.note.export import ATTESTATION, FORMATS, render_exports, write_exports
from voicenotes.note.templates import DEFAULT_TEMPLATE, TEMPLATE_NAMES, load_template
from voicenotes.review.decisions import STATE_FILE, DecisionStore, load_transcript, now
from voicenotes.schema import Transcript

__all__ = ["export_session", "load_transcript", "session_note", "sign"]
from voicenotes.store import sha256_bytes
from voicenotes.store.audit import audit_head
from voicenotes.store.seal import exists, read_text, write_private, write_private_json

SIGNED_STEM = "note.signed"
DRAFT_STEM = "note.draft"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(read_text(path))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def draft_note(folder: Path) -> dict[str, Any]:
    return _read_json(Path(folder) / "note.json") or {}


def template_of(store: DecisionStore, requested: str | None = None) -> str:
    name = requested or store.state.get("template") or draft_note(store.folder).get("template")
    return name if name in TEMPLATE_NAMES else DEFAULT_TEMPLATE


def session_note(store: DecisionStore, template: str | None = None,
                 transcript: Transcript | None = None) -> dict[str, Any]:
    """The note as it would be signed now (decisions applied, clinician fields in place)."""
    draft = draft_note(store.folder)
    transcript = transcript if transcript is not None else store.effective()[1]
    tpl = load_template(template_of(store, template))
    consent = (draft.get("header") or {}).get("consent_record")
    prov = dict(draft.get("provenance") or {})
    prov.update(template=tpl.name, generated_at=now())
    note = build_note(store.reviewed_itemset(), tpl, transcript=transcript, consent=consent,
                      provenance=prov, reviewed=True)
    c = store.state["clinician"]
    note["clinician"] = {k: c[k] for k in ("risk_level", "rationale", "narrative")}
    return note


def sign(store: DecisionStore, template: str | None = None,
         transcript: Transcript | None = None) -> dict[str, Any]:
    """Write the signed note and its exports, then lock the review. Refused (nothing written)
    while a risk item is undecided or the risk level, name or attestation is missing."""
    store._check_open()
    blockers = store.blockers()
    if blockers:
        from voicenotes.errors import UsageError

        raise UsageError("The note cannot be signed yet: " + "; ".join(blockers) + ".",
                         hint="Finish these, then sign.")
    note = session_note(store, template, transcript)
    c = store.state["clinician"]
    signed_at = now()
    note["status"], note["notice"] = "signed", "Signed by the reviewing clinician"
    note["signature"] = {"name": c["name"], "credentials": c["credentials"],
                         "date": c["date"] or signed_at[:10], "signed_at": signed_at,
                         "attestation_text": ATTESTATION}
    version = int(store.state.get("version") or 1)
    stem = SIGNED_STEM if version == 1 else f"{SIGNED_STEM}.v{version}"
    folder = store.folder
    note["provenance"] = {**(note.get("provenance") or {}), "audit_head": audit_head(folder)}
    from voicenotes.store.lock import session_lock

    with session_lock(folder, "review"):  # the signed files and the state in one writer's turn
        # in a sealed folder each file is written sealed (NAME.age); hashes are of the plaintext
        files = {f"{stem}.json": sha256_bytes(write_private_json(folder / f"{stem}.json", note))}
        for fmt, data in render_exports(note, FORMATS).items():
            write_private(folder / f"{stem}.{fmt}", data)
            files[f"{stem}.{fmt}"] = sha256_bytes(data)
        reviewed = store.reviewed_itemset().to_dict()
        files["items.reviewed.json"] = sha256_bytes(
            write_private_json(folder / "items.reviewed.json", reviewed))
        store.mark_signed({"stem": stem, "template": note["template"], "files": files,
                           "signed_at": signed_at, "note_sha256": files[f"{stem}.json"]})
    return {"stem": stem, "files": sorted(files), "signed_at": signed_at}


def export_session(folder: Path, formats: list[str]) -> tuple[str, dict[str, Path]]:
    """Write the exports of the signed note, else of the draft (with its DRAFT banner)."""
    folder = Path(folder)
    if not exists(folder / "items.json") and not exists(folder / "note.json"):
        raise InputError(f"{folder} is not a session folder (it has no note.json).",
                         hint="Give the folder `voicenotes note` wrote.")
    state = _read_json(folder / STATE_FILE) or {}
    signed = state.get("signed") or {}
    note = _read_json(folder / f"{signed.get('stem')}.json") if signed.get("stem") else None
    if note is not None and note.get("status") == "signed":
        return "signed", write_exports(note, folder, signed["stem"], formats)
    for name in ("note.reviewed.json", "note.json"):
        note = _read_json(folder / name)
        if note is not None:
            note = {**note, "status": "draft"}
            note.pop("signature", None)
            return "draft", write_exports(note, folder, DRAFT_STEM, formats)
    raise InputError(f"{folder} has no readable note.json.",
                     hint="Run voicenotes note on the recording again.")
