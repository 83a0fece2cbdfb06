"""Every public constructor and function refuses invalid arguments with a
`ValueError` or `TypeError` whose message names the argument.

The public API is enumerated from `tf_pe.__all__` and its subpackages' `__all__`;
every callable found must have rows in `CASES` (or a reason in `NOT_VALIDATED`),
so a new public name fails `test_every_public_callable_is_covered` until its
invalid arguments are listed here.
"""

import functools
import inspect
import math

import keras
import numpy as np
import pytest

import tf_pe
from tf_pe import layers, models

NAN = math.nan


def _public():
    """`{"module.name": object}` for every public callable (classes and functions)."""
    found = {}
    for module in [tf_pe] + [getattr(tf_pe, n) for n in tf_pe.__all__
                             if inspect.ismodule(getattr(tf_pe, n))]:
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj) and not inspect.ismodule(obj):
                found[f"{module.__name__}.{name}"] = obj
    return found


_SMALL_ZOO = {"input_shape": (32, 32, 3), "num_classes": 10, "depth_multiplier": 0.125}


@functools.cache
def _dense_model():
    """One model for all rows: the calls refuse their bad argument before using it."""
    return models.lenet_300_100(input_shape=(28, 28, 1), num_classes=10)


def _conv_model():
    return models.lenet5(conv_layer=lambda *a, **k: layers.SparseChannelConv2D(
        *a, density=0.5, seed=0, **k))


def _images():
    return np.random.default_rng(0).normal(size=(64, 28, 28, 1)).astype("float32")


@functools.cache
def _redundancy():
    return tf_pe.compression.redundancy(_dense_model(), "fc2", _images())


def _conv_layer():
    layer = layers.SparseChannelConv2D(4, 3, density=0.5, seed=0)
    layer.build((None, 8, 8, 4))
    return layer


