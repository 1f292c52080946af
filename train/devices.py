"""Pick the training device and the tf.distribute strategy that drives it.

First match wins:

1. Habana Gaudi, when ``habana_frameworks.tensorflow`` imports (package ``habana-tensorflow``).
   ``load_habana_module()`` registers the HPU device. One process drives one card: Habana's
   ``HPUStrategy`` "has the same usage model as MultiWorkerMirroredStrategy, in which each
   worker runs in a separate process, with a single Gaudi device acquired" (Habana docs,
   TensorFlow Scaling Guide, "TensorFlow Distributed based Scaling of Gaudi"). So 8 cards on
   one DL1 host are 8 processes, started for example with

       mpirun -np 8 --allow-run-as-root python -m train.train ...

   Each process reads its rank from Open MPI's ``OMPI_COMM_WORLD_RANK``/``_SIZE``; without a
   TF_CONFIG we build one on localhost, as Habana's ``distribute_with_hpu_strategy`` example
   does. Gaudi computes natively in bf16, so the Keras policy defaults to ``mixed_bfloat16``.
2. TF_CONFIG naming several workers: ``tf.distribute.MultiWorkerMirroredStrategy``.
3. Local GPUs: ``tf.distribute.MirroredStrategy`` (``mixed_float16`` only when asked for).
4. Otherwise the default strategy on the CPU.

Call ``setup_devices`` once, at the start of the program, before any other TensorFlow op:
the multi-worker strategies must be created before the runtime starts. Under a mixed policy,
give the model's last layer ``dtype="float32"`` so the softmax is computed in float32.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from airken import settings

log = logging.getLogger(__name__)

_PRECISION_ALIASES = {
    "bf16": "mixed_bfloat16",
    "bfloat16": "mixed_bfloat16",
    "mixed_bfloat16": "mixed_bfloat16",
    "fp16": "mixed_float16",
    "float16": "mixed_float16",
    "mixed_float16": "mixed_float16",
    "fp32": None,
    "float32": None,
    "none": None,
    "off": None,
}


@dataclass
class DeviceInfo:
    kind: str  # "hpu" | "gpu" | "cpu"
    count: int  # replicas kept in sync across the whole job
    strategy_name: str  # "default", "MirroredStrategy", "MultiWorkerMirroredStrategy", "HPUStrategy"
    mixed_precision: str | None  # Keras global policy set here, or None for float32
    workers: int  # processes in the job (one per Gaudi card on HPU)
    task_index: int = 0
    chief: bool = True  # only the chief should write checkpoints, exports and reports


def setup_devices(
    prefer: str = "auto",
    mixed_precision: str | None = None,
    hpus: int | None = None,
) -> tuple[tf.distribute.Strategy, DeviceInfo]:
    """Choose the strategy for this process (see the module docstring for the order).

    prefer: "auto", "hpu", "gpu" or "cpu"; asking for a device that is missing raises
    RuntimeError. mixed_precision: None for the device's default (bf16 on Gaudi, float32
    elsewhere), or "mixed_bfloat16"/"bf16", "mixed_float16"/"fp16", "float32".
    hpus: Gaudi cards wanted (default: env AIRKEN_HPUS, else the MPI world size).
    """
    prefer = prefer.lower()
    if prefer not in ("auto", "hpu", "gpu", "cpu"):
        raise ValueError(f"prefer must be auto, hpu, gpu or cpu, not {prefer!r}")
    policy = _policy_name(mixed_precision)

    if prefer in ("auto", "hpu"):
        htf = _import_habana(required=prefer == "hpu")
        if htf is not None:
            return _setup_hpu(hpus, policy)
    if prefer == "cpu":
        _hide_gpus()
    if _tf_config_workers() > 1:
        return _setup_multiworker(policy)
    gpus = tf.config.list_physical_devices("GPU")
    if prefer == "gpu" and not gpus:
        raise RuntimeError("prefer='gpu' but TensorFlow sees no GPU (check CUDA_VISIBLE_DEVICES)")
    if gpus:
        return _setup_gpus(len(gpus), policy)
    strategy = tf.distribute.get_strategy()
    info = DeviceInfo("cpu", 1, "default", _apply_policy(policy), 1)
    log.info("Training on the CPU (%s)", info.strategy_name)
    return strategy, info


def global_batch_size(per_replica: int, strategy: tf.distribute.Strategy | None = None) -> int:
    """Batch size to give tf.data: per-replica batch times the replicas kept in sync."""
    strategy = strategy or tf.distribute.get_strategy()
    return int(per_replica) * int(strategy.num_replicas_in_sync)


# --- Gaudi ---------------------------------------------------------------------------------

def _import_habana(required: bool) -> Any | None:
    try:
        import habana_frameworks.tensorflow as htf
    except ModuleNotFoundError:
        if required:
            raise RuntimeError(
                "prefer='hpu' but habana_frameworks.tensorflow is not installed "
                "(see train/requirements-gaudi.txt)"
            ) from None
        return None
    except ImportError as exc:  # installed, but e.g. built for another TensorFlow version
        if required:
            raise
        log.warning("habana_frameworks.tensorflow failed to import (%s); not using Gaudi", exc)
        return None
    return htf


def _setup_hpu(hpus: int | None, policy: str | None) -> tuple[tf.distribute.Strategy, DeviceInfo]:
    from habana_frameworks.tensorflow import load_habana_module

    load_habana_module()
    policy = policy if policy is not _DEFAULT else "mixed_bfloat16"
    workers, index, chief = _hpu_job(hpus)
    if workers > 1:
        from habana_frameworks.tensorflow.distribute import HPUStrategy

        strategy = _reduce_nests_per_leaf(HPUStrategy())
        count, name = int(strategy.num_replicas_in_sync), "HPUStrategy"
    else:
        strategy = tf.distribute.get_strategy()
        count, name = 1, "default"
    info = DeviceInfo("hpu", count, name, _apply_policy(policy), workers,
                      index, chief)
    log.info("Training on %d Gaudi card(s), worker %d of %d, %s, policy %s",
             count, index, workers, info.strategy_name, info.mixed_precision or "float32")
    return strategy, info


def _hpu_job(hpus: int | None) -> tuple[int, int, bool]:
    """(workers, this worker's index, is chief) for one-process-per-card Gaudi training."""
    wanted = hpus if hpus is not None else settings.current().hpus or 0
    if _tf_config_workers() > 1:
        workers, index, chief = _tf_config_task()
    else:
        workers = int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1"))
        index = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
        chief = index == 0
        if workers > 1:
            os.environ["TF_CONFIG"] = _local_tf_config(workers, index)
    if wanted > 1 and wanted != workers:
        raise RuntimeError(
            f"{wanted} Gaudi cards asked for, but this job has {workers} process(es). Each card "
            f"needs its own process: mpirun -np {wanted} --allow-run-as-root python -m train.train ..."
        )
    return workers, index, chief


def _local_tf_config(workers: int, index: int) -> str:
    port = settings.current().hpu_base_port
    cluster = {"worker": [f"localhost:{port + i}" for i in range(workers)]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


# --- TF_CONFIG, GPUs -----------------------------------------------------------------------

def _read_tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return {}
    try:
        cfg = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"TF_CONFIG is not valid JSON: {exc}") from None
    return cfg if isinstance(cfg, dict) else {}


def _tf_config_workers() -> int:
    cluster = _read_tf_config().get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _tf_config_task() -> tuple[int, int, bool]:
    cfg = _read_tf_config()
    cluster, task = cfg.get("cluster", {}), cfg.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    chief = kind == "chief" or (kind == "worker" and index == 0 and not cluster.get("chief"))
    return _tf_config_workers(), index, chief


def _setup_multiworker(policy: str | None) -> tuple[tf.distribute.Strategy, DeviceInfo]:
    strategy = _reduce_nests_per_leaf(tf.distribute.MultiWorkerMirroredStrategy())
    workers, index, chief = _tf_config_task()
    kind = "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
    policy = None if policy is _DEFAULT else policy
    info = DeviceInfo(kind, int(strategy.num_replicas_in_sync), "MultiWorkerMirroredStrategy",
                      _apply_policy(policy), workers, index, chief)
    log.info("Multi-worker training: worker %d of %d on %s, %d replicas in sync",
             index, workers, kind, info.count)
    return strategy, info


def _reduce_nests_per_leaf(strategy: tf.distribute.Strategy) -> tf.distribute.Strategy:
    """Let Keras 3's fit() run under the collective (multi-worker) strategies.

    Keras 3 trips over ``strategy.reduce`` of the collective strategies twice
    (keras-team/keras#20585, tensorflow/tensorflow#72388): before the first step it reduces a
    whole (x, y) batch at once, which MirroredStrategy maps over and the collective strategies
    do not ("Attempt to convert a value (PerReplica...)"); after each step it reduces the
    scalar loss with axis=0. Reducing leaf by leaf, and across replicas only where a value has
    no axis 0, gives what Keras means in both places and changes nothing for other callers.
    """
    reduce = strategy.reduce

    def reduce_leaf(reduce_op, value, axis):
        if axis is not None and _rank(value) == 0:
            axis = None
        return reduce(reduce_op, value, axis=axis)

    def reduce_each(reduce_op, value, axis=None):
        return tf.nest.map_structure(lambda v: reduce_leaf(reduce_op, v, axis), value)

    strategy.reduce = reduce_each
    return strategy


def _rank(value: Any) -> int | None:
    if isinstance(value, tf.distribute.DistributedValues):
        value = value.values[0]
    return getattr(getattr(value, "shape", None), "rank", None)


def _setup_gpus(n: int, policy: str | None) -> tuple[tf.distribute.Strategy, DeviceInfo]:
    for gpu in tf.config.list_physical_devices("GPU"):
        try:  # share the card politely; only possible before the runtime starts
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass
    strategy = tf.distribute.MirroredStrategy()
    policy = None if policy is _DEFAULT else policy
    info = DeviceInfo("gpu", int(strategy.num_replicas_in_sync), "MirroredStrategy",
                      _apply_policy(policy), 1)
    log.info("Training on %d GPU(s) with %s, policy %s", n, info.strategy_name,
             info.mixed_precision or "float32")
    return strategy, info


def _hide_gpus() -> None:
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # runtime already started: too late, and harmless on CPU-only hosts
        log.debug("could not hide GPUs: TensorFlow runtime already initialised")


# --- mixed precision -----------------------------------------------------------------------

_DEFAULT: Any = object()  # "use the device's default policy"


def _policy_name(mixed_precision: str | None) -> Any:
    if mixed_precision is None:
        return _DEFAULT
    key = mixed_precision.strip().lower()
    if key not in _PRECISION_ALIASES:
        raise ValueError(
            f"unknown mixed precision {mixed_precision!r}; use mixed_bfloat16, mixed_float16 "
            "or float32"
        )
    return _PRECISION_ALIASES[key]


def _apply_policy(policy: Any) -> str | None:
    """Set the Keras global policy; _DEFAULT leaves it alone, None means plain float32."""
    if policy is _DEFAULT:
        return None
    tf.keras.mixed_precision.set_global_policy(policy or "float32")
    return policy
