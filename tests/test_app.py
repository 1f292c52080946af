"""The web app: the page builds, the /predict API answers like the CLI, bad files get a
clean message, and app.py starts without TensorFlow."""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AIRKEN_HUB", "0")

import csv  # noqa: E402
import dataclasses  # noqa: E402
import html  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import pytest  # noqa: E402
from conftest import free_port  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from airken.core.classes import CLASSES, LABELS  # noqa: E402
from airken.core.intake import ImageRejected, load_image  # noqa: E402
from airken.core.predictor import get_predictor  # noqa: E402
from airken.core.words import REFUSED_HEADLINE, UNSURE_HEADLINE, UNSURE_PLAN  # noqa: E402
from airken.examples import EXAMPLES_DIR as EXAMPLES  # noqa: E402
from airken.table import COLUMNS, UNREADABLE  # noqa: E402
from airken.web import about, card, handlers, sweeper, ui  # noqa: E402
from airken.web.text import GENERIC_ERROR  # noqa: E402

# Gradio's queue still calls pandas options that pandas 3 deprecates: not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
ROOT = Path(__file__).resolve().parent.parent
SKY = EXAMPLES / "clear-mountains-picos-de-europa.jpg"
NIGHT = EXAMPLES / "night-rocket-launch.jpg"
HEADLINES = {c.headline for c in CLASSES}