# name -> (valid keyword arguments, {argument: [invalid values]})
CASES = {
    "tf_pe.sparsify": (lambda: {"model": _dense_model()}, {
        "method": ["nope", ""], "density": [0.0, 1.5, -0.1, NAN], "exclude": [["no_layer"]],
    }),
    "tf_pe.summary": (lambda: {"model": _dense_model()}, {"model": [None, 3, "lenet"]}),
    "tf_pe.callbacks.SET": (lambda: {}, {
        "zeta": [0.0, 1.0, -0.5, NAN], "period": [0, -1, 1.5, True, "10"],
        "stop_step": [0, -3, 2.5], "granularity": ["row", ""],
    }),
    "tf_pe.callbacks.DynamicSparseReparam": (lambda: {}, {
        "period": [0, -1, 2.5, "x"], "target_prune_count": [0, -1, 1.5, True],
        "target_prune_fraction": [0.0, 1.0, -0.2, NAN], "initial_threshold": [0.0, -1.0, NAN],
        "tolerance": [0.0, 1.0, NAN], "gain": [1.0, 0.5, NAN], "stop_step": [0, -1],
        "granularity": ["kernel"],
    }),
    "tf_pe.callbacks.GradualMagnitudePruning": (lambda: {"final_density": 0.1, "end_step": 10}, {
        "final_density": [0.0, 1.5, NAN, {"fc1": 0.0}], "end_step": [0, -1, 2.5, True],
        "begin_step": [-1, 10, 11, 1.5], "initial_density": [0.0, 1.1, NAN],
        "period": [0, -5], "granularity": ["unit"],
    }),
    "tf_pe.callbacks.PeriodSchedule": (lambda: {"start": 1, "end": 8, "steps": 100}, {
        "start": [0, -1, 1.5, True], "end": [0, 2.5], "steps": [0, -10],
    }),
    "tf_pe.callbacks.DoublingSchedule": (lambda: {"initial_density": 0.1, "every": 10}, {
        "initial_density": [0.0, 1.5, NAN, "0.1"], "every": [0, -1, 2.5, True],
        "factor": [1.0, 0.5, NAN, True], "final_density": [0.05, 1.5, NAN],
    }),
    "tf_pe.callbacks.LinearSchedule": (lambda: {"initial_density": 0.1}, {
        "initial_density": [0.0, 2.0, NAN], "final_density": [0.05, 1.5],
        "steps": [0, -1, 0.5], "every": [0, True],
    }),
    "tf_pe.callbacks.CallableSchedule": (lambda: {"fn": lambda step: 0.5}, {
        "fn": [3, None, [1, 2]]}),
    "tf_pe.callbacks.Densify": (lambda: {"schedule": lambda step: 0.5}, {
        "schedule": [3, None, "double"], "init_stddev": [-1.0, NAN],
    }),
    "tf_pe.callbacks.DensifyEvery": (lambda: {"steps": 10}, {
        "steps": [0, -1, 2.5, True], "factor": [1.0, 0.0, NAN],
        "initial_density": [0.0, 1.5, NAN], "final_density": [0.0, 1.5],
        "init_stddev": [-0.1, NAN],
    }),
    "tf_pe.callbacks.densify_layer": (lambda: {"layer": _conv_layer(), "density": 0.75}, {
        "layer": [keras.layers.Dense(3), None], "density": [0.0, 1.5, NAN],
        "init_stddev": [-1.0, NAN],
    }),
    "tf_pe.layers.MaskedDense": (lambda: {"units": 4}, {
        "density": [0.0, 1.5, -1.0, NAN, "0.5"], "seed": [1.5, "seed"],
        "granularity": ["row"],
    }),
    "tf_pe.layers.MaskedConv2D": (lambda: {"filters": 4, "kernel_size": 3}, {
        "density": [0.0, 1.01, NAN], "seed": [0.5], "granularity": ["filter"],
    }),
    "tf_pe.layers.MaskedDepthwiseConv2D": (lambda: {"kernel_size": 3}, {
        "density": [0.0, 2.0], "seed": ["0"], "granularity": ["x"],
    }),
    "tf_pe.layers.SparseChannelConv2D": (lambda: {"filters": 4, "kernel_size": 3}, {
        "density": [0.0, 1.5, NAN], "pattern": ["diagonal", ""], "seed": [-1, 1.5, "1"],
        "groups": [2],
    }),
    "tf_pe.layers.PredictedDense": (lambda: {"units": 8}, {
        "units": [0, -1, 2.5], "learned_fraction": [0.0, 1.5, NAN], "dictionary": ["nope", 3],
        "columns": [0, 9, 1.5], "order": ["sideways"], "seed": [1.5],
    }),
    "tf_pe.layers.PredictedConv2D": (lambda: {"filters": 4, "kernel_size": 3}, {
        "filters": [0, -2], "kernel_size": [0, (3, 0), "3"], "learned_fraction": [0.0, 2.0],
        "dictionary": ["unknown"], "columns": [0, 5], "order": ["x"], "padding": ["full"],
        "data_format": ["channels_first"], "strides": [0, (1, -1)],
        "dilation_rate": [0],
    }),
    "tf_pe.models.lenet5": (lambda: {}, {
        "input_shape": [(28, 28), (0, 28, 1), "28x28", (28.5, 28, 1)],
        "num_classes": [1, 0, 2.5, True], "depth_multiplier": [0.0, -1.0, NAN],
        "conv_layer": [3], "dense_layer": ["dense"],
    }),
    "tf_pe.models.lenet_300_100": (lambda: {}, {
        "input_shape": [(), (0,)], "num_classes": [1], "depth_multiplier": [0.0],
    }),
    "tf_pe.models.mlp": (lambda: {}, {"num_classes": [0], "depth_multiplier": [-2.0]}),
    "tf_pe.models.changpinyo_mnist": (lambda: {}, {
        "input_shape": [(28, 28)], "num_classes": [1], "depth_multiplier": [0.0],
    }),
    "tf_pe.models.changpinyo_cifar": (lambda: {}, {
        "input_shape": [(32, 32)], "num_classes": [1], "depth_multiplier": [0.0],
    }),
    "tf_pe.models.vgg16n": (lambda: _SMALL_ZOO, {
        "input_shape": [(32, 32)], "num_classes": [0], "depth_multiplier": [0.0],
    }),
    "tf_pe.models.wrn": (lambda: _SMALL_ZOO, {
        "input_shape": [(32, 32)], "num_classes": [0], "depth_multiplier": [0.0],
    }),
    "tf_pe.models.resnet50": (lambda: _SMALL_ZOO, {
        "input_shape": [(224, 224)], "num_classes": [0], "depth_multiplier": [0.0],
    }),
    "tf_pe.models.scale_width": (lambda: {"width": 16, "depth_multiplier": 0.5}, {
        "width": [0, -1, 2.5], "depth_multiplier": [0.0, -1.0, NAN],
    }),
    "tf_pe.models.get": (lambda: {"name": "lenet5"}, {"name": ["lenet6", ""]}),
    "tf_pe.models.get_builder": (lambda: {"name": "lenet5"}, {"name": ["alexnet"]}),
    "tf_pe.models.sparsify": (lambda: {"model": _dense_model()}, {
        "method": ["prune"], "density": [0.0, 2.0],
    }),
    "tf_pe.data.load": (lambda: {"name": "fashion_mnist"}, {
        "name": ["not_a_dataset"], "split": ["validation!"], "batch_size": [0, -1, 2.5],
        "seed": [-1, 1.5], "take": [0, -5], "shuffle": ["yes"], "cache": [""],
    }),
    "tf_pe.data.info": (lambda: {"name": "fashion_mnist"}, {"name": ["nope"]}),
    "tf_pe.ops.sparse_channel_conv2d": (lambda: {
        "inputs": np.zeros((1, 4, 4, 2), np.float32), "compact": np.zeros((3, 3, 2), np.float32),
        "indptr": np.array([0, 1, 2], np.int32), "indices": np.array([0, 1], np.int32)}, {
        "strides": [(1,), (1, 1, 1)], "padding": ["FULL", "same!"], "dilations": [(1,)],
    }),
    "tf_pe.ops.reference": (lambda: {
        "inputs": np.zeros((1, 4, 4, 2), np.float32), "compact": np.zeros((3, 3, 2), np.float32),
        "indptr": np.array([0, 1, 2], np.int32), "indices": np.array([0, 1], np.int32)}, {
        "strides": [(2,)], "padding": ["CAUSAL"],
    }),
    "tf_pe.prediction.get": (lambda: {"identifier": "se"}, {"identifier": ["nope", 3, None]}),
    "tf_pe.prediction.SE": (lambda: {}, {"length_scale": [0.0, -1.0, NAN], "ridge": [-1.0, NAN]}),
    "tf_pe.prediction.Emp": (lambda: {}, {"ridge": [-1.0, NAN], "max_examples": [0, -1]}),
    "tf_pe.prediction.Emp2": (lambda: {}, {"ridge": [-0.5], "max_examples": [0]}),
    "tf_pe.prediction.AE": (lambda: {}, {"epochs": [0, -1], "max_examples": [0],
                                         "size": [0, -3]}),
    "tf_pe.prediction.draw_alpha": (lambda: {"n": 16, "n_alpha": 4, "columns": 2, "seed": 0}, {
        "n": [0, -1], "n_alpha": [0, 17], "columns": [0, -1],
    }),
    "tf_pe.compression.lre_amc": (lambda: {"model": _dense_model(), "train_ds": None,
                                           "val_ds": None}, {
        "order": ["sideways"], "gamma": [0.0, 1.0, NAN], "epsilon": [-0.1, NAN],
    }),
    "tf_pe.compression.shrinkable_layers": (lambda: {"model": _dense_model()}, {
        "model": [None, "model"]}),
    "tf_pe.training.TrainConfig": (lambda: {}, {
        "optimizer": ["adagrad"], "lr_schedule": ["linear"], "epochs": [0, -1, 1.5],
        "batch_size": [0], "learning_rate": [0.0, -1.0, NAN], "weight_decay": [-0.1, NAN],
        "momentum": [1.0, -0.1], "density": [0.0, 1.5, NAN], "depth_multiplier": [0.0],
        "pattern": ["diag"], "densify_every": [0], "densify_factor": [1.0],
        "distribution": ["normal"], "granularity": ["row"], "reparam_period": [0],
        "prune_fraction": [0.0, 1.0], "initial_threshold": [0.0], "prune_end": [0.0, 1.5],
        "learned_fraction": [0.0], "dictionary": ["nope"], "columns": [0], "take": [0],
        "eval_take": [-1], "out": [""],
    }),
    "tf_pe.training.get_method": (lambda: {"name": "dsr"}, {"name": ["sgd", ""]}),
    "tf_pe.training.register_method": (lambda: {}, {"method": [3, "dsr", None]}),
    "tf_pe.training.train": (lambda: {}, {"config": [{"model": "lenet5"}, None]}),
    "tf_pe.bench.get_benchmark": (lambda: {"name": "dsr"}, {"name": ["nope"]}),
    "tf_pe.bench.register_benchmark": (lambda: {}, {"benchmark": [3, "dsr"]}),
    "tf_pe.bench.BenchOptions": (lambda: {"out": "runs/x"}, {
        "out": ["", None], "quick": ["yes"], "seed": [-1, 1.5, True],
    }),
    "tf_pe.models.register_converter": (lambda: {}, {"converter": [3, "masked"]}),
    "tf_pe.callbacks.allocate_regrowth": (
        lambda: {"total": 5, "survivors": [3, 4], "capacity": [10, 10]}, {
            "total": [-1, 2.5, True], "survivors": [[-1, 2], [[1, 2]]],
            "capacity": [[10], [-1, 3]],
        }),
    "tf_pe.compression.counts": (lambda: {"model": _dense_model()}, {"model": [None, 3]}),
    "tf_pe.compression.find_link": (lambda: {"model": _dense_model(), "layer": "fc1"}, {
        "layer": ["nope", "logits"], "model": [None],
    }),
    "tf_pe.compression.redundancy": (
        lambda: {"model": _dense_model(), "layer": "fc1", "data": _images()}, {
            "layer": ["nope"], "method": ["svd"], "ridge": [-1.0, NAN],
        }),
    "tf_pe.compression.shrink": (
        lambda: {"model": _dense_model(), "layer": "fc1", "data": _images(), "count": 1}, {
            "count": [0, -1, 1.5], "layer": ["nope"], "max_update_ratio": [0.0, NAN],
        }),
    "tf_pe.compression.remove_units": (
        lambda: {"model": _dense_model(), "layer": "fc1", "units": [0], "adjust": False}, {
            "units": [[300], [-1], [1, 1]], "layer": ["zzz"],
        }),
    "tf_pe.compression.consumer_preactivation": (
        lambda: {"model": _dense_model(), "layer": "fc1", "x": _images()}, {"layer": ["zzz"]}),
    "tf_pe.compression.select_units": (lambda: {"red": _redundancy(), "count": 2}, {
        "red": [None, {"A": 1}], "count": [0, -1, 1.5], "max_error": [-1.0, NAN],
        "max_condition": [0.5, NAN],
    }),
    "tf_pe.compression.Distiller": (
        # Fresh models: a Distiller freezes its teacher.
        lambda: {"student": models.lenet_300_100(), "teacher": models.lenet_300_100()}, {
            "student": [None], "teacher": ["teacher"], "temperature": [0.0, -1.0, NAN],
            "lam": [-0.1, 1.5, NAN],
        }),
    "tf_pe.compression.distill": (
        lambda: {"student": _dense_model(), "teacher": _dense_model(), "train_ds": None,
                 "val_ds": None, "target": 0.5}, {
            "target": [-0.1, 1.5, NAN], "temperature": [0.0], "lam": [2.0],
            "learning_rate": [0.0, NAN], "max_epochs": [0, 1.5], "patience": [0],
            "min_learning_rate": [-1.0],
        }),
    "tf_pe.compression.LREAMC": (lambda: {"train_ds": None, "val_ds": None}, {
        "at_epoch": [0, -1], "epsilon": [-0.1, 1.5], "gamma": [0.0, 1.0],
    }),
    "tf_pe.ops.compact_from_mask": (
        lambda: {"kernel": np.zeros((3, 3, 4, 2), np.float32), "mask": np.ones((4, 2))}, {
            "kernel": [np.zeros((3, 4, 2), np.float32)], "mask": [np.ones((3, 2)), np.ones(8)],
        }),
    "tf_pe.ops.gather_channels": (
        lambda: {"params": np.zeros((2, 3), np.float32), "index": np.array([0, 2], np.int32)}, {
            "params": [np.float32(1.0), np.zeros(3, np.int32)],
            "index": [np.zeros((1, 2), np.int32), np.array([0.5])],
        }),
    "tf_pe.ops.scatter_add_channels": (
        lambda: {"updates": np.zeros((2, 2), np.float32), "index": np.array([0, 1], np.int32),
                 "depth": 3}, {
            "updates": [np.zeros((2, 3), np.float32)], "index": [np.zeros((1, 2), np.int32)],
            "depth": [-1, 2.5, True],
        }),
    "tf_pe.ops.grouped_structure": (lambda: {"mask": np.ones((2, 2))}, {
        "mask": [np.ones(3), np.ones((2, 2, 2))],
    }),
    "tf_pe.ops.grouped_conv2d": (
        lambda: {"inputs": np.zeros((1, 4, 4, 2), np.float32),
                 "kernel": np.zeros((3, 3, 2, 2), np.float32),
                 "structure": tf_pe.ops.grouped_structure(np.ones((2, 2)))}, {
            "kernel": [np.zeros((3, 3, 2, 3), np.float32)], "structure": [None, np.ones((2, 2))],
            "padding": ["FULL"], "strides": [(1, 1, 1)], "dilations": [(2,)],
        }),
    "tf_pe.ops.hybrid_conv2d": (
        lambda: {"inputs": np.zeros((1, 4, 4, 2), np.float32),
                 "kernel": np.zeros((3, 3, 2, 2), np.float32),
                 "structure": tf_pe.ops.grouped_structure(np.ones((2, 2))),
                 "compact": tf_pe.ops.compact_structure(np.ones((2, 2)))}, {
            "kernel": [np.zeros((3, 3, 2, 3), np.float32)], "structure": [None, np.ones((2, 2))],
            "compact": [None, tf_pe.ops.compact_structure(np.eye(2))],
            "padding": ["FULL"], "strides": [(1, 1, 1)], "dilations": [(2,)],
        }),
    "tf_pe.ops.compact_structure": (lambda: {"mask": np.ones((2, 2))}, {
        "mask": [np.ones(3), np.ones((2, 2, 2))],
    }),
    "tf_pe.ops.compact_conv2d": (
        lambda: {"inputs": np.zeros((1, 4, 4, 2), np.float32),
                 "kernel": np.zeros((3, 3, 2, 2), np.float32),
                 "structure": tf_pe.ops.compact_structure(np.ones((2, 2)))}, {
            "kernel": [np.zeros((3, 3, 2, 3), np.float32)], "structure": [None, np.ones((2, 2))],
            "padding": ["FULL"], "strides": [(1, 1, 1)],
        }),
    "tf_pe.ops.dense_kernel": (
        lambda: {"compact": np.zeros((3, 3, 2), np.float32),
                 "indptr": np.array([0, 1, 2], np.int32), "indices": np.array([0, 1], np.int32),
                 "in_channels": 2}, {
            "in_channels": [0, -1, 1.5],
        }),
    "tf_pe.prediction.fit_predicted_layers": (
        lambda: {"model": _dense_model(), "data": _images()}, {
            "model": [None, "model"], "data": [None], "max_examples": [0, -1, 2.5],
        }),
    "tf_pe.prediction.ridge_dictionary": (
        lambda: {"kernel": np.eye(4), "alpha": np.array([0, 1]), "ridge": 0.1}, {
            "ridge": [-1.0, NAN],
        }),
    "tf_pe.prediction.serialize": (lambda: {"dictionary": tf_pe.prediction.SE()}, {
        "dictionary": [3, "se", None],
    }),
    "tf_pe.sparsity.find_sparse_layers": (lambda: {"model": _dense_model()}, {
        "model": [3, None]}),
    "tf_pe.sparsity.leaf_layers": (lambda: {"model": _dense_model()}, {"model": [None, "x"]}),
    "tf_pe.sparsity.layer_stats": (lambda: {"layer": _dense_model().get_layer("fc1")}, {
        "layer": [3, None]}),
    "tf_pe.sparsity.summary": (lambda: {"model": _dense_model()}, {"model": [None]}),
    "tf_pe.export.to_tflite": (lambda: {"model": _dense_model(), "path": "m.tflite"}, {
        "model": [None, 3], "path": ["", None], "quantize": ["int4", "full"],
        "sparse": ["yes"],
    }),
    "tf_pe.export.convert": (lambda: {"model": _dense_model()}, {
        "model": [None], "quantize": ["int4"], "sparse": [1],
    }),
    "tf_pe.export.to_saved_model": (lambda: {"model": _dense_model(), "path": "sm"}, {
        "model": [3, None], "path": ["", None], "keep_custom_op": ["no", 1],
    }),
    "tf_pe.export.strip": (lambda: {"model": _dense_model()}, {"model": [None, "m"]}),
    "tf_pe.export.export_run": (lambda: {"run_dir": "runs/x"}, {
        "run_dir": ["/nonexistent/run"], "format": ["onnx"],
    }),
    "tf_pe.export.register_stripper": (
        lambda: {"layer_class": keras.layers.Dense, "stripper": lambda layer: (layer, [])}, {
            "layer_class": [3, "Dense"], "stripper": [None, 3],
        }),
    "tf_pe.viz.accuracy_vs_cost": (
        lambda: {"points": [{"method": "dsr", "params": 10, "accuracy": 0.9}]}, {
        "cost": ["flops"],
    }),
    "tf_pe.viz.connection_masks": (lambda: {"source": _conv_model()}, {"source": [3, None]}),
    "tf_pe.viz.densification_curve": (lambda: {"steps": [0, 1], "density": [0.1, 0.2]}, {
        "density": [[0.1]],
    }),
    "tf_pe.viz.layer_density_history": (
        lambda: {"history": [{"step": 1, "density": {"fc1": 0.1}}]}, {
            "history": [3, [], {"step": 1}],
        }),
    "tf_pe.viz.learned_vs_predicted": (
        lambda: {"learned": np.zeros((784, 4)), "predicted": np.zeros((784, 4))}, {
            "predicted": [np.zeros((5,))],
        }),
}

