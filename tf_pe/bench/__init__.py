"""Experiment runners behind `tf-pe benchmark NAME`."""

from tf_pe.bench import (
    channel,  # noqa: F401  (registers "channel")
    distribute,  # noqa: F401  (registers "distribute")
    dsr,  # noqa: F401  (registers "dsr")
    export,  # noqa: F401  (registers "export")
    lre,  # noqa: F401  (registers "lre")
    op,  # noqa: F401  (registers "op")
    predict,  # noqa: F401  (registers "predict")
)
from tf_pe.bench.registry import (
    Benchmark,
    BenchOptions,
    available_benchmarks,
    get_benchmark,
    register_benchmark,
)

__all__ = [
    "BenchOptions",
    "Benchmark",
    "available_benchmarks",
    "get_benchmark",
    "register_benchmark",
]
