"""Reading and writing networks: torch files (.pt), torch.export programs (.pt2), numpy arrays (.npz) and ONNX.

nnlab's own files record everything that defines the function: the weights and the activation (with its negative
slope for leaky_relu). A .pt file is {"nnlab": {"format": 1, "activation": ...}, "state_dict": {...}} of plain str,
int, float and tensors, so that torch.load(weights_only=True) reads it; an .npz holds W0, b0, ... and `activation`;
an .onnx file is a chain of Gemm nodes and the activation's own nodes. Weights are float32 in .pt and .onnx (what
torch trains), float64 in .npz.

Foreign files are read too: a bare state_dict (which records no activation: ReLU is assumed and `LoadedModel.note`
says so, or the caller names the activation), TorchScript (torch.jit.save) and torch.export programs (.pt2), whose
graphs name their activations, and ONNX chains of Gemm / MatMul + Add with Relu, LeakyRelu, Tanh, Sigmoid or
Sigmoid * x (SiLU) between them. Reading runs no pickled code: torch.load with weights_only=True, TorchScript's own
restricted loader, and .pt2 archives are screened for pickled payloads (and compiled code) before torch reads them.

Files are written atomically. Every read problem is one ModelFileError line starting with the file name, so the
CLI and the app can show it as is.
"""
from __future__ import annotations

import io
import json
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nnlab.errors import NnlabError
from nnlab.engine.model.network import LEAKY_SLOPE, LayerChain, NetSnapshot, NetworkError, leaky_activation, snapshot_from_layers
from nnlab.engine.model.scene import ACTIVATIONS
from nnlab.engine.files import atomic_write_bytes

SUFFIXES = (".pt", ".npz", ".onnx")  # written and read
READ_SUFFIXES = (*SUFFIXES, ".pt2")  # read only (torch.export programs)
FORMAT = 1  # the layout of nnlab's own .pt and .npz files (metadata "format")
ONNX_OPSET, ONNX_IR_VERSION = 17, 8  # what nnlab writes: readable by every onnxruntime since 1.11
Layers = list[tuple[np.ndarray, np.ndarray]]  # [(W0, b0), (W1, b1), ...], torch layout (out, in)


class ModelFileError(NnlabError):
    """A model file cannot be read or written; one line naming the file."""


