"""`nnlab optimize`: the JSON contract, the table, model formats, scenes and exit codes."""
import json
import re

import numpy as np
import pytest

from nnlab.bundled import presets
from nnlab.cli.main import main
from nnlab.cli.optimize import JSON_KEYS
from nnlab.engine.model.io import save_model
from nnlab.engine.model.network import NetSnapshot, initial_snapshot
from nnlab.engine.model.scene import InitSpec, NetworkSpec, Scene, load_scene, save_scene


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


# --- activations (issue 9, item 1) --------------------------------------------------------------------------

TANH_SCENE = """
title = "tanh peaks"
[network]
hidden = [16, 16]
activation = "tanh"
[init]
scheme = "xavier_uniform"
seed = 3
[target]
name = "peaks"
[train]
enabled = true
samples = 400
epochs = 30
batch_size = 100
lr = 0.01
"""


def tanh_forward(state: dict, x: np.ndarray) -> float:
    """The tanh network of a torch state_dict at x, in float64, independently of nnlab's readers."""
    import torch

    keys = sorted({int(k.split(".")[0]) for k in state})
    h = torch.tensor(np.atleast_2d(x), dtype=torch.float64)
    for j, k in enumerate(keys):
        h = h @ state[f"{k}.weight"].double().T + state[f"{k}.bias"].double()
        if j < len(keys) - 1:
            h = torch.tanh(h)
    return float(h[0, 0])


def test_trained_tanh_scene_saved_to_pt_is_optimized_as_tanh(capsys, tmp_path):
    import torch

    scene = tmp_path / "tanh.toml"
    scene.write_text(TANH_SCENE, encoding="utf-8")
    assert main(["train", str(scene), "--out", str(tmp_path / "own.pt"), "--quiet"]) == 0
    capsys.readouterr()
    state = torch.load(tmp_path / "own.pt", weights_only=True)["state_dict"]
    for method in ("gradient", "random", "lhs", "grid"):
        code, out, err = run_json(capsys, "--model", tmp_path / "own.pt", "--method", method, "--lower", "-3,-3",
                                  "--upper", "3,3", "--time-limit", 20)
        obj = json.loads(out)
        assert code == 0 and "records no activation" not in err
        assert obj["value"] == pytest.approx(tanh_forward(state, np.array(obj["x"])), rel=1e-12, abs=1e-12)
    code, out, err = run_json(capsys, "--model", tmp_path / "own.pt", "--method", "exact")
    assert code == 2 and out == ""
    m = re.fullmatch(r"nnlab optimize: error: method 'exact' needs a (ReLU|piecewise-linear) network(?: \(relu, leaky_relu\))?, this one "
                     r"uses tanh \(methods for any activation: (.*)\)\n", err)  # one line
    assert m and set(m.group(2).split(", ")) == {"gradient", "random", "lhs", "grid"}


def test_foreign_tanh_state_dict_is_relu_unless_named(capsys, tmp_path):
    import torch

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(2, 20), torch.nn.Tanh(), torch.nn.Linear(20, 1))
    torch.save(module.state_dict(), tmp_path / "foreign.pt")
    code, out, err = run_json(capsys, "--model", tmp_path / "foreign.pt", "--method", "grid")
    assert code == 0
    assert err == ("nnlab optimize: note: foreign.pt records no activation (a bare state_dict or arrays); "
                   "assuming relu (--activation NAME names it)\n")
    code, out, err = run_json(capsys, "--model", tmp_path / "foreign.pt", "--method", "gradient", "--activation", "tanh")
    obj = json.loads(out)
    assert code == 0 and err == ""
    x = torch.tensor([obj["x"]], dtype=torch.float64)
    with torch.no_grad():
        true = float(module.double()(x)[0, 0])
    assert obj["value"] == pytest.approx(true, rel=1e-12, abs=1e-12)
    code, out, err = run_json(capsys, "--model", tmp_path / "foreign.pt", "--activation", "tanh", "--method", "milp")
    assert code == 2 and re.search(r"method 'milp' needs a (ReLU|piecewise-linear) network.*, this one uses tanh", err)


