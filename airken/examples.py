"""The app's example photos (assets/examples, with ATTRIBUTION.md): their order and titles on
the page, and the sanity table of what a model says about each one (the training report, the
bench and the model card all print it).

They are a sanity check, never data: nothing is trained, tuned or thresholded on them. None
has a measured PM2.5; the table shows whether a verdict is absurd (a clear blue sky called
unhealthy, a fog bank called unhealthy with confidence).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airken.core.predictor import Predictor

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"

TITLES = {
    "clear-kite": "Blue sky with a kite",
    "clear-mountains-picos-de-europa": "Mountains, blue sky",
    "clear-autumn-aitzgorri": "Mountain ridge, pale sky",
    "clear-bridge-cables": "Bridge cables, blue sky",
    "hazy-beijing-summer-palace": "Hazy day in Beijing",
    "overcast-storm": "Storm clouds",
    "fog-pier": "Pier in thick fog",
    "dusk-lake": "Lake at dusk",
    "sunset-boats": "Sunset over boats",
    "sun-glare-hilltop": "Sun straight into the lens",
    "night-rocket-launch": "Night photo (refused)",
    "no-sky-coffee": "No sky: a coffee cup (refused)",
}
CLEAR_SKY = ("clear-kite", "clear-mountains-picos-de-europa", "clear-autumn-aitzgorri", "clear-bridge-cables")


def example_paths(folder: Path = EXAMPLES_DIR) -> list[Path]:
    """The example photos in page order (titled ones first, then any others by name)."""
    if not folder.is_dir():
        return []
    found = {p.stem: p for p in folder.glob("*.jpg")}
    ordered = [found.pop(s) for s in TITLES if s in found]
    return ordered + sorted(found.values())


def title(path: str | Path) -> str:
    stem = Path(path).stem
    return TITLES.get(stem, stem.replace("-", " ").capitalize())


def read_examples(predictor: Predictor, paths: Sequence[Path] | None = None, **options: Any) -> list[dict]:
    """One row per photo: what ``predictor.predict(photo, **options)`` says."""
    rows = []
    for path in paths if paths is not None else example_paths():
        p = predictor.predict(path, **options)
        rows.append({"photo": path.stem, "title": title(path), "label": p.label, "confidence": p.confidence,
                     "unsure": p.unsure, "probabilities": dict(p.probabilities or {}) or None,
                     "warnings": list(p.warnings) if p.label else [p.advice]})
    return rows


def summary(rows: Sequence[dict]) -> dict[str, Any]:
    """The counts the issue's veto asks for: clear skies read healthy, and none read danger."""
    clear = [r for r in rows if r["photo"] in CLEAR_SKY]
    return {"clear_sky": len(clear), "clear_sky_healthy": sum(r["label"] == "healthy" for r in clear),
            "clear_sky_danger": sum(r["label"] == "danger" for r in clear),
            "danger_confident": [r["photo"] for r in rows if r["label"] == "danger" and not r["unsure"]]}


def markdown(rows: Sequence[dict]) -> str:
    """The table as Markdown: photo, verdict, confidence, warnings."""
    from airken.core.classes import class_by_name

    lines = ["| photo | verdict | confidence | notes |", "|---|---|---|---|"]
    for r in rows:
        if r["label"] is None:
            verdict, sure = "refused", "-"
        else:
            verdict = class_by_name(r["label"]).headline + (" (unsure)" if r["unsure"] else "")
            sure = f"{r['confidence']:.0%}"
        notes = "; ".join(r["warnings"]).replace("|", "/") or "-"
        lines.append(f"| {r['title']} | {verdict} | {sure} | {notes} |")
    return "\n".join(lines)
