import pytest

from tf_pe import bench, cli
from tf_pe._registry import Registry
from tf_pe.bench import registry


@pytest.fixture
def fake_benchmark(monkeypatch):
    monkeypatch.setattr(registry, "_BENCHMARKS", Registry("benchmark"))
    runs = []
    bench.register_benchmark(bench.Benchmark("fake", "a test", runs.append))
    return runs


def test_register_get_and_list(fake_benchmark):
    assert bench.available_benchmarks() == ["fake"]
    assert bench.get_benchmark("fake").description == "a test"
    with pytest.raises(ValueError, match="already registered"):
        bench.register_benchmark(bench.Benchmark("fake", "again", print))
    with pytest.raises(ValueError, match="`benchmark` must be one of fake"):
        bench.get_benchmark("nope")


def test_cli_runs_the_benchmark_with_options(fake_benchmark, tmp_path):
    status = cli.main(["tf-pe", "benchmark", "fake", f"--out={tmp_path}", "--quick",
                       "--seed=3"])
    assert status == 0
    assert fake_benchmark == [bench.BenchOptions(out=str(tmp_path), quick=True, seed=3)]
    assert cli.main(["tf-pe", "benchmark", "fake"]) == 0
    assert fake_benchmark[-1].out == "runs/bench/fake"


def test_cli_bad_benchmark_names(fake_benchmark, capsys):
    assert cli.main(["tf-pe", "benchmark"]) == 2
    assert "NAME is one of fake" in capsys.readouterr().err
    assert cli.main(["tf-pe", "benchmark", "nope"]) == 2
    assert "`benchmark` must be one of fake" in capsys.readouterr().err
