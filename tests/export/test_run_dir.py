"""`tf-pe export RUN_DIR` (`tf_pe.export.export_run`): files next to the run, the
printed size and accuracy, and user errors (exit status 2)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tf_pe import cli


@pytest.fixture(scope="module")
def run(trained, fashion_data_dir, tmp_path_factory):
    """A run directory as `tf-pe train` leaves it (model.keras, run.json)."""
    path = tmp_path_factory.mktemp("run")
    trained["channel"].save(path / "model.keras")
    config = {"model": "lenet5", "dataset": "fashion_mnist", "data_dir": fashion_data_dir}
    (path / "run.json").write_text(json.dumps({"status": "done", "config": config}))
    return path


@pytest.mark.filterwarnings("ignore:.*ai_edge_litert:UserWarning")  # tf.lite on purpose
def test_tflite_next_to_the_run(run, fashion, capsys):
    assert cli.main(["tf-pe", "export", str(run), "--eval-take=1000"]) == 0
    printed = capsys.readouterr().out
    size = (run / "model.tflite").stat().st_size
    assert f"{run / 'model.tflite'}: {size:,} bytes" in printed
    _, x, y = fashion  # the same first 1,000 test images, run by tf.lite's interpreter
    interp = tf.lite.Interpreter(model_path=str(run / "model.tflite"))
    interp.resize_tensor_input(interp.get_input_details()[0]["index"], list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    accuracy = np.mean(np.argmax(interp.get_tensor(interp.get_output_details()[0]["index"]),
                                 -1) == y)
    assert f"TFLite test accuracy {accuracy:.2%} on 1,000 fashion_mnist" in printed


def test_saved_model_with_out(run, tmp_path, capsys):
    out = tmp_path / "served"
    assert cli.main(["tf-pe", "export", str(run), "--format=saved_model", f"--out={out}",
                     "--eval-take=300"]) == 0
    assert (out / "saved_model.pb").is_file()
    assert f"Wrote {out}: " in capsys.readouterr().out
    assert not (run / "saved_model").exists()  # --out given: nothing next to the run


@pytest.mark.parametrize("args, message", [
    (["--quantize=int4"], "quantize"),
    (["--format=onnx"], "format"),
    (["--format=saved_model", "--quantize=dynamic"], "`quantize` applies to format 'tflite'"),
    (["--keep-custom-op"], "`keep_custom_op` applies to format 'saved_model'"),
])
def test_user_errors_exit_2(run, capsys, args, message):
    assert cli.main(["tf-pe", "export", str(run), *args]) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err


def test_not_a_run_directory(tmp_path, capsys):
    assert cli.main(["tf-pe", "export", str(tmp_path)]) == cli.EXIT_USAGE
    assert "no model.keras" in capsys.readouterr().err
    assert cli.main(["tf-pe", "export"]) == cli.EXIT_USAGE
