"""Every tutorial in colab/ runs top to bottom (on its small `QUICK` settings)."""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).parents[2] / "colab").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_is_committed_without_outputs(path, fashion_data_dir, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "strip outputs"
    monkeypatch.setenv("TFDS_DATA_DIR", fashion_data_dir)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in notebook.cells for o in c.get("outputs", [])]
    assert "test accuracy" in "".join(o.get("text", "") for o in outputs)
    # A tf_pe.viz figure displays as a PNG (after %matplotlib inline).
    draws = sum("tf_pe.viz." in c.source for c in notebook.cells if c.cell_type == "code")
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    assert images >= draws
