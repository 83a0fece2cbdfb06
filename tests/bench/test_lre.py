"""`tf-pe benchmark lre` in quick mode: every Table-2 setting, Figure-1 curves, files."""

import json

from tf_pe import bench
from tf_pe.bench import lre


def test_quick_mode_writes_table_curves_and_plot(tmp_path, fashion_data_dir):
    result = bench.get_benchmark("lre").run(
        bench.BenchOptions(out=str(tmp_path), quick=True, data_dir=fashion_data_dir))
    rows = result["rows"]
    assert [(r["order"], r["adjust"]) for r in rows] == list(lre.SETTINGS)
    for r in rows:
        assert 0.0 <= r["removed"]["params"] < 1.0
        assert r["params_after"] <= r["params_before"] == 266_610
        assert r["removed"]["conv_params"] == 0.0  # LeNet-300-100 has no convolutions
        assert 0.0 <= r["test_accuracy_after"] <= 1.0
    curve = result["input_change"]["lenet_300_100"]
    assert curve["layer"] == "fc1" and len(curve["wAdj"]) == len(curve["noAdj"]) == 2
    # the same (most predictable) units go either way; only the weights differ
    assert [p["units"] for p in curve["wAdj"]] == [p["units"] for p in curve["noAdj"]]
    assert curve["wAdj"][0]["change"] != curve["noAdj"][0]["change"]
    assert all(p["change"] > 0 for p in curve["wAdj"] + curve["noAdj"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["checks"].keys() == {"lenet_300_100"}
    assert "TD(wAdj)" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "input_change.png").stat().st_size > 1000
