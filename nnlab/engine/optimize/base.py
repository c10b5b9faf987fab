"""Common types of the optimizers: events they yield, the result they return, and the method registry.

A method is a generator function
    method(net: NetSnapshot, lower: ndarray, upper: ndarray, sense: str, params: <its dataclass>,
           time_limit: float, seed: int) -> Generator[Event, None, OptResult]
registered in METHODS (a MethodEntry, validated when registered) with its parameter dataclass (fields with
defaults, shown by the UI and CLI) and capability flags: "exact" | "heuristic"; "2d" (2-input networks only) |
"any_dim"; which activations it accepts: "any_activation" (forward passes or gradients only), "piecewise_linear"
(every piecewise-linear activation of the registry, max(z, a z): region LPs, big-M, linear regions), or neither (a
ReLU network only); "baseline" marks the plain sampling baselines. A method may also register
`check=fn(net, lower, upper, params)`: its own size limits, raised before any work starts. `check_method` applies
all of these; `run_method` calls it before the method's first step. Display order is METHOD_ORDER, one list.
"""
from __future__ import annotations

import dataclasses
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, NamedTuple, Union

import numpy as np

from nnlab.engine.jobs import drain
from nnlab.engine.model import activations
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.registry import Entry, Registry
from nnlab.errors import NnlabError

STATUSES = ("optimal", "time_limit", "work_limit", "feasible", "infeasible", "cancelled", "error")
# a heuristic's work caps (parameters of every heuristic; None: no cap): forward passes and LP solves. A run stopped
# by one has status "work_limit"; its result's extra["work"] = {"forward", "lp", "gradient_steps"} (heuristics.Clock)
WORK_CAPS = ("max_forward", "max_lp")


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
            "search": {k: _strict(self.extra[k]) for k in SEARCH_KEYS if k in self.extra} or None,
            "work": _strict(self.extra["work"]) if "work" in self.extra else None,  # heuristics; exact: see search
        }


# what a search method reports of its work (exact: which path and why; branch and bound: nodes, branching, whether
# relu_bab kept its first-layer hull and the root bound it removed, whether bab used the cone reduction of a zero-bias
# net and how many sub-boxes it dropped / flattened, the bound's history as [seconds, bound, incumbent] rows), shown
# under "search" in the JSON
SEARCH_KEYS = ("via", "why", "nodes", "boxes", "open", "leaves", "region_lps", "milps", "branching", "root_bound",
               "root_unstable", "hull", "hull_gain", "cone", "cone_dropped", "cone_flattened", "bound_history")


