"""Gradio's upload folder: which files a request may name, and what is swept out of it.

A file reference in a request (a bare string, a FileData dict with or without its "meta"
marker, a "url" field) is a claim, not a path to trust: Gradio checks only references that
carry its marker, and the app's events take theirs unprocessed so that bad files reach our
own decoder. `uploaded_path` is the one rule every event applies: the reference must
resolve, symlinks followed, to a regular file inside the upload folder or the app's own
examples folder. Anything else gets the same one-line refusal, which says nothing about
what is or is not at that path, and the file is never opened.

`sweep_untracked` removes what Gradio leaves behind without tracking it: the temp file of an
upload cut off mid-body, and files of an earlier run of the server.
"""
from __future__ import annotations

import contextlib
import logging
import os
import stat
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gradio.utils import get_upload_folder

from airken.intake import ImageRejected

log = logging.getLogger(__name__)

NOT_AN_UPLOAD = "This file was not uploaded to this page: upload the photo again."
# At shutdown, a temp file directly in the upload folder that has not grown for this long
# is a cut-off upload, not one still arriving for another server that shares the folder.
CUT_OFF_IDLE_S = 2.0


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


def sweep_untracked(root: str | os.PathLike[str], keep: Iterable[str], max_age_s: float,
                    at_shutdown: bool = False) -> int:
    """Delete files under root that nothing keeps and that were last written more than
    max_age_s ago, and the folders that leaves empty; returns how many files went.

    Gradio tracks the uploads it completed and the files it wrote for this run, and the
    app's sweeper ages those out; this catches the rest (a cut-off upload's temp file, files
    of an earlier run). At shutdown only the cut-off uploads go (temp files directly in the
    folder, idle for CUT_OFF_IDLE_S): another server may share the folder and own the rest.
    """
    top = Path(root)
    if not top.is_dir():
        return 0
    kept = {os.path.realpath(p) for p in keep}
    now, removed = time.time(), 0
    limit = CUT_OFF_IDLE_S if at_shutdown else max_age_s
    for folder, _, files in os.walk(top, topdown=False):
        inner = Path(folder) != top
        if at_shutdown and inner:
            continue
        folder_idle = False
        with contextlib.suppress(OSError):  # judged before our deletes touch it
            folder_idle = inner and now - os.stat(folder).st_mtime > max_age_s
        for name in files:
            path = os.path.join(folder, name)
            try:
                if now - os.lstat(path).st_mtime <= limit or os.path.realpath(path) in kept:
                    continue
                os.remove(path)
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as err:
                log.warning("could not delete stale upload %s: %s", path, err)
        if folder_idle:
            with contextlib.suppress(OSError):  # not empty: something still lives there
                os.rmdir(folder)
    return removed
