"""Training data pipeline: reading folders, quarantine, arrays, date splits, oversampling."""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from airken.core.classes import LABELS
from airken.datafolder import BadFolder
from tests.train.datasets import make_folder
from train.data import (
    Sample,
    balance_weights,
    balanced_sample,
    daylight_filter,
    daylight_mask,
    grouped_kfold,
    labels_of,
    leave_one_place_out,
    load_arrays,
    oversample,
    read_folder,
    scan_images,
    split_by_date,
    split_sources,
)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def read(synth):
    return read_folder(synth.path)


def test_read_folder_counts_and_problems(synth, read):
    samples, problems = read
    assert len(samples) == synth.samples
    assert problems.rows == synth.rows
    assert problems.unlabelled == synth.unlabelled == 1
    assert sorted(p.file for p in problems) == sorted(synth.problems)
    reasons = {p.file: p.reason for p in problems}
    assert "not found" in reasons["missing.jpg"]
    assert "abc" in reasons["bad-pm25.jpg"] and "-5" in reasons["negative-pm25.jpg"]
    assert all(p.line >= 2 and p.source == "synth" for p in problems)


def test_read_folder_fields(read):
    samples, _ = read
    by_name = {s.path.name: s for s in samples}
    s = by_name["20250301-0900.jpg"]
    assert (s.date, s.hour, s.place, s.source, s.daylight) == ("2025-03-01", 9, "synth",
                                                              "synth", True)
    assert by_name["20250301-0600.jpg"].daylight is False
    assert s.path.is_file()
    # pm25 decides the label; the label column is used only without pm25
    assert by_name["relabel.jpg"].label == LABELS.index("healthy")
    assert by_name["label-only.jpg"].label == LABELS.index("moderate")
    assert by_name["label-only.jpg"].pm25 is None
    for smp in samples:
        if smp.pm25 is not None:
            assert smp.label == (0 if smp.pm25 < 30 else 1 if smp.pm25 <= 54 else 2)


def test_read_folder_place_column_and_label_only(tmp_path):
    info = make_folder(tmp_path, "phones", day_labels=(0, 1), bad=False, place="delhi")
    samples, problems = read_folder(info.path)
    assert not problems and {s.place for s in samples} == {"delhi"}
    assert {s.source for s in samples} == {"phones"}


def test_read_folder_rejects_unusable_folders(tmp_path):
    with pytest.raises(BadFolder, match="labels.csv"):
        read_folder(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "labels.csv").write_text("file,date\nx.jpg,2025-01-01\n")
    with pytest.raises(ValueError, match="pm25 or label"):
        read_folder(tmp_path)


def test_read_folder_path_outside_images_and_duplicates(tmp_path):
    info = make_folder(tmp_path, "d", day_labels=(0,), hours=(12,), bad=False)
    (info.path / "secret.jpg").write_bytes(b"x")
    with open(info.path / "labels.csv", "a", newline="") as f:
        w = csv.writer(f)
        w.writerow(["../secret.jpg", "", "2025-03-01", "10", "", ""])
        w.writerow(["20250301-1200.jpg", "", "2025-03-01", "10", "", ""])
        w.writerow(["20250301-1200.jpg", "", "2025-03-01", "10", "", ""])
        w.writerow(["other.jpg", "", "2025-03-01", "", "purple", ""])
    samples, problems = read_folder(info.path)
    assert len(samples) == 1
    reasons = [p.reason for p in problems]
    assert any("outside" in r for r in reasons)
    assert sum("duplicate" in r for r in reasons) == 2
    assert any("unknown label 'purple'" in r for r in reasons)


def test_scan_images_quarantines_copies(synth, read, tmp_path):
    samples, _ = read
    good, quarantined = scan_images(samples, tmp_path, workers=2)
    assert sorted(q.sample.path.name for q in quarantined) == sorted(synth.undecodable)
    assert len(good) + len(quarantined) == len(samples)
    qdir = tmp_path / "quarantine"
    for q in quarantined:
        assert q.sample.path.is_file()  # the original is never moved or deleted
        assert q.copy is not None and q.copy.read_bytes() == q.sample.path.read_bytes()
        assert q.copy.is_relative_to(qdir)
        assert q.reason
    with open(qdir / "quarantine.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(Path(r["file"]).name for r in rows) == sorted(synth.undecodable)
    assert all(r["reason"] for r in rows)


def test_load_arrays_and_cache(read, tmp_path):
    samples, _ = read
    few = [s for s in samples if s.path.name.startswith("202503")][:5]
    x = load_arrays(few, cache_dir=tmp_path, workers=2)
    assert x.shape == (5, 224, 224, 3) and x.dtype == np.uint8
    assert len(list((tmp_path / "arrays").glob("*.npy"))) == 5
    again = load_arrays(few, cache_dir=tmp_path, workers=1)
    assert np.array_equal(x, again)
    # a blue (healthy) sky has more blue than red at the top
    top = x[0, :40].reshape(-1, 3).mean(axis=0)
    assert few[0].label == 0 and top[2] > top[0]


def test_load_arrays_bad_file_names_it(read):
    from airken.core.intake import ImageRejected

    samples, _ = read
    bad = [s for s in samples if s.path.name == "corrupt.jpg"]
    with pytest.raises(ImageRejected, match="corrupt.jpg"):
        load_arrays(bad)


def _groups(samples, idx):
    return {samples[i].group for i in idx}


def test_split_by_date_whole_days_reproducible(read):
    samples, _ = read
    tr, va, te = split_by_date(samples, val_days=2, test_days=3, seed=1)
    assert len(tr) + len(va) + len(te) == len(samples)
    assert not set(tr) & set(va) and not set(tr) & set(te) and not set(va) & set(te)
    g_tr, g_va, g_te = (_groups(samples, i) for i in (tr, va, te))
    assert not g_tr & g_te and not g_tr & g_va and not g_va & g_te
    assert len(g_te) == 3 and len(g_va) == 2
    # moderate lives on 4 dates: test gets one; danger lives on one date: it stays in train
    y = labels_of(samples)
    assert 1 in y[te] and 2 in y[tr] and 2 not in y[te]
    again = split_by_date(samples, val_days=2, test_days=3, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), again, strict=True))
    other = split_by_date(samples, val_days=2, test_days=3, seed=7)
    assert any(not np.array_equal(a, b) for a, b in zip((tr, va, te), other, strict=True))


