"""`tf-pe benchmark predict --quick` end to end."""

import json

import pytest

from tf_pe import cli


def test_quick_benchmark_writes_table_plots_and_checks(tmp_path, fashion_data_dir):
    out = tmp_path / "bench"
    status = cli.main(["tf-pe", "benchmark", "predict", "--quick", f"--out={out}",
                       f"--data-dir={fashion_data_dir}"])
    assert status == 0
    result = json.loads((out / "results.json").read_text())
    labels = [(r["model"], r["dictionary"]) for r in result["rows"]]
    assert labels == [("mlp", "nokernel"), ("mlp", "lowrank-lowrank"), ("mlp", "se-emp"),
                      ("lenet5", "nokernel"), ("lenet5", "se")]
    by = {label: r for label, r in zip(labels, result["rows"], strict=True)}
    base = by[("mlp", "nokernel")]
    assert base["proportion_learned"] == 1.0 and base["params"] == 648_010
    # SE-Emp at 25%: hidden layers learn a quarter of their kernels, logits all
    se = by[("mlp", "se-emp")]
    expected = (196 * 500 + 500) + (125 * 500 + 500) + 5010
    assert se["dynamic"] == expected
    assert se["proportion_learned"] == pytest.approx(expected / 648_010)
    assert by[("mlp", "lowrank-lowrank")]["proportion_learned"] == pytest.approx(
        se["proportion_learned"], rel=0.05)
    assert set(result["checks"]) == {"se_emp_minus_nokernel", "se_emp_minus_lowrank", "held"}
    assert len(result["filters"]["relative_error"]) == 4
    assert (out / "error.png").stat().st_size > 1000
    assert (out / "filters.png").stat().st_size > 1000
    assert "| mlp | se-emp | 0.25 |" in (out / "results.md").read_text()