def test_a_bare_state_dict_named_as_a_leaky_relu_of_any_slope(capsys, tmp_path):
    import torch

    torch.manual_seed(1)
    module = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1)).double()
    torch.save(module.state_dict(), tmp_path / "leaky.pt")
    code, out, err = run_json(capsys, "--model", tmp_path / "leaky.pt", "--activation", "leaky_relu:0.2")
    obj = json.loads(out)
    assert code == 0 and err == "" and obj["status"] == "optimal"
    grid = torch.cartesian_prod(*(torch.linspace(0, 1, 201, dtype=torch.float64),) * 2)
    with torch.no_grad():
        at_x = float(module(torch.tensor([obj["x"]], dtype=torch.float64))[0, 0])
        best_on_grid = float(module(grid).max())
    assert obj["value"] == pytest.approx(at_x, rel=1e-12, abs=1e-12)  # the slope 0.2 is the one computed
    assert obj["value"] >= best_on_grid - 1e-12
    with pytest.raises(SystemExit) as stop:  # argparse's own refusal: usage line and error line, exit 2
        run_json(capsys, "--model", tmp_path / "leaky.pt", "--activation", "leaky_relu:1.5")
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "argument --activation: activation 'leaky_relu:1.5' is not supported" in err


def test_activation_that_contradicts_the_file_is_refused(capsys, model):
    code, out, err = run_json(capsys, "--model", model, "--activation", "tanh")
    assert code == 2 and out == "" and "bump.npz: the file records activation relu, not tanh" in err


def test_all_on_a_tanh_net_runs_the_methods_for_any_activation(capsys, tmp_path):
    net = initial_snapshot(NetworkSpec(hidden=(8,), activation="tanh"), InitSpec(scheme="torch_default", seed=1))
    save_model(net, tmp_path / "t.npz")
    code, out, err = run_json(capsys, "--model", tmp_path / "t.npz", "--method", "all", "--time-limit", 5)
    objs = json.loads(out)
    assert code == 0 and sorted(o["method"] for o in objs) == ["gradient", "grid", "lhs", "random"]
    for o in objs:
        assert o["value"] == pytest.approx(float(net.forward(np.array(o["x"]))), rel=1e-12)
    assert re.search(r"regions: skipped \(method 'regions' needs a (ReLU|piecewise-linear) network.*, this one uses tanh",
                     err)


