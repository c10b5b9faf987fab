"""Networks: a torch MLP for training, and a frozen float64 numpy snapshot that optimizers and metrics consume.

The snapshot is framework-independent (plain weight arrays in torch layout (out, in)), as in OMLT.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

from nnlab.engine.model import activations
from nnlab.engine.model.inits import InitSpec
from nnlab.errors import NnlabError

if TYPE_CHECKING:  # torch is heavy; imported where needed
    import torch


class Architecture(Protocol):
    """What initial_snapshot reads of a scene's [network] (scene.NetworkSpec); a protocol, so that the model files
    (which a scene naming a model reads) never import the scene module."""

    input_dim: int
    hidden: tuple[int, ...]
    activation: str


class NetworkError(NnlabError):
    """Weights that do not make an nnlab network (shapes, widths, values); one line naming the layer."""


def _real_array(a: object, what: str) -> np.ndarray:
    """A float64 copy of a weight array; complex, text or object arrays are refused (never cut to a real part)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiu":
        kind = "complex" if arr.dtype.kind == "c" else str(arr.dtype)
        raise NetworkError(f"{what} holds {kind} values; weights must be real numbers")
    return np.array(arr, dtype=np.float64, copy=True)


@dataclass(frozen=True, eq=False)
class NetSnapshot:
    """Weights W[k] (out, in) and biases b[k] of an MLP; hidden layers use `activation`, the last layer is linear."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activation: str = "relu"

    def __post_init__(self) -> None:
        """Every check a network from a file needs (NetworkError, one line): real finite values, matching shapes,
        at least one input, no zero-width layer, one output."""
        if not activations.known(self.activation):
            raise NetworkError(f"activation {self.activation!r} is not supported; allowed: "
                               f"{', '.join(activations.names())} or leaky_relu:SLOPE")
        if len(self.weights) != len(self.biases) or not self.weights:
            raise NetworkError("a network needs as many bias vectors as weight matrices, and at least one layer")
        ws = tuple(_real_array(w, f"layer {k} weight") for k, w in enumerate(self.weights))
        bs = tuple(_real_array(b, f"layer {k} bias").reshape(-1) for k, b in enumerate(self.biases))
        for k, (w, b) in enumerate(zip(ws, bs)):
            if w.ndim != 2 or w.shape[0] != b.shape[0]:
                raise NetworkError(f"layer {k}: weight shape {w.shape} does not match bias shape {b.shape}")
            if k == 0 and w.shape[1] == 0:
                raise NetworkError(f"the network has zero inputs (layer 0 weight shape {w.shape})")
            if w.shape[0] == 0:
                raise NetworkError(f"layer {k} has zero width (weight shape {w.shape}); every layer needs a neuron")
            if k and w.shape[1] != ws[k - 1].shape[0]:
                raise NetworkError(f"layer {k}: expects {w.shape[1]} inputs but layer {k - 1} has {ws[k - 1].shape[0]} outputs")
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise NetworkError(f"layer {k}: weights or biases are not finite")
            w.flags.writeable = False
            b.flags.writeable = False
        if ws[-1].shape[0] != 1:
            raise NetworkError(f"the network must have one output, got {ws[-1].shape[0]}")
        object.__setattr__(self, "weights", ws)
        object.__setattr__(self, "biases", bs)

    @property
    def input_dim(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def widths(self) -> tuple[int, ...]:
        """Hidden layer widths."""
        return tuple(int(w.shape[0]) for w in self.weights[:-1])

    @property
    def n_params(self) -> int:
        return int(sum(w.size + b.size for w, b in zip(self.weights, self.biases)))

    def preactivations(self, x: np.ndarray) -> list[np.ndarray]:
        """Pre-activations g^k (N, n_k) of every hidden layer at points x (N, n0)."""
        h = np.atleast_2d(np.asarray(x, dtype=np.float64))
        act = activations.get(self.activation).value
        out = []
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            g = h @ w.T + b
            out.append(g)
            h = act(g)
        return out

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Network output (N,) in float64 at points x (N, n0) or a single point (n0,)."""
        x = np.asarray(x, dtype=np.float64)
        single = x.ndim == 1
        h = np.atleast_2d(x)
        act = activations.get(self.activation).value
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = act(h @ w.T + b)
        y = (h @ self.weights[-1].T + self.biases[-1])[:, 0]
        return y[0] if single else y

    def pattern(self, x: np.ndarray) -> list[np.ndarray]:
        """Activation pattern (bool arrays, g > 0) of every hidden layer at points x (N, n0)."""
        return [g > 0 for g in self.preactivations(x)]

    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return list(zip(self.weights, self.biases))


def snapshot_from_layers(layers: Sequence[tuple[np.ndarray, np.ndarray]], activation: str = "relu") -> NetSnapshot:
    """A snapshot from [(W0, b0), (W1, b1), ...]."""
    return NetSnapshot(tuple(w for w, _ in layers), tuple(b for _, b in layers), activation)


def initial_snapshot(net: Architecture, init: InitSpec) -> NetSnapshot:
    """The seeded initial network of a scene, without torch."""
    from nnlab.engine.model.inits import init_weights

    sizes = [net.input_dim, *net.hidden, 1]
    return snapshot_from_layers(init_weights(sizes, init), net.activation)


