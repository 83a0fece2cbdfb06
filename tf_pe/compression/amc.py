"""LRE-AMC: annealed model contraction with lossless redundancy elimination.

Algorithm 1 of Shah et al., "LRE-AMC": starting from the penultimate layer,
repeatedly shrink a layer by removing its most linearly predictable units
(`tf_pe.compression.shrink`, readjusting the next layer) while validation
accuracy stays within `epsilon` of the original; when a shrink leaves the band,
fine-tune with distillation (`tf_pe.compression.distill`) and keep the result
only if that brings accuracy back. "top_down" shrinks each layer as far as it
goes before moving down; "round_robin" removes at most a fraction `1 - gamma`
from each layer in turn, passing over the layers until none can shrink.
"""

from __future__ import annotations

import dataclasses
import math
import time

import keras
import numpy as np

from tf_pe.compression import distill as _distill
from tf_pe.compression.surgery import consumer_preactivation, shrink
from tf_pe.compression.topology import find_link, shrinkable_layers
from tf_pe.sparsity import summary

ORDERS = ("top_down", "round_robin")


def counts(model: keras.Model) -> dict:
    """Parameters (total, Dense, Conv2D) and MACs per example from `tf_pe.summary`,
    and units per Dense/Conv2D layer."""
    stats = summary(model, print_fn=None)
    layers = {}
    for s in stats.layers:
        layer = model.get_layer(s.name)
        units = getattr(layer, "units", None) or getattr(layer, "filters", None)
        layers[s.name] = {"kind": s.kind, "units": units, "params": s.params, "macs": s.macs}
    dense = sum(v["params"] for v in layers.values() if v["kind"] == "Dense")
    conv = sum(v["params"] for v in layers.values() if v["kind"] == "Conv2D")
    return {"params": stats.total.params, "dense_params": dense, "conv_params": conv,
            "macs": stats.total.macs, "layers": layers}


def check_arguments(order, gamma, epsilon, temperature, lam) -> None:
    """Checks `lre_amc`'s scalar arguments.

    Raises:
        ValueError: naming the argument and its allowed range.
    """
    if order not in ORDERS:
        raise ValueError(f"`order` must be one of {', '.join(ORDERS)}, got {order!r}.")
    if not 0 < gamma < 1:
        raise ValueError(f"`gamma` must be in (0, 1), got {gamma!r}.")
    if not 0 <= epsilon <= 1:
        raise ValueError(f"`epsilon` must be in [0, 1], got {epsilon!r}.")
    if not temperature > 0:
        raise ValueError(f"`temperature` must be > 0, got {temperature!r}.")
    if not 0 <= lam <= 1:
        raise ValueError(f"`lam` must be in [0, 1], got {lam!r}.")


def _sample(data):
    for batch in data.take(1):
        return batch[0] if isinstance(batch, tuple | list) else batch
    raise ValueError("`val_ds` yielded no batch.")


