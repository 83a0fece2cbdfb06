"""tf_pe layers and callbacks under `MultiWorkerMirroredStrategy`: two worker
processes on 127.0.0.1 (`worker_run.py`) train the same cases and record their
state after every step; both records must be identical."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from tests.distribute import cases
from tests.distribute.test_mirrored import CASE_OF, ROOT, TARGETS


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def wait_all(procs, timeout):
    """Waits for every process; when one fails, the others (blocked in a
    collective with it) are killed. Returns the exit codes."""
    deadline = time.monotonic() + timeout
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        if any(p.poll() not in (None, 0) for p in procs):
            break
        time.sleep(0.2)
    for p in procs:
        if p.poll() is None:
            p.kill()
    return [p.wait() for p in procs]


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    out = tmp_path_factory.mktemp("multi_worker")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    procs, logs = [], [out / f"worker-{index}.log" for index in range(2)]
    for index, log in enumerate(logs):
        env = {**os.environ, "TF_CONFIG": json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}})}
        with open(log, "w") as f:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "tests.distribute.worker_run", str(out)], cwd=ROOT,
                env=env, stdout=f, stderr=subprocess.STDOUT))
    codes = wait_all(procs, timeout=600)
    for code, log in zip(codes, logs, strict=True):
        assert code == 0, log.read_text()[-4000:]
    return [json.loads((out / f"worker-{i}.json").read_text()) for i in range(2)]


def test_two_workers_one_chief(workers):
    assert [w["replicas"] for w in workers] == [2, 2]
    assert [w["chief"] for w in workers] == [True, False]
    assert [w["worker_dir"] for w in workers] == ["out", os.path.join("out", "worker-1")]


@pytest.mark.parametrize("case", list(cases.CASES))
def test_workers_hold_identical_state_after_every_step(workers, case):
    first, second = (w["cases"][case] for w in workers)
    assert len(first["steps"]) == cases.STEPS
    for step, (a, b) in enumerate(zip(first["steps"], second["steps"], strict=True)):
        assert a == b, f"workers differ after step {step + 1}"
    assert first["loss"] == second["loss"]


@pytest.mark.parametrize("callback", list(TARGETS))
def test_callback_moves_masks_on_both_workers(workers, callback):
    steps = workers[0]["cases"][CASE_OF[callback]]["steps"]
    for layer in TARGETS[callback]:
        masks = [step[layer]["mask"] for step in steps]
        assert any(m != masks[0] for m in masks[1:]), f"{layer}: no mask update"