def test_split_by_date_explicit_dates(read):
    samples, _ = read
    tr, va, te = split_by_date(samples, test_dates=["2025-03-02", "2025-03-03"],
                               val_dates=[("synth", "2025-03-04")])
    assert {samples[i].date for i in te} == {"2025-03-02", "2025-03-03"}
    assert {samples[i].date for i in va} == {"2025-03-04"}
    assert len(tr) == len(samples) - len(va) - len(te)
    with pytest.raises(ValueError, match="not in the data"):
        split_by_date(samples, test_dates=["1999-01-01"])


def test_split_groups_by_place_and_date():
    def s(place, date, label=0):
        return Sample(Path("x.jpg"), label, None, date, 12, place, "src", True)

    samples = [s(p, d, lab) for p in ("a", "b") for d, lab in
               (("2025-01-01", 0), ("2025-01-02", 1), ("2025-01-03", 0), ("2025-01-04", 1))]
    tr, va, te = split_by_date(samples, val_days=1, test_days=2, seed=3)
    assert len(_groups(samples, te)) == 2 and len(_groups(samples, va)) == 1
    assert not _groups(samples, tr) & _groups(samples, te)
    # one date named explicitly takes that date at every place
    _, _, te = split_by_date(samples, val_days=0, test_dates=["2025-01-01"])
    assert {samples[i].place for i in te} == {"a", "b"}
    folds = list(leave_one_place_out(samples))
    assert [f[0] for f in folds] == ["a", "b"]
    for place, tr, te in folds:
        assert {samples[i].place for i in te} == {place} and place not in {samples[i].place for i in tr}


def test_grouped_kfold(read):
    samples, _ = read
    folds = list(grouped_kfold(samples, k=5, seed=0))
    assert len(folds) == 5
    seen = np.concatenate([te for _, te in folds])
    assert sorted(seen) == list(range(len(samples)))
    for tr, te in folds:
        assert not _groups(samples, tr) & _groups(samples, te)
    with pytest.raises(ValueError, match="groups"):
        list(grouped_kfold(samples[:3], k=5))


def test_oversample_balances_training_split_only():
    labels = np.array([0] * 10 + [1] * 3 + [0] * 5 + [1] * 4)  # last 9: not training
    train = np.arange(13)
    out = oversample(train, labels, seed=0)
    counts = Counter(labels[out].tolist())
    assert counts[0] == counts[1] == 10
    assert set(out) == set(train)  # every training frame kept, nothing from outside
    assert np.array_equal(out, oversample(train, labels, seed=0))
    # classes without samples are ignored; a single class stays as it is
    assert sorted(oversample(np.arange(10), labels, seed=1)) == list(range(10))
    assert oversample(np.array([], dtype=int), labels).size == 0


def test_daylight_filter(read):
    samples, _ = read
    day = daylight_filter(samples)
    assert day and all(s.daylight is not False for s in day)
    assert len(day) == int(daylight_mask(samples).sum()) < len(samples)
    unknown = Sample(Path("x.jpg"), 0, None, "2025-01-01", None, "p", "s", None)
    assert daylight_filter([unknown]) == [unknown]
    assert daylight_filter([unknown], keep_unknown=False) == []


