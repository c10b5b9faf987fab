"""Certified optima in 10 to 100+ dimensions (issue 11): nnlab's ReLU branch and bound (`relu_bab`, alpha-beta-CROWN),
its input branch and bound (`bab`), its big-M MILP on HiGHS (`milp`) and the `exact` dispatcher, side by side in one
run on the same nets, boxes and time limit; max and min.

Nets: 10-100-100-1 Xavier (zero bias), PyTorch default and trained on Styblinski-Tang; 20-50-50-1; 10-50-50-50-1;
100-100-1 (a cell of Tong, Cai & Serra's grid); a 784-50-50-1 net over a small box (a stand-in for the MNIST case:
no data set is downloaded). Boxes [0, 1]^n (Styblinski-Tang: [-5, 5]^n; 784: radius 0.002 around a random point).
Root bounds: nnlab's CROWN (crown.py), alpha-lite (crown.py's output slopes, as bab bounds a box), alpha-CROWN
(alpha_beta.py) and alpha-CROWN with the first layer's input-space hull (relu_bab's root), and the LP bound over the triangle relaxation with LP-tightened intermediate bounds (bounds.py +
bigm.py: the limit of any slope choice, Salman et al. 2019's convex barrier); auto_LiRPA's CROWN / alpha-CROWN and
gurobipy (method "gurobi": the big-M MILP with interval bounds, one thread) are used only when they are installed
(optional; not project dependencies); method "cvxpy" is the same big-M MILP in plain cvxpy, solved by HiGHS. Gurobi's "optimal" is its own MIPGap test, not certify.is_optimal.

Printed per problem and method: status, value, bound, relative gap, seconds, nodes (boxes / nodes / -), then the
certified counts per method and the ratio of each method's final gap to relu_bab's ("c" = certified), then the
anytime table: each method's best proven bound at the --checkpoints (nnlab: its BoundProgress reports; Gurobi: its
MIP callback's dual bound) and at how many checkpoints the first method's bound is at least as tight as each other's. The load
average is printed next to every row (2 shared cores: times are noisy). Work is budgeted by the time limit only.
A method may carry parameters, METHOD:key=value;key=value (e.g. bab:alpha_iters=0, the bab of before alpha-lite):
variants run side by side in one run. Run: .venv/bin/python bench/nd_exact.py [--quick] [--time-limit S]
[--methods relu_bab,bab,milp] [--senses max,min] [--only SUBSTR] [--no-lp-root] [--checkpoints 1,2,5,...]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nnlab.engine.model.network import NetSnapshot, from_torch, initial_snapshot, to_torch  # noqa: E402
from nnlab.engine.model.scene import InitSpec, NetworkSpec  # noqa: E402

from fitting import fit  # noqa: E402  (bench/fitting.py, beside this script)
from nnlab.engine.optimize import run_method  # noqa: E402


def net(n0: int, hidden: tuple[int, ...], scheme: str, seed: int = 1) -> NetSnapshot:
    extra = {"bias": "zero"} if scheme == "xavier_uniform" else {}
    return initial_snapshot(NetworkSpec(n0, hidden), InitSpec(scheme=scheme, seed=seed, **extra))


def styblinski_net(n0: int = 10, steps: int = 1500, seed: int = 0) -> NetSnapshot:
    """A 10-100-100-1 net fitted (Adam, fixed steps: deterministic) to Styblinski-Tang / (40 n) on [-5, 5]^n."""
    import torch

    from nnlab.engine.model.targets import styblinski_tang

    torch.manual_seed(seed)
    model = to_torch(net(n0, (100, 100), "torch_default", seed + 7))
    rng = np.random.default_rng(seed)
    X = rng.uniform(-5, 5, size=(20000, n0))
    Y = torch.tensor(styblinski_tang(X) / (40.0 * n0), dtype=torch.float32)
    X = torch.tensor(X, dtype=torch.float32)
    return from_torch(fit(model, X, Y, steps))


def problems(quick: bool, only: str = "") -> list[tuple[str, NetSnapshot, np.ndarray, np.ndarray]]:
    """The bench problems whose name contains `only` (the others, the trained net too, are not built)."""
    unit = lambda n: (np.zeros(n), np.ones(n))  # noqa: E731
    c = np.random.default_rng(3).uniform(0.2, 0.8, 784)
    make = [("10-100-100-1 xavier-0bias", lambda: (net(10, (100, 100), "xavier_uniform"), *unit(10))),
            ("10-100-100-1 torch-default", lambda: (net(10, (100, 100), "torch_default"), *unit(10))),
            ("20-50-50-1 torch-default", lambda: (net(20, (50, 50), "torch_default"), *unit(20))),
            ("100-100-1 torch-default", lambda: (net(100, (100,), "torch_default"), *unit(100))),
            ("784-50-50-1 small box r=0.002", lambda: (net(784, (50, 50), "torch_default"), c - 0.002, c + 0.002))]
    if not quick:
        make.append(("10-50-50-50-1 torch-default", lambda: (net(10, (50, 50, 50), "torch_default"), *unit(10))))
        make.append(("10-100-100-1 styblinski-tang", lambda: (styblinski_net(), -5 * np.ones(10), 5 * np.ones(10))))
    return [(name, *build()) for name, build in make if only in name]


def lp_root(nt: NetSnapshot, lo: np.ndarray, hi: np.ndarray, time_limit: float = 30.0) -> float:
    """The LP bound of the max: the big-M LP relaxation (= the triangle relaxation) over LP-tightened intermediate
    bounds; 1e-7 relative added for the solver's tolerance (a comparison, not a certificate)."""
    from nnlab.engine.optimize.formulation.bigm import network_model
    from nnlab.engine.optimize.formulation.bounds import lp_bounds

    model = network_model(nt, lo, hi, lp_bounds(nt, lo, hi, time_limit))
    w, b = nt.layers()[-1]
    cols, G, g0 = model.affine(w[0], float(b[0]))
    v = model.optimize_linear(cols, G[0], "max")
    return float("nan") if v is None else v + float(g0[0]) + 1e-7 * (1 + abs(v))


