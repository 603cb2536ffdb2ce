"""``voicenotes review``: the review workstation, a small local web app (standard library only).

Bound to 127.0.0.1, never another interface. Every URL lives under a one-time random token
(``http://127.0.0.1:PORT/TOKEN/``); a request without it, or with a Host header that is not the
loopback address (DNS rebinding), gets 403. Pages are built with ``textContent`` only and a
Content-Security-Policy allows nothing but this server. The server logs nothing (URLs carry the
token; request bodies carry session words). It stops on Ctrl-C, or when the page has been
closed for ``idle_stop_s`` seconds (an open page pings every 20 s).
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import re
import secrets
import threading
import time
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2

from voicenotes.domain import EXPERIENCER, MODALITY, POLARITY, TEMPORALITY
from voicenotes.errors import VoicenotesError
from voicenotes.note.export import ATTESTATION, blocks, render_text
from voicenotes.note.templates import TEMPLATE_NAMES, labels
from voicenotes.review.decisions import RISK_LEVELS, DecisionStore
from voicenotes.review.page import _safe_json, page_data
from voicenotes.review.sign import session_note, sign, template_of

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; media-src 'self'; "
       "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
STATIC = ("app.js", "app.css")
MAX_BODY = 1 << 20
PING_S = 20


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("voicenotes.review", "templates"),
                              autoescape=True)


def _static(name: str) -> bytes:
    return resources.files("voicenotes.review").joinpath("static", name).read_bytes()


class ReviewApp:
    """The state behind the server: one session folder, its decisions and its token."""

    def __init__(self, folder: Path, *, template: str | None = None, idle_stop_s: float = 300):
        self.folder = Path(folder)
        self.store = DecisionStore(self.folder)
        if template:
            self.store.set_template(template)
        self.token = secrets.token_urlsafe(24)
        self.audio = next((p.name for p in sorted(self.folder.glob("audio.*")) if p.is_file()),
                          None)
        self.idle_stop_s = idle_stop_s
        self.last_seen: float | None = None

    def page(self) -> bytes:
        items, transcript = self.store.effective()
        data = page_data(items, transcript, audio_name=self.audio,
                         items_sha256=self.store.items_sha256, title=self._title(),
                         generated_at="")
        data.pop("itemset", None)
        data.update(type_labels=labels()["type"], templates=list(TEMPLATE_NAMES),
                    attributes={"polarity": POLARITY, "experiencer": EXPERIENCER,
                                "temporality": TEMPORALITY, "modality": MODALITY},
                    risk_levels=list(RISK_LEVELS), attestation=ATTESTATION, ping_s=PING_S)
        html = _env().get_template("app.html.j2").render(
            title=data["title"], data_json=_safe_json(data), risk_levels=RISK_LEVELS,
            attestation=ATTESTATION)
        return html.encode("utf-8")

    def _title(self) -> str:
        tr = self.store.transcript
        name = tr.audio.file_name if tr is not None else None
        return "Review — " + (name or self.folder.name)

    def state(self) -> dict[str, Any]:
        s = self.store.snapshot()
        return {"decisions": s["decisions"], "clinician": s["clinician"], "signed": s["signed"],
                "version": s["version"], "template": template_of(self.store),
                "blockers": self.store.blockers()}

    def preview(self, template: str | None) -> dict[str, Any]:
        signed = self.store.snapshot().get("signed") or {}
        note = None
        if signed.get("stem"):  # a signed note is shown (and copied) exactly as it was signed
            try:
                note = json.loads((self.folder / f"{signed['stem']}.json").read_text("utf-8"))
            except (OSError, ValueError):
                note = None
        if note is None:
            note = session_note(self.store, template)
        return {"blocks": blocks(note), "text": render_text(note)}

    # ------------------------------------------------------------------ POST actions

    def post(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        st = self.store
        if action == "decide":
            if body.get("status"):
                st.decide(str(body.get("id")), str(body["status"]),
                          reason=str(body.get("reason") or ""),
                          edited_text=str(body.get("edited_text") or ""))
            else:
                st.clear(str(body.get("id")))
        elif action == "bulk":
            st.bulk_accept([str(i) for i in body.get("ids") or []])
        elif action == "clinician":
            st.set_clinician(dict(body.get("fields") or {}))
        elif action == "template":
            name = str(body.get("template"))
            if name in TEMPLATE_NAMES:
                st.set_template(name)
        elif action == "sign":
            sign(st, body.get("template"))
        elif action == "add":
            st.add_item(body)
        elif action == "correct":
            st.correct(body)
        elif action == "swap":
            st.swap_roles()
        elif action == "amend":
            st.amend()
        else:
            raise KeyError(action)
        return self.state()


class _Handler(BaseHTTPRequestHandler):
    app: ReviewApp
    server_version = "voicenotes"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return  # nothing of a session goes to a log

    def _allowed_host(self) -> bool:
        port = self.server.server_address[1]  # type: ignore[index]
        return self.headers.get("Host", "") in (f"127.0.0.1:{port}", f"localhost:{port}")

    def _route(self) -> str | None:
        """The path after the token, or None when the token is missing or wrong."""
        path = urlsplit(self.path).path
        m = re.match(r"^/([A-Za-z0-9_-]+)(/.*)?$", path)
        if not m or not self._allowed_host() or not hmac.compare_digest(
                m.group(1).encode(), self.app.token.encode()):
            return None
        self.app.last_seen = time.monotonic()
        return (m.group(2) or "")[1:] if m.group(2) is not None else None

    def _send(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, obj: Any) -> None:
        self._send(code, json.dumps(obj, ensure_ascii=False).encode(), "application/json")

    def _forbidden(self) -> None:
        self._send(403, b"Forbidden: open the address voicenotes review printed.\n",
                   "text/plain; charset=utf-8")

    def do_GET(self) -> None:
        route = self._route()
        if route is None:
            path = urlsplit(self.path).path
            if self._allowed_host() and hmac.compare_digest(
                    path.encode(), f"/{self.app.token}".encode()):
                self._send(301, b"", "text/plain", {"Location": f"/{self.app.token}/"})
                return
            self._forbidden()
            return
        try:
            self._get(route)
        except VoicenotesError as exc:
            self._json(409, {"error": str(exc)})

    def _get(self, route: str) -> None:
        query = parse_qs(urlsplit(self.path).query)
        if route == "":
            self._send(200, self.app.page(), "text/html; charset=utf-8")
        elif route.startswith("static/") and route[7:] in STATIC:
            ctype = "text/css" if route.endswith(".css") else "text/javascript"
            self._send(200, _static(route[7:]), ctype + "; charset=utf-8")
        elif route == "api/state":
            self._json(200, self.app.state())
        elif route == "api/preview":
            self._json(200, self.app.preview((query.get("template") or [""])[0] or None))
        elif self.app.audio and route == self.app.audio:
            self._audio(self.app.folder / self.app.audio)
        else:
            self._send(404, b"Not found\n", "text/plain")

    def _audio(self, path: Path) -> None:
        data = path.read_bytes()
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        m = re.match(r"bytes=(\d*)-(\d*)$", self.headers.get("Range", ""))
        if not m or not (m.group(1) or m.group(2)):
            self._send(200, data, ctype, {"Accept-Ranges": "bytes"})
            return
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
        else:
            start, end = max(0, len(data) - int(m.group(2))), len(data) - 1
        if start > end or start >= len(data):
            self._send(416, b"", ctype, {"Content-Range": f"bytes */{len(data)}"})
            return
        self._send(206, data[start:end + 1], ctype,
                   {"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{len(data)}"})

    def do_POST(self) -> None:
        route = self._route()
        if route is None:
            self._forbidden()
            return
        if not route.startswith("api/") or "json" not in self.headers.get("Content-Type", ""):
            self._send(404, b"Not found\n", "text/plain")
            return
        try:
            n = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(min(n, MAX_BODY)) or b"{}") if n <= MAX_BODY else None
            if not isinstance(body, dict):
                raise ValueError
            self._json(200, self.app.post(route[4:], body))
        except KeyError:
            self._send(404, b"Not found\n", "text/plain")
        except ValueError:
            self._json(400, {"error": "The request was not understood; reload the page."})
        except VoicenotesError as exc:
            self._json(409, {"error": str(exc)})

    do_HEAD = do_GET


def make_handler(app: ReviewApp) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"app": app})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # the default prints a traceback to stderr, and a traceback could carry session words
        import sys

        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            print(f"voicenotes review: a request failed ({type(exc).__name__}).", file=sys.stderr)


class ReviewServer:
    """The HTTP server on 127.0.0.1 in a background thread."""

    def __init__(self, app: ReviewApp, port: int = 0):
        self.app = app
        self.httpd = _Server(("127.0.0.1", port), make_handler(app))
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/{app.token}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="voicenotes-review",
                                       daemon=True)

    def start(self) -> ReviewServer:
        self.thread.start()
        return self

    def idle(self) -> bool:
        """True once the page was open and has not been heard from for ``idle_stop_s``."""
        seen = self.app.last_seen
        return seen is not None and time.monotonic() - seen > self.app.idle_stop_s

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