def test_training_batches_are_shuffled_augmented_and_prediction_batches_are_not():
    tf = pytest.importorskip("tensorflow")
    from train import objectives
    from train.data import make_tf_dataset

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(10, 32, 32, 3), dtype=np.uint8)
    x[:, :, :, 2] = 200  # constant blue channel: geometry-only augmentation keeps it
    t = np.stack([np.arange(10) % 3, np.zeros(10), np.zeros(10)], 1).astype(np.float32)
    batches = list(objectives.dataset(x, t, None, batch_size=4, training=True, seed=0))
    assert [int(b[0]["pixels"].shape[0]) for b in batches] == [4, 4, 2]
    xb = batches[0][0]["pixels"]
    assert xb.dtype == tf.float32 and xb.shape[1:] == (32, 32, 3)
    assert np.allclose(xb.numpy()[..., 2], 200.0, atol=1e-3)
    assert not np.allclose(xb.numpy(), x[:4].astype(np.float32))  # flipped, cropped or shuffled
    ys = np.concatenate([b[1]["head"].numpy()[:, 0] for b in batches])
    assert sorted(ys.tolist()) == sorted(t[:, 0].tolist())
    # prediction: same order, pixels unchanged
    ev = list(make_tf_dataset(x, batch_size=3))
    assert [int(b.shape[0]) for b in ev] == [3, 3, 3, 1]
    assert np.array_equal(np.concatenate([b.numpy() for b in ev]), x.astype(np.float32))


def _sample(place: str, date: str, hour: int, label: int, source: str) -> Sample:
    return Sample(Path(f"{place}-{date}-{hour}.jpg"), label, None, date, hour, place, source, True)


def two_sources() -> list[Sample]:
    """A webcam (one place, one frame an hour over 12 days) and phone videos (two places,
    20 near-identical frames per hourly reading)."""
    cam = [_sample("milan", f"2025-03-{d:02d}", h, d % 3 if d % 4 else 0, "milan")
           for d in range(1, 13) for h in (9, 12, 15)]
    phone = [_sample(place, f"2024-11-{d:02d}", 10, label, "india") for place, label in (("delhi", 2), ("pune", 1))
             for d in range(1, 7) for _ in range(20)]
    return cam + phone


def test_split_sources_tests_the_first_source_and_validates_each():
    samples = two_sources()
    tr, va, te = split_sources(samples, val_days=2, test_days=3, seed=0)
    assert set(np.concatenate([tr, va, te]).tolist()) == set(range(len(samples)))
    assert {samples[i].source for i in te} == {"milan"} and len({samples[i].date for i in te}) == 3
    assert {samples[i].source for i in va} == {"milan", "india"}
    assert not {samples[i].group for i in tr} & {samples[i].group for i in np.concatenate([va, te])}
    # one leave-one-place-out fold: the whole place is the test split, and only that
    tr, va, te = split_sources(samples, val_days=1, test_days=3, seed=0, heldout_place="delhi")
    assert {samples[i].place for i in te} == {"delhi"} and len(te) == 120
    assert "delhi" not in {samples[i].place for i in np.concatenate([tr, va])}
    with pytest.raises(ValueError, match="atlantis"):
        split_sources(samples, 1, 1, heldout_place="atlantis")


def test_balance_weights_count_readings_not_frames():
    samples = two_sources()
    y = labels_of(samples)
    places = np.array([s.place for s in samples])
    readings = np.array([hash((s.place, s.date, s.hour)) for s in samples])
    w = balance_weights(y, places, readings)
    assert w.mean() == pytest.approx(1.0)
    for c in np.unique(y):  # every class weighs the same in total
        assert w[y == c].sum() == pytest.approx(len(w) / len(np.unique(y)))
    danger = y == 2  # danger: milan's few frames and delhi's 120 video frames share it equally
    assert w[danger & (places == "milan")].sum() == pytest.approx(w[danger & (places == "delhi")].sum())
    one_video = readings == readings[places == "delhi"][0]
    assert np.allclose(w[one_video], w[one_video][0])  # frames of one reading weigh the same


def test_balanced_sample_draws_a_balanced_epoch():
    samples = two_sources()
    idx = np.arange(len(samples))
    out = balanced_sample(idx, samples, size=300, seed=0)
    assert len(out) == 300 and set(out) <= set(idx)
    assert np.array_equal(out, balanced_sample(idx, samples, size=300, seed=0))
    counts = Counter(samples[i].label for i in out)
    assert max(counts.values()) - min(counts.values()) <= 9  # classes drawn ~equally (100 each)
    by_place = Counter(samples[i].place for i in out if samples[i].label == 2)
    assert abs(by_place["milan"] - by_place["delhi"]) <= 9  # 120 video frames do not swamp the webcam
    assert len(balanced_sample(idx, samples, seed=1)) == len(idx)  # default size: as many as given
    assert balanced_sample(np.array([], dtype=int), samples).size == 0


def test_source_balance_weighs_each_data_folder_the_same_inside_a_class():
    y = np.array([0, 0, 0, 0, 0])
    places = np.array(["milan", "delhi", "mumbai", "mumbai", "mumbai"])
    readings = np.array([0, 1, 2, 3, 4])
    sources = np.array(["milan", "india", "india", "india", "india"])
    w = balance_weights(y, places, readings, sources)
    assert w[0] == pytest.approx(w[1:].sum())  # the webcam folder = all phone places together
    assert w[1] == pytest.approx(w[2:].sum())  # places equal inside a folder
    assert balance_weights(y, places, readings)[0] < w[0]  # by place alone the webcam is one of three
