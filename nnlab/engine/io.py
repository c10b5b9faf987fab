"""Reading and writing networks: torch state_dict (.pt), numpy arrays (.npz) and ONNX (.onnx).

Files are written atomically. Every read problem is one ValueError line starting with the file name, so the CLI
and the app can show it as is. The ONNX reader accepts only what nnlab can optimize over: chains of affine maps
(Gemm, or MatMul + Add) with Relu between them.
"""
from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from nnlab.errors import NnlabError
from nnlab.engine.network import NetSnapshot, snapshot_from_layers, to_torch
from nnlab.engine.scene import atomic_write_bytes

SUFFIXES = (".pt", ".npz", ".onnx")


class ModelFileError(NnlabError):
    """A model file cannot be read or written; one line naming the file."""


def _suffix(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ModelFileError(f"{Path(path).name}: unsupported model file suffix {suffix or '(none)'!r}; "
                             f"expected {', '.join(SUFFIXES)}")
    return suffix


def save_model(snap: NetSnapshot, path: str | os.PathLike) -> None:
    """Write the network in the format given by the suffix (.pt float32 state_dict, .npz float64, .onnx)."""
    suffix = _suffix(path)
    buf = io.BytesIO()
    if suffix == ".npz":
        arrays: dict[str, np.ndarray] = {}
        for k, (w, b) in enumerate(snap.layers()):
            arrays[f"W{k}"], arrays[f"b{k}"] = w, b
        np.savez(buf, activation=np.array(snap.activation), **arrays)
    else:
        import torch

        model = to_torch(snap)
        if suffix == ".pt":
            torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, buf)
        else:
            import warnings

            model.eval()
            with warnings.catch_warnings():  # the TorchScript exporter is deprecated, but it gives plain Gemm/Relu
                warnings.simplefilter("ignore", DeprecationWarning)
                torch.onnx.export(model, (torch.zeros(1, snap.input_dim),), buf, dynamo=False, input_names=["x"],
                                  output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    atomic_write_bytes(path, buf.getvalue())


def load_model(path: str | os.PathLike, activation: str = "relu") -> NetSnapshot:
    """Read a network; `activation` applies to .pt files (a state_dict does not record it)."""
    p = Path(path)
    suffix = _suffix(p)
    if not p.is_file():
        raise ModelFileError(f"{p.name}: no such model file" if not p.exists() else f"{p.name}: not a file")
    try:
        if suffix == ".npz":
            return _load_npz(p)
        if suffix == ".pt":
            return _load_pt(p, activation)
        return _load_onnx(p)
    except ModelFileError:
        raise
    except ValueError as e:  # a NetSnapshot check: shapes, one output, finite weights
        raise ModelFileError(f"{p.name}: {e}") from None


def _load_npz(p: Path) -> NetSnapshot:
    if not zipfile.is_zipfile(p):
        raise ModelFileError(f"{p.name}: not an .npz archive")
    try:
        with np.load(p, allow_pickle=False) as data:
            files = dict(data.items())
    except Exception as e:  # zip/format errors come in many types
        raise ModelFileError(f"{p.name}: not a readable .npz file ({_first_line(e)})") from None
    act = str(files.pop("activation", "relu"))
    n = sum(1 for k in files if re.fullmatch(r"W\d+", k))
    if n == 0:
        raise ModelFileError(f"{p.name}: no weight arrays W0, W1, ... found")
    layers = []
    for k in range(n):
        if f"W{k}" not in files or f"b{k}" not in files:
            raise ModelFileError(f"{p.name}: layer {k} needs arrays W{k} and b{k}")
        layers.append((files[f"W{k}"], files[f"b{k}"]))
    return snapshot_from_layers(layers, act)


def _load_pt(p: Path, activation: str) -> NetSnapshot:
    import torch

    if not zipfile.is_zipfile(p):
        raise ModelFileError(f"{p.name}: not a torch file (torch.save writes a zip archive)")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors come in many types
        why = "it holds objects other than tensors; save model.state_dict()" if "eights only" in str(e) else _first_line(e)
        raise ModelFileError(f"{p.name}: not a readable torch state_dict ({why})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"{p.name}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
    layers: dict[int, dict[str, np.ndarray]] = {}
    prefixes = set()
    for key, value in state.items():
        m = re.fullmatch(r"(.*?)(\d+)\.(weight|bias)", str(key))
        if m is None:
            raise ModelFileError(f"{p.name}: unexpected state_dict key {key!r}; expected '<layer>.weight' and '<layer>.bias'")
        prefixes.add(m.group(1))
        layers.setdefault(int(m.group(2)), {})[m.group(3)] = value.detach().double().numpy()
    if len(prefixes) > 1:
        raise ModelFileError(f"{p.name}: state_dict mixes modules {sorted(prefixes)}; expected one Sequential")
    if not layers:
        raise ModelFileError(f"{p.name}: the state_dict is empty")
    out = []
    for idx in sorted(layers):
        entry = layers[idx]
        if "weight" not in entry:
            raise ModelFileError(f"{p.name}: layer {idx} has a bias but no weight")
        w = entry["weight"]
        out.append((w, entry.get("bias", np.zeros(w.shape[0] if w.ndim == 2 else 0))))
    return snapshot_from_layers(out, activation)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _load_onnx(p: Path) -> NetSnapshot:
    """Walk the graph from its input to its output, composing affine ops and cutting layers at each Relu."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(p))
    except Exception as e:  # protobuf decode errors come in many types
        raise ModelFileError(f"{p.name}: not a valid ONNX file ({_first_line(e)})") from None
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    inputs = [i.name for i in g.input if i.name not in consts]
    if len(inputs) != 1 or len(g.output) != 1:
        raise ModelFileError(f"{p.name}: expected one input and one output, got {len(inputs)} and {len(g.output)}")
    cur = inputs[0]
    width = _static_width(g.input, cur)
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    pending: tuple[np.ndarray, np.ndarray] | None = None  # affine map since the last Relu, (out, in) layout

    def fail(i: int, why: str) -> ModelFileError:
        return ModelFileError(f"{p.name}: node {i} ({g.node[i].op_type}): {why}")

    def compose(i: int, w: np.ndarray, b: np.ndarray) -> None:
        nonlocal pending, width
        if width is not None and w.shape[1] != width:
            raise fail(i, f"shape mismatch: weight {w.shape[::-1]} expects {w.shape[1]} inputs, the previous layer gives {width}")
        pending = (w, b) if pending is None else (w @ pending[0], w @ pending[1] + b)
        width = w.shape[0]

    def const(i: int, name: str) -> np.ndarray:
        if name not in consts:
            raise fail(i, f"input {name!r} is not a constant weight; nnlab reads a single chain from input to output")
        return consts[name]

    for i, node in enumerate(g.node):
        op, ins, outs, at = node.op_type, list(node.input), list(node.output), _attrs(node)
        if op == "Constant":
            if "value" not in at:
                raise fail(i, "only tensor constants are supported")
            consts[outs[0]] = numpy_helper.to_array(at["value"]).astype(np.float64)
            continue
        if op == "Identity" and ins and ins[0] in consts:  # the exporter folds equal (zero) biases this way
            consts[outs[0]] = consts[ins[0]]
            continue
        if op not in ("Gemm", "MatMul", "Add", "Relu", "Identity", "Flatten", "Reshape"):
            raise ModelFileError(f"{p.name}: unsupported ONNX op {op!r} (node {i}); nnlab reads Gemm/MatMul/Add/Relu chains")
        data = [k for k, name in enumerate(ins) if name == cur]
        if len(data) != 1:
            raise fail(i, "not part of a single chain from input to output")
        if op == "Gemm":
            if data[0] != 0 or at.get("transA", 0) or at.get("alpha", 1.0) != 1.0 or at.get("beta", 1.0) != 1.0:
                raise fail(i, "only Gemm with alpha = beta = 1, transA = 0 on the data input is supported")
            b_mat = const(i, ins[1])
            if b_mat.ndim != 2:
                raise fail(i, f"weight must be a matrix, got shape {b_mat.shape}")
            w = b_mat if at.get("transB", 0) else b_mat.T
            bias = np.broadcast_to(const(i, ins[2]), (w.shape[0],)).copy() if len(ins) > 2 and ins[2] else np.zeros(w.shape[0])
            compose(i, w, bias)
        elif op == "MatMul":
            b_mat = const(i, ins[1]) if data[0] == 0 else None
            if b_mat is None or b_mat.ndim != 2:
                raise fail(i, "only x @ W with a constant matrix W is supported")
            compose(i, b_mat.T, np.zeros(b_mat.shape[1]))
        elif op == "Add":
            bias = const(i, ins[1 - data[0]]).reshape(-1)
            if pending is None:
                if width is None:
                    raise fail(i, "a bias before any weight needs a known input width")
                pending = (np.eye(width), np.zeros(width))
            if bias.size not in (1, width):
                raise fail(i, f"shape mismatch: bias of size {bias.size} for a layer of width {width}")
            pending = (pending[0], pending[1] + bias)
        elif op == "Relu":
            if pending is None:
                raise fail(i, "Relu must follow an affine layer")
            layers.append(pending)
            pending = None
        elif op == "Flatten" and at.get("axis", 1) != 1:
            raise fail(i, "only Flatten with axis = 1 is supported")
        elif op == "Reshape":
            shape = const(i, ins[1]).astype(np.int64).reshape(-1)
            if len(shape) != 2 or shape[0] not in (-1, 0) or (shape[1] != -1 and width is not None and shape[1] != width):
                raise fail(i, f"only a no-op reshape to (batch, {width}) is supported, got {shape.tolist()}")
        cur = outs[0]
    if cur != g.output[0].name:
        raise ModelFileError(f"{p.name}: the graph output {g.output[0].name!r} is not the end of the layer chain")
    if pending is None:
        raise ModelFileError(f"{p.name}: the network must end with an affine layer (Gemm or MatMul), not Relu")
    layers.append(pending)
    return snapshot_from_layers(layers, "relu")


def _static_width(values, name: str) -> int | None:
    """The declared last dimension of graph input `name`, when static."""
    for v in values:
        if v.name == name:
            dims = v.type.tensor_type.shape.dim
            if dims and dims[-1].HasField("dim_value"):
                return int(dims[-1].dim_value)
    return None
