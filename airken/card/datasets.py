"""The data sets the model learned from: credits, licences, links and known limits.

The one home of these words: the app's About tab and the Hub model card (airken.web.about,
train.model_card) and the training reports render them from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataSet:
    key: str  # matches the data folder's name
    place: str  # where the photos are from, for a lay reader
    title: str
    summary: str  # what is in it, in a sentence
    credit: str  # who made it, as they ask to be cited
    licence: str
    url: str
    limitations: tuple[str, ...]


DATASETS: dict[str, DataSet] = {d.key: d for d in (
    DataSet(
        key="milan",
        place="Milan, Italy",
        title="Milan webcam sky photos with hourly PM2.5 (AQpictures)",
        summary=("one public webcam (MeteoGiuliacci) looking south over the city, 41 days in 2025, each "
                 "photo paired with the hourly PM2.5 of the ARPA Lombardia station \"Milano Viale Marche\""),
        credit=("D. Oxoli, S. Li, S. Xu, M.A. Brovelli, F. Pirotti, A. Moazzam, AQpictures (Politecnico di "
                "Milano et al., ISPRS Scientific Initiatives 2025); PM2.5 by ARPA Lombardia"),
        licence=("tabular data (PM2.5 labels) CC BY 4.0; the photos stay the property of the webcam owner "
                 "and may be used for non-commercial scientific research only"),
        url="https://github.com/gisgeolab/aqpictures",
        limitations=(
            "One fixed camera and one view: the model can learn the scene rather than the haze, and "
            "results on this camera say little about other places.",
            "Danger (PM2.5 > 54) occurs on a single morning (2025-02-06): no whole-day split can both "
            "train and test it, so danger is not measured on this camera.",
            "The days span winter to autumn: season (light, vegetation, sun angle) is confounded with "
            "PM2.5, which is higher in winter.",
        ),
    ),
    DataSet(
        key="india-nepal",
        place="India and Nepal",
        title="Air Pollution Image Dataset from India and Nepal",
        summary="phone photos and videos from 7 places, each with the hourly PM2.5 of a nearby station",
        credit=("A. Rouniyar, S. Utomo, J. A, P.-A. Hsiung (2023), \"Air Pollution Image Dataset from India "
                "and Nepal\", Kaggle, doi:10.34740/KAGGLE/DS/3152196; described in Utomo et al., \"Eff-AQI\", "
                "GoodIT '23, doi:10.1145/3582515.3609531. PM2.5 for India from CPCB stations, for Nepal "
                "from tomorrow.io"),
        licence="CC BY-NC-SA 3.0 IGO (attribution, non-commercial, share-alike)",
        url="https://doi.org/10.34740/KAGGLE/DS/3152196",
        limitations=(
            "Place and class are confounded (Delhi is all danger, Dimapur all moderate): accuracy on a "
            "place the model has not seen is the number that matters.",
            "Nepal's PM2.5 comes from a model forecast, not a monitor.",
        ),
    ),
)}


def datasets_used(metrics: dict) -> list[DataSet]:
    """The known data sets a run read, from its data folder names (all of them when unknown)."""
    names = list((metrics.get("data") or {}).get("folders") or {})
    names += [Path(str(p)).name for p in (metrics.get("config") or {}).get("data") or []]
    found = [d for key, d in DATASETS.items() if any(key in n.lower() for n in names)]
    return found or list(DATASETS.values())
