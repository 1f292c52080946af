"""`python -m airken air` and the "air_model" block of `predict --json`, against a fake Open-Meteo."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import offline_env

from airken import cli
from bench.fixtures.exif_photos import SKY, photo_with_exif

REPO_ROOT = Path(__file__).resolve().parents[1]
AIR_KEYS = {"lat", "lon", "time", "pm25", "label", "source", "hourly", "best"}


@pytest.fixture
def server(air_server):
    return air_server


def run_cli(capsys, *args: str) -> tuple[int, dict | list[dict], str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    lines = [json.loads(line) for line in out.out.splitlines() if line.strip()]
    return code, lines[0] if len(lines) == 1 else lines, out.err


def test_air_by_coordinates(server, capsys):
    code, block, _ = run_cli(capsys, "air", "--lat", "45.4642", "--lon", "9.1895", "--json")
    assert code == 0 and set(block) == AIR_KEYS
    assert (block["lat"], block["lon"]) == (45.5, 9.2)
    assert all(set(h) == {"time", "pm25", "label"} for h in block["hourly"])


def test_air_by_place_name_and_time(server, capsys):
    when = (datetime.now(timezone.utc) - timedelta(days=2)).strftime("%Y-%m-%dT%H:00Z")
    code, block, _ = run_cli(capsys, "air", "--where", "Kathmandu", "--time", when, "--json")
    assert code == 0 and (block["lat"], block["lon"]) == (27.7, 85.3)
    assert datetime.fromisoformat(block["time"]) == datetime.fromisoformat(when.replace("Z", "+00:00"))


@pytest.mark.parametrize("args, words", [
    (["--where", "Atlantis"], "No place called"),
    (["--lat", "95", "--lon", "9"], "Latitude must be"),
    (["--lat", "45"], "Give --lat and --lon"),
    (["--where", "Milan", "--lat", "4"], "either --where"),
    (["--lat", "45", "--lon", "9", "--time", "noon"], "ISO 8601"),
])
def test_air_refusals_are_json_errors(server, capsys, args, words):
    code, block, err = run_cli(capsys, "air", *args, "--json")
    assert code == 2 and set(block) == {"error"} and words in block["error"]
    assert "Traceback" not in err


@pytest.mark.parametrize("mode", ["hang", "error500", "bad_json", "empty_hourly"])
def test_air_service_faults(server, capsys, mode):
    server.mode = mode
    code, block, err = run_cli(capsys, "air", "--lat", "45.5", "--lon", "9.2", "--json")
    assert code == 2 and set(block) == {"error"} and "Traceback" not in err


def test_air_text_output(server, capsys):
    assert cli.main(["air", "--where", "Milan"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Milan, Lombardy, Italy: ") and "best time for run" in out and "CC BY 4.0" in out


def test_predict_json_has_an_air_model_block_when_the_photo_says_where_and_when(server, capsys, tmp_path):
    when = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=3)
    located = photo_with_exif(tmp_path / "located.jpg", when=when, offset="+00:00", lat=45.46, lon=9.19)
    code, records, _ = run_cli(capsys, "predict", "--json", str(located), str(SKY))
    assert code == 0
    assert set(records[0]["air_model"]) == AIR_KEYS and records[0]["basis"] == "air_model"
    assert records[0]["where"]["place_from"] == "photo" and records[0]["where"]["time_from"] == "photo"
    assert records[1]["air_model"] is None and records[1]["where"] is None
    assert len(server.requests) == 1


def test_predict_json_with_a_place_for_photos_without_one(server, capsys, tmp_path):
    when = (datetime.now(timezone.utc) - timedelta(hours=5)).strftime("%Y-%m-%dT%H:00Z")
    located = photo_with_exif(tmp_path / "located.jpg", when=datetime(2026, 1, 5, 12), lat=45.46, lon=9.19)
    code, records, _ = run_cli(capsys, "predict", "--json", "--where", "Kathmandu", "--time", when, str(SKY),
                               str(located))
    assert code == 0
    given, own = records
    place = (given["where"]["lat"], given["where"]["lon"], given["where"]["name"])
    assert place == (27.7, 85.3, "Kathmandu, Bagmati Province, Nepal")
    assert (given["where"]["place_from"], given["where"]["time_from"]) == ("given", "given")
    assert datetime.fromisoformat(given["air_model"]["time"]) == datetime.fromisoformat(when.replace("Z", "+00:00"))
    assert (own["where"]["lat"], own["where"]["place_from"]) == (45.5, "photo")  # its own GPS comes first


def test_predict_json_air_fault_keeps_the_verdict(server, capsys, tmp_path):
    server.mode = "error500"
    located = photo_with_exif(tmp_path / "located.jpg", when=datetime(2026, 1, 5, 12), lat=45.46, lon=9.19)
    code, record, _ = run_cli(capsys, "predict", "--json", str(located))
    assert code == 0 and record["label"] is not None and set(record["air_model"]) == {"error"}
    assert record["basis"] == "prior" and record["witnesses"][0]["says"].startswith(record["air_model"]["error"])


def test_air_command_in_a_fresh_interpreter(air_server):
    fake = air_server
    done = subprocess.run([sys.executable, "-m", "airken", "air", "--lat", "45.46", "--lon", "9.19", "--json"],
                          cwd=REPO_ROOT, env=offline_env(**fake.env()), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == AIR_KEYS
    off = subprocess.run([sys.executable, "-m", "airken", "air", "--lat", "45.46", "--lon", "9.19", "--json"],
                         cwd=REPO_ROOT, env=offline_env(AIRKEN_AIR="0"), capture_output=True, text=True, timeout=120)
    assert off.returncode == 2 and "switched off" in json.loads(off.stdout)["error"]


def test_predict_table_shows_the_air_model_pm25(server, capsys):
    when = (datetime.now(timezone.utc) - timedelta(hours=5)).strftime("%Y-%m-%dT%H:00Z")
    code = cli.main(["predict", "--lat", "45.46", "--lon", "9.19", "--time", when, str(SKY)])
    header, row = capsys.readouterr().out.splitlines()
    column = header.index("air model PM2.5")
    code_json, record, _ = run_cli(capsys, "predict", "--json", "--lat", "45.46", "--lon", "9.19", "--time", when,
                                   str(SKY))
    assert code == code_json == 0
    shown = f"{record['air_model']['pm25']:.0f} \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}"
    assert row[column:column + len("air model PM2.5")].strip() == shown
