"""nnlab's Python API for scripts and notebooks: read a network, optimise one output (or a linear objective of the
outputs) over a box, check a VNN-LIB property. `nnlab optimize` is built on these same functions, and `optimize`
returns the object `nnlab optimize --json` prints (OptResult.to_json).

    net = nnlab.load_network("ACASXU_run2a_1_1_batch_2000.onnx")
    result = nnlab.optimize(net, lower=[...], upper=[...], sense="max", output=0, method="exact", time_limit=60)
    result["value"], result["x"], result["status"], result["bound"]

`optimize_steps` is the generator underneath (progress events, then the OptResult), for a progress bar.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Generator, Sequence

import numpy as np

if TYPE_CHECKING:
    from nnlab.engine.model.io import ModelNetwork
    from nnlab.engine.model.network import NetSnapshot
    from nnlab.engine.model.vnnlib import Property
    from nnlab.engine.optimize.base import OptResult



def load_network(path: str | os.PathLike, activation: str | None = None, *,
                 logits: bool = False) -> "ModelNetwork | NetSnapshot":
    """Read a model file (.onnx, .pt state_dict or TorchScript, .pt2, .npz) with all its outputs, or a scene file
    (.toml), whose network is the one `nnlab optimize SCENE` optimises: its model file's chosen output or
    objective ([network] model, output, objective), else its trained or initial network (a NetSnapshot).

    `activation` names the activation of a file that records none (a bare state_dict); `logits` drops a trailing
    Softmax/LogSoftmax. An assumed activation is a ModelFileWarning. Errors: nnlab.errors.NnlabError, one line."""
    import warnings
    from pathlib import Path

    from nnlab.engine.model.io import ModelFileWarning, read_network
    from nnlab.errors import UsageError

    if Path(path).suffix.lower() == ".toml":
        from nnlab.engine.model.scene import load_scene
        from nnlab.engine.train.cache import trained_network

        if activation is not None or logits:
            raise UsageError(f"{Path(path).name}: a scene names its own activation and logits ([network])")
        return trained_network(load_scene(path))
    net = read_network(path, activation, logits=logits)
    if net.note:
        warnings.warn(net.note, ModelFileWarning, stacklevel=2)
    return net


def snapshot(net: Any, output: int | None = None, objective: Sequence[float] | None = None) -> "NetSnapshot":
    """The single-output network methods optimise: output K or c^T y of a ModelNetwork (or a path), or a
    NetSnapshot as it is (output 0 only)."""
    from nnlab.engine.model.network import NetSnapshot
    from nnlab.errors import UsageError

    if isinstance(net, (str, os.PathLike)):
        net = load_network(net)
    if isinstance(net, NetSnapshot):
        if output not in (None, 0) or objective is not None and list(objective) != [1.0]:
            raise UsageError("this network has one output: output must be 0 and objective [1]")
        return net
    if not hasattr(net, "snapshot"):
        raise UsageError(f"expected a network from nnlab.load_network, got {type(net).__name__}")
    return net.snapshot(output, objective)


def box(n: int, lower: Any, upper: Any) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds as float64 arrays of n values (a number stands for every coordinate)."""
    from nnlab.errors import UsageError

    out = []
    for name, v in (("lower", lower), ("upper", upper)):
        if v is None:
            raise UsageError(f"{name} is needed: the box to optimise over")
        try:
            a = np.array(v, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise UsageError(f"{name} must be numbers") from None
        a = np.full(n, a[0]) if a.size == 1 else a
        if a.size != n:
            raise UsageError(f"{name} has {a.size} values but the network has {n} inputs")
        if not np.all(np.isfinite(a)):
            raise UsageError(f"{name} must be finite numbers")
        out.append(a)
    if np.any(out[0] > out[1]):
        raise UsageError("lower must not exceed upper in any coordinate")
    return out[0], out[1]


def optimize_steps(net: Any, lower: Any = None, upper: Any = None, sense: str = "max", output: int | None = None,
                   objective: Sequence[float] | None = None, method: str = "exact", time_limit: float = 60.0,
                   seed: int = 0, params: dict[str, Any] | None = None) -> Generator[Any, None, "OptResult"]:
    """The method's generator: progress events, then the OptResult. Every check runs before the first step."""
    from nnlab.engine.optimize import run_method

    snap = snapshot(net, output, objective)
    lo, hi = box(snap.input_dim, lower, upper)
    return run_method(method, snap, lo, hi, sense, time_limit, seed, params)


def optimize(net: Any, lower: Any = None, upper: Any = None, sense: str = "max", output: int | None = None,
             objective: Sequence[float] | None = None, method: str = "exact", time_limit: float = 60.0,
             seed: int = 0, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Optimise one output (or c^T y) of `net` over the box [lower, upper]; the `nnlab optimize --json` object:
    method, sense, value, x, status, bound, gap, seconds, verified_value ("optimal" only when proven)."""
    from nnlab.engine.optimize import run_to_result

    return run_to_result(optimize_steps(net, lower, upper, sense, output, objective, method, time_limit, seed,
                                        params)).to_json()


def check_property(net: Any, vnnlib: str | os.PathLike, method: str = "exact", time_limit: float = 60.0,
                   seed: int = 0) -> dict[str, Any]:
    """Decide a VNN-LIB property (its cases: `or` of boxes and output conditions): "holds" when every case has an
    output constraint proven unreachable over its box (a certified bound), "violated" when a point's forward pass
    meets every constraint of a case whose box holds it, else "unknown". Returns verdict, why, counterexample (x or
    None), constraints (as written; one "(A and B)" per case when there are several), cases and results (one
    optimize object per constraint tried; `time_limit` is per constraint)."""
    from nnlab.engine.model.io import ModelNetwork
    from nnlab.engine.model.vnnlib import read_vnnlib
    from nnlab.engine.optimize import run_to_result
    from nnlab.errors import UsageError

    if isinstance(net, (str, os.PathLike)):
        net = load_network(net)
    if not isinstance(net, ModelNetwork):
        raise UsageError("check_property needs a network from nnlab.load_network (it reads every output)")
    prop = read_vnnlib(vnnlib, net.input_dim)
    return decide(net, prop, lambda snap, sense, lo, hi: run_to_result(
        optimize_steps(snap, lo, hi, sense, method=method, time_limit=time_limit, seed=seed)))


def decide(net: "ModelNetwork", prop: "Property", solve: Any) -> dict[str, Any]:
    """The verdict loop of check_property, with `solve(snapshot, sense, lower, upper) -> OptResult` (the CLI
    passes its own). Sound: "holds" needs a certified bound for every case, "violated" a forward pass."""
    from nnlab.errors import UsageError

    if not prop.constrains_outputs:
        raise UsageError("the property constrains no output; optimise an output over its box instead")
    if prop.n_outputs != net.n_outputs:
        raise UsageError(f"the property declares {prop.n_outputs} outputs but the network has {net.n_outputs}")
    cases = prop.cases
    results: list[dict[str, Any]] = []
    status = ["open"] * len(cases)
    reasons: list[str] = []
    verdict, why, cex = "unknown", "", None

    def counterexample(x: np.ndarray) -> str | None:
        y = net.forward(x)[0]
        hit = next((j for j, case in enumerate(cases) if case.met(x, y)), None)
        if hit is None:
            return None
        where = f" of case {hit + 1}" if len(cases) > 1 else ""
        return f"the point x = {[float(v) for v in x]} meets every output constraint{where} (outputs {[float(v) for v in y]})"

    for i, case in enumerate(cases):
        if not case.constraints:  # a box with no output condition: every point of it is a counterexample
            x = case.lower.copy()
            verdict, why, cex, status[i] = "violated", counterexample(x), [float(v) for v in x], "met"
            break
        for con in case.constraints:
            res = solve(net.snapshot(objective=con.c), con.sense, case.lower, case.upper)
            results.append(res.to_json())
            if con.unreachable(res.bound):
                status[i] = "unreachable"
                reasons.append(f"the {con.sense} of {_term(con.c)} over the box is "
                               f"{'at most' if con.sense == 'max' else 'at least'} {res.bound:.10g}, so {con.text} is "
                               f"never met (certified by {res.method})")
                break
            if res.x is not None and (found := counterexample(np.asarray(res.x, dtype=np.float64))) is not None:
                verdict, why, cex, status[i] = "violated", found, [float(v) for v in res.x], "met"
                break
        if verdict == "violated":
            break
    if verdict != "violated":
        if all(s == "unreachable" for s in status):
            verdict = "holds"
            why = reasons[0] if len(cases) == 1 else (f"each of the {len(cases)} cases is unreachable: "
                                                      + "; ".join(f"case {k + 1}: {r}" for k, r in enumerate(reasons)))
        else:
            still = [str(k + 1) for k, s in enumerate(status) if s == "open"]
            why = ("no output constraint was proven unreachable and no point met them all" if len(cases) == 1 else
                   f"case{'s' if len(still) > 1 else ''} {', '.join(still)} of {len(cases)}: no output constraint was "
                   "proven unreachable and no point met them all")
    texts = [c.text for c in cases[0].constraints] if len(cases) == 1 else [f"({c.text})" for c in cases]
    return {"verdict": verdict, "why": why, "counterexample": cex, "constraints": texts,
            "cases": [{"constraints": [c.text for c in case.constraints], "lower": case.lower.tolist(),
                       "upper": case.upper.tolist(), "status": s} for case, s in zip(cases, status)],
            "results": results}


def _term(c: Sequence[float]) -> str:
    parts = []
    for j, v in enumerate(c):
        if v:
            coef = "" if abs(v) == 1 else f"{abs(v):g} "
            parts.append(("- " if v < 0 else "+ ") + f"{coef}Y_{j}")
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else "-" + text[2:] if text.startswith("- ") else text