def lre_amc(model: keras.Model, train_ds, val_ds, *, order: str = "top_down",
            gamma: float = 0.75, epsilon: float = 0.05, temperature: float = 4.0,
            lam: float = 0.75, adjust: bool = True, layers=None,
            learning_rate: float = 1e-4, max_epochs: int = 50, patience: int = 3,
            min_learning_rate: float = 1e-6, steps_per_epoch: int | None = None,
            stats_batches: int | None = 20, max_steps: int | None = None,
            max_error: float = 1.0, max_update_ratio: float = 1.0,
            print_fn=print) -> tuple[keras.Model, dict]:
    """Compresses `model` with Algorithm 1 of Shah et al., "LRE-AMC".

    Each step removes `max(1, floor((1 - gamma) * units))` of a layer's most
    predictable units (a layer "shrunk by 25%" at `gamma = 0.75`, as in the
    paper's Figure 1), readjusting the next layer (`adjust=True`, "wAdj") or
    not ("noAdj"). The step is kept if accuracy on `val_ds` is within
    `epsilon` of the original's, possibly after distillation fine-tuning;
    otherwise the layer is done.

    Args:
        model: a trained functional model that outputs logits; not modified.
        train_ds: `(x, y)` batches (integer labels) for statistics and fine-tuning.
        val_ds: `(x, y)` batches for the accuracy test.
        order: "top_down" or "round_robin". Defaults to "top_down".
        gamma: fraction of units a step keeps, in (0, 1). Defaults to 0.75.
        epsilon: tolerated accuracy drop (a fraction), in [0, 1]. Defaults to 0.05.
        temperature: distillation temperature `T`. Defaults to 4.0.
        lam: weight of the true labels in the distillation loss. Defaults to 0.75.
        adjust: readjust the next layer's weights. Defaults to True.
        layers: names of the layers to shrink. Defaults to None: every layer
            `shrinkable_layers` finds (all but the logits), penultimate first.
        learning_rate: fine-tuning learning rate. Defaults to 1e-4.
        max_epochs: fine-tuning epochs per distillation. Defaults to 50.
        patience: epochs before halving the learning rate. Defaults to 3.
        min_learning_rate: fine-tuning stops below it. Defaults to 1e-6.
        steps_per_epoch: fine-tuning batches per epoch. Defaults to None (all).
        stats_batches: `train_ds` batches for the redundancy statistics.
            Defaults to 20.
        max_steps: stop after this many shrink steps. Defaults to None.
        max_error: largest relative error (1 - R^2) of a removed unit.
            Defaults to 1.0.
        max_update_ratio: the paper's readjustment safeguard (mean row norm of
            the update over the weights'). Defaults to 1.0.
        print_fn: where progress lines go; None for silence. Defaults to `print`.

    Returns:
        `(compressed_model, report)`: a new, physically smaller model and a
        JSON-serializable dict with the settings, the counts and accuracy
        before and after, one entry per step and per layer.

    Raises:
        ValueError: for out-of-range arguments or layers that cannot be shrunk,
            before any work is done.
    """
    check_arguments(order, gamma, epsilon, temperature, lam)
    say = print_fn or (lambda *_: None)
    if layers is None:
        layers = list(reversed(shrinkable_layers(model)))
        if not layers:
            raise ValueError(f"`model` {model.name!r} has no layer that LRE can shrink.")
    else:
        layers = [layers] if isinstance(layers, str) else list(layers)
        for name in layers:
            find_link(model, name)
    start = time.perf_counter()
    teacher = _distill.copy_model(model, trainable=False)
    acc0 = _distill.evaluate(teacher, val_ds)
    before = counts(model)
    sample = _sample(val_ds)
    settings = {"order": order, "gamma": gamma, "epsilon": epsilon, "temperature": temperature,
                "lam": lam, "adjust": adjust, "layers": layers, "learning_rate": learning_rate,
                "max_epochs": max_epochs, "stats_batches": stats_batches}
    say(f"[lre-amc] {model.name}: accuracy {acc0:.4f}, {before['params']:,} parameters; "
        f"shrinking {', '.join(layers)} {order.replace('_', '-')}, epsilon {epsilon}.")
    current, steps, done = _distill.copy_model(model), [], set()

    def step(name: str) -> None:
        nonlocal current
        units = current.get_layer(name).units if isinstance(
            current.get_layer(name), keras.layers.Dense) else current.get_layer(name).filters
        count = max(1, math.floor((1 - gamma) * units))
        if units <= 1:
            done.add(name)
            return
        cand, removal = shrink(current, name, train_ds, count, adjust,
                               max_batches=stats_batches, max_error=max_error,
                               max_update_ratio=max_update_ratio)
        entry = {"step": len(steps) + 1, "layer": name, "units_before": units}
        if cand is None:
            done.add(name)
            entry.update(accepted=False, reason="no unit passes the safeguards")
            steps.append(entry)
            say(f"[lre-amc] step {entry['step']}: {name} cannot shrink further (safeguards).")
            return
        y_old = consumer_preactivation(current, name, sample)
        y_new = consumer_preactivation(cand, name, sample)
        change = float(np.linalg.norm(y_new - y_old) / max(np.linalg.norm(y_old), 1e-12))
        acc = _distill.evaluate(cand, val_ds)
        entry.update(units_after=removal.units_after, input_change=change,
                     accuracy_after_shrink=acc, update_ratio=removal.update_ratio)
        epochs = 0
        if acc0 - acc > epsilon:
            acc, epochs = _distill.distill(
                cand, teacher, train_ds, val_ds, acc0 - epsilon, temperature=temperature,
                lam=lam, learning_rate=learning_rate, max_epochs=max_epochs,
                patience=patience, min_learning_rate=min_learning_rate,
                steps_per_epoch=steps_per_epoch)
        accepted = acc0 - acc <= epsilon
        c = counts(cand)
        entry.update(accuracy=acc, distill_epochs=epochs, accepted=accepted,
                     params=c["params"], macs=c["macs"], seconds=time.perf_counter() - start)
        steps.append(entry)
        verdict = "kept" if accepted else "rejected; layer done"
        say(f"[lre-amc] step {entry['step']}: {name} {units} -> {removal.units_after} units, "
            f"input change {change:.3f}, accuracy {acc:.4f}"
            f"{f' after {epochs} distillation epochs' if epochs else ''}, "
            f"{c['params']:,} params: {verdict}.")
        if accepted:
            current = cand
        else:
            done.add(name)

    def out_of_steps() -> bool:
        return max_steps is not None and len(steps) >= max_steps

    if order == "top_down":
        for name in layers:
            while name not in done and not out_of_steps():
                step(name)
    else:
        while len(done) < len(layers) and not out_of_steps():
            for name in layers:
                if name not in done and not out_of_steps():
                    step(name)
    after = counts(current)
    acc1 = _distill.evaluate(current, val_ds)
    report = _report(settings, acc0, acc1, before, after, steps, time.perf_counter() - start)
    say(f"[lre-amc] done: {after['params']:,} of {before['params']:,} parameters left "
        f"({100 * report['removed']['params']:.1f}% removed), accuracy {acc1:.4f} "
        f"({100 * (acc1 - acc0):+.2f} points), {report['seconds']:.0f} s.")
    return current, report


