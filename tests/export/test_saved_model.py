"""`tf_pe.export.to_saved_model`: round trips, stripped or with the custom op kept."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import TF_PE_TYPES
from tf_pe import ops
from tf_pe.export import saved_model, to_saved_model

ATOL = 1e-5  # float32, same graph up to kernel reordering


@pytest.mark.parametrize("name", list(TF_PE_TYPES))
def test_round_trip_matches_keras(trained, fashion, tmp_path, name):
    model = trained[name]
    _, x, _ = fashion
    report = to_saved_model(model, str(tmp_path / "sm"))
    assert report.stripped and report.custom_ops == ()
    assert report.size_bytes == saved_model.directory_size(str(tmp_path / "sm")) > 0
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    np.testing.assert_allclose(loaded.serve(x[:200]).numpy(),
                               model.predict(x[:200], verbose=0), atol=ATOL, rtol=0)


_LOADER = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    path, x_path = sys.argv[1], sys.argv[2]
    try:
        tf.saved_model.load(path)
        print("loaded without tf_pe")
    except Exception as e:  # the op is not registered: any load error will do
        print("without tf_pe:", type(e).__name__, str(e).splitlines()[0][:200])
    import tf_pe  # noqa: F401  (registers TfPe>SparseChannelConv2D)
    loaded = tf.saved_model.load(path)  # keep it alive while `serve` runs
    out = loaded.serve(np.load(x_path)).numpy()
    np.save(x_path.replace("x.npy", "out.npy"), out)
""")


def test_keep_custom_op_loads_after_import_tf_pe(trained, fashion, tmp_path):
    if ops.loader.load() is None:
        pytest.skip("the custom op library is not built (make op)")
    model = trained["mixed"]
    _, x, _ = fashion
    ops.dispatch.set_mode("op")
    try:
        report = to_saved_model(model, str(tmp_path / "sm"), keep_custom_op=True)
        expected = model.predict(x[:64], verbose=0)
    finally:
        ops.dispatch.set_mode(None)
    # compact_from_mask gathers the kernel with TfPe>GatherChannels.
    assert not report.stripped and report.custom_ops == ("TfPe>GatherChannels",
                                                         "TfPe>SparseChannelConv2D")
    assert json.loads(json.dumps(report.to_dict()))["custom_ops"] == list(report.custom_ops)
    np.save(tmp_path / "x.npy", x[:64])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", _LOADER, str(tmp_path / "sm"),
                             str(tmp_path / "x.npy")], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "without tf_pe: " in result.stdout and "Op type not registered 'TfPe>" in result.stdout
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=ATOL, rtol=0)


def test_keep_custom_op_must_be_a_bool(trained, tmp_path):
    with pytest.raises(ValueError, match="`keep_custom_op`"):
        to_saved_model(trained["lre"], str(tmp_path / "sm"), keep_custom_op="yes")
