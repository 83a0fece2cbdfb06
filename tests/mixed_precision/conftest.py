"""The mixed precision policies under test; the global policy is reset after each test."""

import keras
import pytest

# Policy -> (compute dtype, relative tolerance against float32).
POLICIES = {"mixed_float16": ("float16", 1e-2), "mixed_bfloat16": ("bfloat16", 4e-2)}


@pytest.fixture(params=list(POLICIES))
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")
