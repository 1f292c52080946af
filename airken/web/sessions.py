"""Gradio's per-session state, with each block's config built when it is first needed.

Every call of the API is a session of its own, and Gradio's SessionState builds the config of
every block of the page when a session starts (87 blocks here: the signature of each
component class, its props, its API info). That took about 16 ms of the event loop per call,
more than the model. Those configs are read only to save a deep link (`components`); an event
only writes its inputs' and outputs' values into them. Here each config is built when a deep
link first asks, with the values events gave it since.

    install(app)  # in the server's lifespan, before the first request
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gradio.state_holder import SessionState, StateHolder


class _NoBlocks:
    """What SessionState.__init__ reads of a Blocks, with no blocks to build a config for."""

    def __init__(self, blocks: Any) -> None:
        self.default_config = blocks.default_config
        self.blocks: dict = {}


class LazySessionState(SessionState):
    """A SessionState whose `config_values` fills in block by block, when a deep link reads
    them: until then the values events give their blocks wait beside them."""

    def __init__(self, blocks: Any) -> None:
        super().__init__(_NoBlocks(blocks))  # Gradio's own set-up, minus the eager configs
        self._page_blocks = blocks.blocks
        self._values: dict[int, Any] = {}  # block id -> value, for blocks without a config yet

    def _update_value_in_config(self, key: int, value: Any) -> None:
        if key in self.config_values:
            super()._update_value_in_config(key, value)
        else:
            self._values[key] = value

    def __setitem__(self, key: int, value: Any) -> None:
        super().__setitem__(key, value)
        self._rebuilt(key)

    def _update_config(self, key: int) -> None:
        super()._update_config(key)
        self._rebuilt(key)

    def _rebuilt(self, key: int) -> None:
        """Gradio built this block's config anew: a value it had before is gone with the old one."""
        if key in self.config_values:
            self._values.pop(key, None)

    @property
    def components(self) -> Iterator[dict]:
        """Every block's config, as Gradio's eager SessionState holds them (a deep link reads them)."""
        for key, block in list(self.blocks_config.blocks.items()):
            if key in self._page_blocks and key not in self.config_values:
                self.config_values[key] = self.blocks_config.config_for_block(key, [], block)
        for key, value in self._values.items():
            super()._update_value_in_config(key, value)
        self._values.clear()
        yield from super().components


class LazyStateHolder(StateHolder):
    def __getitem__(self, session_id: str) -> SessionState:
        if session_id not in self.session_data:
            self.session_data[session_id] = LazySessionState(self.blocks)
        return super().__getitem__(session_id)


def install(app: Any) -> None:
    """Give a Gradio App (before it serves anything) a state holder of lazy sessions."""
    holder = LazyStateHolder()
    holder.set_blocks(app.get_blocks())  # also points the Blocks at it, and takes its session cap
    app.state_holder = holder
