"""Files the page makes for a visitor (a preview, a CSV, a calendar file): each in a fresh
folder inside Gradio's upload folder, where the sweeper ages it out like an upload."""
from __future__ import annotations

import uuid
from pathlib import Path

from gradio.utils import get_upload_folder


def new_file(name: str, kind: str) -> Path:
    """A path for ``name`` in a new folder ``airken-<kind>-<uuid>`` of the upload folder."""
    folder = Path(get_upload_folder()) / f"airken-{kind}-{uuid.uuid4().hex}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
