"""Writing networks as ONNX: one Gemm (transB = 1) per layer and the activation's own node(s) between them, float32,
with the activation recorded in the model's metadata too. The op comes from the activation registry (`onnx_op`);
SiLU and GELU, which ONNX spells with several nodes at the opset nnlab writes, are written as x * Sigmoid(x) and
x * 0.5 * (1 + Erf(x / sqrt 2)), the forms torch's exporter emits and nnlab's reader recognises."""
from __future__ import annotations

import numpy as np

from nnlab.engine.model import activations
from nnlab.engine.model.io_common import FORMAT
from nnlab.engine.model.network import NetSnapshot

ONNX_OPSET, ONNX_IR_VERSION = 17, 8  # what nnlab writes: readable by every onnxruntime since 1.11


def _activation_nodes(act: str, cur: str, k: int) -> tuple[list, list, str]:
    """(nodes, constant tensors, output name) computing activation `act` of tensor `cur`."""
    from onnx import helper, numpy_helper

    out = f"h{k}"
    if act == "silu":
        return ([helper.make_node("Sigmoid", [cur], [f"s{k}"]), helper.make_node("Mul", [cur, f"s{k}"], [out])],
                [], out)
    if act == "gelu":
        consts = [numpy_helper.from_array(np.array(v, np.float32), f"{n}{k}")
                  for n, v in (("sqrt2_", np.sqrt(2.0)), ("one_", 1.0), ("half_", 0.5))]
        nodes = [helper.make_node("Div", [cur, f"sqrt2_{k}"], [f"d{k}"]), helper.make_node("Erf", [f"d{k}"], [f"e{k}"]),
                 helper.make_node("Add", [f"e{k}", f"one_{k}"], [f"a{k}"]),
                 helper.make_node("Mul", [cur, f"a{k}"], [f"m{k}"]), helper.make_node("Mul", [f"m{k}", f"half_{k}"], [out])]
        return nodes, consts, out
    entry = activations.get(act)
    attrs = {"alpha": entry.slope} if entry.piecewise_linear and entry.slope else {}  # LeakyRelu keeps its slope
    op = entry.onnx_op
    return [helper.make_node(op, [cur], [out], **attrs)], [], out


def onnx_bytes(snap: NetSnapshot) -> bytes:
    """The network as an ONNX model (see the module docstring)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    cur = "x"
    n = len(snap.weights)
    for k, (w, b) in enumerate(snap.layers()):
        inits += [numpy_helper.from_array(w.astype(np.float32), f"W{k}"),
                  numpy_helper.from_array(b.astype(np.float32), f"b{k}")]
        out = "y" if k == n - 1 else f"g{k}"
        nodes.append(helper.make_node("Gemm", [cur, f"W{k}", f"b{k}"], [out], transB=1, name=f"layer{k}"))
        cur = out
        if k == n - 1:
            break
        act_nodes, consts, cur = _activation_nodes(snap.activation, cur, k)
        nodes += act_nodes
        inits += consts
    graph = helper.make_graph(nodes, "nnlab", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", snap.input_dim])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="nnlab",
                              ir_version=ONNX_IR_VERSION)
    helper.set_model_props(model, {"nnlab_format": str(FORMAT), "activation": snap.activation})
    return model.SerializeToString()