def root_bounds(nt: NetSnapshot, lo: np.ndarray, hi: np.ndarray, lp: bool = True) -> str:
    """Root upper bounds of the max: nnlab CROWN, alpha-lite, alpha-CROWN, the LP bound (and auto_LiRPA's when
    installed)."""
    import torch

    from nnlab.engine.optimize.formulation.alpha_beta import AlphaBetaCrown
    from nnlab.engine.optimize.formulation.crown import Crown

    from nnlab.engine.threads import torch_threads

    t0 = time.perf_counter()
    crown = float(Crown(nt).bounds(lo[None], hi[None]).ub[0])
    t1 = time.perf_counter()
    lite = float(Crown(nt, alpha_iters=50).bounds(lo[None], hi[None]).ub[0])
    t2 = time.perf_counter()
    with torch_threads(1):  # as relu_bab runs it (2 spinning threads on a loaded machine ran far slower)
        ab = AlphaBetaCrown(nt, lo, hi, hull=True)  # hull used only when fitted (fit_hull) or set_hull
        Ls, Us = ab.root(50)
        sp = [torch.zeros_like(L) for L in Ls]
        nb = ab.output(Ls, Us, sp, None, None, 50)
        alpha = float(nb.ub[0])
        t3 = time.perf_counter()
        # + the first layer's input-space hull (Anderson et al. 2020), fitted warm from the slopes as relu_bab's root
        hull = float(ab.output(Ls, Us, sp, nb.alpha, None, 50, fit_hull=True).ub[0])
    t4 = time.perf_counter()
    s = (f"root max bound: CROWN {crown:.5g} ({t1 - t0:.2f} s), alpha-lite {lite:.5g} ({t2 - t1:.2f} s), "
         f"alpha-CROWN {alpha:.7g} ({t3 - t2:.2f} s), + hull {hull:.7g} (+{t4 - t3:.2f} s)")
    t3 = t4
    if lp and nt.input_dim * sum(nt.widths) <= 50_000:
        s += f", LP {lp_root(nt, lo, hi):.5g} ({time.perf_counter() - t3:.2f} s)"
    try:
        import auto_LiRPA  # noqa: F401
    except ImportError:
        return s + "; auto_LiRPA not installed"
    from auto_LiRPA import BoundedModule, BoundedTensor, PerturbationLpNorm

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # auto_LiRPA 0.7's alpha-CROWN makes its buffers in the default dtype
    try:
        model = to_torch(nt).double()
        x = torch.tensor((lo + hi) / 2, dtype=torch.float64)[None]
        bm = BoundedModule(model, x, verbose=0)
        bx = BoundedTensor(x, PerturbationLpNorm(x_L=torch.tensor(lo)[None], x_U=torch.tensor(hi)[None]))
        for m in ("CROWN", "alpha-CROWN"):
            t = time.perf_counter()
            _, ub = bm.compute_bounds(x=(bx,), method=m)
            s += f", auto_LiRPA {m} {float(ub[0, 0]):.7g} ({time.perf_counter() - t:.2f} s)"
    finally:
        torch.set_default_dtype(old)
    return s


