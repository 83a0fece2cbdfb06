"""The headline figure: points read from benchmark results, one panel each."""

import json
import pathlib

import pytest

from tf_pe.viz import headline

ROOT = pathlib.Path(__file__).parents[2]


def _write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))


@pytest.fixture
def runs(tmp_path):
    """Minimal results.json files with the fields the benchmarks write."""
    row = {"active": 10, "test_accuracy": 0.5}
    _write(tmp_path / "channel" / "results.json", {
        "model": "net", "settings": {"epochs": 1, "take": 2000},
        "full": {"active": 100, "test_accuracy": 0.9},
        "sparse": [row, {"active": 20, "test_accuracy": 0.6}], "depth_multiplier": [row]})
    _write(tmp_path / "lre" / "results.json", {
        "settings": {"epsilon": 0.05, "train_epochs": 1, "val_take": 100},
        "rows": [{"model": "m", "params_before": 100, "test_accuracy_before": 0.9,
                  "params_after": p, "test_accuracy_after": 0.8} for p in (10, 12)]})
    return tmp_path


def test_collect_reads_every_present_benchmark(runs):
    data = headline.collect(str(runs))
    assert [p["key"] for p in data["panels"]] == ["channel", "lre"]
    channel = [p for p in data["points"] if p["panel"] == "channel"]
    assert [(p["method"], p["params"]) for p in channel] == [
        ("dense", 100), ("channel-sparse random", 10), ("channel-sparse random", 20),
        ("depth multiplier", 10)]
    assert channel[2]["source"].endswith("sparse[1]")
    lre = [p for p in data["points"] if p["panel"] == "lre"]
    assert [p["params"] for p in lre] == [100, 10, 12]
    with pytest.raises(ValueError, match="`runs`"):
        headline.collect(str(runs / "nothing"))


def test_main_writes_data_and_one_panel_per_benchmark(runs, tmp_path):
    data, out = tmp_path / "h.json", tmp_path / "h.png"
    headline.main([f"--runs={runs}", f"--data={data}", f"--out={out}"])
    assert out.read_bytes()[:4] == b"\x89PNG"
    fig = headline.headline_figure(json.loads(data.read_text()))
    drawn = [ax for ax in fig.axes if ax.axison]
    assert len(drawn) == 2
    assert [len(ax.get_lines()) for ax in drawn] == [3, 2]
    assert all(line.get_linestyle() == "None" for line in drawn[1].get_lines())


def test_committed_points_are_the_numbers_in_docs_benchmarks():
    data = json.loads((ROOT / headline.DATA).read_text())
    docs = (ROOT / "docs" / "benchmarks.md").read_text()
    assert len(data["panels"]) == 6
    for p in data["points"]:
        if p["panel"].startswith("predict"):
            shown = f"{100 * (1 - p['accuracy']):.2f}%"
        elif p["panel"] == "lre":
            shown = f"{p['params']:,}"
        else:
            shown = f"{100 * p['accuracy']:.2f}"
        assert shown in docs, p
