"""The review app's decision store: ``review.state.json`` in the session folder.

Every decision (accept, edit, reject with a reason), every change of the clinician's fields and
the signing are written as they are made (atomic, 0600) and appended to the session's
hash-chained audit log, so a reload, a crash or the next day resumes where the clinician left off.
The audit log carries ids, decisions and hashes of the clinician's words, never the words.
Once the note is signed the store is read-only; an amendment opens a new, audited version.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicenotes.domain import RISK_TYPES
from voicenotes.errors import InputError, UsageError
from voicenotes.review import overlay
from voicenotes.schema import Item, ItemSet, Transcript
from voicenotes.store import sha256_bytes
from voicenotes.store.audit import append_audit, sha256_text
from voicenotes.store.seal import read_bytes, read_text, write_private_json

STATE_FILE = "review.state.json"
STATE_SCHEMA_VERSION = 1
STATUSES = ("accepted", "edited", "rejected")
RISK_LEVELS = ("low", "moderate", "high", "imminent")
CLINICIAN_FIELDS = ("risk_level", "rationale", "narrative", "name", "credentials",
                    "attestation", "date")
TEXT_LIMIT = 20_000


def load_transcript(folder: Path) -> Transcript | None:
    from voicenotes.store.validate import read_json

    try:  # checked against its schema; a damaged transcript means no highlights, not a crash
        return Transcript.from_dict(read_json(Path(folder) / "transcript.json", "transcript"))
    except InputError:
        return None


def item_key(item: Item) -> str:
    """What a decision is about: the item's type, place and words as the machine found them."""
    ev = item.evidence
    return sha256_text(f"{item.type}\x00{ev.segment}\x00{ev.start_char}\x00{ev.quote}")[:16]


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def empty_clinician() -> dict[str, Any]:
    return {"risk_level": "", "rationale": "", "narrative": "", "name": "", "credentials": "",
            "attestation": False, "date": ""}


class SignedError(UsageError):
    """The note is signed: decisions and fields are read-only until an amendment is opened."""