class _Res:
    """The fields of an OptResult the table prints (for the Gurobi runner)."""

    def __init__(self, status: str, value: float, bound: float, seconds: float) -> None:
        from nnlab.engine.optimize.base import relative_gap

        self.status, self.value, self.bound, self.seconds = status, value, bound, seconds
        self.gap = relative_gap(value, bound)
        self.extra: dict = {}
        self.trajectory: list[tuple[float, float]] = []  # (seconds, bound) as the solver reported them


def gurobi(nt: NetSnapshot, lo: np.ndarray, hi: np.ndarray, sense: str, tl: float) -> _Res:
    """The big-M MILP (interval bounds) on Gurobi through gurobipy, one thread; value = forward pass at its x."""
    import gurobipy as gp

    from nnlab.engine.optimize.formulation.bounds import interval_bounds

    t0 = time.perf_counter()
    m = gp.Model()
    m.Params.OutputFlag, m.Params.Threads, m.Params.TimeLimit, m.Params.MIPGap = 0, 1, tl, 1e-6
    x = m.addMVar(lo.size, lb=lo, ub=hi)
    h = x
    for (w, b), (L, U) in zip(nt.layers()[:-1], interval_bounds(nt, lo, hi)):
        g = w @ h + b
        hn = m.addMVar(w.shape[0], lb=0.0, ub=np.maximum(U, 0.0))
        z = m.addMVar(w.shape[0], vtype=gp.GRB.BINARY)
        m.addConstr(hn >= g)
        m.addConstr(hn <= g - np.minimum(L, 0.0) * (1 - z))
        m.addConstr(hn <= np.maximum(U, 0.0) * z)
        h = hn
    w, b = nt.layers()[-1]
    m.setObjective((w @ h)[0] + float(b[0]), gp.GRB.MAXIMIZE if sense == "max" else gp.GRB.MINIMIZE)
    traj: list[tuple[float, float]] = []

    def seen(model, where) -> None:  # noqa: ANN001  (Gurobi's callback: its MIP dual bound over time)
        if where == gp.GRB.Callback.MIP:
            traj.append((time.perf_counter() - t0, float(model.cbGet(gp.GRB.Callback.MIP_OBJBND))))

    m.optimize(seen)
    xv = np.clip(np.asarray(x.X), lo, hi) if m.SolCount else None
    value = float(nt.forward(xv)) if xv is not None else float("nan")
    status = "optimal" if m.Status == gp.GRB.OPTIMAL else "time_limit"
    r = _Res(status, value, float(m.ObjBound), time.perf_counter() - t0)
    r.trajectory = traj + [(r.seconds, r.bound)]
    return r


