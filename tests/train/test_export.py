"""TFLite export of a tiny trained model: files, input quantisation, parity with Keras."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")

from datasets import tiny_model  # noqa: E402

from train.export import FLOAT16_NAME, INT8_NAME, export_tflite, parity, tflite_predict  # noqa: E402

SIZE = 224


def sky_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images whose class is set by brightness and blueness, kept within 30-220."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    level = 60 + 60 * y + rng.normal(0, 12, n)
    img = level[:, None, None, None] + rng.normal(0, 20, (n, SIZE, SIZE, 3))
    img[..., 2] += 15 * (1 - y)[:, None, None]  # clearer air, bluer sky
    return np.clip(img, 30, 220).astype(np.uint8), y


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tf.keras.utils.set_random_seed(3)
    x, y = sky_like(96, seed=0)
    model = tiny_model(SIZE)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(x.astype(np.float32), y, epochs=8, batch_size=16, verbose=0)
    out = tmp_path_factory.mktemp("export")
    paths = export_tflite(model, out, representative_images=x)
    test_x, _ = sky_like(32, seed=1)
    return model, paths, test_x


def test_writes_both_files(exported):
    _, paths, _ = exported
    assert paths["float16"].name == FLOAT16_NAME and paths["int8"].name == INT8_NAME
    for path in paths.values():
        assert path.is_file()
        assert 1_000 < path.stat().st_size < 100_000


def test_int8_takes_plain_pixels_and_gives_probabilities(exported):
    from ai_edge_litert.interpreter import Interpreter

    _, paths, _ = exported
    interpreter = Interpreter(model_path=str(paths["int8"]))
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    # calibration images span only 30-220, yet uint8 pixels map 1:1 onto the input
    assert inp["dtype"] == np.uint8
    assert inp["quantization"] == (1.0, 0)
    assert out["dtype"] == np.float32
    assert list(inp["shape"][1:]) == [SIZE, SIZE, 3]


def test_float16_input_is_float32(exported):
    from ai_edge_litert.interpreter import Interpreter

    _, paths, _ = exported
    interpreter = Interpreter(model_path=str(paths["float16"]))
    assert interpreter.get_input_details()[0]["dtype"] == np.float32
    assert interpreter.get_output_details()[0]["dtype"] == np.float32


def test_predictions_are_probability_rows(exported):
    _, paths, test_x = exported
    for path in paths.values():
        probs = tflite_predict(path, test_x[:8])
        assert probs.shape == (8, 3) and probs.dtype == np.float32
        assert np.all(probs >= 0)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.02)


def test_parity_with_keras(exported):
    model, paths, test_x = exported
    keras_probs = model.predict(test_x.astype(np.float32), verbose=0)
    assert keras_probs.max(axis=1).mean() > 0.5, "tiny model did not learn; parity would be moot"
    f16 = parity(model, paths["float16"], test_x)
    i8 = parity(model, paths["int8"], test_x)
    print(f"\nparity float16: {f16}\nparity int8:    {i8}")
    assert f16["n"] == i8["n"] == len(test_x)
    assert f16["top1_agreement"] >= 0.99
    assert f16["max_abs_prob_diff"] < 0.01
    assert i8["top1_agreement"] >= 0.9
    assert i8["mean_abs_prob_diff"] < 0.05


def test_refuses_float_pixels(exported):
    _, paths, test_x = exported
    with pytest.raises(ValueError, match="uint8"):
        tflite_predict(paths["int8"], test_x.astype(np.float32))


def test_model_trained_in_bfloat16_is_exported_in_float32(tmp_path):
    """Gaudi trains under mixed_bfloat16; TFLite has no bf16, so export rebuilds in float32."""
    from train.export import float32_copy

    before = tf.keras.mixed_precision.global_policy().name
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        tf.keras.utils.set_random_seed(5)
        inp = tf.keras.Input((64, 64, 3))
        x = tf.keras.layers.Rescaling(1 / 128.0, offset=-127 / 128.0)(inp)
        x = tf.keras.layers.Conv2D(4, 3, strides=4, use_bias=False)(x)
        x = tf.keras.layers.BatchNormalization()(x)
        x = tf.keras.layers.GlobalAveragePooling2D()(tf.keras.layers.ReLU(6.0)(x))
        backbone = tf.keras.Model(inp, x, name="backbone")
        pixels = tf.keras.Input((64, 64, 3))
        out = tf.keras.layers.Dense(3, activation="softmax", dtype="float32")(
            backbone(pixels, training=False))
        model = tf.keras.Model(pixels, out)
    finally:
        tf.keras.mixed_precision.set_global_policy(before)
    x_img, _ = sky_like(16, seed=2)
    x_img = x_img[:, :64, :64]
    copy = float32_copy(model)
    assert copy is not model
    np.testing.assert_allclose(copy.predict(x_img.astype(np.float32), verbose=0),
                               model.predict(x_img.astype(np.float32), verbose=0), atol=0.02)
    paths = export_tflite(model, tmp_path, representative_images=x_img)
    assert parity(model, paths["float16"], x_img)["max_abs_prob_diff"] < 0.02
