"""Model files keep the function: the activation is recorded (.pt, .npz, .onnx) or read from the graph (ONNX,
TorchScript, torch.export), a bare state_dict says that it assumes ReLU, and foreign graphs are read without
running their code."""
from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from nnlab.engine.model.io import ModelFileError, ModelFileWarning, load_model, read_model, save_model
from nnlab.engine.model.network import initial_snapshot, snapshot_from_layers
from nnlab.engine.model.scene import ACTIVATIONS, InitSpec, NetworkSpec

X = np.random.default_rng(0).uniform(-2, 2, size=(300, 2))
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # saving TorchScript files here

TORCH_ACTS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "silu": torch.nn.SiLU,
              "leaky_relu": torch.nn.LeakyReLU}


def snap(activation: str, hidden=(7, 5)):
    return initial_snapshot(NetworkSpec(input_dim=2, hidden=hidden, activation=activation),
                            InitSpec(scheme="torch_default", seed=5))


def float32(net):
    """The function a float32 file holds: the same net with float32-rounded weights."""
    return snapshot_from_layers([(w.astype(np.float32), b.astype(np.float32)) for w, b in net.layers()], net.activation)


def assert_same_function(got, expected):
    """Equal in float64 up to summation order: 1e-12 relative to the output scale."""
    y = expected.forward(X) if hasattr(expected, "forward") else expected
    np.testing.assert_allclose(got.forward(X), y, rtol=1e-12, atol=1e-12 * float(np.max(np.abs(y))))


def torch_module(act: str, seed: int = 0) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2, 20), TORCH_ACTS[act](), torch.nn.Linear(20, 1)).eval()


def torch_values(module: torch.nn.Module) -> np.ndarray:
    """The module's outputs at X, computed in float64 from its (float32) weights."""
    import copy

    with torch.no_grad():
        return copy.deepcopy(module).double()(torch.tensor(X)).numpy()[:, 0]


# --- nnlab's own files --------------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("suffix", [".pt", ".npz", ".onnx"])
def test_own_files_record_the_activation_and_rebuild_the_function(tmp_path: Path, suffix: str, activation: str) -> None:
    net = snap(activation)
    save_model(net, tmp_path / f"m{suffix}")
    loaded = read_model(tmp_path / f"m{suffix}")
    assert loaded.net.activation == activation and loaded.activation_source == "file" and loaded.note == ""
    assert_same_function(loaded.net, net if suffix == ".npz" else float32(net))


def test_pt_file_is_weights_only_state_dict_with_metadata(tmp_path: Path) -> None:
    net = snap("leaky_relu")
    save_model(net, tmp_path / "m.pt")
    obj = torch.load(tmp_path / "m.pt", weights_only=True)
    assert obj["nnlab"] == {"format": 1, "activation": "leaky_relu", "negative_slope": 0.01}
    module = torch.nn.Sequential(torch.nn.Linear(2, 7), torch.nn.LeakyReLU(), torch.nn.Linear(7, 5),
                                 torch.nn.LeakyReLU(), torch.nn.Linear(5, 1))
    module.load_state_dict(obj["state_dict"])  # the state_dict is torch's own layout
    np.testing.assert_allclose(torch_values(module), float32(net).forward(X), rtol=1e-12, atol=1e-14)


def test_onnx_file_holds_the_activation_nodes(tmp_path: Path) -> None:
    import onnx

    expected = {"relu": ["Relu"], "tanh": ["Tanh"], "sigmoid": ["Sigmoid"], "silu": ["Sigmoid", "Mul"],
                "leaky_relu": ["LeakyRelu"], "softplus": ["Softplus"], "gelu": ["Div", "Erf", "Add", "Mul", "Mul"]}
    for act in ACTIVATIONS:
        save_model(snap(act, hidden=(4,)), tmp_path / "m.onnx")
        model = onnx.load(str(tmp_path / "m.onnx"))
        onnx.checker.check_model(model)
        assert [n.op_type for n in model.graph.node] == ["Gemm", *expected[act], "Gemm"]
        if act == "leaky_relu":
            assert model.graph.node[1].attribute[0].f == pytest.approx(0.01)


