"""The model runner: a TFLite model executed with LiteRT (no TensorFlow).

Float (float32/float16-weight) and full-integer (int8/uint8) models are both handled: the
input/output quantisation parameters are read from the tensor details, so the caller always
passes uint8 pixels and always gets float probabilities back. The predictor, train/export's
parity check and the training feature studies all run their .tflite files through TFLiteModel.
"""
from __future__ import annotations

import logging
import os
import queue
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from airken import settings

log = logging.getLogger(__name__)

_stderr_lock = threading.Lock()


class ModelUnreadable(RuntimeError):
    """LiteRT cannot run this file (empty, truncated, not a TFLite flatbuffer...)."""


def default_threads(instances: int = 1) -> int:
    """AIRKEN_THREADS, else the cores shared out among the interpreters: one call alone (CLI,
    library) gets every core, while the app's concurrent calls get one core each, which
    serves more requests per second than threads competing for the same cores (bench/)."""
    return settings.current().threads or max(1, min(4, (os.cpu_count() or 1) // max(1, instances)))


@contextmanager
def _native_stderr_to_log():
    """LiteRT's C++ runtime writes "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
    straight to file descriptor 2 whenever an interpreter is built, and has no switch for it.
    While one is built, fd 2 goes to a temporary file; its lines are then passed to logging
    (INFO lines at debug level), so nothing is lost and a plain run prints nothing."""
    with _stderr_lock, tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines():
                if line.strip():
                    log.log(logging.DEBUG if line.startswith("INFO:") else logging.WARNING, "LiteRT: %s", line)


class TFLiteModel:
    """A pool of LiteRT interpreters over one model file; safe to call from many threads.

    An Interpreter is not thread safe, so each call borrows one from the pool; `instances`
    sets how many calls can run at once.
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None, instances: int = 1):
        self.path = Path(path)
        self.threads = threads or default_threads(instances)
        self._pool: queue.Queue[Interpreter] = queue.Queue()
        for _ in range(max(1, instances)):
            self._pool.put(self._new_interpreter())
        with self._borrow() as interp:
            inp = interp.get_input_details()[0]
            out = interp.get_output_details()[0]
        self.input_size = int(inp["shape"][1])
        self.input_dtype = np.dtype(inp["dtype"])
        self.output_dtype = np.dtype(out["dtype"])
        self._in_quant = _quant_params(inp)
        self._out_quant = _quant_params(out)
        self.n_outputs = int(out["shape"][-1])
        self.predict_proba(np.zeros((self.input_size, self.input_size, 3), np.uint8))  # warm up
        log.info(
            "loaded %s: input %s %dpx, output %s, %d thread(s) x %d instance(s)",
            self.path.name, self.input_dtype, self.input_size, self.output_dtype,
            self.threads, max(1, instances),
        )

    @property
    def n_classes(self) -> int:
        """A classifier's outputs are its classes."""
        return self.n_outputs

    def _new_interpreter(self) -> Interpreter:
        if self.path.stat().st_size == 0:
            raise ModelUnreadable("the file is empty")
        try:
            with _native_stderr_to_log():
                interp = Interpreter(model_path=str(self.path), num_threads=self.threads)
                interp.allocate_tensors()
        except (ValueError, RuntimeError) as err:  # what LiteRT raises for a file it cannot use
            text = str(err).strip()
            raise ModelUnreadable(text.splitlines()[0] if text else type(err).__name__) from None
        return interp

    @contextmanager
    def _borrow(self):
        interp = self._pool.get()
        try:
            yield interp
        finally:
            self._pool.put(interp)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """uint8 (S, S, 3) pixels -> float32 class probabilities (n_classes,)."""
        probs = self.run_batch(x[None])[0]
        total = float(probs.sum())
        # A quantised softmax does not sum exactly to 1; renormalise so callers can rely on it.
        return probs / total if total > 0 else probs

    def run_batch(self, xs: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) pixels 0-255 -> the model's float32 outputs (N, n_outputs), as they are
        (probabilities for a classifier, features for a backbone), one image per invoke."""
        xs = np.asarray(xs)
        if xs.ndim != 4 or xs.shape[1:] != (self.input_size, self.input_size, 3):
            raise ValueError(f"expected images of shape (N, {self.input_size}, {self.input_size}, 3), got {xs.shape}")
        rows = []
        with self._borrow() as interp:
            inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
            for x in xs:
                interp.set_tensor(inp, self._quantise(x[None].astype(np.float32)))
                interp.invoke()
                rows.append(self._dequantise(interp.get_tensor(out)[0]))
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, self.n_outputs), np.float32)

    def _quantise(self, x: np.ndarray) -> np.ndarray:
        if self._in_quant is None:
            return x.astype(self.input_dtype)
        scale, zero = self._in_quant
        info = np.iinfo(self.input_dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(self.input_dtype)

    def _dequantise(self, raw: np.ndarray) -> np.ndarray:
        if self._out_quant is None:
            return raw.astype(np.float32)
        scale, zero = self._out_quant
        return (raw.astype(np.float32) - zero) * scale


def _quant_params(detail: dict) -> tuple[float, int] | None:
    """(scale, zero_point) of an integer tensor, or None for a float tensor."""
    if not np.issubdtype(np.dtype(detail["dtype"]), np.integer):
        return None
    scale, zero = detail.get("quantization", (0.0, 0))
    if not scale:
        return None
    return float(scale), int(zero)
