"""`tf-pe benchmark op`: one measured point on a tiny shape, the dispatch rule and
the table (the full run is `tf-pe benchmark op`, minutes)."""

import pytest
import tensorflow as tf

from tf_pe.bench import get_benchmark, op
from tf_pe.ops import loader

pytestmark = pytest.mark.skipif(loader.load() is None, reason="op library not built")


def test_registered():
    assert get_benchmark("op").run is op.run


def test_one_point_measures_every_implementation():
    point = op._layer_point(tf, ("net", "tiny", 8, 8, 8, 3, 1), 0.25, "block", 2, 0)
    for name in ("op", "dense", "grouped", "hybrid"):
        assert point[f"{name}_fwd_ms"] > 0 and point[f"{name}_fb_ms"] > 0
    assert point["fwd_speedup"] == pytest.approx(point["dense_fwd_ms"] / point["op_fwd_ms"])
    assert point["hybrid_fb_speedup"] == pytest.approx(point["dense_fb_ms"] /
                                                       point["hybrid_fb_ms"])
    random = op._layer_point(tf, ("net", "tiny", 8, 8, 8, 3, 1), 0.25, "random", 1, 0)
    assert "grouped_fb_ms" not in random and "hybrid_fb_ms" not in random
    assert point["ideal"] == pytest.approx(1 / point["nnz_fraction"])


def _point(pattern, density, fb, layer="conv3x3", in_channels=64):
    return {"pattern": pattern, "density": density, "nnz_fraction": density,
            "fb_speedup": fb, "fwd_speedup": fb,
            "layer": layer,
            "in_channels": in_channels}


def test_dispatch_rule_selects_the_most_points_that_all_win():
    p = _point
    points = [
        # block 3x3: 32 channels lose at 0.1; 64 and 128 win up to 0.25, lose at 0.5.
        p("block", 0.5, 0.9), p("block", 0.25, 1.5), p("block", 0.1, 2.0),
        p("block", 0.5, 1.2, in_channels=128), p("block", 0.25, 1.8, in_channels=128),
        p("block", 0.1, 3.0, in_channels=128),
        p("block", 0.25, 1.2, in_channels=32), p("block", 0.1, 0.8, in_channels=32),
        # random 3x3: wins only at 0.01, and by too little (1.03 <= 1.05) at 0.05.
        p("random", 0.1, 0.7), p("random", 0.05, 1.03), p("random", 0.01, 1.4),
        # block 1x1 never wins; block strided wins at 0.1 but loses at 0.01.
        p("block", 0.1, 0.5, "conv1x1"),
        p("block", 0.1, 1.5, "conv3x3 s2 56x56"), p("block", 0.01, 0.6, "conv3x3 s2 56x56"),
    ]
    rule = op.dispatch_rule(points)
    assert rule["block/kxk"] == {"max_density": 0.25, "min_in_channels": 64}
    assert rule["random/kxk"] == {"max_density": 0.01, "min_in_channels": 64}
    assert rule["block/1x1"] == {"max_density": 0.0, "min_in_channels": 0}
    assert rule["block/strided"] == {"max_density": 0.0, "min_in_channels": 0}
    assert rule["random/1x1"] == rule["random/strided"] == {"max_density": 0.0,
                                                             "min_in_channels": 0}
    assert op.dispatch_rule(points, margin=1.0)["random/kxk"]["max_density"] == 0.05


def test_grouped_rule_reads_the_grouped_speedups():
    points = [{**_point("block", d, 0.5), "grouped_fb_speedup": g, "grouped_fwd_speedup": g}
              for d, g in [(0.5, 1.3), (0.25, 2.0), (0.1, 3.0)]]
    points.append(_point("random", 0.1, 2.0))  # no grouped timing
    rule = op.dispatch_rule(points, implementation="grouped")
    assert rule["block/kxk"] == {"max_density": 0.5, "min_in_channels": 64}
    assert rule["random/kxk"] == {"max_density": 0.0, "min_in_channels": 0}
    assert op.dispatch_rule(points)["block/kxk"]["max_density"] == 0.0


def test_markdown_has_a_row_per_point():
    point = {"net": "n", "layer": "l", "pattern": "block", "density": 0.1, "op_fwd_ms": 1.0,
             "dense_fwd_ms": 2.0, "fwd_speedup": 2.0, "op_fb_ms": 3.0, "dense_fb_ms": 6.0,
             "fb_speedup": 2.0, "ideal": 10.0, "auto": "op", "auto_fwd_speedup": 2.0,
             "auto_fb_speedup": 2.0}
    table = op._markdown([point, point], None)
    assert table.count("| n | l | block | 0.1 |") == 2


