"""The review workstation (`voicenotes review`) in a real headless Chromium against the real
server process on loopback, and the exports it signs.

Session folders are made by the real chain from gold session cases (their turns with the real
times of their audio rendering -> the real extractor -> run_note), with the case's FLAC beside.
The server runs as `python -m voicenotes review`, a separate process, so a kill -9 is a real crash.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser import make_driver
from test_note_helpers import EXTRACTION, gold_cases, write_transcript

from voicenotes.store.audit import verify_audit

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
RISK = ("RISK", "RISK_FACTOR", "MEANS")
REASON = "misheard, not said"
EDIT = "Client denied a plan when asked."
RATIONALE = "Recent method research and access to pills; agreed to hand them over."


def _make_session(tmp_path_factory, case_id: str) -> Path:
    from voicenotes.pipeline import NoteOptions, run_note

    case = gold_cases()[case_id]
    src = tmp_path_factory.mktemp(f"src-{case_id}")
    write_transcript(case, src)
    shutil.copy(EXTRACTION / "audio" / f"{case_id}.flac", src / f"{case_id}.flac")
    out = tmp_path_factory.mktemp(f"session-{case_id}")
    run_note(src / "transcript.json", out, NoteOptions(template="crisis"))
    return out


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    return _make_session(tmp_path_factory, "dev-46")


@pytest.fixture(scope="module")
def other_session(tmp_path_factory) -> Path:
    return _make_session(tmp_path_factory, "dev-41")


class Server:
    """`voicenotes review DIR --no-browser` as a child process; ``url`` from its first line."""

    def __init__(self, folder: Path):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voicenotes", "review", str(folder), "--no-browser"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/[A-Za-z0-9_-]+/)", line)
        assert m, (line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.url = m.group(1)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    drv = make_driver(tmp_path_factory.mktemp("chrome-profile"), 1280, 800)
    drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                        {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    yield drv
    drv.quit()


def _wait(fn, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = fn()
        except Exception:  # an element re-rendered between lookups
            v = None
        if v:
            return v
        time.sleep(0.05)
    return fn()


def _status(url, **kw) -> int:
    req = urllib.request.Request(url, **kw)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_no_token_gets_403(session):
    srv = Server(session)
    try:
        base = srv.url.rsplit("/", 2)[0]
        assert _status(srv.url) == 200
        assert _status(base + "/") == 403
        assert _status(base + "/api/state") == 403
        assert _status(base + "/not-the-token/api/state") == 403
        assert _status(srv.url[:-5] + "xxxx/") == 403
        assert _status(base + "/x/api/decide", data=b"{}", method="POST",
                       headers={"Content-Type": "application/json"}) == 403
        # the right token through a foreign host name (DNS rebinding) is refused too
        assert _status(srv.url + "api/state", headers={"Host": "evil.example:80"}) == 403
        assert _status(srv.url + "api/state") == 200
    finally:
        srv.stop()


def _items(session: Path) -> list[dict]:
    return json.loads((session / "items.json").read_text())["items"]


def _open(driver, url):
    driver.get(url)
    assert _wait(lambda: driver.execute_script("return document.body.dataset.ready === '1'")), \
        "the app did not start"


def _card_status(driver, item_id) -> str:
    return driver.execute_script(
        "return document.querySelector(`.card[data-item-id='${arguments[0]}']`).dataset.status",
        item_id)


def _decide_first_three(driver, risk):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    c = driver.find_element(By.CSS_SELECTOR, f'.card[data-item-id="{risk[0]["id"]}"]')
    c.find_element(By.CSS_SELECTOR, "button.reject").click()
    confirm = c.find_element(By.CSS_SELECTOR, "button.confirm-reject")
    assert confirm.get_attribute("disabled") is not None  # a reason first
    c.find_element(By.CSS_SELECTOR, ".reject-box input").send_keys(REASON)
    confirm.click()
    assert _wait(lambda: _card_status(driver, risk[0]["id"]) == "rejected")
    c = driver.find_element(By.CSS_SELECTOR, f'.card[data-item-id="{risk[1]["id"]}"]')
    c.find_element(By.CSS_SELECTOR, "button.edit").click()
    box = c.find_element(By.CSS_SELECTOR, ".edit-box textarea")
    box.clear()
    box.send_keys(EDIT)
    c.find_element(By.CSS_SELECTOR, "button.save-edit").click()
    assert _wait(lambda: _card_status(driver, risk[1]["id"]) == "edited")
    # the keyboard: select the third card with J/K, accept it with A
    driver.find_element(By.CSS_SELECTOR, f'.card[data-item-id="{risk[2]["id"]}"] .quote').click()
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys("k")
    body.send_keys("j")
    assert "current" in driver.find_element(
        By.CSS_SELECTOR, f'.card[data-item-id="{risk[2]["id"]}"]').get_attribute("class")
    body.send_keys("a")
    assert _wait(lambda: _card_status(driver, risk[2]["id"]) == "accepted")
    paused = "return document.getElementById('audio').paused"
    driver.execute_script("document.getElementById('audio').pause()")
    body.send_keys(Keys.SPACE)  # play
    assert _wait(lambda: not driver.execute_script(paused))
    driver.execute_script("document.getElementById('audio').currentTime = 12")
    body.send_keys(Keys.ARROW_LEFT)  # replay 5 s
    assert 6.5 <= driver.execute_script("return document.getElementById('audio').currentTime") < 9
    body.send_keys(Keys.SPACE)  # pause
    assert _wait(lambda: driver.execute_script(paused))


def _expect_three(driver, risk):
    assert _wait(lambda: _card_status(driver, risk[0]["id"]) == "rejected")
    assert _card_status(driver, risk[1]["id"]) == "edited"
    assert _card_status(driver, risk[2]["id"]) == "accepted"


def _set_clinician_fields(driver):
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "f-rationale").send_keys(RATIONALE)
    driver.find_element(By.ID, "f-name").send_keys("Dana Reyes")
    driver.find_element(By.ID, "f-credentials").send_keys("LCSW")
    driver.find_element(By.ID, "f-attestation").click()
    time.sleep(0.6)  # the typed fields are saved after a short pause
    sign = driver.find_element(By.ID, "sign")
    assert sign.get_attribute("disabled") is not None, "Sign enabled without a risk level"
    driver.find_element(By.CSS_SELECTOR, 'input[name="risk_level"][value="high"]').click()
    assert _wait(lambda: sign.get_attribute("disabled") is None), "Sign stayed disabled"


def test_review_sign_and_exports(session, driver, tmp_path):
    from selenium.webdriver.common.by import By

    items = _items(session)
    risk = [i for i in items if i["type"] in RISK]
    assert len(risk) >= 4, "the case must have risk items to review"
    srv = Server(session)
    try:
        driver.get_log("performance")
        _open(driver, srv.url)
        sign = driver.find_element(By.ID, "sign")
        assert sign.get_attribute("disabled") is not None
        _decide_first_three(driver, risk)

        # a reload resumes where the clinician left off
        driver.refresh()
        _open(driver, srv.url)
        _expect_three(driver, risk)

        # so does a crash of the server: kill -9, start again (a new token)
        srv.kill9()
        state = json.loads((session / "review.state.json").read_text())
        assert state["decisions"][risk[0]["id"]]["reason"] == REASON
        assert stat.S_IMODE((session / "review.state.json").stat().st_mode) == 0o600
        srv = Server(session)
        _open(driver, srv.url)
        _expect_three(driver, risk)

        # the rest of the risk items, then bulk-accept a non-risk section
        sign = driver.find_element(By.ID, "sign")
        for it in risk[3:]:
            driver.find_element(By.CSS_SELECTOR, f'.card[data-item-id="{it["id"]}"] button.accept').click()
            assert _wait(lambda it=it: _card_status(driver, it["id"]) == "accepted")
        assert sign.get_attribute("disabled") is not None  # risk level, name, attestation missing
        group = driver.find_element(By.CSS_SELECTOR, "section.group:not(.risk)")
        group.find_element(By.CSS_SELECTOR, "button.bulk").click()
        ids = [c.get_attribute("data-item-id") for c in group.find_elements(By.CSS_SELECTOR, ".card")]
        assert _wait(lambda: all(_card_status(driver, i) == "accepted" for i in ids))

        _set_clinician_fields(driver)
        preview = driver.find_element(By.ID, "preview")
        assert _wait(lambda: "Overall risk level: High." in preview.text)
        assert "Not assessed" in preview.text and "Risk summary" in preview.text
        assert "Appendix: items rejected in review" in preview.text and REASON in preview.text
        driver.find_element(By.ID, "items-col").click()
        shot = Path(os.environ.get("VOICENOTES_APP_SCREENSHOT", tmp_path / "review-app.png"))
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 20_000

        sign.click()
        assert _wait(lambda: "signed" in driver.find_element(By.TAG_NAME, "body").get_attribute("class"))
        first_accept = driver.find_element(By.CSS_SELECTOR, "button.accept")
        assert first_accept.get_attribute("disabled") is not None  # read-only once signed
        code = _status(srv.url + "api/decide", method="POST",
                       data=json.dumps({"id": risk[0]["id"], "status": "accepted"}).encode(),
                       headers={"Content-Type": "application/json"})
        assert code == 409

        driver.find_element(By.ID, "copy").click()
        txt_path = session / "note.signed.txt"
        assert _wait(lambda: driver.execute_script(
            "return document.getElementById('copy-text').value") == txt_path.read_text())

        urls = [json.loads(e["message"])["message"]["params"]["request"]["url"]
                for e in driver.get_log("performance")
                if json.loads(e["message"])["message"]["method"] == "Network.requestWillBeSent"]
        assert urls and all(u.startswith("http://127.0.0.1:") or u.startswith("data:") for u in urls), urls
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
                  and "409" not in e["message"]]
        assert not errors, errors
    finally:
        srv.stop()
    _check_signed_files(session, risk)


def _check_signed_files(session: Path, risk: list[dict]) -> None:
    import docx
    import pypdf

    for name in ("note.signed.json", "note.signed.txt", "note.signed.md", "note.signed.docx",
                 "note.signed.pdf", "review.state.json", "items.reviewed.json"):
        assert stat.S_IMODE((session / name).stat().st_mode) == 0o600, name
    txt = (session / "note.signed.txt").read_text()
    d = docx.Document(str(session / "note.signed.docx"))
    docx_text = "\n".join(p.text for p in d.paragraphs)
    pdf = pypdf.PdfReader(str(session / "note.signed.pdf"))
    pdf_text = " ".join(" ".join(p.extract_text().split()) for p in pdf.pages)
    for text in (txt, docx_text, pdf_text):
        flat = " ".join(text.split())
        assert "Overall risk level: High." in flat
        assert RATIONALE in flat and EDIT in flat and "Dana Reyes, LCSW" in flat
        assert REASON in flat.lower().split("appendix: items rejected in review", 1)[1]
        assert "DRAFT" not in flat
    # the rejected item sits in the appendix with its quote and the reason
    appendix = " ".join(txt.split("APPENDIX: ITEMS REJECTED IN REVIEW", 1)[1].split())
    assert f"“{' '.join(risk[0]['evidence']['quote'].split())}”" in appendix
    # plain text for a record system: no Markdown syntax, no hashes
    assert not re.search(r"[0-9a-f]{40,}", txt) and "#" not in txt and "**" not in txt
    assert not re.search(r"^\s*[-*] ", txt, re.M)
    assert txt.rstrip().splitlines()[-1].startswith("Drafted by voicenotes")
    # every font in the PDF is embedded
    for page in pdf.pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            desc = (f["/DescendantFonts"][0].get_object() if "/DescendantFonts" in f else f)["/FontDescriptor"]
            assert "/FontFile2" in desc.get_object(), f.get("/BaseFont")
    # the audit log: unbroken chain, decisions and signing logged, no clinician words
    log = session / "audit.jsonl"
    assert verify_audit(log)
    events = [json.loads(x) for x in log.read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.count("review_decision") >= len(risk) and kinds[-1] == "note_signed"
    raw = log.read_text()
    assert REASON not in raw and EDIT not in raw and "Dana Reyes" not in raw and RATIONALE not in raw


def test_export_draft_marks_every_page(other_session):
    import docx
    import pypdf
    from typer.testing import CliRunner

    from voicenotes.cli import app

    res = CliRunner().invoke(app, ["export", str(other_session), "--format", "docx,pdf,txt,md"])
    assert res.exit_code == 0, res.output
    assert "not signed yet" in res.output
    pdf = pypdf.PdfReader(str(other_session / "note.draft.pdf"))
    assert all("DRAFT — not signed" in p.extract_text() for p in pdf.pages)
    d = docx.Document(str(other_session / "note.draft.docx"))
    assert "DRAFT — not signed" in d.sections[0].header.paragraphs[0].text
    txt = (other_session / "note.draft.txt").read_text()
    assert txt.count("DRAFT — not signed") == 2 and "#" not in txt
    assert (other_session / "note.draft.md").read_text().startswith("# ")
    for fmt in ("docx", "pdf", "txt", "md"):
        assert stat.S_IMODE((other_session / f"note.draft.{fmt}").stat().st_mode) == 0o600
    res = CliRunner().invoke(app, ["export", str(other_session), "--format", "rtf"])
    assert res.exit_code == 2 and "Unknown export format" in res.output


def _page_export(folder: Path, decide) -> dict:
    """What review.html's Export button downloads: its embedded itemset with the decisions and
    the review_meta (items and audio hashes) of the page."""
    html = (folder / "review.html").read_text()
    m = re.search(r'<script type="application/json" id="vn-data">(.*?)</script>', html, re.S)
    data = json.loads(m.group(1))
    out = data["itemset"]
    for it in out["items"]:
        it["review"] = decide(it)
    out["review_meta"] = {"exported_at": "2026-03-09T15:00:00Z", "items_sha256": data["items_sha256"],
                          "audio_sha256": data["audio_sha256"], "generated_at": data["generated_at"]}
    return out


def test_from_review_refuses_another_sessions_export_and_duplicates(session, other_session, tmp_path):
    from typer.testing import CliRunner

    from voicenotes.cli import app

    def accept_all(it):
        return {"status": "accepted"}

    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps(_page_export(other_session, accept_all)))
    shared_ids = {i["id"] for i in _items(session)} & {i["id"] for i in _items(other_session)}
    assert shared_ids, "both sessions number their items alike: ids alone cannot tell them apart"
    res = CliRunner().invoke(app, ["note", "--from-review", str(foreign), "--out", str(session)])
    assert res.exit_code == 3 and "exported from another session" in res.output
    assert len(res.output.strip().splitlines()) == 1

    own = _page_export(other_session, accept_all)
    own["items"].append(dict(own["items"][0]))
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps(own))
    res = CliRunner().invoke(app, ["note", "--from-review", str(dup), "--out", str(other_session)])
    assert res.exit_code == 3 and "more than once" in res.output

    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(_page_export(other_session, accept_all)))
    res = CliRunner().invoke(app, ["note", "--from-review", str(ok), "--out", str(other_session)])
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def fresh_session(tmp_path_factory) -> Path:
    return _make_session(tmp_path_factory, "dev-41")


SELECT_JS = """
const [seg, a, b] = arguments;
const span = document.querySelector(`.text[data-seg="${seg}"]`);
const walker = document.createTreeWalker(span, NodeFilter.SHOW_TEXT);
const range = document.createRange();
let pos = 0, n;
while ((n = walker.nextNode())) {
  const len = n.textContent.length;
  if (pos <= a && a <= pos + len) range.setStart(n, a - pos);
  if (pos <= b && b <= pos + len) { range.setEnd(n, b - pos); break; }
  pos += len;
}
const sel = window.getSelection();
sel.removeAllRanges();
sel.addRange(range);
span.dispatchEvent(new MouseEvent("mouseup", {bubbles: true}));
return document.getElementById("sel-text").textContent;
"""


def _select(driver, seg: int, text: str, phrase: str) -> None:
    a = text.index(phrase)
    assert driver.execute_script(SELECT_JS, seg, a, a + len(phrase)) == phrase


def _click_and_wait_reload(driver, element_id: str) -> None:
    from selenium.webdriver.common.by import By

    driver.execute_script("window.__before = 1")
    driver.find_element(By.ID, element_id).click()
    assert _wait(lambda: driver.execute_script(
        "return window.__before === undefined && document.body.dataset.ready === '1'")), \
        "the page did not reload after the change"


def test_add_missed_item_correct_word_swap_roles(fresh_session, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    folder = fresh_session
    items_before = (folder / "items.json").read_bytes()
    transcript_before = (folder / "transcript.json").read_bytes()
    segs = [s["text"] for s in json.loads(transcript_before)["segments"]]
    by_id = {i["id"]: i for i in _items(folder)}
    gun = next(i for i in by_id.values() if i["evidence"]["quote"] == "gun")
    srv = Server(folder)
    try:
        _open(driver, srv.url)
        # an item the extractor missed, from a selection in the transcript
        _select(driver, 1, segs[1], "stressed out with work")
        Select(driver.find_element(By.ID, "sel-type")).select_by_value("PRECIPITANT")
        Select(driver.find_element(By.ID, "sel-temporality")).select_by_value("recent")
        _click_and_wait_reload(driver, "add-item")
        card = driver.find_element(By.CSS_SELECTOR, '.card[data-item-id="c01"]')
        assert "“stressed out with work”" in card.text and "added by you" in card.text
        assert card.get_attribute("data-status") == "accepted"
        assert driver.find_elements(By.CSS_SELECTOR, 'mark[data-items~="c01"]')

        # a misheard word: corrected in the transcript and in the item it belongs to
        _select(driver, gun["evidence"]["segment"], segs[gun["evidence"]["segment"]], "gun")
        box = driver.find_element(By.ID, "sel-correct")
        box.clear()
        box.send_keys("firearm")
        _click_and_wait_reload(driver, "correct-words")
        seg = driver.find_element(By.CSS_SELECTOR, f'.text[data-seg="{gun["evidence"]["segment"]}"]')
        assert "firearm" in seg.text and " gun " not in f" {seg.text} "
        assert "“firearm”" in driver.find_element(
            By.CSS_SELECTOR, f'.card[data-item-id="{gun["id"]}"]').text

        # counselor and client the wrong way round: swap, items follow
        whos = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#transcript .who")]
        first = driver.find_element(By.CSS_SELECTOR, '.card[data-item-id="i001"]').text
        assert whos[0] == "Counselor:" and "said by counselor" in first
        _click_and_wait_reload(driver, "swap")
        whos2 = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#transcript .who")]
        assert whos2 == [{"Counselor:": "Client:", "Client:": "Counselor:"}[w] for w in whos]
        assert "said by client" in driver.find_element(By.CSS_SELECTOR, '.card[data-item-id="i001"]').text

        preview = driver.find_element(By.ID, "preview")
        assert _wait(lambda: "stressed out with work" in preview.text and "firearm" in preview.text)
    finally:
        srv.stop()
    # the machine's originals are kept; the changes are in the state and the audit log
    assert (folder / "items.json").read_bytes() == items_before
    assert (folder / "transcript.json").read_bytes() == transcript_before
    state = json.loads((folder / "review.state.json").read_text())
    assert state["corrections"][0]["original"] == "gun" and state["roles_swapped"] is True
    log = folder / "audit.jsonl"
    assert verify_audit(log)
    kinds = [json.loads(x)["event"] for x in log.read_text().splitlines()]
    assert {"item_added", "transcript_corrected", "roles_swapped"} <= set(kinds)
    assert "firearm" not in log.read_text() and "stressed out" not in log.read_text()
