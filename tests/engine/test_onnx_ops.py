"""ONNX breadth: every op nnlab folds, written here with onnx.helper at each opset 7..21 where the op exists, read
and compared with onnxruntime's evaluation of the original graph on random points; refusals name the op and node."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nnlab.engine.model import activations  # noqa: E402
from nnlab.engine.model.io import ModelFileError, read_network  # noqa: E402

OPSETS = tuple(range(7, 22))
RNG = np.random.default_rng(11)


def f32(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def write(path: Path, nodes, inits: dict, in_shape, out_shape, opset: int, inits_as_inputs: bool = False) -> Path:
    """A model at `opset` with the smallest IR version it allows (as old exporters wrote them)."""
    tensors = [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)]
    if inits_as_inputs:  # IR 3 style (ACAS Xu): every weight is also a graph input
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in tensors]
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              tensors)
    ops = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=ops, ir_version=helper.find_min_ir_version_for(ops))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def ort_eval(path: Path, points: np.ndarray, in_shape) -> np.ndarray:
    """onnxruntime's outputs, flattened, one row per point (batch 1 per run, as the graph declares)."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shape = [1 if isinstance(d, str) else d for d in in_shape]
    return np.stack([sess.run(None, {"x": p.reshape(shape).astype(np.float32)})[0].reshape(-1) for p in points])


def check_against_ort(path: Path, in_shape, n_points: int = 25, scale: float = 2.0, rtol: float = 2e-5):
    net = read_network(path)
    n = int(np.prod([1 if isinstance(d, str) else d for d in in_shape]))
    assert net.input_dim == n
    pts = RNG.uniform(-scale, scale, (n_points, n))
    want = ort_eval(path, pts, in_shape)
    got = net.forward(pts)
    assert got.shape == want.shape
    assert np.ptp(want) > 1e-3  # a constant function would match anything
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * (1 + np.abs(want).max()))
    return net


# --- cases: (nodes, inits, in_shape, out_shape) at an opset, or None when an op does not exist there ----------

def acas_like(opset: int):
    """VNN-COMP's ACAS Xu layout: input (1,1,1,5), Sub/Div normalisation, Flatten, MatMul + Add, 5 outputs."""
    inits = {"mean": f32(1, 1, 1, 5), "range": (np.abs(f32(1, 1, 1, 5)) + 0.5).astype(np.float32)}
    nodes = [helper.make_node("Sub", ["x", "mean"], ["s"]), helper.make_node("Div", ["s", "range"], ["d"]),
             helper.make_node("Flatten", ["d"], ["f"])]
    cur, width = "f", 5
    for k, w in enumerate((8, 8, 5)):
        inits[f"W{k}"], inits[f"b{k}"] = f32(width, w), f32(w)
        nodes += [helper.make_node("MatMul", [cur, f"W{k}"], [f"m{k}"]),
                  helper.make_node("Add", [f"m{k}", f"b{k}"], [f"a{k}" if k < 2 else "y"])]
        if k < 2:
            nodes.append(helper.make_node("Relu", [f"a{k}"], [f"r{k}"]))
            cur = f"r{k}"
        width = w
    return nodes, inits, [1, 1, 1, 5], [1, 5]


def gemm_flags(opset: int):
    """Gemm with alpha, beta, transB, a broadcast scalar C, then Gemm with transA = 0, transB = 0."""
    inits = {"W": f32(6, 3), "b": f32(1), "W2": f32(6, 2), "b2": f32(2)}
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["g"], transB=1, alpha=0.5, beta=-2.0),
             helper.make_node("Tanh", ["g"], ["h"]), helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], alpha=1.5)]
    return nodes, inits, ["N", 3], ["N", 2]


def batchnorm_dropout(opset: int):
    """Gemm, BatchNormalization (inference), Dropout, Identity, LeakyRelu(0.01)."""
    c = 4
    inits = {"W": f32(c, 3), "b": f32(c), "sc": f32(c), "bb": f32(c), "mu": f32(c),
             "var": (np.abs(f32(c)) + 0.1).astype(np.float32), "W2": f32(1, c), "b2": f32(1)}
    bn = helper.make_node("BatchNormalization", ["g", "sc", "bb", "mu", "var"], ["n"], epsilon=1e-3)
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["g"], transB=1), bn,
             helper.make_node("Dropout", ["n"], ["d"], **({"ratio": 0.3} if opset < 12 else {})),
             helper.make_node("Identity", ["d"], ["i"]), helper.make_node("LeakyRelu", ["i"], ["h"], alpha=0.01),
             helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], transB=1)]
    return nodes, inits, ["N", 3], ["N", 1]