def cvxpy_highs(nt: NetSnapshot, lo: np.ndarray, hi: np.ndarray, sense: str, tl: float) -> _Res:
    """bench/optimize.py's plain_milp (the big-M MILP in plain cvxpy, HiGHS, interval bounds: what a user without
    nnlab's formulation layer would write) at this bench's gap, one thread (method "cvxpy")."""
    from optimize import plain_milp  # bench/optimize.py, beside this script

    status, value, bound, seconds = plain_milp(nt, lo, hi, sense, tl, mip_rel_gap=1e-6, threads=1)
    nan = float("nan")
    r = _Res(status if status != "error" else "time_limit", nan if value is None else value,
             nan if bound is None else bound, seconds)
    r.trajectory = [(seconds, r.bound)]  # cvxpy reports HiGHS's bound only at the end
    return r


def run_nnlab(name: str, params: dict, nt: NetSnapshot, lo: np.ndarray, hi: np.ndarray, sense: str, tl: float):  # noqa: ANN201
    """An nnlab method run to its result, with the (seconds, bound) of every BoundProgress it reported."""
    from nnlab.engine.jobs import drain
    from nnlab.engine.optimize.base import BoundProgress

    traj: list[tuple[float, float]] = []

    def on(ev) -> None:  # noqa: ANN001
        if isinstance(ev, BoundProgress) and ev.bound is not None:
            traj.append((ev.seconds, ev.bound))

    r = drain(run_method(name, nt, lo, hi, sense, tl, 0, params), on)
    if r.bound is not None:
        traj.append((r.seconds, r.bound))
    return r, traj


def bound_at(traj: list[tuple[float, float]], t: float, sense: str) -> float | None:
    """The tightest bound a run had proved by `t` seconds (None: none yet)."""
    got = [b for s, b in traj if s <= t and np.isfinite(b)]
    if not got:
        return None
    return min(got) if sense == "max" else max(got)


