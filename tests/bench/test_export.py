"""`tf-pe benchmark export` in quick mode: every file of every model, sizes, latency."""

import json
import os

import numpy as np

from tf_pe import bench
from tf_pe.bench import export


def test_quick_mode_exports_measures_and_writes(tmp_path, fashion_data_dir):
    result = bench.get_benchmark("export").run(
        bench.BenchOptions(out=str(tmp_path), quick=True, data_dir=fashion_data_dir))
    rows = {r["model"]: r for r in result["rows"]}
    assert list(rows) == list(export.QUICK.methods)
    for name, r in rows.items():
        assert r["keras_bytes"] == os.path.getsize(tmp_path / name / "model.keras")
        assert r["saved_model_bytes"] > 0
        assert set(r["tflite"]) == {"float", "dynamic"}
        for t in r["tflite"].values():
            assert t["size_bytes"] == os.path.getsize(t["path"])
            assert t["agreement"]["examples"] == export.QUICK.eval_take
            assert 0.0 <= t["agreement"]["tflite_accuracy"] <= 1.0
            assert t["latency_ms"] > 0
        # int8 weights take about a quarter of float32's bytes in the file
        assert r["tflite"]["dynamic"]["size_bytes"] < 0.5 * r["tflite"]["float"]["size_bytes"]
    dense = rows["dense"]["tflite"]
    assert dense["float"]["latency_vs_dense"] == 1.0
    ratio = rows["channel"]["tflite"]["float"]
    np.testing.assert_allclose(
        ratio["latency_vs_dense"], ratio["latency_ms"] / dense["float"]["latency_ms"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["model"] for r in saved["rows"]] == list(rows)
    assert "TFLite dynamic acc." in (tmp_path / "results.md").read_text()