# Public callables that take no user values to validate, with the reason.
NOT_VALIDATED = {
    "tf_pe.bench.available_benchmarks": "no arguments",
    "tf_pe.models.available": "no arguments",
    "tf_pe.models.sparsify_methods": "no arguments",
    "tf_pe.data.available": "no arguments",
    "tf_pe.training.available_methods": "no arguments",
    "tf_pe.prediction.LowRank": "no arguments",
    "tf_pe.prediction.RandCon": "no arguments",
    "tf_pe.prediction.RandFixU": "no arguments",
    "tf_pe.callbacks.DensificationSchedule": "abstract base class, no arguments",
    "tf_pe.prediction.Dictionary": "abstract base class, no arguments",
    "tf_pe.callbacks.MaskUpdateCallback": "base class; its arguments are checked through "
                                          "SET, DynamicSparseReparam, GradualMagnitudePruning",
    "tf_pe.sparsity.SparseLayer": "a typing.Protocol, not instantiated",
    "tf_pe.sparsity.is_sparse_layer": "a predicate: every object is a valid argument",
    "tf_pe.data.DatasetNotFoundError": "an exception class",
    "tf_pe.data.LocalFashionMNIST": "a tfds builder; missing files raise "
                                    "tf_pe.data.DatasetNotFoundError when preparing",
    "tf_pe.data.prepare_fashion_mnist": "missing files raise tf_pe.data.DatasetNotFoundError "
                                        "(a FileNotFoundError naming the directory and the "
                                        "install step; tests/data)",
    "tf_pe.data.DatasetInfo": "a result record built by tf_pe.data.info",
    "tf_pe.sparsity.LayerStats": "a result record built by layer_stats",
    "tf_pe.sparsity.ModelSummary": "a result record built by summary",
    "tf_pe.compression.Redundancy": "a result record built by redundancy",
    "tf_pe.compression.Removal": "a result record built by shrink",
    "tf_pe.compression.Link": "a result record built by find_link",
    "tf_pe.prediction.Domain": "a result record built by the predicted layers",
    "tf_pe.bench.Benchmark": "a registry record (name, description, run), checked by "
                             "register_benchmark",
    "tf_pe.training.Method": "a registry record, checked by register_method",
    "tf_pe.models.Converter": "a registry record, checked by register_converter",
    "tf_pe.export.Agreement": "a result record built by to_tflite",
    "tf_pe.export.SavedModelReport": "a result record built by to_saved_model",
    "tf_pe.export.TFLiteReport": "a result record built by to_tflite",
    "tf_pe.ops.GroupedStructure": "a result record built by grouped_structure",
    "tf_pe.ops.CompactStructure": "a result record built by compact_structure",
}


