"""Training targets: classic optimization test functions with their natural domains (registered).

Every TARGETS entry (a TargetEntry) has obj mapping X (N, n) float64 to (N,) float64, and typed fields:
- `domain = (lower, upper)`: the natural box. `lower`/`upper` are each a float (the same bound for every
  coordinate, used by all n-D targets) or a per-coordinate tuple (only for 2-D-only targets, e.g. Branin
  ((-5, 0), (10, 15))). Do not read it directly: `natural_domain(name, n)` gives the normalised tuples.
- `dims`: "any" (the entry then carries the flag "nd", set from dims) or 2.
- `optimum(n)`: (sense, value, points) of the documented global optimum, or None where not known
  (see `known_optimum`).
Domains follow the SFU virtual library of simulation experiments unless the docstring says why not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from nnlab.engine.registry import Entry, Registry
from nnlab.errors import SceneError


class Scene(Protocol):
    """What target_function reads of a scene (nnlab.engine.model.scene.Scene); a protocol, so this registry sits
    below the scene that validates target names against it."""

    target: Any
    network: Any

    def domain(self) -> tuple[tuple[float, ...], tuple[float, ...]]: ...

TargetFn = Callable[[np.ndarray], np.ndarray]


class TargetError(SceneError):
    """A target cannot be used as asked (e.g. a 2-D-only target with input_dim = 5). A SceneError (an NnlabError),
    so that load_scene reports it with the file name."""



@dataclass(frozen=True)
class TargetEntry(Entry[TargetFn]):
    """A registered target with its natural domain, input count and documented optimum (module docstring)."""

    dims: int | str = 2
    domain: tuple[Any, Any] | None = None
    optimum: Callable[[int], tuple | None] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dims != "any" and not (isinstance(self.dims, int) and self.dims >= 1):
            raise ValueError(f"target {self.name!r}: dims must be 'any' or a positive integer")
        if "nd" in self.flags and self.dims != "any":
            raise ValueError(f"target {self.name!r}: the flag 'nd' is for targets with dims = 'any'")
        if self.dims == "any":  # the capability flag follows dims, so it cannot disagree with it
            object.__setattr__(self, "flags", self.flags | {"nd"})
        if self.domain is None or len(self.domain) != 2 or self.optimum is None:
            raise ValueError(f"target {self.name!r} needs a domain (lower, upper) and an optimum function")


TARGETS: "Registry[TargetEntry]" = Registry("target", TargetEntry)
SPECIAL_TARGETS = ("none", "expression", "csv")  # scene target names that are not registered functions


def target_choices() -> tuple[str, ...]:
    """What [target] name may be: the special names, then the registered targets in display order."""
    return (*SPECIAL_TARGETS, *TARGETS.names())

HIMMELBLAU_LOG_EPS = 1e-3  # -log(eps) = 6.9078 caps the four singular peaks of the altered Himmelblau
_HIMMELBLAU_MINIMA = ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126))


def _cols(X: np.ndarray, name: str, dims: int | None = None) -> np.ndarray:
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    if X.ndim != 2:  # callers pass (N, n) points; anything else is a bug, not a user's input
        raise ValueError(f"{name}: expected points as an (N, n) array, got shape {X.shape}")
    if dims is not None and X.shape[1] != dims:
        raise TargetError(f"{name} is defined for {dims} inputs, got {X.shape[1]}")
    return X


def _nd(sense: str, value: float, coord: float, per_dim: bool = False) -> Callable[[int], tuple]:
    """Optimum at (coord, ..., coord) with `value`, times n when `per_dim`."""
    return lambda k: (sense, value * k if per_dim else value, ((coord,) * k,))


def _fixed(sense: str, value: float, *points: tuple[float, float]) -> Callable[[int], tuple | None]:
    return lambda k: (sense, value, tuple(points)) if k == 2 else None


def _himmelblau_raw(X: np.ndarray) -> np.ndarray:
    x, y = X[:, 0], X[:, 1]
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


@TARGETS.register("himmelblau_log", label="Altered Himmelblau (−log)", dims=2, domain=(-5.0, 5.0),
                  description="−log(max(Himmelblau, 1e-3)) on [−5,5]²: four peaks of height −log(1e-3) ≈ 6.908 "
                              "at Himmelblau's minima (the seed article's target)",
                  optimum=_fixed("max", -math.log(HIMMELBLAU_LOG_EPS), *_HIMMELBLAU_MINIMA))
def himmelblau_log(X: np.ndarray) -> np.ndarray:
    """-log((x²+y-11)² + (x+y²-7)²), the inner sum clipped below at HIMMELBLAU_LOG_EPS = 1e-3.

    Without the clip the four maxima are log(0) singularities; with it they are flat caps of height
    -log(1e-3) ≈ 6.908 and radius ~0.005 (continuous at their rim); the low end is -log(890) ≈ -6.79 at (-5,-5).
    """
    return -np.log(np.maximum(_himmelblau_raw(_cols(X, "himmelblau_log", 2)), HIMMELBLAU_LOG_EPS))


@TARGETS.register("himmelblau", label="Himmelblau", dims=2, domain=(-5.0, 5.0),
                  description="(x²+y−11)² + (x+y²−7)² on [−5,5]²: four minima of value 0",
                  optimum=_fixed("min", 0.0, *_HIMMELBLAU_MINIMA))
def himmelblau(X: np.ndarray) -> np.ndarray:
    return _himmelblau_raw(_cols(X, "himmelblau", 2))


@TARGETS.register("rastrigin", label="Rastrigin", dims="any", domain=(-5.12, 5.12),
                  description="10n + Σ(xᵢ² − 10 cos 2πxᵢ) on [−5.12,5.12]ⁿ: a grid of local minima, 0 at the origin",
                  optimum=_nd("min", 0.0, 0.0))
def rastrigin(X: np.ndarray) -> np.ndarray:
    X = _cols(X, "rastrigin")
    return 10.0 * X.shape[1] + np.sum(X * X - 10.0 * np.cos(2.0 * np.pi * X), axis=1)


@TARGETS.register("ackley", label="Ackley", dims="any", domain=(-5.0, 5.0),
                  description="Ackley (a=20, b=0.2, c=2π) on [−5,5]ⁿ (SFU uses [−32.768,32.768]): 0 at the origin",
                  optimum=_nd("min", 0.0, 0.0))
def ackley(X: np.ndarray) -> np.ndarray:
    """On [-5,5]^n rather than SFU's [-32.768,32.768]^n: on the wide box the ripples (period 1) are finer
    than a 100-point surface grid or a few thousand training samples can show."""
    X = _cols(X, "ackley")
    r = np.sqrt(np.mean(X * X, axis=1))
    return -20.0 * np.exp(-0.2 * r) - np.exp(np.mean(np.cos(2.0 * np.pi * X), axis=1)) + 20.0 + math.e


@TARGETS.register("rosenbrock", label="Rosenbrock", dims="any", domain=(-2.048, 2.048),
                  description="Σ 100(xᵢ₊₁−xᵢ²)² + (1−xᵢ)² on [−2.048,2.048]ⁿ (De Jong's box): 0 at (1,…,1)",
                  optimum=_nd("min", 0.0, 1.0))
def rosenbrock(X: np.ndarray) -> np.ndarray:
    X = _cols(X, "rosenbrock")
    if X.shape[1] < 2:
        return (1.0 - X[:, 0]) ** 2
    return np.sum(100.0 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1.0 - X[:, :-1]) ** 2, axis=1)


@TARGETS.register("peaks", label="MATLAB peaks", dims=2, domain=(-3.0, 3.0),
                  description="MATLAB's peaks on [−3,3]²: three bumps and two dips, max ≈ 8.106, min ≈ −6.551",
                  optimum=_fixed("max", 8.1062136, (-0.009318, 1.581368)))
def peaks(X: np.ndarray) -> np.ndarray:
    X = _cols(X, "peaks", 2)
    x, y = X[:, 0], X[:, 1]
    return (3.0 * (1.0 - x) ** 2 * np.exp(-x * x - (y + 1.0) ** 2)
            - 10.0 * (x / 5.0 - x ** 3 - y ** 5) * np.exp(-x * x - y * y)
            - np.exp(-(x + 1.0) ** 2 - y * y) / 3.0)


@TARGETS.register("branin", label="Branin-Hoo", dims=2, domain=((-5.0, 0.0), (10.0, 15.0)),
                  description="Branin on [−5,10]×[0,15]: three minima of value 0.397887",
                  optimum=_fixed("min", 0.397887, (-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)))
def branin(X: np.ndarray) -> np.ndarray:
    X = _cols(X, "branin", 2)
    x, y = X[:, 0], X[:, 1]
    b, c, t = 5.1 / (4.0 * math.pi ** 2), 5.0 / math.pi, 1.0 / (8.0 * math.pi)
    return (y - b * x * x + c * x - 6.0) ** 2 + 10.0 * (1.0 - t) * np.cos(x) + 10.0


@TARGETS.register("six_hump_camel", label="Six-hump camel", dims=2, domain=((-3.0, -2.0), (3.0, 2.0)),
                  description="Six-hump camel on [−3,3]×[−2,2]: two minima of value −1.0316 at ±(0.0898, −0.7126)",
                  optimum=_fixed("min", -1.0316285, (0.0898420, -0.7126564), (-0.0898420, 0.7126564)))
def six_hump_camel(X: np.ndarray) -> np.ndarray:
    X = _cols(X, "six_hump_camel", 2)
    x, y = X[:, 0], X[:, 1]
    return (4.0 - 2.1 * x * x + x ** 4 / 3.0) * x * x + x * y + (4.0 * y * y - 4.0) * y * y


@TARGETS.register("styblinski_tang", label="Styblinski-Tang", dims="any", domain=(-5.0, 5.0),
                  description="½Σ(xᵢ⁴ − 16xᵢ² + 5xᵢ) on [−5,5]ⁿ: −39.16617·n at xᵢ = −2.903534",
                  optimum=_nd("min", -39.166166, -2.903534, per_dim=True))
def styblinski_tang(X: np.ndarray) -> np.ndarray:
    X = _cols(X, "styblinski_tang")
    return 0.5 * np.sum(X ** 4 - 16.0 * X * X + 5.0 * X, axis=1)


@TARGETS.register("griewank", label="Griewank", dims="any", domain=(-10.0, 10.0),
                  description="1 + Σxᵢ²/4000 − Π cos(xᵢ/√i) on [−10,10]ⁿ (SFU: [−600,600]): 0 at the origin",
                  optimum=_nd("min", 0.0, 0.0))
def griewank(X: np.ndarray) -> np.ndarray:
    """On [-10,10]^n rather than SFU's [-600,600]^n, where the ripples vanish beside the bowl at plot scale."""
    X = _cols(X, "griewank")
    i = np.arange(1, X.shape[1] + 1, dtype=np.float64)
    return 1.0 + np.sum(X * X, axis=1) / 4000.0 - np.prod(np.cos(X / np.sqrt(i)), axis=1)