def _removed(before: int, after: int) -> float:
    return 1 - after / before if before else 0.0


def _report(settings, acc0, acc1, before, after, steps, seconds) -> dict:
    layers = {name: {"units_before": b["units"], "units_after": after["layers"][name]["units"],
                     "params_before": b["params"], "params_after": after["layers"][name]["params"],
                     "macs_before": b["macs"], "macs_after": after["layers"][name]["macs"]}
              for name, b in before["layers"].items()}
    removed = {key: _removed(before[k], after[k]) for key, k in (
        ("params", "params"), ("dense_params", "dense_params"), ("conv_params", "conv_params"),
        ("macs", "macs"))}
    return {"settings": settings, "accuracy_before": acc0, "accuracy_after": acc1,
            "accuracy_change": acc1 - acc0, "before": {k: v for k, v in before.items()
                                                        if k != "layers"},
            "after": {k: v for k, v in after.items() if k != "layers"}, "removed": removed,
            "layers": layers, "steps": steps, "seconds": seconds}


@dataclasses.dataclass
class _Result:
    model: keras.Model | None = None
    report: dict | None = None


class LREAMC(keras.callbacks.Callback):
    """Runs `lre_amc` on the model being trained, after epoch `at_epoch` or at
    the end of training.

    Keras cannot swap the model inside `fit`, so compressing mid-training stops
    training (`model.stop_training`); the smaller model and the report are in
    `compressed_model` and `report` (and saved to `filepath` if given), ready to
    be trained further with another `fit`.

    Args:
        train_ds: `(x, y)` batches for statistics and fine-tuning.
        val_ds: `(x, y)` batches for the accuracy test.
        at_epoch: compress after this (1-based) epoch. Defaults to None (at the
            end of training).
        filepath: where to save the compressed `.keras` model. Defaults to None.
        **kwargs: passed to `lre_amc` (order, gamma, epsilon, ...).
    """

    def __init__(self, train_ds, val_ds, at_epoch: int | None = None,
                 filepath: str | None = None, **kwargs):
        super().__init__()
        if at_epoch is not None and at_epoch < 1:
            raise ValueError(f"`at_epoch` must be >= 1 or None, got {at_epoch!r}.")
        check_arguments(kwargs.get("order", "top_down"), kwargs.get("gamma", 0.75),
               kwargs.get("epsilon", 0.05), kwargs.get("temperature", 4.0),
               kwargs.get("lam", 0.75))
        self.train_ds, self.val_ds = train_ds, val_ds
        self.at_epoch, self.filepath, self.kwargs = at_epoch, filepath, kwargs
        self._result = _Result()

    @property
    def compressed_model(self) -> keras.Model | None:
        """The compressed model, once compression ran."""
        return self._result.model

    @property
    def report(self) -> dict | None:
        """The `lre_amc` report, once compression ran."""
        return self._result.report

    def _compress(self) -> None:
        model, report = lre_amc(self.model, self.train_ds, self.val_ds, **self.kwargs)
        self._result = _Result(model, report)
        if self.filepath:
            model.save(self.filepath)

    def on_epoch_end(self, epoch, logs=None):
        if self.at_epoch is not None and epoch + 1 == self.at_epoch:
            self._compress()
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._result.model is None:
            self._compress()
