"""The activation registry: every form of an activation in one typed entry (numpy value, value and derivative, the
torch module, the torch class it is read from), so the network, the landscape metrics, model files and the methods
that need a piecewise-linear network all read the same table. Display order is registration order.

Sigmoid is written through tanh (0.5 (1 + tanh(z/2))): the same function, without exp overflow warnings at |z| > 709.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from nnlab.errors import NnlabError

if TYPE_CHECKING:  # torch is heavy; imported where needed
    import torch

LEAKY_SLOPE = 0.01  # nnlab's leaky_relu: max(z, 0.01 z), torch.nn.LeakyReLU's default; files record it

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """One activation. `piecewise_linear`: max(z, slope z) with slope in [0, 1), so exact methods can encode it with
    one binary per unit; every other activation is smooth and only forward-evaluating methods run on it."""

    name: str
    label: str
    value: Callable[[Array], Array]
    value_and_slope: Callable[[Array], tuple[Array, Array]]
    torch_module: Callable[[], "torch.nn.Module"]
    torch_class: str  # the torch.nn class name a Sequential holds
    piecewise_linear: bool = False
    slope: float = 0.0  # for piecewise-linear ones: the slope for z < 0
    onnx_op: str = ""  # the ONNX operator that computes it ("" when ONNX spells it with several nodes, e.g. SiLU)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or not self.label:
            raise ValueError(f"activation {self.name!r}: a name must be an identifier and a label must be given")
        if self.piecewise_linear and not 0.0 <= self.slope < 1.0:
            raise ValueError(f"activation {self.name!r}: a piecewise-linear slope must be in [0, 1)")
        if not self.piecewise_linear and self.slope:
            raise ValueError(f"activation {self.name!r}: only piecewise-linear activations have a slope")


_ENTRIES: dict[str, Activation] = {}


def register(act: Activation) -> Activation:
    """Add an activation; a name registered twice is an error (a second table would be silently ignored)."""
    if act.name in _ENTRIES:
        raise ValueError(f"activation {act.name!r} is already registered")
    _ENTRIES[act.name] = act
    return act


def get(name: str) -> Activation:
    """The entry for `name`, or a one-line NnlabError listing what is allowed."""
    try:
        return _ENTRIES[name]
    except KeyError:
        raise NnlabError(f"activation {name!r} is not supported; allowed: {', '.join(_ENTRIES)}") from None


def names(piecewise_linear: bool | None = None) -> tuple[str, ...]:
    """Registered names in display order, optionally only the piecewise-linear (or only the smooth) ones."""
    return tuple(n for n, a in _ENTRIES.items() if piecewise_linear is None or a.piecewise_linear == piecewise_linear)


def by_torch_class(cls_name: str) -> Activation | None:
    """The activation a torch.nn module class stands for, or None."""
    return next((a for a in _ENTRIES.values() if a.torch_class == cls_name), None)


def _sigmoid(z: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _pwl(slope: float) -> tuple[Callable[[Array], Array], Callable[[Array], tuple[Array, Array]]]:
    def value(z: Array) -> Array:
        return np.maximum(z, 0.0) if slope == 0.0 else np.where(z > 0, z, slope * z)

    def value_and_slope(z: Array) -> tuple[Array, Array]:
        m = (z > 0).astype(np.float64) if slope == 0.0 else np.where(z > 0, 1.0, slope)
        return z * m, m

    return value, value_and_slope


def _tanh_vs(z: Array) -> tuple[Array, Array]:
    t = np.tanh(z)
    return t, 1.0 - t * t


def _sigmoid_vs(z: Array) -> tuple[Array, Array]:
    s = _sigmoid(z)
    return s, s * (1.0 - s)


def _silu_vs(z: Array) -> tuple[Array, Array]:
    s = _sigmoid(z)
    return z * s, s + z * s * (1.0 - s)


def _torch(cls: str, *args: float) -> Callable[[], "torch.nn.Module"]:
    def make() -> "torch.nn.Module":
        import torch.nn as nn

        return getattr(nn, cls)(*args)

    return make


RELU = register(Activation("relu", "ReLU", *_pwl(0.0), _torch("ReLU"), "ReLU", piecewise_linear=True,
                         onnx_op="Relu"))
LEAKY_RELU = register(Activation("leaky_relu", f"leaky ReLU ({LEAKY_SLOPE:g})", *_pwl(LEAKY_SLOPE),
                                 _torch("LeakyReLU", LEAKY_SLOPE), "LeakyReLU", piecewise_linear=True,
                                 slope=LEAKY_SLOPE, onnx_op="LeakyRelu"))
TANH = register(Activation("tanh", "tanh", np.tanh, _tanh_vs, _torch("Tanh"), "Tanh", onnx_op="Tanh"))
SIGMOID = register(Activation("sigmoid", "sigmoid", _sigmoid, _sigmoid_vs, _torch("Sigmoid"), "Sigmoid", onnx_op="Sigmoid"))
SILU = register(Activation("silu", "SiLU (x sigmoid x)", lambda z: z * _sigmoid(z), _silu_vs, _torch("SiLU"), "SiLU"))


# --- smooth activations read from foreign model files (ONNX Softplus, Gelu); forward-only methods run on them ---

def _softplus(z: Array) -> Array:
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))  # log(1 + e^z) without overflow


def _softplus_vs(z: Array) -> tuple[Array, Array]:
    return _softplus(z), _sigmoid(z)


def _gelu(z: Array) -> Array:
    from scipy.special import erf

    return 0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))  # the exact (erf) GELU, torch.nn.GELU's default


def _gelu_vs(z: Array) -> tuple[Array, Array]:
    from scipy.special import erf

    cdf = 0.5 * (1.0 + erf(z / np.sqrt(2.0)))
    return z * cdf, cdf + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


def by_onnx_op(op: str) -> Activation | None:
    """The activation an ONNX operator computes by itself, or None."""
    return next((a for a in _ENTRIES.values() if a.onnx_op == op), None)


SOFTPLUS = register(Activation("softplus", "softplus", _softplus, _softplus_vs, _torch("Softplus"), "Softplus",
                               onnx_op="Softplus"))
GELU = register(Activation("gelu", "GELU (erf)", _gelu, _gelu_vs, _torch("GELU"), "GELU", onnx_op="Gelu"))
