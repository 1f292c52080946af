"""Opt-in photo donation: a visitor who ticks the box gives their photo to the training data.

Off unless AIRKEN_DONATE_REPO (a Hub dataset repo) and a token (AIRKEN_DONATE_TOKEN, else
HF_TOKEN) are set. A shared photo is the upright copy the app read (long side <= 448 px),
re-encoded as JPEG with no metadata but its time and its place rounded to 0.1°, and a row of
labels.csv with its modelled PM2.5 (a data folder, airken.datafolder; label_source
"cams"). Files are written to a local staging folder and committed in batches by
huggingface_hub's CommitScheduler, under donations/<this process>/ so that several replicas
never write the same file. Nothing is written when the box is not ticked; a session shares
at most AIRKEN_DONATE_PER_SESSION photos.
"""
from __future__ import annotations

import io
import logging
import math
import os
import tempfile
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import ExifTags, Image

from airken import settings
from airken.airmodel.report import label_row
from airken.core.intake import Photo
from airken.datafolder import append_rows

log = logging.getLogger(__name__)

CONSENT = (
    "When ticked, the photo you read next is added to Airken's training data on Hugging Face: a small "
    "copy with no metadata but its time and its place rounded to about 10 km, labelled with the "
    "modelled PM2.5 for that place and hour. Unticked, nothing of your photo is kept."
)


@dataclass(frozen=True)
class DonateSettings:
    """What donation needs of the AIRKEN_DONATE_* settings (parsed by airken.settings)."""

    repo: str | None = None
    token: str | None = None
    folder: Path | None = None  # staging folder; default a fresh temporary one
    every_min: float = settings.DEFAULTS.donate_every_min  # minutes between commits
    per_session: int = settings.DEFAULTS.donate_per_session

    @classmethod
    def from_env(cls) -> DonateSettings:
        """The AIRKEN_DONATE_* settings now; without AIRKEN_DONATE_TOKEN, huggingface_hub's HF_TOKEN."""
        env = settings.current()
        token = env.donate_token or os.environ.get("HF_TOKEN", "").strip() or None
        return cls(repo=env.donate_repo, token=token, folder=env.donate_dir, every_min=env.donate_every_min,
                   per_session=env.donate_per_session)

    @property
    def enabled(self) -> bool:
        from huggingface_hub import constants

        return bool(self.repo and self.token) and not constants.is_offline_mode()


class Donations:
    """The staging folder, its CommitScheduler (created on the first donation, so start-up
    never waits on the Hub) and the per-session counts."""

    def __init__(self, settings: DonateSettings | None = None):
        self.settings = settings or DonateSettings.from_env()
        self.instance = uuid.uuid4().hex[:12]
        self.folder = self.settings.folder or Path(tempfile.mkdtemp(prefix="airken-donations-"))
        self._scheduler = None
        self._starter: threading.Thread | None = None
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def share(self, photo: Photo, air: dict | None, session: str) -> str:
        """Stage one photo for the next commit; returns a sentence for the visitor. Only the
        local disk is touched here: the Hub is reached from the scheduler's own thread."""
        if not self.enabled:
            return "Sharing is not available on this server."
        label = _label_of(air)
        if label is None:
            return ("Not shared: the photo needs a modelled PM2.5 for its place and hour as its label "
                    "(a photo with GPS and time, or your location).")
        if not self._take_turn(session):
            return f"Not shared: at most {self.settings.per_session} photos per visit. Thank you!"
        try:
            self._write(photo, *label)
        except OSError:
            log.exception("could not stage a donated photo")
            return "Sharing failed this time; your reading is not affected."
        self._start_commits()
        return "Thank you: your photo will be added to the training data (without its other metadata)."

    def _take_turn(self, session: str) -> bool:
        with self._lock:
            count = self._counts.pop(session, 0)
            allowed = count < self.settings.per_session
            self._counts[session] = count + allowed  # most recent last: the oldest sessions go first
            while len(self._counts) > 10_000:
                self._counts.popitem(last=False)
            return allowed

    def _start_commits(self) -> None:
        """Create the CommitScheduler once, in the background (it asks the Hub for the repo);
        after a failure the next donation tries again."""
        with self._lock:
            if self._scheduler is not None or (self._starter is not None and self._starter.is_alive()):
                return
            self._starter = threading.Thread(target=self._create_scheduler, daemon=True, name="airken-donate")
            self._starter.start()

    def _create_scheduler(self) -> None:
        from huggingface_hub import CommitScheduler, HfApi

        try:
            api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=self.settings.token)
            self._scheduler = CommitScheduler(
                repo_id=self.settings.repo, repo_type="dataset", folder_path=self.folder,
                path_in_repo=f"donations/{self.instance}", every=self.settings.every_min,
                token=self.settings.token, hf_api=api, allow_patterns=["images/*.jpg", "labels.csv"])
        except Exception:  # the Hub is down or refuses the token: the photos wait in the folder
            log.exception("could not start committing donations to %s", self.settings.repo)

    def _write(self, photo: Photo, hour: datetime, pm25: float, lat: float, lon: float) -> None:
        """Each file appears whole (the scheduler may list the folder at any moment): the
        image by an atomic rename, the row by a single append."""
        name = f"{uuid.uuid4().hex}.jpg"
        images = self.folder / "images"
        images.mkdir(parents=True, exist_ok=True)
        partial = images / f".{name}.part"
        partial.write_bytes(clean_jpeg(photo.image, photo.taken_at or hour, lat, lon))
        os.replace(partial, images / name)
        with self._lock:
            append_rows(self.folder, [label_row(name, hour, pm25, lat, lon)])

    def flush(self) -> None:
        """Commit what is staged now, without waiting for the scheduler's turn."""
        if self._starter is not None:
            self._starter.join()
        if self._scheduler is not None:
            self._scheduler.trigger().result()

    def close(self) -> None:
        """Stop the scheduler (a stopped one is never restarted), waiting for one still being
        created: otherwise it would start afterwards and commit once more at exit."""
        if self._starter is not None:
            self._starter.join()
        if self._scheduler is not None:
            self._scheduler.stop()


def _label_of(air: dict | None) -> tuple[datetime, float, float, float] | None:
    """(hour, pm25, lat, lon) of an air block, or None: the block comes back from the browser,
    so a missing, errored or tampered one is no label, not a crash."""
    if not isinstance(air, dict) or "error" in air:
        return None
    try:
        values = tuple(float(air[k]) for k in ("pm25", "lat", "lon"))
        hour = datetime.fromisoformat(str(air["time"]))
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in values) or abs(values[1]) > 90 or abs(values[2]) > 180:
        return None
    return (hour, *values)


def clean_jpeg(image: Image.Image, taken: datetime, lat: float, lon: float) -> bytes:
    """The image as JPEG whose only metadata is its time and its place rounded to 0.1°."""
    exif = Image.Exif()
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    ifd[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
    offset = taken.strftime("%z")  # "+0100", or "" for a naive time
    if offset:
        ifd[ExifTags.Base.OffsetTimeOriginal] = f"{offset[:3]}:{offset[3:5]}"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat, lon = round(lat, 1), round(lon, 1)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N" if lat >= 0 else "S", (abs(lat), 0.0, 0.0)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E" if lon >= 0 else "W", (abs(lon), 0.0, 0.0)
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


_donations: Donations | None = None
_donations_lock = threading.Lock()


def donations() -> Donations:
    """The process-wide donations (one staging folder and scheduler per process)."""
    global _donations
    with _donations_lock:
        if _donations is None:
            _donations = Donations()
        return _donations
