"""The `tf-pe` command line: `tf-pe train`, `tf-pe summary PATH`, `tf-pe export RUN_DIR`.

User errors (unknown names, out-of-range values, unwritable directories, a
missing dataset) print one line and exit with status 2, without a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from absl import flags

USAGE = """usage: tf-pe COMMAND [flags]

commands:
  train      train a model (see `tf-pe train --help`)
  benchmark  run a published experiment: tf-pe benchmark NAME [--out=DIR] [--quick]
  summary    print parameters and MACs of a saved model: tf-pe summary PATH
  compress   LRE-AMC: tf-pe compress RUN_DIR [--epsilon=0.05] [--order=top_down] [--out=DIR]
  export     tf-pe export RUN_DIR [--format=tflite|saved_model] [--quantize=none|dynamic|...]
"""

EXIT_USAGE = 2


class UserError(Exception):
    """A mistake in the command line, reported without a traceback."""


def _train_flags(defaults) -> flags.FlagValues:
    from tf_pe.training.config import STRATEGIES

    fv = flags.FlagValues()
    d = {f.name: f.default for f in dataclasses.fields(defaults)}
    flags.DEFINE_string("model", d["model"], "zoo model (tf_pe.models.available())",
                        flag_values=fv)
    flags.DEFINE_string("dataset", d["dataset"], "dataset (tf_pe.data.available())",
                        flag_values=fv)
    flags.DEFINE_string("method", d["method"], "training method", flag_values=fv)
    flags.DEFINE_integer("epochs", d["epochs"], "passes over the training data",
                         flag_values=fv)
    flags.DEFINE_integer("batch-size", d["batch_size"], "examples per step", flag_values=fv)
    flags.DEFINE_string("optimizer", d["optimizer"], "adam, adamw, sgd or rmsprop",
                        flag_values=fv)
    flags.DEFINE_float("learning-rate", d["learning_rate"], "initial learning rate",
                       flag_values=fv)
    flags.DEFINE_string("lr-schedule", d["lr_schedule"], "constant, cosine or step",
                        flag_values=fv)
    flags.DEFINE_float("weight-decay", d["weight_decay"], "decoupled weight decay",
                       flag_values=fv)
    flags.DEFINE_float("momentum", d["momentum"], "momentum of sgd and rmsprop",
                       flag_values=fv)
    flags.DEFINE_float("density", d["density"], "fraction of active connections, in (0, 1]",
                       flag_values=fv)
    flags.DEFINE_float("depth-multiplier", d["depth_multiplier"],
                       "parameter fraction of hidden layers (widths scale by its sqrt)",
                       flag_values=fv)
    flags.DEFINE_string("pattern", d["pattern"], "channel connection pattern: random or block",
                        flag_values=fv)
    flags.DEFINE_integer("densify-every", d["densify_every"],
                         "channel: double the connections every N steps up to --density",
                         flag_values=fv)
    flags.DEFINE_float("initial-density", d["initial_density"],
                       "channel: starting density with --densify-every (default 0.01)",
                       flag_values=fv)
    flags.DEFINE_float("densify-factor", d["densify_factor"],
                       "channel: density multiplier per densification step", flag_values=fv)
    flags.DEFINE_enum("distribution", d["distribution"], ["uniform", "erk"],
                      "dsr/static/set: initial per-layer densities", flag_values=fv)
    flags.DEFINE_boolean("keep-first-dense", d["keep_first_dense"],
                         "dsr/static/set/gmp: leave the first layer dense", flag_values=fv)
    flags.DEFINE_boolean("keep-last-dense", d["keep_last_dense"],
                         "dsr/static/set/gmp: leave the last layer dense", flag_values=fv)
    flags.DEFINE_integer("reparam-period", d["reparam_period"],
                         "dsr/set/gmp: steps between mask updates", flag_values=fv)
    flags.DEFINE_float("prune-fraction", d["prune_fraction"],
                       "dsr: target pruned per step / active weights (0.02); set: zeta (0.1)",
                       flag_values=fv)
    flags.DEFINE_float("initial-threshold", d["initial_threshold"],
                       "dsr: initial global threshold H", flag_values=fv)
    flags.DEFINE_enum("granularity", d["granularity"], ["weight", "channel"],
                      "dsr/set/gmp: prune single weights or whole kernel slices",
                      flag_values=fv)
    flags.DEFINE_float("prune-end", d["prune_end"],
                       "gmp: fraction of training at which --density is reached",
                       flag_values=fv)
    flags.DEFINE_string("log-dir", d["log_dir"], "TensorBoard dir for mask-update summaries",
                        flag_values=fv)
    flags.DEFINE_float("learned-fraction", d["learned_fraction"],
                       "predict: fraction of each predicted kernel that is learned (0.25)",
                       flag_values=fv)
    flags.DEFINE_string("dictionary", d["dictionary"],
                        "predict: se, emp, emp2, randfixu, randcon, lowrank or ae; per layer "
                        "joined by '-', e.g. se-emp (se)", flag_values=fv)
    flags.DEFINE_integer("columns", d["columns"],
                         "predict: columns of each predicted Dense layer (1)", flag_values=fv)
    flags.DEFINE_enum("strategy", d["strategy"], list(STRATEGIES),
                      "tf.distribute strategy (multi_worker reads TF_CONFIG)", flag_values=fv)
    flags.DEFINE_integer("seed", d["seed"], "random seed", flag_values=fv)
    flags.DEFINE_integer("take", d["take"], "train on the first N examples only",
                         flag_values=fv)
    flags.DEFINE_integer("eval-take", d["eval_take"], "evaluate on the first N test examples",
                         flag_values=fv)
    flags.DEFINE_string("data-dir", d["data_dir"], "tensorflow-datasets data dir",
                        flag_values=fv)
    flags.DEFINE_string("out", d["out"], "run directory", flag_values=fv)
    flags.DEFINE_enum("verbose", "auto", ["auto", "0", "1", "2"], "Keras fit verbosity",
                      flag_values=fv)
    return fv


def _parse(fv: flags.FlagValues, argv: list[str]) -> list[str]:
    if any(a in ("-h", "--help", "-help", "--helpfull") for a in argv[1:]):
        print(f"usage: {argv[0]} [flags]\n\n{fv.get_help()}")
        raise SystemExit(0)
    try:
        return fv(argv)
    except flags.Error as e:
        raise UserError(str(e)) from e


def _train(argv: list[str]) -> int:
    from tf_pe.training import TrainConfig, train

    fv = _train_flags(TrainConfig)
    rest = _parse(fv, argv)
    if len(rest) > 1:
        raise UserError(f"unexpected arguments: {' '.join(rest[1:])}")
    values = {name.replace("-", "_"): fv[name].value for name in fv}
    verbose = values.pop("verbose")
    try:
        config = TrainConfig(**values)
        train(config, verbose=verbose if verbose == "auto" else int(verbose))
    except (ValueError, FileNotFoundError) as e:
        raise UserError(str(e)) from e
    return 0


def _benchmark(argv: list[str]) -> int:
    from tf_pe import bench

    fv = flags.FlagValues()
    flags.DEFINE_string("out", None, "results directory (default: runs/bench/NAME)",
                        flag_values=fv)
    flags.DEFINE_boolean("quick", False, "tiny settings for a smoke test", flag_values=fv)
    flags.DEFINE_integer("seed", 0, "first random seed", flag_values=fv)
    flags.DEFINE_string("data-dir", None, "tensorflow-datasets data dir", flag_values=fv)
    rest = _parse(fv, argv)
    if len(rest) != 2:
        choices = ", ".join(bench.available_benchmarks()) or "(none yet)"
        raise UserError(f"usage: tf-pe benchmark NAME [flags]; NAME is one of {choices}")
    name = rest[1]
    try:
        benchmark = bench.get_benchmark(name)
        options = bench.BenchOptions(out=fv["out"].value or os.path.join("runs", "bench", name),
                                     quick=fv["quick"].value, seed=fv["seed"].value,
                                     data_dir=fv["data-dir"].value)
        benchmark.run(options)
    except (ValueError, FileNotFoundError) as e:
        raise UserError(str(e)) from e
    return 0


def _summary(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1].startswith("-"):
        raise UserError("usage: tf-pe summary PATH (a .keras file or a run directory)")
    path = argv[1]
    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
    if not os.path.isfile(path):
        raise UserError(f"no saved model at {path!r}")
    import keras

    import tf_pe

    try:
        model = keras.saving.load_model(path)
    except (ValueError, OSError) as e:
        raise UserError(f"cannot load {path!r}: {e}") from e
    tf_pe.summary(model)
    return 0


def _compress(argv: list[str]) -> int:
    fv = flags.FlagValues()
    flags.DEFINE_float("epsilon", 0.05, "tolerated accuracy drop, in [0, 1]", flag_values=fv)
    flags.DEFINE_string("order", "top_down", "top_down or round_robin", flag_values=fv)
    flags.DEFINE_float("gamma", 0.75, "fraction of units one step keeps", flag_values=fv)
    flags.DEFINE_boolean("adjust", True, "readjust the next layer (--noadjust: noAdj)",
                         flag_values=fv)
    flags.DEFINE_integer("max-epochs", 10, "distillation epochs per fine-tuning", flag_values=fv)
    flags.DEFINE_float("learning-rate", 1e-4, "distillation learning rate", flag_values=fv)
    flags.DEFINE_integer("take", None, "use the first N training examples", flag_values=fv)
    flags.DEFINE_integer("val-take", 5000, "validation: the first N test examples",
                         flag_values=fv)
    flags.DEFINE_string("out", None, "output directory (default: RUN_DIR)", flag_values=fv)
    rest = _parse(fv, argv)
    if len(rest) != 2:
        raise UserError("usage: tf-pe compress RUN_DIR [flags]")
    run_dir = rest[1]
    model_path = os.path.join(run_dir, "model.keras")
    record_path = os.path.join(run_dir, "run.json")
    for path in (model_path, record_path):
        if not os.path.isfile(path):
            raise UserError(f"no {os.path.basename(path)} in {run_dir!r} (a `tf-pe train` "
                            "run directory)")
    import json

    import keras

    from tf_pe import compression, data

    with open(record_path) as f:
        config = json.load(f).get("config", {})
    out = fv["out"].value or run_dir
    try:
        compression.amc.check_arguments(fv["order"].value, fv["gamma"].value,
                                        fv["epsilon"].value, 4.0, 0.75)
        os.makedirs(out, exist_ok=True)
        model = keras.saving.load_model(model_path)
        dataset, batch = config.get("dataset", "fashion_mnist"), config.get("batch_size", 128)
        train_ds = data.load(dataset, "train", batch, data_dir=config.get("data_dir"),
                             seed=config.get("seed", 0), take=fv["take"].value)
        val_ds = data.load(dataset, "test", batch, data_dir=config.get("data_dir"),
                           shuffle=False, take=fv["val-take"].value)
        small, report = compression.lre_amc(
            model, train_ds, val_ds, order=fv["order"].value, gamma=fv["gamma"].value,
            epsilon=fv["epsilon"].value, adjust=fv["adjust"].value,
            max_epochs=fv["max-epochs"].value, learning_rate=fv["learning-rate"].value)
    except (ValueError, FileNotFoundError, OSError) as e:
        raise UserError(str(e)) from e
    small.save(os.path.join(out, "compressed.keras"))
    with open(os.path.join(out, "compress.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(f"Wrote {os.path.join(out, 'compressed.keras')} and compress.json.")
    return 0


def _export(argv: list[str]) -> int:
    fv = flags.FlagValues()
    flags.DEFINE_enum("format", "tflite", ["tflite", "saved_model"], "what to write",
                      flag_values=fv)
    flags.DEFINE_enum("quantize", "none", ["none", "dynamic", "float16", "int8"],
                      "tflite: post-training quantization", flag_values=fv)
    flags.DEFINE_boolean("sparse", True, "tflite: sparse weight encoding (--nosparse: off)",
                         flag_values=fv)
    flags.DEFINE_boolean("keep-custom-op", False,
                         "saved_model: keep TfPe>SparseChannelConv2D (loads after import tf_pe)",
                         flag_values=fv)
    flags.DEFINE_integer("eval-take", None, "evaluate on the first N test examples",
                         flag_values=fv)
    flags.DEFINE_integer("representative-take", 500, "int8: calibrate on N training examples",
                         flag_values=fv)
    flags.DEFINE_string("data-dir", None, "tensorflow-datasets data dir (default: the run's)",
                        flag_values=fv)
    flags.DEFINE_string("out", None, "output path (default: RUN_DIR/model.tflite, "
                        "RUN_DIR/model.QUANTIZE.tflite or RUN_DIR/saved_model)", flag_values=fv)
    rest = _parse(fv, argv)
    if len(rest) != 2:
        raise UserError("usage: tf-pe export RUN_DIR [flags]")
    from tf_pe.export import export_run

    quantize = fv["quantize"].value
    try:
        export_run(rest[1], format=fv["format"].value,
                   quantize=None if quantize == "none" else quantize, out=fv["out"].value,
                   data_dir=fv["data-dir"].value, eval_take=fv["eval-take"].value,
                   representative_take=fv["representative-take"].value,
                   sparse=fv["sparse"].value, keep_custom_op=fv["keep-custom-op"].value)
    except (ValueError, FileNotFoundError, OSError) as e:
        raise UserError(str(e)) from e
    return 0


COMMANDS = {"train": _train, "benchmark": _benchmark, "summary": _summary,
            "compress": _compress, "export": _export}


def main(argv: list[str]) -> int:
    """Runs the command in `argv` (program name first); returns the exit status."""
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print(USAGE, file=sys.stdout if len(argv) >= 2 else sys.stderr)
        return 0 if len(argv) >= 2 else EXIT_USAGE
    command = argv[1]
    if command not in COMMANDS:
        print(f"tf-pe: error: unknown command {command!r}; choose one of "
              f"{', '.join(COMMANDS)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return COMMANDS[command]([f"tf-pe {command}", *argv[2:]])
    except UserError as e:
        print(f"tf-pe {command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE


def run() -> None:
    """Console-script entry point."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main(sys.argv))