def _strict(v: Any) -> Any:
    """A JSON-ready copy: numbers finite or None, tuples and arrays as lists."""
    if isinstance(v, dict):
        return {str(k): _strict(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_strict(x) for x in v]
    if isinstance(v, (bool, str)) or v is None:
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    return _finite(float(v))


def _finite(v: float | None) -> float | None:
    """v as a float, or None when it is None, inf or nan (strict JSON has no Infinity/NaN)."""
    if v is None:
        return None
    f = float(v)
    return f if np.isfinite(f) else None


MethodFn = Callable[..., Generator[Event, None, OptResult]]


# The display order of the methods (UI list, CLI `--method all`, study tables): one explicit list, not import order.
METHOD_ORDER = ("exact", "regions", "milp", "bab", "relu_bab", "sampling", "walk", "gradient", "random", "lhs", "grid")
METHOD_FLAGS = frozenset({"exact", "heuristic", "2d", "any_dim", "any_activation", "piecewise_linear", "baseline"})


@dataclass(frozen=True)
class MethodEntry(Entry[MethodFn]):
    """A method: its entry plus `check`, its own size limits (see the module docstring). Validated when made: a
    generator function, a parameter dataclass (or None), known flags with exactly one kind (exact | heuristic), one
    dimension capability (2d | any_dim), at most one activation capability, and a place in METHOD_ORDER."""

    check: Callable[..., None] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        f = self.flags
        problems = []
        if not inspect.isgeneratorfunction(self.obj):
            problems.append("is not a generator function")
        if self.params is not None and not dataclasses.is_dataclass(self.params):
            problems.append("params is not a dataclass")
        if self.check is not None and not callable(self.check):
            problems.append("check is not callable")
        if f - METHOD_FLAGS:
            problems.append(f"unknown flags {sorted(f - METHOD_FLAGS)}")
        for group in (("exact", "heuristic"), ("2d", "any_dim")):
            if len(f & set(group)) != 1:
                problems.append(f"needs exactly one of the flags {' | '.join(group)}")
        if {"any_activation", "piecewise_linear"} <= f:
            problems.append("flags any_activation and piecewise_linear exclude each other")
        if self.name not in METHOD_ORDER:
            problems.append("is not in base.METHOD_ORDER (its display place)")
        if problems:
            raise ValueError(f"optimizer {self.name!r}: {'; '.join(problems)}")
        object.__setattr__(self, "order", METHOD_ORDER.index(self.name))

    def accepts(self, activation: str) -> bool:
        """Does this method run on networks with this activation (its capability flags)?"""
        if "any_activation" in self.flags:
            return True
        if "piecewise_linear" in self.flags:
            return activations.get(activation).piecewise_linear
        return activation == "relu"


METHODS: Registry[MethodEntry] = Registry("optimizer", MethodEntry)


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


def check_cap(name: str, cap: Any) -> int | None:
    """A work cap (WORK_CAPS): None (no cap) or an integer >= 1 (a float with an integer value is accepted, 1e5)."""
    if cap is None:
        return None
    ok = isinstance(cap, (int, float, np.integer, np.floating)) and not isinstance(cap, (bool, np.bool_))
    if not ok or not float(cap) >= 1 or not np.isfinite(float(cap)) or float(cap) != int(cap):
        raise NnlabError(f"parameter {name!r} must be an integer >= 1 (or absent for no cap), got {cap!r}")
    return int(cap)


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
        if k in WORK_CAPS:
            params[k] = check_cap(k, v)
            continue
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
    arithmetic on magnitudes: m_k = |W_k| m_{k-1} + |b_k|, through |act(z)| <= 1 (tanh, sigmoid), else
    |act(z)| <= |z| + |act(0)| (relu, leaky_relu, silu, gelu: |z|; softplus: |z| + log 2). inf when it overflows."""
    m = np.maximum(np.abs(lower), np.abs(upper))
    top = float(m.max(initial=0.0))
    bounded = net.activation in ("tanh", "sigmoid")
    at0 = abs(float(activations.get(net.activation).value(np.zeros(1))[0]))  # softplus: |act(z)| <= |z| + log 2
    with np.errstate(over="ignore", invalid="ignore"):
        for k, (w, b) in enumerate(zip(net.weights, net.biases)):
            g = np.abs(w) @ m + np.abs(b)
            top = max(top, float(g.max(initial=0.0)))
            if not np.isfinite(top):
                return float("inf")
            m = np.minimum(g, 1.0) if bounded else (g + at0 if at0 else g)
    return top


class Box(NamedTuple):
    """A float64 box [lower, upper], as check_box validates it. A tuple, so `lo, hi = check_box(...)` reads it."""

    lower: np.ndarray
    upper: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.lower.size)

    @property
    def span(self) -> np.ndarray:
        """upper - lower per coordinate (0 where the box is flat)."""
        return self.upper - self.lower

    def corners(self) -> np.ndarray:
        """The 2^n vertices (2^n, n), bit i of the row index choosing upper in coordinate i."""
        n = self.dim
        bits = (np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1
        return self.lower + bits * self.span


def check_box(net: NetSnapshot, lower: Any, upper: Any, positive_width: str = "") -> Box:
    """The one validation of a box (optimizers, metrics, region enumeration): a Box of the network's input
    dimension, or a one-line NnlabError.

    Refused, because the answer could not be computed soundly in float64: a bound beyond +-MAX_BOX_ABS (1e12;
    exact methods' LP/MILP solvers treat numbers near 1e20 as infinite and lose all precision long before), and a
    box over which the interval bound of some neuron's value (value_magnitude) exceeds MAX_MAGNITUDE (1e150, so
    that products of two such values stay finite) or overflows. A caller that divides by the width (box-normalised
    metrics, 2-D regions) names itself in `positive_width`: a flat coordinate is then refused too."""
    lo = np.asarray(lower, dtype=np.float64).reshape(-1)
    hi = np.asarray(upper, dtype=np.float64).reshape(-1)
    n = net.input_dim
    if lo.size != n or hi.size != n:
        raise NnlabError(f"the box has {lo.size}/{hi.size} bounds but the network has {n} inputs")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))) or np.any(lo > hi):
        raise NnlabError("the box needs finite bounds with lower <= upper")
    if positive_width and np.any(hi <= lo):
        raise NnlabError(f"{positive_width} needs a box of positive width (lower < upper in every coordinate)")
    big = float(max(np.abs(lo).max(), np.abs(hi).max()))
    if big > MAX_BOX_ABS:
        raise NnlabError(f"the box reaches {big:.3g}, beyond +-{MAX_BOX_ABS:.0e}: float64 arithmetic over it is not "
                         "precise enough for a sound answer; rescale the inputs")
    mag = value_magnitude(net, lo, hi)
    if not mag <= MAX_MAGNITUDE:
        raise NnlabError(f"over this box the network's values could reach {mag:.3g}, beyond {MAX_MAGNITUDE:.0e}: "
                         "float64 arithmetic cannot compute them soundly; use a smaller box")
    return Box(lo, hi)


def check_method(method: str, net: NetSnapshot, lower: Any, upper: Any, sense: str = "max",
                 time_limit: float = 60.0, params: dict[str, Any] | None = None
                 ) -> tuple[MethodEntry, np.ndarray, np.ndarray, Any]:
    """Everything that can be refused before a method starts (one-line NnlabError): the name, the method's
    activation and dimension capabilities, sense, time limit, box, parameters and the method's own size check.
    Returns (entry, lower, upper, parameter dataclass)."""
    entry = METHODS.get(method)
    if not entry.accepts(net.activation):
        need = ("a piecewise-linear network (" + ", ".join(activations.names(piecewise_linear=True)) + ")"
                if "piecewise_linear" in entry.flags else "a ReLU network")
        others = ", ".join(METHODS.names("any_activation"))
        raise NnlabError(f"method {method!r} needs {need}, this one uses {net.activation} "
                         f"(methods for any activation: {others})")
    if "2d" in entry.flags and net.input_dim != 2:
        raise NnlabError(f"method {method!r} needs a 2-input network, this one has {net.input_dim} inputs")
    if sense not in ("max", "min"):
        raise NnlabError(f"sense {sense!r} is not allowed; expected max or min")
    if not time_limit > 0:
        raise NnlabError(f"time limit {time_limit!r} must be > 0 seconds")
    lo, hi = check_box(net, lower, upper)
    p = make_params(method, params)
    check = entry.check
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
