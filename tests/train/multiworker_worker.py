"""One worker of the two-process MultiWorkerMirroredStrategy test (tests/train/test_devices.py).

Run with TF_CONFIG set: picks its strategy through train.devices.setup_devices, trains a tiny
Keras model for a few steps on seeded synthetic images and saves the initial and final weights
to the .npz named on the command line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from datasets import tiny_model  # noqa: E402

from train.devices import global_batch_size, setup_devices  # noqa: E402

SIZE = 64
STEPS = 4


def synthetic_data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class is their brightness band, the same on every worker."""
    rng = np.random.default_rng(1234)
    y = rng.integers(0, 3, n)
    base = (y * 90 + 20)[:, None, None, None]
    x = np.clip(base + rng.normal(0, 25, (n, SIZE, SIZE, 3)), 0, 255).astype(np.float32)
    return x, y.astype(np.int32)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    args = parser.parse_args()

    t0 = time.time()
    strategy, info = setup_devices(prefer="cpu")
    print(f"strategy ready after {time.time() - t0:.1f} s", flush=True)
    print(json.dumps(info.__dict__), flush=True)
    tf.keras.utils.set_random_seed(7)

    x, y = synthetic_data()
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = (tf.data.Dataset.from_tensor_slices((x, y))
          .repeat()
          .batch(global_batch_size(8, strategy))
          .with_options(options))

    with strategy.scope():
        model = tiny_model(SIZE)
        model.compile(optimizer=tf.keras.optimizers.SGD(0.05),
                      loss="sparse_categorical_crossentropy")
    initial = model.get_weights()
    model.fit(ds, epochs=1, steps_per_epoch=STEPS, verbose=0)
    final = model.get_weights()

    arrays = {f"init_{i}": w for i, w in enumerate(initial)}
    arrays.update({f"final_{i}": w for i, w in enumerate(final)})
    np.savez(args.out, strategy=info.strategy_name, workers=info.workers,
             replicas=info.count, chief=info.chief, **arrays)
    print(f"saved {args.out} after {time.time() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
