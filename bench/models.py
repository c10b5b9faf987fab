"""Real-model layouts in, and decided: which files nnlab (and OMLT) read, and certified properties on ACAS Xu-shaped
networks, a small CNN and an MNIST-shaped net, nnlab's branch and bound against nnlab's big-M MILP and OMLT's big-M
formulation solved by HiGHS (when omlt and pyomo are installed), side by side in one run, same time limit each.

This machine reaches package registries only, so the VNN-COMP and OMLT files are not fetched: the nets are built
here in their layouts (ACAS Xu: input (1,1,1,5), Sub/Div normalisation, Flatten, MatMul + Add, six hidden layers
of 50, 5 outputs, weights listed as graph inputs (IR 3); OMLT's gemm.onnx: 784-input Gemm net with a trailing
LogSoftmax; keras_linear_131_sigmoid: MatMul + Add with Sigmoid; convx1_gemmx1: Conv, Relu, Flatten, Gemm), with
seeded PyTorch-default weights. Properties follow ACAS Xu's property 1 box (normalised inputs) with a threshold 5 %
of the sampled output range above the best of 20,000 samples ("is Y_0 ever that high?"), and property 2's form
("is Y_0 ever the largest output?": a conjunction of four comparisons). OMLT reads neither Sub/Div nor several
outputs, so it is given nnlab's folded single-objective net as a Gemm chain (its own input format).
Gurobi through gurobi-ml (its add_predictor_constr of the net as a torch Sequential, ReLU as Gurobi's max general
constraint, one thread) is used when gurobipy and gurobi-machinelearning are installed; they are not project
dependencies (pip's gurobipy carries a size-limited licence: 2000 variables and constraints, enough for these nets).
A Gurobi "violated" is checked by a forward pass of nnlab's net at Gurobi's point.

Counted work: every method gets the same time limit per output constraint (a property of four constraints may
take four); a verdict "holds" is a certified bound, "violated" a point
whose forward pass meets the property, "unknown" neither. The load average is printed (shared cores).
Run: .venv/bin/python bench/models.py [--time-limit S] [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import nnlab  # noqa: E402
from nnlab.errors import NnlabError  # noqa: E402

RNG_SEEDS = (1, 2, 3)
PROP1_BOX = [(0.6, 0.679857769), (-0.5, 0.5), (-0.5, 0.5), (0.45, 0.5), (-0.5, -0.45)]


def _layers(sizes: list[int], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """PyTorch-default (uniform +-1/sqrt(fan_in)) weights, float32, in ONNX MatMul layout (in, out)."""
    rng = np.random.default_rng(seed)
    out = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        s = 1 / np.sqrt(a)
        out.append((rng.uniform(-s, s, (a, b)).astype(np.float32), rng.uniform(-s, s, b).astype(np.float32)))
    return out


def _save(path: Path, nodes, inits: dict, in_shape, out_shape, opset: int, inputs_too: bool = False) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    tensors = [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)]
    if inputs_too:
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in tensors]
    graph = helper.make_graph(nodes, "net", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              tensors)
    ops = [helper.make_opsetid("", opset)]
    onnx.save(helper.make_model(graph, opset_imports=ops, ir_version=helper.find_min_ir_version_for(ops)), str(path))
    return path


def _dense_nodes(layers, cur: str, act: str, final: str) -> tuple[list, dict]:
    from onnx import helper

    nodes, inits = [], {}
    for k, (w, b) in enumerate(layers):
        last = k == len(layers) - 1
        inits[f"W{k}"], inits[f"b{k}"] = w, b
        nodes += [helper.make_node("MatMul", [cur, f"W{k}"], [f"m{k}"]),
                  helper.make_node("Add", [f"m{k}", f"b{k}"], [final if last else f"a{k}"])]
        if not last:
            nodes.append(helper.make_node(act, [f"a{k}"], [f"h{k}"]))
            cur = f"h{k}"
    return nodes, inits


def acas_like(path: Path, seed: int) -> Path:
    from onnx import helper

    inits = {"mean": np.array([[[[0.05, 0.0, 0.0, 0.02, -0.02]]]], np.float32),
             "range": np.array([[[[1.1, 0.9, 1.0, 1.05, 0.95]]]], np.float32)}
    pre = [helper.make_node("Sub", ["x", "mean"], ["s"]), helper.make_node("Div", ["s", "range"], ["d"]),
           helper.make_node("Flatten", ["d"], ["f"])]
    nodes, w = _dense_nodes(_layers([5, *[50] * 6, 5], seed), "f", "Relu", "y")
    return _save(path, pre + nodes, {**inits, **w}, [1, 1, 1, 5], [1, 5], opset=8, inputs_too=True)


def mnist_like(path: Path, seed: int) -> Path:
    from onnx import helper

    nodes, w = _dense_nodes(_layers([784, 32, 10], seed), "x", "Relu", "z")
    return _save(path, nodes + [helper.make_node("LogSoftmax", ["z"], ["y"], axis=1)], w, ["N", 784], ["N", 10], 13)


def sigmoid_like(path: Path, seed: int) -> Path:
    nodes, w = _dense_nodes(_layers([4, 16, 16, 1], seed), "x", "Sigmoid", "y")
    return _save(path, nodes, w, ["N", 4], ["N", 1], 13)


def cnn_like(path: Path, seed: int) -> Path:
    from onnx import helper

    rng = np.random.default_rng(seed)
    inits = {"K": rng.uniform(-1 / 3, 1 / 3, (2, 1, 3, 3)).astype(np.float32), "B": np.zeros(2, np.float32),
             "W": rng.uniform(-0.2, 0.2, (2, 2 * 6 * 6)).astype(np.float32), "b": np.zeros(2, np.float32)}
    nodes = [helper.make_node("Conv", ["x", "K", "B"], ["c"]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]), helper.make_node("Gemm", ["f", "W", "b"], ["y"], transB=1)]
    return _save(path, nodes, inits, ["N", 1, 8, 8], ["N", 2], 13)


def write_property(path: Path, box, n_out: int, asserts: list[str]) -> Path:
    lines = [*(f"(declare-const X_{i} Real)" for i in range(len(box))), *(f"(declare-const Y_{j} Real)" for j in range(n_out))]
    for i, (lo, hi) in enumerate(box):
        lines += [f"(assert (>= X_{i} {float(lo)!r}))", f"(assert (<= X_{i} {float(hi)!r}))"]
    path.write_text("\n".join(lines + asserts) + "\n")
    return path


# --- baselines ---------------------------------------------------------------------------------------------------

def omlt_available() -> bool:
    try:
        import omlt  # noqa: F401
        import pyomo.environ  # noqa: F401
    except ImportError:
        return False
    return True


def omlt_solve(snap, lower, upper, sense: str, time_limit: float) -> tuple[float | None, float | None, None]:
    """OMLT's ReluBigMFormulation of the snapshot (written as a Gemm chain), solved by HiGHS through pyomo:
    (proven bound, best value found, no point)."""
    import onnx
    import pyomo.environ as pyo
    from omlt import OmltBlock
    from omlt.io.onnx import load_onnx_neural_network
    from omlt.neuralnet import ReluBigMFormulation
    from onnx import helper

    from nnlab.engine.model.onnx_write import onnx_bytes

    model = onnx.load_from_string(onnx_bytes(snap))
    for i, n in enumerate(model.graph.node):  # OMLT's parser wants named nodes and every Gemm attribute spelled out
        n.name = n.name or f"node{i}"
        if n.op_type == "Gemm":
            del n.attribute[:]
            n.attribute.extend(helper.make_attribute(k, v) for k, v in
                               {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 1}.items())
    t0 = time.perf_counter()
    defn = load_onnx_neural_network(model, input_bounds={i: (float(a), float(b)) for i, (a, b) in enumerate(zip(lower, upper))})
    m = pyo.ConcreteModel()
    m.nn = OmltBlock()
    m.nn.build_formulation(ReluBigMFormulation(defn))
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize if sense == "max" else pyo.minimize)
    solver = pyo.SolverFactory("appsi_highs")
    res = solver.solve(m, load_solutions=False, timelimit=max(time_limit - (time.perf_counter() - t0), 1.0))
    if os.environ.get("NNLAB_BENCH_DEBUG"):
        print(res.solver.termination_condition, res.problem.upper_bound, res.problem.lower_bound)
    bound, best = ((res.problem.upper_bound, res.problem.lower_bound) if sense == "max" else
                   (res.problem.lower_bound, res.problem.upper_bound))
    finite = lambda v: float(v) if v is not None and np.isfinite(float(v)) else None  # noqa: E731
    return finite(bound), finite(best), None


def gurobi_solve(snap, lower, upper, sense: str, time_limit: float) -> tuple[float | None, float | None, np.ndarray | None]:
    """gurobi-ml's formulation of the snapshot (a float64 torch Sequential), one thread:
    (proven bound, best value found, its point)."""
    import gurobipy as gp
    from gurobi_ml import add_predictor_constr

    from nnlab.engine.model.network import to_torch

    m = gp.Model()
    m.Params.OutputFlag = 0
    m.Params.Threads = 1
    m.Params.TimeLimit = max(time_limit, 1.0)
    x = m.addMVar(len(lower), lb=np.asarray(lower, float), ub=np.asarray(upper, float))
    y = m.addMVar(1, lb=-gp.GRB.INFINITY)
    add_predictor_constr(m, to_torch(snap, dtype=__import__("torch").float64), x, y)
    m.setObjective(y.sum(), gp.GRB.MAXIMIZE if sense == "max" else gp.GRB.MINIMIZE)
    m.optimize()
    finite = lambda v: float(v) if np.isfinite(float(v)) else None  # noqa: E731
    bound = finite(m.ObjBound) if m.Status in (gp.GRB.OPTIMAL, gp.GRB.TIME_LIMIT) else None
    point = np.array(x.X, dtype=float) if m.SolCount else None
    return bound, (finite(m.ObjVal) if m.SolCount else None), point


SOLVERS = {"omlt": omlt_solve, "gurobi": gurobi_solve}


# --- the run -----------------------------------------------------------------------------------------------------

def reading(tmp: Path) -> None:
    print("\nwhich files are read (nnlab | OMLT's ONNX parser)")
    files = {"ACAS Xu layout (Sub/Div, Flatten, MatMul+Add, 5 outputs, IR 3)": acas_like(tmp / "acas.onnx", 1),
             "OMLT gemm.onnx layout (784 inputs, LogSoftmax)": mnist_like(tmp / "mnist.onnx", 1),
             "keras sigmoid layout (MatMul+Add, Sigmoid)": sigmoid_like(tmp / "sig.onnx", 1),
             "convx1_gemmx1 layout (Conv, Relu, Flatten, Gemm)": cnn_like(tmp / "cnn.onnx", 1)}
    for label, path in files.items():
        try:
            try:
                net, how = nnlab.load_network(path), "read"
            except NnlabError as e:
                if "pass --logits" not in str(e):
                    raise
                net, how = nnlab.load_network(path, logits=True), "read with --logits"
            ours = f"{how}: {net.input_dim} inputs, {net.n_outputs} outputs, {net.activation}"
        except NnlabError as e:
            ours = f"refused ({str(e).split(': ', 1)[1][:60]})"
        theirs = "-"
        if omlt_available():
            import onnx
            from omlt.io.onnx import load_onnx_neural_network

            try:
                load_onnx_neural_network(onnx.load(str(path)))
                theirs = "read"
            except Exception as e:  # OMLT's parser raises many kinds
                theirs = f"refused ({type(e).__name__}: {str(e)[:40]})"
        print(f"  {label:64s} {ours:58s} | {theirs}")


def solver_verdict(solve, net, prop, time_limit: float) -> str:
    """A baseline solver's verdict, constraint by constraint as nnlab's: "holds" when a proven bound puts one
    constraint out of reach, "violated" when the solver's point passes every constraint by nnlab's forward pass
    (OMLT gives no point here: its own incumbent decides a one-constraint property)."""
    for con in prop.constraints:
        bound, best, point = solve(net.snapshot(objective=con.c), prop.lower, prop.upper, con.sense, time_limit)
        if con.unreachable(bound):
            return "holds"
        if point is not None and all(c.met(net.forward(point[None])[0]) for c in prop.constraints):
            return "violated"
        if point is None and len(prop.constraints) == 1 and best is not None and not con.unreachable(best):
            return "violated"
    return "unknown"


def decide_row(label: str, net, prop_path: Path, time_limit: float, methods: list[str]) -> dict:
    from nnlab.engine.model.vnnlib import read_vnnlib

    prop = read_vnnlib(prop_path, net.input_dim)
    row = {}
    for method in methods:
        t0 = time.perf_counter()
        if method in SOLVERS:
            verdict = solver_verdict(SOLVERS[method], net, prop, time_limit)
        else:
            verdict = nnlab.check_property(net, prop_path, method=method, time_limit=time_limit)["verdict"]
        row[method] = (verdict, time.perf_counter() - t0)
    cells = "  ".join(f"{m}: {v:8s} {s:6.2f} s" for m, (v, s) in row.items())
    print(f"  {label:34s} {cells}")
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-limit", type=float, default=20.0, help="per method and property (s)")
    ap.add_argument("--quick", action="store_true", help="one ACAS-shaped net instead of three")
    a = ap.parse_args(argv)
    import torch

    torch.zeros(1)  # imports are not part of any measurement
    import logging

    logging.getLogger("pyomo").setLevel(logging.ERROR)  # pyomo's notes on initial values outside the box
    have_omlt = omlt_available()
    print(f"models: time limit {a.time_limit:g} s per method and property; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores; OMLT + HiGHS: {'yes' if have_omlt else 'not installed'}; gurobi-ml: "
          f"{'yes' if _has('gurobi_ml') and _has('gurobipy') else 'not installed'}")
    methods = ["bab", "milp", *(["omlt"] if have_omlt else []),
               *(["gurobi"] if _has("gurobi_ml") and _has("gurobipy") else [])]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        reading(tmp)
        print("\nproperties (verdict, seconds)")
        totals: dict[str, list] = {m: [] for m in methods}
        for seed in RNG_SEEDS[:1 if a.quick else 3]:
            net = nnlab.load_network(acas_like(tmp / f"acas{seed}.onnx", seed))
            pts = np.random.default_rng(seed).uniform([lo for lo, _ in PROP1_BOX], [hi for _, hi in PROP1_BOX], (20000, 5))
            y0 = net.forward(pts)[:, 0]
            t = float(y0.max() + 0.05 * (y0.max() - y0.min()))
            p1 = write_property(tmp / f"p1_{seed}.vnnlib", PROP1_BOX, 5, [f"(assert (>= Y_0 {t!r}))"])
            p2 = write_property(tmp / f"p2_{seed}.vnnlib", PROP1_BOX, 5, [f"(assert (<= Y_{j} Y_0))" for j in range(1, 5)])
            for label, prop in ((f"ACAS-shaped seed {seed}, property 1", p1), (f"ACAS-shaped seed {seed}, property 2", p2)):
                for m, v in decide_row(label, net, prop, a.time_limit, methods).items():
                    totals[m].append(v)
        cnn = nnlab.load_network(cnn_like(tmp / "cnn.onnx", 1))
        x0 = np.random.default_rng(5).uniform(0, 1, 64)
        box = list(zip(np.clip(x0 - 0.05, 0, 1), np.clip(x0 + 0.05, 0, 1)))
        p3 = write_property(tmp / "cnn.vnnlib", box, 2, ["(assert (>= Y_1 Y_0))"])
        for m, v in decide_row("CNN 1x8x8 (Conv lowered), eps 0.05", cnn, p3, a.time_limit, methods).items():
            totals[m].append(v)
        mnist = nnlab.load_network(mnist_like(tmp / "mnist.onnx", 1), logits=True)
        x0 = np.random.default_rng(6).uniform(0, 1, 784)
        box = list(zip(np.clip(x0 - 0.01, 0, 1), np.clip(x0 + 0.01, 0, 1)))
        p4 = write_property(tmp / "mnist.vnnlib", box, 10, ["(assert (>= Y_1 Y_0))"])
        for m, v in decide_row("MNIST-shaped 784-32-10, eps 0.01", mnist, p4, a.time_limit, methods).items():
            totals[m].append(v)
    print("\ndecided (holds or violated) / problems, total seconds")
    base = sum(s for _, s in totals["bab"])
    for m, rows in totals.items():
        n_dec = sum(v != "unknown" for v, _ in rows)
        secs = sum(s for _, s in rows)
        ratio = "" if m == "bab" else f"  ({secs / base:.1f}x bab's time)"
        print(f"  {m:6s} {n_dec}/{len(rows)}  {secs:7.2f} s{ratio}")
    return 0


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    raise SystemExit(main())
