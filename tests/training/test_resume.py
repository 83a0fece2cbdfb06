"""Crash-safe resume: training processes killed with SIGKILL mid-run and started
again end with exactly the variables (masks, thresholds, densification steps,
kernels, optimizer state) of uninterrupted runs with the same seed."""

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training import resume_worker
from tf_pe.sparsity import find_sparse_layers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT_S = 240
COMMON = {"job": "train", "epochs": 3, "take": 256, "eval_take": 64, "batch_size": 64,
          "seed": 3, "reparam_period": 2}
# One process start costs about as much as a run, so the kills cover one job per
# kind of resumable state: mask-update callbacks (dsr; set and gmp share its
# base class), densification (channel) and a hand-made tf.train.Checkpoint loop.
TRAIN_JOBS = {
    "dsr": {"model": "lenet_300_100", "method": "dsr", "density": 0.1, "prune_fraction": 0.05},
    "channel": {"model": "lenet5", "method": "channel", "density": 0.5, "densify_every": 2,
                "initial_density": 0.125},
}


def _jobs(root, data_dir):
    jobs = []
    for name, extra in TRAIN_JOBS.items():
        spec = {**COMMON, **extra, "data_dir": data_dir, "out": str(root / name)}
        if extra["method"] == "channel":
            del spec["reparam_period"]
        jobs.append(spec)
    jobs.append({"job": "checkpoint", "epochs": 3, "out": str(root / "checkpoint")})
    return jobs


def _saved_epochs(spec):
    """Epochs the job's latest backup or checkpoint says are done (0 if none)."""
    if spec["job"] == "checkpoint":
        latest = tf.train.latest_checkpoint(spec["out"])
        return 0 if latest is None else int(latest.rsplit("-", 1)[1])
    try:
        with open(os.path.join(spec["out"], "backup", "training_metadata.json")) as f:
            return json.load(f)["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def _finished(spec):
    if spec["job"] == "checkpoint":
        return os.path.exists(os.path.join(spec["out"], resume_worker.FINAL_NAME))
    try:
        with open(os.path.join(spec["out"], "run.json")) as f:
            return json.load(f)["status"] == "done"
    except (OSError, ValueError):
        return False


def _start(jobs):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.training.resume_worker", json.dumps(jobs)], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)


def _kill_after_first_save(process, spec, deadline):
    while _saved_epochs(spec) < 1:
        if process.poll() is not None:
            pytest.fail(f"worker exited ({process.returncode}) before {spec['out']} saved an "
                        f"epoch:\n{process.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no save in {spec['out']} within {TIMEOUT_S} s")
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not _finished(spec), f"{spec['out']} finished before the kill: make its run longer"


def _h5_arrays(file):
    arrays = {}
    with h5py.File(file, "r") as f:
        f.visititems(lambda path, item: arrays.__setitem__(path, item[()])
                     if isinstance(item, h5py.Dataset) else None)
    return arrays


def _saved_state(spec):
    """`(model, {name: array})`: the final model and every saved variable (model
    and optimizer; for the checkpoint job, those of its last checkpoint)."""
    if spec["job"] == "checkpoint":
        model = resume_worker.checkpoint_model()
        model.load_weights(os.path.join(spec["out"], resume_worker.FINAL_NAME))
        reader = tf.train.load_checkpoint(spec["out"])
        # The object graph (names, not values) is no variable.
        return model, {name: reader.get_tensor(name)
                       for name in reader.get_variable_to_shape_map()
                       if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}
    path = os.path.join(spec["out"], "model.keras")
    with zipfile.ZipFile(path) as archive:
        arrays = _h5_arrays(io.BytesIO(archive.read("model.weights.h5")))
    return keras.saving.load_model(path, compile=False), arrays


def test_sigkilled_runs_resume_to_the_uninterrupted_result(tmp_path, fashion_data_dir):
    killed = _jobs(tmp_path / "killed", fashion_data_dir)
    reference = _jobs(tmp_path / "reference", fashion_data_dir)
    deadline = time.monotonic() + TIMEOUT_S
    # One process per kill: the restarted command resumes the killed job, runs the
    # next one, and is killed in it after its first epoch is saved.
    for spec in killed:
        _kill_after_first_save(_start(killed), spec, deadline)
    last = _start(killed)
    assert last.wait(timeout=TIMEOUT_S) == 0, last.stderr.read()[-3000:]

    resume_worker.main(reference)
    for got_spec, want_spec in zip(killed, reference, strict=True):
        got_model, got = _saved_state(got_spec)
        want_model, want = _saved_state(want_spec)
        assert find_sparse_layers(got_model)
        for got_layer, want_layer in zip(find_sparse_layers(got_model),
                                         find_sparse_layers(want_model), strict=True):
            np.testing.assert_array_equal(got_layer.mask.numpy(), want_layer.mask.numpy())
        assert got.keys() == want.keys() and any("optimizer" in k for k in got)
        different = [name for name in want if not np.array_equal(got[name], want[name])]
        assert not different, f"{got_spec['out']}: differs in {different}"
        assert _finished(got_spec)
        assert not os.path.exists(os.path.join(got_spec["out"], "backup"))
