"""Width scaling by a depth multiplier (Changpinyo et al. 2017, sec. 5.2.1).

In "The Power of Sparsity in Convolutional Neural Networks" (Changpinyo, Sandler,
Zhmoginov 2017) the dense baseline for a parameter budget ``alpha`` scales every
hidden width ``n`` to ``ceil(sqrt(alpha) * n)``. Since a layer's parameter count is
roughly the product of its input and output widths, the network then has about an
``alpha`` fraction of the original parameters. Input channels and the number of
classes never change.

Every model builder in `tf_pe.models` computes its widths with `scale_width`, so a
benchmark can reproduce the exact widths of a scaled model without building it.
"""

import math
import numbers

__all__ = ["check_depth_multiplier", "scale_width"]

# Relative tolerance under which sqrt(alpha) * n counts as an integer, so that
# floating-point noise (sqrt(0.01) * 300 == 30.000000000000004) does not round up.
_INTEGER_TOLERANCE = 1e-9


def check_depth_multiplier(depth_multiplier: float) -> float:
    """Validates a depth multiplier.

    Args:
        depth_multiplier: The parameter fraction ``alpha``; a finite real number > 0.
            Values above 1 widen the network.

    Returns:
        ``depth_multiplier`` as a Python float.

    Raises:
        ValueError: If ``depth_multiplier`` is not a finite real number > 0.
    """
    if (
        isinstance(depth_multiplier, bool)
        or not isinstance(depth_multiplier, numbers.Real)
        or not math.isfinite(depth_multiplier)
        or depth_multiplier <= 0
    ):
        raise ValueError(
            f"`depth_multiplier` must be a finite number > 0, got {depth_multiplier!r}."
        )
    return float(depth_multiplier)


def scale_width(width: int, depth_multiplier: float) -> int:
    """Scales a hidden width by a depth multiplier: ``ceil(sqrt(alpha) * width)``.

    This is the rule of Changpinyo et al. 2017, sec. 5.2.1: "each filter depth is
    scaled down by sqrt(alpha) and then rounded up", where ``alpha`` is the fraction
    of parameters to keep. A product within a relative 1e-9 of an integer is taken
    as that integer, so ``scale_width(300, 0.01)`` is 30, not 31.

    Args:
        width: The unscaled number of filters or units; an integer >= 1.
        depth_multiplier: The parameter fraction ``alpha``; a finite real number > 0.

    Returns:
        The scaled width, an integer >= 1.

    Raises:
        ValueError: If ``width`` is not an integer >= 1 or ``depth_multiplier`` is not a
            finite real number > 0.
    """
    if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
        raise ValueError(f"`width` must be an integer >= 1, got {width!r}.")
    alpha = check_depth_multiplier(depth_multiplier)
    scaled = math.sqrt(alpha) * int(width)
    nearest = round(scaled)
    if math.isclose(scaled, nearest, rel_tol=_INTEGER_TOLERANCE):
        return max(1, int(nearest))
    return max(1, math.ceil(scaled))