def parse_method(spec: str) -> tuple[str, dict]:
    """"bab:alpha_iters=0;warm_start=false" -> ("bab", {"alpha_iters": 0, "warm_start": False}) (numbers and
    true/false parsed, else strings)."""
    name, _, rest = spec.partition(":")
    params: dict = {}
    for kv in filter(None, rest.split(";")):
        k, _, v = kv.partition("=")
        if v in ("true", "false"):
            params[k] = v == "true"
            continue
        try:
            params[k] = int(v)
        except ValueError:
            try:
                params[k] = float(v)
            except ValueError:
                params[k] = v
    return name, params


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-limit", type=float, default=None, help="per method and problem (s); 60, --quick 10")
    ap.add_argument("--quick", action="store_true", help="fewer nets, 10 s")
    ap.add_argument("--methods", default="relu_bab,bab,milp", help="comma-separated nnlab methods (exact too)")
    ap.add_argument("--senses", default="max,min")
    ap.add_argument("--only", default="", help="run only problems whose name contains this")
    ap.add_argument("--no-lp-root", action="store_true", help="skip the LP root bound")
    ap.add_argument("--checkpoints", default="1,2,5,10,20,30,60",
                    help="seconds at which every method's bound so far is printed and compared (anytime)")
    a = ap.parse_args(argv)
    tl = a.time_limit if a.time_limit is not None else (10.0 if a.quick else 60.0)
    methods = [m for m in a.methods.split(",") if m]
    import torch

    torch.zeros(1)  # the import is not part of any measurement
    print(f"nd_exact: time limit {tl:g} s per method and problem; {os.cpu_count()} cores")
    rows = []
    checks = [float(c) for c in a.checkpoints.split(",") if c and float(c) <= tl]
    anytime: dict = {}  # (problem, sense, method) -> bound so far at each checkpoint
    for name, nt, lo, hi in problems(a.quick, a.only):
        print(f"\n{name}  [{root_bounds(nt, lo, hi, not a.no_lp_root)}]  load {os.getloadavg()[0]:.1f}",
              flush=True)
        for sense in a.senses.split(","):
            for m in methods:
                traj: list = []
                if m == "cvxpy":
                    r = cvxpy_highs(nt, lo, hi, sense, tl)
                    traj = r.trajectory
                elif m == "gurobi":
                    try:
                        r = gurobi(nt, lo, hi, sense, tl)
                        traj = r.trajectory
                    except ImportError:
                        print("  gurobi: gurobipy not installed")
                        continue
                    except Exception as e:  # e.g. the pip licence's size limit
                        print(f"  gurobi: {type(e).__name__}: {e}")
                        continue
                else:
                    name_, params = parse_method(m)
                    r, traj = run_nnlab(name_, params, nt, lo, hi, sense, tl)
                nodes = r.extra.get("nodes", r.extra.get("boxes", "-"))
                via = f" via {r.extra['via']}" if "via" in r.extra else ""
                cert = r.status == "optimal"
                rows.append((name, sense, m, cert, r.gap, r.seconds))
                # at the time limit: the final bound (a run reports it a little after the limit)
                anytime[(name, sense, m)] = [(bound_at(traj, c if c < tl else np.inf, sense),
                                              cert and (r.seconds <= c or c >= tl)) for c in checks]
                g = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731  (a heuristic has no bound)
                print(f"  {sense:3s} {m + via:24s} {r.status:10s} value {r.value:.7g}  bound {g(r.bound, '.7g')}  "
                      f"gap {g(r.gap, '.3g')}  {r.seconds:6.1f} s  nodes {nodes}  load {os.getloadavg()[0]:.1f}",
                      flush=True)
    print("\ncertified (gap <= 1e-6) per method:")
    for m in methods:
        got = [r for r in rows if r[2] == m]
        print(f"  {m:24s} {sum(r[3] for r in got)} / {len(got)}")
    if len(methods) > 1:
        first = methods[0]
        print(f"final gap of each method / {first}'s (> 1: {first} tighter; 'c': certified):")
        ref = {(r[0], r[1]): r for r in rows if r[2] == first}
        for r in rows:
            if r[2] == first:
                continue
            b = ref.get((r[0], r[1]))
            if b is None:
                continue
            ratio = "c/c" if r[3] and b[3] else ("-" if b[4] in (None, 0) or r[4] is None else f"{r[4] / b[4]:.3g}")
            print(f"  {r[0]:32s} {r[1]:3s} {r[2]:24s} {ratio}")
    if len(methods) > 1 and checks:
        first = methods[0]
        print(f"\nanytime: bound so far at {', '.join(f'{c:g}' for c in checks)} s ('-': none yet); "
              f"{first} at least as tight as each other method at how many checkpoints:")
        fmt = lambda v: "-" if v is None else f"{v:.4g}"  # noqa: E731
        for (pname, sense, m), bs in anytime.items():
            cells = " ".join(f"{fmt(b) + ('c' if c else ' '):>10s}" for b, c in bs)
            print(f"  {pname:32s} {sense:3s} {m:24s} {cells}")
        print("  (c: certified by then, gap <= 1e-6; two certified bounds count as a tie: each is within the gap)")
        for m in methods[1:]:
            ok = total = ties = 0
            for (pname, sense, mm), bs in anytime.items():
                if mm != m or (pname, sense, first) not in anytime:
                    continue
                for (mine, mc), (theirs, tc) in zip(anytime[(pname, sense, first)], bs):
                    if theirs is None:
                        continue  # the other has no bound yet: nothing to compare
                    total += 1
                    if mc and tc:
                        ties += 1
                    ok += (mc and tc) or (mine is not None and (mine <= theirs if sense == "max" else mine >= theirs))
            print(f"  {first} vs {m}: at least as tight at {ok} of {total} checkpoints ({ties} with both certified)")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
