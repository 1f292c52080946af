"""The model runner: a TFLite model executed with LiteRT (no TensorFlow).

Float (float32/float16-weight) and full-integer (int8/uint8) models are both handled: the
input/output quantisation parameters are read from the tensor details, so the caller always
passes uint8 pixels and always gets float probabilities back.
"""
from __future__ import annotations

import logging
import os
import queue
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

log = logging.getLogger(__name__)


class ModelUnreadable(RuntimeError):
    """LiteRT cannot run this file (empty, truncated, not a TFLite flatbuffer...)."""


def default_threads(instances: int = 1) -> int:
    """AIRKEN_THREADS, else the cores shared out among the interpreters: one call alone (CLI,
    library) gets every core, while the app's concurrent calls get one core each, which
    serves more requests per second than threads competing for the same cores (bench/)."""
    env = os.environ.get("AIRKEN_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(4, (os.cpu_count() or 1) // max(1, instances)))


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
        self.n_classes = int(out["shape"][-1])
        self.predict_proba(np.zeros((self.input_size, self.input_size, 3), np.uint8))  # warm up
        log.info(
            "loaded %s: input %s %dpx, output %s, %d thread(s) x %d instance(s)",
            self.path.name, self.input_dtype, self.input_size, self.output_dtype,
            self.threads, max(1, instances),
        )

    def _new_interpreter(self) -> Interpreter:
        if self.path.stat().st_size == 0:
            raise ModelUnreadable("the file is empty")
        try:
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
        if x.shape != (self.input_size, self.input_size, 3):
            raise ValueError(f"expected input of shape {(self.input_size, self.input_size, 3)}, got {x.shape}")
        batch = self._quantise(x[None].astype(np.float32))
        with self._borrow() as interp:
            interp.set_tensor(interp.get_input_details()[0]["index"], batch)
            interp.invoke()
            raw = interp.get_tensor(interp.get_output_details()[0]["index"])[0]
        probs = self._dequantise(raw)
        total = float(probs.sum())
        # A quantised softmax does not sum exactly to 1; renormalise so callers can rely on it.
        return (probs / total).astype(np.float32) if total > 0 else probs.astype(np.float32)

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
