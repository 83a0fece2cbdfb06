"""The custom op under a hypothesis fuzzer (in a subprocess, so that a crash is
seen as a crash): every call returns a tensor or an InvalidArgumentError."""

import json
import os
import subprocess
import sys

import pytest

from tf_pe.ops import loader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = 200


@pytest.mark.skipif(loader.load() is None, reason="op library not built (make setup)")
def test_fuzzed_op_calls_return_or_raise_invalid_argument_never_crash():
    done = subprocess.run(
        [sys.executable, "-m", "tests.robustness.op_fuzz_worker", str(EXAMPLES)], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"worker crashed ({done.returncode}):\n{done.stderr[-3000:]}"
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    # The convolution, its two gradient ops, the channel gather and its scatter.
    assert counts["examples"] == 5 * EXAMPLES
    assert counts["errors"] > 0 and counts["results"] > 0
    assert counts["errors"] + counts["results"] == counts["examples"]
