"""`python -m tf_pe.bench.op_rule`: the rule of several benchmark runs together."""

import json

from tf_pe.bench import op, op_rule


def _results(path, fb_at_quarter):
    points = [{"net": "n", "layer": "conv3x3", "pattern": "block", "density": d,
               "nnz_fraction": d, "in_channels": 64, "fwd_speedup": fb, "fb_speedup": fb}
              for d, fb in ((0.1, 2.0), (0.25, fb_at_quarter))]
    path.write_text(json.dumps({"points": points, "bfloat16_points": []}))
    return str(path)


def open_text(path):
    with open(path) as f:
        return f.read()


def test_prints_the_rule_of_all_runs_together(tmp_path, capsys):
    a = _results(tmp_path / "a.json", 1.5)
    b = _results(tmp_path / "b.json", 0.9)
    assert op_rule.main(["op_rule", a]) == 0
    alone = capsys.readouterr().out
    assert op_rule.main(["op_rule", a, b]) == 0
    together = capsys.readouterr().out
    namespace = {}
    exec(together, namespace)  # our own generated source
    assert namespace["RULE"]["op"]["block/kxk"]["max_density"] == 0.1
    assert '"block/kxk": {"max_density": 0.25' in alone
    points = [p for path in (a, b) for p in json.loads(open_text(path))["points"]]
    assert together == op.dispatch_source(op.derive_rules(points, []))


def test_usage_without_files(capsys):
    assert op_rule.main(["op_rule"]) == 2
    assert "usage" in capsys.readouterr().err
