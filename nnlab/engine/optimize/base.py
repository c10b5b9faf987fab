"""Common types of the optimizers: events they yield, the result they return, and the method registry.

A method is a generator function
    method(net: NetSnapshot, lower: ndarray, upper: ndarray, sense: str, params: <its dataclass>,
           time_limit: float, seed: int) -> Generator[Event, None, OptResult]
registered in METHODS with its parameter dataclass (fields with defaults, shown by the UI and CLI) and capability
flags: "exact" | "heuristic"; "2d" (2-input networks only) | "any_dim"; "any_activation" for methods that need only
forward passes or gradients (without it a method needs a ReLU network: region LPs, big-M, linear bounds). A method
may also register `check=fn(net, lower, upper, params)`: its own size limits, raised before any work starts.
`check_method` applies all of these; `run_method` calls it before the method's first step.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Union

import numpy as np

from nnlab.engine.jobs import drain
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.registry import Entry, Registry
from nnlab.errors import NnlabError

STATUSES = ("optimal", "time_limit", "feasible", "infeasible", "cancelled", "error")


@dataclass(frozen=True, eq=False)
class Incumbent:
    """A new best point (value is the network's output there, in the method's sense)."""

    value: float
    x: np.ndarray
    seconds: float


@dataclass(frozen=True, eq=False)
class PointsVisited:
    """Points a method evaluated or sampled (N, n0) with their network values (N,)."""

    points: np.ndarray
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class WalkPath:
    """A path of iterates (K, n0) with values (K,), e.g. a relax-and-walk walk or a gradient run."""

    path: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class BoundProgress:
    """Best proven bound and incumbent so far (exact methods), or a stage message."""

    bound: float | None
    incumbent: float | None
    seconds: float
    stage: str = ""


Event = Union[Incumbent, PointsVisited, WalkPath, BoundProgress]


@dataclass(frozen=True, eq=False)
class OptResult:
    """What a method returns. `bound` is a proven bound on the optimum (None for heuristics); gap is relative."""

    method: str
    sense: str
    value: float | None
    x: np.ndarray | None
    status: str
    bound: float | None = None
    gap: float | None = None
    seconds: float = 0.0
    verified_value: float | None = None
    seconds_bounds: float = 0.0
    seconds_solve: float = 0.0
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `nnlab optimize --json` object: strict JSON values (a non-finite number becomes None / null)."""
        return {
            "method": self.method, "sense": self.sense, "value": _finite(self.value),
            "x": None if self.x is None else [_finite(v) for v in self.x], "status": self.status,
            "bound": _finite(self.bound), "gap": _finite(self.gap), "seconds": _finite(self.seconds),
            "verified_value": _finite(self.verified_value),
        }


def _finite(v: float | None) -> float | None:
    """v as a float, or None when it is None, inf or nan (strict JSON has no Infinity/NaN)."""
    if v is None:
        return None
    f = float(v)
    return f if np.isfinite(f) else None


MethodFn = Callable[..., Generator[Event, None, OptResult]]
METHODS: Registry[MethodFn] = Registry("optimizer")


def relative_gap(value: float | None, bound: float | None) -> float | None:
    """|bound - value| / max(1, |value|), or None."""
    if value is None or bound is None:
        return None
    return abs(bound - value) / max(1.0, abs(value))


def better(a: float, b: float | None, sense: str) -> bool:
    """Is value a strictly better than b in this sense?"""
    return b is None or (a > b if sense == "max" else a < b)


def finish(net: NetSnapshot, method: str, sense: str, x: np.ndarray | None, status: str, t0: float,
           bound: float | None = None, **kw: Any) -> OptResult:
    """Build the result; the reported value IS the forward pass at x (float64), so it is always verified."""
    x_out = None if x is None else np.asarray(x, dtype=np.float64).copy()
    value = None if x_out is None else float(net.forward(x_out))
    return OptResult(method=method, sense=sense, value=value, x=x_out, status=status, bound=bound,
                     gap=relative_gap(value, bound), seconds=time.perf_counter() - t0, verified_value=value, **kw)


