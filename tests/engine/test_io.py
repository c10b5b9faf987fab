"""Model files: round trips through .pt/.npz/.onnx, and clear refusals of what nnlab cannot read."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnlab.engine.model.io import ModelFileError, ModelFileWarning, load_model, save_model
from nnlab.engine.model.network import NetSnapshot, initial_snapshot
from nnlab.engine.model.scene import InitSpec, NetworkSpec

X = np.random.default_rng(0).uniform(-2, 2, size=(200, 3))


def net(hidden=(7, 5), scheme="torch_default", activation="relu", bias="auto") -> NetSnapshot:
    return initial_snapshot(NetworkSpec(input_dim=3, hidden=hidden, activation=activation),
                            InitSpec(scheme=scheme, seed=5, bias=bias))


@pytest.mark.parametrize("suffix,tol", [(".npz", 0.0), (".pt", 1e-5), (".onnx", 1e-5)])
def test_round_trip_gives_the_same_outputs(tmp_path: Path, suffix: str, tol: float) -> None:
    snap = net()
    path = tmp_path / f"m{suffix}"
    save_model(snap, path)
    back = load_model(path)
    assert back.widths == snap.widths and back.input_dim == 3 and back.activation == "relu"
    np.testing.assert_allclose(back.forward(X), snap.forward(X), rtol=tol, atol=tol)
    assert np.ptp(snap.forward(X)) > 0.1  # a constant net would pass any round trip
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_onnx_from_torch_exporter_with_equal_zero_biases_folded_into_identity(tmp_path: Path) -> None:
    import warnings

    import onnx
    import torch

    from nnlab.engine.model.network import to_torch

    snap = net(hidden=(6, 6, 6), scheme="xavier_uniform", bias="zero")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(to_torch(snap), (torch.zeros(1, 3),), str(tmp_path / "z.onnx"), dynamo=False)
    ops = [n.op_type for n in onnx.load(str(tmp_path / "z.onnx")).graph.node]
    assert ops.count("Gemm") == 4 and ops.count("Relu") == 3 and "Identity" in ops
    np.testing.assert_allclose(load_model(tmp_path / "z.onnx").forward(X), snap.forward(X), atol=1e-5)


def test_npz_and_pt_keep_the_activation(tmp_path: Path) -> None:
    snap = net(activation="tanh")
    for name in ("t.npz", "t.pt"):
        save_model(snap, tmp_path / name)
        back = load_model(tmp_path / name)  # no argument: the file says tanh
        assert back.activation == "tanh"
        np.testing.assert_allclose(back.forward(X), snap.forward(X), atol=1e-5)


def test_pt_accepts_layer_numbering_gaps_and_a_prefix(tmp_path: Path) -> None:
    import torch

    snap = net(hidden=(4,))
    (w0, b0), (w1, b1) = snap.layers()
    state = {"net.0.weight": torch.tensor(w0), "net.0.bias": torch.tensor(b0),
             "net.3.weight": torch.tensor(w1), "net.3.bias": torch.tensor(b1)}
    torch.save(state, tmp_path / "gap.pt")
    with pytest.warns(ModelFileWarning, match="gap.pt records no activation"):
        back = load_model(tmp_path / "gap.pt")
    np.testing.assert_allclose(back.forward(X), snap.forward(X), atol=1e-12)


def _onnx_file(path: Path, nodes, inits, in_dim=2, out_dim=1) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", in_dim])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", out_dim])],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), name=k) for k, v in inits.items()])
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_onnx_matmul_add_chain_is_read(tmp_path: Path) -> None:
    from onnx import helper

    W1 = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]])  # (in, out) for MatMul
    b1 = np.array([0.1, -0.2, 0.3])
    W2 = np.array([[2.0], [1.0], [-1.0]])
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["a"]), helper.make_node("Add", ["a", "b1"], ["g"]),
             helper.make_node("Relu", ["g"], ["h"]), helper.make_node("Flatten", ["h"], ["f"], axis=1),
             helper.make_node("MatMul", ["f", "W2"], ["y0"]), helper.make_node("Add", ["b2", "y0"], ["y"])]
    path = _onnx_file(tmp_path / "mm.onnx", nodes, {"W1": W1, "b1": b1, "W2": W2, "b2": [0.5]})
    snap = load_model(path)
    P = X[:, :2]
    expected = np.maximum(P @ W1 + b1, 0) @ W2[:, 0] + 0.5
    np.testing.assert_allclose(snap.forward(P), expected, atol=1e-6)


def test_onnx_unsupported_op_is_named(tmp_path: Path) -> None:
    from onnx import helper

    from nnlab.engine.model.onnx_read import SUPPORTED_OPS

    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["g"], transB=1), helper.make_node("Elu", ["g"], ["h"]),
             helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], transB=1)]
    path = _onnx_file(tmp_path / "model.onnx", nodes, {"W": np.ones((3, 2)), "b": np.zeros(3),
                                                       "W2": np.ones((1, 3)), "b2": np.zeros(1)})
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    assert str(err.value) == f"model.onnx: unsupported ONNX op 'Elu' (node 1); nnlab reads {', '.join(SUPPORTED_OPS)}"


def test_onnx_shape_mismatch_is_refused(tmp_path: Path) -> None:
    from onnx import helper

    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["g"], transB=1), helper.make_node("Relu", ["g"], ["h"]),
             helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], transB=1)]
    path = _onnx_file(tmp_path / "bad.onnx", nodes, {"W": np.ones((3, 2)), "b": np.zeros(3),
                                                     "W2": np.ones((1, 4)), "b2": np.zeros(1)})
    with pytest.raises(ModelFileError, match=r"bad.onnx: node 2 \(Gemm\): shape mismatch.*expects 4 inputs.*gives 3"):
        load_model(path)


def test_onnx_gemm_alpha_beta_and_transposes_are_folded(tmp_path: Path) -> None:
    from onnx import helper

    W, b = np.array([[1.5, -2.0]]), np.array([0.25])
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["y"], transB=1, alpha=2.0, beta=-3.0)]
    path = _onnx_file(tmp_path / "a.onnx", nodes, {"W": W, "b": b})
    P = np.random.default_rng(3).uniform(-1, 1, (20, 2))
    np.testing.assert_allclose(load_model(path).forward(P), 2.0 * (P @ W[0]) - 3.0 * 0.25, atol=1e-6)


@pytest.mark.parametrize("suffix", [".pt", ".npz", ".onnx"])
def test_missing_and_corrupt_files_are_one_line_errors(tmp_path: Path, suffix: str) -> None:
    with pytest.raises(ModelFileError, match=f"nothere{suffix}: no such model file"):
        load_model(tmp_path / f"nothere{suffix}")
    bad = tmp_path / f"junk{suffix}"
    bad.write_bytes(b"\x08\x96\x01 this is not a model \xff\xfe" * 10)
    with pytest.raises(ModelFileError) as err:
        load_model(bad)
    assert str(err.value).startswith(f"junk{suffix}: ") and "\n" not in str(err.value)


def test_bad_suffix_and_wrong_contents(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="unsupported model file suffix '.h5'"):
        save_model(net(), tmp_path / "m.h5")
    np.savez(tmp_path / "empty.npz", x=np.zeros(3))
    with pytest.raises(ModelFileError, match="no weight arrays"):
        load_model(tmp_path / "empty.npz")
    np.savez(tmp_path / "two_out.npz", W0=np.ones((2, 3)), b0=np.zeros(2))
    with pytest.raises(ModelFileError, match=r"two_out.npz: the network has 2 outputs; choose one with --output K"):
        load_model(tmp_path / "two_out.npz")
    with pytest.raises(ModelFileError, match=r"two_out.npz: output 2 does not exist; the network has 2 outputs"):
        load_model(tmp_path / "two_out.npz", output=2)
    assert load_model(tmp_path / "two_out.npz", output=1).forward(np.ones(3)) == 3.0


def test_pickled_whole_model_is_refused_without_unpickling(tmp_path: Path) -> None:
    import torch

    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 1)), tmp_path / "whole.pt")
    with pytest.raises(ModelFileError, match=r"whole.pt: .*objects other than tensors; save model.state_dict\(\)"):
        load_model(tmp_path / "whole.pt")
