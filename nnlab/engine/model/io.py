"""Reading and writing networks: torch files (.pt), torch.export programs (.pt2), numpy arrays (.npz) and ONNX.

nnlab's own files record everything that defines the function: the weights and the activation (with its negative
slope of a leaky ReLU: "leaky_relu" and `negative_slope`, so leaky_relu:0.2 is written as leaky_relu with
negative_slope 0.2). A .pt file is {"nnlab": {"format": 1, "activation": ...}, "state_dict": {...}} of plain str,
int, float and tensors, so that torch.load(weights_only=True) reads it; an .npz holds W0, b0, ... and `activation`;
an .onnx file is a chain of Gemm nodes and the activation's own nodes (onnx_write). Weights are float32 in .pt and
.onnx (what torch trains), float64 in .npz.

Foreign files are read too: a bare state_dict (which records no activation: ReLU is assumed and `LoadedModel.note`
says so, or the caller names the activation), TorchScript and torch.export programs (torch_files), and ONNX graphs
of affine, shape and convolution ops with activations between them (onnx_read). A file with several outputs is read
as one output or one linear objective of them (io_common.LayerStack.select).

Files are written atomically. Every read problem is one ModelFileError line starting with the file name, so the
CLI and the app can show it as is.
"""
from __future__ import annotations

import functools
import io
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nnlab.engine.files import atomic_write_bytes
from nnlab.engine.model import activations
from nnlab.engine.model.io_common import (FORMAT, LayerStack, ModelFileError, ModelFileWarning, first_line,
                                          recorded_activation)
from nnlab.engine.model.network import NetSnapshot, NetworkError, snapshot_from_layers

__all__ = ["SUFFIXES", "READ_SUFFIXES", "FORMAT", "ModelFileError", "ModelFileWarning", "LoadedModel", "save_model",
           "read_model", "load_model", "read_network", "read_network_cached", "ModelNetwork"]

SUFFIXES = (".pt", ".npz", ".onnx")  # written and read
READ_SUFFIXES = (*SUFFIXES, ".pt2")  # read only (torch.export programs)


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A network read from a file, and where its activation came from.

    activation_source: "file" (the file or its graph records it), "argument" (the caller named it for a file that
    records none) or "assumed" (none recorded, none given: ReLU, and `note` is the one line to tell the user).
    n_outputs: how many outputs the file's network has (`net` is the one output or objective chosen)."""

    net: NetSnapshot
    activation_source: str
    note: str = ""
    n_outputs: int = 1


