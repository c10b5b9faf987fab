"""The activation registry: every form of an activation in one typed entry (numpy value, value and derivative, the
torch module, the torch class it is read from), so the network, the landscape metrics, model files and the methods
that need a piecewise-linear network all read the same table. Display order is registration order.

Sigmoid is written through tanh (0.5 (1 + tanh(z/2))): the same function, without exp overflow warnings at |z| > 709.

Leaky ReLU with another slope. "leaky_relu" is max(z, 0.01 z) (torch's default). Any other slope a in (0, 1) is the
derived entry "leaky_relu:a" (`leaky(a)`, or `get("leaky_relu:0.2")`), made on first use with the same numpy,
torch (LeakyReLU(a)) and ONNX (LeakyRelu alpha = a) forms; it is piecewise linear, so the exact methods encode it
with its own slope. Derived entries are not listed by `names()` (the choices shown in menus), but every lookup
(`get`, `known`) accepts them, so a model file with LeakyRelu(alpha = 0.2) reads, optimises and writes back as is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import math
import re

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
        if not (self.name.isidentifier() or _DERIVED_NAME.fullmatch(self.name)) or not self.label:
            raise ValueError(f"activation {self.name!r}: a name must be an identifier and a label must be given")
        if self.piecewise_linear and not 0.0 <= self.slope < 1.0:
            raise ValueError(f"activation {self.name!r}: a piecewise-linear slope must be in [0, 1)")
        if not self.piecewise_linear and self.slope:
            raise ValueError(f"activation {self.name!r}: only piecewise-linear activations have a slope")


_ENTRIES: dict[str, Activation] = {}
_DERIVED: dict[str, Activation] = {}  # "leaky_relu:a" entries, made on first use (see the module docstring)
_DERIVED_NAME = re.compile(r"leaky_relu:([0-9.eE+-]+)")


def register(act: Activation) -> Activation:
    """Add an activation; a name registered twice is an error (a second table would be silently ignored)."""
    if act.name in _ENTRIES:
        raise ValueError(f"activation {act.name!r} is already registered")
    _ENTRIES[act.name] = act
    return act


def get(name: str) -> Activation:
    """The entry for `name` (a derived "leaky_relu:a" too), or a one-line NnlabError listing what is allowed."""
    act = _ENTRIES.get(name) or _DERIVED.get(name)
    if act is not None:
        return act
    m = _DERIVED_NAME.fullmatch(name) if isinstance(name, str) else None
    if m is not None:
        try:
            a = float(m.group(1))
        except ValueError:
            a = math.nan
        if 0.0 < a < 1.0 and leaky_name(a) == name:
            return leaky(a)
    raise NnlabError(f"activation {name!r} is not supported; allowed: {', '.join(_ENTRIES)} or leaky_relu:SLOPE "
                     "(a slope in (0, 1) written as Python writes it, e.g. leaky_relu:0.2)") from None


def known(name: str) -> bool:
    """Is `name` an activation nnlab computes (a registered one, or a derived leaky_relu:a)?"""
    try:
        get(name)
    except NnlabError:
        return False
    return True


def canonical_slope(a: float) -> float:
    """A negative slope as nnlab records it: a float32 value (ONNX's alpha attribute) is read as the shortest
    decimal that rounds to it (0.2f -> 0.2, what the model's author wrote); a float64 value stays as it is."""
    a = float(a)
    f32 = np.float32(a)
    if math.isfinite(a) and float(f32) == a:
        return float(np.format_float_positional(f32, unique=True, trim="-"))
    return a


def leaky_name(a: float) -> str:
    """The registry name of max(z, a z): "relu" (a = 0), "leaky_relu" (0.01), else "leaky_relu:a"."""
    a = canonical_slope(a)
    if a == 0.0:
        return "relu"
    if a == LEAKY_SLOPE:
        return "leaky_relu"
    return f"leaky_relu:{a!r}"


def leaky(a: float) -> Activation:
    """The entry of max(z, a z) for a slope a in [0, 1): relu, leaky_relu or a derived leaky_relu:a (made and kept
    on first use). Other slopes are a NnlabError naming the slope."""
    a = canonical_slope(a)
    if not 0.0 <= a < 1.0:
        raise NnlabError(f"negative slope {a:g} is not supported; nnlab reads leaky ReLU slopes in [0, 1)")
    name = leaky_name(a)
    if name in _ENTRIES:
        return _ENTRIES[name]
    if name not in _DERIVED:
        _DERIVED[name] = Activation(name, f"leaky ReLU ({a:g})", *_pwl(a), _torch("LeakyReLU", a), "LeakyReLU",
                                    piecewise_linear=True, slope=a, onnx_op="LeakyRelu")
    return _DERIVED[name]


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
