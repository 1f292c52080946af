"""Metrics, baselines, confusion matrices, grouped k-fold estimates and the markdown report.

Every number the model gets is shown next to the same number for two baselines fitted on
the same training frames: the majority class and a colour/haze feature model (and, when the
caller passes backbone features, a linear probe). Results are split into daylight and night.
All returned dicts are JSON-serialisable (see :func:`to_jsonable`).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from airken.card.measurements import SYSTEM_NAMES
from airken.core.classes import LABELS
from airken.core.fusion import HazeModel
from airken.core.haze_features import colour_features_batch
from train.data import Sample, class_weights, daylight_mask, grouped_kfold, labels_of, reading_ids

log = logging.getLogger(__name__)

MIN_TEST_FRAMES = 10  # fewer test frames of a class than this: its recall is noise
MIN_TEST_GROUPS = 2  # fewer (place, date) groups than this: one day decides the number
FoldModel = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (train_idx, test_idx) -> predictions


# ---------------------------------------------------------------------------------------
# metrics


def _as_indices(y: Any, labels: Sequence[str]) -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind in "USO":
        return np.array([list(labels).index(str(v)) for v in arr], dtype=np.int64)
    return arr.astype(np.int64).reshape(-1)


def classification_metrics(
    y_true: Any, y_pred: Any, labels: Sequence[str] = LABELS
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro-F1, per-class recall/precision/F1, confusion matrix.

    y_true / y_pred: class indices into ``labels`` (or the label names).
    - balanced_accuracy: mean recall over the classes present in y_true (sklearn semantics).
    - macro_f1: mean F1 over the classes present in y_true OR y_pred; a class that is
      neither in the truth nor predicted says nothing and is left out.
    - per_class_recall[c] is None when c is absent from y_true; precision None when c is
      never predicted. confusion_matrix[i][j]: true labels[i] predicted as labels[j].
    """
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

    yt, yp = _as_indices(y_true, labels), _as_indices(y_pred, labels)
    if yt.shape != yp.shape:
        raise ValueError(f"y_true has {yt.size} labels but y_pred has {yp.size}")
    idx = list(range(len(labels)))
    cm = confusion_matrix(yt, yp, labels=idx) if yt.size else np.zeros((len(idx),) * 2, int)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    out: dict[str, Any] = {
        "n": int(yt.size),
        "accuracy": None,
        "balanced_accuracy": None,
        "macro_f1": None,
        "per_class_recall": {},
        "per_class_precision": {},
        "per_class_f1": {},
        "support": {labels[i]: int(support[i]) for i in idx},
        "predicted": {labels[i]: int(predicted[i]) for i in idx},
        "confusion_matrix": cm.astype(int).tolist(),
        "labels": list(labels),
    }
    for i in idx:
        tp, sup, pred = int(cm[i, i]), int(support[i]), int(predicted[i])
        out["per_class_recall"][labels[i]] = tp / sup if sup else None
        out["per_class_precision"][labels[i]] = tp / pred if pred else None
        out["per_class_f1"][labels[i]] = 2 * tp / (sup + pred) if sup + pred else None
    if not yt.size:
        return out
    seen = [i for i in idx if support[i] or predicted[i]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        out["accuracy"] = float(np.mean(yt == yp))
        out["balanced_accuracy"] = float(balanced_accuracy_score(yt, yp))
        out["macro_f1"] = float(f1_score(yt, yp, labels=seen, average="macro", zero_division=0))
    return out


# ---------------------------------------------------------------------------------------
# baselines


def majority_baseline(y_train: Any, n_test: int) -> np.ndarray:
    """Predict the most frequent training class (ties: lowest index) for every test frame."""
    y = np.asarray(y_train, dtype=np.int64)
    if not y.size:
        raise ValueError("majority baseline needs training labels")
    return np.full(n_test, int(np.bincount(y).argmax()), dtype=np.int64)


def fit_logistic(x: np.ndarray, y: Any, sample_weight: np.ndarray | None = None, c: float = 1.0,
                 standardise: bool = True, n_classes: int = len(LABELS)) -> HazeModel:
    """The one logistic regression of every table: (standardised) features + multinomial
    logistic regression, as a numpy model the app can run (airken.core.fusion.HazeModel; its
    ``proba_features`` gives all three classes, 0 for a class training never saw). The
    colour/haze baseline, the linear probe, the shipped haze model and train.places' recipes
    are all this."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y, dtype=np.int64)
    f = x.shape[1]
    mean, std = (x.mean(axis=0), x.std(axis=0) + 1e-6) if standardise else (np.zeros(f), np.ones(f))
    classes = np.unique(y)
    if len(classes) < 2:  # nothing to separate: the only class seen
        return HazeModel(mean, std, np.zeros((0, f)), np.zeros(0), (int(classes[0]),), n_classes)
    clf = LogisticRegression(C=c, max_iter=3000, tol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on tiny folds
        clf.fit((x - mean) / std, y, sample_weight=sample_weight)
    return HazeModel(mean, std, clf.coef_, clf.intercept_, tuple(int(k) for k in clf.classes_), n_classes)


def fit_haze_model(feats: np.ndarray, y: Any, sample_weight: np.ndarray | None = None,
                   c: float = 1.0) -> HazeModel:
    """The colour/haze model as the app runs it (airken.core.fusion): fit_logistic on the
    airken.core.haze_features of the frames. train.places' colour rows and train.train's fusion
    both use this, so the leave-one-place-out numbers are those of the shipped haze model."""
    return fit_logistic(feats, y, sample_weight, c)


def _balanced_predict(x_train: np.ndarray, y_train: Any, x_test: np.ndarray) -> np.ndarray:
    """fit_logistic with every class weighing the same; the predicted classes."""
    y = np.asarray(y_train, dtype=np.int64)
    if not len(x_test):
        return np.zeros(0, dtype=np.int64)
    model = fit_logistic(x_train, y, class_weights(y))
    return model.proba_features(np.asarray(x_test, dtype=np.float64).reshape(len(x_test), -1)).argmax(axis=1)


def _colour_inputs(x: np.ndarray) -> np.ndarray:
    """Images (N, H, W, 3) -> colour features; feature matrices (N, F) pass through."""
    x = np.asarray(x)
    return colour_features_batch(x) if x.ndim == 4 else x


def colour_baseline(x_train: np.ndarray, y_train: Any, x_test: np.ndarray) -> np.ndarray:
    """Colour/haze feature model. x_*: uint8 images (N, H, W, 3) or precomputed
    airken.core.haze_features matrices (N, F)."""
    return _balanced_predict(_colour_inputs(x_train), y_train, _colour_inputs(x_test))


def linear_probe(feat_train: np.ndarray, y_train: Any, feat_test: np.ndarray) -> np.ndarray:
    """The same logistic regression on frozen backbone features supplied by the caller."""
    return _balanced_predict(feat_train, y_train, feat_test)


# ---------------------------------------------------------------------------------------
# plots


def plot_confusion(
    cm: Any, labels: Sequence[str], path: str | os.PathLike, title: str = ""
) -> Path:
    """Confusion matrix PNG: counts in the cells, colour = share of the true class."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cm = np.asarray(cm, dtype=np.int64)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    fig = Figure(figsize=(1.4 * len(labels) + 2, 1.2 * len(labels) + 1.6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(labels)), list(labels))
    ax.set_yticks(range(len(labels)),
                  [f"{lab} ({int(r)})" for lab, r in zip(labels, rows[:, 0], strict=True)])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (frames)")
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


# ---------------------------------------------------------------------------------------
# data summaries and split evaluation


def data_summary(samples: Sequence[Sample], labels: Sequence[str] = LABELS) -> dict[str, Any]:
    """Frames, (place, date) groups and places per class; dates spelled out for rare classes."""
    out: dict[str, Any] = {"frames": len(samples), "groups": len({s.group for s in samples}),
                           "classes": {}}
    for i, name in enumerate(labels):
        mine = [s for s in samples if s.label == i]
        groups = sorted({s.group for s in mine})
        entry = {"frames": len(mine), "groups": len(groups),
                 "places": sorted({s.place for s in mine})}
        if len(groups) <= 3:
            entry["dates"] = [f"{p} {d}" for p, d in groups]
        out["classes"][name] = entry
    return out


def _section(
    name: str,
    mask: np.ndarray,
    y_test: np.ndarray,
    preds: Mapping[str, np.ndarray],
    test_samples: Sequence[Sample],
    labels: Sequence[str],
    plot_dir: Path | None,
) -> dict[str, Any]:
    n = int(mask.sum())
    if n == 0:
        return {"n": 0, "note": f"no {name} frames in the test split", "systems": {}}
    chosen = [s for s, m in zip(test_samples, mask, strict=True) if m]
    out: dict[str, Any] = {
        "n": n,
        "test_data": data_summary(chosen, labels),
        "systems": {k: classification_metrics(y_test[mask], p[mask], labels)
                    for k, p in preds.items()},
    }
    if plot_dir is not None and "model" in preds:
        cm = out["systems"]["model"]["confusion_matrix"]
        png = plot_confusion(cm, labels, plot_dir / f"confusion_{name}.png",
                             f"model, {name} test frames (n={n})")
        out["confusion_png"] = str(png)
    return out


def evaluate_split(
    probs: np.ndarray,
    test_samples: Sequence[Sample],
    y_train: Any,
    *,
    colour_train: np.ndarray | None = None,
    colour_test: np.ndarray | None = None,
    probe_train: np.ndarray | None = None,
    probe_test: np.ndarray | None = None,
    all_samples: Sequence[Sample] | None = None,
    labels: Sequence[str] = LABELS,
    plot_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Model vs baselines on one test split, for all / daylight / night test frames.

    probs: model probabilities (N_test, n_classes) in ``test_samples`` order. Baselines are
    fitted once on the training frames (y_train and, for the colour baseline, colour_train
    images or features; for the linear probe, probe_train backbone features) and scored on
    each section. Frames with unknown daylight count as daylight. With ``all_samples`` the
    result also describes the whole data set (used by the report's caveats); with
    ``plot_dir`` a confusion PNG of the model is written per non-empty section.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(test_samples):
        raise ValueError(f"probs must be (n_test, n_classes); got {probs.shape} for "
                         f"{len(test_samples)} test samples")
    y_test = labels_of(test_samples)
    preds: dict[str, np.ndarray] = {"model": probs.argmax(axis=1)}
    if probe_train is not None and probe_test is not None:
        preds["linear_probe"] = linear_probe(probe_train, y_train, probe_test)
    if colour_train is not None and colour_test is not None:
        preds["colour"] = colour_baseline(colour_train, y_train, colour_test)
    preds["majority"] = majority_baseline(y_train, len(y_test))
    day = daylight_mask(test_samples, keep_unknown=True)
    pdir = Path(plot_dir) if plot_dir is not None else None
    out: dict[str, Any] = {"labels": list(labels)}
    for name, mask in (("all", np.ones(len(y_test), bool)), ("daylight", day),
                       ("night", ~day)):
        out[name] = _section(name, mask, y_test, preds, test_samples, labels, pdir)
    y_tr = np.asarray(y_train, dtype=np.int64)
    out["train_support"] = {lab: int((y_tr == i).sum()) for i, lab in enumerate(labels)}
    if all_samples is not None:
        out["data"] = data_summary(all_samples, labels)
    return to_jsonable(out)


# ---------------------------------------------------------------------------------------
# grouped k-fold


def _mean_std(values: list[float | None]) -> dict[str, Any]:
    vals = [v for v in values if v is not None]
    return {"mean": float(np.mean(vals)) if vals else None,
            "std": float(np.std(vals)) if vals else None,
            "folds": values}


def grouped_kfold_estimate(
    samples: Sequence[Sample],
    colour_x: np.ndarray | None = None,
    k: int = 5,
    seed: int = 0,
    models: FoldModel | Mapping[str, FoldModel] | None = None,
) -> dict[str, Any]:
    """Mean and std across k folds grouped by (place, date) of balanced accuracy, macro-F1
    and accuracy, for the majority and colour baselines and optional models.

    colour_x: images (N, H, W, 3) or colour features (N, F) aligned with samples.
    models: a callable (or name -> callable) ``fn(train_idx, test_idx)`` returning test
    predictions (indices) or probabilities (n_test, n_classes); a bare callable is "model".
    """
    y = labels_of(samples)
    feats = _colour_inputs(colour_x) if colour_x is not None else None
    fns: dict[str, FoldModel] = (
        {} if models is None else {"model": models} if callable(models) else dict(models)
    )
    scores: dict[str, dict[str, list[float | None]]] = {}
    sizes = []
    for train_idx, test_idx in grouped_kfold(samples, k, seed):
        sizes.append(int(len(test_idx)))
        preds: dict[str, np.ndarray] = {"majority": majority_baseline(y[train_idx], len(test_idx))}
        if feats is not None:
            preds["colour"] = colour_baseline(feats[train_idx], y[train_idx], feats[test_idx])
        for name, fn in fns.items():
            p = np.asarray(fn(train_idx, test_idx))
            preds[name] = p.argmax(axis=1) if p.ndim == 2 else p
        for name, p in preds.items():
            m = classification_metrics(y[test_idx], p)
            per = scores.setdefault(name, {"balanced_accuracy": [], "macro_f1": [], "accuracy": []})
            for key in per:
                per[key].append(m[key])
    return to_jsonable({
        "k": k, "seed": seed, "n": len(samples), "groups": len({s.group for s in samples}),
        "fold_sizes": sizes,
        "systems": {name: {key: _mean_std(v) for key, v in per.items()}
                    for name, per in scores.items()},
    })


def readability_probe(features: Mapping[str, np.ndarray], samples: Sequence[Sample], k: int = 5,
                      seed: int = 0) -> dict[str, dict[str, float]]:
    """What the features tell apart besides the air: balanced accuracy of fit_logistic
    (classes weighed equally) at naming each frame's data source and place, in k folds
    grouped by hourly reading, for each named feature matrix. Near 1.0 means the features
    carry the camera and the scene; the class must then not be read from those."""
    from sklearn.model_selection import GroupKFold

    readings = reading_ids(samples)
    targets = {"source": [s.source for s in samples], "place": [s.place for s in samples]}
    out: dict[str, dict[str, float]] = {}
    for name, x in features.items():
        out[name] = {}
        for what, values in targets.items():
            names, y = np.unique(values, return_inverse=True)
            if len(names) < 2:
                continue
            pred = np.zeros(len(y), dtype=np.int64)
            for tr, te in GroupKFold(n_splits=min(k, len(np.unique(readings)))).split(x, y, readings):
                model = fit_logistic(x[tr], y[tr], class_weights(y[tr]), n_classes=len(names))
                pred[te] = model.proba_features(x[te]).argmax(axis=1)
            recall = [float(np.mean(pred[y == c] == c)) for c in range(len(names))]
            out[name][what] = float(np.mean(recall))
        out[name]["chance_place"] = 1.0 / len(set(targets["place"]))
    return out


# ---------------------------------------------------------------------------------------
# report


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def caveats(metrics: Mapping[str, Any], min_frames: int = MIN_TEST_FRAMES,
            min_groups: int = MIN_TEST_GROUPS) -> list[str]:
    """Plain-language warnings derived from the counts in an evaluate_split result."""
    notes: list[str] = []
    data = metrics.get("data", {}).get("classes", {})
    for name, c in data.items():
        if c["groups"] == 0:
            notes.append(f"There are no {name} frames in the data: the model cannot learn "
                         f"{name} and no number here measures it.")
        elif c["groups"] == 1:
            notes.append(f"{name} appears on a single date only ({', '.join(c['dates'])}; "
                         f"{c['frames']} frames): no date split can both train and test it, "
                         f"so no number here measures {name}.")
    for section in ("all", "daylight", "night"):
        sec = metrics.get(section)
        if not sec:
            continue
        if sec["n"] == 0:
            notes.append(f"No {section} frames in the test split: that case is not measured.")
            continue
        for name, c in sec["test_data"]["classes"].items():
            if name in data and data[name]["groups"] <= 1:
                continue  # already said above
            if c["frames"] == 0:
                if section == "all":
                    notes.append(f"No {name} frames in the test split: {name} recall is not "
                                 "measured.")
            elif c["frames"] < min_frames or c["groups"] < min_groups:
                notes.append(f"{section}: only {c['frames']} {name} test frames from "
                             f"{c['groups']} date(s): {name} recall there is very noisy.")
    systems = metrics.get("all", {}).get("systems", {})
    model = systems.get("model", {}).get("balanced_accuracy")
    for base in ("linear_probe", "colour", "majority"):
        b = systems.get(base, {}).get("balanced_accuracy")
        if model is not None and b is not None and model <= b:
            notes.append(f"The model does not beat the {SYSTEM_NAMES[base]} on "
                         f"balanced accuracy ({model:.3f} vs {b:.3f}).")
    notes.append("Labels are hourly PM2.5 from a monitoring station, not measured where the "
                 "photo was taken: a noisy label for a single photo.")
    return notes


def _systems_table(sec: Mapping[str, Any], labels: Sequence[str]) -> list[str]:
    rows = ["| system | accuracy | balanced acc. | macro-F1 | "
            + " | ".join(f"recall {lab}" for lab in labels) + " |",
            "|---|---|---|---|" + "---|" * len(labels)]
    for name, m in sec["systems"].items():
        rec = " | ".join(_fmt(m["per_class_recall"].get(lab)) for lab in labels)
        rows.append(f"| {SYSTEM_NAMES.get(name, name)} | {_fmt(m['accuracy'])} | "
                    f"{_fmt(m['balanced_accuracy'])} | {_fmt(m['macro_f1'])} | {rec} |")
    return rows


def _kfold_lines(kf: Mapping[str, Any]) -> list[str]:
    lines = [f"{kf['k']} folds over {kf['groups']} (place, date) groups, {kf['n']} frames "
             f"(seed {kf['seed']}); mean +- std across folds.", "",
             "| system | balanced acc. | macro-F1 | accuracy |", "|---|---|---|---|"]
    for name, s in kf["systems"].items():
        cells = " | ".join(
            "n/a" if s[key]["mean"] is None else f"{s[key]['mean']:.3f} +- {s[key]['std']:.3f}"
            for key in ("balanced_accuracy", "macro_f1", "accuracy"))
        lines.append(f"| {SYSTEM_NAMES.get(name, name)} | {cells} |")
    return lines


def write_report(metrics: Mapping[str, Any], path: str | os.PathLike,
                 title: str = "Airken evaluation") -> Path:
    """Markdown report of an evaluate_split result. Optional extra keys in ``metrics``:
    ``kfold`` (a grouped_kfold_estimate result, or name -> result) and ``notes`` (list)."""
    path = Path(path)
    labels = metrics.get("labels", list(LABELS))
    out = [f"# {title}", "",
           "Test frames come from whole held-out days (split by place and date), never from "
           "a random split of frames. Baselines are fitted on the same training frames.", ""]
    for section in ("all", "daylight", "night"):
        sec = metrics.get(section)
        if sec is None:
            continue
        out += [f"## Test split: {section} frames (n={sec['n']})", ""]
        if sec["n"] == 0:
            out += [sec.get("note", "no frames"), ""]
            continue
        support = ", ".join(f"{lab} {c['frames']} frames / {c['groups']} dates"
                            for lab, c in sec["test_data"]["classes"].items())
        out += [f"Test support: {support}.", ""] + _systems_table(sec, labels) + [""]
        if sec.get("confusion_png"):
            rel = os.path.relpath(sec["confusion_png"], path.parent)
            out += [f"![confusion matrix, {section}]({Path(rel).as_posix()})", ""]
    kfold = metrics.get("kfold")
    if kfold:
        out += ["## Grouped k-fold estimate", ""]
        named = {"": kfold} if "systems" in kfold else kfold
        for name, kf in named.items():
            out += ([f"### {name}", ""] if name else []) + _kfold_lines(kf) + [""]
    out += ["## Caveats", ""] + [f"- {c}" for c in caveats(metrics)]
    out += [f"- {n}" for n in metrics.get("notes", [])] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------
# JSON


def to_jsonable(obj: Any) -> Any:
    """numpy scalars/arrays, Paths, tuples, sets and dataclasses -> plain JSON types;
    NaN and infinities -> None (JSON has no such numbers)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj
