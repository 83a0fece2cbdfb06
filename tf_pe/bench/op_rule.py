"""`python -m tf_pe.bench.op_rule RESULTS.json ...`: the dispatch rule of several
`tf-pe benchmark op` runs together, as the source of `tf_pe/ops/dispatch.py`.

Same-code speedups move by 10-30% between runs, so one run's rule can admit a
layer that another run measures slower. Derived from the points of all the runs
together (`tf_pe.bench.op.derive_rules`), a limit holds only where every selected
point of every run was faster, forward and forward+backward.
"""

from __future__ import annotations

import json
import sys

from tf_pe.bench.op import derive_rules, dispatch_source


def main(argv) -> int:
    """Prints `RULE` and `PREFER` derived from the results files `argv[1:]`."""
    if len(argv) < 2:
        print("usage: python -m tf_pe.bench.op_rule RESULTS.json [RESULTS.json ...]",
              file=sys.stderr)
        return 2
    points, bf16_points = [], []
    for path in argv[1:]:
        with open(path) as f:
            results = json.load(f)
        points += results["points"]
        bf16_points += results["bfloat16_points"]
    print(dispatch_source(derive_rules(points, bf16_points)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
