"""The page in a real browser (headless Debian chromium via Playwright), as a visitor uses it
on a laptop (1280x800) and a phone (390x844): a reading, its accessibility (axe-core, WCAG
2.1 AA), stale and error states, HEIC previews, the batch table and the About tab.
Screenshots go to test-artifacts/browser/, and to $AIRKEN_SCREENSHOTS (`make screenshots`,
the README's pictures) when set. Skipped without /usr/bin/chromium unless
AIRKEN_REQUIRE_BROWSER=1; axe-core comes from tests/axe (`make test` installs it)."""
from __future__ import annotations

import io
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AIRKEN_HUB", "0")

from pathlib import Path  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import pytest  # noqa: E402

from airken.examples import EXAMPLES_DIR as EXAMPLES  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
# Gradio's queue still calls pandas options that pandas 3 deprecates: not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "browser"
README_SHOTS = os.environ.get("AIRKEN_SCREENSHOTS")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CARD = "#ak-verdict [data-state]"
DONE = ",".join(f'#ak-verdict [data-state="{s}"]' for s in ("reading", "unsure", "refused", "error"))
TIMEOUT_MS = 60_000

if not CHROMIUM.exists():
    if os.environ.get("AIRKEN_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and AIRKEN_REQUIRE_BROWSER=1", pytrace=False)
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


def _open(browser, app_url: str, viewport: dict, **context):
    """A new page (in its own context: `context` is Playwright's, e.g. geolocation and
    permissions) on the app, once the upload box is there."""
    page = browser.new_page(viewport=viewport, **context)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.wait_for_selector("#ak-photo input[type=file]", state="attached")
    page.wait_for_function("window.akReady === true")  # the page's own script has run
    return page


def _upload(page, photo: Path) -> str:
    """Upload and wait for a new card to settle; returns its state."""
    page.wait_for_selector(CARD)
    page.eval_on_selector(CARD, "el => el.setAttribute('data-old', '1')")  # the new card lacks this
    page.locator("#ak-photo input[type=file]").set_input_files(str(photo))
    page.wait_for_selector(",".join(f"{d}:not([data-old])" for d in DONE.split(",")))
    return page.get_attribute(CARD, "data-state")


def _shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let the images paint
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if README_SHOTS:
        Path(README_SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(README_SHOTS) / f"{name}.jpg"), type="jpeg", quality=80, full_page=True)


