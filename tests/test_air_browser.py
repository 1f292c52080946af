"""The air panel in a real browser (headless Debian chromium via Playwright) against a fake
Open-Meteo: a photo with GPS and time, "Use my location" (rounded before it leaves the
browser), a typed town, the chart's text alternative, the .ics download, on a laptop and a
phone, with axe-core's WCAG 2.1 AA check once the chart is shown. Screenshots go to
test-artifacts/browser/."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from test_browser import LAPTOP, PHONE, SHOTS, _open, _serious_axe_violations

from bench.fixtures.exif_photos import EXAMPLES, photo_with_exif

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
LINE = "#ak-air-line"
KATHMANDU = {"latitude": 27.717245, "longitude": 85.323959}


@pytest.fixture
def server(air_server):
    """The page runs in this process: it looks the air up on the fake server."""
    return air_server


def _line_says(page, words: str) -> str:
    page.wait_for_function(f"document.querySelector('{LINE}').innerText.includes({json.dumps(words)})")
    return page.inner_text(LINE)


def test_laptop_photo_with_gps_shows_the_air_and_a_calendar_file(browser, app_url, server, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    when = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=2)
    photo = photo_with_exif(tmp_path / "located.jpg", source=EXAMPLES / "hazy-beijing-summer-palace.jpg",
                            when=when, offset="+00:00", lat=45.4642, lon=9.1895)
    page = _open(browser, app_url, LAPTOP)
    page.locator("#ak-photo input[type=file]").set_input_files(str(photo))
    page.wait_for_selector("#ak-verdict [data-label]")
    assert "Modelled PM2.5 where the photo was taken at" in _line_says(page, "where the photo was taken")
    chart = page.locator("#ak-air-chart svg[role=img]")
    chart.wait_for()
    described = page.locator("#ak-chart-desc").text_content()
    assert described and described[0].isupper() and " from " in described
    assert page.get_by_text("Best daylight times").is_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Add the best time for run to your calendar (.ics)").click()
    ics = open(download.value.path(), encoding="utf-8").read()
    assert "BEGIN:VEVENT" in ics and "SUMMARY:Run:" in ics
    page.get_by_label("children playing outside").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Add the best time for children playing outside to your calendar").click()
    assert "SUMMARY:Children playing outside:" in open(download.value.path(), encoding="utf-8").read()
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "air-desktop.png"), full_page=True)
    page.get_by_text("Hour by hour").click()  # the table too
    assert _serious_axe_violations(page) == []
    page.close()


def test_phone_use_my_location_is_rounded_in_the_browser(browser, app_url, server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _open(browser, app_url, PHONE, geolocation=KATHMANDU, permissions=["geolocation"])
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data or "") if r.method == "POST" else None)
    page.get_by_role("button", name="Use my location").click()
    assert "at your location" in _line_says(page, "at your location")
    assert any("27.7" in body and "85.3" in body for body in sent)
    assert not any("27.71" in body or "85.32" in body for body in sent)  # never the exact position
    assert server.requests[-1][1]["latitude"] == "27.7"
    page.wait_for_selector("#ak-air-chart svg")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    page.get_by_label("Or type a town").fill("Milan")
    page.get_by_role("button", name="Find", exact=True).click()
    assert "in Milan, Lombardy, Italy at" in _line_says(page, "Milan")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "air-phone.png"), full_page=True)
    assert _serious_axe_violations(page) == []
    page.close()


def test_denied_location_and_no_service_say_so_in_one_line(browser, app_url, server):
    page = _open(browser, app_url, LAPTOP)  # no geolocation permission
    page.get_by_role("button", name="Use my location").click()
    _line_says(page, "did not share a location")
    server.mode = "error500"
    page.get_by_label("Or type a town").fill("Milan")
    page.get_by_label("Or type a town").press("Enter")
    assert "HTTP 500" in _line_says(page, "HTTP 500")
    assert page.locator("#ak-air-chart svg").count() == 0
    assert "Traceback" not in page.inner_text("body")
    page.close()
