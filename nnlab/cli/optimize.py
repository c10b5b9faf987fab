"""`nnlab optimize`: optimize a network's output over a box, from a model file or a scene (a contract for scripts).

`exact` (the default) is the 2-D region enumeration for 2-input networks and the input branch and bound (`bab`)
otherwise; `milp` is the big-M MILP. milp, regions, sampling and walk need a piecewise-linear network (relu,
leaky_relu), exact and bab a ReLU one; gradient, random, lhs and grid work for every activation. With --json,
stdout is one strict JSON object (a list of them for --method all) with the keys method, sense, value, x, status,
bound, gap, seconds, verified_value, search, work; a number that is not finite is null.
A network with several outputs needs --output K or --objective c0,c1,... . A scene that names a model file
([network] model) optimises the output or objective it chooses (--output/--objective choose another) over its box.
With --vnnlib and neither, the property is decided: the JSON object is {property, verdict, why, counterexample,
constraints, cases, results}.
Errors: one line on stderr, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

JSON_KEYS = ("method", "sense", "value", "x", "status", "bound", "gap", "seconds", "verified_value", "search", "work")
MODEL_SUFFIXES = (".onnx", ".pt", ".pt2", ".npz", ".toml")


def _activation(name: str) -> str:
    """--activation: a registered activation or a derived leaky_relu:SLOPE (argparse turns the error into exit 2)."""
    from nnlab.engine.model import activations
    from nnlab.errors import NnlabError

    try:
        return activations.get(name).name
    except NnlabError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_parser(sub: argparse._SubParsersAction) -> None:
    from nnlab.engine.model.scene import ACTIVATIONS

    p = sub.add_parser("optimize", help="maximise or minimise a network's output over a box",
                       description="Optimize the output of a network (.onnx, .pt state_dict or TorchScript, "
                                   ".pt2 torch.export program, .npz, or a scene .toml) over a box.")
    p.add_argument("--model", required=True,
                   help="FILE.onnx | FILE.pt | FILE.pt2 | FILE.npz | SCENE.toml | a bundled preset's name")
    p.add_argument("--activation", type=_activation, metavar="|".join(ACTIVATIONS) + "|leaky_relu:SLOPE",
                   help="the activation of a model file that records none (a bare state_dict: relu is assumed); "
                        "leaky_relu:0.2 is a leaky ReLU of slope 0.2")
    p.add_argument("--lower", help="comma-separated lower bounds (default: the scene's domain, else 0)")
    p.add_argument("--upper", help="comma-separated upper bounds (default: the scene's domain, else 1)")
    p.add_argument("--sense", choices=("max", "min"), default="max")
    p.add_argument("--method", default="exact", help="exact (default: regions for 2 inputs, else bab), regions, bab, "
                   "milp, sampling, walk, gradient, random, lhs, grid, or all")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds per method (default 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a method parameter, e.g. --param samples=2000 (repeatable)")
    p.add_argument("--output", type=int, metavar="K",
                   help="the output to optimise (0-based), for a network with several outputs")
    p.add_argument("--objective", metavar="C0,C1,...",
                   help="optimise the linear function c0*y0 + c1*y1 + ... of the outputs (e.g. 1,-1,0,0,0)")
    p.add_argument("--logits", action="store_true",
                   help="drop a trailing Softmax/LogSoftmax of an ONNX model and optimise the logits")
    p.add_argument("--vnnlib", metavar="FILE",
                   help="a VNN-LIB property: its box is the input box; without --output/--objective its output "
                        "constraints are decided and the verdict printed (holds, violated or unknown)")
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


def load_problem(model: str, lower: str | None, upper: str | None, activation: str | None = None,
                 output: int | None = None, objective: str | None = None, logits: bool = False,
                 vnnlib: str | None = None):
    """(network snapshot, lower, upper) from a model file or a scene, with the box resolved (see load_network)."""
    net, lo, hi, _, _ = load_network(model, lower, upper, activation, output, objective, logits, vnnlib)
    return net, lo, hi


def load_network(model: str, lower: str | None, upper: str | None, activation: str | None = None,
                 output: int | None = None, objective: str | None = None, logits: bool = False,
                 vnnlib: str | None = None):
    """(snapshot or None, lower, upper, the file's ModelNetwork or None, the VNN-LIB Property or None).

    A model file that records no activation is read as `activation`, else as ReLU with a one-line note on stderr.
    A scene naming a model file is that file's network with the scene's output or objective and box.
    The snapshot is None when a property's output constraints are to be decided (no --output/--objective)."""
    from nnlab.bundled import scene_path
    from nnlab.engine.model.io import read_network
    from nnlab.errors import UsageError

    path = scene_path(model)  # a bundled preset's name ("himmelblau") stands for its scene
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise UsageError(f"{model}: unsupported model file; expected one of {', '.join(MODEL_SUFFIXES)}")
    if not path.is_file():
        raise UsageError(f"{model}: no such file")
    coeffs = None if objective is None else _floats(objective, "objective").tolist()
    full = prop = None
    if suffix == ".toml":
        from nnlab.engine.model.scene import load_scene
        from nnlab.engine.train import cache

        scene = load_scene(path)
        if activation is not None and activation != scene.network.activation:
            raise UsageError(f"--activation {activation}: the scene {path.name} uses {scene.network.activation}")
    if suffix == ".toml" and scene.network.model:
        if logits:
            raise UsageError(f"--logits: the scene {path.name} says itself whether to drop a softmax ([network] logits)")
        full = scene.model_network()
        lo, hi = (np.array(v, dtype=np.float64) for v in scene.domain())
    elif suffix == ".toml":
        if output not in (None, 0) or (coeffs is not None and len(coeffs) != 1):
            raise UsageError(f"{path.name}: a scene's network has one output (--output 0, --objective C)")
        if vnnlib is not None:
            raise UsageError("--vnnlib applies to model files, not scenes")
        net = cache.trained_network(scene, before_training=lambda: print(  # shipped or earlier weights, else train
            f"training the network of {path.name} ({scene.train.epochs} epochs) ...", file=sys.stderr))
        if coeffs is not None:
            from nnlab.engine.model.network import snapshot_from_layers

            layers = net.layers()
            layers[-1] = (layers[-1][0] * coeffs[0], layers[-1][1] * coeffs[0])
            net = snapshot_from_layers(layers, net.activation)
        lo, hi = (np.array(v, dtype=np.float64) for v in scene.domain())
    else:
        full = read_network(path, activation, logits=logits)
        if full.note:
            print(f"nnlab optimize: note: {full.note} (--activation NAME names it)", file=sys.stderr)
        lo, hi = np.zeros(full.input_dim), np.ones(full.input_dim)
    if full is not None:
        decide = vnnlib is not None and output is None and coeffs is None
        if decide:
            net = None
        elif suffix == ".toml" and output is None and coeffs is None:
            net = scene.base_network()  # the scene's own output or objective
        else:
            net = full.snapshot(output, coeffs)
        if vnnlib is not None:
            from nnlab.engine.model.vnnlib import read_vnnlib

            if lower is not None or upper is not None:
                raise UsageError("--vnnlib gives the input box; drop --lower/--upper")
            prop = read_vnnlib(vnnlib, full.input_dim)
            if decide and not prop.constrains_outputs:
                raise UsageError(f"{prop_name(vnnlib)}: the property constrains no output; add --output K or --objective")
            if not decide and len(prop.cases) > 1 and len({(tuple(c.lower), tuple(c.upper)) for c in prop.cases}) > 1:
                raise UsageError(f"{prop_name(vnnlib)}: the property has several input boxes (an 'or' of boxes); "
                                 "--output/--objective optimise over one box: drop them to decide the property")
            lo, hi = prop.lower, prop.upper
    if lower is not None:
        lo = _floats(lower, "lower")
    if upper is not None:
        hi = _floats(upper, "upper")
    n = full.input_dim if full is not None else net.input_dim
    for name, v in (("lower", lo), ("upper", hi)):
        if v.size != n:
            raise UsageError(f"--{name} has {v.size} values but the network has {n} inputs")
    if np.any(lo > hi):
        raise UsageError("--lower must not exceed --upper in any coordinate")
    return net, lo, hi, full, prop


def prop_name(path: str) -> str:
    from pathlib import Path

    return Path(path).name


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
    net, lo, hi, full, prop = load_network(args.model, args.lower, args.upper, args.activation, args.output,
                                           args.objective, args.logits, args.vnnlib)
    if net is None:
        return _decide(args, full, prop, params)
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
        objs = [result_json(r) for r in results]
        print(json.dumps(objs if args.method == "all" else objs[0], allow_nan=False))  # to_json: null, never NaN
    else:
        print(f"{args.sense}imize over [{', '.join(f'{a:g}' for a in lo)}] x [{', '.join(f'{b:g}' for b in hi)}]"
              if len(lo) <= 4 else f"{args.sense}imize over a {len(lo)}-D box")
        _table(results)
    return 0


def result_json(res) -> dict:
    """The --json object of one result (nnlab.optimize returns the same: OptResult.to_json)."""
    obj = res.to_json()
    return {k: obj[k] for k in JSON_KEYS}


def _table(results: list) -> None:
    header = ("method", "value", "x", "status", "bound", "gap", "seconds")
    rows = []
    for r in results:
        x = "-" if r.x is None else "[" + ", ".join(f"{v:.4g}" for v in r.x[:6]) + (", ...]" if r.x.size > 6 else "]")
        rows.append((r.method, _fmt(r.value), x, r.status, _fmt(r.bound), _fmt(r.gap), f"{r.seconds:.3f}"))
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


def _decide(args: argparse.Namespace, full, prop, params: dict) -> int:
    """--vnnlib without --output/--objective: decide the property's output constraints (nnlab.api.decide)."""
    from nnlab.api import decide
    from nnlab.engine.optimize import run_method, run_to_result
    from nnlab.errors import UsageError

    if args.method == "all":
        raise UsageError("--vnnlib decides a property with one --method, not all")
    done = []

    def solve(snap, sense, lower, upper):
        res = run_to_result(run_method(args.method, snap, lower, upper, sense, args.time_limit, args.seed, params))
        done.append(res)
        if not args.json:
            print(f"{args.method}: done ({res.status}, {res.seconds:.2f} s)", file=sys.stderr)
        return res

    out = decide(full, prop, solve)
    name = prop_name(args.vnnlib)
    if args.json:
        print(json.dumps({"property": name, **out}, allow_nan=False))
    else:
        join = " or " if len(out["cases"]) > 1 else " and "
        print(f"property {name}: counterexample constraints {join.join(out['constraints'])}")
        _table(done)
        print(f"{out['verdict']}: {out['why']}")
    return 0
