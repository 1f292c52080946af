"""Checked RGB image -> model input. Shared by the predictor and the training pipeline,
so that the model sees exactly the same pixels in training and in the app."""
from __future__ import annotations

import numpy as np
from PIL import Image

MODEL_INPUT_SIZE = 224


def to_model_input(img: Image.Image, size: int = MODEL_INPUT_SIZE) -> np.ndarray:
    """Whole frame resized (antialiased bilinear) to size x size, uint8 HxWx3, values 0-255.

    Normalisation ((x - 127) / 128 for EfficientNet-Lite) lives inside the model, so the
    model file takes plain pixels and needs no extra preprocessing config.
    """
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img.resize((size, size), Image.BILINEAR), dtype=np.uint8)