class ModelFileWarning(UserWarning):
    """A model file was read with an assumption (a bare state_dict records no activation: ReLU assumed)."""


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A network read from a file, and where its activation came from.

    activation_source: "file" (the file or its graph records it), "argument" (the caller named it for a file that
    records none) or "assumed" (none recorded, none given: ReLU, and `note` is the one line to tell the user)."""

    net: NetSnapshot
    activation_source: str
    note: str = ""


def _suffix(path: str | os.PathLike, allowed: tuple[str, ...]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise ModelFileError(f"{Path(path).name}: unsupported model file suffix {suffix or '(none)'!r}; "
                             f"expected {', '.join(allowed)}")
    return suffix


def _metadata(snap: NetSnapshot) -> dict[str, Any]:
    meta: dict[str, Any] = {"format": FORMAT, "activation": snap.activation}
    if snap.activation == "leaky_relu":
        meta["negative_slope"] = LEAKY_SLOPE
    return meta


def save_model(snap: NetSnapshot, path: str | os.PathLike) -> None:
    """Write the network in the format given by the suffix (.pt float32 with metadata, .npz float64, .onnx)."""
    suffix = _suffix(path, SUFFIXES)
    buf = io.BytesIO()
    if suffix == ".npz":
        arrays: dict[str, np.ndarray] = {}
        for k, (w, b) in enumerate(snap.layers()):
            arrays[f"W{k}"], arrays[f"b{k}"] = w, b
        meta = {k: np.array(v) for k, v in _metadata(snap).items() if k != "format"}
        np.savez(buf, nnlab_format=np.array(FORMAT), **meta, **arrays)
    elif suffix == ".pt":
        import torch

        state = {}
        for k, (w, b) in enumerate(snap.layers()):  # the keys of to_torch's Sequential: Linear k sits at index 2k
            state[f"{2 * k}.weight"] = torch.tensor(w, dtype=torch.float32)
            state[f"{2 * k}.bias"] = torch.tensor(b, dtype=torch.float32)
        torch.save({"nnlab": _metadata(snap), "state_dict": state}, buf)
    else:
        buf.write(_onnx_bytes(snap))
    atomic_write_bytes(path, buf.getvalue())


def _onnx_bytes(snap: NetSnapshot) -> bytes:
    """The network as ONNX: Gemm (transB = 1) per layer, the activation's node(s) between them, float32."""
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
        act = snap.activation
        if act == "silu":  # SiLU(g) = g * sigmoid(g): ONNX has no SiLU op before opset 24
            nodes += [helper.make_node("Sigmoid", [cur], [f"s{k}"]), helper.make_node("Mul", [cur, f"s{k}"], [f"h{k}"])]
        elif act == "leaky_relu":
            nodes.append(helper.make_node("LeakyRelu", [cur], [f"h{k}"], alpha=LEAKY_SLOPE))
        else:
            nodes.append(helper.make_node({"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}[act], [cur], [f"h{k}"]))
        cur = f"h{k}"
    graph = helper.make_graph(nodes, "nnlab", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", snap.input_dim])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="nnlab",
                              ir_version=ONNX_IR_VERSION)
    helper.set_model_props(model, {"nnlab_format": str(FORMAT), "activation": snap.activation})
    return model.SerializeToString()


def read_model(path: str | os.PathLike, activation: str | None = None) -> LoadedModel:
    """Read a network and say where its activation came from.

    `activation` names the activation of a file that records none (a bare state_dict, an npz without one); for a
    file that records its activation it must agree with it (a contradiction is an error, never silently obeyed)."""
    p = Path(path)
    suffix = _suffix(p, READ_SUFFIXES)
    if activation is not None and activation not in ACTIVATIONS:
        raise ModelFileError(f"{p.name}: activation {activation!r} is not supported; allowed: {', '.join(ACTIVATIONS)}")
    if not p.is_file():
        raise ModelFileError(f"{p.name}: no such model file" if not p.exists() else f"{p.name}: not a file")
    try:
        if suffix == ".npz":
            layers, recorded = _load_npz(p)
        elif suffix == ".pt":
            layers, recorded = _load_pt(p)
        elif suffix == ".pt2":
            layers, recorded = _load_export(p)
        else:
            layers, recorded = _load_onnx(p)
        note, source = "", "file"
        if recorded is None and len(layers) == 1:  # no hidden layer: the activation plays no part
            recorded = activation or "relu"
        if recorded is None:
            if activation is None:
                source, act = "assumed", "relu"
                note = f"{p.name} records no activation (a bare state_dict or arrays); assuming relu"
            else:
                source, act = "argument", activation
        else:
            if activation is not None and activation != recorded:
                raise ModelFileError(f"{p.name}: the file records activation {recorded}, not {activation}")
            act = recorded
        return LoadedModel(snapshot_from_layers(layers, act), source, note)
    except ModelFileError:
        raise
    except NetworkError as e:  # a NetSnapshot or chain check: shapes, widths, one output, real finite weights
        raise ModelFileError(f"{p.name}: {e}") from None


def load_model(path: str | os.PathLike, activation: str | None = None) -> NetSnapshot:
    """Read a network (see read_model); an assumed activation is a ModelFileWarning with the one-line note."""
    loaded = read_model(path, activation)
    if loaded.note:
        warnings.warn(loaded.note, ModelFileWarning, stacklevel=2)
    return loaded.net


def _npz_activation(files: dict[str, np.ndarray], name: str) -> str | None:
    if "activation" not in files:
        return None
    raw = files.pop("activation")
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ModelFileError(f"{name}: the 'activation' array must be a single text value")
    act = str(raw)
    slope = files.pop("negative_slope", None)
    if act == "leaky_relu" and slope is not None:
        if slope.dtype.kind != "f" or slope.size != 1:
            raise ModelFileError(f"{name}: the 'negative_slope' array must be a single number")
        leaky_activation(float(slope.reshape(-1)[0]), "leaky_relu")
    return act


def _load_npz(p: Path) -> tuple[Layers, str | None]:
    if not zipfile.is_zipfile(p):
        raise ModelFileError(f"{p.name}: not an .npz archive")
    try:
        with np.load(p, allow_pickle=False) as data:
            files = dict(data.items())
    except Exception as e:  # zip/format errors come in many types
        raise ModelFileError(f"{p.name}: not a readable .npz file ({_first_line(e)})") from None
    fmt = files.pop("nnlab_format", None)
    if fmt is not None and (fmt.dtype.kind not in "iu" or fmt.size != 1 or int(fmt.reshape(-1)[0]) > FORMAT):
        raise ModelFileError(f"{p.name}: written by a newer nnlab (format {fmt.reshape(-1)[:1].tolist()}); "
                             f"this one reads format {FORMAT}")
    act = _npz_activation(files, p.name)
    n = sum(1 for k in files if re.fullmatch(r"W\d+", k))
    if n == 0:
        raise ModelFileError(f"{p.name}: no weight arrays W0, W1, ... found")
    layers = []
    for k in range(n):
        if f"W{k}" not in files or f"b{k}" not in files:
            raise ModelFileError(f"{p.name}: layer {k} needs arrays W{k} and b{k}")
        layers.append((files[f"W{k}"], files[f"b{k}"]))
    return layers, act


def _tensor_array(t: Any, where: str) -> np.ndarray:
    """A float64 numpy copy of a dense real tensor; sparse, quantized, meta, complex and integer tensors refused."""
    import torch

    if not isinstance(t, torch.Tensor):
        raise NetworkError(f"{where} is a {type(t).__name__}, not a tensor")
    if t.layout != torch.strided:
        raise NetworkError(f"{where} is a sparse tensor ({str(t.layout).replace('torch.', '')}); expected dense weights")
    if t.is_quantized:
        raise NetworkError(f"{where} is a quantized tensor ({t.dtype}); expected floating-point weights")
    if t.is_meta or t.device.type != "cpu":
        raise NetworkError(f"{where} holds no data on the CPU (device {t.device.type})")
    if t.is_complex():
        raise NetworkError(f"{where} holds complex values; weights must be real numbers")
    if not t.is_floating_point():
        raise NetworkError(f"{where} has dtype {t.dtype}; expected floating-point weights")
    return t.detach().to(torch.float64).numpy().copy()


def _is_torchscript(names: list[str]) -> bool:
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def _from_graph(net: NetSnapshot) -> tuple[Layers, str]:
    """A graph names its activations: the snapshot's activation is recorded."""
    return net.layers(), net.activation


def _load_pt(p: Path) -> tuple[Layers, str | None]:
    import torch

    if not zipfile.is_zipfile(p):
        raise ModelFileError(f"{p.name}: not a torch file (torch.save writes a zip archive)")
    try:
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelFileError(f"{p.name}: not a readable zip archive ({_first_line(e)})") from None
    if _is_torchscript(names):
        return _from_graph(_load_torchscript(p))
    try:
        with warnings.catch_warnings():  # torch's notes on its own storage internals are nothing a user can act on
            warnings.simplefilter("ignore")
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors come in many types
        why = "it holds objects other than tensors; save model.state_dict()" if "eights only" in str(e) else _first_line(e)
        raise ModelFileError(f"{p.name}: not a readable torch state_dict ({why})") from None
    act = None
    if isinstance(state, dict) and "nnlab" in state:
        meta, state = state["nnlab"], state.get("state_dict")
        if not isinstance(meta, dict) or not isinstance(meta.get("format"), int):
            raise ModelFileError(f"{p.name}: the 'nnlab' entry must be a dict with an integer 'format'")
        if meta["format"] > FORMAT:
            raise ModelFileError(f"{p.name}: written by a newer nnlab (format {meta['format']}); this one reads format {FORMAT}")
        act = meta.get("activation")
        if not isinstance(act, str):
            raise ModelFileError(f"{p.name}: the 'nnlab' entry names no activation")
        if act == "leaky_relu" and "negative_slope" in meta:
            leaky_activation(meta["negative_slope"], "leaky_relu")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"{p.name}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
    layers: dict[int, dict[str, np.ndarray]] = {}
    prefixes = set()
    for key, value in state.items():
        m = re.fullmatch(r"(.*?)(\d+)\.(weight|bias)", str(key))
        if m is None:
            raise ModelFileError(f"{p.name}: unexpected state_dict key {key!r}; expected '<layer>.weight' and '<layer>.bias'")
        prefixes.add(m.group(1))
        layers.setdefault(int(m.group(2)), {})[m.group(3)] = _tensor_array(value, f"tensor {key!r}")
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
    return out, act


# --- torch graphs (TorchScript and torch.export) -------------------------------------------------------------

_TORCH_ACTS = ("relu", "tanh", "sigmoid", "silu", "leaky_relu")  # aten op names = nnlab's activation names
_TORCH_OPS = "linear, addmm, mm/matmul, add and relu, leaky_relu, tanh, sigmoid, silu"


class _Data:
    """Marks the value that flows along the chain (the network's input, then each layer's output)."""


DATA = _Data()


def _swaps_2d(dims: Any) -> bool:
    try:
        return len(dims) == 2 and {int(d) % 2 for d in dims} == {0, 1}
    except (TypeError, ValueError):
        return False


def _torch_op(chain: LayerChain, op: str, args: list[Any], fail: Callable[[str], ModelFileError],
              kwargs: dict[str, Any] | None = None) -> Any:
    """Apply one aten op of a torch graph to the chain; returns DATA, or the value of an op on constants.

    `args` hold DATA for the chain's value, tensors (float64 numpy arrays) or Python constants; `kwargs` may only
    repeat defaults (alpha = beta = 1)."""
    kwargs = dict(kwargs or {})
    if any(kwargs.pop(k, 1) != 1 for k in ("alpha", "beta")) or kwargs:
        raise fail(f"unsupported arguments {sorted(kwargs) or 'alpha/beta != 1'}; nnlab reads {_TORCH_OPS}")
    op = op[:-1] if op.endswith("_") else op  # in-place variants compute the same
    data = [i for i, a in enumerate(args) if a is DATA]
    if not data:  # an op on weights alone, e.g. the transpose of a weight feeding addmm
        w = args[0] if args else None
        if isinstance(w, np.ndarray) and w.ndim == 2 and (
                op in ("t", "numpy_T") or (op == "transpose" and _swaps_2d(args[1:3]))
                or (op == "permute" and len(args) > 1 and _swaps_2d(args[1]))):
            return w.T
        raise fail(f"unsupported op {op!r} on weights; nnlab reads {_TORCH_OPS}")
    if len(data) != 1:
        raise fail("not part of a single chain from input to output")
    i = data[0]
    try:
        if op == "linear" and i == 0:
            chain.affine(args[1], args[2] if len(args) > 2 else None)
        elif op == "addmm" and i == 1:
            if any(a != 1 for a in args[3:5]):
                raise fail("only addmm with alpha = beta = 1 is supported")
            chain.affine(np.asarray(args[2]).T, args[0])
        elif op in ("mm", "matmul") and i == 0:
            chain.affine(np.asarray(args[1]).T)
        elif op == "add" and len(args) >= 2:
            if len(args) > 2 and args[2] != 1:
                raise fail("only add with alpha = 1 is supported")
            chain.bias(args[1 - i])
        elif op in _TORCH_ACTS and i == 0:
            slope = args[1] if len(args) > 1 else LEAKY_SLOPE
            chain.act(leaky_activation(slope, "leaky_relu") if op == "leaky_relu" else op)
        elif op in ("dropout", "feature_dropout", "alpha_dropout") and i == 0 and len(args) > 2 and args[2] is False:
            pass  # dropout in eval mode is the identity
        else:
            raise fail(f"unsupported op {op!r}; nnlab reads {_TORCH_OPS}")
    except NetworkError as e:
        raise fail(str(e)) from None
    return DATA


def _load_torchscript(p: Path) -> NetSnapshot:
    """Interpret the inlined graph of a TorchScript module (torch.jit.save) as a layer chain, without running it."""
    import torch

    try:
        with warnings.catch_warnings():  # torch.jit.load is deprecated, but it is how TorchScript files are read
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(p), map_location="cpu")
        graph = module.inlined_graph
    except Exception as e:  # TorchScript loading errors come in many types
        raise ModelFileError(f"{p.name}: not a readable TorchScript file ({_first_line(e)})") from None
    inputs = list(graph.inputs())
    if len(inputs) != 2:
        raise ModelFileError(f"{p.name}: the TorchScript forward takes {len(inputs) - 1} inputs; expected one")
    env: dict[int, Any] = {inputs[0].unique(): module, inputs[1].unique(): DATA}
    chain = LayerChain()
    for i, node in enumerate(graph.nodes()):
        kind = node.kind()
        outs = list(node.outputs())

        def fail(why: str, i: int = i, kind: str = kind) -> ModelFileError:
            return ModelFileError(f"{p.name}: TorchScript node {i} ({kind}): {why}")

        if len(outs) != 1:
            raise fail(f"unsupported op with {len(outs)} outputs; nnlab reads {_TORCH_OPS}")
        args = [env.get(v.unique(), v) for v in node.inputs()]
        if any(isinstance(a, torch._C.Value) for a in args):
            raise fail("uses a value nnlab cannot follow")
        if kind == "prim::GetAttr":
            obj = getattr(args[0], node.s("name"), None)
            val = _tensor_array(obj, f"attribute {node.s('name')!r}") if isinstance(obj, torch.Tensor) else obj
        elif kind == "prim::Constant":
            val = outs[0].toIValue()
            if isinstance(val, torch.Tensor):
                val = _tensor_array(val, "a constant")
        elif kind == "prim::ListConstruct":
            val = list(args)
        elif kind.startswith("aten::"):
            val = _torch_op(chain, kind[len("aten::"):], args, fail)
        else:
            raise fail(f"unsupported op; nnlab reads {_TORCH_OPS}")
        env[outs[0].unique()] = val
    return _finish_graph(p, chain, [env.get(v.unique()) for v in graph.outputs()])


def _finish_graph(p: Path, chain: LayerChain, outputs: list[Any]) -> NetSnapshot:
    if len(outputs) != 1 or outputs[0] is not DATA:
        raise ModelFileError(f"{p.name}: the graph output is not the end of the layer chain")
    try:
        return chain.snapshot()
    except NetworkError as e:
        raise ModelFileError(f"{p.name}: {e}") from None


_PT2_FILES = re.compile(r"(archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id|"
                        r"models/[\w.-]+\.json|data/weights/[\w.-]+|data/constants/[\w.-]+|"
                        r"data/sample_inputs/[\w.-]+\.pt|extra/[\w./-]+)")


def _screen_pt2(p: Path) -> None:
    """Refuse a .pt2 archive that torch.export.load would read with pickle or native code: pickled weights or
    constants, custom objects, legacy weight files, sample inputs that weights_only cannot read, AOTInductor
    libraries. What passes holds JSON, raw tensor bytes and a weights_only pickle of the sample inputs."""
    import torch

    try:
        with zipfile.ZipFile(p) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            roots = {n.split("/", 1)[0] for n in names}
            if len(roots) != 1 or any("/" not in n for n in names):
                raise ModelFileError(f"{p.name}: not a torch.export archive (expected one top folder)")
            root = roots.pop() + "/"
            rel = [n[len(root):] for n in names]
            for r in rel:
                if not _PT2_FILES.fullmatch(r):
                    raise ModelFileError(f"{p.name}: holds {r!r}, which nnlab does not read (it reads torch.export "
                                         "programs of plain tensors, no compiled code or pickled objects)")
            if "archive_format" not in rel or z.read(root + "archive_format").decode(errors="replace").strip() != "pt2":
                raise ModelFileError(f"{p.name}: not a torch.export archive (no archive_format 'pt2')")
            payloads: set[str] = set()
            for r in rel:
                if r.endswith("_config.json") and r.startswith(("data/weights/", "data/constants/")):
                    config = json.loads(z.read(root + r)).get("config", {})
                    for fqn, meta in config.items():
                        path = str(meta.get("path_name", ""))
                        if meta.get("use_pickle", True) or (r.startswith("data/constants/") and not path.startswith("tensor_")):
                            raise ModelFileError(f"{p.name}: {fqn!r} is stored as a pickled object; nnlab reads "
                                                 "only plain tensors")
                        payloads.add(r.split("/")[1] + "/" + path)
            for r in rel:
                if r.startswith(("data/weights/", "data/constants/")) and not r.endswith("_config.json") \
                        and r.split("/", 1)[1] not in payloads:
                    raise ModelFileError(f"{p.name}: {r!r} is not a plain tensor listed by the archive; nnlab refuses it")
                if r.startswith("data/sample_inputs/"):
                    torch.load(io.BytesIO(z.read(root + r)), weights_only=True)
    except ModelFileError:
        raise
    except Exception as e:  # zip, JSON and weights_only errors come in many types
        raise ModelFileError(f"{p.name}: not a readable torch.export archive ({_first_line(e)})") from None


def _load_export(p: Path) -> tuple[Layers, str]:
    """Interpret a torch.export program (.pt2) as a layer chain, after screening the archive (see _screen_pt2)."""
    import torch

    if not zipfile.is_zipfile(p):
        raise ModelFileError(f"{p.name}: not a torch.export archive (torch.export.save writes a zip archive)")
    _screen_pt2(p)
    try:
        with warnings.catch_warnings():  # "under active development" notes
            warnings.simplefilter("ignore")
            ep = torch.export.load(str(p))
    except Exception as e:  # deserialization errors come in many types
        raise ModelFileError(f"{p.name}: not a readable torch.export program ({_first_line(e)})") from None
    sig = ep.graph_signature
    tensors = {**sig.inputs_to_parameters, **sig.inputs_to_buffers, **sig.inputs_to_lifted_tensor_constants}
    store = {**ep.state_dict, **ep.constants}
    if len(sig.user_inputs) != 1 or len(sig.user_outputs) != 1:
        raise ModelFileError(f"{p.name}: the program has {len(sig.user_inputs)} inputs and {len(sig.user_outputs)} "
                             "outputs; expected one of each")
    env: dict[Any, Any] = {}
    chain = LayerChain()
    outputs: list[Any] = []

    def value(a: Any) -> Any:
        if isinstance(a, torch.fx.Node):
            return env[a]
        if isinstance(a, (list, tuple)):
            return [value(b) for b in a]
        return a

    for i, node in enumerate(ep.graph.nodes):
        def fail(why: str, i: int = i, target: Any = node.target) -> ModelFileError:
            return ModelFileError(f"{p.name}: node {i} ({target}): {why}")

        if node.op == "placeholder":
            if node.name in tensors:
                env[node] = _tensor_array(store.get(tensors[node.name]), f"tensor {tensors[node.name]!r}")
            elif node.name in sig.user_inputs:
                env[node] = DATA
            else:
                raise fail("an input nnlab cannot follow")
        elif node.op == "call_function":
            target = node.target
            name = getattr(getattr(target, "_overloadpacket", None), "__name__", None)
            if name is None or getattr(target, "namespace", None) != "aten":
                raise fail(f"unsupported op; nnlab reads {_TORCH_OPS}")
            env[node] = _torch_op(chain, name, [value(a) for a in node.args], fail, dict(node.kwargs))
        elif node.op == "output":
            outputs = list(value(node.args[0]))
        else:
            raise fail(f"unsupported graph node kind {node.op!r}")
    return _from_graph(_finish_graph(p, chain, outputs))


# --- ONNX ----------------------------------------------------------------------------------------------------

def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


_ONNX_ACTS = {"Relu": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "LeakyRelu": "leaky_relu"}
_ONNX_ARITY = {"Gemm": (2, 3), "MatMul": (2, 2), "Add": (2, 2), "Mul": (2, 2), "Identity": (1, 1), "Flatten": (1, 1),
               "Reshape": (2, 2), **{op: (1, 1) for op in _ONNX_ACTS}}


def _load_onnx(p: Path) -> tuple[Layers, str]:
    """Walk the graph from its input to its output, composing affine ops and cutting layers at each activation."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(p))
        onnx.checker.check_model(model)
    except Exception as e:  # protobuf decode and checker errors come in many types
        raise ModelFileError(f"{p.name}: not a valid ONNX file ({_first_line(e)})") from None
    g = model.graph
    consts: dict[str, np.ndarray] = {}
    for t in g.initializer:
        try:
            consts[t.name] = numpy_helper.to_array(t)
        except Exception as e:  # a tensor whose data does not match its shape or type
            raise ModelFileError(f"{p.name}: initializer {t.name!r} cannot be read ({_first_line(e)})") from None
    inputs = [i.name for i in g.input if i.name not in consts]
    if len(inputs) != 1 or len(g.output) != 1:
        raise ModelFileError(f"{p.name}: expected one input and one output, got {len(inputs)} and {len(g.output)}")
    cur = inputs[0]
    chain = LayerChain(_static_width(g.input, cur))
    nodes = list(g.node)
    skip = -1

    def fail(i: int, why: str) -> ModelFileError:
        return ModelFileError(f"{p.name}: node {i} ({nodes[i].op_type}): {why}")

    def const(i: int, name: str) -> np.ndarray:
        if name not in consts:
            raise fail(i, f"input {name!r} is not a constant weight; nnlab reads a single chain from input to output")
        return consts[name]

    for i, node in enumerate(nodes):
        if i == skip:
            continue
        op, ins, outs, at = node.op_type, list(node.input), list(node.output), _attrs(node)
        if op == "Constant":
            if "value" not in at or len(outs) != 1:
                raise fail(i, "only tensor constants are supported")
            try:
                consts[outs[0]] = numpy_helper.to_array(at["value"])
            except Exception as e:  # a tensor whose data does not match its shape or type
                raise fail(i, f"the constant cannot be read ({_first_line(e)})") from None
            continue
        if op == "Identity" and ins and ins[0] in consts:  # the exporter folds equal (zero) biases this way
            consts[outs[0]] = consts[ins[0]]
            continue
        if op not in _ONNX_ARITY or op == "Mul":
            raise ModelFileError(f"{p.name}: unsupported ONNX op {op!r} (node {i}); nnlab reads Gemm/MatMul/Add "
                                 "chains with Relu, LeakyRelu, Tanh, Sigmoid or x * Sigmoid(x) between them")
        lo, hi = _ONNX_ARITY[op]
        if not lo <= len([n for n in ins if n]) <= hi or len(outs) != 1:
            raise fail(i, f"needs {lo}{'' if lo == hi else f' to {hi}'} inputs and one output, "
                          f"has {len(ins)} and {len(outs)}")
        data = [k for k, name in enumerate(ins) if name == cur]
        if len(data) != 1:
            raise fail(i, "not part of a single chain from input to output")
        try:
            if op == "Gemm":
                if data[0] != 0 or at.get("transA", 0) or at.get("alpha", 1.0) != 1.0 or at.get("beta", 1.0) != 1.0:
                    raise fail(i, "only Gemm with alpha = beta = 1, transA = 0 on the data input is supported")
                b_mat = const(i, ins[1])
                if b_mat.ndim != 2:
                    raise fail(i, f"weight must be a matrix, got shape {b_mat.shape}")
                chain.affine(b_mat if at.get("transB", 0) else b_mat.T,
                             const(i, ins[2]) if len(ins) > 2 and ins[2] else None)
            elif op == "MatMul":
                b_mat = const(i, ins[1]) if data[0] == 0 else None
                if b_mat is None or b_mat.ndim != 2:
                    raise fail(i, "only x @ W with a constant matrix W is supported")
                chain.affine(b_mat.T)
            elif op == "Add":
                chain.bias(const(i, ins[1 - data[0]]))
            elif op == "Sigmoid" and i + 1 < len(nodes) and nodes[i + 1].op_type == "Mul" \
                    and sorted(nodes[i + 1].input) == sorted([cur, outs[0]]):
                chain.act("silu")  # x * sigmoid(x), as torch exports SiLU
                outs, skip = list(nodes[i + 1].output), i + 1
            elif op == "LeakyRelu":
                chain.act(leaky_activation(at.get("alpha", 0.01), "LeakyRelu"))
            elif op in _ONNX_ACTS:
                chain.act(_ONNX_ACTS[op])
            elif op == "Flatten" and at.get("axis", 1) != 1:
                raise fail(i, "only Flatten with axis = 1 is supported")
            elif op == "Reshape":
                shape = const(i, ins[1]).astype(np.int64).reshape(-1)
                w = chain.width
                if len(shape) != 2 or shape[0] not in (-1, 0) or (shape[1] != -1 and w is not None and shape[1] != w):
                    raise fail(i, f"only a no-op reshape to (batch, {w}) is supported, got {shape.tolist()}")
        except NetworkError as e:
            raise fail(i, str(e)) from None
        cur = outs[0]
    if cur != g.output[0].name:
        raise ModelFileError(f"{p.name}: the graph output {g.output[0].name!r} is not the end of the layer chain")
    return _from_graph(_finish_graph(p, chain, [DATA]))


def _static_width(values, name: str) -> int | None:
    """The declared last dimension of graph input `name`, when static."""
    for v in values:
        if v.name == name:
            dims = v.type.tensor_type.shape.dim
            if dims and dims[-1].HasField("dim_value"):
                return int(dims[-1].dim_value)
    return None
