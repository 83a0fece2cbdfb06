"""`tf-pe benchmark distribute`: its measurements on tiny settings in this process
(one CPU device, so "mirrored" has one replica here; the benchmark's subprocess
splits the CPU in two), and the table."""

import pytest
import tensorflow as tf

from tf_pe.bench import distribute, get_benchmark

TINY = {"batch": 32, "steps": 3, "rounds": 1, "take": 96, "repeats": 1}


def test_registered():
    assert get_benchmark("distribute").run is distribute.run


def test_throughput_times_both_strategies(fashion_data_dir):
    strategies = {"one_device": tf.distribute.get_strategy(),
                  "mirrored": tf.distribute.MirroredStrategy(["/cpu:0"])}
    result = distribute._throughput(strategies, TINY, fashion_data_dir, 0)
    for name in strategies:
        assert len(result[name]["steady_examples_per_s"]) == TINY["rounds"]
        assert result[name]["median_steady_examples_per_s"] > 0
    assert result["fit_ratio_mirrored_over_one"] == pytest.approx(
        result["mirrored"]["median_fit_examples_per_s"]
        / result["one_device"]["median_fit_examples_per_s"])


def test_checkpoints_restore_the_masks():
    result = distribute._checkpoints(tf, {"one_device": tf.distribute.get_strategy()}, 1, 0,
                                     model_args=("lenet5", (28, 28, 1)))
    one = result["one_device"]
    assert one["masks_restored"] and one["keras_masks_restored"]
    assert one["checkpoint_write_s"] > 0 and one["keras_load_s"] > 0
    # float32 weights and masks plus SGD momentum: at least 4 bytes per parameter
    assert one["checkpoint_bytes"] > 4 * one["params"]


def test_markdown_has_both_tables():
    def rates(value):
        return {"replicas": 1, "median_steady_examples_per_s": value,
                "median_fit_examples_per_s": value / 2}

    results = {"settings": TINY, "throughput": {
        "one_device": rates(100.0), "mirrored": rates(50.0),
        "steady_ratio_mirrored_over_one": 0.5, "fit_ratio_mirrored_over_one": 0.5},
        "wrn_16_2": {"one_device": {"checkpoint_write_s": 0.1, "checkpoint_read_s": 0.2,
                                    "checkpoint_bytes": 2e6, "keras_save_s": 0.3,
                                    "keras_load_s": 0.4, "keras_bytes": 3e6}}}
    table = distribute._markdown(results)
    assert "| one_device | 1 | 100 | 50 |" in table
    assert "x0.50 (steps)" in table
    assert "| one_device | 0.100 | 0.200 | 2.00 | 0.300 | 0.400 | 3.00 |" in table