def test_preference_orders_by_pairwise_wins_at_each_density():
    def point(d, fb, g, h, in_channels=64, fraction=None):
        return {**_point("block", d, fb, in_channels=in_channels),
                "nnz_fraction": fraction or d, "grouped_fb_speedup": g,
                "grouped_fwd_speedup": g, "hybrid_fb_speedup": h, "hybrid_fwd_speedup": h}

    points = [point(0.05, 2.5, 2.0, 3.0), point(0.1, 2.5, 2.0, 3.0),
              point(0.1, 2.0, 1.9, 2.2, 256, fraction=0.1015625),
              point(0.25, 1.2, 2.0, 1.5), point(0.25, 1.1, 1.8, 1.6, 256)]
    rules = {name: op.dispatch_rule(points, implementation=name)
             for name in ("hybrid", "grouped", "op")}
    prefer = op.preference(points, rules)
    # 0.05 and 0.1: hybrid beats both, the op beats grouped (merged, up to the
    # largest active fraction at 0.1); 0.25: grouped, then hybrid, then the op.
    assert prefer["block/kxk"] == [[0.1015625, ["hybrid", "op", "grouped"]],
                                   [0.25, ["grouped", "hybrid", "op"]]]
    assert prefer["random/kxk"] == []  # no point
    # Where hybrid's rule selects nothing, it wins nothing: the others decide.
    slow = [{**p, "hybrid_fb_speedup": 0.5} for p in points]
    rules["hybrid"] = op.dispatch_rule(slow, implementation="hybrid")
    assert op.preference(slow, rules)["block/kxk"][0] == [0.1015625,
                                                         ["op", "hybrid", "grouped"]]


def test_auto_choice_takes_the_first_preferred_implementation_that_selects():
    never = {"max_density": 0.0, "min_in_channels": 0}
    rules = {"op": {"block/kxk": {"max_density": 0.25, "min_in_channels": 64},
                    "random/kxk": {"max_density": 0.05, "min_in_channels": 0}},
             "grouped": {"block/kxk": {"max_density": 0.5, "min_in_channels": 32},
                         "random/kxk": never},
             "hybrid": {"block/kxk": {"max_density": 0.1, "min_in_channels": 64},
                        "random/kxk": never},
             "prefer": {"block/kxk": [[1.0, ["hybrid", "op", "grouped"]]],
                        "random/kxk": [[1.0, ["hybrid", "grouped", "op"]]]}}
    block = {**_point("block", 0.1, 2.0), "fwd_speedup": 2.5, "grouped_fwd_speedup": 3.0,
             "grouped_fb_speedup": 2.5, "hybrid_fwd_speedup": 2.4, "hybrid_fb_speedup": 2.6}
    assert op.auto_choice(block, rules) == "hybrid"
    assert op.auto_choice({**block, "nnz_fraction": 0.25}, rules) == "op"
    assert op.auto_choice({**block, "nnz_fraction": 0.5}, rules) == "grouped"
    assert op.auto_choice({**block, "in_channels": 16}, rules) == "dense"
    assert op.auto_choice(_point("random", 0.05, 1.5), rules) == "op"  # no hybrid timing
    chosen = op._with_auto({**block, "nnz_fraction": 0.5}, rules)
    assert (chosen["auto_fwd_speedup"], chosen["auto_fb_speedup"]) == (3.0, 2.5)
    assert op._with_auto({**block, "in_channels": 16}, rules)["auto_fb_speedup"] == 1.0


def test_a_slower_forward_keeps_a_point_out_of_the_rule():
    points = [_point("block", 0.25, 2.0), {**_point("block", 0.5, 2.0), "fwd_speedup": 0.9}]
    assert op.dispatch_rule(points)["block/kxk"] == {"max_density": 0.25, "min_in_channels": 64}
    assert op.dispatch_rule(points[1:])["block/kxk"]["max_density"] == 0.0


def test_dispatch_source_is_the_rule_as_python():
    never = {"max_density": 0.0, "min_in_channels": 0}
    classes = [f"{p}/{k}" for p in ("block", "random") for k in ("kxk", "1x1", "strided")]
    rules = {name: {key: never for key in classes}
             for name in ("op", "grouped", "hybrid", "grouped_bfloat16")}
    rules["hybrid"]["block/kxk"] = {"max_density": 0.1015625, "min_in_channels": 64}
    rules["prefer"] = {key: [[1.0, ["hybrid", "grouped", "op"]]] for key in classes}
    rules["prefer"]["block/kxk"] = [[0.1, ["op", "grouped", "hybrid"]],
                                    [1.0, ["grouped", "hybrid", "op"]]]
    namespace = {}
    exec(op.dispatch_source(rules), namespace)  # our own generated source
    assert namespace["RULE"] == {name: rules[name] for name in
                                 ("op", "grouped", "hybrid", "grouped_bfloat16")}
    assert namespace["PREFER"]["block/kxk"] == ((0.1, ("op", "grouped", "hybrid")),
                                                (1.0, ("grouped", "hybrid", "op")))
    assert namespace["PREFER"]["random/1x1"] == ((1.0, ("hybrid", "grouped", "op")),)
    assert all(len(line) <= 100 for line in op.dispatch_source(rules).splitlines())


def test_derive_rules_needs_a_win_in_every_run():
    run_a = [_point("block", 0.1, 2.0), _point("block", 0.25, 1.5)]
    run_b = [_point("block", 0.1, 1.8), _point("block", 0.25, 1.0)]  # loses at 0.25
    assert op.derive_rules(run_a, [])["op"]["block/kxk"]["max_density"] == 0.25
    assert op.derive_rules(run_a + run_b, [])["op"]["block/kxk"]["max_density"] == 0.1
