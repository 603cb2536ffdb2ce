"""The batch report in a real headless Chromium: renders, makes no network request, sorts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from browser import requested_urls

from voicenotes.batch import report

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _rows() -> list[report.Row]:
    """A folder's worth of rows as build_rows makes them from outputs and the journal."""
    rows = []
    durations = [125.0, 9.5, 3600.0, 61.0, 0.0]
    for i, d in enumerate(durations):
        topics = {k: report.NOT_ASSESSED for k, _ in report.LETHALITY}
        topics["ideation"] = ("affirmed", "denied", "mentioned", report.NOT_ASSESSED, "denied")[i]
        topics["means_access"] = "denied" if i % 2 else report.NOT_ASSESSED
        rows.append(report.Row(
            recording=f"week{i % 2}/session-{10 - i:02d}.wav", status="done", duration_s=d,
            words=int(d * 2.5), risk_affirmed=(3, 0, 1, 0, 0)[i], risk_denied=i,
            topics=topics, coverage={"coping": i % 2 == 0, "referrals": i > 2, "follow_up": False},
            doubtful_segments=(0, 2, 0, 5, 1)[i], audio_flags=["no_speech"] if i == 4 else [],
            output=f"week{i % 2}/session-{10 - i:02d}"))
    rows.append(report.Row(recording="broken.wav", status="failed",
                           problem="AudioError: broken.wav is not a readable audio file."))
    rows.append(report.Row(recording="cut.flac", status="partial", duration_s=30.0,
                           expected_s=60.0, words=70, risk_affirmed=0, risk_denied=0,
                           topics={k: report.NOT_ASSESSED for k, _ in report.LETHALITY},
                           coverage={"coping": False, "referrals": False, "follow_up": True},
                           doubtful_segments=0, problem="Only 30.0 s of 60.0 s could be read."))
    return rows


@pytest.fixture(scope="module")
def driver():
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.fail("chromium and chromium-driver are needed (scripts/test installs them)")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    d = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    try:
        yield d
    finally:
        d.quit()




def test_report_renders_offline_and_sorts(tmp_path, driver):
    from selenium.webdriver.common.by import By

    rows = _rows()
    c = report.counts(rows)
    svg = report.coverage_svg(c)
    page = tmp_path / "report.html"
    page.write_text(report.render_html(rows, c, include_quotes=False, source="archive",
                                       generated="2026-11-26 12:00 UTC", svg=svg),
                    encoding="utf-8")
    driver.get_log("performance")  # drop anything from before
    driver.get(page.as_uri())
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith("Supervision report")

    # zero network requests: the only URL the page loaded is itself
    urls = requested_urls(driver)
    assert urls and all(u.startswith("file://") for u in urls), urls
    assert [u for u in urls if u != page.as_uri()] == []
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []

    # the coverage plot is inline SVG with a real size
    plot = driver.find_element(By.CSS_SELECTOR, "figure.plot svg")
    assert plot.size["width"] > 200 and plot.size["height"] > 100

    def column(i: int) -> list[str]:
        return [r.find_elements(By.TAG_NAME, "td")[i].text
                for r in driver.find_elements(By.CSS_SELECTOR, "#recordings tbody tr")]

    headers = driver.find_elements(By.CSS_SELECTOR, "#recordings thead th")
    names = [h.text.strip() for h in headers]
    dur = names.index("Duration")
    aff = names.index("Risk affirmed")
    assert len(column(0)) == len(rows)

    headers[dur].find_element(By.TAG_NAME, "button").click()
    assert headers[dur].get_attribute("aria-sort") == "ascending"
    got = column(dur)
    # numeric order (0:00:10 < 0:00:30 < 0:01:01 < 0:02:05 < 1:00:00), empty cells last
    assert got == ["0:00:00", "0:00:10", "0:00:30", "0:01:01", "0:02:05", "1:00:00", ""]

    headers[dur].find_element(By.TAG_NAME, "button").click()
    assert headers[dur].get_attribute("aria-sort") == "descending"
    assert column(dur)[:2] == ["1:00:00", "0:02:05"]

    headers[aff].find_element(By.TAG_NAME, "button").click()
    vals = [v for v in column(aff) if v]
    assert vals == sorted(vals, key=int)
    assert headers[dur].get_attribute("aria-sort") is None

    headers[0].find_element(By.TAG_NAME, "button").click()
    names_sorted = column(0)
    assert names_sorted == sorted(names_sorted, key=str.lower)
    # the counts row stays at the bottom, outside the sorted body
    foot = driver.find_element(By.CSS_SELECTOR, "#recordings tfoot").text
    assert "7 recordings" in foot and "5 done, 1 partial, 1 failed" in foot
    assert requested_urls(driver) == []  # sorting fetched nothing either
