"""Training method "predict": which layers are predicted, config checks, CLI run."""

import json

import keras
import pytest

from tf_pe import cli, prediction
from tf_pe.layers import PredictedConv2D, PredictedDense
from tf_pe.training import TrainConfig, get_method


def test_mlp_predicts_hidden_layers_with_per_layer_dictionaries(fashion_data_dir):
    config = TrainConfig(model="mlp", method="predict", learned_fraction=0.1,
                         dictionary="se-emp", columns=10, seed=3, take=300,
                         data_dir=fashion_data_dir)
    model, callbacks = get_method("predict").build(config, (28, 28, 1), 10)
    fc1, fc2 = model.get_layer("fc1"), model.get_layer("fc2")
    assert callbacks == [] and type(model.get_layer("logits")) is keras.layers.Dense
    assert isinstance(fc1, PredictedDense) and isinstance(fc2, PredictedDense)
    assert fc1.dictionary.name == "se" and fc1.dictionary.grid == (28, 28, 1)
    assert fc2.dictionary.name == "emp" and fc2.dictionary.fitted  # fitted on fc1's outputs
    assert fc2.dictionary.covariance.shape == (500, 500)
    assert (fc1.columns, fc1.n_alpha, fc2.n_alpha) == (10, 78, 50)
    assert fc1.seed != fc2.seed


def test_convnet_predicts_convolutions_with_one_column():
    config = TrainConfig(model="lenet5", method="predict", learned_fraction=0.5,
                         dictionary="se", columns=4)
    model, _ = get_method("predict").build(config, (28, 28, 1), 10)
    conv1 = model.get_layer("conv1")
    assert isinstance(conv1, PredictedConv2D) and conv1.columns == 1
    assert conv1.n_alpha == round(0.5 * 25)
    assert model.get_layer("fc1").columns == 4 and model.get_layer("fc1").dictionary.grid is None


@pytest.mark.parametrize("field,value,match", [
    ("learned_fraction", 0.0, "`learned_fraction`"),
    ("learned_fraction", 1.5, "`learned_fraction`"),
    ("dictionary", "se-gabor", "`dictionary` must be one of"),
    ("columns", 0, "`columns`"),
])
def test_config_validation(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(method="predict", **{field: value})


def test_prediction_flags_are_refused_by_other_methods(tmp_path):
    status = cli.main(["tf-pe", "train", "--method=dense", "--learned-fraction=0.5",
                       f"--out={tmp_path}"])
    assert status != 0


def test_cli_train_predict_end_to_end(tmp_path, fashion_data_dir):
    out = tmp_path / "run"
    status = cli.main(["tf-pe", "train", "--model=mlp", "--method=predict",
                       "--learned-fraction=0.25", "--dictionary=se-emp2", "--columns=2",
                       "--epochs=1", "--take=256", "--eval-take=128", "--batch-size=64",
                       f"--data-dir={fashion_data_dir}", f"--out={out}", "--verbose=0"])
    assert status == 0
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "done"
    fc1 = next(r for r in record["summary"]["layers"] if r["name"] == "fc1")
    assert fc1["dynamic"] == 196 * 500 + 500 and fc1["static"] == 2 * 784 * 196
    loaded = keras.models.load_model(out / "model.keras")
    assert isinstance(loaded.get_layer("fc2").dictionary, prediction.Emp2)
    assert 0 < record["metrics"]["test_accuracy"] <= 1