@TARGETS.register("levy", label="Levy", dims="any", domain=(-10.0, 10.0),
                  description="Levy on [−10,10]ⁿ: many local minima, 0 at (1,…,1)",
                  optimum=_nd("min", 0.0, 1.0))
def levy(X: np.ndarray) -> np.ndarray:
    W = 1.0 + (_cols(X, "levy") - 1.0) / 4.0
    first = np.sin(np.pi * W[:, 0]) ** 2
    mid = np.sum((W[:, :-1] - 1.0) ** 2 * (1.0 + 10.0 * np.sin(np.pi * W[:, :-1] + 1.0) ** 2), axis=1)
    last = (W[:, -1] - 1.0) ** 2 * (1.0 + np.sin(2.0 * np.pi * W[:, -1]) ** 2)
    return first + mid + last


_MICHALEWICZ_OPT = {2: (-1.8013034, ((2.202906, 1.570796),))}


@TARGETS.register("michalewicz", label="Michalewicz (m=10)", dims="any", domain=(0.0, math.pi),
                  description="−Σ sin(xᵢ) sin²⁰(i xᵢ²/π) on [0,π]ⁿ: steep valleys; 2-D min −1.8013 at (2.20, 1.57)",
                  optimum=lambda k: ("min", *_MICHALEWICZ_OPT[k]) if k in _MICHALEWICZ_OPT else None)
