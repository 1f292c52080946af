"""Gradio's upload folder: which files a request may name.

A file reference in a request (a bare string, a FileData dict with or without its "meta"
marker, a "url" field) is a claim, not a path to trust: Gradio checks only references that
carry its marker, and the app's events take theirs unprocessed so that bad files reach our
own decoder. `uploaded_path` is the one rule every event applies: the reference must
resolve, symlinks followed, to a regular file inside the upload folder or the app's own
examples folder. Anything else gets the same one-line refusal, which says nothing about
what is or is not at that path, and the file is never opened.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from gradio.utils import get_upload_folder

from airken.core.intake import ImageRejected

log = logging.getLogger(__name__)

NOT_AN_UPLOAD = "This file was not uploaded to this page: upload the photo again."


class NotAnUpload(ImageRejected):
    """A request named a file that is neither an upload nor one of the app's examples."""

    def __init__(self) -> None:
        super().__init__(NOT_AN_UPLOAD)


def upload_folder() -> Path:
    """Where Gradio stores uploads (GRADIO_TEMP_DIR, else <tmp>/gradio), symlinks resolved."""
    return Path(os.path.realpath(get_upload_folder()))


def uploaded_path(value: Any, examples_dir: str | os.PathLike[str] | None = None) -> str | None:
    """The real path of the file a request names, or None when it names none at all.

    Raises NotAnUpload unless the path resolves (symlinks followed) to a regular file inside
    the upload folder or examples_dir. A "url" field is never fetched or trusted.
    """
    claim = value.get("path") if isinstance(value, dict) else value
    if claim is None or claim == "":
        if isinstance(value, dict) and value.get("url"):
            raise NotAnUpload()
        return None
    if not isinstance(claim, (str, os.PathLike)):
        raise NotAnUpload()
    folders = [upload_folder()] + ([Path(os.path.realpath(examples_dir))] if examples_dir else [])
    try:
        real = Path(os.path.realpath(claim, strict=True))
        is_file = stat.S_ISREG(os.stat(real).st_mode)
    except (OSError, ValueError):  # missing, a loop, a NUL byte, a name too long...
        raise NotAnUpload() from None
    if not is_file or not any(real.is_relative_to(folder) for folder in folders):
        raise NotAnUpload()
    return str(real)
