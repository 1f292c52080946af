"""What the web app adds to Gradio's server: `demo.launch(app_kwargs=app_kwargs(demo))`.

- middleware: security headers, clean answers where Gradio would fail, the upload guard
  (airken.web.middleware, airken.web.upload_guard);
- a lifespan that gives the server lazy sessions (airken.web.sessions), sweeps old temp files
  while it runs and at shutdown, and lets older files make room when the upload folder is at
  its bound (airken.web.sweeper).
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any

import gradio as gr

from airken.web import sessions, sweeper, upload_guard
from airken.web.middleware import exception_handlers, middleware
from airken.web.uploads import upload_folder


def app_kwargs(demo: gr.Blocks) -> dict[str, Any]:
    return {"lifespan": lifespan(demo), "middleware": middleware(), "exception_handlers": exception_handlers()}


def lifespan(demo: gr.Blocks):
    every_s, max_age_s = sweeper.temp_policy()
    sweeping = sweeper.lifespan(demo, every_s, max_age_s)

    @contextlib.asynccontextmanager
    async def serve(app: Any):
        sessions.install(app)
        upload_guard.when_full(upload_folder(), functools.partial(sweeper.make_room, demo))
        async with sweeping(app):
            yield

    return serve
