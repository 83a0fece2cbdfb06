import math

import numpy as np
import pytest

from tf_pe.sparsity import patterns

SHAPES = [(1, 1), (1, 32), (32, 1), (3, 5), (5, 3), (32, 64), (64, 128), (7, 7)]
DENSITIES = [0.001, 0.02, 0.1, 0.5, 1.0]


def no_dead_filters(mask):
    return bool((mask.sum(axis=0) > 0).all() and (mask.sum(axis=1) > 0).all())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", DENSITIES)
def test_random_mask_exact_count_and_no_dead_filters(shape, density):
    mask = patterns.random_mask(*shape, density, seed=3)
    assert mask.shape == shape and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert int(mask.sum()) == patterns.active_count(*shape, density)
    assert no_dead_filters(mask)


def test_active_count_by_hand():
    assert patterns.active_count(32, 64, 0.1) == 205  # round(204.8)
    assert patterns.active_count(32, 64, 0.02) == 64  # round(40.96) raised to max(in, out)
    assert patterns.active_count(64, 128, 1.0) == 8192
    # One channel on a side: sqrt(density) (Changpinyo et al. 2017, sec. 5.2.1).
    assert patterns.active_count(1, 100, 0.25) == 100  # sqrt(0.25)*100 = 50, raised to 100
    assert patterns.active_count(100, 1, 0.25) == 100
    assert patterns.layer_fraction(1, 32, 0.04) == pytest.approx(0.2)
    assert patterns.layer_fraction(2, 32, 0.04) == 0.04


def test_random_mask_is_deterministic_by_seed():
    a = patterns.random_mask(32, 64, 0.1, seed=1)
    np.testing.assert_array_equal(a, patterns.random_mask(32, 64, 0.1, seed=1))
    assert not np.array_equal(a, patterns.random_mask(32, 64, 0.1, seed=2))


def test_random_mask_is_roughly_uniform():
    # Each cell should be active with probability count / size; over many seeds the
    # per-cell frequency concentrates around it (binomial, 400 draws, p = 0.25).
    hits = sum(patterns.random_mask(8, 8, 0.25, seed=s) for s in range(400))
    freq = hits / 400
    assert abs(freq.mean() - 0.25) < 1e-9
    assert freq.min() > 0.15 and freq.max() < 0.35


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", DENSITIES)
def test_block_mask_groups_share_inputs(shape, density):
    mask = patterns.block_mask(*shape, density, seed=0)
    assert no_dead_filters(mask)
    in_ch, out_ch = shape
    k = min(in_ch, max(round(patterns.layer_fraction(in_ch, out_ch, density) * in_ch),
                       math.ceil(in_ch / out_ch)))
    assert (mask.sum(axis=0) == k).all()
    groups = {tuple(col) for col in mask.T}
    assert len(groups) <= math.ceil(in_ch / k)
    # Outputs of a group are contiguous: the column pattern changes at most groups-1 times.
    changes = sum(not np.array_equal(mask[:, j], mask[:, j + 1]) for j in range(out_ch - 1))
    assert changes == len(groups) - 1


def test_connection_mask_dispatches_and_validates():
    np.testing.assert_array_equal(patterns.connection_mask(4, 6, 0.5, "block", seed=1),
                                  patterns.block_mask(4, 6, 0.5, seed=1))
    with pytest.raises(ValueError, match="`pattern` must be one of random, block"):
        patterns.connection_mask(4, 6, 0.5, "strided")
    for bad in (0.0, -0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match="`density`"):
            patterns.connection_mask(4, 6, bad)
    with pytest.raises(ValueError, match="`in_channels` must be an integer >= 1"):
        patterns.random_mask(0, 6, 0.5)
    with pytest.raises(ValueError, match="`out_channels`"):
        patterns.random_mask(3, 0, 0.5)


def test_grow_mask_keeps_old_connections_and_reaches_count():
    mask = patterns.random_mask(16, 24, 0.05, seed=0)
    grown = patterns.grow_mask(mask, 100, seed=1)
    assert int(grown.sum()) == 100
    assert (grown >= mask).all()
    np.testing.assert_array_equal(grown, patterns.grow_mask(mask, 100, seed=1))
    # Already at or above the count: unchanged.
    np.testing.assert_array_equal(patterns.grow_mask(grown, 50, seed=2), grown)
    full = patterns.grow_mask(grown, grown.size, seed=3)
    assert full.all()


def test_grow_mask_connects_dead_filters_first():
    mask = np.zeros((5, 7), dtype="float32")
    mask[0, 0] = 1
    grown = patterns.grow_mask(mask, 7, seed=0)  # max(5, 7): the fewest without dead filters
    assert int(grown.sum()) == 7 and no_dead_filters(grown)


def test_grow_mask_bad_arguments():
    with pytest.raises(ValueError, match="`mask` must be 2-D"):
        patterns.grow_mask(np.ones((2, 2, 2)), 3)
    with pytest.raises(ValueError, match="`count` must be at most"):
        patterns.grow_mask(np.ones((2, 2)), 5)
