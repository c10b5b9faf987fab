"""`nnlab optimize`: the JSON contract, the table, model formats, scenes and exit codes."""
import json

import numpy as np
import pytest

from nnlab.cli import main
from nnlab.commands.optimize import JSON_KEYS
from nnlab.engine.io import save_model
from nnlab.engine.network import NetSnapshot, initial_snapshot
from nnlab.engine.scene import InitSpec, NetworkSpec, Scene, save_scene


def bump() -> NetSnapshot:
    """f(x) = 1 - relu(x1 - .3) - relu(.3 - x1) - relu(x2 - .6) - relu(.6 - x2): max 1 at (.3, .6), min at a corner."""
    w0 = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    b0 = np.array([-0.3, 0.3, -0.6, 0.6])
    return NetSnapshot((w0, -np.ones((1, 4))), (b0, np.array([1.0])))


@pytest.fixture
def model(tmp_path):
    p = tmp_path / "bump.npz"
    save_model(bump(), p)
    return p


def run_json(capsys, *argv):
    code = main(["optimize", *map(str, argv), "--json"])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("method", ["exact", "regions", "milp", "walk", "sampling", "gradient", "grid"])
def test_json_schema_and_known_optimum(capsys, model, method):
    code, out, _ = run_json(capsys, "--model", model, "--method", method, "--time-limit", 20)
    assert code == 0
    obj = json.loads(out)
    assert tuple(obj) == JSON_KEYS
    assert obj["method"] == method and obj["sense"] == "max"
    assert obj["value"] == pytest.approx(1.0, abs=2e-2)
    assert obj["verified_value"] == pytest.approx(float(bump().forward(np.array(obj["x"]))), rel=1e-9)
    if method in ("exact", "regions", "milp"):
        assert obj["status"] == "optimal" and obj["x"] == pytest.approx([0.3, 0.6], abs=1e-6)
        assert obj["bound"] == pytest.approx(1.0, abs=1e-6)


def test_min_over_explicit_box(capsys, model):
    code, out, _ = run_json(capsys, "--model", model, "--sense", "min", "--lower", "0,0", "--upper", "2,1")
    obj = json.loads(out)
    # farthest corner from (.3, .6) in L1 within [0,2]x[0,1]: (2, 0) -> 1 - 1.7 - 0.6
    assert code == 0 and obj["value"] == pytest.approx(-1.3) and obj["x"] == pytest.approx([2.0, 0.0])


def test_all_gives_a_list_with_every_applicable_method(capsys, model):
    code, out, _ = run_json(capsys, "--model", model, "--method", "all", "--time-limit", 5)
    objs = json.loads(out)
    assert code == 0 and isinstance(objs, list)
    names = [o["method"] for o in objs]
    assert {"regions", "milp", "sampling", "walk", "gradient", "random", "grid"} <= set(names)
    assert all(tuple(o) == JSON_KEYS for o in objs)
    exact = [o["value"] for o in objs if o["method"] in ("regions", "milp")]
    assert max(o["value"] for o in objs) == pytest.approx(max(exact), abs=1e-9)


@pytest.mark.parametrize("suffix", [".onnx", ".pt"])
def test_other_model_formats(capsys, tmp_path, suffix):
    net = initial_snapshot(NetworkSpec(input_dim=3, hidden=(8, 8)), InitSpec(scheme="torch_default", seed=2))
    p = tmp_path / f"m{suffix}"
    save_model(net, p)
    code, out, _ = run_json(capsys, "--model", p)
    obj = json.loads(out)
    assert code == 0 and len(obj["x"]) == 3 and obj["status"] == "optimal"
    assert obj["value"] == pytest.approx(float(net.forward(np.array(obj["x"]))), rel=1e-5)


def test_scene_file_uses_its_domain(capsys, tmp_path):
    s = Scene(network=NetworkSpec(hidden=(6,), lower=(-2.0, -1.0), upper=(3.0, 1.0)))
    p = tmp_path / "s.toml"
    save_scene(s, p)
    code, out, _ = run_json(capsys, "--model", p, "--method", "regions")
    x = json.loads(out)["x"]
    assert code == 0 and -2 <= x[0] <= 3 and -1 <= x[1] <= 1


def test_table_output(capsys, model):
    assert main(["optimize", "--model", str(model), "--method", "regions"]) == 0
    out = capsys.readouterr().out
    assert "regions" in out and "optimal" in out and "value" in out.splitlines()[1]


@pytest.mark.parametrize("argv, needle", [
    (["--method", "bogus"], "unknown optimizer 'bogus'"),
    (["--lower", "0,0,0"], "--lower has 3 values"),
    (["--lower", "a,b"], "not a comma-separated list"),
    (["--lower", "1,1", "--upper", "0,0"], "must not exceed"),
    (["--param", "nonsense=1", "--method", "walk"], "no parameter 'nonsense'"),
    (["--time-limit", "0"], "time limit"),
])
def test_errors_are_one_line_exit_2(capsys, model, argv, needle):
    code = main(["optimize", "--model", str(model), "--json", *argv])
    out = capsys.readouterr()
    assert code == 2 and out.out == ""
    assert needle in out.err and out.err.count("\n") == 1


def test_missing_and_unsupported_files(capsys, tmp_path):
    assert main(["optimize", "--model", str(tmp_path / "nope.onnx")]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "m.txt"
    bad.write_text("x")
    assert main(["optimize", "--model", str(bad)]) == 2
    assert "unsupported model file" in capsys.readouterr().err
    garbage = tmp_path / "g.onnx"
    garbage.write_bytes(b"\x00garbage")
    assert main(["optimize", "--model", str(garbage)]) == 2
    err = capsys.readouterr().err
    assert "g.onnx" in err and err.count("\n") == 1
