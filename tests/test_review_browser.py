"""review.html in a real headless Chromium (Debian chromium + chromedriver through selenium).

The session folder is made by the real chain from a gold session case: its turns with the real
times of its audio rendering -> the real extractor -> run_note, with the case's FLAC beside the
page. Checks: zero network requests, clicking an item moves the audio's currentTime to its
t_start, export stays disabled until every risk item is reviewed, the downloaded export feeds
``voicenotes note --from-review``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from browser import make_driver, requested_urls
from test_note_helpers import EXTRACTION, gold_cases, write_transcript

pytestmark = pytest.mark.browser

NETWORK_SCHEMES = ("http:", "https:", "ws:", "wss:", "ftp:")


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    from voicenotes.pipeline import NoteOptions, run_note

    case = gold_cases()["dev-46"] if "dev-46" in gold_cases() else gold_cases()["dev-41"]
    src = tmp_path_factory.mktemp("src")
    write_transcript(case, src)
    shutil.copy(EXTRACTION / "audio" / f"{case['id']}.flac", src / f"{case['id']}.flac")
    out = tmp_path_factory.mktemp("session")
    result = run_note(src / "transcript.json", out, NoteOptions(template="crisis"))
    return result


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    drv = make_driver(tmp_path_factory.mktemp("chrome-profile"), 1400, 1000)
    yield drv
    drv.quit()




def _wait(fn, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def test_review_page_in_chromium(session, driver, tmp_path):
    from selenium.webdriver.common.by import By

    page = session.review_html
    items = json.loads(session.paths["items.json"].read_text())["items"]
    risk = [i for i in items if i["type"] in ("RISK", "RISK_FACTOR", "MEANS")]
    assert len(risk) >= 2, "the case must have risk items to review"
    driver.get_log("performance")  # drop the browser's own start-up requests
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(tmp_path)})
    driver.get(page.as_uri())
    assert _wait(lambda: driver.execute_script(
        "return document.getElementById('audio').readyState >= 1")), "the audio did not load"

    # every card and highlight is there; speaker labels are shown
    cards = driver.find_elements(By.CSS_SELECTOR, "#items .card")
    assert len(cards) == len(items)
    assert driver.find_elements(By.CSS_SELECTOR, "#transcript mark")
    whos = {e.text for e in driver.find_elements(By.CSS_SELECTOR, "#transcript .who")}
    assert whos == {"Counselor:", "Client:"}

    # clicking an item moves the audio to its t_start
    export = driver.find_element(By.ID, "export")
    target = max(items, key=lambda i: i["evidence"]["t_start"])
    card = driver.find_element(By.CSS_SELECTOR, f'.card[data-item-id="{target["id"]}"] .label')
    card.click()
    t = driver.execute_script("return document.getElementById('audio').currentTime")
    assert abs(t - target["evidence"]["t_start"]) < 0.6
    # ... and so does a highlight in the transcript
    first = min(items, key=lambda i: i["evidence"]["t_start"])
    mark = driver.find_element(By.CSS_SELECTOR, f'mark[data-items~="{first["id"]}"]')
    driver.execute_script("document.getElementById('audio').pause()")
    mark.click()
    t = driver.execute_script("return document.getElementById('audio').currentTime")
    assert abs(t - first["evidence"]["t_start"]) < 0.6

    # export stays disabled until every risk item is reviewed
    assert export.get_attribute("disabled") is not None
    for n, item in enumerate(risk):
        c = driver.find_element(By.CSS_SELECTOR, f'.card[data-item-id="{item["id"]}"]')
        if n == 0:  # reject, which asks for a reason first
            c.find_element(By.CSS_SELECTOR, "button.reject").click()
            confirm = c.find_element(By.CSS_SELECTOR, "button.confirm-reject")
            assert confirm.get_attribute("disabled") is not None
            c.find_element(By.CSS_SELECTOR, ".reject-box input").send_keys("misheard, not said")
            confirm.click()
        elif n == 1:
            c.find_element(By.CSS_SELECTOR, "button.edit").click()
            box = c.find_element(By.CSS_SELECTOR, ".edit-box textarea")
            box.clear()
            box.send_keys("Client denied a plan when asked.")
            c.find_element(By.CSS_SELECTOR, "button.save-edit").click()
        else:
            c.find_element(By.CSS_SELECTOR, "button.accept").click()
        if n < len(risk) - 1:
            assert export.get_attribute("disabled") is not None
    assert export.get_attribute("disabled") is None
    shot = Path(os.environ.get("VOICENOTES_SCREENSHOT", tmp_path / "review.png"))
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000

    export.click()
    exported = tmp_path / "items.reviewed.json"
    assert _wait(lambda: exported.is_file() and exported.stat().st_size > 0), "no download"
    data = json.loads(exported.read_text())
    decisions = {i["id"]: i.get("review", {}).get("status") for i in data["items"]}
    assert decisions[risk[0]["id"]] == "rejected" and decisions[risk[1]["id"]] == "edited"

    # zero network requests: only the page and its audio, both from disk
    urls = requested_urls(driver)
    assert not [u for u in urls if u.startswith(NETWORK_SCHEMES)], urls
    assert {u.split("/")[-1] for u in urls if u.startswith("file:")} <= {page.name, "audio.flac"}
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors

    # the browser's export renders the final note
    from typer.testing import CliRunner

    from voicenotes.cli import app

    res = CliRunner().invoke(app, ["note", "--from-review", str(exported), "--out", str(session.out_dir)])
    assert res.exit_code == 0, res.output
    final = (session.out_dir / "note.reviewed.md").read_text()
    assert "misheard, not said" in final.split("## Appendix: items rejected in review", 1)[1]
    assert "Clinician's wording: Client denied a plan when asked." in final
