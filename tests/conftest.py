"""Shared pytest setup for tests/.

tests/ is put on sys.path here so helper modules that live next to the tests (badinputs.py,
hub_server.py, ...) import as plain `from badinputs import make_corpus` under every pytest
import mode, including --import-mode=importlib, which would not add it by itself.
Tests never touch the network: the Hub is offline and Gradio analytics are off unless a
test sets them otherwise.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
