"""Weight initialization schemes (registered), drawn with numpy so that a seed gives bit-identical weights.

Each scheme maps (fan_out, fan_in, rng, spec) to a float64 (out, in) matrix and states its theoretical weight
variance, which the tests check against the empirical one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from nnlab.engine.registry import Entry, Registry


class InitSpec(Protocol):
    """What a scheme reads from the scene's [init] section (nnlab.engine.model.scene.InitSpec); a protocol, so the
    registry sits below the scene that validates names against it."""

    scheme: str
    gain: float
    scale: float
    bias: str
    bias_value: float
    seed: int


WeightFn = Callable[[int, int, np.random.Generator, InitSpec], np.ndarray]
BiasFn = Callable[[int, int, np.random.Generator, InitSpec], np.ndarray]
AUTO_BIAS = "auto"  # the scene's bias choice that means "the scheme's own default rule"


@dataclass(frozen=True)
class BiasRule(Entry[BiasFn]):
    """A bias rule: obj(fan_out, fan_in, rng, spec) -> (fan_out,) biases, drawn after the layer's weights."""


BIAS_RULES: "Registry[BiasRule]" = Registry("bias rule", BiasRule)


@dataclass(frozen=True)
class InitScheme(Entry[WeightFn]):
    """A weight scheme: obj(fan_out, fan_in, rng, spec) -> (out, in) weights; `variance(fan_out, fan_in, spec)` is
    its theoretical per-weight variance; `default_bias` the bias rule that bias = "auto" stands for. Flags "gain"
    and "scale" name the [init] fields the scheme reads."""

    variance: Callable[[int, int, InitSpec], float] | None = None
    default_bias: str = "zero"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.variance is None:
            raise ValueError(f"initialization {self.name!r} has no variance")
        if self.default_bias not in BIAS_RULES:
            raise ValueError(f"initialization {self.name!r}: default_bias {self.default_bias!r} is not a bias rule")


INITS: "Registry[InitScheme]" = Registry("initialization", InitScheme)


def _bias(name: str, label: str, description: str) -> Callable[[BiasFn], BiasFn]:
    return BIAS_RULES.register(name, label=label, description=description)