def clip_relu(opset: int):
    """Clip(min = 0) is ReLU: attributes before opset 11, an input after."""
    inits = {"W": f32(5, 2), "b": f32(5), "W2": f32(1, 5), "b2": f32(1)}
    if opset < 11:
        clip = helper.make_node("Clip", ["g"], ["h"], min=0.0)
    else:
        inits["zero"] = np.array(0.0, np.float32)
        clip = helper.make_node("Clip", ["g", "zero"], ["h"])
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["g"], transB=1), clip,
             helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], transB=1)]
    return nodes, inits, ["N", 2], ["N", 1]


def shapes(opset: int):
    """Reshape, Transpose, Unsqueeze, Squeeze (axes as attribute before 13, input after), Neg, constant - data,
    per-unit Mul, a Transpose of the weight, Constant nodes."""
    inits = {"s3": np.array([1, 2, 3], np.int64), "s6": np.array([0, -1], np.int64), "Wt": f32(4, 6), "b": f32(4),
             "k": f32(1, 6), "c0": f32(1, 6)}
    if opset < 13:
        unsq = helper.make_node("Unsqueeze", ["t"], ["u"], axes=[1])
        sq = helper.make_node("Squeeze", ["u"], ["q"], axes=[1])
    else:
        inits["ax"] = np.array([1], np.int64)
        unsq = helper.make_node("Unsqueeze", ["t", "ax"], ["u"])
        sq = helper.make_node("Squeeze", ["u", "ax"], ["q"])
    nodes = [helper.make_node("Reshape", ["x", "s3"], ["r"]), helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1]),
             unsq, sq, helper.make_node("Transpose", ["q"], ["t2"], perm=[0, 2, 1]),
             helper.make_node("Reshape", ["t2", "s6"], ["f"]), helper.make_node("Neg", ["f"], ["ng"]),
             helper.make_node("Sub", ["c0", "ng"], ["sb"]), helper.make_node("Mul", ["sb", "k"], ["mk"]),
             helper.make_node("Constant", [], ["half"], value=numpy_helper.from_array(np.array(0.5, np.float32))),
             helper.make_node("Mul", ["mk", "half"], ["mh"]),
             helper.make_node("Transpose", ["Wt"], ["W"], perm=[1, 0]),
             helper.make_node("MatMul", ["mh", "W"], ["m"]), helper.make_node("Add", ["b", "m"], ["y"])]
    return nodes, inits, ["N", 6], ["N", 4]


def cnn(opset: int):
    """Pad, Conv (strides, pads, dilations, 2 groups, bias), Relu, AveragePool (pads, count_include_pad = 0), Conv
    without bias, GlobalAveragePool, Flatten, Gemm: lowered exactly to dense layers."""
    inits = {"K1": f32(4, 1, 3, 3, scale=0.5), "B1": f32(4), "K2": f32(4, 2, 2, 2, scale=0.5), "W": f32(3, 4),
             "b": f32(3)}
    pads = [0, 0, 1, 0, 0, 0, 0, 1]
    if opset < 11:
        pad = helper.make_node("Pad", ["x"], ["p"], pads=pads, value=0.25)
    else:
        inits["pads"], inits["pv"] = np.array(pads, np.int64), np.array(0.25, np.float32)
        pad = helper.make_node("Pad", ["x", "pads", "pv"], ["p"])
    nodes = [pad, helper.make_node("Conv", ["p", "K1", "B1"], ["c1"], strides=[1, 2], pads=[1, 1, 1, 0], dilations=[1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("AveragePool", ["r1"], ["a1"], kernel_shape=[2, 2], pads=[1, 0, 0, 1], strides=[1, 1]),
             helper.make_node("Conv", ["a1", "K2"], ["c2"], group=2, kernel_shape=[2, 2]),
             helper.make_node("Relu", ["c2"], ["r2"]), helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]), helper.make_node("Gemm", ["f", "W", "b"], ["y"], transB=1)]
    return nodes, inits, ["N", 1, 6, 5], ["N", 3]


def conv1d_same(opset: int):
    """Conv1d with auto_pad SAME_UPPER, then the output itself ends with Sigmoid (an identity last layer)."""
    inits = {"K": f32(2, 2, 3), "B": f32(2)}
    nodes = [helper.make_node("Conv", ["x", "K", "B"], ["c"], auto_pad="SAME_UPPER", strides=[2]),
             helper.make_node("Sigmoid", ["c"], ["y"])]
    return nodes, inits, ["N", 2, 7], ["N", 2, 4]


