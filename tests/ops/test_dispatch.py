"""`tf_pe.ops.dispatch`: modes, layer classes and the measured rule as a function
(on a known rule: the committed values change with each measurement)."""

import pytest

from tf_pe.ops import dispatch

CLASSES = {f"{pattern}/{kind}" for pattern in ("block", "random")
           for kind in ("kxk", "1x1", "strided")}


@pytest.fixture
def rule(monkeypatch):
    """A known rule on a machine without a GPU."""
    never = {"max_density": 0.0, "min_in_channels": 0}
    table = {"op": {**{key: never for key in CLASSES},
                    "block/kxk": {"max_density": 0.25, "min_in_channels": 64},
                    "random/1x1": {"max_density": 0.05, "min_in_channels": 0}},
             "grouped": {**{key: never for key in CLASSES},
                         "block/kxk": {"max_density": 0.5, "min_in_channels": 16}}}
    monkeypatch.setattr(dispatch, "RULE", table)
    monkeypatch.setattr(dispatch, "_gpu_visible", lambda: False)
    return table


@pytest.mark.parametrize(("kernel_size", "strides", "expected"), [
    ((3, 3), (1, 1), "kxk"), ((1, 3), (1, 1), "kxk"), ((1, 1), (1, 1), "1x1"),
    ((3, 3), (2, 2), "strided"), ((1, 1), (1, 2), "strided"),
])
def test_layer_class(kernel_size, strides, expected):
    assert dispatch.layer_class("block", kernel_size, strides) == f"block/{expected}"


def test_max_density_is_the_class_limit_from_the_channel_floor(rule):
    assert dispatch.max_density("op", "block", (3, 3), (1, 1), 64) == 0.25
    assert dispatch.max_density("op", "block", (3, 3), (1, 1), 512) == 0.25
    assert dispatch.max_density("op", "block", (3, 3), (1, 1), 63) == 0.0
    assert dispatch.max_density("op", "random", (1, 1), (1, 1), 1) == 0.05
    assert dispatch.max_density("op", "block", (3, 3), (2, 2), 512) == 0.0
    assert dispatch.max_density("grouped", "block", (3, 3), (1, 1), 16) == 0.5
    assert dispatch.max_density("grouped", "block", (3, 3), (1, 1), 15) == 0.0
    assert dispatch.max_density("grouped", "random", (3, 3), (1, 1), 512) == 0.0
    with pytest.raises(ValueError, match="`implementation`"):
        dispatch.max_density("gpu", "block", (3, 3), (1, 1), 64)


def test_a_visible_gpu_keeps_auto_on_the_dense_convolution(rule, monkeypatch):
    monkeypatch.setattr(dispatch, "_gpu_visible", lambda: True)
    assert dispatch.max_density("op", "block", (3, 3), (1, 1), 512) == 0.0
    assert dispatch.max_density("grouped", "block", (3, 3), (1, 1), 512) == 0.0


def test_rule_has_valid_values_and_every_class_for_the_op():
    assert set(dispatch.RULE) == {"op", "grouped", "hybrid", "grouped_bfloat16"}
    assert set(dispatch.PREFER) == CLASSES
    for entries in dispatch.PREFER.values():
        limits = [limit for limit, _ in entries]
        assert limits == sorted(limits) and limits[0] > 0.0 and limits[-1] == 1.0
        assert all(sorted(names) == sorted(dispatch.IMPLEMENTATIONS) for _, names in entries)
    assert all(set(table) == CLASSES for table in dispatch.RULE.values())
    for table in dispatch.RULE.values():
        for entry in table.values():
            assert 0.0 <= entry["max_density"] <= 1.0
            assert isinstance(entry["min_in_channels"], int) and entry["min_in_channels"] >= 0


def test_mode_comes_from_set_mode_then_the_environment(monkeypatch):
    monkeypatch.setenv("TF_PE_SPARSE_DISPATCH", "dense")
    dispatch.set_mode(None)
    assert dispatch.mode() == "dense"
    dispatch.set_mode("op")
    try:
        assert dispatch.mode() == "op"
    finally:
        dispatch.set_mode(None)
    for name in dispatch.MODES:
        dispatch.set_mode(name)
        assert dispatch.mode() == name
    dispatch.set_mode(None)
    monkeypatch.setenv("TF_PE_SPARSE_DISPATCH", "fastest")
    with pytest.raises(ValueError, match="TF_PE_SPARSE_DISPATCH"):
        dispatch.mode()
    with pytest.raises(ValueError, match="`mode`"):
        dispatch.set_mode("fastest")


def test_order_takes_the_first_entry_that_reaches_the_density():
    entries = ((0.1, ("hybrid", "op", "grouped")), (0.25, ("grouped", "hybrid", "op")),
               (1.0, ("op", "grouped", "hybrid")))
    assert dispatch.order(entries, 0.05) == ("hybrid", "op", "grouped")
    assert dispatch.order(entries, 0.1) == ("hybrid", "op", "grouped")
    assert dispatch.order(entries, 0.1001) == ("grouped", "hybrid", "op")
    assert dispatch.order(entries, 0.5) == ("op", "grouped", "hybrid")
    assert dispatch.order(entries[:1], 0.5) == ("hybrid", "op", "grouped")  # above the last
    assert dispatch.order((), 0.1) == dispatch.IMPLEMENTATIONS
