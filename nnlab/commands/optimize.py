"""`nnlab optimize`: optimize a ReLU network's output over a box, from a model file or a scene (a contract for scripts).

`exact` (the default) is the 2-D region enumeration for 2-input networks and the input branch and bound (`bab`)
otherwise; `milp` is the big-M MILP. With --json, stdout is one JSON object (a list of them for --method all) with the keys
method, sense, value, x, status, bound, gap, seconds, verified_value. Errors: one line on stderr, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

JSON_KEYS = ("method", "sense", "value", "x", "status", "bound", "gap", "seconds", "verified_value")
MODEL_SUFFIXES = (".onnx", ".pt", ".npz", ".toml")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("optimize", help="maximise or minimise a ReLU network's output over a box",
                       description="Optimize the output of a ReLU network (.onnx, .pt, .npz, or a scene .toml) over a box.")
    p.add_argument("--model", required=True, help="FILE.onnx | FILE.pt | FILE.npz | SCENE.toml")
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
    try:
        vals = np.array([float(v) for v in text.split(",")], dtype=np.float64)
    except ValueError:
        raise ValueError(f"--{what} {text!r} is not a comma-separated list of numbers") from None
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"--{what} {text!r} must be finite numbers")
    return vals


def _params(items: list[str]) -> dict:
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param {item!r} is not KEY=VALUE")
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


def load_problem(model: str, lower: str | None, upper: str | None):
    """(network snapshot, lower, upper) from a model file or a scene, with the box resolved."""
    from nnlab.engine.io import load_model

    path = Path(model)
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ValueError(f"{model}: unsupported model file; expected one of {', '.join(MODEL_SUFFIXES)}")
    if not path.is_file():
        raise ValueError(f"{model}: no such file")
    if suffix == ".toml":
        from nnlab.engine.scene import load_scene
        from nnlab.engine.train import scene_network

        scene = load_scene(path)
        if scene.train.enabled and scene.target.name != "none":
            print(f"training the network of {path.name} ({scene.train.epochs} epochs) ...", file=sys.stderr)
        net = scene_network(scene)
        lo, hi = (np.array(v, dtype=np.float64) for v in scene.domain())
    else:
        net = load_model(path)
        lo, hi = np.zeros(net.input_dim), np.ones(net.input_dim)
    if lower is not None:
        lo = _floats(lower, "lower")
    if upper is not None:
        hi = _floats(upper, "upper")
    n = net.input_dim
    for name, v in (("lower", lo), ("upper", hi)):
        if v.size != n:
            raise ValueError(f"--{name} has {v.size} values but the network has {n} inputs")
    if np.any(lo > hi):
        raise ValueError("--lower must not exceed --upper in any coordinate")
    if net.activation != "relu":
        raise ValueError(f"{model}: optimizers need a ReLU network, this one uses {net.activation}")
    return net, lo, hi


def methods_for(method: str, input_dim: int) -> list[str]:
    """The methods to run: one, or for `all` every registered method that applies (exact counted once)."""
    from nnlab.engine.optimize import METHODS

    if method != "all":
        METHODS.get(method)  # unknown -> ValueError listing the allowed names
        return [method]
    out = []
    for e in METHODS:
        if e.name == "exact":
            continue
        if "2d" in e.flags and input_dim != 2 and e.name != "grid":
            continue
        if e.name == "grid" and input_dim > 3:
            continue
        out.append(e.name)
    return out


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return str(v)


def run(args: argparse.Namespace) -> int:
    from nnlab.engine.optimize import run_method, run_to_result

    net, lo, hi = load_problem(args.model, args.lower, args.upper)
    params = _params(args.param)
    names = methods_for(args.method, net.input_dim)
    if args.method == "all" and params:
        raise ValueError("--param applies to a single --method, not to all")
    results = []
    for name in names:
        gen = run_method(name, net, lo, hi, args.sense, args.time_limit, args.seed, params)
        res = run_to_result(gen)
        results.append(res)
        if not args.json:
            print(f"{name}: done ({res.status}, {res.seconds:.2f} s)", file=sys.stderr)
    if args.json:
        objs = [{k: r.to_json()[k] for k in JSON_KEYS} for r in results]
        print(json.dumps(objs if args.method == "all" else objs[0]))
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
