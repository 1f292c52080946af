"""What the app adds to Gradio's server: sessions that build their config on demand
(airken.web.sessions)."""
from __future__ import annotations

import gradio as gr
import pytest
from gradio.state_holder import SessionState

from airken.core.predictor import get_predictor
from airken.web import server, sessions, ui

# Gradio's queue still calls pandas options that pandas 3 deprecates: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*")


# ---------------------------------------------------------------- sessions


@pytest.fixture(scope="module")
def demo() -> gr.Blocks:
    return ui.build_demo(get_predictor())


def test_a_session_builds_block_configs_on_demand_and_all_for_a_deep_link(demo):
    lazy = sessions.LazySessionState(demo)
    assert lazy.config_values == {}
    some_id = next(iter(demo.blocks))
    lazy._update_value_in_config(some_id, "x")  # what an event does for its inputs and outputs
    assert list(lazy.config_values) == [some_id]
    eager = {c["id"]: c for c in SessionState(demo).components}
    eager[some_id].get("props", {}).update(value="x")
    assert {c["id"]: c for c in lazy.components} == eager


def test_the_server_serves_lazy_sessions(demo, tmp_path, monkeypatch):
    from starlette.testclient import TestClient

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    app = gr.routes.App.create_app(demo, app_kwargs=server.app_kwargs(demo))
    with TestClient(app):
        assert isinstance(app.state_holder, sessions.LazyStateHolder)
        assert demo.state_holder is app.state_holder
        assert isinstance(app.state_holder["some-session"], sessions.LazySessionState)
