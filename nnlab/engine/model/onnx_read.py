"""Reading ONNX graphs as layer stacks: every affine op is folded exactly (float64) into the layer it belongs to.

The graph is interpreted symbolically, op by op, at batch size 1. A tensor that flows from the input is kept as an
affine map of the current layer's input z (flat, width n): value = L z + c, with L of shape (*shape, n). Affine ops
(Sub, Div, Mul, Add by constants, Gemm, MatMul, Conv, AveragePool, BatchNormalization, Pad and the shape ops)
transform L and c; an elementwise nonlinearity starts an "activation expression" of one pre-activation, which
closes a hidden layer as soon as something other than an elementwise op reads it. Its activation is named by the
op (Relu, LeakyRelu, Clip(min = 0), Sigmoid, Tanh, Softplus, Gelu) or, for the forms exporters spell with several
nodes (x * Sigmoid(x) for SiLU, x * 0.5 * (1 + Erf(x / sqrt 2)) for GELU), by comparing the expression with the
registry's smooth activations on a grid (a smooth activation is never read as a piecewise-linear one this way).
Convolutions become dense layers (the lowering of OMLT and Gogeta), so their size is bounded by MAX_DENSE entries.
Anything else is refused with the op's name and node. The last layer may have several outputs (LayerStack).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nnlab.engine.model import activations
from nnlab.engine.model.io_common import LayerStack, ModelFileError, first_line
from nnlab.engine.model.network import NetworkError, leaky_activation

MAX_DENSE = 10_000_000  # entries of one dense map (80 MB in float64): bounds the input width and lowered Conv layers
SUPPORTED_OPS = ("Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Neg", "Conv", "AveragePool", "GlobalAveragePool",
                 "BatchNormalization", "Pad", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Identity",
                 "Dropout", "Cast", "Constant", "Shape", "Gather", "Concat", "Relu", "LeakyRelu", "Clip", "Sigmoid",
                 "Tanh", "Softplus", "Gelu", "Erf", "Softmax", "LogSoftmax")
_UNARY = {"Relu": lambda v: np.maximum(v, 0.0), "Sigmoid": activations.SIGMOID.value, "Tanh": np.tanh,
          "Softplus": activations.SOFTPLUS.value, "Gelu": activations.GELU.value}
_SMOOTH_GRID = np.concatenate([np.linspace(-12.0, 12.0, 2401), [-60.0, -30.0, 30.0, 60.0]])


class _Refusal(Exception):
    """A node nnlab cannot read (converted to a ModelFileError naming the file and node)."""


@dataclass(eq=False)
class Aff:
    """value = L z + c: L (*shape, n), c (*shape), z the input of hidden layer `layer`. `base` = (u, f): this value
    is f(u) elementwise for an earlier value u (a scalar Mul/Div/Add/Sub), so activation expressions can meet."""

    L: np.ndarray
    c: np.ndarray
    layer: int
    base: tuple["Aff", Callable[[np.ndarray], np.ndarray]] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.c.shape)


@dataclass(eq=False)
class Elem:
    """f(u) elementwise for a pre-activation u; `name` is set when one activation op made it."""

    u: Aff
    f: Callable[[np.ndarray], np.ndarray]
    name: str | None
    ops: tuple[str, ...]


def _check_size(entries: int, what: str) -> None:
    if entries > MAX_DENSE:
        raise _Refusal(f"{what} would be a dense map of {entries:,} entries; nnlab lowers at most {MAX_DENSE:,}")


def _roots(v: Aff | Elem) -> list[Aff]:
    out, a = [], v.u if isinstance(v, Elem) else v
    while a is not None:
        out.append(a)
        a = a.base[0] if a.base else None
    return out


def _as_fn(v: Any, root: Aff) -> Callable[[np.ndarray], np.ndarray] | None:
    """v as an elementwise function of `root`, or None."""
    if isinstance(v, np.ndarray):
        return (lambda z, k=float(v.reshape(-1)[0]): np.full_like(z, k)) if v.size == 1 else None
    if isinstance(v, Elem):
        g = _as_fn(v.u, root)
        return None if g is None else (lambda z, f=v.f: f(g(z)))
    if v is root:
        return lambda z: z
    if isinstance(v, Aff) and v.base is not None:
        g = _as_fn(v.base[0], root)
        return None if g is None else (lambda z, f=v.base[1]: f(g(z)))
    return None


def _pads(at: dict, spatial: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...],
          dil: tuple[int, ...]) -> list[tuple[int, int]]:
    auto = at.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    r = len(spatial)
    if auto in ("NOTSET", ""):
        p = list(at.get("pads", [0] * 2 * r))
        return [(int(p[i]), int(p[i + r])) for i in range(r)]
    if auto == "VALID":
        return [(0, 0)] * r
    out = []
    for s, k, st, d in zip(spatial, kernel, strides, dil):
        total = max(0, (-(-s // st) - 1) * st + (k - 1) * d + 1 - s)
        lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
        out.append((lo, total - lo))
    return out


def _conv(x: np.ndarray, w: np.ndarray, strides, dil, pads, group: int) -> np.ndarray:
    """Cross-correlation of images x (N, C, *spatial) with kernels w (M, C / group, *k), as ONNX Conv (no bias)."""
    r = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0), *pads])
    ks = w.shape[2:]
    out_sp = tuple((xp.shape[2 + i] - (ks[i] - 1) * dil[i] - 1) // strides[i] + 1 for i in range(r))
    if any(o <= 0 for o in out_sp):
        raise _Refusal(f"the kernel {tuple(ks)} does not fit the padded input {xp.shape[2:]}")
    n, c, m = x.shape[0], x.shape[1], w.shape[0]
    cg, mg = c // group, m // group
    out = np.zeros((n, m, *out_sp))
    for idx in np.ndindex(*ks):
        sl = tuple(slice(idx[i] * dil[i], idx[i] * dil[i] + strides[i] * (out_sp[i] - 1) + 1, strides[i])
                   for i in range(r))
        patch = xp[(slice(None), slice(None), *sl)]
        for g in range(group):
            wk = w[(slice(g * mg, (g + 1) * mg), slice(None), *idx)]  # (mg, cg)
            out[:, g * mg:(g + 1) * mg] += np.einsum("nc...,mc->nm...", patch[:, g * cg:(g + 1) * cg], wk)
    return out


def _conv_aff(a: Aff, w: np.ndarray, bias: np.ndarray | None, strides, dil, pads, group: int) -> Aff:
    """Conv of an affine value: the linear part convolves each column of L (no bias), the offset gets the bias."""
    if a.shape[0] != 1:
        raise _Refusal("only batch size 1 inputs are lowered")
    n = a.L.shape[-1]
    r = a.c.ndim - 2
    ks = w.shape[2:]
    out_sp = [(a.shape[2 + i] + sum(pads[i]) - (ks[i] - 1) * dil[i] - 1) // strides[i] + 1 for i in range(r)]
    _check_size(int(w.shape[0] * np.prod(out_sp)) * n, "Conv")
    cols = np.moveaxis(a.L[0], -1, 0)  # (n, C, *spatial)
    lin = np.moveaxis(_conv(cols, w, strides, dil, pads, group), 0, -1)[None]
    off = _conv(a.c, w, strides, dil, pads, group)
    if bias is not None:
        off = off + bias.reshape(1, -1, *([1] * r))
    return Aff(lin, off, a.layer)


def _broadcast_const(k: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...]]:
    try:
        out_shape = np.broadcast_shapes(shape, k.shape)
    except ValueError:
        raise _Refusal(f"a constant of shape {k.shape} does not broadcast with the data's shape {shape}") from None
    return k.reshape((1,) * (len(out_shape) - k.ndim) + k.shape), out_shape


def _affine_const(a: Aff, k: np.ndarray, op: str, data_first: bool) -> Aff:
    """a (op) k or k (op) a for a constant k: Add, Sub, Mul, Div (data / k only)."""
    k = np.asarray(k, dtype=np.float64)
    kk, shape = _broadcast_const(k, a.shape)
    L = np.broadcast_to(a.L, (*shape, a.L.shape[-1]))
    c = np.broadcast_to(a.c, shape)
    if op == "Add":
        out = Aff(L.copy(), c + kk, a.layer)
    elif op == "Sub":
        out = Aff(L.copy(), c - kk, a.layer) if data_first else Aff(-L, kk - c, a.layer)
    elif op == "Mul":
        out = Aff(L * kk[..., None], c * kk, a.layer)
    elif op == "Div" and data_first:
        if np.any(kk == 0):
            raise _Refusal("division by zero")
        out = Aff(L / kk[..., None], c / kk, a.layer)
    else:
        raise _Refusal("only data / constant is affine; constant / data is not")
    if k.size == 1 and shape == a.shape:  # remember the scalar map, so x * f(x / s) style expressions meet again
        s = float(k.reshape(-1)[0])
        f = {"Add": lambda z: z + s, "Mul": lambda z: z * s, "Div": lambda z: z / s,
             "Sub": (lambda z: z - s) if data_first else (lambda z: s - z)}[op]
        out.base = (a, f)
    return out


class _Graph:
    """One pass over the nodes of a checked ONNX model."""

    def __init__(self, model: Any, name: str, logits: bool) -> None:
        self.model, self.name, self.logits = model, name, logits
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []
        self.activation: str | None = None
        self.closed: dict[int, Aff] = {}
        self.env: dict[str, Any] = {}

    # --- helpers -------------------------------------------------------------------------------------------
    def close(self, e: Elem, where: str) -> Aff:
        """End a hidden layer at activation expression e and start the next one with the identity."""
        if id(e) in self.closed:
            return self.closed[id(e)]
        name = e.name or self.identify(e)
        if e.u.layer != len(self.layers):
            raise _Refusal("the activation reads a value of an earlier layer (skip connections are not read)")
        if self.activation is not None and name != self.activation:
            raise _Refusal(f"the network mixes activations {self.activation} and {name}; nnlab networks use one "
                           "activation in every hidden layer")
        self.activation = name
        u = e.u
        m = int(np.prod(u.shape))
        self.layers.append((u.L.reshape(m, -1), u.c.reshape(-1)))
        _check_size(m * m, f"the layer after {where}")
        nxt = Aff(np.eye(m).reshape(*u.shape, m), np.zeros(u.shape), len(self.layers))
        self.closed[id(e)] = nxt
        return nxt

    @staticmethod
    def identify(e: Elem) -> str:
        """The registered smooth activation that the expression computes (checked on a grid)."""
        with np.errstate(all="ignore"):
            got = e.f(_SMOOTH_GRID.copy())
        for act in activations.names(piecewise_linear=False):
            want = activations.get(act).value(_SMOOTH_GRID)
            if np.all(np.abs(got - want) <= 1e-6 * (1.0 + np.abs(want))):
                return act
        raise _Refusal(f"the elementwise expression {' '.join(e.ops)} is not an activation nnlab knows "
                       f"({', '.join(activations.names())})")

    def data(self, v: Any, where: str) -> Aff:
        return self.close(v, where) if isinstance(v, Elem) else v

    # --- the walk --------------------------------------------------------------------------------------------
    def run(self) -> LayerStack:
        from onnx import numpy_helper

        g = self.model.graph
        consts: dict[str, np.ndarray] = {}
        for t in g.initializer:
            try:
                consts[t.name] = numpy_helper.to_array(t)
            except Exception as e:  # a tensor whose data does not match its shape or type
                raise ModelFileError(f"{self.name}: initializer {t.name!r} cannot be read ({first_line(e)})") from None
        for k, v in consts.items():
            if v.dtype.kind == "c":
                raise ModelFileError(f"{self.name}: initializer {k!r} holds complex values; weights must be real numbers")
        self.env.update(consts)
        inputs = [i for i in g.input if i.name not in consts]  # initializers may be listed as inputs (IR < 4)
        if len(inputs) != 1 or len(g.output) != 1:
            raise ModelFileError(f"{self.name}: expected one input and one output, got {len(inputs)} and {len(g.output)}")
        shape = self._input_shape(inputs[0])
        n = int(np.prod(shape))
        if n * n > MAX_DENSE:
            raise ModelFileError(f"{self.name}: the input has {n} values; nnlab reads at most {int(MAX_DENSE ** 0.5)}")
        self.env[inputs[0].name] = Aff(np.eye(n).reshape(*shape, n), np.zeros(shape), 0)
        nodes = list(g.node)
        out_name = g.output[0].name
        for i, node in enumerate(nodes):
            label = f"{node.op_type}{', ' + node.name if node.name else ''}"
            try:
                self.node(node, last=(list(node.output)[:1] == [out_name]), label=label)
            except _Refusal as r:
                if str(r).startswith("unsupported ONNX op"):
                    raise ModelFileError(f"{self.name}: {r} (node {i}{': ' + node.name if node.name else ''}); "
                                         f"nnlab reads {', '.join(SUPPORTED_OPS)}") from None
                raise ModelFileError(f"{self.name}: node {i} ({label}): {r}") from None
            except NetworkError as err:
                raise ModelFileError(f"{self.name}: node {i} ({label}): {err}") from None
        if out_name not in self.env:
            raise ModelFileError(f"{self.name}: the graph output {out_name!r} is never computed")
        out = self.env[out_name]
        if isinstance(out, np.ndarray):
            raise ModelFileError(f"{self.name}: the graph output does not depend on the input")
        try:
            if isinstance(out, Elem):  # the net ends with an activation: an identity output layer keeps it exact
                out = self.close(out, "the output")
        except _Refusal as r:
            raise ModelFileError(f"{self.name}: the output: {r}") from None
        k = int(np.prod(out.shape))
        layers = [*self.layers, (out.L.reshape(k, -1), out.c.reshape(-1))]
        return LayerStack(tuple(layers), self.activation, tuple(out.shape))

    def _input_shape(self, value_info: Any) -> tuple[int, ...]:
        dims = value_info.type.tensor_type.shape.dim
        shape = []
        for d, dim in enumerate(dims):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                shape.append(int(dim.dim_value))
            elif d == 0 and len(dims) > 1:
                shape.append(1)  # a named or free batch dimension: read at batch size 1
            else:
                raise ModelFileError(f"{self.name}: input {value_info.name!r} has no static size in dimension {d}")
        if not shape:
            raise ModelFileError(f"{self.name}: input {value_info.name!r} has no declared shape")
        return tuple(shape)

    def node(self, node: Any, last: bool, label: str) -> None:
        from onnx import helper, numpy_helper

        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise _Refusal(f"unsupported ONNX op {node.domain + '.' + op!r}")
        at = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        names = list(node.input)
        for nm in names:
            if nm and nm not in self.env:
                raise _Refusal(f"input {nm!r} is not computed before this node")
        ins = [self.env[nm] if nm else None for nm in names]
        outs = list(node.output)
        is_data = [isinstance(v, (Aff, Elem)) for v in ins]

        def setout(v: Any) -> None:
            self.env[outs[0]] = v

        if op == "Constant":
            if "value" in at:
                v = numpy_helper.to_array(at["value"])
            elif "value_float" in at or "value_int" in at:
                v = np.array(at.get("value_float", at.get("value_int")))
            elif "value_floats" in at or "value_ints" in at:
                v = np.array(at.get("value_floats", at.get("value_ints")))
            else:
                raise _Refusal("only tensor and number constants are supported")
            return setout(v)
        if op not in SUPPORTED_OPS:
            why = {"MaxPool": "MaxPool is not lowered (nnlab has no max formulation)"}.get(op)
            raise _Refusal(f"unsupported ONNX op {op!r}" + (f" - {why}" if why else ""))
        if not any(is_data):
            return setout(self.const_op(op, ins, at, outs))
        data_idx = [k for k, d in enumerate(is_data) if d]
        x = ins[data_idx[0]]

        if op in ("Identity", "Dropout"):
            if op == "Dropout" and (at.get("is_test", 1) == 0 or (len(ins) > 2 and ins[2] is not None
                                                                   and bool(np.asarray(ins[2]).reshape(-1)[0]))):
                raise _Refusal("Dropout in training mode")
            return setout(x)
        if op == "Cast":
            from onnx import TensorProto

            if at.get("to") not in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16):
                raise _Refusal("Cast of the data to a non-floating type")
            return setout(x)
        if op in ("Softmax", "LogSoftmax"):
            if not last:
                raise _Refusal(f"{op} is read only as the last node (dropped with --logits)")
            if not self.logits:
                raise _Refusal(f"a trailing {op} is not optimised; pass --logits (logits=True) to optimise the "
                               "logits before it")
            return setout(x)
        if op == "LeakyRelu":
            name = leaky_activation(at.get("alpha", 0.01), "LeakyRelu")  # any slope in [0, 1): its own entry
            return setout(self.unary(x, name, activations.get(name).value, op))
        if op == "Clip":
            lo = at.get("min") if "min" in at else (None if len(ins) < 2 or ins[1] is None else ins[1])
            hi = at.get("max") if "max" in at else (None if len(ins) < 3 or ins[2] is None else ins[2])
            lo = None if lo is None else float(np.asarray(lo).reshape(-1)[0])
            hi = None if hi is None else float(np.asarray(hi).reshape(-1)[0])
            if lo != 0.0 or (hi is not None and hi < np.finfo(np.float32).max):
                raise _Refusal(f"only Clip(min = 0) without a maximum is read (as ReLU), got min {lo}, max {hi}")
            return setout(self.unary(x, "relu", _UNARY["Relu"], op))
        if op in _UNARY:
            if op == "Gelu" and str(at.get("approximate", b"none")).strip("b'") != "none":
                raise _Refusal("only the exact (erf) Gelu is read, not approximate = tanh")
            return setout(self.unary(x, activations.by_onnx_op(op).name, _UNARY[op], op))
        if op == "Erf":
            from scipy.special import erf

            return setout(self.unary(x, None, erf, op))
        if op in ("Add", "Sub", "Mul", "Div"):
            return setout(self.binary(op, ins, is_data, label))
        x = self.data(x, label)  # every op below reads a hidden layer's output: the activation ends there
        if len(data_idx) > 1 and op not in ("Concat",):
            raise _Refusal("reads the data twice; nnlab reads a single chain from input to output")
        if op == "Neg":
            return setout(Aff(-x.L, -x.c, x.layer))
        if op in ("Flatten", "Reshape", "Squeeze", "Unsqueeze"):
            return setout(self.reshape(op, x, ins, at))
        if op == "Transpose":
            perm = list(at.get("perm", range(x.c.ndim)[::-1]))
            return setout(Aff(x.L.transpose([*perm, x.c.ndim]), x.c.transpose(perm), x.layer))
        if op == "MatMul":
            return setout(self.matmul(x, ins[1 - data_idx[0]], data_idx[0] == 0))
        if op == "Gemm":
            return setout(self.gemm(x, ins, data_idx[0], at))
        if op == "Conv":
            return setout(self.conv(x, ins, at))
        if op in ("AveragePool", "GlobalAveragePool"):
            return setout(self.avgpool(x, op, at))
        if op == "BatchNormalization":
            if len(outs) > 1 and any(outs[1:]) or at.get("training_mode", 0):
                raise _Refusal("BatchNormalization in training mode")
            if at.get("spatial", 1) != 1:
                raise _Refusal("BatchNormalization with spatial = 0 (per-element statistics) is not supported")
            scale, bias, mean, var = (np.asarray(v, dtype=np.float64) for v in ins[1:5])
            k = scale / np.sqrt(var + float(at.get("epsilon", 1e-5)))
            r = x.c.ndim - 2
            y = _affine_const(x, k.reshape(-1, *([1] * r)), "Mul", True)
            return setout(_affine_const(Aff(y.L, y.c, y.layer), (bias - mean * k).reshape(-1, *([1] * r)), "Add", True))
        if op == "Pad":
            return setout(self.pad(x, ins, at))
        if op == "Shape":
            return setout(np.array(x.shape, dtype=np.int64))
        raise _Refusal(f"{op} of the data is not supported")

    # --- ops ---------------------------------------------------------------------------------------------------
    def unary(self, x: Aff | Elem, name: str | None, f: Callable[[np.ndarray], np.ndarray], op: str) -> Elem:
        if isinstance(x, Elem) and x.name is not None:  # an activation of an activation: a layer in between
            x = self.close(x, op)
        if isinstance(x, Elem):
            return Elem(x.u, lambda z, g=x.f: f(g(z)), None, (*x.ops, op))
        return Elem(x, f, name, (op,))

    def binary(self, op: str, ins: list[Any], is_data: list[bool], label: str) -> Any:
        a, b = ins
        if isinstance(a, Elem) or isinstance(b, Elem) or all(is_data) and op in ("Mul", "Div"):
            const = [v for v in (a, b) if isinstance(v, np.ndarray)]
            named = any(isinstance(v, Elem) and v.name is not None for v in (a, b))
            if const and (const[0].size != 1 or named):  # a constant after an activation: the next layer's
                return self.binary(op, [self.data(v, label) if isinstance(v, Elem) else v for v in ins], is_data, label)
            roots = [r for r in _roots(a if is_data[0] else b) if any(r is s for s in _roots(b if is_data[1] else a))]
            root = roots[0] if roots else None
            fa, fb = (_as_fn(v, root) if root is not None else None for v in (a, b))
            if fa is None or fb is None:
                if op in ("Add", "Sub"):
                    return self.binary(op, [self.data(v, label) if isinstance(v, Elem) else v for v in ins],
                                       is_data, label)
                raise _Refusal(f"{op} of two values that are not one elementwise expression")
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
            base = root
            prev = a if isinstance(a, Elem) else b
            ops = (*(prev.ops if isinstance(prev, Elem) else ()), op)
            return Elem(base, lambda z, fa=fa, fb=fb, f=f: f(fa(z), fb(z)), None, ops)
        if all(is_data):
            if a.layer != b.layer:
                raise _Refusal("adds values of different layers (skip connections are not read)")
            if op == "Add":
                shape = np.broadcast_shapes(a.shape, b.shape)
                return Aff(np.broadcast_to(a.L, (*shape, a.L.shape[-1])) + b.L, np.broadcast_to(a.c, shape) + b.c, a.layer)
            if op == "Sub":
                shape = np.broadcast_shapes(a.shape, b.shape)
                return Aff(np.broadcast_to(a.L, (*shape, a.L.shape[-1])) - b.L, np.broadcast_to(a.c, shape) - b.c, a.layer)
        if is_data[0]:
            return _affine_const(a, b, op, True)
        return _affine_const(b, a, op, False)

    def reshape(self, op: str, x: Aff, ins: list[Any], at: dict) -> Aff:
        shape = x.shape
        if op == "Flatten":
            ax = int(at.get("axis", 1)) % (len(shape) + 1) if shape else 0
            new = (int(np.prod(shape[:ax])), int(np.prod(shape[ax:])))
        elif op == "Reshape":
            target = [int(v) for v in np.asarray(ins[1]).reshape(-1)]
            if not at.get("allowzero", 0):
                target = [shape[i] if v == 0 else v for i, v in enumerate(target)]
            if target.count(-1) > 1:
                raise _Refusal(f"a reshape to {target} has two free dimensions")
            if -1 in target:
                known = int(np.prod([v for v in target if v != -1]))
                target[target.index(-1)] = int(np.prod(shape)) // max(known, 1)
            new = tuple(target)
        else:
            axes = at.get("axes")
            if axes is None and len(ins) > 1 and ins[1] is not None:
                axes = [int(v) for v in np.asarray(ins[1]).reshape(-1)]
            if op == "Squeeze":
                axes = [a % len(shape) for a in axes] if axes is not None else [i for i, s in enumerate(shape) if s == 1]
                if any(shape[a] != 1 for a in axes):
                    raise _Refusal(f"Squeeze of axes {axes} of shape {shape} that are not 1")
                new = tuple(s for i, s in enumerate(shape) if i not in axes)
            else:
                rank = len(shape) + len(axes)
                axes = sorted(a % rank for a in axes)
                it = iter(shape)
                new = tuple(1 if i in axes else next(it) for i in range(rank))
        if int(np.prod(new)) != int(np.prod(shape)):
            raise _Refusal(f"cannot reshape {shape} to {tuple(new)}")
        return Aff(x.L.reshape(*new, x.L.shape[-1]), x.c.reshape(new), x.layer)

    def matmul(self, x: Aff, w: Any, data_left: bool) -> Aff:
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 2:
            raise _Refusal(f"only a product with a constant matrix is supported, got shape {w.shape}")
        if data_left:
            if x.shape[-1] != w.shape[0]:
                raise _Refusal(f"shape mismatch: the weight {w.shape} expects {w.shape[0]} inputs, "
                              f"the previous layer gives {x.shape[-1]}")
            return Aff(np.einsum("...kn,km->...mn", x.L, w), x.c @ w, x.layer)
        if x.c.ndim < 2 or x.shape[-2] != w.shape[1]:
            raise _Refusal(f"shape mismatch: matrix {w.shape} times data of shape {x.shape}")
        return Aff(np.einsum("mk,...kpn->...mpn", w, x.L), w @ x.c, x.layer)

    def gemm(self, x: Aff, ins: list[Any], i: int, at: dict) -> Aff:
        if len(ins) < 2:
            raise _Refusal("Gemm needs two inputs")
        if x.c.ndim != 2:
            raise _Refusal(f"Gemm of data of shape {x.shape}; expected a matrix")
        alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
        if i == 0:
            if at.get("transA", 0):
                x = Aff(x.L.transpose(1, 0, 2), x.c.T, x.layer)
            w = np.asarray(ins[1], dtype=np.float64)
            w = w.T if at.get("transB", 0) else w
            y = self.matmul(x, alpha * w, True)
        else:
            if at.get("transB", 0):
                x = Aff(x.L.transpose(1, 0, 2), x.c.T, x.layer)
            w = np.asarray(ins[0], dtype=np.float64)
            w = w.T if at.get("transA", 0) else w
            y = self.matmul(x, alpha * w, False)
        if len(ins) > 2 and ins[2] is not None:
            y = _affine_const(y, beta * np.asarray(ins[2], dtype=np.float64), "Add", True)
            y.base = None
        return y

    def conv(self, x: Aff, ins: list[Any], at: dict) -> Aff:
        w = np.asarray(ins[1], dtype=np.float64)
        r = w.ndim - 2
        if r < 1 or x.c.ndim != w.ndim:
            raise _Refusal(f"Conv of data of shape {x.shape} with kernels of shape {w.shape}")
        group = int(at.get("group", 1))
        if x.shape[1] != w.shape[1] * group or w.shape[0] % group:
            raise _Refusal(f"shape mismatch: {x.shape[1]} channels for kernels {w.shape} in {group} groups")
        strides = tuple(at.get("strides", [1] * r))
        dil = tuple(at.get("dilations", [1] * r))
        pads = _pads(at, x.shape[2:], w.shape[2:], strides, dil)
        bias = None if len(ins) < 3 or ins[2] is None else np.asarray(ins[2], dtype=np.float64)
        return _conv_aff(x, w, bias, strides, dil, pads, group)

    def avgpool(self, x: Aff, op: str, at: dict) -> Aff:
        """Average pooling as a depthwise convolution; the divisor counts padding only with count_include_pad."""
        c, sp = x.shape[1], x.shape[2:]
        if op == "GlobalAveragePool":
            kernel, strides, dil, pads = tuple(sp), (1,) * len(sp), (1,) * len(sp), [(0, 0)] * len(sp)
        else:
            if at.get("ceil_mode", 0):
                raise _Refusal("AveragePool with ceil_mode = 1 is not supported")
            kernel = tuple(at["kernel_shape"])
            strides = tuple(at.get("strides", [1] * len(kernel)))
            dil = tuple(at.get("dilations", [1] * len(kernel)))
            pads = _pads(at, sp, kernel, strides, dil)
        ones_k = np.ones((c, 1, *kernel))
        s = _conv_aff(x, ones_k, None, strides, dil, pads, c)
        if op == "AveragePool" and not at.get("count_include_pad", 0):
            count = _conv(np.ones((1, 1, *sp)), np.ones((1, 1, *kernel)), strides, dil, pads, 1)
        else:
            count = np.full((1, 1), float(np.prod(kernel)))
        count = count.reshape(1, 1, *s.shape[2:]) if count.ndim > 2 else count.reshape(1, 1, *([1] * len(sp)))
        return Aff(s.L / count[..., None], s.c / count, s.layer)

    def pad(self, x: Aff, ins: list[Any], at: dict) -> Aff:
        mode = at.get("mode", b"constant")
        if (mode.decode() if isinstance(mode, bytes) else mode) != "constant":
            raise _Refusal(f"Pad mode {mode!r}; only constant padding is affine")
        pads = at.get("pads") if "pads" in at else [int(v) for v in np.asarray(ins[1]).reshape(-1)]
        value = float(at.get("value", 0.0)) if len(ins) < 3 or ins[2] is None else float(np.asarray(ins[2]).reshape(-1)[0])
        if len(ins) > 3 and ins[3] is not None:
            raise _Refusal("Pad with axes is not supported")
        r = x.c.ndim
        if any(p < 0 for p in pads):
            raise _Refusal("Pad with negative pads (cropping) is not supported")
        pw = [(int(pads[i]), int(pads[i + r])) for i in range(r)]
        return Aff(np.pad(x.L, [*pw, (0, 0)]), np.pad(x.c, pw, constant_values=value), x.layer)

    def const_op(self, op: str, ins: list[Any], at: dict, outs: list[str]) -> np.ndarray:
        """Ops on constants alone (shape arithmetic, transposed weights), evaluated with numpy."""
        a = [None if v is None else np.asarray(v) for v in ins]
        if op in ("Identity", "Dropout", "Cast"):
            if op == "Cast":
                from onnx import helper

                return a[0].astype(helper.tensor_dtype_to_np_dtype(at["to"]))
            return a[0]
        if op == "Transpose":
            return a[0].transpose(at.get("perm", range(a[0].ndim)[::-1]))
        if op in ("Add", "Sub", "Mul", "Div"):
            if op == "Div" and a[0].dtype.kind in "iu":
                return a[0] // a[1]
            return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a[0], a[1])
        if op == "Neg":
            return -a[0]
        if op == "Gather":
            return np.take(a[0], a[1], axis=int(at.get("axis", 0)))
        if op == "Concat":
            return np.concatenate(a, axis=int(at["axis"]))
        if op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
            dummy = Aff(a[0][..., None].astype(np.float64), a[0].astype(np.float64), 0)
            return self.reshape(op, dummy, ins, at).c.astype(a[0].dtype)
        if op == "Shape":
            return np.array(a[0].shape, dtype=np.int64)
        if op == "MatMul":
            return a[0] @ a[1]
        raise _Refusal(f"{op} of constants alone is not supported")


def read_onnx(p: Path, logits: bool = False) -> LayerStack:
    """The layer stack of an ONNX file (see the module docstring); one ModelFileError line for what is refused."""
    import onnx

    try:
        model = onnx.load(str(p))
        onnx.checker.check_model(model)
    except Exception as e:  # protobuf decode and checker errors come in many types
        raise ModelFileError(f"{p.name}: not a valid ONNX file ({first_line(e)})") from None
    return _Graph(model, p.name, logits).run()
