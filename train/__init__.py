"""Training pipeline (TensorFlow): data, backbone, evaluation, export, publishing."""
from __future__ import annotations

import logging
import sys
from pathlib import Path


def log_to(log_file: Path) -> None:
    """Send INFO logs of a run to stderr and to log_file (its folder is created)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(log_file)):
        handler.setFormatter(fmt)
        root.addHandler(handler)
