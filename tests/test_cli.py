"""The command line as a person or a script runs it: `python -m airken predict|info`.

Each call is a fresh interpreter with the Hub switched off, so it reads the bundled model
(or AIRKEN_MODEL_PATH when the environment sets one).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import offline_env

from airken.core.classes import CLASSES, LABELS
from airken.core.verdict import Verdict
from airken.core.witnesses import verdict_class
from airken.core.words import REFUSED_HEADLINE, UNSURE_HEADLINE
from airken.examples import EXAMPLES_DIR as EXAMPLES
from airken.table import UNREADABLE

REPO_ROOT = Path(__file__).resolve().parents[1]
RECORD_KEYS = {"path", *Verdict.serialised_fields()}
GOOD = ["clear-kite.jpg", "hazy-beijing-summer-palace.jpg", "fog-pier.jpg", "night-rocket-launch.jpg"]
TIMEOUT_S = 120


def airken(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "airken", *args], cwd=REPO_ROOT, env=env or offline_env(),
                          capture_output=True, text=True, timeout=TIMEOUT_S)


def json_lines(stdout: str) -> list[dict]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def check_record(rec: dict) -> None:
    assert set(rec) == RECORD_KEYS
    assert isinstance(rec["advice"], str) and rec["advice"]
    assert isinstance(rec["warnings"], list) and all(isinstance(w, str) for w in rec["warnings"])
    assert isinstance(rec["witnesses"], list) and all(isinstance(w["says"], str) for w in rec["witnesses"])
    assert {"source", "sha256"} <= set(rec["model"])
    if rec["label"] is None:
        assert rec["probabilities"] is None and rec["pm25_range"] is None
    else:
        assert rec["label"] in LABELS
        assert set(rec["probabilities"]) == set(LABELS)
        assert sum(rec["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
        by_median = rec["basis"] == "air_model"  # the median band with the air model, else the likeliest
        assert rec["label"] == LABELS[verdict_class([rec["probabilities"][c] for c in LABELS], by_median)]
        assert "PM2.5" in rec["pm25_range"] and "\N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}" in rec["pm25_range"]
        assert rec["unsure"] == (rec["unsure_reason"] is not None)


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "corrupt.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)  # JPEG magic, then nonsense
    return path


def test_predict_json_one_record_per_file():
    paths = [str(EXAMPLES / name) for name in GOOD]
    done = airken("predict", "--json", *paths)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    records = json_lines(done.stdout)
    assert [r["path"] for r in records] == paths
    for rec in records:
        check_record(rec)
    by_name = {Path(r["path"]).name: r for r in records}
    assert by_name["night-rocket-launch.jpg"]["label"] is None
    assert by_name["clear-kite.jpg"]["label"] in LABELS


def test_predict_corrupt_file_is_reported_and_the_rest_still_print(corrupt, tmp_path):
    missing = tmp_path / "no-such-photo.jpg"
    paths = [str(EXAMPLES / "clear-kite.jpg"), str(corrupt), str(missing), str(EXAMPLES / "fog-pier.jpg")]
    done = airken("predict", "--json", *paths)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    records = json_lines(done.stdout)
    assert [r["path"] for r in records] == paths
    check_record(records[0])
    check_record(records[3])
    for bad in records[1:3]:
        assert set(bad) == {"path", "error"}
        assert isinstance(bad["error"], str) and len(bad["error"]) > 10
    assert "no such file" in records[2]["error"].lower()


def test_predict_table_output(corrupt):
    paths = [str(EXAMPLES / "clear-kite.jpg"), str(EXAMPLES / "night-rocket-launch.jpg"), str(corrupt)]
    done = airken("predict", *paths)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 + len(paths)
    assert lines[0].split()[:3] == ["file", "verdict", "confidence"]
    assert not any(line.lstrip().startswith("{") for line in lines)
    sure = json_lines(airken("predict", "--json", paths[0]).stdout)[0]
    assert sure["headline"] in lines[1] and "%" in lines[1]  # the page's words and number format
    assert sure["headline"] in {c.headline for c in CLASSES} | {UNSURE_HEADLINE}
    assert sure["unsure_reason"] is None or sure["unsure_reason"] in lines[1]
    assert REFUSED_HEADLINE in lines[2]
    assert UNREADABLE in lines[3]


def test_a_refused_scene_exits_0_and_litert_says_nothing():
    done = airken("predict", str(EXAMPLES / "night-rocket-launch.jpg"), "--json")
    assert done.returncode == 0  # refused by the scene checks is still read: label null
    assert json_lines(done.stdout)[0]["label"] is None
    assert "XNNPACK" not in done.stderr and "INFO" not in done.stderr


def _fresh_venv(tmp_path: Path) -> Path:
    """A new virtualenv with `pip install .` from a copy of the package (the build leaves no
    files in the repo): its dependencies only, no extras. Wheels come from pip's usual index."""
    source, venv = tmp_path / "source", tmp_path / "venv"
    shutil.copytree(REPO_ROOT / "airken", source / "airken", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", source)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT_S)
    built = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(source)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    return venv


def test_the_package_installs_and_predicts_without_the_web_extras(tmp_path):
    """`pip install .` (no [app] extra) gives the library and an `airken` command that read a
    photo from any folder without gradio; offline, the Hub says nothing on stderr."""
    venv = _fresh_venv(tmp_path)
    python = str(venv / "bin" / "python")
    assert subprocess.run([python, "-c", "import gradio"], capture_output=True).returncode != 0
    assert subprocess.run([python, "-c", "import icalendar"], capture_output=True).returncode != 0
    assert list(venv.glob("lib/python*/site-packages/airken/models/airken.tflite"))
    assert list(venv.glob("lib/python*/site-packages/airken/web/page.css"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in offline_env().items() if not k.startswith(("AIRKEN_", "PYTHON"))}
    env["HF_HUB_OFFLINE"] = "1"  # the Hub step itself stays on, as for a user
    done = subprocess.run([str(venv / "bin" / "airken"), "predict", "--json", str(EXAMPLES / "clear-kite.jpg")],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    rec = json_lines(done.stdout)[0]
    check_record(rec)
    assert rec["model"]["source"] == "bundled"
    library = subprocess.run([python, "-c", _LIBRARY_SCRIPT, str(EXAMPLES / "clear-kite.jpg")], cwd=elsewhere,
                             env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert library.returncode == 0, library.stderr
    assert json.loads(library.stdout.strip().splitlines()[-1])["label"] in LABELS


_NO_PAGE_SCRIPT = """
import importlib, pkgutil, sys
import airken, airken.core, airken.airmodel
names = [m.name for p in (airken.core, airken.airmodel) for m in pkgutil.iter_modules(p.__path__, p.__name__ + ".")]
page_only = {"airken.airmodel.ics"}  # the page's "Add to calendar" file
for name in [*names, "airken.cli", "airken.table", "airken.examples", "airken.settings"]:
    if name not in page_only:
        importlib.import_module(name)
print(sorted({m.split(".")[0] for m in sys.modules} & {"gradio", "gradio_client", "icalendar", "fastapi"}))
"""


def test_library_and_command_line_modules_import_no_web_extra():
    done = subprocess.run([sys.executable, "-c", _NO_PAGE_SCRIPT], cwd=REPO_ROOT, env=offline_env(),
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_info_names_source_and_sha256():
    done = airken("info")
    assert done.returncode == 0, done.stderr
    assert "source:" in done.stdout and "sha256:" in done.stdout
    sha = next(line for line in done.stdout.splitlines() if line.startswith("sha256:")).split()[1]
    assert len(sha) == 64
    as_json = airken("info", "--json")
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout)["model"]["sha256"] == sha


_LIBRARY_SCRIPT = """
import json, sys
import airken
pred = airken.predict(sys.argv[1])
again = airken.predict(sys.argv[1])  # the name still means the function after first use
tf = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
print(json.dumps({"label": pred.label, "same": again.label == pred.label, "tf": tf}))
"""


def test_library_predict_does_not_import_tensorflow():
    done = subprocess.run([sys.executable, "-c", _LIBRARY_SCRIPT, str(EXAMPLES / "clear-kite.jpg")],
                          cwd=REPO_ROOT, env=offline_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["label"] in LABELS and out["same"]
    assert out["tf"] == []


def _labelled_folder(root: Path) -> Path:
    images = root / "cam" / "images"
    images.mkdir(parents=True)
    rows = ["file,timestamp_local,pm25"]
    for i, (name, pm25) in enumerate((("clear-kite.jpg", 8), ("clear-bridge-cables.jpg", 11),
                                      ("clear-mountains-picos-de-europa.jpg", 9), ("overcast-storm.jpg", 14))):
        (images / name).write_bytes((EXAMPLES / name).read_bytes())
        rows.append(f"{name},2026-06-0{i + 1}T12:00,{pm25}")
    (root / "cam" / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "cam"


def test_calibrate_writes_a_profile_that_predict_uses(tmp_path):
    env = offline_env(AIRKEN_PROFILES_DIR=str(tmp_path / "profiles"))
    folder = _labelled_folder(tmp_path)
    done = airken("calibrate", "--name", "balcony", str(folder), env=env)
    assert done.returncode == 0, done.stderr
    assert "Calibration profile 'balcony': 4 photos, 4 readings (4 healthy), labelled by a station's" in done.stdout
    assert "What it does:" in done.stdout and "On its own photos" in done.stdout  # in words, not offsets
    assert "Every reading is healthy" in done.stdout and "rests on only 4 readings" in done.stdout
    assert "airken predict --profile balcony" in done.stdout
    assert (tmp_path / "profiles" / "balcony.json").is_file()
    calibrated = airken("predict", "--json", "--profile", "balcony", str(EXAMPLES / "clear-kite.jpg"), env=env)
    record = json.loads(calibrated.stdout.splitlines()[0])
    assert calibrated.returncode == 0 and record["profile"] == "balcony" and record["prior"] is None
    assert record["basis"] == "profile"
    table = airken("predict", "--profile", "balcony", str(EXAMPLES / "clear-kite.jpg"), env=env)
    assert "Calibrated by the profile 'balcony'." in table.stdout  # the table says a profile was applied
    assert record["label"] == "healthy"  # a view calibrated on clean days reads its clean day as healthy


@pytest.mark.parametrize("args, message", [(["--profile", "nowhere"], "profile called 'nowhere'"),
                                           (["--profile", "../x"], "name is 1-64"),
                                           (["--prior", "1,2"], "prior is 3 non-negative numbers"),
                                           (["--lat", "95", "--lon", "9"], "Latitude must be"),
                                           (["--time", "noon"], "ISO 8601")])
def test_a_bad_profile_prior_or_place_is_one_line_and_exit_2(tmp_path, args, message):
    env = offline_env(AIRKEN_PROFILES_DIR=str(tmp_path))
    done = airken("predict", *args, str(EXAMPLES / "clear-kite.jpg"), env=env)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_calibrate_refuses_a_folder_without_labels(tmp_path):
    done = airken("calibrate", "--name", "x", str(tmp_path), env=offline_env(AIRKEN_PROFILES_DIR=str(tmp_path)))
    assert done.returncode == 2 and "labels.csv" in done.stderr and "Traceback" not in done.stderr


def _hub_on(**extra: str) -> dict[str, str]:
    """The environment of a user: the Hub step on (offline_env switches it off)."""
    env = {k: v for k, v in offline_env().items() if k != "AIRKEN_HUB" and not k.startswith("HF_")}
    return env | extra


@pytest.mark.parametrize("offline", [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}],
                         ids=["HF_HUB_OFFLINE", "no network"])
def test_offline_is_said_only_with_verbose(tmp_path, offline):
    env = _hub_on(HF_HOME=str(tmp_path / "hf"), **offline)
    done = airken("predict", str(EXAMPLES / "clear-kite.jpg"), env=env)
    assert done.returncode == 0 and done.stderr == ""
    verbose = airken("-v", "info", env=env)
    assert verbose.returncode == 0 and "INFO airken.core.weights" in verbose.stderr
    assert "offline" in verbose.stderr and "WARNING" not in verbose.stderr


def test_calibrate_help_says_what_the_folder_holds_and_where_the_profile_goes():
    done = airken("calibrate", "--help")
    assert done.returncode == 0
    for words in ("images/", "labels.csv", "file", "pm25 or label", "timestamp_local", "date",
                  "AIRKEN_PROFILES_DIR", "~/.config/airken/profiles"):
        assert words in done.stdout, words


def test_a_reader_that_stops_early_gets_no_traceback():
    """`airken predict ... | head -1`: the rest of the rows meet a closed pipe."""
    paths = [str(EXAMPLES / name) for name in GOOD * 3]
    proc = subprocess.Popen([sys.executable, "-m", "airken", "predict", *paths], cwd=REPO_ROOT, env=offline_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("file")
    proc.stdout.close()  # as head does after its lines
    stderr = proc.stderr.read()
    assert proc.wait(TIMEOUT_S) == 141
    assert stderr == ""


@pytest.mark.parametrize("target", ["run", "test"])
def test_the_readme_set_up_installs_the_airken_command(tmp_path, target):
    """`make run` and `make test` install the package into the venv (its bin/airken), after
    the requirements that hold its dependencies (dry run: nothing is installed here)."""
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    venv = tmp_path / "venv"
    plan = subprocess.run(["make", "-n", target, f"VENV={venv}"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60)
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    package = lines.index(f"{venv}/bin/pip install -q --no-deps -e .")
    requirements = next(i for i, line in enumerate(lines) if f"{venv}/bin/pip install -q -r requirements" in line)
    assert requirements < package
