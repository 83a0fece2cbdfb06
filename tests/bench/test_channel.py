import json

from tf_pe import cli
from tf_pe.bench import get_benchmark
from tf_pe.bench.channel import matching_depth_multiplier
from tf_pe.models import changpinyo_mnist
from tf_pe.sparsity import summary


def test_matching_depth_multiplier_hits_the_parameter_count():
    full = summary(changpinyo_mnist(), print_fn=None).total.params
    alpha = matching_depth_multiplier(full // 10)
    params = summary(changpinyo_mnist(depth_multiplier=alpha), print_fn=None).total.params
    assert abs(params - full // 10) < 0.02 * full
    same = summary(changpinyo_mnist(depth_multiplier=matching_depth_multiplier(full)),
                   print_fn=None).total.params
    assert same == full  # alphas just under 1 round the widths up to the full ones


def test_quick_benchmark_writes_results_table_and_plot(tmp_path, fashion_data_dir):
    assert get_benchmark("channel").name == "channel"
    out = tmp_path / "bench"
    status = cli.main(["tf-pe", "benchmark", "channel", "--quick", f"--out={out}",
                       f"--data-dir={fashion_data_dir}"])
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert results["quick"] and len(results["sparse"]) == len(results["depth_multiplier"]) == 2
    full = results["full"]
    for sparse, depth in zip(results["sparse"], results["depth_multiplier"], strict=True):
        assert sparse["active"] < full["active"] and sparse["params"] == full["params"]
        assert abs(depth["params"] - sparse["active"]) < 0.1 * sparse["active"]
        assert 0 <= sparse["test_accuracy"] <= 1
    incremental = results["incremental"]
    assert incremental["active"] == full["active"]  # densified to full by the end
    assert set(results["expectations"]) >= {"sparse_at_least_depth_at_low_budget",
                                            "incremental_within_0.5_points"}
    table = (out / "results.md").read_text()
    assert "| sparse random | 0.05 |" in table and "depth multiplier" in table
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "masks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
