"""Networks: a torch MLP for training, and a frozen float64 numpy snapshot that optimizers and metrics consume.

The snapshot is framework-independent (plain weight arrays in torch layout (out, in)), as in OMLT.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from nnlab.engine.scene import ACTIVATIONS, InitSpec, NetworkSpec

if TYPE_CHECKING:  # torch is heavy; imported where needed
    import torch

_NP_ACT = {
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "tanh": np.tanh,
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
    "silu": lambda z: z * 0.5 * (1.0 + np.tanh(0.5 * z)),
}


@dataclass(frozen=True, eq=False)
class NetSnapshot:
    """Weights W[k] (out, in) and biases b[k] of an MLP; hidden layers use `activation`, the last layer is linear."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activation: str = "relu"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r} is not supported; allowed: {', '.join(ACTIVATIONS)}")
        if len(self.weights) != len(self.biases) or not self.weights:
            raise ValueError("a network needs as many bias vectors as weight matrices, and at least one layer")
        ws = tuple(np.array(w, dtype=np.float64, copy=True) for w in self.weights)
        bs = tuple(np.array(b, dtype=np.float64, copy=True).reshape(-1) for b in self.biases)
        for k, (w, b) in enumerate(zip(ws, bs)):
            if w.ndim != 2 or w.shape[0] != b.shape[0]:
                raise ValueError(f"layer {k}: weight shape {w.shape} does not match bias shape {b.shape}")
            if k and w.shape[1] != ws[k - 1].shape[0]:
                raise ValueError(f"layer {k}: expects {w.shape[1]} inputs but layer {k - 1} has {ws[k - 1].shape[0]} outputs")
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ValueError(f"layer {k}: weights or biases are not finite")
            w.flags.writeable = False
            b.flags.writeable = False
        if ws[-1].shape[0] != 1:
            raise ValueError(f"the network must have one output, got {ws[-1].shape[0]}")
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
        act = _NP_ACT[self.activation]
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
        act = _NP_ACT[self.activation]
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


def initial_snapshot(net: NetworkSpec, init: InitSpec) -> NetSnapshot:
    """The seeded initial network of a scene, without torch."""
    from nnlab.engine.inits import init_weights

    sizes = [net.input_dim, *net.hidden, 1]
    return snapshot_from_layers(init_weights(sizes, init), net.activation)


def _torch_act(name: str) -> "torch.nn.Module":
    import torch.nn as nn

    return {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.01), "tanh": nn.Tanh,
            "sigmoid": nn.Sigmoid, "silu": nn.SiLU}[name]()


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
            mods.append(_torch_act(snap.activation))
    return nn.Sequential(*mods)


def activation_of(model: "torch.nn.Sequential") -> str:
    """The activation name of a Sequential built by `to_torch` (relu when there is no hidden layer)."""
    import torch.nn as nn

    names = {nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.SiLU: "silu"}
    for m in model:
        if type(m) in names:
            return names[type(m)]
        if not isinstance(m, nn.Linear):
            raise ValueError(f"unsupported layer {type(m).__name__}; expected Linear and an activation")
    return "relu"


def from_torch(model: "torch.nn.Sequential") -> NetSnapshot:
    """Snapshot (float64 copies) of a Sequential of Linear layers and one activation kind."""
    import torch.nn as nn

    lins = [m for m in model if isinstance(m, nn.Linear)]
    return NetSnapshot(
        tuple(m.weight.detach().cpu().double().numpy() for m in lins),
        tuple(m.bias.detach().cpu().double().numpy() if m.bias is not None else np.zeros(m.out_features) for m in lins),
        activation_of(model),
    )