class DecisionStore:
    """Decisions, clinician fields and signature state of one session folder (thread-safe)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        items_path = self.folder / "items.json"
        from voicenotes.store.validate import loads

        try:
            items_bytes = read_bytes(items_path)  # sealed folders: decrypted in memory
        except FileNotFoundError:
            raise InputError(f"{self.folder} has no items.json, so it is not a session folder.",
                             hint="Give the folder `voicenotes note` wrote.") from None
        self.itemset = ItemSet.from_dict(loads(items_bytes, "items.json", "items"))
        self.items_sha256 = sha256_bytes(items_bytes)
        self.transcript = load_transcript(self.folder)
        self.path = self.folder / STATE_FILE
        self._lock = threading.RLock()
        self.state = self._load()

    # ------------------------------------------------------------------ loading and saving

    def _load(self) -> dict[str, Any]:
        fresh = {"schema_version": STATE_SCHEMA_VERSION, "items_sha256": self.items_sha256,
                 "decisions": {}, "clinician": empty_clinician(), "template": None,
                 "signed": None, "version": 1, "added": [], "corrections": [],
                 "roles_swapped": False}
        try:
            raw = json.loads(read_text(self.path))
        except FileNotFoundError:
            return fresh
        except (OSError, UnicodeDecodeError, ValueError):
            raw = None
        if not isinstance(raw, dict):
            raise InputError(f"The saved review in {self.path.name} is damaged.",
                             hint="Move it aside to start the review again.")
        state = {**fresh, **raw}
        # decisions about items this items.json no longer has are not applied
        # a decision is kept only for the very item it was made on: items.json may have been
        # written again since, and extractor ids (i001, ...) name different items then
        keys = {i.id: item_key(i) for i in self.itemset.items}
        keys.update({d["id"]: item_key(Item.from_dict(d)) for d in state["added"]})
        state["decisions"] = {k: v for k, v in dict(state["decisions"]).items()
                              if k in keys and v.get("item_key", keys[k]) == keys[k]}
        state["clinician"] = {**empty_clinician(), **dict(state.get("clinician") or {})}
        return state

    def _save(self, events: list[dict[str, Any]]) -> None:
        from voicenotes.store.lock import FolderBusy, session_lock

        try:
            with session_lock(self.folder, "review"):  # one writer per folder
                self.state["updated_at"] = now()
                # a sealed folder's state is written sealed (it holds the clinician's wording)
                state_sha = sha256_bytes(write_private_json(self.path, self.state))
                append_audit(self.folder, [{**e, "state_sha256": state_sha,
                                            "version": self.state["version"]} for e in events])
        except FolderBusy:  # another command writes: refused, and the unsaved change undone
            self.state = self._load()
            raise

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self.state))

    def _check_open(self) -> None:
        if self.state.get("signed"):
            raise SignedError("This note is signed and read-only.",
                              hint="Open an amendment to change it; the signed version is kept.")

    # ------------------------------------------------------------------ decisions

    def decide(self, item_id: str, status: str, *, reason: str = "",
               edited_text: str = "") -> dict[str, Any]:
        with self._lock:
            self._check_open()
            review = self._review(item_id, status, reason, edited_text)
            self.state["decisions"][item_id] = review
            self._save([self._event(item_id, review)])
            return review

    def clear(self, item_id: str) -> None:
        with self._lock:
            self._check_open()
            self._item(item_id)
            if self.state["decisions"].pop(item_id, None) is not None:
                self._save([{"event": "review_cleared", "item_id": item_id}])

    def bulk_accept(self, item_ids: list[str]) -> int:
        """Accept the listed non-risk items that have no decision yet; risk items are refused
        (each needs its own look)."""
        with self._lock:
            self._check_open()
            events = []
            for item_id in item_ids:
                if self._item(item_id).type in RISK_TYPES:
                    raise UsageError("Risk items cannot be accepted in bulk.",
                                     hint="Accept, edit or reject each risk item on its own.")
                if item_id in self.state["decisions"]:
                    continue
                review = self._review(item_id, "accepted", "", "")
                self.state["decisions"][item_id] = review
                events.append({**self._event(item_id, review), "bulk": True})
            if events:
                self._save(events)
            return len(events)

    def effective(self) -> tuple[ItemSet, Transcript | None]:
        """Items and transcript with the clinician's additions, corrections and role swap."""
        with self._lock:
            return overlay.effective(self.itemset, self.transcript, self.state)

    def _item(self, item_id: str) -> Item:
        item = next((i for i in self.effective()[0].items if i.id == item_id), None)
        if item is None:
            raise UsageError("That item is not in this session.", hint="Reload the page.")
        return item

    def _review(self, item_id: str, status: str, reason: str, edited_text: str) -> dict[str, Any]:
        self._item(item_id)
        if status not in STATUSES:
            raise UsageError(f"Unknown decision {status!r}.", hint="Accept, edit or reject.")
        reason, edited_text = str(reason).strip()[:TEXT_LIMIT], str(edited_text).strip()[:TEXT_LIMIT]
        if status == "rejected" and not reason:
            raise UsageError("A rejection needs a reason.", hint="Say why the item is wrong.")
        if status == "edited" and not edited_text:
            raise UsageError("An edit needs the new wording.", hint="Type the wording to keep.")
        return {"status": status, "item_key": self._key(item_id),
                "reason": reason if status == "rejected" else "",
                "edited_text": edited_text if status == "edited" else "", "reviewed_at": now()}

    def _key(self, item_id: str) -> str:
        base = next((i for i in self.itemset.items if i.id == item_id), None)
        if base is None:
            base = next(Item.from_dict(d) for d in self.state["added"] if d["id"] == item_id)
        return item_key(base)

    def _event(self, item_id: str, review: dict[str, Any]) -> dict[str, Any]:
        item = self._item(item_id)
        return {"event": "review_decision", "item_id": item_id, "item_type": item.type,
                "risk": item.type in RISK_TYPES, "decision": review["status"],
                "reason_sha256": sha256_text(review["reason"]) if review["reason"] else None,
                "edited_text_sha256": (sha256_text(review["edited_text"])
                                       if review["edited_text"] else None)}

    # ------------------------------------------------------------------ the overlay

    def _texts(self) -> list[str]:
        return overlay.corrected_texts(self.transcript, self.state["corrections"])

    def add_item(self, body: dict[str, Any]) -> str:
        """Add an item the extractor missed, from a transcript selection (accepted: the
        clinician made it)."""
        with self._lock:
            self._check_open()
            item = overlay.new_item(self.transcript, self._texts(), body,
                                    len(self.state["added"]) + 1, now())
            self.state["added"].append(item.to_dict())
            self.state["decisions"][item.id] = {**item.review, "item_key": item_key(item)}
            self._save([{"event": "item_added", "item_id": item.id, "item_type": item.type,
                         "risk": item.type in RISK_TYPES, "segment": item.evidence.segment,
                         "quote_sha256": sha256_text(item.evidence.quote)}])
            return item.id

    def correct(self, body: dict[str, Any]) -> None:
        """Correct transcript words; the original is kept in the state, the change audited."""
        with self._lock:
            self._check_open()
            c = overlay.correction(self.transcript, self._texts(), body, now())
            self.state["corrections"].append(c)
            self._save([{"event": "transcript_corrected", "segment": c["segment"],
                         "original_sha256": sha256_text(c["original"]),
                         "text_sha256": sha256_text(c["text"])}])

    def swap_roles(self) -> bool:
        with self._lock:
            self._check_open()
            self.state["roles_swapped"] = not self.state["roles_swapped"]
            self._save([{"event": "roles_swapped", "swapped": self.state["roles_swapped"]}])
            return bool(self.state["roles_swapped"])

    # ------------------------------------------------------------------ clinician fields

    def set_clinician(self, fields: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._check_open()
            cur = self.state["clinician"]
            changed = []
            for key, value in fields.items():
                if key not in CLINICIAN_FIELDS:
                    continue
                value = bool(value) if key == "attestation" else str(value or "").strip()[:TEXT_LIMIT]
                if key == "risk_level" and value not in ("", *RISK_LEVELS):
                    raise UsageError(f"Unknown risk level {value!r}.",
                                     hint="Choose low, moderate, high or imminent.")
                if cur.get(key) != value:
                    cur[key] = value
                    changed.append(key)
            if changed:
                self._save([{"event": "clinician_fields", "fields": sorted(changed),
                             "risk_level": cur["risk_level"] or None}])
            return dict(cur)

    def set_template(self, name: str) -> None:
        with self._lock:
            if self.state.get("template") != name and not self.state.get("signed"):
                self.state["template"] = name
                self._save([{"event": "template_chosen", "template": name}])

    # ------------------------------------------------------------------ signing

    def risk_items(self) -> list[Item]:
        return [i for i in self.effective()[0].items if i.type in RISK_TYPES]

    def blockers(self) -> list[str]:
        """What still stands between the clinician and Sign (plain words, no session text)."""
        out = []
        open_risk = [i for i in self.risk_items() if i.id not in self.state["decisions"]]
        if open_risk:
            out.append(f"{len(open_risk)} risk item(s) still need a decision")
        c = self.state["clinician"]
        if c["risk_level"] not in RISK_LEVELS:
            out.append("set the overall risk level")
        if not c["name"]:
            out.append("enter your name")
        if not c["attestation"]:
            out.append("confirm the attestation")
        return out

    def reviewed_itemset(self) -> ItemSet:
        items = tuple(Item.from_dict({**i.to_dict(),
                                      "review": dict(self.state["decisions"].get(i.id) or {})})
                      for i in self.effective()[0].items)
        s = self.itemset
        return ItemSet(items=items, mode=s.mode, session_start=s.session_start,
                       rules_version=s.rules_version, transcript_sha256=s.transcript_sha256,
                       provenance=s.provenance)

    def mark_signed(self, info: dict[str, Any]) -> None:
        with self._lock:
            self._check_open()
            if self.blockers():
                raise UsageError("The note cannot be signed yet: " + "; ".join(self.blockers())
                                 + ".", hint="Finish these, then sign.")
            self.state["signed"] = {**info, "signed_at": info.get("signed_at") or now()}
            self._save([{"event": "note_signed", **{k: v for k, v in info.items()
                                                    if k.endswith(("sha256", "template", "files"))}}])

    def amend(self) -> int:
        """Open a new version of a signed note; the signed files of the old one are kept."""
        with self._lock:
            if not self.state.get("signed"):
                raise UsageError("The note is not signed, so there is nothing to amend.")
            history = list(self.state.get("history") or [])
            history.append(self.state["signed"])
            self.state.update(history=history, signed=None, version=self.state["version"] + 1)
            self.state["clinician"]["attestation"] = False
            self._save([{"event": "amendment_opened"}])
            return int(self.state["version"])
