"""Common types of the optimizers: events they yield, the result they return, and the method registry.

A method is a generator function
    method(net: NetSnapshot, lower: ndarray, upper: ndarray, sense: str, params: <its dataclass>,
           time_limit: float, seed: int) -> Generator[Event, None, OptResult]
registered in METHODS with its parameter dataclass (fields with defaults, shown by the UI and CLI).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Union

import numpy as np

from nnlab.engine.jobs import drain
from nnlab.engine.network import NetSnapshot
from nnlab.engine.registry import Registry

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
        """The `nnlab optimize --json` object."""
        return {
            "method": self.method, "sense": self.sense, "value": self.value,
            "x": None if self.x is None else [float(v) for v in self.x], "status": self.status,
            "bound": self.bound, "gap": self.gap, "seconds": self.seconds, "verified_value": self.verified_value,
        }


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
    """The method's parameter dataclass from a dict; unknown or ill-typed keys are a one-line ValueError."""
    entry = METHODS.get(method)
    params = dict(params or {})
    if entry.params is None:
        if params:
            raise ValueError(f"method {method!r} takes no parameters, got {', '.join(params)}")
        return None
    names = {f.name: f for f in dataclasses.fields(entry.params)}
    for k, v in params.items():
        if k not in names:
            raise ValueError(f"method {method!r} has no parameter {k!r}; allowed: {', '.join(names)}")
        default = names[k].default
        if isinstance(default, bool) and not isinstance(v, bool):
            raise ValueError(f"parameter {k!r} of {method!r} must be true/false, got {v!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"parameter {k!r} of {method!r} must be a number, got {v!r}")
            if isinstance(default, int) and not isinstance(default, bool) and int(v) != v:
                raise ValueError(f"parameter {k!r} of {method!r} must be an integer, got {v!r}")
            v = type(default)(v)
            params[k] = v
    return entry.params(**params)


def check_box(net: NetSnapshot, lower: Any, upper: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 box of the network's input dimension."""
    lo = np.asarray(lower, dtype=np.float64).reshape(-1)
    hi = np.asarray(upper, dtype=np.float64).reshape(-1)
    n = net.input_dim
    if lo.size != n or hi.size != n:
        raise ValueError(f"the box has {lo.size}/{hi.size} bounds but the network has {n} inputs")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))) or np.any(lo > hi):
        raise ValueError("the box needs finite bounds with lower <= upper")
    return lo, hi


def run_method(method: str, net: NetSnapshot, lower: Any, upper: Any, sense: str = "max",
               time_limit: float = 60.0, seed: int = 0, params: dict[str, Any] | None = None
               ) -> Generator[Event, None, OptResult]:
    """Validate the arguments, then delegate to the registered method generator."""
    if sense not in ("max", "min"):
        raise ValueError(f"sense {sense!r} is not allowed; expected max or min")
    if net.activation != "relu":
        raise ValueError(f"optimizers need a ReLU network, this one uses {net.activation}")
    if not time_limit > 0:
        raise ValueError(f"time limit {time_limit!r} must be > 0 seconds")
    lo, hi = check_box(net, lower, upper)
    entry = METHODS.get(method)
    p = make_params(method, params)
    return (yield from entry.obj(net, lo, hi, sense, p, float(time_limit), int(seed)))


def run_to_result(gen: Generator[Event, None, OptResult]) -> OptResult:
    """Drain a method generator and return its result (for scripts and tests)."""
    return drain(gen)