# Registry look-ups name the user-facing option (`--method`, a layer's
# `dictionary=`), not their Python parameter.
ALIASES = {("tf_pe.training.get_method", "name"): "method",
           ("tf_pe.bench.get_benchmark", "name"): "benchmark",
           ("tf_pe.prediction.get", "identifier"): "dictionary"}


def _rows():
    for name, (base, table) in CASES.items():
        for argument, values in table.items():
            for value in values:
                yield pytest.param(name, base, argument, value, id=f"{name}-{argument}-{value!r}")


def test_every_public_callable_is_covered():
    missing = sorted(set(_public()) - set(CASES) - set(NOT_VALIDATED))
    assert not missing, f"public callables without invalid-argument rows: {missing}"
    assert not set(CASES) - set(_public()), "CASES names something that is not public"


@pytest.mark.parametrize(("name", "base", "argument", "value"), list(_rows()))
def test_invalid_argument_is_refused_by_name(name, base, argument, value):
    target = _public()[name]
    kwargs = {**base(), argument: value}
    with pytest.raises((ValueError, TypeError)) as info:
        target(**kwargs)
    assert ALIASES.get((name, argument), argument) in str(info.value), str(info.value)


# Whose valid arguments start real work (training, reading a dataset).
_WORKS = ("tf_pe.compression.lre_amc", "tf_pe.compression.distill", "tf_pe.data.load",
          "tf_pe.compression.LREAMC", "tf_pe.training.register_method", "tf_pe.training.train",
          "tf_pe.bench.register_benchmark", "tf_pe.models.register_converter",
          "tf_pe.export.to_tflite", "tf_pe.export.convert", "tf_pe.export.to_saved_model",
          "tf_pe.export.export_run", "tf_pe.export.register_stripper")


@pytest.mark.parametrize("name", [n for n in CASES if n not in _WORKS])
def test_the_valid_base_arguments_are_accepted(name):
    """So that each row fails only because of its invalid value."""
    base, _ = CASES[name]
    _public()[name](**base())