@_bias("zero", "zero", "all biases 0")
def _zero_bias(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return np.zeros(fo)


@_bias("constant", "constant", "every bias = bias_value")
def _constant_bias(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return np.full(fo, spec.bias_value)


@_bias("uniform", "uniform", "U(±bias_value)")
def _uniform_bias(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return rng.uniform(-spec.bias_value, spec.bias_value, size=fo)


@_bias("normal", "normal", "N(0, bias_value²)")
def _normal_bias(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return rng.normal(0.0, spec.bias_value, size=fo)


@_bias("fan_in", "fan-in uniform", "U(±1/sqrt(fan_in)), PyTorch's Linear default")
def _fan_in_bias(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    b = 1.0 / math.sqrt(fi)
    return rng.uniform(-b, b, size=fo)


def bias_choices() -> tuple[str, ...]:
    """What [init] bias may be: "auto" and the registered rules, in display order (scene, panel and CLI)."""
    return (AUTO_BIAS, *BIAS_RULES.names())


def _uniform(a: float, fo: int, fi: int, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(-a, a, size=(fo, fi))


@INITS.register("xavier_uniform", label="Xavier/Glorot uniform", flags=("gain",),
                description="U(±gain·sqrt(6/(fan_in+fan_out))), Flux's default; the seed article's case",
                variance=lambda fo, fi, s: s.gain**2 * 2.0 / (fi + fo))
def xavier_uniform(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return _uniform(spec.gain * math.sqrt(6.0 / (fi + fo)), fo, fi, rng)


@INITS.register("xavier_normal", label="Xavier/Glorot normal", flags=("gain",),
                description="N(0, gain²·2/(fan_in+fan_out))",
                variance=lambda fo, fi, s: s.gain**2 * 2.0 / (fi + fo))
def xavier_normal(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return rng.normal(0.0, spec.gain * math.sqrt(2.0 / (fi + fo)), size=(fo, fi))


@INITS.register("he_uniform", label="He/Kaiming uniform", flags=("gain",),
                description="U(±gain·sqrt(6/fan_in)), for ReLU",
                variance=lambda fo, fi, s: s.gain**2 * 2.0 / fi)
def he_uniform(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return _uniform(spec.gain * math.sqrt(6.0 / fi), fo, fi, rng)


@INITS.register("he_normal", label="He/Kaiming normal", flags=("gain",),
                description="N(0, gain²·2/fan_in)",
                variance=lambda fo, fi, s: s.gain**2 * 2.0 / fi)
def he_normal(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return rng.normal(0.0, spec.gain * math.sqrt(2.0 / fi), size=(fo, fi))


@INITS.register("lecun_uniform", label="LeCun uniform", flags=("gain",),
                description="U(±gain·sqrt(3/fan_in))",
                variance=lambda fo, fi, s: s.gain**2 / fi)
def lecun_uniform(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return _uniform(spec.gain * math.sqrt(3.0 / fi), fo, fi, rng)


@INITS.register("lecun_normal", label="LeCun normal", flags=("gain",),
                description="N(0, gain²/fan_in)",
                variance=lambda fo, fi, s: s.gain**2 / fi)
def lecun_normal(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return rng.normal(0.0, spec.gain * math.sqrt(1.0 / fi), size=(fo, fi))


@INITS.register("orthogonal", label="Orthogonal", flags=("gain",),
                description="gain · a (semi-)orthogonal matrix from the QR of a Gaussian one",
                variance=lambda fo, fi, s: s.gain**2 / max(fo, fi))
def orthogonal(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    a = rng.normal(0.0, 1.0, size=(max(fo, fi), min(fo, fi)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))  # unique, uniformly distributed
    return spec.gain * (q if fo >= fi else q.T)


@INITS.register("torch_default", label="PyTorch Linear default",
                description="U(±1/sqrt(fan_in)) for weights and biases (the relax-and-walk authors' code)",
                variance=lambda fo, fi, s: 1.0 / (3.0 * fi), default_bias="fan_in")
def torch_default(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return _uniform(1.0 / math.sqrt(fi), fo, fi, rng)


@INITS.register("uniform", label="Uniform(±a)", flags=("scale",), description="U(±scale)",
                variance=lambda fo, fi, s: s.scale**2 / 3.0)
def uniform(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return _uniform(spec.scale, fo, fi, rng)


@INITS.register("normal", label="Normal(0, σ)", flags=("scale",), description="N(0, scale²)",
                variance=lambda fo, fi, s: s.scale**2)
def normal(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    return rng.normal(0.0, spec.scale, size=(fo, fi))


def bias_kind(spec: InitSpec) -> str:
    """The bias rule in force: "auto" means the scheme's own default (zero for all but torch_default)."""
    if spec.bias != AUTO_BIAS:
        return spec.bias
    return INITS.get(spec.scheme).default_bias


def draw_bias(fo: int, fi: int, rng: np.random.Generator, spec: InitSpec) -> np.ndarray:
    """Bias vector by the spec's bias rule."""
    return BIAS_RULES.get(bias_kind(spec)).obj(fo, fi, rng, spec)


def expected_variance(spec: InitSpec, fan_out: int, fan_in: int) -> float:
    """The scheme's theoretical per-weight variance."""
    return float(INITS.get(spec.scheme).variance(fan_out, fan_in, spec))


def init_weights(sizes: list[int] | tuple[int, ...], spec: InitSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) for every layer of an MLP with layer sizes [n0, n1, ..., nK], torch layout W: (out, in)."""
    fn = INITS.get(spec.scheme).obj
    rng = np.random.default_rng(spec.seed)
    layers = []
    for fi, fo in zip(sizes[:-1], sizes[1:]):
        w = np.asarray(fn(fo, fi, rng, spec), dtype=np.float64)
        b = np.asarray(draw_bias(fo, fi, rng, spec), dtype=np.float64)
        layers.append((w, b))
    return layers
