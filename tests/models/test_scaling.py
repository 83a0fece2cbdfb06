"""Tests for tf_pe.models.scaling (Changpinyo et al. 2017, sec. 5.2.1)."""

import math

import pytest

from tf_pe.models import scale_width
from tf_pe.models.scaling import check_depth_multiplier


@pytest.mark.parametrize(
    ("width", "alpha", "expected"),
    [
        (6, 1.0, 6),
        (6, 0.25, 3),  # ceil(0.5 * 6)
        (16, 0.25, 8),
        (120, 0.25, 60),
        (84, 0.1, 27),  # ceil(0.316... * 84) = ceil(26.56)
        (300, 0.01, 30),  # sqrt(0.01) * 300 = 30.000000000000004 in floats
        (100, 0.09, 30),  # 0.3 * 100 = 30.000000000000004 in floats
        (5, 0.0001, 1),  # never below one
        (64, 4.0, 128),  # alpha > 1 widens
    ],
)
def test_scale_width_values(width, alpha, expected):
    assert scale_width(width, alpha) == expected


def test_scale_width_identity_at_one():
    assert all(scale_width(n, 1.0) == n for n in range(1, 2049))


def test_scale_width_matches_ceil_sqrt_off_integers():
    for n in (7, 33, 500, 1024):
        for alpha in (0.05, 0.2, 0.5, 0.7):
            exact = math.sqrt(alpha) * n
            if abs(exact - round(exact)) > 1e-6:
                assert scale_width(n, alpha) == math.ceil(exact)


@pytest.mark.parametrize("width", [0, -3, 2.5, True, "8", None])
def test_scale_width_rejects_bad_width(width):
    with pytest.raises(ValueError, match="width"):
        scale_width(width, 0.5)


@pytest.mark.parametrize("alpha", [0, -0.5, float("nan"), float("inf"), "0.5", None, True])
def test_depth_multiplier_rejected(alpha):
    with pytest.raises(ValueError, match="depth_multiplier"):
        check_depth_multiplier(alpha)
    with pytest.raises(ValueError, match="depth_multiplier"):
        scale_width(8, alpha)


def test_check_depth_multiplier_returns_float():
    assert check_depth_multiplier(1) == 1.0
    assert isinstance(check_depth_multiplier(1), float)
