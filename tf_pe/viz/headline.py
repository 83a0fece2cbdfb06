"""The README's headline figure: test accuracy against parameters for every
method, from the numbers the benchmarks measured (docs/benchmarks.md).

    python -m tf_pe.viz.headline                  # from docs/images/headline.json
    python -m tf_pe.viz.headline --runs=runs/bench  # re-read the benchmark results

With `--runs`, the points are read from the benchmarks' `results.json` files
(`channel/`, `dsr/`, `predict/`, `lre/` under that directory, as written by
`tf-pe benchmark NAME --out=DIR/NAME`) and written to the data file, each point
naming the file and row it comes from; the figure is always drawn from the data
file, so it can be regenerated without the (uncommitted) run directories.
"""

from __future__ import annotations

import argparse
import json
import os

from tf_pe.viz.accuracy import accuracy_vs_cost
from tf_pe.viz.figure import finish, panels

DATA = os.path.join("docs", "images", "headline.json")
FIGURE = os.path.join("docs", "images", "headline.png")
COLUMNS = 3


def _load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def _budget(epochs: int, take: int | None) -> str:
    return f"{epochs} epochs on {f'{take // 1000}k' if take else 'all 60k'} images"


def _channel(path: str) -> tuple[list[dict], list[dict]]:
    r = _load(path)
    s = r["settings"]
    panel = {"key": "channel", "xlabel": "active parameters",
             "title": f"Channel-sparse conv vs depth multiplier\n{r['model']}, "
                      f"{_budget(s['epochs'], s['take'])}"}
    points = [{"panel": "channel", "method": "dense", "params": r["full"]["active"],
               "accuracy": r["full"]["test_accuracy"], "source": f"{path}: full"}]
    for key, label in (("sparse", "channel-sparse random"),
                       ("depth_multiplier", "depth multiplier")):
        points += [{"panel": "channel", "method": label, "params": row["active"],
                    "accuracy": row["test_accuracy"], "source": f"{path}: {key}[{i}]"}
                   for i, row in enumerate(r[key])]
    return [panel], points


def _dsr(path: str) -> tuple[list[dict], list[dict]]:
    r = _load(path)
    s = r["settings"]
    labels = {"dsr": "DSR", "static": "static sparse", "set": "SET", "gmp": "GMP",
              "thin_dense": "thin dense", "tfmot": "tfmot prune_low_magnitude"}
    panels_, points = [], []
    for model in s["models"]:
        key = f"dsr_{model}"
        panels_.append({"key": key, "xlabel": "active parameters",
                        "title": f"Dynamic sparse reparameterization\n{model}, "
                                 f"{_budget(s['epochs'], s['take'])}"})
        points += [{"panel": key, "method": labels.get(row["method"], row["method"]),
                    "params": row["active"], "accuracy": row["accuracy"],
                    "source": f"{path}: rows[{i}]"}
                   for i, row in enumerate(r["rows"])
                   if row["model"] == model and "accuracy" in row]
    return panels_, points


def _predict(path: str) -> tuple[list[dict], list[dict]]:
    r = _load(path)
    s = r["settings"]
    panels_, points = [], []
    for model in dict.fromkeys(row["model"] for row in r["rows"]):
        key = f"predict_{model}"
        panels_.append({"key": key, "xlabel": "learned (dynamic) parameters",
                        "title": f"Weight prediction\n{model}, "
                                 f"{_budget(s['epochs'], s['take'])}"})
        points += [{"panel": key, "method": "dense" if row["dictionary"] == "nokernel"
                    else row["dictionary"], "params": row["dynamic"],
                    "accuracy": row["accuracy"], "source": f"{path}: rows[{i}]"}
                   for i, row in enumerate(r["rows"]) if row["model"] == model]
    return panels_, points


def _lre(path: str) -> tuple[list[dict], list[dict]]:
    r = _load(path)
    s = r["settings"]
    panel = {"key": "lre", "xlabel": "parameters", "connect": False,
             "title": f"LRE-AMC compression (epsilon {s['epsilon']:g}), trained "
                      f"{s['train_epochs']} epochs;\naccuracy on test[{s['val_take']}:]"}
    points, seen = [], set()
    for i, row in enumerate(r["rows"]):
        if row["model"] not in seen:
            seen.add(row["model"])
            points.append({"panel": "lre", "method": f"{row['model']} before compression",
                           "params": row["params_before"],
                           "accuracy": row["test_accuracy_before"],
                           "source": f"{path}: rows[{i}].test_accuracy_before"})
        points.append({"panel": "lre", "method": f"{row['model']} LRE-AMC (TD/RR x wAdj/noAdj)",
                       "params": row["params_after"], "accuracy": row["test_accuracy_after"],
                       "source": f"{path}: rows[{i}]"})
    return [panel], points


READERS = {"channel": _channel, "dsr": _dsr, "predict": _predict, "lre": _lre}


def collect(runs: str) -> dict:
    """Reads the benchmarks' `results.json` files under `runs`.

    Args:
        runs: a directory with `channel/`, `dsr/`, `predict/` and `lre/`
            subdirectories, each holding a benchmark's `results.json`; missing
            ones are left out.

    Returns:
        `{"panels": [...], "points": [...]}`, every point with its `source`.

    Raises:
        ValueError: naming `runs` when it holds none of the results.
    """
    data = {"panels": [], "points": []}
    for name, reader in READERS.items():
        path = os.path.join(runs, name, "results.json")
        if os.path.exists(path):
            panels_, points = reader(path)
            data["panels"] += panels_
            data["points"] += points
    if not data["panels"]:
        raise ValueError(f"`runs` {runs!r} holds no benchmark results.json under "
                         f"{', '.join(READERS)}.")
    return data


def headline_figure(data: dict, path=None, columns: int = COLUMNS):
    """Draws one accuracy-vs-parameters panel per entry of `data["panels"]`.

    Args:
        data: `{"panels": [{"key", "title", "xlabel", optional "connect"}],
            "points": [{"panel", "method", "params", "accuracy"}]}`, as
            `collect` returns.
        path: where to save the figure. Defaults to None.
        columns: panels per row. Defaults to 3.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    count = len(data["panels"])
    rows = -(-count // columns)
    fig, axes = panels(rows, min(columns, count), None, (5.6, 4.6))
    for ax, panel in zip(axes, data["panels"], strict=False):
        accuracy_vs_cost([p for p in data["points"] if p["panel"] == panel["key"]],
                         ax=ax, title=panel["title"], xlabel=panel["xlabel"],
                         connect=panel.get("connect", True))
        ax.legend(fontsize=7)
    for ax in axes[count:]:
        ax.set_axis_off()
    fig.suptitle("tf_pe on Fashion-MNIST: test accuracy vs parameters "
                 "(one seed each, short CPU budgets; see docs/benchmarks.md)")
    return finish(fig, path, dpi=90)


def main(argv=None) -> None:
    """Regenerates the headline figure (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", help="re-read benchmark results from this directory "
                        "and rewrite --data")
    parser.add_argument("--data", default=DATA, help="the points (JSON)")
    parser.add_argument("--out", default=FIGURE, help="the figure (PNG)")
    args = parser.parse_args(argv)
    if args.runs:
        with open(args.data, "w") as f:
            json.dump({"about": "Points of docs/images/headline.png, read by "
                                "`python -m tf_pe.viz.headline --runs=...` from the "
                                "benchmark results named in each point's source.",
                       **collect(args.runs)}, f, indent=1)
            f.write("\n")
    headline_figure(_load(args.data), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