def _suffix(path: str | os.PathLike, allowed: tuple[str, ...]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise ModelFileError(f"{Path(path).name}: unsupported model file suffix {suffix or '(none)'!r}; "
                             f"expected {', '.join(allowed)}")
    return suffix


def _metadata(snap: NetSnapshot) -> dict[str, Any]:
    act = activations.get(snap.activation)
    if act.piecewise_linear and act.slope:  # a leaky ReLU: its family name and its own slope
        return {"format": FORMAT, "activation": "leaky_relu", "negative_slope": act.slope}
    return {"format": FORMAT, "activation": snap.activation}


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
        from nnlab.engine.model.onnx_write import onnx_bytes

        buf.write(onnx_bytes(snap))
    atomic_write_bytes(path, buf.getvalue())


@dataclass(frozen=True, eq=False)
class ModelNetwork:
    """A network as its file holds it, every output kept (a multi-output chain); `snapshot` chooses one output or a
    linear objective of them and gives the single-output NetSnapshot that methods optimise.

    activation_source and note: as in LoadedModel."""

    name: str
    stack: LayerStack
    activation: str
    activation_source: str
    note: str = ""

    @property
    def n_outputs(self) -> int:
        return self.stack.n_outputs

    @property
    def input_dim(self) -> int:
        return int(np.asarray(self.stack.layers[0][0]).shape[1])

    @property
    def widths(self) -> tuple[int, ...]:
        """Hidden layer widths."""
        return tuple(int(np.asarray(w).shape[0]) for w, _ in self.stack.layers[:-1])

    def snapshot(self, output: int | None = None, objective: Sequence[float] | None = None) -> NetSnapshot:
        """The network of output K or of c^T y (a one-output file needs neither); ModelFileError naming the file."""
        try:
            return snapshot_from_layers(self.stack.select(self.name, output, objective), self.activation)
        except NetworkError as e:
            raise ModelFileError(f"{self.name}: {e}") from None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Every output (N, K) in float64 at points x (N, n0), the function the file defines."""
        h = np.atleast_2d(np.asarray(x, dtype=np.float64))
        from nnlab.engine.model import activations

        act = activations.get(self.activation).value
        layers = self.stack.layers
        for w, b in layers[:-1]:
            h = act(h @ np.asarray(w, np.float64).T + np.asarray(b, np.float64).reshape(-1))
        w, b = layers[-1]
        return h @ np.asarray(w, np.float64).T + np.asarray(b, np.float64).reshape(-1)


def read_network(path: str | os.PathLike, activation: str | None = None, *, logits: bool = False) -> ModelNetwork:
    """Read a network with all its outputs and say where its activation came from.

    `activation` names the activation of a file that records none (a bare state_dict, an npz without one); for a
    file that records its activation it must agree with it (a contradiction is an error, never silently obeyed).
    `logits` drops a trailing Softmax/LogSoftmax of an ONNX graph, which is otherwise refused."""
    p = Path(path)
    suffix = _suffix(p, READ_SUFFIXES)
    if activation is not None and not activations.known(activation):
        raise ModelFileError(f"{p.name}: activation {activation!r} is not supported; allowed: "
                             f"{', '.join(activations.names())}")
    if not p.is_file():
        raise ModelFileError(f"{p.name}: no such model file" if not p.exists() else f"{p.name}: not a file")
    try:
        if suffix == ".npz":
            stack = _load_npz(p)
        elif suffix in (".pt", ".pt2"):
            from nnlab.engine.model import torch_files

            stack = torch_files.load_pt(p) if suffix == ".pt" else torch_files.load_export(p)
        else:
            from nnlab.engine.model.onnx_read import read_onnx

            stack = read_onnx(p, logits=logits)
    except NetworkError as e:  # a chain check: shapes, widths, real finite weights
        raise ModelFileError(f"{p.name}: {e}") from None
    recorded = stack.activation
    note, source = "", "file"
    if recorded is None and len(stack.layers) == 1:  # no hidden layer: the activation plays no part
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
    return ModelNetwork(p.name, stack, act, source, note)


def read_network_cached(path: str | os.PathLike, activation: str | None = None, *,
                        logits: bool = False) -> ModelNetwork:
    """read_network, read once per version of the file (its resolved path, size and modification time): a scene
    that names a model file is made again on every edit, and each must not parse the file again."""
    p = Path(path)
    try:
        st = p.resolve().stat()
        key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        return read_network(p, activation, logits=logits)  # reports the missing or unreadable file
    return _read_cached(key, p, activation, logits)


@functools.lru_cache(maxsize=16)
def _read_cached(key: tuple, p: Path, activation: str | None, logits: bool) -> ModelNetwork:
    return read_network(p, activation, logits=logits)


def read_model(path: str | os.PathLike, activation: str | None = None, *, output: int | None = None,
               objective: Sequence[float] | None = None, logits: bool = False) -> LoadedModel:
    """Read a network as one output (see read_network): a file with several outputs needs `output` (0-based) or a
    linear `objective` c (the network then computes c^T y)."""
    net = read_network(path, activation, logits=logits)
    return LoadedModel(net.snapshot(output, objective), net.activation_source, net.note, net.n_outputs)


def load_model(path: str | os.PathLike, activation: str | None = None, **choice: Any) -> NetSnapshot:
    """Read a network (see read_model; `choice`: output, objective, logits); an assumed activation is a
    ModelFileWarning with the one-line note."""
    loaded = read_model(path, activation, **choice)
    if loaded.note:
        warnings.warn(loaded.note, ModelFileWarning, stacklevel=2)
    return loaded.net


def _npz_activation(files: dict[str, np.ndarray], name: str) -> str | None:
    if "activation" not in files:
        return None
    raw = files.pop("activation")
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ModelFileError(f"{name}: the 'activation' array must be a single text value")
    slope = files.pop("negative_slope", None)
    if slope is not None:
        if slope.dtype.kind != "f" or slope.size != 1:
            raise ModelFileError(f"{name}: the 'negative_slope' array must be a single number")
        slope = float(slope.reshape(-1)[0])
    return recorded_activation(name, str(raw), slope)


def _load_npz(p: Path) -> LayerStack:
    if not zipfile.is_zipfile(p):
        raise ModelFileError(f"{p.name}: not an .npz archive")
    try:
        with np.load(p, allow_pickle=False) as data:
            files = dict(data.items())
    except Exception as e:  # zip/format errors come in many types
        raise ModelFileError(f"{p.name}: not a readable .npz file ({first_line(e)})") from None
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
    return LayerStack(tuple(layers), act)
