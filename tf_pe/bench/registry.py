"""The registry behind `tf-pe benchmark NAME`.

A benchmark is an experiment runner that writes its results (a JSON file, a
Markdown table and a PNG plot) into an output directory; its numbers are the
ones `docs/benchmarks.md` publishes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from tf_pe._registry import Registry


@dataclasses.dataclass(frozen=True)
class BenchOptions:
    """Options every benchmark takes.

    Attributes:
        out: the directory to write results into.
        quick: small settings (a few steps per point) for smoke tests; the
            numbers are then meaningless. Defaults to False.
        seed: the first seed. Defaults to 0.
        data_dir: a tensorflow-datasets data dir. Defaults to None.
    """

    out: str
    quick: bool = False
    seed: int = 0
    data_dir: str | None = None

    def __post_init__(self):
        if not isinstance(self.out, str) or not self.out:
            raise ValueError(f"`out` must be a directory path, got {self.out!r}.")
        if not isinstance(self.quick, bool):
            raise ValueError(f"`quick` must be True or False, got {self.quick!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"`seed` must be an integer >= 0, got {self.seed!r}.")


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """A named experiment.

    Attributes:
        name: the `tf-pe benchmark` name.
        description: one line for the command's help.
        run: `run(options) -> dict` of results; writes its files to `options.out`.
    """

    name: str
    description: str
    run: Callable[[BenchOptions], dict]


_BENCHMARKS: Registry[Benchmark] = Registry("benchmark")


def register_benchmark(benchmark: Benchmark) -> Benchmark:
    """Registers `benchmark` under its name.

    Raises:
        TypeError: naming `benchmark` when it is not a `Benchmark`.
        ValueError: if the name is taken.
    """
    if not isinstance(benchmark, Benchmark):
        raise TypeError(f"`benchmark` must be a Benchmark, got {type(benchmark).__name__}.")
    return _BENCHMARKS.register(benchmark.name, benchmark)


def available_benchmarks() -> list[str]:
    """Returns the registered benchmark names."""
    return _BENCHMARKS.names()


def get_benchmark(name: str) -> Benchmark:
    """Returns the benchmark called `name`.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    return _BENCHMARKS.get(name)
