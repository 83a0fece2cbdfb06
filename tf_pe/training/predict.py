"""Training method "predict": kernel-ridge weight prediction (Denil et al. 2013).

"Predicting Parameters in Deep Learning" (NeurIPS 2013) learns a fraction of
each feature's weights and predicts the rest, `W = U W_alpha`. This method
builds the zoo model with `PredictedDense` / `PredictedConv2D` layers.

Which layers are predicted: every Dense and Conv2D layer of the zoo model
except the classifier (`logits`), as in the paper ("the final softmax layer is
never predicted", sec. 4.1 and 4.2). Per layer, in the order the model creates
them:

* the dictionary is the i-th name of `--dictionary` (names joined by `-`, the
  last one repeating), so `--dictionary=se-emp` on the MLP is the paper's
  "SE-Emp": SE in `fc1`, Emp in `fc2`;
* an SE dictionary in a first Dense layer sees the input image's pixel grid
  (the flattened `(h, w, c)` input); convolutions use their filter's grid;
* `--columns` applies to Dense layers (the paper uses 10 in the MLP);
  convolutions have one column (sec. 4.2);
* data-driven dictionaries (emp, emp2, ae) are fitted, bottom-up, on each
  layer's inputs over the first 5,000 training examples, with the layers
  below at their initial coefficients (the paper pre-trains each layer as an
  autoencoder first; see `tf_pe.prediction.fit_predicted_layers`).

    tf-pe train --model=mlp --method=predict --learned-fraction=0.25 \\
        --dictionary=se-emp --columns=10
"""

from __future__ import annotations

import keras

from tf_pe import data, models, prediction
from tf_pe.layers.predicted import PredictedConv2D, PredictedDense, PredictedLayer
from tf_pe.training.config import TrainConfig
from tf_pe.training.methods import Method, register_method

DEFAULT_FRACTION = 0.25
DEFAULT_DICTIONARY = "se"
FIT_EXAMPLES = 5_000
CLASSIFIER = "logits"


def dictionary_names(config: TrainConfig) -> list[str]:
    """The per-layer dictionary names of `config.dictionary`."""
    return (config.dictionary or DEFAULT_DICTIONARY).split("-")


def layer_factories(config: TrainConfig, input_shape: tuple):
    """Returns `(conv_layer, dense_layer)` factories for a zoo builder that
    create predicted layers (all but the classifier), and the list they fill
    with the names of the predicted layers."""
    fraction = config.learned_fraction or DEFAULT_FRACTION
    names = dictionary_names(config)
    predicted: list[str] = []

    def dictionary_for(kind: str):
        i = len(predicted)
        name = names[min(i, len(names) - 1)]
        if name == "se" and kind == "dense" and i == 0 and len(input_shape) in (2, 3):
            return prediction.SE(grid=input_shape)
        return prediction.get(name)

    def dense_layer(units, name, **kwargs):
        if name == CLASSIFIER:
            return keras.layers.Dense(units, name=name, **kwargs)
        layer = PredictedDense(units, fraction, dictionary_for("dense"),
                               columns=min(config.columns or 1, units),
                               seed=config.seed + len(predicted), name=name, **kwargs)
        predicted.append(name)
        return layer

    def conv_layer(filters, kernel_size, name, **kwargs):
        layer = PredictedConv2D(filters, kernel_size, fraction, dictionary_for("conv"),
                                seed=config.seed + len(predicted), name=name, **kwargs)
        predicted.append(name)
        return layer

    return conv_layer, dense_layer, predicted


def build_predict(config: TrainConfig, input_shape: tuple, num_classes: int):
    """Builds the zoo model with predicted layers and fits its data-driven
    dictionaries.

    Args:
        config: the run's configuration (uses `learned_fraction`, `dictionary`,
            `columns`, `seed`, and the dataset for emp/emp2/ae).
        input_shape: the dataset's example shape.
        num_classes: the dataset's number of classes.

    Returns:
        `(model, [])`.

    Raises:
        ValueError: if the model has no layer to predict.
    """
    conv_layer, dense_layer, predicted = layer_factories(config, tuple(input_shape))
    model = models.get(config.model, input_shape=input_shape, num_classes=num_classes,
                       depth_multiplier=config.depth_multiplier, conv_layer=conv_layer,
                       dense_layer=dense_layer)
    if not predicted:
        raise ValueError(f"`model` {config.model!r} has no Dense or Conv2D layer besides the "
                         "classifier for method 'predict'.")
    if any(isinstance(layer, PredictedLayer) and not layer.dictionary.fitted
           for layer in model.layers):
        take = min(FIT_EXAMPLES, config.take or FIT_EXAMPLES)
        fit_data = data.load(config.dataset, "train", 256, data_dir=config.data_dir,
                             seed=config.seed, take=take)
        prediction.fit_predicted_layers(model, fit_data, max_examples=take)
    return model, []


register_method(Method(
    name="predict",
    description="weight prediction W = U W_alpha (Denil et al. 2013), --learned-fraction, "
                "--dictionary (e.g. se-emp), --columns",
    build=build_predict,
    options=("learned_fraction", "dictionary", "columns"),
))