def michalewicz(X: np.ndarray) -> np.ndarray:
    X = _cols(X, "michalewicz")
    i = np.arange(1, X.shape[1] + 1, dtype=np.float64)
    return -np.sum(np.sin(X) * np.sin(i * X * X / np.pi) ** 20, axis=1)


@TARGETS.register("eggholder", label="Eggholder", dims=2, domain=(-512.0, 512.0),
                  description="Eggholder on [−512,512]²: rugged, min −959.6407 at (512, 404.2319) on the edge",
                  optimum=_fixed("min", -959.6407, (512.0, 404.2319)))
def eggholder(X: np.ndarray) -> np.ndarray:
    X = _cols(X, "eggholder", 2)
    x, y = X[:, 0], X[:, 1] + 47.0
    return -y * np.sin(np.sqrt(np.abs(x / 2.0 + y))) - x * np.sin(np.sqrt(np.abs(x - y)))


@dataclass(frozen=True)
class Optimum:
    """A target's documented global optimum: `sense` "min" or "max", its value, and where it is attained."""

    sense: str
    value: float
    points: tuple[tuple[float, ...], ...]


def known_optimum(name: str, n: int = 2) -> Optimum | None:
    """The literature optimum of target `name` in n dimensions (rounded as published), or None if not known."""
    found = TARGETS.get(name).optimum(n)
    return None if found is None else Optimum(found[0], float(found[1]), tuple(tuple(map(float, p)) for p in found[2]))


