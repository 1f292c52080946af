"""Deleting the app's temp files: visitors' uploads and the files made for them.

Gradio's own Blocks(delete_cache=...) sweeper walks the same sets of files while requests add
to them; under steady traffic it dies at the first "Set changed size during iteration" and
temp files then pile up for good. This one walks a snapshot and never stops. airken.ui's
launch() runs it in the server's lifespan.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

import gradio as gr

from airken import settings

log = logging.getLogger(__name__)


def temp_policy() -> tuple[int, int]:
    """(sweep every, delete older than) in seconds for uploads and generated files."""
    max_age = settings.current().temp_max_age_s
    return max(5, min(300, max_age // 3)), max_age


def keep_minutes() -> int:
    """At most this long (rounded up) an upload stays on the server: its age limit plus one sweep."""
    every_s, max_age_s = temp_policy()
    return -(-(max_age_s + every_s) // 60)


def _snapshot(items: Iterable[str]) -> list[str]:
    """A list copy of a set that request threads may be adding to while we copy it."""
    for _ in range(20):
        try:
            return list(items)
        except RuntimeError:  # "Set changed size during iteration": copy again
            time.sleep(0.001)
    return []


def sweep_temp_files(demo: gr.Blocks, max_age_s: float) -> int:
    """Delete the files this app put in Gradio's temp folder (uploads, result images, CSVs)
    that are older than max_age_s, and their emptied per-file folders. Returns the count."""
    keep: set[str] = set()
    for block in _snapshot(demo.blocks.values()):
        keep.update(_snapshot(getattr(block, "keep_in_cache", ())))
    upload_root = Path(demo.GRADIO_CACHE).resolve()
    now, removed = time.time(), 0
    for files in _snapshot(demo.temp_file_sets):
        for path in _snapshot(files):
            if path in keep:
                continue
            try:
                if now - os.lstat(path).st_ctime <= max_age_s:
                    continue
                folder = Path(path).parent
                folder_idle = now - folder.stat().st_mtime > max_age_s  # before our delete touches it
                os.remove(path)
                removed += 1
                if folder_idle and folder.resolve().parent == upload_root:
                    with contextlib.suppress(OSError):  # not empty: another file lives there
                        folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError as err:
                log.warning("could not delete temp file %s: %s", path, err)
                continue
            files.discard(path)
    return removed


def lifespan(demo: gr.Blocks, every_s: int, max_age_s: int):
    """Server lifespan: sweep old temp files every every_s; at shutdown, delete them all."""

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async def loop() -> None:
            while True:
                await asyncio.sleep(every_s)
                try:
                    removed = await asyncio.to_thread(sweep_temp_files, demo, max_age_s)
                    log.debug("temp sweep removed %d file(s)", removed)
                except Exception:
                    log.exception("temp file sweep failed; next try in %d s", every_s)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(sweep_temp_files, demo, -1)

    return lifespan
