"""The public API as a newcomer meets it on a live server: the "Use via API" page's JSON names
every input, its descriptions are plain text and its example photo exists (the Python snippet
runs from any folder)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = [  # Gradio's queue still calls pandas options that pandas 3 deprecates: not ours to fix.
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
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
