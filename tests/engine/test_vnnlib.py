"""VNN-LIB properties: the box read back exactly, output constraints as c^T y against a threshold, refusals named,
and the verdict (holds / violated / unknown) decided by certified bounds and forward passes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nnlab.engine.model.vnnlib import VnnlibError, read_vnnlib

BOX = [(0.6, 0.679857769), (-0.5, 0.5), (-0.5, 0.5), (0.45, 0.5), (-0.5, -0.45)]


def acas_prop1(t: float = 3.991125645861615) -> str:
    lines = ["; ACAS Xu property 1: the COC score is not too high", *[f"(declare-const X_{i} Real)" for i in range(5)],
             *[f"(declare-const Y_{j} Real)" for j in range(5)]]
    for i, (lo, hi) in enumerate(BOX):
        lines += [f"(assert (<= X_{i} {hi!r}))", f"(assert (>= X_{i} {lo!r}))"]
    lines.append(f"(assert (>= Y_0 {t!r}))")
    return "\n".join(lines) + "\n"


def test_box_and_output_constraint_are_read_back(tmp_path: Path) -> None:
    (tmp_path / "p1.vnnlib").write_text(acas_prop1())
    prop = read_vnnlib(tmp_path / "p1.vnnlib", 5)
    np.testing.assert_array_equal(prop.lower, [lo for lo, _ in BOX])
    np.testing.assert_array_equal(prop.upper, [hi for _, hi in BOX])
    assert prop.n_outputs == 5 and len(prop.constraints) == 1
    con = prop.constraints[0]
    assert con.c == (1.0, 0.0, 0.0, 0.0, 0.0) and con.op == ">=" and con.t == 3.991125645861615 and con.sense == "max"
    assert con.unreachable(3.9911) and not con.unreachable(3.9912) and not con.unreachable(None)


def test_comparisons_of_outputs_and_conjunctions(tmp_path: Path) -> None:
    text = "\n".join([*[f"(declare-const X_{i} Real)" for i in range(2)], *[f"(declare-const Y_{j} Real)" for j in range(3)],
                      "(assert (and (>= X_0 -1) (<= X_0 1) (>= X_1 0) (<= X_1 2)))",
                      "(assert (<= Y_1 Y_0))", "(assert (and (<= Y_2 Y_0)))", "(assert (<= Y_2 -0.5))"])
    (tmp_path / "p.vnnlib").write_text(text)
    prop = read_vnnlib(tmp_path / "p.vnnlib")
    assert prop.lower.tolist() == [-1.0, 0.0] and prop.upper.tolist() == [1.0, 2.0]
    cons = [(c.c, c.op, c.t) for c in prop.constraints]
    assert cons == [((1.0, -1.0, 0.0), ">=", 0.0), ((1.0, 0.0, -1.0), ">=", 0.0), ((0.0, 0.0, 1.0), "<=", -0.5)]
    y_bad, y_ok = np.array([1.0, 0.0, -1.0]), np.array([1.0, 2.0, -1.0])
    assert all(c.met(y_bad) for c in prop.constraints) and not all(c.met(y_ok) for c in prop.constraints)


@pytest.mark.parametrize("body,needle", [
    ("(assert (not (>= X_0 0)))", r"assertion '\(not .*' is not read .*'not' is not"),
    ("(assert (or (and (>= X_0 0) (<= X_0 1)) (>= X_0 2)))", r"X_0 has no lower and upper bound in case 2 of the 'or'"),
    ("(assert (>= X_0 0))", r"X_0 has no lower and upper bound; nnlab reads a box"),
    ("(assert (>= X_0 2)) (assert (<= X_0 1))", r"the box is empty"),
    ("(assert (>= X_0 0)) (assert (<= X_0 1)) (assert (>= X_9 1))", r"X_9 is not declared"),
    ("(assert (>= X_0 0)) (assert (<= X_0 1)) (assert (>= Y_0 X_0))", r"assertion .\(>= Y_0 X_0\). mixes inputs and outputs"),
    ("(assert (>= X_0 0)) (assert (<= X_0 1)) (check-sat)", r"unsupported command '\(check-sat\)'"),
    ("(assert (>= X_0 0) (<= X_0 1)", r"unbalanced '\('"),
])
def test_what_is_not_read_is_named(tmp_path: Path, body: str, needle: str) -> None:
    (tmp_path / "bad.vnnlib").write_text("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n" + body)
    with pytest.raises(VnnlibError, match=f"^bad.vnnlib: {needle}"):
        read_vnnlib(tmp_path / "bad.vnnlib")
    (tmp_path / "ok.vnnlib").write_text("(declare-const X_0 Real)\n(assert (>= X_0 0))\n(assert (<= X_0 1))")
    with pytest.raises(VnnlibError, match="ok.vnnlib: the property has 1 inputs but the network has 3"):
        read_vnnlib(tmp_path / "ok.vnnlib", 3)


def _two_output_net(tmp_path: Path) -> tuple[Path, object]:
    """A 2-input ReLU net with 2 outputs, as ONNX; returns its path and its ModelNetwork."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from nnlab.engine.model.io import read_network

    rng = np.random.default_rng(4)
    inits = {"W": rng.standard_normal((2, 8)), "b": rng.standard_normal(8), "W2": rng.standard_normal((8, 2)),
             "b2": rng.standard_normal(2)}
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
             helper.make_node("Relu", ["a"], ["r"]), helper.make_node("MatMul", ["r", "W2"], ["m2"]),
             helper.make_node("Add", ["m2", "b2"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    path = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path, read_network(path)


def _prop(tmp_path: Path, out_line: str) -> Path:
    text = "\n".join(["(declare-const X_0 Real)", "(declare-const X_1 Real)", "(declare-const Y_0 Real)",
                      "(declare-const Y_1 Real)", "(assert (>= X_0 -1))", "(assert (<= X_0 1))", "(assert (>= X_1 -1))",
                      "(assert (<= X_1 1))", out_line])
    path = tmp_path / "p.vnnlib"
    path.write_text(text)
    return path


def test_verdict_holds_above_the_certified_maximum_and_is_violated_below(tmp_path: Path) -> None:
    import nnlab

    path, net = _two_output_net(tmp_path)
    best = nnlab.optimize(net, lower=[-1, -1], upper=[1, 1], output=0, method="exact")
    assert best["status"] == "optimal"
    top = best["bound"]
    held = nnlab.check_property(net, _prop(tmp_path, f"(assert (>= Y_0 {top + 1e-3!r}))"))
    assert held["verdict"] == "holds" and held["counterexample"] is None
    assert "never met (certified by" in held["why"]
    broken = nnlab.check_property(net, _prop(tmp_path, f"(assert (>= Y_0 {top - 1e-3!r}))"))
    assert broken["verdict"] == "violated"
    assert net.forward(np.array(broken["counterexample"]))[0, 0] >= top - 1e-3
    heur = nnlab.check_property(net, _prop(tmp_path, f"(assert (>= Y_0 {top + 1e-3!r}))"), method="random")
    assert heur["verdict"] == "unknown"  # a heuristic proves nothing


def test_cli_decides_a_property_and_prints_the_verdict(tmp_path: Path, capsys) -> None:
    from nnlab.cli.main import main

    path, net = _two_output_net(tmp_path)
    prop = _prop(tmp_path, "(assert (<= Y_1 Y_0))")  # is output 0 ever at least output 1?
    d = net.forward(np.random.default_rng(0).uniform(-1, 1, (2000, 2)))
    assert main(["optimize", "--model", str(path), "--vnnlib", str(prop), "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["property"] == "p.vnnlib" and obj["constraints"] == ["(<= Y_1 Y_0)"]
    assert obj["verdict"] == ("violated" if np.any(d[:, 0] >= d[:, 1]) else obj["verdict"])
    assert obj["verdict"] in ("holds", "violated") and obj["results"][0]["status"] == "optimal"
    assert main(["optimize", "--model", str(path), "--vnnlib", str(prop)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith(obj["verdict"] + ": ")
    assert main(["optimize", "--model", str(path), "--vnnlib", str(prop), "--lower", "0,0"]) == 2
    assert "--vnnlib gives the input box; drop --lower/--upper" in capsys.readouterr().err
    assert main(["optimize", "--model", str(path), "--vnnlib", str(prop), "--output", "1", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)  # an output over the property's box, no verdict
    assert "verdict" not in obj and obj["value"] == pytest.approx(float(net.forward(np.array(obj["x"]))[0, 1]), abs=1e-12)


# --- disjunctions: (or (and ...) (and ...)) of output conditions and of input boxes --------------------------

HEAD = ["(declare-const X_0 Real)", "(declare-const X_1 Real)", "(declare-const Y_0 Real)", "(declare-const Y_1 Real)",
        "(declare-const Y_2 Real)"]
UNIT_BOX = "(assert (and (>= X_0 -1) (<= X_0 1) (>= X_1 -1) (<= X_1 1)))"


def _write(tmp_path: Path, *lines: str, name: str = "or.vnnlib") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_or_of_output_conditions_is_read_as_cases_over_one_box(tmp_path: Path) -> None:
    prop = read_vnnlib(_write(tmp_path, *HEAD, UNIT_BOX,
                              "(assert (or (and (>= Y_1 Y_0)) (and (>= Y_2 Y_0) (<= Y_2 3))))"), 2)
    assert len(prop.cases) == 2 and prop.boxes == 1 and prop.constraints == () and prop.constrains_outputs
    assert [[(c.c, c.op, c.t) for c in case.constraints] for case in prop.cases] == [
        [((-1.0, 1.0, 0.0), ">=", 0.0)], [((-1.0, 0.0, 1.0), ">=", 0.0), ((0.0, 0.0, 1.0), "<=", 3.0)]]
    for case in prop.cases:
        assert case.lower.tolist() == [-1.0, -1.0] and case.upper.tolist() == [1.0, 1.0]
    assert prop.cases[1].met(np.array([0.0, 0.0]), np.array([0.0, -1.0, 2.0]))
    assert not prop.cases[1].met(np.array([0.0, 0.0]), np.array([0.0, -1.0, 4.0]))
    assert not prop.cases[1].met(np.array([2.0, 0.0]), np.array([0.0, -1.0, 2.0]))  # outside the box


def test_an_or_of_boxes_and_a_product_of_ors(tmp_path: Path) -> None:
    prop = read_vnnlib(_write(tmp_path, *HEAD, "(assert (or (and (>= X_0 -1) (<= X_0 0) (>= X_1 0) (<= X_1 1))"
                                               " (and (>= X_0 0.5) (<= X_0 1) (>= X_1 -1) (<= X_1 0))"
                                               " (and (>= X_0 3) (<= X_0 2) (>= X_1 0) (<= X_1 1))))",  # empty: dropped
                              "(assert (or (>= Y_0 1) (<= Y_1 -1)))"))
    assert len(prop.cases) == 4 and prop.boxes == 2  # 2 boxes x 2 output conditions
    assert prop.lower.tolist() == [-1.0, -1.0] and prop.upper.tolist() == [1.0, 1.0]  # the hull of the boxes
    boxes = [(c.lower.tolist(), c.upper.tolist()) for c in prop.cases]
    assert boxes == [([-1.0, 0.0], [0.0, 1.0])] * 2 + [([0.5, -1.0], [1.0, 0.0])] * 2
    assert [c.text for c in prop.cases] == ["(>= Y_0 1)", "(<= Y_1 -1)"] * 2


def test_too_many_cases_and_unbounded_disjuncts_are_refused(tmp_path: Path) -> None:
    big = " ".join("(or (>= Y_0 1) (>= Y_1 1))" for _ in range(11))  # 2^11 cases
    with pytest.raises(VnnlibError, match="^big.vnnlib: the property expands to more than 1000 cases"):
        read_vnnlib(_write(tmp_path, *HEAD, UNIT_BOX, f"(assert (and {big}))", name="big.vnnlib"))
    with pytest.raises(VnnlibError, match="^empty.vnnlib: the box is empty"):
        read_vnnlib(_write(tmp_path, *HEAD, "(assert (or (and (>= X_0 2) (<= X_0 1) (>= X_1 0) (<= X_1 1))))",
                           name="empty.vnnlib"))


def _three_output_net(tmp_path: Path):
    """A 2-10-3 ReLU ModelNetwork read from an .npz."""
    from nnlab.engine.model.io import read_network

    rng = np.random.default_rng(8)
    path = tmp_path / "three.npz"
    np.savez(path, activation=np.array("relu"), W0=rng.standard_normal((10, 2)), b0=rng.standard_normal(10),
             W1=rng.standard_normal((3, 10)), b1=rng.standard_normal(3))
    return path, read_network(path)


def _max(net, k: int, lo, hi) -> float:
    import nnlab

    r = nnlab.optimize(net, lower=lo, upper=hi, output=k, method="exact")
    assert r["status"] == "optimal"
    return r["bound"]


def test_the_verdict_of_an_or_holds_only_when_every_case_is_unreachable(tmp_path: Path) -> None:
    import nnlab

    path, net = _three_output_net(tmp_path)
    m0, m1 = _max(net, 0, [-1, -1], [1, 1]), _max(net, 1, [-1, -1], [1, 1])
    both_out = _write(tmp_path, *HEAD, UNIT_BOX, f"(assert (or (and (>= Y_0 {m0 + 1e-3!r})) (and (>= Y_1 {m1 + 1e-3!r}))))")
    held = nnlab.check_property(net, both_out)
    assert held["verdict"] == "holds" and held["counterexample"] is None
    assert [c["status"] for c in held["cases"]] == ["unreachable", "unreachable"]
    assert held["why"].startswith("each of the 2 cases is unreachable: case 1: ") and "case 2: " in held["why"]
    one_in = _write(tmp_path, *HEAD, UNIT_BOX, f"(assert (or (and (>= Y_0 {m0 + 1e-3!r})) (and (>= Y_1 {m1 - 1e-3!r}))))",
                    name="one_in.vnnlib")
    broken = nnlab.check_property(net, one_in)
    assert broken["verdict"] == "violated" and [c["status"] for c in broken["cases"]] == ["unreachable", "met"]
    x = np.array(broken["counterexample"])
    assert np.all(np.abs(x) <= 1) and net.forward(x)[0, 1] >= m1 - 1e-3 and "of case 2" in broken["why"]
    assert broken["constraints"] == [f"((>= Y_0 {m0 + 1e-3!r}))", f"((>= Y_1 {m1 - 1e-3!r}))"]
    heur = nnlab.check_property(net, both_out, method="random")
    assert heur["verdict"] == "unknown" and heur["why"].startswith("cases 1, 2 of 2:")  # a heuristic proves nothing


def test_an_or_of_boxes_is_decided_box_by_box(tmp_path: Path, capsys) -> None:
    """Each case is optimised over its own box: a threshold between the two boxes' maxima is violated in the box
    with the larger one only, and the counterexample lies in that box."""
    import json

    from nnlab.cli.main import main

    path, net = _three_output_net(tmp_path)
    boxes = [([-1.0, -1.0], [0.0, 0.0]), ([0.0, 0.0], [1.0, 1.0])]
    m = [_max(net, 0, lo, hi) for lo, hi in boxes]
    lo_box, hi_box = (boxes[0], boxes[1]) if m[0] < m[1] else (boxes[1], boxes[0])
    t = (min(m) + max(m)) / 2
    assert max(m) - min(m) > 1e-3  # the seed gives boxes with different maxima

    def box_text(b):
        (a0, a1), (b0, b1) = b
        return f"(and (>= X_0 {a0!r}) (<= X_0 {b0!r}) (>= X_1 {a1!r}) (<= X_1 {b1!r}))"

    prop = _write(tmp_path, *HEAD, f"(assert (or {box_text(boxes[0])} {box_text(boxes[1])}))", f"(assert (>= Y_0 {t!r}))")
    assert main(["optimize", "--model", str(path), "--vnnlib", str(prop), "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["verdict"] == "violated"
    x = np.array(obj["counterexample"])
    assert np.all(x >= hi_box[0]) and np.all(x <= hi_box[1]) and net.forward(x)[0, 0] >= t
    only_low = _write(tmp_path, *HEAD, f"(assert (or {box_text(lo_box)}))", f"(assert (>= Y_0 {t!r}))", name="low.vnnlib")
    assert main(["optimize", "--model", str(path), "--vnnlib", str(only_low), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "holds"
    assert main(["optimize", "--model", str(path), "--vnnlib", str(prop)]) == 0
    assert " or " in capsys.readouterr().out.splitlines()[0]
    assert main(["optimize", "--model", str(path), "--vnnlib", str(prop), "--output", "0"]) == 2
    assert "several input boxes" in capsys.readouterr().err