def smooth(op: str):
    def case(opset: int):
        inits = {"W": f32(5, 3), "b": f32(5), "W2": f32(2, 5), "b2": f32(2)}
        mid: list = []
        if op == "silu":  # as torch exports SiLU
            mid = [helper.make_node("Sigmoid", ["g"], ["s"]), helper.make_node("Mul", ["g", "s"], ["h"])]
        elif op == "gelu_erf":  # as torch exports GELU before opset 20
            if opset < 9:
                return None
            inits.update(sq=np.array(np.sqrt(2), np.float32), one=np.array(1, np.float32), hf=np.array(0.5, np.float32))
            mid = [helper.make_node("Div", ["g", "sq"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                   helper.make_node("Add", ["e", "one"], ["a"]), helper.make_node("Mul", ["g", "a"], ["m"]),
                   helper.make_node("Mul", ["m", "hf"], ["h"])]
        else:
            if op == "Gelu" and opset < 20:
                return None
            mid = [helper.make_node(op, ["g"], ["h"])]
        nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["g"], transB=1), *mid,
                 helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], transB=1)]
        return nodes, inits, ["N", 3], ["N", 2]
    case.__name__ = op
    return case


CASES = [acas_like, gemm_flags, batchnorm_dropout, clip_relu, shapes, cnn, conv1d_same,
         *(smooth(op) for op in ("Sigmoid", "Tanh", "Softplus", "Gelu", "silu", "gelu_erf"))]
WANT_ACT = {"acas_like": "relu", "gemm_flags": "tanh", "batchnorm_dropout": "leaky_relu", "clip_relu": "relu",
            "shapes": None, "cnn": "relu", "conv1d_same": "sigmoid", "Sigmoid": "sigmoid", "Tanh": "tanh",
            "Softplus": "softplus", "Gelu": "gelu", "silu": "silu", "gelu_erf": "gelu"}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_each_op_matches_onnxruntime(tmp_path: Path, case, opset: int) -> None:
    built = case(opset)
    if built is None:
        pytest.skip(f"{case.__name__} needs a later opset than {opset}")
    nodes, inits, in_shape, out_shape = built
    path = write(tmp_path / "m.onnx", nodes, inits, in_shape, out_shape, opset, inits_as_inputs=opset < 9)  # IR 3
    net = check_against_ort(path, in_shape)
    if WANT_ACT[case.__name__] is not None:
        assert net.activation == WANT_ACT[case.__name__]
        assert activations.get(net.activation).piecewise_linear == (WANT_ACT[case.__name__] in ("relu", "leaky_relu"))
    assert net.n_outputs == int(np.prod([1 if isinstance(d, str) else d for d in out_shape]))


def test_acas_like_layers_are_folded_not_added(tmp_path: Path) -> None:
    """The Sub/Div normalisation folds into the first MatMul: three layers, widths 8, 8, 5 outputs."""
    path = write(tmp_path / "a.onnx", *acas_like(13), opset=13)
    net = read_network(path)
    assert [w.shape for w, _ in net.stack.layers] == [(8, 5), (8, 8), (5, 8)]
    snap = net.snapshot(output=3)
    X = RNG.uniform(-1, 1, (10, 5))
    np.testing.assert_allclose(snap.forward(X), net.forward(X)[:, 3], rtol=1e-14, atol=1e-14)


def test_objective_is_folded_into_the_last_layer(tmp_path: Path) -> None:
    path = write(tmp_path / "a.onnx", *acas_like(13), opset=13)
    net = read_network(path)
    c = [1.0, -1.0, 0.0, 0.5, 0.0]
    X = RNG.uniform(-1, 1, (50, 5))
    np.testing.assert_allclose(net.snapshot(objective=c).forward(X), net.forward(X) @ np.array(c), rtol=1e-13, atol=1e-13)
    with pytest.raises(ModelFileError, match=r"a.onnx: the objective has 2 coefficients but the network has 5 outputs"):
        net.snapshot(objective=[1, 2])
    with pytest.raises(ModelFileError, match=r"a.onnx: the network has 5 outputs; choose one with --output K"):
        net.snapshot()


def test_trailing_softmax_is_refused_or_dropped_with_logits(tmp_path: Path) -> None:
    nodes, inits, ins, outs = acas_like(13)
    plain = read_network(write(tmp_path / "p.onnx", nodes, inits, ins, outs, 13))
    nodes[-1] = helper.make_node("Add", ["m2", "b2"], ["z"])
    path = write(tmp_path / "s.onnx", [*nodes, helper.make_node("LogSoftmax", ["z"], ["y"], axis=1)], inits, ins, outs, 13)
    with pytest.raises(ModelFileError, match=r"^s.onnx: node 11 \(LogSoftmax\): a trailing LogSoftmax is not optimised; "
                                             r"pass --logits"):
        read_network(path)
    logits = read_network(path, logits=True)
    X = RNG.uniform(-1, 1, (10, 5))
    np.testing.assert_allclose(logits.forward(X), plain.forward(X), rtol=0, atol=0)
    mid = [*nodes, helper.make_node("Softmax", ["z"], ["sm"], axis=1), helper.make_node("Identity", ["sm"], ["y"])]
    with pytest.raises(ModelFileError, match=r"node 11 \(Softmax\): Softmax is read only as the last node"):
        read_network(write(tmp_path / "m.onnx", mid, inits, ins, outs, 13), logits=True)


