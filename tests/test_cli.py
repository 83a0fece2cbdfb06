"""The `tf-pe` command line, end to end on a small subset of Fashion-MNIST."""

import json
import os
import subprocess
import sys

import pytest

from tf_pe import cli

SMALL = ["--epochs=1", "--take=512", "--eval-take=256", "--batch-size=64", "--verbose=0"]


def tf_pe(*args):
    return cli.main(["tf-pe", *args])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, fashion_data_dir):
    out = tmp_path_factory.mktemp("runs") / "lenet5"
    status = tf_pe("train", *SMALL, f"--data-dir={fashion_data_dir}", f"--out={out}")
    return status, out


def test_train_writes_model_history_and_record(trained_run, capsys):
    status, out = trained_run
    assert status == 0
    assert {"model.keras", "run.json", "history.csv"} <= set(os.listdir(out))
    assert not os.path.exists(out / "backup")  # removed after a finished run
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "done"
    assert record["config"]["model"] == "lenet5" and record["config"]["take"] == 512
    assert 0.0 <= record["metrics"]["test_accuracy"] <= 1.0
    assert len(record["metrics"]["history"]["val_accuracy"]) == 1
    assert record["summary"]["total"]["params"] == 61_706
    assert record["versions"]["tensorflow"].startswith("2.21")
    assert len(record["timings"]["epoch_s"]) == 1


def test_summary_command_prints_the_table(trained_run, capsys):
    _, out = trained_run
    assert tf_pe("summary", str(out)) == 0
    printed = capsys.readouterr().out
    assert "conv1" in printed and "61,706" in printed
    assert tf_pe("summary", str(out / "model.keras")) == 0


def test_compress_writes_a_smaller_model_and_report(trained_run, tmp_path, capsys):
    _, out = trained_run
    assert tf_pe("compress", str(out), "--epsilon=1", "--gamma=0.1", "--take=512",
                 "--val-take=256", "--max-epochs=1", f"--out={tmp_path}") == 0
    report = json.loads((tmp_path / "compress.json").read_text())
    assert report["settings"]["epsilon"] == 1.0 and report["settings"]["order"] == "top_down"
    import keras

    small = keras.saving.load_model(tmp_path / "compressed.keras")
    assert small.count_params() == report["after"]["params"] < 61_706
    assert "[lre-amc] done" in capsys.readouterr().out


def test_compress_rejects_bad_epsilon_before_work(trained_run, tmp_path, capsys):
    _, out = trained_run
    assert tf_pe("compress", str(out), "--epsilon=1.5", f"--out={tmp_path}") == 2
    assert "`epsilon` must be in [0, 1]" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--model=alexnet"], "`model` must be one of"),
        (["train", "--dataset=svhn"], "`dataset` must be one of"),
        (["train", "--method=magic"], "`method` must be one of"),
        (["train", "--density=0"], "`density` must be in (0, 1]"),
        (["train", "--density=1.5"], "`density` must be in (0, 1]"),
        (["train", "--density=0.5"], "has no effect with method 'dense'"),
        (["train", "--epochs=0"], "`epochs`"),
        (["train", "--epochs=two"], "epochs"),
        (["train", "--no-such-flag"], "no-such-flag"),
        (["train", "extra"], "unexpected arguments"),
        (["fly"], "unknown command 'fly'; choose one of train, benchmark, summary, compress"),
        (["compress"], "usage: tf-pe compress RUN_DIR"),
        (["compress", "/nonexistent/run"], "no model.keras in '/nonexistent/run'"),
        (["summary"], "usage: tf-pe summary PATH"),
        (["summary", "/nonexistent/run"], "no saved model"),
    ],
)
def test_bad_input_exits_2_with_a_message(args, message, capsys):
    assert tf_pe(*args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_unwritable_out_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert tf_pe("train", f"--out={blocker}/run") == 2
    assert "`out` directory" in capsys.readouterr().err


def test_missing_dataset_is_a_clear_error(tmp_path, capsys):
    status = tf_pe("train", "--dataset=cifar10", f"--data-dir={tmp_path}",
                   f"--out={tmp_path / 'run'}", *SMALL)
    assert status == 2
    assert "tfds build cifar10" in capsys.readouterr().err
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "failed"


def test_help_and_no_command(capsys):
    assert tf_pe("--help") == 0
    assert "train" in capsys.readouterr().out
    assert cli.main(["tf-pe"]) == 2
    with pytest.raises(SystemExit) as exit_info:
        tf_pe("train", "--help")
    assert exit_info.value.code == 0
    assert "--density" in capsys.readouterr().out


def test_console_script_exit_status():
    script = os.path.join(os.path.dirname(sys.executable), "tf-pe")
    result = subprocess.run([script, "train", "--model=nope"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 2
    assert "`model` must be one of" in result.stderr
    assert "Traceback" not in result.stderr