def natural_domain(name: str, n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(lower, upper) of the target's natural box in n dimensions; TargetError if it has no n-D form,
    NnlabError (from the registry) for an unknown name."""
    entry = TARGETS.get(name)
    dims = entry.dims
    if dims != "any" and n != dims:
        raise TargetError(f"target {name!r} ({entry.label}) is only defined for input_dim = {dims}, not {n}; "
                          f"targets for any input_dim: {', '.join(TARGETS.names('nd'))}")
    lo, hi = entry.domain

    def expand(v: float | tuple[float, ...]) -> tuple[float, ...]:
        return tuple(float(a) for a in v) if isinstance(v, tuple) else (float(v),) * n

    return expand(lo), expand(hi)


def _affine(fn: TargetFn, src: tuple, dst: tuple) -> TargetFn:
    slo, shi = np.asarray(src[0], np.float64), np.asarray(src[1], np.float64)
    dlo, dhi = np.asarray(dst[0], np.float64), np.asarray(dst[1], np.float64)
    scale = (dhi - dlo) / (shi - slo)
    return lambda X: fn(dlo + (np.asarray(X, dtype=np.float64) - slo) * scale)


def target_function(scene: "Scene") -> TargetFn:
    """The function to fit, on points in the network's input coordinates (scene.domain()), X (N, n) -> (N,).

    With `rescale`, the network box (normally [0,1]^n) is mapped affinely onto the target's natural domain
    first. Expressions are evaluated as written, in x and y (or x1, x2), on the network box; `rescale` does
    not apply to them. "none" and "csv" (data, not a function) raise TargetError.
    """
    t = scene.target
    n = scene.network.input_dim
    if t.name == "none":
        raise TargetError("target 'none' has no function to fit; choose a target first")
    if t.name == "csv":
        raise TargetError("target 'csv' is data, not a function; load it with csvdata.load_csv_samples")
    if t.name == "expression":
        from nnlab.engine.model.expression import compile_expression

        variables = ("x", "y") if n == 2 else tuple(f"x{i + 1}" for i in range(n))
        expr = compile_expression(t.expression, variables)

        def fn(X: np.ndarray) -> np.ndarray:
            X = _cols(X, "expression", n)
            return expr(*(X[:, i] for i in range(n)))

        return fn
    entry = TARGETS.get(t.name)
    natural = natural_domain(t.name, n)
    if not t.rescale:
        return entry.obj
    return _affine(entry.obj, scene.domain(), natural)
