"""Deleting the app's temp files: visitors' uploads and the files made for them.

Gradio's own Blocks(delete_cache=...) sweeper walks the same sets of files while requests add
to them; under steady traffic it dies at the first "Set changed size during iteration" and
temp files then pile up for good. This one walks a snapshot and never stops. airken.web.ui's
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


def _kept(demo: gr.Blocks) -> set[str]:
    """Files the page itself serves from the temp folder (Gradio's copies of the examples)."""
    keep: set[str] = set()
    for block in _snapshot(demo.blocks.values()):
        keep.update(_snapshot(getattr(block, "keep_in_cache", ())))
    return keep


def sweep_temp_files(demo: gr.Blocks, max_age_s: float) -> int:
    """Delete the files this app put in Gradio's temp folder (uploads, result images, CSVs)
    that are older than max_age_s, and their emptied per-file folders. Returns the count."""
    keep = _kept(demo)
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
    # Tracked files still here are the rule above's to age (by when they arrived): an upload
    # copied with its old modification time must not go as "untracked".
    tracked = {p for files in _snapshot(demo.temp_file_sets) for p in _snapshot(files)}
    return removed + sweep_untracked(upload_root, keep | tracked, max_age_s, at_shutdown=max_age_s < 0)


# An upload is read within seconds of arriving; a page may read it again (another click, a
# shared photo) for a while. When the folder is at its bound, files older than this make room.
EVICT_AFTER_S = 60.0


def make_room(demo: gr.Blocks, need: int, min_age_s: float = EVICT_AFTER_S) -> int:
    """Delete this app's oldest files (uploads and results that arrived over min_age_s ago;
    never the examples the page serves) until `need` bytes are freed. Returns the bytes freed.
    airken.web.upload_guard asks for it when an upload would take the folder past its bound."""
    keep, now, root = _kept(demo), time.time(), os.path.realpath(demo.GRADIO_CACHE)
    candidates = []
    for path in {p for files in _snapshot(demo.temp_file_sets) for p in _snapshot(files)} - keep:
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if now - st.st_ctime > min_age_s:
                candidates.append((st.st_ctime, st.st_size, path))
    freed = 0
    for _, size, path in sorted(candidates):  # oldest first
        if freed >= need:
            break
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
            freed += size
            folder = os.path.dirname(path)
            if os.path.realpath(folder) != root:
                with contextlib.suppress(OSError):  # its per-file folder, when that was all it held
                    os.rmdir(folder)
    log.info("upload folder at its bound: %d bytes of older files made room", freed)
    return freed  # the sets forget the paths at the next sweep, when they are found missing


# At shutdown, a temp file directly in the upload folder that has not grown for this long
# is a cut-off upload, not one still arriving for another server that shares the folder.
CUT_OFF_IDLE_S = 2.0


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