def test_all_in_three_dimensions_skips_a_grid_beyond_its_limit(capsys, tmp_path):
    net = initial_snapshot(NetworkSpec(input_dim=3, hidden=(6,)), InitSpec(scheme="torch_default", seed=1))
    save_model(net, tmp_path / "m3.npz")
    code, out, err = run_json(capsys, "--model", tmp_path / "m3.npz", "--method", "all", "--time-limit", 5)
    names = [o["method"] for o in json.loads(out)]
    assert code == 0 and "grid" not in names and "regions" not in names and {"bab", "milp", "gradient"} <= set(names)
    assert "grid: skipped (a grid of 501^3 = 1.26e+08 points exceeds max_points 4000000" in err
    code, out, _ = run_json(capsys, "--model", tmp_path / "m3.npz", "--method", "grid", "--param", "resolution=11")
    obj = json.loads(out)
    X = np.stack(np.meshgrid(*[np.linspace(0, 1, 11)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    assert code == 0 and obj["value"] == pytest.approx(float(net.forward(X).max()), rel=1e-12)


# --- boxes, strict JSON, exit codes (items 4, 15, 19) -------------------------------------------------------

@pytest.mark.parametrize("argv", [["--lower", "-5,-5", "--upper", "5,5"], ["--lower=-5,-5", "--upper=5,5"]])
def test_negative_bounds_parse(capsys, model, argv):
    code, out, _ = run_json(capsys, "--model", model, "--method", "regions", *argv)
    obj = json.loads(out)
    assert code == 0 and obj["x"] == pytest.approx([0.3, 0.6], abs=1e-6) and obj["value"] == pytest.approx(1.0)
    code, out, _ = run_json(capsys, "--model", model, "--method", "regions", "--sense", "min", *argv)
    # farthest corner from (.3, .6) in L1 within [-5,5]^2: (-5, -5) -> 1 - 5.3 - 5.6
    assert code == 0 and json.loads(out)["value"] == pytest.approx(-9.9)


def test_python_m_nnlab_optimize_with_negative_bounds(model):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "nnlab", "optimize", "--model", str(model), "--method", "regions",
                           "--lower", "-5,-5", "--upper", "5,5", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["value"] == pytest.approx(1.0)


def test_json_is_strict_and_non_finite_numbers_are_null(capsys, model, monkeypatch):
    from nnlab.cli import optimize as cmd
    from nnlab.engine.optimize import run_to_result

    def with_infinite_bound(gen):
        res = run_to_result(gen)
        return type(res)(**{**res.__dict__, "bound": float("inf"), "gap": float("nan")})

    monkeypatch.setattr("nnlab.engine.optimize.run_to_result", with_infinite_bound)
    code, out, _ = run_json(capsys, "--model", model, "--method", "grid")

    def refuse(name):
        raise AssertionError(f"non-strict JSON constant {name}")

    obj = json.loads(out, parse_constant=refuse)
    assert code == 0 and obj["bound"] is None and obj["gap"] is None and obj["value"] == pytest.approx(1.0)
    assert cmd.JSON_KEYS == tuple(obj)


def test_a_box_too_large_to_compute_soundly_is_refused(capsys, model):
    code, out, err = run_json(capsys, "--model", model, "--lower", "-1e308,-1e308", "--upper", "1e308,1e308")
    assert code == 2 and out == ""
    assert err == ("nnlab optimize: error: the box reaches 1e+308, beyond +-1e+12: float64 arithmetic over it is "
                   "not precise enough for a sound answer; rescale the inputs\n")


def test_an_internal_error_keeps_its_traceback(model, monkeypatch):
    """A bug (here a plain ValueError, as numpy raises for a broadcasting mistake) is not a user error."""
    def broken(*args, **kwargs):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr("nnlab.engine.optimize.heuristics.baselines.Best.offer_batch", broken)
    with pytest.raises(ValueError, match="could not be broadcast"):
        main(["optimize", "--model", str(model), "--method", "random"])


def test_a_bundled_preset_name_is_a_model(capsys):
    from nnlab.bundled import preset_names, presets

    from nnlab.engine.model.network import initial_snapshot as init_net
    from nnlab.engine.model.scene import load_scene

    assert "default" in preset_names()
    code, out, _ = run_json(capsys, "--model", "default", "--method", "regions")
    obj = json.loads(out)
    scene = load_scene(next(p for p in presets() if p.stem == "default"))
    net = init_net(scene.network, scene.init)
    lo, hi = scene.domain()
    assert code == 0 and all(a <= v <= b for a, v, b in zip(lo, obj["x"], hi))
    assert obj["value"] == pytest.approx(float(net.forward(np.array(obj["x"]))), rel=1e-12)


# --- several outputs, objectives, logits ----------------------------------------------------------------------

def _three_output_onnx(path, softmax: bool = False):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2)
    inits = {"W": rng.standard_normal((2, 10)), "b": rng.standard_normal(10), "W2": rng.standard_normal((10, 3)),
             "b2": rng.standard_normal(3)}
    last = "z" if softmax else "y"
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["g"]), helper.make_node("Relu", ["g"], ["r"]),
             helper.make_node("Gemm", ["r", "W2", "b2"], [last])]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["z"], ["y"], axis=1))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    from nnlab.engine.model.io import read_network

    return read_network(path, logits=softmax)


