"""Torch model files: state_dicts (.pt, torch.load with weights_only=True), TorchScript (torch.jit.save) and
torch.export programs (.pt2). No pickled code runs: TorchScript graphs are interpreted node by node without running
the module, and .pt2 archives are screened for pickled payloads and compiled code before torch reads them. The
graphs name their activations (the registry's names are the aten op names); affine ops (linear, addmm, mm/matmul,
add, sub, mul and div by constants: a normalisation module inside the net) fold into the layer chain.
"""
from __future__ import annotations

import io
import json
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nnlab.engine.model import activations
from nnlab.engine.model.activations import LEAKY_SLOPE
from nnlab.engine.model.io_common import FORMAT, LayerStack, ModelFileError, first_line as _first_line, recorded_activation
from nnlab.engine.model.network import LayerChain, NetworkError, leaky_activation

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


def load_pt(p: Path) -> LayerStack:
    """A state_dict (nnlab's own, with its metadata, or a bare one) or a TorchScript file."""
    import torch

    if not zipfile.is_zipfile(p):
        raise ModelFileError(f"{p.name}: not a torch file (torch.save writes a zip archive)")
    try:
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelFileError(f"{p.name}: not a readable zip archive ({_first_line(e)})") from None
    if _is_torchscript(names):
        return _load_torchscript(p)
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
        act = recorded_activation(p.name, act, meta.get("negative_slope"))
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
    return LayerStack(tuple(out), act)


# --- torch graphs (TorchScript and torch.export) -------------------------------------------------------------

_TORCH_OPS = ("linear, addmm, mm/matmul, add/sub/mul/div by constants and " + ", ".join(activations.names()))


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
        elif op in ("sub", "rsub", "mul", "div") and len(args) >= 2:
            _scale_shift(chain, op, args, i, fail)
        elif op in activations.names() and i == 0:
            if op == "leaky_relu":
                chain.act(leaky_activation(args[1] if len(args) > 1 else LEAKY_SLOPE, "leaky_relu"))
            elif op == "softplus" and any(a != d for a, d in zip(args[1:3], (1, 20))):
                raise fail("only softplus with beta = 1 (threshold 20) is read")
            elif op == "gelu" and args[1:2] not in ([], ["none"]):
                raise fail("only the exact (erf) gelu is read, not approximate = tanh")
            else:
                chain.act(op)
        elif op in ("dropout", "feature_dropout", "alpha_dropout") and i == 0 and len(args) > 2 and args[2] is False:
            pass  # dropout in eval mode is the identity
        else:
            raise fail(f"unsupported op {op!r}; nnlab reads {_TORCH_OPS}")
    except NetworkError as e:
        raise fail(str(e)) from None
    return DATA


def _scale_shift(chain: LayerChain, op: str, args: list[Any], i: int, fail: Callable[[str], ModelFileError]) -> None:
    """x - k, k - x, x * k, x / k for a constant k (a scalar or one value per unit): an input normalisation."""
    k = np.asarray(args[1 - i], dtype=np.float64).reshape(-1)
    if len(args) > 2 and args[2] != 1 or op == "div" and (i != 0 or np.any(k == 0)):
        raise fail(f"only {op} of the data by a nonzero constant is supported")
    if chain.width is None and k.size > 1:  # the first op: one value per input fixes the input width
        chain.width = k.size
    if op in ("sub", "rsub"):
        if chain.width is None:
            raise fail(f"{op} of a scalar before any layer needs a known input width")
        negate = (op == "sub") == (i == 1)  # k - x
        if negate:
            width = chain.width if chain.width is not None else k.size
            chain.affine(-np.eye(width))
        chain.bias(k if negate else -k)
        return
    if chain.width is None and k.size == 1:
        raise fail(f"{op} by a scalar before any layer needs a known input width")
    width = chain.width if chain.width is not None else k.size
    if k.size not in (1, width):
        raise fail(f"shape mismatch: {op} by {k.size} values for a layer of width {width}")
    chain.affine(np.diag(np.broadcast_to(1.0 / k if op == "div" else k, (width,)).copy()))


def _load_torchscript(p: Path) -> LayerStack:
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


def _finish_graph(p: Path, chain: LayerChain, outputs: list[Any]) -> LayerStack:
    """The chain's layers; the last may have several outputs (chosen later: LayerStack.select)."""
    if len(outputs) != 1 or outputs[0] is not DATA:
        raise ModelFileError(f"{p.name}: the graph output is not the end of the layer chain")
    if chain.pending is None:
        raise ModelFileError(f"{p.name}: " + ("the network must end with an affine layer, not an activation"
                                              if chain.layers else "no affine layer found"))
    return LayerStack((*chain.layers, chain.pending), chain.activation)


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


def load_export(p: Path) -> LayerStack:
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
    return _finish_graph(p, chain, outputs)

