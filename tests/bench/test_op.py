"""`tf-pe benchmark op`: one measured point on a tiny shape, the crossover rule and
the table (the full run is `tf-pe benchmark op`, minutes)."""

import pytest
import tensorflow as tf

from tf_pe.bench import get_benchmark, op
from tf_pe.ops import loader

pytestmark = pytest.mark.skipif(loader.load() is None, reason="op library not built")


def test_registered():
    assert get_benchmark("op").run is op.run


def test_one_point_measures_both_sides():
    point = op._layer_point(tf, ("net", "tiny", 8, 8, 8, 3, 1), 0.25, "block", 2, 0)
    for key in ("op_fwd_ms", "dense_fwd_ms", "op_fb_ms", "dense_fb_ms"):
        assert point[key] > 0
    assert point["fwd_speedup"] == pytest.approx(point["dense_fwd_ms"] / point["op_fwd_ms"])
    assert point["ideal"] == pytest.approx(1 / point["nnz_fraction"])


def test_crossover_is_the_largest_density_winning_on_most_shapes():
    def p(pattern, density, fb, layer="conv3x3"):
        return {"pattern": pattern, "density": density, "fb_speedup": fb, "layer": layer}

    points = [p("block", 0.1, 3), p("block", 0.1, 2), p("block", 0.5, 1.2), p("block", 0.5, 0.9),
              p("block", 0.25, 1.5), p("block", 0.25, 1.1), p("random", 0.1, 0.8),
              p("random", 0.1, 0.7), p("block", 0.1, 0.5, "conv1x1"),
              p("block", 0.5, 1.5, "conv3x3 s2 56x56")]
    assert op.crossover(points) == {"block/kxk": 0.25, "block/1x1": 0.0, "random/kxk": 0.0,
                                    "random/1x1": 0.0, "block/strided": 0.5,
                                    "random/strided": 0.0}


def test_markdown_has_a_row_per_point():
    point = {"net": "n", "layer": "l", "pattern": "block", "density": 0.1, "op_fwd_ms": 1.0,
             "dense_fwd_ms": 2.0, "fwd_speedup": 2.0, "op_fb_ms": 3.0, "dense_fb_ms": 6.0,
             "fb_speedup": 2.0, "ideal": 10.0}
    table = op._markdown([point, point], None)
    assert table.count("| n | l | block | 0.1 |") == 2