def _serious_axe_violations(page) -> list[str]:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make test` (it installs axe-core with npm)", pytrace=False)
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
    }""")
    return found


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1


@pytest.mark.parametrize("viewport,name", [(LAPTOP, "desktop"), (PHONE, "phone")])
def test_a_reading_is_accessible_and_fits(browser, app_url, viewport, name):
    page = _open(browser, app_url, viewport)
    # Before a reading: only the invitation, no empty boxes.
    assert page.get_attribute(CARD, "data-state") == "empty"
    assert not page.locator("#ak-probs").is_visible() and not page.locator("#ak-haze").is_visible()
    # the page's script marks the verdict a live region once Gradio has drawn it
    page.wait_for_selector('#ak-verdict[aria-live="polite"]', state="attached")
    state = _upload(page, EXAMPLES / "clear-mountains-picos-de-europa.jpg")
    assert state in ("reading", "unsure")
    page.locator("#ak-haze img").wait_for(state="attached")
    page.locator("#ak-haze img").scroll_into_view_if_needed()  # lazy images load once they are near the view
    page.locator("#ak-haze img").wait_for()
    assert page.locator("#ak-probs").is_visible()
    probs = page.inner_text("#ak-probs")
    assert "Unhealthy" in probs and "%" in probs and "Confidence is how often" in probs  # words, format, rule
    if state == "unsure":  # neutral: no class colour, no full-strength plan
        assert "Can't tell reliably" in page.inner_text(CARD)
        assert "mask" not in page.inner_text("#ak-plan") and "indoors" not in page.inner_text("#ak-plan")
    for img in page.locator("#ak-photo img, #ak-your-photo img, #ak-haze img").all():
        assert img.get_attribute("alt")
    _fits(page, viewport["width"])
    if viewport is PHONE:  # stacked: the verdict sits below the upload box
        photo_box, card_box = page.locator("#ak-photo").bounding_box(), page.locator("#ak-verdict").bounding_box()
        assert card_box["y"] > photo_box["y"] + photo_box["height"] - 1
    _shoot(page, name)
    assert _serious_axe_violations(page) == []
    page.close()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE])
def test_every_example_is_on_screen_and_named_in_full(browser, app_url, viewport):
    """Gradio's gallery keeps its columns on a phone and cuts captions ("Mount..."): page.css
    gives a phone fewer columns and puts each caption, whole, under its photo."""
    from airken.examples import example_paths, title

    page = _open(browser, app_url, viewport)
    page.locator("#ak-examples img").first.wait_for()
    found = page.evaluate("""() => Array.from(document.querySelectorAll('#ak-examples button.thumbnail-item'))
        .map(b => { const r = b.getBoundingClientRect(), c = b.querySelector('.caption-label');
                    const cr = c.getBoundingClientRect();
                    const cut = c.scrollWidth > c.clientWidth || c.scrollHeight > c.clientHeight
                                || cr.bottom > r.bottom + 1 || cr.right > r.right + 1;
                    return {left: r.left, right: r.right, text: c.innerText.trim(), cut}; })""")
    assert [f["text"] for f in found] == [title(p) for p in example_paths()]
    for f in found:
        assert 0 <= f["left"] and f["right"] <= viewport["width"], f  # no example off the right edge
        assert not f["cut"], f  # the whole caption shows
    _fits(page, viewport["width"])
    page.close()


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE])
def test_the_place_form_is_one_compact_form_under_the_verdict(browser, app_url, viewport):
    """A town box and a normal "Find" on one line, "Use my location" a button of its own size,
    every control a 44 px touch target, no tall empty boxes or thin strips, right under the card."""
    page = _open(browser, app_url, viewport)
    form, town = _box(page, "#ak-where"), _box(page, "#ak-where-town textarea")
    find, locate = _box(page, "#ak-where-find"), _box(page, "#ak-where-locate")
    card = _box(page, "#ak-verdict")
    assert form["y"] >= card["y"] + card["height"] - 1 and form["y"] - (card["y"] + card["height"]) < 40
    assert 44 <= town["height"] <= 60 and 44 <= find["height"] <= 60 and 44 <= locate["height"] <= 60
    assert abs((find["y"] + find["height"]) - (town["y"] + town["height"])) <= 2  # one line, bottoms aligned
    assert find["x"] >= town["x"] + town["width"] - 1 and find["width"] < 160
    assert locate["width"] < form["width"] * 0.8  # a button, not a strip across the form
    for box in (town, find, locate):
        assert form["x"] <= box["x"] and box["x"] + box["width"] <= min(form["x"] + form["width"], viewport["width"])
    assert not page.locator("#ak-where-line").is_visible()  # nothing to say yet: no empty strip
    assert _box(page, "#ak-where .ak-where-row")["height"] <= 90  # a label and a box, no tall white block
    shown = page.evaluate("""() => Array.from(document.querySelectorAll('#ak-where > *'))
        .reduce((sum, e) => sum + e.getBoundingClientRect().height, 0)""")
    assert form["height"] <= shown + 60  # its parts, their gaps and the padding: nothing else takes room
    assert "GPS position" not in page.inner_text("body")  # before any photo, nothing about a photo's GPS
    page.close()


def test_the_cards_request_for_the_place_brings_the_form_and_focuses_the_town_box(browser, app_url):
    """An unsure verdict without a place asks for one: the request is a link that a keyboard
    reaches, and it scrolls the form into view with the cursor in the town box."""
    page = _open(browser, app_url, PHONE)
    assert _upload(page, EXAMPLES / "clear-kite.jpg") == "unsure"
    link = page.locator(CARD).get_by_role("link", name="Tell Airken where and when the photo was taken")
    page.evaluate("window.scrollTo(0, 0)")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement && document.activeElement.closest('#ak-where-town') !== null")
    page.wait_for_timeout(800)  # the smooth scroll
    form = _box(page, "#ak-where")
    assert 0 <= form["y"] and form["y"] + form["height"] <= PHONE["height"]  # the whole form in view
    page.close()


def test_api_page_shows_a_sky_example_and_no_mcp_tab(browser, app_url):
    page = _open(browser, app_url, LAPTOP)
    page.get_by_text("Use via API").click()
    page.get_by_text("API name: /predict").first.wait_for()
    page.get_by_text("clear-mountains-picos-de-europa.jpg").first.wait_for()  # the snippet draws after the heading
    body = page.inner_text("body")
    assert "unsure: bool" in body and "witnesses: list[dict(name: str, says: str" in body  # the Verdict's shape
    tabs = {li.inner_text().strip(): li.is_visible() for li in page.locator(".snippets li").all()}
    assert tabs.get("Python") and tabs.get("MCP") is False
    page.close()


def test_example_click_and_refusal_without_haze_map(browser, app_url):
    page = _open(browser, app_url, LAPTOP)
    page.get_by_role("button", name="Night photo (refused)").click()
    page.wait_for_selector('#ak-verdict [data-state="refused"]')
    assert "Can't read the air" in page.inner_text(CARD)
    assert not page.locator("#ak-haze").is_visible()
    page.close()


def test_a_broken_file_after_a_verdict_clears_it_and_says_why_in_the_card(browser, app_url, tmp_path):
    from airken.core.intake import ImageRejected, load_image

    bad = tmp_path / "broken.jpg"
    bad.write_bytes((EXAMPLES / "clear-kite.jpg").read_bytes()[:300])
    with pytest.raises(ImageRejected) as expected:
        load_image(bad)
    page = _open(browser, app_url, LAPTOP)
    _upload(page, EXAMPLES / "hazy-beijing-summer-palace.jpg")
    assert _upload(page, bad) == "error"
    card = page.inner_text(CARD)
    assert expected.value.args[0] in card and "Can't use this file" in card
    assert not page.locator("#ak-probs").is_visible() and not page.locator("#ak-haze").is_visible()
    assert page.locator("#ak-photo img").count() == 0  # no broken preview left behind
    body = page.inner_text("body")
    assert "Traceback" not in body and "Error" not in body  # no toast, no red pills
    page.close()


def test_a_file_over_the_size_cap_gets_the_apps_message(browser, app_url, tmp_path):
    from airken.core.intake import IntakeLimits

    big = tmp_path / "huge.jpg"
    big.write_bytes(b"\xff\xd8" + bytes(IntakeLimits.from_env().max_bytes))
    page = _open(browser, app_url, LAPTOP)
    page.locator("#ak-photo input[type=file]").set_input_files(str(big))
    page.wait_for_selector('#ak-verdict [data-state="error"]')
    assert "too large" in page.inner_text(CARD)
    assert "exceed" not in page.inner_text("body")  # Gradio's own "File(s) exceed ..." never shows
    page.get_by_role("tab", name="Many photos").click()  # the batch box stops it too, with its own message
    page.locator("#ak-batch-files input[type=file]").set_input_files(str(big))
    page.wait_for_selector("#ak-batch-table [role=status]")
    assert "too large" in page.inner_text("#ak-batch-table") and "exceed" not in page.inner_text("body")
    page.close()


NOT_PHOTOS = [("notes.txt", "text/plain", b"not a photo\n" * 20),
              ("report.pdf", "application/pdf", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")]


def _drop(page, target: str, files: list[tuple[str, str, bytes | int]]) -> None:
    """Drop files on `target` as a browser does: a DataTransfer holding them (bytes, or a size
    in zero bytes), through dragenter, dragover and drop."""
    data = page.evaluate_handle("""files => { const dt = new DataTransfer();
        for (const [name, type, body] of files) {
            const bytes = typeof body === 'number' ? new Uint8Array(body) : new Uint8Array(body);
            dt.items.add(new File([bytes], name, {type}));
        }
        return dt; }""", [[n, t, b if isinstance(b, int) else list(b)] for n, t, b in files])
    for kind in ("dragenter", "dragover", "drop"):
        page.dispatch_event(target, kind, {"dataTransfer": data})


def test_read_the_air_without_a_photo_asks_for_one_in_neutral_words(browser, app_url):
    page = _open(browser, app_url, PHONE)
    assert "no GPS" not in page.inner_text("body")  # nothing speaks of a photo before there is one
    page.get_by_role("button", name="Read the air").click()
    page.locator(CARD, has_text="No photo yet").wait_for()
    from airken.web.card import NO_PHOTO

    assert page.get_attribute(CARD, "data-state") == "empty" and NO_PHOTO in page.inner_text(CARD)
    assert page.locator('[data-state="error"]').count() == 0 and "Error" not in page.inner_text("body")
    assert "no GPS" not in page.inner_text("body")
    assert _serious_axe_violations(page) == []
    page.close()


@pytest.mark.parametrize("how", ["file input", "drop"])
def test_a_file_that_is_not_a_photo_is_stopped_before_upload(browser, app_url, tmp_path, how):
    """The page script stops it (window.akRefusedFile, the hidden #ak-photo-refused button) and
    the card says what Airken reads, before a byte is uploaded: a .txt and a .pdf, chosen or dropped."""
    from airken.web.text import NOT_A_PHOTO

    page = _open(browser, app_url, LAPTOP)
    uploads: list[str] = []
    # The upload route itself: the example photos are served from the upload folder (".../uploads/...").
    page.on("request", lambda r: uploads.append(r.url) if urlsplit(r.url).path.endswith("/upload") else None)
    assert page.locator("#ak-photo-refused").count() == 1
    for name, mime, body in NOT_PHOTOS:
        page.get_by_role("button", name="Read the air").click()  # a fresh card: the next message is new
        page.locator(CARD, has_text="No photo yet").wait_for()
        if how == "drop":
            _drop(page, "#ak-photo button.upload-container", [(name, mime, body)])
        else:
            (tmp_path / name).write_bytes(body)
            page.locator("#ak-photo input[type=file]").set_input_files(str(tmp_path / name))
        page.wait_for_selector('#ak-verdict [data-state="error"]')
        assert NOT_A_PHOTO in page.inner_text(CARD), name
    assert uploads == []
    assert not page.locator("#ak-photo-refused").is_visible()  # off screen: a hook, not a control
    assert "exceed" not in page.inner_text("body") and "Invalid file" not in page.inner_text("body")
    page.close()


@pytest.mark.parametrize("how", ["file input", "drop"])
def test_the_batch_box_names_each_file_that_is_not_a_photo(browser, app_url, tmp_path, how):
    """Many photos: a file that is not a photo gets its own row with the app's reason, beside the
    photos read; a file over the size cap is stopped before upload, dropped or chosen."""
    from airken.core.intake import IntakeLimits

    page = _open(browser, app_url, LAPTOP)
    page.get_by_role("tab", name="Many photos").click()
    sky = EXAMPLES / "clear-kite.jpg"
    files = [*NOT_PHOTOS, (sky.name, "image/jpeg", sky.read_bytes())]
    if how == "drop":
        _drop(page, "#ak-batch-files button.upload-container", files)
    else:
        for name, _, body in files:
            (tmp_path / name).write_bytes(body)
        page.locator("#ak-batch-files input[type=file]").set_input_files([str(tmp_path / n) for n, _, _ in files])
    page.wait_for_function("document.querySelector('#ak-batch-files').innerText.includes('clear-kite')")
    page.get_by_role("button", name="Read all").click()
    page.wait_for_selector("#ak-batch-table table tbody tr >> nth=2")
    rows = {r.locator("th").inner_text(): r.inner_text() for r in page.locator("#ak-batch-table tbody tr").all()}
    assert "This file is a text file" in rows["notes.txt"] and "This file is a PDF document" in rows["report.pdf"]
    assert "Can't read" not in rows[sky.name] and "%" in rows[sky.name]  # the photo beside them is read
    if how == "drop":
        _drop(page, "#ak-batch-files", [("huge.jpg", "image/jpeg", IntakeLimits.from_env().max_bytes + 1)])
        page.wait_for_selector("#ak-batch-table [role=status]")
        assert "too large" in page.inner_text("#ak-batch-table")
    page.close()


def test_heic_upload_gets_a_decoded_preview(browser, app_url, tmp_path):
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    heic = tmp_path / "iphone.heic"
    buf = io.BytesIO()
    Image.open(EXAMPLES / "clear-bridge-cables.jpg").convert("RGB").save(buf, "HEIF", quality=50)
    heic.write_bytes(buf.getvalue())
    page = _open(browser, app_url, LAPTOP)
    assert _upload(page, heic) in ("reading", "unsure")
    page.wait_for_function("() => { const i = document.querySelector('#ak-photo img');"
                           " return i && i.src.includes('.png') && i.complete && i.naturalWidth > 0; }")
    page.close()


BROKEN_WORDS = """sel => {
    const broken = [];
    document.querySelectorAll(sel).forEach(cell => {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const m of node.data.matchAll(/[^\\s-]+/g)) {  // a break after a hyphen is a break between words
                const r = document.createRange();
                r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length);
                const boxes = Array.from(r.getClientRects()).filter(x => x.width > 0);
                const lines = new Set(boxes.map(x => Math.round(x.top)));
                if (lines.size > 1) broken.push(m[0]);
            }
        }
    });
    return broken; }"""


def test_batch_table_reads_well_on_a_laptop(browser, app_url, tmp_path):
    """No heading or value breaks mid-word ("Healt hy"), and the table fits a laptop's width."""
    page = _open(browser, app_url, LAPTOP)
    page.get_by_role("tab", name="Many photos").click()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    names = ("night-rocket-launch.jpg", "clear-kite.jpg", "sun-glare-hilltop.jpg")
    page.locator("#ak-batch-files input[type=file]").set_input_files([str(notes), *(str(EXAMPLES / n) for n in names)])
    page.wait_for_function("document.querySelector('#ak-batch-files').innerText.includes('sun-glare')")
    page.get_by_role("button", name="Read all").click()
    page.wait_for_selector("#ak-batch-table table tbody tr >> nth=3")
    assert page.evaluate(BROKEN_WORDS, "#ak-batch-table thead th, #ak-batch-table tbody td") == []
    heads = page.locator("#ak-batch-table thead th").all_inner_texts()
    assert "PM2.5 band" in heads and "Healthy" in heads  # the unit as written, each heading whole
    region = page.locator("#ak-batch-table .ak-scroll")
    assert region.evaluate("r => r.scrollWidth <= r.clientWidth + 1")  # no sideways scrolling on a laptop
    _shoot(page, "batch-desktop")
    assert _serious_axe_violations(page) == []
    page.close()


def test_batch_table_and_about_fit_a_phone(browser, app_url):
    page = _open(browser, app_url, PHONE)
    page.get_by_role("tab", name="Many photos").click()
    files = [str(EXAMPLES / n) for n in ("clear-kite.jpg", "night-rocket-launch.jpg", "fog-pier.jpg")]
    page.locator("#ak-batch-files input[type=file]").set_input_files(files)
    page.get_by_role("button", name="Read all").click()
    page.wait_for_selector("#ak-batch-table table tbody tr >> nth=2")
    _fits(page, PHONE["width"])
    cell = page.locator("#ak-batch-table tbody tr >> nth=0").locator("td >> nth=0").bounding_box()
    assert cell["width"] > 100  # a card per photo, not one letter per line
    batch = page.inner_text("#ak-batch-table")
    assert "danger" not in batch and "Unhealthy" in batch  # the page's word is "unhealthy"
    assert "Can't read the air from this photo" in batch  # the night photo: the card's own headline
    page.get_by_role("tab", name="About").click()
    page.get_by_text("What Airken can and cannot tell you").wait_for()
    for section in ("Measured on places it never saw in training", "The model file"):
        page.get_by_text(section).first.click()
    page.wait_for_timeout(300)
    _fits(page, PHONE["width"])
    places = page.locator(".ak-about .ak-scroll table").first
    assert places.locator("xpath=..").get_attribute("tabindex") == "0"  # a wide table scrolls, by keyboard too
    assert "always the commonest band" in places.inner_text()
    _shoot(page, "about")
    assert _serious_axe_violations(page) == []
    page.close()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE])
def test_about_renders_its_markdown_and_speaks_in_percent(browser, app_url, viewport):
    """Every section open: no literal "**" (a "<" ... ">" pair once stopped Gradio's markdown),
    no raw entities, one number format (percent, not 0.48), and nothing runs off the screen."""
    import re

    page = _open(browser, app_url, viewport)
    page.get_by_role("tab", name="About").click()
    page.get_by_text("What Airken can and cannot tell you").wait_for()
    titles = page.locator(".ak-about button.label-wrap")
    for i in range(titles.count()):
        if "metrics.json" not in titles.nth(i).inner_text():
            titles.nth(i).click()
    page.get_by_text("Airken weighs two witnesses").wait_for()
    text = "\n".join(page.locator(".ak-about .prose").all_inner_texts())
    assert "**" not in text and "&lt;" not in text and "&gt;" not in text
    assert "healthy (PM2.5 < 30" in text and "unhealthy (PM2.5 > 54" in text
    assert not re.search(r"\b0\.\d\d\b", text), re.search(r".{40}\b0\.\d\d\b.{20}", text)
    page.wait_for_timeout(300)
    _fits(page, viewport["width"])
    assert _serious_axe_violations(page) == []
    page.close()


def test_page_runs_under_its_content_security_policy(browser, app_url):
    """The CSP of airken.web.middleware blocks nothing the page needs: upload, verdict, haze map,
    the About tab."""
    page = browser.new_page(viewport=LAPTOP)
    page.set_default_timeout(TIMEOUT_MS)
    blocked = []
    page.on("console", lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda err: blocked.append(str(err)))
    response = page.goto(app_url)
    assert "frame-ancestors" in (response.headers.get("content-security-policy") or "")
    page.wait_for_selector("#ak-photo input[type=file]", state="attached")
    _upload(page, EXAMPLES / "clear-mountains-picos-de-europa.jpg")
    page.get_by_role("tab", name="About").click()
    page.wait_for_timeout(500)
    assert blocked == []
    # The policy is enforced, and this listener would have seen it: a script from elsewhere is refused.
    page.evaluate("""() => { const s = document.createElement('script');
        s.src = 'https://cdn.example.invalid/x.js'; document.head.appendChild(s); }""")
    page.wait_for_timeout(500)
    assert any("cdn.example.invalid" in text for text in blocked), blocked
    page.close()
