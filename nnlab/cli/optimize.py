"""`nnlab optimize`: optimize a network's output over a box, from a model file or a scene (a contract for scripts).

`exact` (the default) is the 2-D region enumeration for 2-input networks and the input branch and bound (`bab`)
otherwise; `milp` is the big-M MILP. The exact methods, sampling and walk need a ReLU network; gradient, random,
lhs and grid work for every activation. With --json, stdout is one strict JSON object (a list of them for
--method all) with the keys method, sense, value, x, status, bound, gap, seconds, verified_value; a number that is
not finite is null. Errors: one line on stderr, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

JSON_KEYS = ("method", "sense", "value", "x", "status", "bound", "gap", "seconds", "verified_value")
MODEL_SUFFIXES = (".onnx", ".pt", ".pt2", ".npz", ".toml")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from nnlab.engine.model.scene import ACTIVATIONS

    p = sub.add_parser("optimize", help="maximise or minimise a network's output over a box",
                       description="Optimize the output of a network (.onnx, .pt state_dict or TorchScript, "
                                   ".pt2 torch.export program, .npz, or a scene .toml) over a box.")
    p.add_argument("--model", required=True,
                   help="FILE.onnx | FILE.pt | FILE.pt2 | FILE.npz | SCENE.toml | a bundled preset's name")
    p.add_argument("--activation", choices=ACTIVATIONS,
                   help="the activation of a model file that records none (a bare state_dict: relu is assumed)")
    p.add_argument("--lower", help="comma-separated lower bounds (default: the scene's domain, else 0)")
    p.add_argument("--upper", help="comma-separated upper bounds (default: the scene's domain, else 1)")
    p.add_argument("--sense", choices=("max", "min"), default="max")
    p.add_argument("--method", default="exact", help="exact (default: regions for 2 inputs, else bab), regions, bab, "
                   "milp, sampling, walk, gradient, random, lhs, grid, or all")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds per method (default 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a method parameter, e.g. --param samples=2000 (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON to stdout")


def _floats(text: str, what: str) -> np.ndarray:
    from nnlab.errors import UsageError

    try:
        vals = np.array([float(v) for v in text.split(",")], dtype=np.float64)
    except ValueError:  # float() of a user's text
        raise UsageError(f"--{what} {text!r} is not a comma-separated list of numbers") from None
    if not np.all(np.isfinite(vals)):
        raise UsageError(f"--{what} {text!r} must be finite numbers")
    return vals


def _params(items: list[str]) -> dict:
    from nnlab.errors import UsageError

    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param {item!r} is not KEY=VALUE")
        low = raw.strip().lower()
        if low in ("true", "false"):
            out[key] = low == "true"
        else:
            try:
                out[key] = int(raw)
            except ValueError:
                try:
                    out[key] = float(raw)
                except ValueError:
                    out[key] = raw
    return out


def load_problem(model: str, lower: str | None, upper: str | None, activation: str | None = None):
    """(network snapshot, lower, upper) from a model file or a scene, with the box resolved.

    A model file that records no activation is read as `activation`, else as ReLU with a one-line note on stderr."""
    from nnlab.bundled import scene_path
    from nnlab.engine.model.io import read_model
    from nnlab.errors import UsageError

    path = scene_path(model)  # a bundled preset's name ("himmelblau") stands for its scene
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise UsageError(f"{model}: unsupported model file; expected one of {', '.join(MODEL_SUFFIXES)}")
    if not path.is_file():
        raise UsageError(f"{model}: no such file")
    if suffix == ".toml":
        from nnlab.engine.model.scene import load_scene
        from nnlab.engine.train.training import scene_network

        scene = load_scene(path)
        if activation is not None and activation != scene.network.activation:
            raise UsageError(f"--activation {activation}: the scene {path.name} uses {scene.network.activation}")
        if scene.train.enabled and scene.target.name != "none":
            print(f"training the network of {path.name} ({scene.train.epochs} epochs) ...", file=sys.stderr)
        net = scene_network(scene)
        lo, hi = (np.array(v, dtype=np.float64) for v in scene.domain())
    else:
        loaded = read_model(path, activation)
        if loaded.note:
            print(f"nnlab optimize: note: {loaded.note} (--activation NAME names it)", file=sys.stderr)
        net = loaded.net
        lo, hi = np.zeros(net.input_dim), np.ones(net.input_dim)
    if lower is not None:
        lo = _floats(lower, "lower")
    if upper is not None:
        hi = _floats(upper, "upper")
    n = net.input_dim
    for name, v in (("lower", lo), ("upper", hi)):
        if v.size != n:
            raise UsageError(f"--{name} has {v.size} values but the network has {n} inputs")
    if np.any(lo > hi):
        raise UsageError("--lower must not exceed --upper in any coordinate")
    return net, lo, hi


def methods_for(method: str, net, lower: np.ndarray, upper: np.ndarray, sense: str = "max",
                time_limit: float = 60.0) -> tuple[list[str], list[tuple[str, str]]]:
    """(methods to run, [(method, why skipped)]): one method, or for `all` every registered method whose own
    checks (activation, dimension, size limits: check_method) accept this network and box; exact is counted once
    (as regions or bab)."""
    from nnlab.engine.optimize import METHODS
    from nnlab.engine.optimize.base import check_method
    from nnlab.errors import NnlabError

    if method != "all":
        METHODS.get(method)  # unknown -> NnlabError listing the allowed names
        return [method], []
    run, skipped = [], []
    for e in METHODS:
        if e.name == "exact":
            continue
        try:
            check_method(e.name, net, lower, upper, sense, time_limit)
        except NnlabError as err:
            skipped.append((e.name, str(err)))
            continue
        run.append(e.name)
    return run, skipped


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return str(v)


def run(args: argparse.Namespace) -> int:
    from nnlab.engine.optimize import run_method, run_to_result
    from nnlab.errors import UsageError

    params = _params(args.param)
    if args.method == "all" and params:
        raise UsageError("--param applies to a single --method, not to all")
    net, lo, hi = load_problem(args.model, args.lower, args.upper, args.activation)
    names, skipped = methods_for(args.method, net, lo, hi, args.sense, args.time_limit)
    for name, why in skipped:
        print(f"{name}: skipped ({why})", file=sys.stderr)
    results = []
    for name in names:
        gen = run_method(name, net, lo, hi, args.sense, args.time_limit, args.seed, params)
        res = run_to_result(gen)
        results.append(res)
        if not args.json:
            print(f"{name}: done ({res.status}, {res.seconds:.2f} s)", file=sys.stderr)
    if args.json:
        objs = [{k: r.to_json()[k] for k in JSON_KEYS} for r in results]
        print(json.dumps(objs if args.method == "all" else objs[0], allow_nan=False))  # to_json: null, never NaN
    else:
        header = ("method", "value", "x", "status", "bound", "gap", "seconds")
        rows = []
        for r in results:
            x = "-" if r.x is None else "[" + ", ".join(f"{v:.4g}" for v in r.x[:6]) + (", ...]" if r.x.size > 6 else "]")
            rows.append((r.method, _fmt(r.value), x, r.status, _fmt(r.bound), _fmt(r.gap), f"{r.seconds:.3f}"))
        widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
        print(f"{args.sense}imize over [{', '.join(f'{a:g}' for a in lo)}] x [{', '.join(f'{b:g}' for b in hi)}]"
              if len(lo) <= 4 else f"{args.sense}imize over a {len(lo)}-D box")
        for row in (header, *rows):
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    return 0