def make_params(method: str, params: dict[str, Any] | None) -> Any:
    """The method's parameter dataclass from a dict; unknown or ill-typed keys are a one-line NnlabError."""
    entry = METHODS.get(method)
    params = dict(params or {})
    if entry.params is None:
        if params:
            raise NnlabError(f"method {method!r} takes no parameters, got {', '.join(params)}")
        return None
    names = {f.name: f for f in dataclasses.fields(entry.params)}
    for k, v in params.items():
        if k not in names:
            raise NnlabError(f"method {method!r} has no parameter {k!r}; allowed: {', '.join(names)}")
        default = names[k].default
        if isinstance(default, bool) and not isinstance(v, bool):
            raise NnlabError(f"parameter {k!r} of {method!r} must be true/false, got {v!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise NnlabError(f"parameter {k!r} of {method!r} must be a number, got {v!r}")
            if isinstance(default, int) and not isinstance(default, bool) and int(v) != v:
                raise NnlabError(f"parameter {k!r} of {method!r} must be an integer, got {v!r}")
            v = type(default)(v)
            params[k] = v
    return entry.params(**params)


MAX_BOX_ABS = 1e12  # |bound| above this: refused (see check_box)
MAX_MAGNITUDE = 1e150  # interval bound on any layer's values above this: refused (see check_box)


def value_magnitude(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray) -> float:
    """An upper bound on |value| of every neuron (pre-activations and output) over the box, by interval
    arithmetic on magnitudes: m_k = |W_k| m_{k-1} + |b_k|, through |act(z)| <= |z| (relu, leaky_relu, silu) or
    <= 1 (tanh, sigmoid). inf when it overflows float64."""
    m = np.maximum(np.abs(lower), np.abs(upper))
    top = float(m.max(initial=0.0))
    bounded = net.activation in ("tanh", "sigmoid")
    with np.errstate(over="ignore", invalid="ignore"):
        for k, (w, b) in enumerate(zip(net.weights, net.biases)):
            g = np.abs(w) @ m + np.abs(b)
            top = max(top, float(g.max(initial=0.0)))
            if not np.isfinite(top):
                return float("inf")
            m = np.minimum(g, 1.0) if bounded else g
    return top


def check_box(net: NetSnapshot, lower: Any, upper: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 box of the network's input dimension, or a one-line NnlabError.

    Refused, because the answer could not be computed soundly in float64: a bound beyond +-MAX_BOX_ABS (1e12;
    exact methods' LP/MILP solvers treat numbers near 1e20 as infinite and lose all precision long before), and a
    box over which the interval bound of some neuron's value (value_magnitude) exceeds MAX_MAGNITUDE (1e150, so
    that products of two such values stay finite) or overflows."""
    lo = np.asarray(lower, dtype=np.float64).reshape(-1)
    hi = np.asarray(upper, dtype=np.float64).reshape(-1)
    n = net.input_dim
    if lo.size != n or hi.size != n:
        raise NnlabError(f"the box has {lo.size}/{hi.size} bounds but the network has {n} inputs")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))) or np.any(lo > hi):
        raise NnlabError("the box needs finite bounds with lower <= upper")
    big = float(max(np.abs(lo).max(), np.abs(hi).max()))
    if big > MAX_BOX_ABS:
        raise NnlabError(f"the box reaches {big:.3g}, beyond +-{MAX_BOX_ABS:.0e}: float64 arithmetic over it is not "
                         "precise enough for a sound answer; rescale the inputs")
    mag = value_magnitude(net, lo, hi)
    if not mag <= MAX_MAGNITUDE:
        raise NnlabError(f"over this box the network's values could reach {mag:.3g}, beyond {MAX_MAGNITUDE:.0e}: "
                         "float64 arithmetic cannot compute them soundly; use a smaller box")
    return lo, hi


def check_method(method: str, net: NetSnapshot, lower: Any, upper: Any, sense: str = "max",
                 time_limit: float = 60.0, params: dict[str, Any] | None = None
                 ) -> tuple[Entry[MethodFn], np.ndarray, np.ndarray, Any]:
    """Everything that can be refused before a method starts (one-line NnlabError): the name, the method's
    activation and dimension capabilities, sense, time limit, box, parameters and the method's own size check.
    Returns (entry, lower, upper, parameter dataclass)."""
    entry = METHODS.get(method)
    if "any_activation" not in entry.flags and net.activation != "relu":
        others = ", ".join(METHODS.names("any_activation"))
        raise NnlabError(f"method {method!r} needs a ReLU network, this one uses {net.activation} "
                         f"(methods for any activation: {others})")
    if "2d" in entry.flags and net.input_dim != 2:
        raise NnlabError(f"method {method!r} needs a 2-input network, this one has {net.input_dim} inputs")
    if sense not in ("max", "min"):
        raise NnlabError(f"sense {sense!r} is not allowed; expected max or min")
    if not time_limit > 0:
        raise NnlabError(f"time limit {time_limit!r} must be > 0 seconds")
    lo, hi = check_box(net, lower, upper)
    p = make_params(method, params)
    check = entry.extra.get("check")
    if check is not None:
        check(net, lo, hi, p)
    return entry, lo, hi, p


def run_method(method: str, net: NetSnapshot, lower: Any, upper: Any, sense: str = "max",
               time_limit: float = 60.0, seed: int = 0, params: dict[str, Any] | None = None
               ) -> Generator[Event, None, OptResult]:
    """Validate everything (check_method) now, then return the registered method's generator: a refusal is
    raised by this call, before any work."""
    entry, lo, hi, p = check_method(method, net, lower, upper, sense, time_limit, params)
    return entry.obj(net, lo, hi, sense, p, float(time_limit), int(seed))


def run_to_result(gen: Generator[Event, None, OptResult]) -> OptResult:
    """Drain a method generator and return its result (for scripts and tests)."""
    return drain(gen)
