"""Keras model -> TFLite files for the app, and a check that they still agree with Keras.

Two files, both taking the model convention's input (pixels 0-255, shape (N, H, W, 3)) and
giving softmax probabilities over LABELS:

- ``airken-float16.tflite``: float16 weights, float32 input and output. Half the size of the
  float32 model and practically the same answers.
- ``airken-int8.tflite``: full-integer int8 ops calibrated on training images, uint8 input and
  float32 output.
  * Input uint8: the calibration range of the input is pinned to 0-255, so the input's
    quantisation is scale 1, zero point 0 and a photo's uint8 pixels go in as they are.
  * Output float32: the int8 softmax has a fixed scale of 1/256 either way, so a uint8
    output would be no more precise; float32 spares every reader of the file the
    dequantisation step (one DEQUANTIZE op on 3 values) and LiteRT runs it as is.

The converter is ``tf.lite.TFLiteConverter.from_keras_model``, which works for Keras 2
(TF 2.15) and Keras 3 (TF 2.16+, where it goes through a SavedModel export). TFLite has no
bfloat16, so a model trained under a mixed policy (bf16 on Gaudi) is first rebuilt in float32
with the same weights (``float32_copy``).
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)

FLOAT16_NAME = "airken-float16.tflite"
INT8_NAME = "airken-int8.tflite"
CALIBRATION_IMAGES = 200  # enough for stable activation ranges, and quick to run


def export_tflite(model: tf.keras.Model, out_dir: str | Path,
                  representative_images: np.ndarray) -> dict[str, Path]:
    """Write the float16 and int8 files into out_dir; returns {"float16": path, "int8": path}.

    representative_images: uint8 (N, H, W, 3) training images for the int8 calibration.
    """
    images = _check_images(representative_images)
    model = float32_copy(model)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    paths = {"float16": _write(out / FLOAT16_NAME, converter.convert())}

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: _calibration_batches(images)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.float32
    with warnings.catch_warnings():
        # the uint8 input's scale comes from calibration; TF warns it was not given by hand
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        paths["int8"] = _write(out / INT8_NAME, converter.convert())
    _check_int8_input(paths["int8"])
    return paths


def float32_copy(model: tf.keras.Model) -> tf.keras.Model:
    """The model itself when it computes in float32, else a float32 clone with its weights."""
    if all(_compute_dtype(layer) in (None, "float32") for layer in _all_layers(model)):
        return model
    clone = tf.keras.models.clone_model(model, clone_function=_float32_layer)
    clone.set_weights(model.get_weights())
    log.info("rebuilt %s in float32 for export (it was trained under a mixed policy)", model.name)
    return clone


def _float32_layer(layer: tf.keras.layers.Layer) -> tf.keras.layers.Layer:
    if isinstance(layer, tf.keras.Model):  # nested backbone: clone it the same way
        return tf.keras.models.clone_model(layer, clone_function=_float32_layer)
    config = layer.get_config()
    if "dtype" in config and not isinstance(layer, tf.keras.layers.InputLayer):
        config["dtype"] = "float32"
    return layer.__class__.from_config(config)


def _all_layers(model: tf.keras.layers.Layer) -> list:
    layers = []
    for layer in getattr(model, "layers", []):
        layers += [layer] + _all_layers(layer)
    return layers


def _compute_dtype(layer: tf.keras.layers.Layer) -> str | None:
    policy = getattr(layer, "dtype_policy", None)
    return getattr(policy, "compute_dtype", None)


def tflite_predict(path: str | Path, x: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Probabilities (N, classes) float32 from a .tflite file for uint8 images (N, H, W, 3),
    through the app's own runner."""
    from airken.core.model import TFLiteModel

    return TFLiteModel(path, threads=threads).run_batch(_check_images(x))


def parity(keras_model: tf.keras.Model, tflite_path: str | Path, x: np.ndarray) -> dict:
    """How closely a .tflite file follows the Keras model on uint8 images x."""
    x = _check_images(x)
    expected = np.asarray(keras_model.predict(x.astype(np.float32), verbose=0), dtype=np.float32)
    got = tflite_predict(tflite_path, x)
    diff = np.abs(expected - got)
    return {
        "top1_agreement": float(np.mean(expected.argmax(1) == got.argmax(1))),
        "max_abs_prob_diff": float(diff.max()),
        "mean_abs_prob_diff": float(diff.mean()),
        "n": int(len(x)),
    }


def _check_images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[-1] != 3 or len(x) == 0:
        raise ValueError(f"expected images shaped (N, H, W, 3) with N > 0, got {x.shape}")
    if x.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels 0-255, got {x.dtype}")
    return x


def _calibration_batches(images: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Training images one at a time as float32, the first with a 0 and a 255 pixel.

    The converter sets the input's quantisation from the range it sees here; pinning it to
    0-255 (two pixels out of a whole image) makes the uint8 input exactly the pixel values
    and keeps bright or dark photos from being clipped.
    """
    step = max(1, len(images) // CALIBRATION_IMAGES)
    for i, image in enumerate(images[::step][:CALIBRATION_IMAGES]):
        sample = image.astype(np.float32)[None]
        if i == 0:
            sample[0, 0, 0, :] = 0.0
            sample[0, 0, 1, :] = 255.0
        yield [sample]


def _check_int8_input(path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    detail = Interpreter(model_path=str(path)).get_input_details()[0]
    scale, zero = detail["quantization"]
    if detail["dtype"] != np.uint8 or not np.isclose(scale, 1.0) or zero != 0:
        log.warning("int8 model input quantisation is %s scale=%s zero=%s, not uint8 1/0",
                    detail["dtype"], scale, zero)


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    log.info("wrote %s (%.1f kB)", path, len(content) / 1024)
    return path
