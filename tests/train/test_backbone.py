"""EfficientNet-Lite ports: weights file reading, safety of the unpickler, ImageNet sanity."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from airken.core.preprocess import to_model_input
from airken.examples import EXAMPLES_DIR
from train.backbone import (
    UnsafePickleError,
    build_backbone,
    build_lite,
    lite_weights_path,
    load_lite_weights,
    load_state_dict,
)

ROOT = Path(__file__).resolve().parents[2]
COFFEE_JPG = EXAMPLES_DIR / "no-sky-coffee.jpg"
ESPRESSO = 967  # ImageNet class index


@pytest.fixture(scope="module")
def state_dict() -> dict[str, np.ndarray]:
    return load_state_dict(lite_weights_path("lite0"))


@pytest.fixture(scope="module")
def imagenet_model(state_dict):
    model = build_lite("lite0", include_top=True, weights=None)
    load_lite_weights(model, state_dict, include_top=True)
    return model


def _predict(model, pixels: np.ndarray) -> np.ndarray:
    return model(pixels.astype(np.float32)[None], training=False).numpy()[0]


def test_state_dict_has_all_tensors(state_dict):
    assert len(state_dict) == 296
    assert state_dict["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state_dict["_fc.weight"].shape == (1000, 1280)
    floats = [v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")]
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in floats)


def test_coffee_photo_is_espresso(imagenet_model):
    pixels = to_model_input(Image.open(COFFEE_JPG).convert("RGB"))
    probs = _predict(imagenet_model, pixels)
    assert probs.shape == (1000,)
    assert probs.sum() == pytest.approx(1.0, abs=1e-3)
    assert int(probs.argmax()) == ESPRESSO
    assert probs[ESPRESSO] > 0.8  # measured 0.89


def test_skimage_coffee_center_crop_is_espresso(imagenet_model):
    skimage = pytest.importorskip("skimage")
    path = Path(skimage.__file__).parent / "data" / "coffee.png"
    if not path.exists():
        pytest.skip("scikit-image ships no coffee.png here")
    img = Image.open(path).convert("RGB")
    # standard ImageNet evaluation: short side 256, central 224 crop
    scale = 256 / min(img.size)
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BICUBIC)
    left, top = (img.width - 224) // 2, (img.height - 224) // 2
    probs = _predict(imagenet_model, np.asarray(img.crop((left, top, left + 224, top + 224))))
    assert int(probs.argmax()) == ESPRESSO
    assert probs[ESPRESSO] > 0.9  # measured 0.95


def _legacy_header() -> bytes:
    return b"".join(pickle.dumps(v, protocol=2) for v in (
        0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}))


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("in_header", [False, True])
def test_malicious_pickle_is_refused(tmp_path, in_header):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"x": _Evil(marker)}, protocol=2)
    path = tmp_path / "evil.pth"
    path.write_bytes(payload if in_header else _legacy_header() + payload)
    with pytest.raises(UnsafePickleError, match="system"):
        load_state_dict(path)
    assert not marker.exists()


def test_weight_mismatch_is_reported(state_dict):
    model = build_lite("lite0", include_top=False, weights=None)
    missing = {k: v for k, v in state_dict.items() if k != "_blocks.3._bn1.running_var"}
    with pytest.raises(ValueError, match="_blocks.3._bn1.running_var"):
        load_lite_weights(model, missing, include_top=False)
    extra = dict(state_dict, **{"_blocks.99._depthwise_conv.weight": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="not used"):
        load_lite_weights(model, extra, include_top=False)
    wrong = dict(state_dict, **{"_conv_head.weight": np.zeros((1280, 320, 3, 3), np.float32)})
    with pytest.raises(ValueError, match="shape"):
        load_lite_weights(model, wrong, include_top=False)


def test_feature_backbone_layout():
    model = build_backbone("lite0", weights=None)
    assert tuple(model.output_shape) == (None, 1280)
    names = [layer.name for layer in model.layers]
    assert names[1] == "rescaling"
    assert names[-1] == "avg_pool"
    assert sum(n.endswith("_bn") for n in names) == 49
    assert len(names) > 100  # "unfreeze the last ~100 layers" leaves the stem frozen
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("resnet")


@pytest.mark.parametrize("name, blocks", [("lite1", 21), ("lite2", 21)])
def test_bigger_lite_variants_load_every_tensor_and_see_the_espresso(name, blocks):
    from train.backbone import LITE

    model = build_lite(name, include_top=True)  # load_lite_weights checks every tensor is used
    side = LITE[name].input_size
    assert tuple(model.input_shape) == (None, side, side, 3)
    assert sum(layer.name.endswith("_dwconv") for layer in model.layers) == blocks
    probs = _predict(model, to_model_input(Image.open(COFFEE_JPG).convert("RGB"), side))
    assert int(probs.argmax()) == ESPRESSO