def to_torch(snap: NetSnapshot, dtype: "torch.dtype | None" = None) -> "torch.nn.Sequential":
    """A torch Sequential(Linear, act, ..., Linear) with the snapshot's weights (float32 by default)."""
    import torch
    import torch.nn as nn

    dtype = dtype or torch.float32
    mods: list[nn.Module] = []
    n = len(snap.weights)
    for k, (w, b) in enumerate(zip(snap.weights, snap.biases)):
        lin = nn.Linear(w.shape[1], w.shape[0]).to(dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(w, dtype=dtype))
            lin.bias.copy_(torch.tensor(b, dtype=dtype))
        mods.append(lin)
        if k < n - 1:
            mods.append(activations.get(snap.activation).torch_module())
    return nn.Sequential(*mods)


class LayerChain:
    """A network read in order from a graph (ONNX, TorchScript, torch.export, a torch Sequential): affine maps
    compose until an activation closes a hidden layer. nnlab networks use one activation kind in every hidden
    layer, so a second kind is refused, as is anything that is not a chain of affine maps and activations."""

    def __init__(self, width: int | None = None) -> None:
        self.width = width  # the current width, when known
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []
        self.pending: tuple[np.ndarray, np.ndarray] | None = None  # affine map since the last activation (out, in)
        self.activation: str | None = None

    def affine(self, w: np.ndarray, b: np.ndarray | None = None) -> None:
        """Compose x -> w x + b (w in torch layout (out, in)) onto the pending map."""
        w = _real_array(w, "weight")
        if w.ndim != 2:
            raise NetworkError(f"weight must be a matrix, got shape {w.shape}")
        b = np.zeros(w.shape[0]) if b is None else _real_array(b, "bias").reshape(-1)
        if b.size == 1 and w.shape[0] != 1:
            b = np.full(w.shape[0], b[0])
        if b.size != w.shape[0]:
            raise NetworkError(f"shape mismatch: bias of size {b.size} for a layer of width {w.shape[0]}")
        if self.width is not None and w.shape[1] != self.width:
            raise NetworkError(f"shape mismatch: weight {w.shape[::-1]} expects {w.shape[1]} inputs, "
                               f"the previous layer gives {self.width}")
        self.pending = (w, b) if self.pending is None else (w @ self.pending[0], w @ self.pending[1] + b)
        self.width = w.shape[0]

    def bias(self, b: np.ndarray) -> None:
        """Add a bias (size 1 or the current width) to the pending map."""
        b = _real_array(b, "bias").reshape(-1)
        if self.pending is None:
            if self.width is None:
                raise NetworkError("a bias before any weight needs a known input width")
            self.pending = (np.eye(self.width), np.zeros(self.width))
        if b.size not in (1, self.width):
            raise NetworkError(f"shape mismatch: bias of size {b.size} for a layer of width {self.width}")
        self.pending = (self.pending[0], self.pending[1] + b)

    def act(self, name: str) -> None:
        """Close a hidden layer with activation `name` (one of ACTIVATIONS)."""
        if self.pending is None:
            raise NetworkError(f"the activation {name} must follow an affine layer")
        if self.activation is not None and name != self.activation:
            raise NetworkError(f"the network mixes activations {self.activation} and {name}; "
                               "nnlab networks use one activation in every hidden layer")
        self.activation = name
        self.layers.append(self.pending)
        self.pending = None

    def snapshot(self) -> NetSnapshot:
        if self.pending is None:
            raise NetworkError("the network must end with an affine layer, not an activation"
                               if self.layers else "no affine layer found")
        return snapshot_from_layers([*self.layers, self.pending], self.activation or "relu")


def leaky_activation(slope: float, what: str = "LeakyReLU") -> str:
    """The activation name of a leaky ReLU with this negative slope: "leaky_relu" for 0.01 (also its float32
    rounding), "relu" for 0, "leaky_relu:a" for another a in (0, 1) (activations.leaky); else a NetworkError naming
    the slope."""
    try:
        a = float(slope)
    except (TypeError, ValueError):
        raise NetworkError(f"{what} with negative slope {slope!r}: expected a number") from None
    if not 0.0 <= a < 1.0:
        raise NetworkError(f"{what} with negative slope {a:g}: nnlab reads leaky ReLU slopes in [0, 1)")
    return activations.leaky(a).name


def from_torch(model: "torch.nn.Sequential") -> NetSnapshot:
    """Snapshot (float64 copies) of a Sequential of Linear layers and one activation kind."""
    import torch.nn as nn

    chain = LayerChain()
    for m in model:
        if isinstance(m, nn.Linear):
            chain.affine(m.weight.detach().cpu().double().numpy(),
                         None if m.bias is None else m.bias.detach().cpu().double().numpy())
        elif (act := activations.by_torch_class(type(m).__name__)) and type(m).__module__.startswith("torch.nn"):
            chain.act(leaky_activation(m.negative_slope) if act.slope else act.name)  # the module's own slope
        else:
            raise NetworkError(f"unsupported layer {type(m).__name__}; expected Linear and an activation")
    return chain.snapshot()