def test_output_and_objective_choose_what_is_optimised(capsys, tmp_path):
    full = _three_output_onnx(tmp_path / "three.onnx")
    code, out, err = run_json(capsys, "--model", tmp_path / "three.onnx", "--lower=-1,-1", "--upper", "1,1")
    assert code == 2 and out == "" and "three.onnx: the network has 3 outputs; choose one with --output K" in err
    for k in range(3):
        code, out, err = run_json(capsys, "--model", tmp_path / "three.onnx", "--lower=-1,-1", "--upper", "1,1",
                                  "--output", k)
        obj = json.loads(out)
        assert code == 0 and obj["status"] == "optimal"
        assert obj["value"] == pytest.approx(float(full.forward(np.array(obj["x"]))[0, k]), abs=1e-12)
        grid = full.forward(np.random.default_rng(k).uniform(-1, 1, (4000, 2)))[:, k]
        assert obj["value"] >= grid.max() - 1e-12
    code, out, err = run_json(capsys, "--model", tmp_path / "three.onnx", "--lower=-1,-1", "--upper", "1,1",
                              "--objective=1,-1,0", "--sense", "min")
    obj = json.loads(out)
    assert code == 0 and obj["sense"] == "min"
    y = full.forward(np.array(obj["x"]))[0]
    assert obj["value"] == pytest.approx(y[0] - y[1], abs=1e-12)
    code, out, err = run_json(capsys, "--model", tmp_path / "three.onnx", "--output", 5)
    assert code == 2 and "output 5 does not exist; the network has 3 outputs (0 to 2)" in err
    code, out, err = run_json(capsys, "--model", tmp_path / "three.onnx", "--objective", "1,2")
    assert code == 2 and "the objective has 2 coefficients but the network has 3 outputs" in err


def test_logits_drop_a_trailing_softmax(capsys, tmp_path):
    logits = _three_output_onnx(tmp_path / "soft.onnx", softmax=True)
    code, out, err = run_json(capsys, "--model", tmp_path / "soft.onnx", "--output", 0)
    assert code == 2 and "a trailing Softmax is not optimised; pass --logits" in err and err.count("\n") == 1
    code, out, err = run_json(capsys, "--model", tmp_path / "soft.onnx", "--output", 0, "--logits")
    obj = json.loads(out)
    assert code == 0 and obj["value"] == pytest.approx(float(logits.forward(np.array(obj["x"]))[0, 0]), abs=1e-12)


def test_a_scene_has_one_output(capsys, tmp_path):
    code, out, err = run_json(capsys, "--model", "himmelblau", "--output", 1)
    assert code == 2 and "a scene's network has one output" in err


def test_a_bundled_trained_preset_is_optimized_with_its_shipped_weights_without_training(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import nnlab.engine.train.training as training
    from nnlab.bundled import scene_path
    from nnlab.engine.model.scene import load_scene
    from nnlab.engine.train import cache

    def no_training(*a, **k):  # noqa: ANN002, ANN003
        raise AssertionError("the preset was trained again")

    monkeypatch.setattr(training, "train_to_result", no_training)
    assert main(["optimize", "--model", "himmelblau", "--method", "random", "--param", "samples=500", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    shipped = cache.lookup(load_scene(scene_path("himmelblau")))
    assert shipped is not None
    assert out["value"] == pytest.approx(float(shipped.forward(np.array([out["x"]]))[0]), abs=1e-12)


@pytest.mark.parametrize("path", presets(), ids=lambda p: p.stem)
def test_every_bundled_presets_own_optimizer_accepts_its_network(path):
    """A preset's [optimizer] must run on its own network (peaks_tanh, a tanh net, named `exact`: its optimizer
    animation and the app's Optimize refused it)."""
    from nnlab.engine.optimize.base import check_method

    scene = load_scene(path)
    lo, hi = scene.domain()
    o = scene.optimizer
    entry, *_ = check_method(o.method, scene.base_network(), lo, hi, o.sense, o.time_limit, o.params)
    assert entry.name == o.method
