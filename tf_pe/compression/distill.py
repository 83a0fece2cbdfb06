"""Distillation fine-tuning of a shrunk model (the "distill" of Algorithm 1).

Shah et al., "LRE-AMC", equation 1 (after Hinton et al. 2015): with teacher
logits `z`, student logits `v`, temperature `T` and mixing `lambda`,

    L = (1 - lambda) H(softmax(z / T), softmax(v / T)) + lambda H(y, softmax(v)).

Fine-tuning stops as soon as validation accuracy is back within the tolerance,
halves the learning rate when accuracy has not improved for `patience` epochs
and stops when it falls below `min_learning_rate` or after `max_epochs`
(section 5.2: 50 epochs, patience 3, 1e-6).
"""

from __future__ import annotations

import keras

from tf_pe.compression.topology import check_model


class Distiller(keras.Model):
    """Trains `student` on the distillation loss against a frozen `teacher`."""

    def __init__(self, student: keras.Model, teacher: keras.Model, temperature: float = 4.0,
                 lam: float = 0.75, **kwargs):
        check_model(student, "student")
        check_model(teacher, "teacher")
        if not temperature > 0:
            raise ValueError(f"`temperature` must be > 0, got {temperature!r}.")
        if not 0 <= lam <= 1:
            raise ValueError(f"`lam` must be in [0, 1], got {lam!r}.")
        super().__init__(**kwargs)
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.temperature = float(temperature)
        self.lam = float(lam)

    def call(self, x, training=False):
        return self.student(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        ops = keras.ops
        t = self.temperature
        z = ops.stop_gradient(self.teacher(x, training=False))
        soft = ops.mean(keras.losses.categorical_crossentropy(
            ops.softmax(z / t), y_pred / t, from_logits=True))
        hard = ops.mean(keras.losses.sparse_categorical_crossentropy(
            y, y_pred, from_logits=True))
        return (1 - self.lam) * soft + self.lam * hard


def copy_model(model: keras.Model, trainable: bool = True) -> keras.Model:
    """A copy of `model` with the same weights (frozen unless `trainable`)."""
    check_model(model)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    if not trainable:
        copy.trainable = False
    return copy


def evaluate(model: keras.Model, data) -> float:
    """Top-1 accuracy of a logits model on `(x, y)` batches."""
    if not getattr(model, "_tf_pe_evaluates", False):
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        model._tf_pe_evaluates = True
    return float(model.evaluate(data, verbose=0, return_dict=True)["accuracy"])


def distill(student: keras.Model, teacher: keras.Model, train_ds, val_ds, target: float, *,
            temperature: float = 4.0, lam: float = 0.75, learning_rate: float = 1e-4,
            max_epochs: int = 50, patience: int = 3, min_learning_rate: float = 1e-6,
            steps_per_epoch: int | None = None) -> tuple[float, int]:
    """Fine-tunes `student` in place until its accuracy reaches `target`.

    Args:
        student: the model to train (its weights change).
        teacher: a frozen model giving the soft targets (`copy_model(model, False)`).
        train_ds: `(x, y)` batches, integer labels.
        val_ds: `(x, y)` batches for the stopping test.
        target: stop once validation accuracy is at least this.
        temperature: `T` of equation 1. Defaults to 4.0.
        lam: `lambda` of equation 1, the weight of the true labels. Defaults to 0.75.
        learning_rate: Adam's initial learning rate. Defaults to 1e-4.
        max_epochs: at most this many epochs. Defaults to 50.
        patience: epochs without improvement before the rate is halved. Defaults to 3.
        min_learning_rate: stop when the rate falls below it. Defaults to 1e-6.
        steps_per_epoch: batches per epoch. Defaults to None (one pass).

    Returns:
        `(validation accuracy, epochs run)`.

    Raises:
        ValueError: naming the argument that is out of range, before any work.
    """
    if not 0 <= target <= 1:
        raise ValueError(f"`target` must be an accuracy in [0, 1], got {target!r}.")
    if not learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0, got {learning_rate!r}.")
    if not min_learning_rate >= 0:
        raise ValueError(f"`min_learning_rate` must be >= 0, got {min_learning_rate!r}.")
    for name, value in (("max_epochs", max_epochs), ("patience", patience)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
    trainer = Distiller(student, teacher, temperature, lam)
    optimizer = keras.optimizers.Adam(learning_rate)
    trainer.compile(optimizer=optimizer)
    best, wait, lr, accuracy, epochs = -1.0, 0, learning_rate, evaluate(student, val_ds), 0
    while epochs < max_epochs:
        epochs += 1
        trainer.fit(train_ds, epochs=1, verbose=0, steps_per_epoch=steps_per_epoch)
        accuracy = evaluate(student, val_ds)
        if accuracy >= target:
            break
        if accuracy > best:
            best, wait = accuracy, 0
        else:
            wait += 1
        if wait >= patience:
            lr, wait = lr / 2, 0
            if lr < min_learning_rate:
                break
            optimizer.learning_rate.assign(lr)
    return accuracy, epochs