def test_a_contradicting_activation_argument_is_refused(tmp_path: Path) -> None:
    save_model(snap("tanh"), tmp_path / "t.npz")
    with pytest.raises(ModelFileError, match="t.npz: the file records activation tanh, not relu"):
        read_model(tmp_path / "t.npz", activation="relu")
    assert read_model(tmp_path / "t.npz", activation="tanh").net.activation == "tanh"


# --- bare state_dicts ---------------------------------------------------------------------------------------

def test_bare_state_dict_assumes_relu_and_says_so(tmp_path: Path) -> None:
    module = torch_module("tanh")
    torch.save(module.state_dict(), tmp_path / "foreign.pt")
    assumed = read_model(tmp_path / "foreign.pt")
    assert assumed.activation_source == "assumed" and assumed.net.activation == "relu"
    assert assumed.note == "foreign.pt records no activation (a bare state_dict or arrays); assuming relu"
    with pytest.warns(ModelFileWarning, match="records no activation"):
        load_model(tmp_path / "foreign.pt")
    named = read_model(tmp_path / "foreign.pt", activation="tanh")
    assert named.activation_source == "argument" and named.note == ""
    assert_same_function(named.net, torch_values(module))


def test_linear_model_needs_no_activation(tmp_path: Path) -> None:
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 1)).state_dict(), tmp_path / "lin.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = read_model(tmp_path / "lin.pt")
    assert loaded.note == "" and loaded.net.widths == ()


# --- TorchScript and torch.export ---------------------------------------------------------------------------

def _save(module: torch.nn.Module, kind: str, path_stem: Path) -> Path:
    x0 = torch.zeros(1, 2, dtype=next(module.parameters()).dtype)
    if kind == "export":
        path = path_stem.with_suffix(".pt2")
        torch.export.save(torch.export.export(module, (x0,)), path)
    else:
        path = path_stem.with_suffix(".pt")
        torch.jit.save(torch.jit.script(module) if kind == "script" else torch.jit.trace(module, x0), path)
    return path


@pytest.mark.parametrize("act", ["tanh", "relu", "leaky_relu", "sigmoid", "silu"])
@pytest.mark.parametrize("kind", ["script", "trace", "export"])
def test_torchscript_and_export_programs_give_the_module_function(tmp_path: Path, kind: str, act: str) -> None:
    module = torch_module(act, seed=3)
    loaded = read_model(_save(module, kind, tmp_path / "m"))
    assert loaded.net.activation == act and loaded.activation_source == "file"
    assert_same_function(loaded.net, torch_values(module))  # float32 weights, compared in float64: 1e-12
    with torch.no_grad():
        y32 = module(torch.tensor(X, dtype=torch.float32)).numpy()[:, 0]
    np.testing.assert_allclose(loaded.net.forward(X), y32, rtol=1e-6, atol=1e-6)  # the float32 module itself


@pytest.mark.parametrize("kind", ["script", "export"])
def test_float64_graphs_are_exact(tmp_path: Path, kind: str) -> None:
    module = torch_module("tanh", seed=4).double()
    loaded = read_model(_save(module, kind, tmp_path / "m64"))
    with torch.no_grad():
        y = module(torch.tensor(X)).numpy()[:, 0]
    assert_same_function(loaded.net, y)


