"""Per-layer densities: uniform and ERK against hand computations."""

import math

import pytest

from tf_pe.sparsity.distributions import layer_densities

SHAPES = [(5, 5, 1, 6), (5, 5, 6, 16), (400, 120), (120, 84), (84, 10)]
SIZES = [math.prod(s) for s in SHAPES]


def global_density(densities):
    return sum(d * n for d, n in zip(densities, SIZES, strict=True)) / sum(SIZES)


@pytest.mark.parametrize("distribution", ["uniform", "erk"])
@pytest.mark.parametrize("density", [0.02, 0.05, 0.1, 0.5])
@pytest.mark.parametrize("dense", [(), (0, 4)])
def test_sums_to_the_requested_density(distribution, density, dense):
    densities = layer_densities(SHAPES, density, distribution, dense)
    assert global_density(densities) == pytest.approx(density, rel=1e-9)
    assert all(0 < d <= 1 for d in densities)
    assert all(densities[i] == 1.0 for i in dense)


def test_uniform_with_dense_layers_by_hand():
    # Two layers of 100 and 300 weights at global 0.25 with the first dense:
    # the second keeps 0.25 * 400 - 100 = 0 -> too low; at 0.5: (200 - 100) / 300.
    assert layer_densities([(10, 10), (10, 30)], 0.5, "uniform", [0]) == pytest.approx(
        [1.0, 1 / 3])
    with pytest.raises(ValueError, match=r"`density`=0\.25 is too low"):
        layer_densities([(10, 10), (10, 30)], 0.25, "uniform", [0])


def test_erk_by_hand():
    # (10, 10): sum/prod = 0.2; (10, 30): 40/300. eps (0.2*100 + 0.1333*300) = 0.1 * 400.
    eps = 40 / (20 + 40)
    assert layer_densities([(10, 10), (10, 30)], 0.1, "erk") == pytest.approx(
        [eps * 0.2, eps * 40 / 300])


def test_erk_clamps_small_layers_to_dense():
    densities = layer_densities([(2, 2), (100, 100)], 0.5, "erk")
    assert densities[0] == 1.0
    assert global_density_of([(2, 2), (100, 100)], densities) == pytest.approx(0.5)


def global_density_of(shapes, densities):
    sizes = [math.prod(s) for s in shapes]
    return sum(d * n for d, n in zip(densities, sizes, strict=True)) / sum(sizes)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"density": 0}, "`density`"), ({"density": 1.1}, "`density`"),
    ({"distribution": "er"}, "`distribution`"), ({"dense": [7]}, "`dense`"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layer_densities(SHAPES, **{"density": 0.1, **kwargs})
