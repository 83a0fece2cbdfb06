"""`tf-pe benchmark dsr --quick` end to end, and the thin-dense matching."""

import json

import pytest

from tf_pe import cli, models
from tf_pe.bench import dsr


def test_thin_multiplier_matches_the_parameter_count():
    alpha = dsr.thin_multiplier("lenet_300_100", 13_720)
    params = models.get("lenet_300_100", depth_multiplier=alpha).count_params()
    assert params == pytest.approx(13_720, rel=0.02)  # widths are integers


def test_quick_benchmark_writes_table_plot_and_checks(tmp_path, fashion_data_dir):
    out = tmp_path / "bench"
    status = cli.main(["tf-pe", "benchmark", "dsr", "--quick", f"--out={out}",
                       f"--data-dir={fashion_data_dir}"])
    assert status == 0
    result = json.loads((out / "results.json").read_text())
    methods = [r["method"] for r in result["rows"]]
    assert methods == ["dsr", "static", "set", "gmp", "thin_dense"]
    by = {r["method"]: r for r in result["rows"]}
    assert by["dsr"]["active"] == by["static"]["active"] == by["set"]["active"]
    assert by["gmp"]["active"] == pytest.approx(by["static"]["active"], abs=3)
    assert by["thin_dense"]["active"] == pytest.approx(by["static"]["active"], rel=0.02)
    assert by["dsr"]["effective_macs"] < by["dsr"]["macs"]
    assert by["dsr"]["reparam_steps"] == 2 and 0 < by["dsr"]["reparam_share"] < 1
    check = result["checks"]["lenet_300_100"]
    assert set(check) >= {"dsr_minus_static", "dsr_minus_thin_dense", "dsr_minus_gmp",
                          "dsr_share_of_training_time"}
    assert (out / "accuracy.png").stat().st_size > 1000
    assert (out / "layer_density.png").stat().st_size > 1000
    assert "| lenet_300_100 | 95% | dsr |" in (out / "results.md").read_text()