class _Sine(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(torch.sin(x))


@pytest.mark.parametrize("kind,needle", [("script", r"TorchScript node \d+ \(aten::sin\): unsupported op 'sin'"),
                                         ("export", r"node \d+ \(aten.sin.default\): unsupported op 'sin'")])
def test_graph_ops_nnlab_cannot_read_are_named(tmp_path: Path, kind: str, needle: str) -> None:
    path = _save(_Sine(), kind, tmp_path / "sine")
    with pytest.raises(ModelFileError, match=f"{path.name}: {needle}") as err:
        read_model(path)
    assert "\n" not in str(err.value)


def test_graph_with_its_own_leaky_slope_reads_and_mixed_activations_are_refused(tmp_path: Path) -> None:
    torch.manual_seed(3)
    leaky = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.LeakyReLU(0.2), torch.nn.Linear(3, 1)).eval()
    for kind in ("trace", "export"):
        got = read_model(_save(leaky, kind, tmp_path / f"leaky_{kind}")).net
        assert got.activation == "leaky_relu:0.2"
        assert_same_function(got, torch_values(leaky))
    steep = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.LeakyReLU(1.5), torch.nn.Linear(3, 1))
    with pytest.raises(ModelFileError, match=r"negative slope 1.5: nnlab reads leaky ReLU slopes in \[0, 1\)"):
        read_model(_save(steep, "trace", tmp_path / "steep"))
    mixed = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3), torch.nn.Tanh(),
                                torch.nn.Linear(3, 1))
    with pytest.raises(ModelFileError, match="mixes activations relu and tanh"):
        read_model(_save(mixed, "export", tmp_path / "mixed"))


def _rewrite_zip(src: Path, dst: Path, edit) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = edit(item.filename, zin.read(item.filename))
            if data is not None:
                zout.writestr(item, data)


def test_pt2_with_a_pickled_payload_is_refused_without_unpickling(tmp_path: Path) -> None:
    """torch.export.load unpickles payloads marked use_pickle with weights_only=False: nnlab must refuse first."""
    good = _save(torch_module("tanh"), "export", tmp_path / "good")
    marker = tmp_path / "pickle_ran"
    payload = f"c__builtin__\nopen\n(S'{marker}'\nS'w'\ntR.".encode()  # would create `marker` if unpickled

    def edit(name: str, data: bytes) -> bytes:
        if name.endswith("weights/weight_0"):
            return payload
        if name.endswith("_weights_config.json"):
            return data.replace(b'"use_pickle": false', b'"use_pickle": true', 1)
        return data

    bad = tmp_path / "bad.pt2"
    _rewrite_zip(good, bad, edit)
    with pytest.raises(ModelFileError, match="bad.pt2: '0.weight' is stored as a pickled object"):
        read_model(bad)
    assert not marker.exists()


def test_pt2_with_compiled_code_or_stray_files_is_refused(tmp_path: Path) -> None:
    good = _save(torch_module("relu"), "export", tmp_path / "good")
    bad = tmp_path / "aoti.pt2"
    with zipfile.ZipFile(good) as z:
        root = z.namelist()[0].split("/")[0]
    _rewrite_zip(good, bad, lambda n, d: d)
    with zipfile.ZipFile(bad, "a") as z:
        z.writestr(f"{root}/data/aotinductor/model/model.so", b"\x7fELF")
    with pytest.raises(ModelFileError, match=r"aoti.pt2: holds 'data/aotinductor/model/model.so'"):
        read_model(bad)


# --- ONNX from other tools ----------------------------------------------------------------------------------

@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "silu", "leaky_relu"])
def test_onnx_from_the_torch_exporter_keeps_its_activation(tmp_path: Path, act: str) -> None:
    module = torch_module(act, seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, 2),), str(tmp_path / "t.onnx"), dynamo=False,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    loaded = read_model(tmp_path / "t.onnx")
    assert loaded.net.activation == act
    assert_same_function(loaded.net, torch_values(module))


def _onnx(path: Path, nodes, inits: dict, dtype=np.float32) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.COMPLEX64
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", elem, ["N", 2])],
        [helper.make_tensor_value_info("y", elem, ["N", 1])],
        [numpy_helper.from_array(np.asarray(v, dtype=dtype), name=k) for k, v in inits.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _chain(act_nodes):
    from onnx import helper

    return [helper.make_node("Gemm", ["x", "W", "b"], ["g"], transB=1), *act_nodes,
            helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], transB=1)]