@pytest.mark.parametrize("op,attrs,needle", [
    ("MaxPool", {"kernel_shape": [2]}, r"unsupported ONNX op 'MaxPool' - MaxPool is not lowered"),
    ("Elu", {}, r"unsupported ONNX op 'Elu' \(node 1\); nnlab reads Gemm, MatMul"),
    ("HardSigmoid", {}, r"unsupported ONNX op 'HardSigmoid' \(node 1\)"),
])
def test_unsupported_ops_are_named(tmp_path: Path, op: str, attrs: dict, needle: str) -> None:
    inits = {"W": f32(4, 3), "b": f32(4)}
    shape_in = ["N", 1, 3] if op == "MaxPool" else ["N", 3]
    first = (helper.make_node("Conv", ["x", "K"], ["g"]) if op == "MaxPool" else
             helper.make_node("Gemm", ["x", "W", "b"], ["g"], transB=1))
    if op == "MaxPool":
        inits = {"K": f32(1, 1, 1)}
    path = write(tmp_path / "u.onnx", [first, helper.make_node(op, ["g"], ["y"], **attrs)], inits, shape_in, ["N", 4], 13)
    with pytest.raises(ModelFileError, match=f"^u.onnx: {needle}"):
        read_network(path)


def test_refusals_of_what_is_not_a_chain(tmp_path: Path) -> None:
    inits = {"W": f32(3, 3), "b": f32(3), "six": np.array(6.0, np.float32), "zero": np.array(0.0, np.float32)}
    gemm = helper.make_node("Gemm", ["x", "W", "b"], ["g"], transB=1)
    relu6 = [gemm, helper.make_node("Clip", ["g", "zero", "six"], ["y"])]
    with pytest.raises(ModelFileError, match=r"node 1 \(Clip\): only Clip\(min = 0\) without a maximum"):
        read_network(write(tmp_path / "r6.onnx", relu6, inits, ["N", 3], ["N", 3], 13))
    skip = [gemm, helper.make_node("Relu", ["g"], ["r"]), helper.make_node("Gemm", ["r", "W", "b"], ["g2"], transB=1),
            helper.make_node("Add", ["g2", "g"], ["y"])]
    with pytest.raises(ModelFileError, match=r"skip connections are not read"):
        read_network(write(tmp_path / "skip.onnx", skip, inits, ["N", 3], ["N", 3], 13))
    mixed = [gemm, helper.make_node("Relu", ["g"], ["r"]), helper.make_node("Gemm", ["r", "W", "b"], ["g2"], transB=1),
             helper.make_node("Tanh", ["g2"], ["t"]), helper.make_node("Gemm", ["t", "W", "b"], ["y"], transB=1)]
    with pytest.raises(ModelFileError, match=r"mixes activations relu and tanh"):
        read_network(write(tmp_path / "mix.onnx", mixed, inits, ["N", 3], ["N", 3], 13))
    square = [gemm, helper.make_node("Mul", ["g", "g"], ["s"]), helper.make_node("Gemm", ["s", "W", "b"], ["y"], transB=1)]
    with pytest.raises(ModelFileError, match=r"the elementwise expression Mul is not an activation nnlab knows"):
        read_network(write(tmp_path / "sq.onnx", square, inits, ["N", 3], ["N", 3], 13))


def test_conv_beyond_the_dense_limit_is_refused_before_work(tmp_path: Path, monkeypatch) -> None:
    from nnlab.engine.model import onnx_read

    monkeypatch.setattr(onnx_read, "MAX_DENSE", 5000)
    inits = {"K": f32(8, 1, 3, 3)}
    path = write(tmp_path / "big.onnx", [helper.make_node("Conv", ["x", "K"], ["y"], pads=[1, 1, 1, 1])], inits,
                 ["N", 1, 6, 6], ["N", 8, 6, 6], 13)
    with pytest.raises(ModelFileError, match=r"^big.onnx: node 0 \(Conv\): Conv would be a dense map of 10,368 entries; "
                                             r"nnlab lowers at most 5,000"):
        read_network(path)
