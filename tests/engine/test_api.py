"""The Python API as the README shows it: nnlab.load_network and nnlab.optimize give the `--json` object; `import
nnlab` stays light; choosing an output, an objective and the generator underneath."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnlab
from nnlab.cli.main import main
from nnlab.cli.optimize import JSON_KEYS
from nnlab.errors import NnlabError

README = Path(__file__).resolve().parents[2] / "README.md"

# The README's "Python API" example, verbatim (test_readme_shows_this_example keeps them the same).
EXAMPLE = '''\
import nnlab

net = nnlab.load_network("model.onnx")      # .onnx, .pt (state_dict or TorchScript), .pt2, .npz
print(net.input_dim, net.n_outputs, net.activation)
result = nnlab.optimize(net, lower=[-1, -1], upper=[1, 1], sense="max", output=0,
                        method="exact", time_limit=60)
print(result["value"], result["x"], result["status"], result["bound"])
'''


def _write_model(path: Path) -> None:
    """A 2-input ReLU ONNX net with 3 outputs (MatMul + Add, as exporters write it)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(9)
    inits = {"W": rng.standard_normal((2, 12)), "b": rng.standard_normal(12), "W2": rng.standard_normal((12, 3)),
             "b2": rng.standard_normal(3)}
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
             helper.make_node("Relu", ["a"], ["r"]), helper.make_node("MatMul", ["r", "W2"], ["m2"]),
             helper.make_node("Add", ["m2", "b2"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_the_readme_example_runs_and_matches_the_cli(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    _write_model(tmp_path / "model.onnx")
    scope: dict = {}
    exec(compile(EXAMPLE, "README example", "exec"), scope)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "2 3 relu"
    result, net = scope["result"], scope["net"]
    assert tuple(result) == JSON_KEYS and result["status"] == "optimal" and result["method"] == "exact"
    assert result["value"] == float(net.forward(np.array(result["x"]))[0, 0])  # the forward pass at x
    assert result["value"] >= net.forward(np.random.default_rng(0).uniform(-1, 1, (5000, 2)))[:, 0].max()
    assert main(["optimize", "--model", "model.onnx", "--lower=-1,-1", "--upper", "1,1", "--output", "0", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in cli.items() if k != "seconds"} == {k: v for k, v in result.items() if k != "seconds"}


def test_readme_shows_this_example() -> None:
    text = README.read_text()
    assert "## Python API" in text, "README.md needs the Python API section (text handed to the lead)"
    assert EXAMPLE in text


def test_import_nnlab_stays_light() -> None:
    code = ("import sys, nnlab; nnlab.load_network; nnlab.optimize; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'cvxpy', 'onnx', 'scipy', 'highspy'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == "[]"
    with pytest.raises(AttributeError):
        nnlab.no_such_function  # noqa: B018


def test_objective_output_and_steps(tmp_path: Path) -> None:
    _write_model(tmp_path / "m.onnx")
    net = nnlab.load_network(tmp_path / "m.onnx")
    c = [1.0, -1.0, 0.0]
    res = nnlab.optimize(net, lower=-1, upper=1, sense="min", objective=c, method="exact")
    assert res["status"] == "optimal" and res["sense"] == "min"
    assert res["value"] == pytest.approx(float(net.forward(np.array(res["x"]))[0] @ np.array(c)), abs=1e-12)
    grid = net.forward(np.random.default_rng(1).uniform(-1, 1, (5000, 2))) @ np.array(c)
    assert res["value"] <= grid.min() + 1e-12
    gen = nnlab.optimize_steps(net, lower=[-1, -1], upper=[1, 1], output=2, method="random", params={"samples": 50})
    events = []
    try:
        while True:
            events.append(next(gen))
    except StopIteration as stop:
        final = stop.value
    assert final.method == "random" and final.value == pytest.approx(float(net.forward(final.x)[0, 2]), abs=1e-12)
    for bad, needle in [(dict(), "the network has 3 outputs; choose one"), (dict(output=3), "output 3 does not exist"),
                        (dict(output=0, lower=[0, 0, 0]), "lower has 3 values but the network has 2 inputs")]:
        with pytest.raises(NnlabError, match=needle):
            nnlab.optimize(net, **{"lower": [0, 0], "upper": [1, 1], **bad})
