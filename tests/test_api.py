"""The public API as a newcomer meets it on a live server: the "Use via API" page's JSON names
every input, its descriptions are plain text and its example photo exists (the Python snippet
runs from any folder); a plain-HTTP call that sends only the photo gets a verdict, and a wrong
call gets a message instead of Gradio's bare {"error": null}."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from airken.core.classes import LABELS
from airken.web.uploads import NOT_AN_UPLOAD
from bench.load import GradioHTTP

pytestmark = [  # Gradio's queue still calls pandas options that pandas 3 deprecates: not ours to fix.
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
KITE = EXAMPLES / "clear-kite.jpg"
INPUTS = ["image", "latitude", "longitude", "time", "prior", "profile"]
GRADIO_NAMES = re.compile(r"(parameter|param|value)_\d+")


def _info(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)["named_endpoints"]


@pytest.fixture(scope="module")
def info(app_url) -> dict:
    """The page's JSON, snippets and all (undocumented endpoints would come without them)."""
    every = _info(f"{app_url}gradio_api/info?all_endpoints=true")
    assert set(every) == {"/predict", "/air"}  # the page's own events are private: no API names
    return _info(f"{app_url}gradio_api/info")


@pytest.fixture(scope="module")
def http(app_url) -> GradioHTTP:
    return GradioHTTP(app_url, "/gradio_api")


@pytest.fixture(scope="module")
def uploaded(http) -> dict:
    return {"path": http.upload("kite.jpg", KITE.read_bytes()), "meta": {"_type": "gradio.FileData"}}


def test_every_public_input_and_output_has_a_name(info):
    assert set(info) == {"/predict", "/air"}
    assert [p["parameter_name"] for p in info["/predict"]["parameters"]] == INPUTS
    for endpoint in info.values():
        for part in [*endpoint["parameters"], *endpoint["returns"]]:
            assert not GRADIO_NAMES.fullmatch(part["label"]), part["label"]
            assert not GRADIO_NAMES.fullmatch(part.get("parameter_name", "")), part
            assert "`" not in part["label"] + part["python_type"]["description"]
        assert "`" not in endpoint["description"], endpoint["description"]


def test_the_example_photo_exists_and_the_python_snippet_runs_from_any_folder(info, tmp_path):
    example = info["/predict"]["parameters"][0]["example_input"]
    assert Path(example["path"]).is_absolute() and Path(example["path"]).is_file()
    snippet = info["/predict"]["code_snippets"]["python"]
    assert f"handle_file('{example['path']}')" in snippet
    done = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.search(r"'label': '(healthy|moderate|danger)'", done.stdout)


def test_a_photo_only_call_gets_a_verdict(http, uploaded):
    event, payload = http.call("predict", [uploaded])
    assert event == "complete" and payload[0]["label"] in LABELS
    as_string = http.call("predict", [uploaded["path"]])  # a bare path string, as many scripts send it
    assert as_string[0] == "complete" and as_string[1][0]["label"] == payload[0]["label"]


def test_a_named_call_with_only_the_photo_gets_a_verdict(http, uploaded):
    resp = http._request("POST", "/gradio_api/call/v2/predict", json.dumps({"image": uploaded}).encode(),
                         {"Content-Type": "application/json"})
    event_id = json.loads(resp.read())["event_id"]
    resp = http._request("GET", f"/gradio_api/call/predict/{event_id}")
    assert b"event: complete" in resp.read()
    http._reconnect()


@pytest.mark.parametrize("data, words", [
    ([], "Send a photo"),
    ([{"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}], NOT_AN_UPLOAD),  # Gradio's marker
    (["/etc/hostname"], NOT_AN_UPLOAD),
    ([{"path": 7}], "image must be a file: upload it"),
    ([["a list"]], "image must be a file: upload it"),
    (["UPLOADED", None, None, None, None, None, "a seventh"], "takes 6 inputs, this call sent 7: it takes " +
     ", ".join(INPUTS) + ", in this order; image is required, the others may be null or left out."),
], ids=["nothing", "meta outside the uploads", "bare path outside", "number path", "list", "too many"])
def test_a_wrong_call_gets_a_readable_message(http, uploaded, data, words):
    data = [uploaded if value == "UPLOADED" else value for value in data]
    event, payload = http.call("predict", data)
    message = json.loads(payload)["detail"] if event == "http 422" else payload.get("error")
    assert event in ("error", "http 422") and message and words in message, (event, payload)


def test_a_named_call_with_an_unknown_input_says_which_inputs_there_are(http, uploaded):
    resp = http._request("POST", "/gradio_api/call/v2/predict", json.dumps({"image": uploaded, "lat": 45}).encode(),
                         {"Content-Type": "application/json"})
    detail = json.loads(resp.read())["detail"]
    assert resp.status == 422 and "no input called 'lat'" in detail and ", ".join(INPUTS) in detail


def test_air_with_nothing_says_what_it_needs(http):
    event, payload = http.call("air", [])
    assert event == "complete" and "latitude" in payload[0]["error"]
    event, payload = http.call("air", [45.46, 9.19, None, None, "Milan"])
    assert event == "http 422" and json.loads(payload)["detail"] == (
        "air takes 4 inputs, this call sent 5: it takes latitude, longitude, time, where, in this order; "
        "each may be null or left out.")
