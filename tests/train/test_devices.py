"""Device and strategy selection: CPU, a stand-in Gaudi module, and two real workers."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from train import devices  # noqa: E402
from train.devices import DeviceInfo, global_batch_size, setup_devices  # noqa: E402

WORKER = Path(__file__).with_name("multiworker_worker.py")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("TF_CONFIG", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "AIRKEN_HPUS"):
        # setenv first so teardown also removes what setup_devices itself writes (TF_CONFIG)
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    policy = tf.keras.mixed_precision.global_policy().name
    yield monkeypatch
    tf.keras.mixed_precision.set_global_policy(policy)


def test_cpu_path_uses_default_strategy(clean_env):
    strategy, info = setup_devices(prefer="cpu")
    assert isinstance(info, DeviceInfo)
    assert info.kind == "cpu" and info.strategy_name == "default"
    assert info.count == 1 and info.workers == 1 and info.chief
    assert info.mixed_precision is None
    assert strategy is tf.distribute.get_strategy()
    assert global_batch_size(16, strategy) == 16


def test_a_bad_hpus_setting_falls_back_to_the_mpi_world_size(clean_env):
    from train.devices import _hpu_job

    clean_env.setenv("AIRKEN_HPUS", "all")  # airken.settings logs it once
    assert _hpu_job(None) == (1, 0, True)
    clean_env.setenv("AIRKEN_HPUS", "4")
    with pytest.raises(RuntimeError, match="4 Gaudi cards asked for"):
        _hpu_job(None)


def test_unknown_options_are_refused(clean_env):
    with pytest.raises(ValueError):
        setup_devices(prefer="tpu")
    with pytest.raises(ValueError):
        setup_devices(prefer="cpu", mixed_precision="int4")


def test_explicit_hpu_without_habana_says_what_to_install(clean_env):
    clean_env.setitem(sys.modules, "habana_frameworks", None)
    with pytest.raises(RuntimeError, match="habana"):
        setup_devices(prefer="hpu")


class _FakeHPUStrategy:
    num_replicas_in_sync = 2

    def __init__(self):
        self.tf_config = json.loads(os.environ["TF_CONFIG"])

    def reduce(self, reduce_op, value, axis=None):
        return value


def _install_fake_habana(monkeypatch) -> list[str]:
    calls: list[str] = []
    root = types.ModuleType("habana_frameworks")
    htf = types.ModuleType("habana_frameworks.tensorflow")
    dist = types.ModuleType("habana_frameworks.tensorflow.distribute")
    htf.load_habana_module = lambda: calls.append("load_habana_module")
    dist.HPUStrategy = _FakeHPUStrategy
    root.tensorflow, htf.distribute = htf, dist
    monkeypatch.setitem(sys.modules, "habana_frameworks", root)
    monkeypatch.setitem(sys.modules, "habana_frameworks.tensorflow", htf)
    monkeypatch.setitem(sys.modules, "habana_frameworks.tensorflow.distribute", dist)
    return calls


def test_single_gaudi_card_loads_habana_module(clean_env):
    calls = _install_fake_habana(clean_env)
    strategy, info = setup_devices()
    assert calls == ["load_habana_module"]
    assert info.kind == "hpu" and info.count == 1 and info.workers == 1
    assert info.mixed_precision == "mixed_bfloat16"
    assert tf.keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert strategy is tf.distribute.get_strategy()


def test_gaudi_cards_under_mpirun_use_hpustrategy(clean_env):
    calls = _install_fake_habana(clean_env)
    clean_env.setenv("OMPI_COMM_WORLD_SIZE", "2")
    clean_env.setenv("OMPI_COMM_WORLD_RANK", "1")
    strategy, info = setup_devices(hpus=2, mixed_precision="float32")
    assert calls == ["load_habana_module"]
    assert isinstance(strategy, _FakeHPUStrategy)
    assert info.kind == "hpu" and info.strategy_name == "HPUStrategy"
    assert info.count == 2 and info.workers == 2 and info.task_index == 1 and not info.chief
    assert info.mixed_precision is None
    assert strategy.tf_config["task"] == {"type": "worker", "index": 1}
    assert len(strategy.tf_config["cluster"]["worker"]) == 2


def test_more_gaudi_cards_than_processes_is_an_error(clean_env):
    _install_fake_habana(clean_env)
    with pytest.raises(RuntimeError, match="mpirun -np 4"):
        setup_devices(hpus=4)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def test_two_workers_train_in_lockstep(tmp_path):
    """Two processes under MultiWorkerMirroredStrategy end with the same trained weights."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs, logs = [], []
    for index in range(2):
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2",
                   PYTHONPATH=str(REPO),
                   TF_CONFIG=json.dumps({"cluster": cluster,
                                         "task": {"type": "worker", "index": index}}))
        log = open(tmp_path / f"worker{index}.log", "wb")
        logs.append(log)
        procs.append(subprocess.Popen(
            [sys.executable, str(WORKER), str(tmp_path / f"worker{index}.npz")],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO))
    try:
        codes = [p.wait(timeout=180) for p in procs]
    except subprocess.TimeoutExpired:
        codes = None
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            log.close()

    def worker_logs() -> str:
        return "\n".join(f"--- worker {i} ---\n" + (tmp_path / f"worker{i}.log").read_text(
            errors="replace")[-4000:] for i in range(2))

    if codes != [0, 0]:
        pytest.fail(f"workers exited with {codes}\n{worker_logs()}")

    w0, w1 = (np.load(tmp_path / f"worker{i}.npz") for i in range(2))
    assert str(w0["strategy"]) == "MultiWorkerMirroredStrategy", worker_logs()
    assert int(w0["workers"]) == 2 and int(w0["replicas"]) == 2
    assert bool(w0["chief"]) and not bool(w1["chief"])
    finals = sorted(k for k in w0.files if k.startswith("final_"))
    assert finals
    for key in finals:
        np.testing.assert_allclose(w0[key], w1[key], rtol=1e-6, atol=1e-7)
    moved = max(float(np.abs(w0[k] - w0[k.replace("final_", "init_")]).max()) for k in finals)
    assert moved > 1e-4, "training did not change the weights"


def test_tf_config_with_one_worker_is_not_multiworker(clean_env):
    clean_env.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1"]},
                                              "task": {"type": "worker", "index": 0}}))
    assert devices._tf_config_workers() == 1
    _, info = setup_devices(prefer="cpu")
    assert info.strategy_name != "MultiWorkerMirroredStrategy"