INITS = {"W": np.arange(6.0).reshape(3, 2) / 5 - 0.5, "b": [0.1, -0.2, 0.3], "W2": [[1.0, -2.0, 0.5]], "b2": [0.25]}


def test_onnx_leaky_relu_with_its_own_alpha_and_other_ops(tmp_path: Path) -> None:
    from onnx import helper

    path = _onnx(tmp_path / "l.onnx", _chain([helper.make_node("LeakyRelu", ["g"], ["h"], alpha=0.01)]), INITS)
    W, b, W2 = np.array(INITS["W"], np.float32), np.array(INITS["b"], np.float32), np.array(INITS["W2"], np.float32)
    g = X @ W.T.astype(np.float64) + b
    expected = np.where(g > 0, g, 0.01 * g) @ W2[0].astype(np.float64) + np.float32(0.25)
    assert_same_function(read_model(path).net, expected)
    path = _onnx(tmp_path / "l2.onnx", _chain([helper.make_node("LeakyRelu", ["g"], ["h"], alpha=0.3)]), INITS)
    got = read_model(path).net  # another slope is its own entry; the float32 attribute reads as the 0.3 written
    assert got.activation == "leaky_relu:0.3"
    assert_same_function(got, np.where(g > 0, g, 0.3 * g) @ W2[0].astype(np.float64) + np.float32(0.25))
    path = _onnx(tmp_path / "l3.onnx", _chain([helper.make_node("LeakyRelu", ["g"], ["h"], alpha=1.5)]), INITS)
    with pytest.raises(ModelFileError, match=r"l3.onnx: node 1 \(LeakyRelu\): LeakyRelu with negative slope 1.5"):
        read_model(path)
    path = _onnx(tmp_path / "elu.onnx", _chain([helper.make_node("Elu", ["g"], ["h"])]), INITS)
    with pytest.raises(ModelFileError, match=r"elu.onnx: unsupported ONNX op 'Elu' \(node 1\)"):
        read_model(path)


# --- hostile files: one line, never a traceback, never a silently different function ------------------------