def _tab(predictor) -> handlers.ReadTab:
    """A read tab whose components are their own names: its events' answers are keyed by them."""
    names = [f.name for f in dataclasses.fields(handlers.ReadTab) if f.name != "predictor"]
    return handlers.ReadTab(predictor, **{n: n for n in names})


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_page_builds_with_two_public_endpoints():
    demo = ui.build_demo(get_predictor())
    public = [fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"]
    assert sorted(public) == ["air", "predict"]


def test_api_reads_a_sky_photo(client):
    result = client.predict(handle_file(str(SKY)), api_name="/predict")
    assert result["label"] in LABELS
    assert set(result["probabilities"]) == set(LABELS)
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert result["headline"] in HEADLINES | {UNSURE_HEADLINE}
    assert set(result["plan"]) == set(CLASSES[0].plan) == set(UNSURE_PLAN)
    assert result["model"]["sha256"]


def test_api_and_the_real_cli_give_one_json(client):
    """One serialisation: the CLI's line is the API's answer with the path in front."""
    from conftest import offline_env

    for photo in (SKY, NIGHT):
        result = client.predict(handle_file(str(photo)), api_name="/predict")
        done = subprocess.run([sys.executable, "-m", "airken", "predict", "--json", str(photo)], cwd=ROOT,
                              env=offline_env(), capture_output=True, text=True, timeout=120)
        line = json.loads(done.stdout)
        assert line.pop("path") == str(photo)
        assert set(line) == set(result)
        line.pop("timings_ms"), result.pop("timings_ms")
        assert line == result


def test_api_refuses_a_night_photo_with_advice(client):
    result = client.predict(handle_file(str(NIGHT)), api_name="/predict")
    assert result["label"] is None
    assert result["probabilities"] is None
    assert result["headline"] and result["advice"]
    assert result["plan"] == {}


def test_api_corrupt_file_gets_our_message(client, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(SKY.read_bytes()[:300])
    with pytest.raises(ImageRejected) as expected:
        load_image(bad)
    with pytest.raises(AppError) as err:
        client.predict(handle_file(str(bad)), api_name="/predict")
    message = str(err.value)
    assert message == expected.value.args[0]
    assert "Traceback" not in message


def test_api_text_file_gets_a_message(client, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a photo\n" * 20)
    with pytest.raises(AppError) as err:
        client.predict(handle_file(str(text)), api_name="/predict")
    assert "Traceback" not in str(err.value)
    assert str(err.value).strip()


class _Broken:
    limits = None

    def predict(self, image, **options):
        raise RuntimeError("internal detail that must not reach the visitor")


def test_unexpected_errors_are_logged_and_hidden(caplog, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # an upload, as far as the page can tell
    (tmp_path / "x.jpg").write_bytes(SKY.read_bytes())
    shown = _tab(_Broken()).read(str(tmp_path / "x.jpg"))["card"]
    assert 'data-state="error"' in shown and html.escape(GENERIC_ERROR) in shown
    with pytest.raises(gr.Error) as err:
        handlers.api_predict(_Broken(), str(tmp_path / "x.jpg"))
    assert err.value.message == GENERIC_ERROR
    assert "internal detail" in caplog.text  # the traceback stays in the server log
    assert "internal detail" not in shown


def test_no_photo_asks_for_one():
    shown = _tab(get_predictor()).read(None)["card"]
    assert 'data-state="empty"' in shown and html.escape(card.NO_PHOTO) in shown
    with pytest.raises(gr.Error, match="Send a photo"):
        handlers.api_predict(get_predictor(), None)


def test_a_file_that_is_no_calibration_profile_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # both files are uploads
    (tmp_path / "sky.jpg").write_bytes(SKY.read_bytes())
    for name, text in (("other.json", '{"format": 9}'), ("broken.json", "{not json")):
        (tmp_path / name).write_text(text)
        shown = _tab(get_predictor()).read(str(tmp_path / "sky.jpg"), profile=str(tmp_path / name))["card"]
        assert 'data-state="error"' in shown and "calibration profile" in shown and "airken calibrate" in shown
        assert "format 1" not in shown and "Error" not in shown  # no internals, no exception names


def test_verdict_and_plan_for_a_reading():
    v = get_predictor().predict(SKY)
    assert v.label is not None
    shown = card.verdict_card(v)
    assert html.escape(v.headline) in shown and v.colour in shown and f'data-label="{v.label}"' in shown
    plan = card.plan_html(v)
    for activity, todo in v.plan.items():
        assert activity.capitalize() in plan and html.escape(todo) in plan


def test_verdict_for_a_refused_photo_says_why():
    v = get_predictor().predict(NIGHT)
    assert v.label is None
    shown = card.verdict_card(v)
    assert 'data-label="none"' in shown
    assert html.escape(v.headline) in shown and html.escape(v.advice) in shown
    assert card.plan_html(v) == ""


def test_batch_rows_and_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # the empty file is an upload
    bad = tmp_path / "up" / "empty.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"")
    predictor = get_predictor()
    rows = [handlers._batch_row(predictor, str(p), None) for p in (SKY, NIGHT, bad)]
    assert rows[0]["verdict"] in HEADLINES | {UNSURE_HEADLINE} and rows[0]["leans to"] in {c.word for c in CLASSES}
    assert rows[1]["verdict"] == REFUSED_HEADLINE and rows[1]["notes"]
    assert rows[2]["verdict"] == UNREADABLE and "empty" in rows[2]["notes"]
    shown, button = handlers.batch(predictor, [str(SKY), str(NIGHT), str(bad)], None, _NoProgress())
    assert all(html.escape(r["verdict"]) in shown for r in rows)
    with open(button.value["path"] if isinstance(button.value, dict) else button.value, newline="",
              encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert table[0] == list(COLUMNS) and len(table) == 4 and "danger" not in table[0]  # the page's words
    assert 0 <= float(table[1][COLUMNS.index("healthy")]) <= 1  # shares as numbers, not "59%"


class _NoProgress:
    def tqdm(self, items, **kwargs):
        return items


def _system(acc: float) -> dict:
    return {"accuracy": acc, "balanced_accuracy": acc - 0.1, "macro_f1": acc - 0.2,
            "per_class_recall": {"healthy": 0.9, "moderate": 0.5, "danger": None}}


def test_metrics_tables_from_training_metrics():
    metrics = {
        "model_sha256": "abc",
        "config": {"epochs": 3},
        "evaluation": {
            "daylight": {"n": 120, "systems": {"model": _system(0.81), "majority": _system(0.7)}},
            "all": {"n": 200, "systems": {"model": _system(0.7)}},
            "night": {"n": 0, "note": "no frames"},
        },
        "kfold": {"k": 5, "groups": 30, "systems": {"model": {"accuracy": {"mean": 0.8, "std": 0.05}}}},
        "leave_one_place_out": {"model": {"accuracy": 0.55, "balanced_accuracy": 0.41}},
    }
    table = about.metrics_markdown(metrics)
    assert "Held-out days, daylight photos** (120 photos)" in table
    assert "| **this model** | 81% | 71% | 61% | 90% | 50% | n/a |" in table  # percent, as everywhere for visitors
    assert "always the commonest band" in table and "not measured" in table
    assert "night photos" not in table and "all photos" not in table  # daylight is what the app reads
    assert "80% \N{PLUS-MINUS SIGN} 5%" in table
    assert "leave_one_place_out / model | 55% | 41% | n/a" in table
    assert "epochs" not in table
    assert about.metrics_markdown({}) == ""
    page = about.about_page({"model": {"source": "bundled", "sha256": "abc"}, "metrics": metrics})
    text = page.lead + "".join(t for _, t in page.sections)
    assert "abc" in text and "CC BY 4.0" in text and "CC BY-NC-SA 3.0 IGO" in text


def test_sweeper_deletes_only_old_files_of_this_app(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    with gr.Blocks() as demo:
        gr.Markdown("x")
    ours = [tmp_path / "a1" / "upload.jpg", tmp_path / "b2" / "result.csv"]
    stranger = tmp_path / "c3" / "other-app.jpg"
    for f in (*ours, stranger):
        f.parent.mkdir()
        f.write_bytes(b"x")
    demo.upload_file_set.update(str(f) for f in ours)
    assert sweeper.sweep_temp_files(demo, max_age_s=3600) == 0  # all fresh
    assert sweeper.sweep_temp_files(demo, max_age_s=-1) == 2
    assert not any(f.exists() or f.parent.exists() for f in ours)
    assert stranger.exists() and not demo.upload_file_set


def test_a_fresh_upload_of_an_old_file_stays(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    with gr.Blocks() as demo:
        gr.Markdown("x")
    upload = tmp_path / "a1" / "old-photo.jpg"
    upload.parent.mkdir()
    upload.write_bytes(b"x")
    os.utime(upload, (time.time() - 7200, time.time() - 7200))  # as shutil.copy2 keeps a file's own date
    demo.upload_file_set.add(str(upload))
    assert sweeper.sweep_temp_files(demo, max_age_s=600) == 0 and upload.exists()


def test_examples_all_have_labels():
    from airken.examples import TITLES, example_paths

    paths = example_paths()
    assert len(paths) == len(list(EXAMPLES.glob("*.jpg"))) >= 12
    assert all(p.stem in TITLES for p in paths)


def test_app_and_page_do_not_import_tensorflow():
    code = (
        "import sys, app; from airken.web.ui import build_demo; build_demo(); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'torch')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "GRADIO_EXAMPLES_CACHE": str(Path(os.environ.get("TMPDIR", "/tmp")) / "ak-ex")},
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_app_py_serves_the_page(tmp_path):
    port = free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(tmp_path / "uploads"),
           "GRADIO_EXAMPLES_CACHE": str(tmp_path / "examples")}
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        body = ""
        for _ in range(240):  # bounded: up to ~60 s on a busy machine
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    body = resp.read().decode("utf-8", "replace")
                break
            except OSError:
                time.sleep(0.25)
        assert "Airken" in body, proc.stdout.read() if proc.poll() is not None else "no page"
    finally:
        proc.terminate()
        proc.wait(timeout=20)



def test_about_credits_the_data_the_model_was_trained_on():
    milan_only = about.credits_markdown({"config": {"data": ["../shared/data/milan"]}})
    assert "Milan" in milan_only and "Kaggle" not in milan_only
    both = about.credits_markdown({"config": {"data": ["/d/milan", "/d/india-nepal"]}})
    assert "Milan" in both and "Kaggle" in both
    assert "](https://doi.org/10.34740/KAGGLE/DS/3152196)" in both  # a link, not a path


def test_about_shows_the_per_place_table_before_the_held_out_days():
    ci = {"low": 0.35, "high": 0.5}
    places = {"system": "network", "systems": ["network", "colour", "majority"], "chance": 1 / 3,
              "per_place": {"mumbai": {"frames": 547, "balanced_accuracy": {"network": 0.48, "colour": 0.41,
                                                                             "majority": 0.333}}},
              "pooled": {"network": {"balanced_accuracy": 0.44, "balanced_accuracy_95ci": ci},
                         "colour": {"balanced_accuracy": 0.46, "balanced_accuracy_95ci": ci},
                         "majority": {"balanced_accuracy": 0.333}}}
    page = about.about_page({"model": {}, "metrics": {"places": places, "config": {"data": ["/d/milan"]}}})
    titles = [t for t, _ in page.sections]
    assert titles.index("Measured on places it never saw in training") < titles.index(
        "Measured on days it never saw in training")
    text = "".join(t for _, t in page.sections)
    assert "| mumbai | 547 | 48% | 41% | 33% |" in text
    assert "not better than the colour/haze baseline (46%)" in text
    assert "44%" in page.lead and "33%" in page.lead  # the one honest number leads
    assert "system" not in about.metrics_markdown({"places": places})  # not repeated as a raw table


STUDY = {"simulated": True, "setting": {"bias_sd": 0.3, "noise_sd": 0.4},
         "pooled": {"air_model_alone": 0.71, "photo_and_air_model": 0.74, "photo_alone": 0.48,
                    "photo_alone_as_shown": 0.42},
         "sure": {"air_model": {"sure": 0.55, "right_when_sure": 0.86},
                  "prior": {"sure": 0.04, "right_when_sure": None}}}


def _about_text(metrics: dict) -> str:
    page = about.about_page({"model": {}, "metrics": metrics})
    return page.lead + "\n".join(f"{t}\n{body}" for t, body in page.sections)


def test_about_says_what_each_witness_adds_and_that_the_air_model_is_simulated():
    text = _about_text({"air_model_study": STUDY})
    for number in ("71%", "74%", "48%", "42%", "55%", "86%", "4%"):
        assert number in text, number
    assert "SIMULATION" in text and "the photo adds 3 points" in text
    assert "\N{MULTIPLICATION SIGN}1.3" in text and "\N{MULTIPLICATION SIGN}1.5" in text  # exp(0.3), exp(0.4)
    lead = about.about_page({"model": {}, "metrics": {"air_model_study": STUDY}}).lead
    assert "42%" in lead and "74%" in lead and "simulation" in lead  # the numbers the app runs with lead
    assert not re.search(r"\b0\.\d\d\b", text)  # one number format: percent


def test_about_says_nothing_of_an_air_model_study_it_does_not_carry():
    places = {"system": "network", "systems": ["network", "majority"], "chance": 1 / 3,
              "per_place": {"milan": {"frames": 9, "balanced_accuracy": {"network": 0.5, "majority": 1 / 3}}},
              "pooled": {"network": {"balanced_accuracy": 0.5}, "majority": {"balanced_accuracy": 1 / 3}},
              "verdicts": {"prior": {"none": {"balanced_accuracy": 0.5, "accuracy": 0.5, "ece": 0.1},
                                     "world": {"balanced_accuracy": 0.44, "accuracy": 0.4, "ece": 0.2}},
                           "unsure": {"ship": 0.83, "coverage": 0.03, "accuracy_kept": 0.4, "accuracy_all": 0.37},
                           "few_shot": {}}}
    for metrics in ({}, {"places": places}, {"places": places, "air_model_study": {"pooled": {"photo_alone": 0.5}}}):
        text = _about_text(metrics)
        assert "simulat" not in text.lower() and "air model alone" not in text
    lead = about.about_page({"model": {}, "metrics": {"places": places}}).lead
    assert "44%" in lead and "3%" in lead  # the photo alone as the app shows it: the world prior, not 50%
    assert "&lt; 30" in _about_text({}) and "PM2.5 < 30" not in _about_text({})  # "<" ... ">" as entities


def test_a_click_decodes_the_photo_once(monkeypatch):
    from airken.core import intake
    calls = []
    real = intake._decode
    monkeypatch.setattr(intake, "_decode", lambda *a, **k: calls.append(1) or real(*a, **k))
    out = _tab(get_predictor()).read(str(SKY))
    assert len(calls) == 1
    assert out["photo"] is not None and out["haze"] is not None  # the photo and its haze map, from that one decode


def test_about_explains_what_looks_like_a_bug():
    """A constant baseline's 0.00 and 1.00, and a k-fold table without the model, are explained."""
    metrics = {
        "evaluation": {"daylight": {"n": 47, "systems": {
            "model": _system(0.9),
            "majority": {"accuracy": 0.0, "balanced_accuracy": 0.0, "macro_f1": 0.0,
                         "predicted": {"healthy": 0, "moderate": 0, "danger": 47},
                         "support": {"healthy": 42, "moderate": 5, "danger": 0}}}}},
        "kfold": {"k": 5, "groups": 10, "systems": {"colour": {"accuracy": {"mean": 0.6, "std": 0.1}}}},
    }
    text = about.metrics_markdown(metrics)
    assert 'answered "unhealthy" for every photo' in text and "0 of these photos were unhealthy" in text
    assert "This model itself is not in the k-fold rows" in text
    places = {"system": "network", "systems": ["network", "majority"], "chance": 1 / 3,
              "per_place": {"delhi": {"frames": 20, "classes": {"healthy": 0, "moderate": 0, "danger": 20},
                                      "balanced_accuracy": {"network": 0.5, "majority": 1.0}}},
              "pooled": {"network": {"balanced_accuracy": 0.5}, "majority": {"balanced_accuracy": 0.33}}}
    from airken.card.measurements import places_markdown

    assert "Every photo of delhi (all unhealthy) is in one band" in places_markdown(places)
    assert "under the upload box" in card.empty_card()  # where the examples really are


def test_api_takes_a_class_prior_and_a_calibration_profile(client):
    from verdicts import clean_profile

    plain = client.predict(handle_file(str(SKY)), prior="train", api_name="/predict")
    assert plain["prior"] is None and plain["profile"] is None and plain["basis"] == "prior"
    world = client.predict(handle_file(str(SKY)), api_name="/predict")
    assert world["prior"] == pytest.approx({"healthy": 0.6, "moderate": 0.25, "danger": 0.15})
    clean = clean_profile()
    calibrated = client.predict(handle_file(str(SKY)), profile=clean.to_json(), api_name="/predict")
    assert calibrated["profile"] == "rooftop" and calibrated["prior"] is None and calibrated["label"] == "healthy"
    assert calibrated["basis"] == "profile" and "rooftop" in calibrated["witnesses"][0]["says"]
    for prior, profile in (("1,2", None), (None, '{"format": 9}'), (None, "../../etc/passwd")):
        with pytest.raises(AppError, match="prior|profile|place"):
            client.predict(handle_file(str(SKY)), prior=prior, profile=profile, api_name="/predict")
