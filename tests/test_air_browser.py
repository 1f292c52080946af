"""The air model on the page in a real browser (headless Debian chromium via Playwright)
against a fake Open-Meteo: a photo with GPS and time, the place form (#ak-where: "Use my
location", rounded before it leaves the browser, or a typed town, which reads the shown photo
again for that place), the chart's text alternative, the .ics download, on a laptop and a
phone, with axe-core's WCAG 2.1 AA check once the chart is shown. Screenshots go to
test-artifacts/browser/."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from test_browser import CARD, LAPTOP, PHONE, SHOTS, _open, _serious_axe_violations, _shoot, _upload

from bench.fixtures.exif_photos import EXAMPLES, photo_with_exif

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
LINE = "#ak-where-line"
TOWN = "#ak-where-town"
KATHMANDU = {"latitude": 27.717245, "longitude": 85.323959}


@pytest.fixture
def server(air_server):
    """The page runs in this process: it looks the air up on the fake server."""
    return air_server


def _says(page, selector: str, words: str) -> str:
    page.wait_for_function(f"(document.querySelector('{selector}') || {{}}).innerText?.includes({json.dumps(words)})")
    return page.inner_text(selector)


def _line_says(page, words: str) -> str:
    return _says(page, LINE, words)


def _town(page):
    """The place form's town box, found by its label inside #ak-where."""
    return page.locator(f"#ak-where {TOWN}").get_by_label("Town or city")


def _chart_reads_well(page, viewport: dict) -> None:
    """The 48 hours on this screen: inside it, every label whole and big enough to read, the
    "now" marker there, the chart in a few lines of words, the hour table folded away."""
    page.locator("#ak-air-chart svg[role=img]").wait_for()
    found = page.evaluate("""() => {
        const svg = document.querySelector('#ak-air-chart svg').getBoundingClientRect();
        const texts = Array.from(document.querySelectorAll('#ak-air-chart svg text')).map(t => {
            const r = t.getBoundingClientRect();
            return {text: t.textContent, inside: r.left >= svg.left - 1 && r.right <= svg.right + 1
                    && r.top >= svg.top - 1 && r.bottom <= svg.bottom + 1, height: r.height}; });
        const words = document.querySelector('#ak-air-chart .ak-chart-words');
        const lines = words.getBoundingClientRect().height / parseFloat(getComputedStyle(words).lineHeight);
        return {right: svg.right, texts, lines, words: words.innerText}; }""")
    assert found["right"] <= viewport["width"]
    assert [t["text"] for t in found["texts"]].count("now") == 1
    for t in found["texts"]:
        assert t["inside"] and t["height"] >= 10, t  # no label cut at the edge, none too small to read
    assert found["words"].startswith("Now ") and round(found["lines"]) <= (4 if viewport is PHONE else 2), found
    assert not page.locator("#ak-air-chart table.ak-hours").is_visible()  # 48 rows only on request


def test_laptop_photo_with_gps_shows_the_air_and_a_calendar_file(browser, app_url, server, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    when = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=2)
    photo = photo_with_exif(tmp_path / "located.jpg", source=EXAMPLES / "hazy-beijing-summer-palace.jpg",
                            when=when, offset="+00:00", lat=45.4642, lon=9.1895)
    page = _open(browser, app_url, LAPTOP)
    page.locator("#ak-photo input[type=file]").set_input_files(str(photo))
    page.wait_for_selector("#ak-verdict [data-label]")
    said = _says(page, CARD, "Air model where the photo was taken at")  # the card's air model witness
    assert "\N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}" in said and "Your photo" in said
    chart = page.locator("#ak-air-chart svg[role=img]")
    chart.wait_for()
    described = page.locator("#ak-chart-desc").text_content()
    assert described and described.startswith("Now ") and " Lowest " in described and " Highest " in described
    _chart_reads_well(page, LAPTOP)
    assert page.get_by_text("Best daylight times").is_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Add the best time for run to your calendar (.ics)").click()
    ics = open(download.value.path(), encoding="utf-8").read()
    assert "BEGIN:VEVENT" in ics and "SUMMARY:Run:" in ics
    page.get_by_label("children playing outside").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Add the best time for children playing outside to your calendar").click()
    assert "SUMMARY:Children playing outside:" in open(download.value.path(), encoding="utf-8").read()
    _shoot(page, "air-desktop")  # also one of the README's pictures (make screenshots)
    page.get_by_text("Hour by hour").click()  # the table too
    assert _serious_axe_violations(page) == []
    page.close()


def test_phone_use_my_location_is_rounded_in_the_browser(browser, app_url, server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _open(browser, app_url, PHONE, geolocation=KATHMANDU, permissions=["geolocation"])
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data or "") if r.method == "POST" else None)
    page.locator("#ak-where #ak-where-locate").click()
    assert "at your location" in _line_says(page, "at your location")
    assert any("27.7" in body and "85.3" in body for body in sent)
    assert not any("27.71" in body or "85.32" in body for body in sent)  # never the exact position
    assert server.requests[-1][1]["latitude"] == "27.7"
    page.wait_for_selector("#ak-air-chart svg")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    _chart_reads_well(page, PHONE)
    _town(page).fill("Milan")
    page.locator("#ak-where #ak-where-find").click()
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
    _town(page).fill("Milan")
    _town(page).press("Enter")
    assert "HTTP 500" in _line_says(page, "HTTP 500")
    page.wait_for_timeout(1500)  # the shown outlook is read again after the line: let it settle
    assert page.locator("#ak-air-chart svg[role=img]").count() == 0
    assert "Traceback" not in page.inner_text("body")
    page.close()


def test_a_town_reads_the_shown_photo_again_for_that_place(browser, app_url, server):
    """A photo without GPS is read against the world prior; the town the visitor then types
    becomes its place, the air model sets the level and the card says so."""
    page = _open(browser, app_url, LAPTOP)
    _upload(page, EXAMPLES / "clear-mountains-picos-de-europa.jpg")
    assert "No place and hour known." in page.inner_text(CARD)
    _town(page).fill("Milan")
    _town(page).press("Enter")
    said = _says(page, CARD, "Air model for Milan, Lombardy, Italy at")
    assert "No place and hour known." not in said and "Your photo" in said
    assert "in Milan, Lombardy, Italy at" in _line_says(page, "Milan")
    page.get_by_text("Raw result (JSON, same as the API)").click()  # axe checks the JSON viewer's colours too
    page.get_by_text("place_from").first.wait_for()
    page.locator("#ak-air-chart svg").wait_for()
    assert _serious_axe_violations(page) == []
    page.close()