def test_onnx_gemm_with_one_input_is_one_line(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Gemm", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])])
    import onnx

    onnx.save(helper.make_model(graph), str(tmp_path / "gemm1.onnx"))
    with pytest.raises(ModelFileError) as err:
        read_model(tmp_path / "gemm1.onnx")
    msg = str(err.value)
    assert msg.startswith("gemm1.onnx: ") and "Gemm" in msg and "input size 1" in msg and "\n" not in msg


def test_onnx_complex_weights_are_refused(tmp_path: Path) -> None:
    path = _onnx(tmp_path / "c.onnx", _chain([__import__("onnx").helper.make_node("Relu", ["g"], ["h"])]),
                 {**INITS, "W": np.array(INITS["W"]) * (1 + 1j)}, dtype=np.complex64)
    with pytest.raises(ModelFileError) as err:
        read_model(path)
    assert str(err.value).startswith("c.onnx: ") and "complex" in str(err.value) and "\n" not in str(err.value)


def _state(weight: torch.Tensor) -> dict:
    return {"0.weight": weight, "0.bias": torch.zeros(3), "2.weight": torch.ones(1, 3), "2.bias": torch.zeros(1)}


@pytest.mark.parametrize("make,needle", [
    (lambda w: w.to_sparse(), "is a sparse tensor (sparse_coo); expected dense weights"),
    (lambda w: w.to_sparse_csr(), "is a sparse tensor (sparse_csr); expected dense weights"),
    (lambda w: torch.quantize_per_tensor(w, 0.1, 0, torch.qint8),
     "is a quantized tensor (torch.qint8); expected floating-point weights"),
    (lambda w: w.to(torch.complex64), "holds complex values; weights must be real numbers"),
    (lambda w: w.to(torch.int32), "has dtype torch.int32; expected floating-point weights"),
    (lambda w: torch.empty(3, 2, device="meta"), "holds no data on the CPU (device meta)"),
])
def test_pt_tensors_that_are_not_dense_real_weights_are_one_line(tmp_path: Path, make, needle: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sparse CSR and quantized tensors warn when made
        weight = make(torch.randn(3, 2))
    torch.save(_state(weight), tmp_path / "h.pt")
    with pytest.raises(ModelFileError) as err:
        read_model(tmp_path / "h.pt", activation="relu")
    assert str(err.value) == f"h.pt: tensor '0.weight' {needle}"


@pytest.mark.parametrize("arrays,needle", [
    ({"W0": np.ones((0, 2)), "b0": np.zeros(0), "W1": np.ones((1, 0)), "b1": np.zeros(1)},
     r"layer 0 has zero width \(weight shape \(0, 2\)\)"),
    ({"W0": np.ones((3, 0)), "b0": np.zeros(3), "W1": np.ones((1, 3)), "b1": np.zeros(1)},
     r"the network has zero inputs \(layer 0 weight shape \(3, 0\)\)"),
    ({"W0": np.ones((3, 2)) * 1j, "b0": np.zeros(3), "W1": np.ones((1, 3)), "b1": np.zeros(1)},
     "layer 0 weight holds complex values; weights must be real numbers"),
    ({"W0": np.array([["a", "b"]]), "b0": np.zeros(1)}, "layer 0 weight holds <U1 values"),
])
def test_npz_without_a_network_inside_is_one_line(tmp_path: Path, arrays: dict, needle: str) -> None:
    np.savez(tmp_path / "z.npz", activation=np.array("relu"), **arrays)
    with pytest.raises(ModelFileError, match=f"^z.npz: {needle}") as err:
        read_model(tmp_path / "z.npz")
    assert "\n" not in str(err.value)


def test_pt_with_bad_metadata_is_refused(tmp_path: Path) -> None:
    state = {k: v.float() for k, v in _state(torch.randn(3, 2)).items()}
    torch.save({"nnlab": {"format": 2, "activation": "tanh"}, "state_dict": state}, tmp_path / "new.pt")
    with pytest.raises(ModelFileError, match="new.pt: written by a newer nnlab"):
        read_model(tmp_path / "new.pt")
    torch.save({"nnlab": {"format": 1}, "state_dict": state}, tmp_path / "noact.pt")
    with pytest.raises(ModelFileError, match="noact.pt: the 'nnlab' entry names no activation"):
        read_model(tmp_path / "noact.pt")
    torch.save({"nnlab": {"format": 1, "activation": "elu"}, "state_dict": state}, tmp_path / "elu.pt")
    with pytest.raises(ModelFileError, match="elu.pt: activation 'elu' is not supported"):
        read_model(tmp_path / "elu.pt")
    buf = io.BytesIO()
    torch.save({"nnlab": {"format": 1, "activation": "leaky_relu", "negative_slope": 0.2}, "state_dict": state}, buf)
    (tmp_path / "slope.pt").write_bytes(buf.getvalue())
    assert read_model(tmp_path / "slope.pt").net.activation == "leaky_relu:0.2"  # the slope it records
    buf = io.BytesIO()
    torch.save({"nnlab": {"format": 1, "activation": "leaky_relu", "negative_slope": 1.5}, "state_dict": state}, buf)
    (tmp_path / "steep.pt").write_bytes(buf.getvalue())
    with pytest.raises(ModelFileError, match="steep.pt: leaky_relu with negative slope 1.5"):
        read_model(tmp_path / "steep.pt")
    buf = io.BytesIO()
    torch.save({"nnlab": {"format": 1, "activation": "leaky_relu:0.2", "negative_slope": 0.3}, "state_dict": state}, buf)
    (tmp_path / "contra.pt").write_bytes(buf.getvalue())
    with pytest.raises(ModelFileError, match="contra.pt: the file records activation leaky_relu:0.2 with negative slope 0.3"):
        read_model(tmp_path / "contra.pt")
