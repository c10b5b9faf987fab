"""Heuristic optimizers (sampling, relax-and-walk, gradient, random, lhs, grid) on hand-made networks."""
import gc
import threading
import time
import weakref

import numpy as np
import pytest

from nnlab.engine.model.network import NetSnapshot, initial_snapshot, snapshot_from_layers
from nnlab.engine.optimize import METHODS, run_method, run_to_result
from nnlab.engine.optimize.base import BoundProgress, Incumbent, PointsVisited, WalkPath, check_box
from nnlab.engine.optimize.formulation.regionlp import RegionLP
from nnlab.engine.optimize.heuristics.walk import walk_steps
from nnlab.engine.model.scene import InitSpec, NetworkSpec
from nnlab.errors import LimitError, NnlabError

HEURISTICS = ["sampling", "walk", "gradient", "random", "lhs", "grid"]
FAST = {"sampling": {"samples": 200}, "random": {"samples": 2000}, "lhs": {"samples": 2000},
        "gradient": {"starts": 64, "steps": 150}, "walk": {"restarts": 3}, "grid": {"resolution": 101}}


def bump_net():
    """1 - |x1 - 0.3| - |x2 - 0.6|: max 1 at (0.3, 0.6); on [0,1]^2 min -0.3 at (1, 0)."""
    W1 = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    b1 = np.array([-0.3, 0.3, -0.6, 0.6])
    return snapshot_from_layers([(W1, b1), (-np.ones((1, 4)), np.array([1.0]))])


def linear_net():
    """2 x1 - 3 x2 + 0.5 on [-1,1]^2 through always-active ReLUs: max 5.5 at (1,-1), min -4.5 at (-1,1)."""
    W1, b1 = np.eye(2), np.array([10.0, 10.0])
    return snapshot_from_layers([(W1, b1), (np.array([[2.0, -3.0]]), np.array([0.5 - 20.0 + 30.0]))])


def random_net(seed, n0=2, hidden=(8, 8)):
    return initial_snapshot(NetworkSpec(input_dim=n0, hidden=hidden), InitSpec(scheme="torch_default", seed=seed))


def run(method, net, lo, hi, sense="max", time_limit=30.0, seed=0, **params):
    p = {**FAST.get(method, {}), **params}
    return run_to_result(run_method(method, net, lo, hi, sense, time_limit, seed, p))


def events(method, net, lo, hi, sense="max", time_limit=30.0, seed=0, **params):
    gen = run_method(method, net, lo, hi, sense, time_limit, seed, {**FAST.get(method, {}), **params})
    out = []
    while True:
        try:
            out.append(next(gen))
        except StopIteration as stop:
            return out, stop.value


def test_every_heuristic_is_registered_with_flags():
    for name in HEURISTICS:
        assert "heuristic" in METHODS.get(name).flags
        assert "any_dim" in METHODS.get(name).flags and "2d" not in METHODS.get(name).flags
    assert set(METHODS.names("any_activation")) == {"gradient", "random", "lhs", "grid"}


@pytest.mark.parametrize("n0,res", [(1, 1001), (3, 21), (4, 9)])
def test_grid_runs_in_any_dimension(n0, res):
    net = random_net(3, n0=n0, hidden=(6, 6))
    lo, hi = -np.ones(n0), np.linspace(0.5, 2.0, n0)
    mesh = np.meshgrid(*[np.linspace(lo[i], hi[i], res) for i in range(n0)], indexing="ij")
    vals = net.forward(np.stack([m.ravel() for m in mesh], axis=1))
    for sense, pick in (("max", np.max), ("min", np.min)):
        res_ = run("grid", net, lo, hi, sense, resolution=res)
        assert res_.extra["points"] == res ** n0
        assert res_.value == pytest.approx(float(pick(vals)), abs=1e-12)


def test_grid_limit_is_checked_before_any_work():
    net = random_net(1, n0=10, hidden=(4,))
    with pytest.raises(LimitError, match=r"a grid of 501\^10 = .* points exceeds max_points 4000000"):
        run_method("grid", net, np.zeros(10), np.ones(10))  # raised by the call itself, not at the first step
    assert run("grid", net, np.zeros(10), np.ones(10), resolution=3).extra["points"] == 3 ** 10


SMOOTH = ["tanh", "sigmoid", "silu"]


def act_net(act, seed, n0=2, hidden=(8, 8)):
    return initial_snapshot(NetworkSpec(input_dim=n0, hidden=hidden, activation=act),
                            InitSpec(scheme="torch_default", seed=seed))


@pytest.mark.parametrize("act", [*SMOOTH, "leaky_relu"])
@pytest.mark.parametrize("method", ["gradient", "random", "lhs", "grid"])
def test_forward_and_gradient_methods_work_for_every_activation(method, act):
    net = act_net(act, 2)
    lo, hi = -2 * np.ones(2), 2 * np.ones(2)
    res_grid = 301
    mesh = np.meshgrid(*[np.linspace(lo[i], hi[i], res_grid) for i in range(2)], indexing="ij")
    gv = net.forward(np.stack([m.ravel() for m in mesh], axis=1))
    # every activation here is at most 1.1-Lipschitz (silu: 1.0998), so the net is at most L-Lipschitz
    L = float(np.prod([1.1 * np.linalg.norm(w, 2) for w in net.weights]))
    slack = L * np.linalg.norm((hi - lo) / (res_grid - 1) / 2)
    for sense in ("max", "min"):
        evs, res = events(method, net, lo, hi, sense)
        assert np.all(res.x >= lo) and np.all(res.x <= hi)
        incs = [e for e in evs if isinstance(e, Incumbent)]
        assert incs and incs[-1].value == pytest.approx(res.value, rel=1e-12, abs=1e-15)
        for e in incs:  # every value reported is the true (activation's) forward pass
            assert e.value == pytest.approx(float(net.forward(e.x)), rel=1e-6, abs=1e-9)
        if sense == "max":
            assert gv.max() - slack <= res.value <= gv.max() + slack or method in ("random", "lhs")
            assert res.value <= gv.max() + slack
        else:
            assert gv.min() - slack <= res.value <= gv.min() + slack or method in ("random", "lhs")
            assert res.value >= gv.min() - slack


@pytest.mark.parametrize("act", SMOOTH)
@pytest.mark.parametrize("seed", [0, 1, 5])
def test_gradient_follows_the_true_derivative_of_smooth_activations(act, seed):
    """A smooth net's local optimum has zero partial derivatives in its free coordinates (landscape's exact
    derivatives are the check); with the ReLU derivative the ascent would stop elsewhere."""
    from nnlab.engine.analysis.landscape import value_and_grad

    net = act_net(act, seed)
    lo, hi = -2 * np.ones(2), 2 * np.ones(2)
    for sense in ("max", "min"):
        res = run("gradient", net, lo, hi, sense)
        grid = run("grid", net, lo, hi, sense, resolution=301)
        assert (res.value >= grid.value - 1e-9) if sense == "max" else (res.value <= grid.value + 1e-9)
        _, d = value_and_grad(net, res.x[None])
        free = (res.x > lo + 1e-6) & (res.x < hi - 1e-6)
        assert np.all(np.abs(d[0][free]) <= 1e-4)


@pytest.mark.parametrize("method", [e.name for e in METHODS if "any_activation" not in e.flags])
def test_relu_only_methods_refuse_other_activations_before_starting(method):
    net = act_net("tanh", 0)
    need = "a piecewise-linear network" if "piecewise_linear" in METHODS.get(method).flags else "a ReLU network"
    with pytest.raises(NnlabError, match=f"method '{method}' needs {need}.*, this one uses tanh"):
        run_method(method, net, np.zeros(2), np.ones(2))


def test_piecewise_linear_flag_is_what_the_methods_accept():
    """The flag is truthful: every piecewise_linear method runs on a leaky_relu net, ReLU-only ones refuse it."""
    assert {"milp", "regions", "sampling", "walk"} <= set(METHODS.names("piecewise_linear"))
    net = act_net("leaky_relu", 3)
    for e in METHODS:
        if "any_activation" in e.flags:
            continue
        if "piecewise_linear" in e.flags:
            res = run_to_result(run_method(e.name, net, np.zeros(2), np.ones(2), time_limit=30))
            assert res.status in ("optimal", "feasible") and res.value == pytest.approx(float(net.forward(res.x)))
        else:
            with pytest.raises(NnlabError, match="needs a ReLU network, this one uses leaky_relu"):
                run_method(e.name, net, np.zeros(2), np.ones(2))


def test_method_entries_are_validated_when_registered():
    from nnlab.engine.optimize.base import MethodEntry

    def gen(*a):
        yield

    ok = dict(name="grid", obj=gen, label="x", flags=("heuristic", "any_dim"))
    assert MethodEntry(**ok).order == METHODS.get("grid").order  # its place in METHOD_ORDER
    for bad, why in (({"flags": ("heuristic",)}, "2d | any_dim"), ({"flags": ("exact", "heuristic", "2d")}, "exact"),
                     ({"flags": ("heuristic", "any_dim", "fast")}, "unknown flags"), ({"name": "nope"}, "METHOD_ORDER"),
                     ({"obj": lambda: None}, "generator"), ({"params": dict}, "dataclass")):
        with pytest.raises(ValueError, match=why):
            MethodEntry(**{**ok, **bad})
    assert [e.name for e in METHODS] == sorted(METHODS.names(), key=lambda n: METHODS.get(n).order)


def test_check_box_refuses_boxes_that_cannot_be_computed_soundly():
    net = random_net(1)
    lo, hi = check_box(net, [-1e12, -5.0], [1e12, 5.0])  # the limit itself is fine
    assert lo.tolist() == [-1e12, -5.0] and hi.tolist() == [1e12, 5.0]
    with pytest.raises(NnlabError, match=r"the box reaches 1e\+308, beyond \+-1e\+12"):
        check_box(net, [-1e308, -1e308], [1e308, 1e308])
    with pytest.raises(NnlabError, match=r"the box reaches 1.1e\+12"):
        run_method("random", net, [0.0, 0.0], [1.1e12, 1.0])
    huge = snapshot_from_layers([(np.full((3, 2), 1e80), np.zeros(3)), (np.full((1, 3), 1e80), np.zeros(1))])
    with pytest.raises(NnlabError, match=r"the network's values could reach 6e\+160, beyond 1e\+150"):
        check_box(huge, [0.0, 0.0], [1.0, 1.0])
    overflow = snapshot_from_layers([(np.full((3, 2), 1e200), np.zeros(3)), (np.full((1, 3), 1e200), np.zeros(1))])
    with pytest.raises(NnlabError, match=r"could reach inf"):
        check_box(overflow, [0.0, 0.0], [1.0, 1.0])
    saturating = snapshot_from_layers([(np.full((3, 2), 1e80), np.zeros(3)), (np.full((1, 3), 1e80), np.zeros(1))],
                                      "tanh")
    check_box(saturating, [0.0, 0.0], [1.0, 1.0])  # |tanh| <= 1: the output is at most 3e80


BUMP_MAX, BUMP_MIN = ("max", 1.0, (0.3, 0.6)), ("min", -0.3, (1.0, 0.0))


@pytest.mark.parametrize("method,sense,best,xbest", [(m, *c) for m in ("sampling", "grid") for c in (BUMP_MAX, BUMP_MIN)]
                         + [("walk", *BUMP_MAX)])
def test_bump_optimum_found_exactly(method, sense, best, xbest):
    # every region LP of the bump has the peak as its max vertex and its quadrant corner as its min vertex, so
    # sampling finds the min once a sample falls in the (1, 0) quadrant (42% of the box); the 101-point grid holds
    # (0.3, 0.6) and (1, 0). A walk may stop in a local-minimum corner, so only its max is certain.
    res = run(method, bump_net(), np.zeros(2), np.ones(2), sense)
    assert res.value == pytest.approx(best, abs=1e-9)
    assert np.allclose(res.x, xbest, atol=1e-7)
    assert res.status == "feasible"


@pytest.mark.parametrize("sense", ["max", "min"])
@pytest.mark.parametrize("method", HEURISTICS)
def test_linear_net_optimum_is_the_box_vertex(method, sense):
    res = run(method, linear_net(), -np.ones(2), np.ones(2), sense)
    target, corner = (5.5, (1, -1)) if sense == "max" else (-4.5, (-1, 1))
    if method in ("random", "lhs"):
        assert abs(res.value - target) < 0.3 and abs(res.value) <= 5.5 + 1e-12
    else:
        assert res.value == pytest.approx(target, abs=1e-7) and np.allclose(res.x, corner, atol=1e-7)


def test_gradient_climbs_the_bump():
    res = run("gradient", bump_net(), np.zeros(2), np.ones(2), "max")
    assert res.value > 0.97


def lipschitz_slack(net, lo, hi, res):
    L = float(np.prod([np.linalg.norm(w, 2) for w in net.weights]))
    return L * np.linalg.norm((hi - lo) / (res - 1) / 2)


@pytest.mark.parametrize("method", HEURISTICS)
def test_values_are_forward_passes_and_within_the_grid_bracket(method):
    net = random_net(2)
    lo, hi = np.array([-1.0, 0.0]), np.array([1.0, 2.0])
    res_grid = 301
    axes = [np.linspace(lo[i], hi[i], res_grid) for i in range(2)]
    mesh = np.meshgrid(*axes, indexing="ij")
    gv = net.forward(np.stack([m.ravel() for m in mesh], axis=1))
    slack = lipschitz_slack(net, lo, hi, res_grid)
    for sense in ("max", "min"):
        evs, res = events(method, net, lo, hi, sense)
        assert res.value == pytest.approx(float(net.forward(res.x)), rel=1e-6)
        assert np.all(res.x >= lo) and np.all(res.x <= hi)
        # the true optimum lies within the Lipschitz slack of the grid's best value; no method may pass it
        if sense == "max":
            assert res.value <= gv.max() + slack
        else:
            assert res.value >= gv.min() - slack
        incs = [e for e in evs if isinstance(e, Incumbent)]
        assert incs and incs[-1].value == pytest.approx(res.value)
        for e in incs:
            assert e.value == pytest.approx(float(net.forward(e.x)), rel=1e-6, abs=1e-12)
        vals = [e.value for e in incs]
        assert vals == sorted(vals, reverse=(sense == "min"))


@pytest.mark.parametrize("method", HEURISTICS)
def test_deterministic_given_seed(method):
    net = random_net(4)
    lo, hi = np.zeros(2), np.ones(2)
    a = run(method, net, lo, hi, "max", seed=5)
    b = run(method, net, lo, hi, "max", seed=5)
    assert np.array_equal(a.x, b.x) and a.value == b.value


@pytest.mark.parametrize("method,params", [("sampling", {"samples": 10**6}), ("walk", {"restarts": 0}),
                                           ("gradient", {"rounds": 0}), ("random", {"samples": 10**8})])
def test_time_limit_returns_the_incumbent(method, params):
    net = random_net(6, n0=5, hidden=(30, 30))
    res = run(method, net, np.zeros(5), np.ones(5), "max", time_limit=0.4, **params)
    assert res.status == "time_limit"
    assert res.x is not None and res.value == pytest.approx(float(net.forward(res.x)))
    assert res.seconds < 10.0  # generous: the limit is checked at least every heartbeat


# a run too long to finish in the test, and the number of points it would evaluate at least
HEAVY = {"sampling": ({"samples": 10**6}, 10**6), "walk": ({"restarts": 10**5}, 10**5),
         "gradient": ({"rounds": 10**4, "starts": 64, "steps": 20}, 2 * 64 * 10**4),
         "random": ({"samples": 10**8}, 10**8), "lhs": ({"samples": 2 * 10**6}, 2 * 10**6),
         "grid": ({"resolution": 60, "max_points": 10**8}, 60**4)}


@pytest.mark.parametrize("method", HEURISTICS)
def test_close_stops_the_work_and_frees_its_resources(method, monkeypatch):
    """Closing a method's generator (how the app and the study cancel) ends its work at once: the points it
    evaluated are a small part of the run, no thread is left behind, torch's thread count is restored and its
    HiGHS region LPs are freed."""
    import torch

    params, total = HEAVY[method]
    net = random_net(8, n0=4, hidden=(20, 20))
    evaluated = [0]

    def counting(fn):
        def counted(self, x):
            evaluated[0] += int(np.atleast_2d(x).shape[0])
            return fn(self, x)
        return counted

    for name in ("forward", "preactivations"):  # values; patterns and value_and_pattern
        monkeypatch.setattr(NetSnapshot, name, counting(getattr(NetSnapshot, name)))
    lps = []
    init = RegionLP.__init__

    def tracking(self, *args, **kwargs):
        init(self, *args, **kwargs)
        lps.append(weakref.ref(self))

    monkeypatch.setattr(RegionLP, "__init__", tracking)
    threads, torch_threads = threading.active_count(), torch.get_num_threads()
    gen = run_method(method, net, np.zeros(4), np.ones(4), "max", 600.0, 0, params)
    for _ in range(3):
        next(gen)
    t0 = time.perf_counter()
    gen.close()
    assert time.perf_counter() - t0 < 10.0  # generous: closing must not run the rest
    at_close = evaluated[0]
    assert 0 < at_close < 0.1 * total, at_close
    del gen
    gc.collect()
    assert evaluated[0] == at_close
    assert all(ref() is None for ref in lps) and (bool(lps) == (method in ("sampling", "walk")))
    assert threading.active_count() == threads and torch.get_num_threads() == torch_threads


@pytest.mark.parametrize("sense", ["max", "min"])
def test_walk_strictly_improves_from_its_start(sense):
    net = random_net(9, n0=3, hidden=(12, 12))
    lo, hi = np.zeros(3), np.ones(3)
    lp = RegionLP(net, lo, hi)
    for x0 in np.random.default_rng(2).random((5, 3)):
        prev = float(net.forward(x0))
        for xs, v in walk_steps(net, lp, x0, sense):
            assert (v > prev) if sense == "max" else (v < prev)
            assert v == pytest.approx(float(net.forward(xs)))
            assert np.all(xs >= lo) and np.all(xs <= hi)
            prev = v


def test_walk_paths_start_at_their_start_and_end_at_the_best_vertex():
    net = random_net(10, n0=3, hidden=(12, 12))
    evs, res = events("walk", net, np.zeros(3), np.ones(3), "max")
    paths = [e for e in evs if isinstance(e, WalkPath)]
    assert paths and res.extra["walks"] >= 1
    for p in paths:
        assert p.path.shape == (len(p.values), 3)
        assert np.allclose(p.values, net.forward(p.path))
        assert np.all(np.diff(p.values) > 0)
    assert max(p.values.max() for p in paths) == pytest.approx(res.value)


def test_enhanced_sampling_is_never_worse_than_basic():
    net = random_net(12, n0=3, hidden=(16, 16))
    lo, hi = np.zeros(3), np.ones(3)
    for sense in ("max", "min"):
        basic = run("sampling", net, lo, hi, sense, samples=100)
        enh = run("sampling", net, lo, hi, sense, samples=100, enhanced=True)
        assert basic.status == enh.status == "feasible"
        assert (enh.value >= basic.value - 1e-12) if sense == "max" else (enh.value <= basic.value + 1e-12)


def test_gradient_stays_in_the_box():
    net = random_net(13, n0=3, hidden=(16, 16))
    lo, hi = np.array([-1.0, 0.5, 2.0]), np.array([0.0, 0.75, 5.0])
    for opt in ("adam", "sgd"):
        evs, res = events("gradient", net, lo, hi, "max", optimizer=opt, lr=0.2)
        pts = [e.path for e in evs if isinstance(e, WalkPath)] + [e.points for e in evs if isinstance(e, PointsVisited)]
        assert pts
        for p in pts:
            assert np.all(p >= lo) and np.all(p <= hi)


def test_grid_matches_brute_force_and_refuses_huge_grids():
    net = random_net(14)
    lo, hi = np.array([-2.0, -1.0]), np.array([1.0, 3.0])
    xs, ys = np.linspace(-2, 1, 57), np.linspace(-1, 3, 57)
    Z = np.array([[net.forward(np.array([x, y])) for y in ys] for x in xs])
    for sense, pick in (("max", np.max), ("min", np.min)):
        res = run("grid", net, lo, hi, sense, resolution=57)
        assert res.value == pytest.approx(pick(Z), abs=1e-12)
    with pytest.raises(LimitError, match="max_points"):
        run("grid", random_net(1, n0=10, hidden=(4,)), np.zeros(10), np.ones(10), "max")
    small = run("grid", random_net(1, n0=3, hidden=(4,)), np.zeros(3), np.ones(3), "max", resolution=11)
    assert small.extra["points"] == 11 ** 3


def test_bad_parameters_are_one_line_errors():
    net = random_net(1)
    with pytest.raises(NnlabError, match="scheme"):
        run("sampling", net, np.zeros(2), np.ones(2), scheme="sobol")
    with pytest.raises(NnlabError, match="optimizer"):
        run("gradient", net, np.zeros(2), np.ones(2), optimizer="lbfgs")
    with pytest.raises(NnlabError, match="parameter 'samples' must be > 0, got 0"):
        run_method("random", net, np.zeros(2), np.ones(2), params={"samples": 0})  # before the first step
    with pytest.raises(LimitError, match="Latin hypercube samples in 2 dimensions exceed"):
        run_method("lhs", net, np.zeros(2), np.ones(2), params={"samples": 10**8})


@pytest.mark.parametrize("method", ["sampling", "walk", "gradient"])
def test_heartbeats_are_progress_events(method, monkeypatch):
    monkeypatch.setattr("nnlab.engine.optimize.heuristics.baselines.HEARTBEAT", 0.0)  # every check is due: beats must come
    net = random_net(15, n0=3, hidden=(12, 12))
    evs, res = events(method, net, np.zeros(3), np.ones(3), "max")
    beats = [e for e in evs if isinstance(e, BoundProgress)]
    assert beats, "no heartbeat although every check was due"
    assert all(b.bound is None and b.stage for b in beats)
    assert all(b.incumbent is None or b.incumbent <= res.value + 1e-12 for b in beats)


def test_value_magnitude_bounds_softplus_which_exceeds_its_input():
    """softplus(0) = log 2 > |0|: the magnitude bound adds |act(0)| per layer, so it still bounds every value."""
    from nnlab.engine.optimize.base import value_magnitude

    net = snapshot_from_layers([(np.zeros((3, 2)), np.zeros(3)), (np.full((1, 3), 5.0), np.zeros(1))], "softplus")
    x = np.random.default_rng(0).uniform(-1, 1, (50, 2))
    assert float(np.abs(net.forward(x)).max()) == pytest.approx(15 * np.log(2))
    assert value_magnitude(net, -np.ones(2), np.ones(2)) >= 15 * np.log(2)


def test_walk_steps_start_no_region_lp_after_their_deadline(monkeypatch):
    """walk_steps(deadline=...) solves no region LP once the deadline has passed (exact's polish walks inside its
    time limit); a clock that ticks once per check stops the walk after exactly the steps that started in time."""
    import nnlab.engine.optimize.heuristics.walk as walk_mod

    net = random_net(9, n0=3, hidden=(12, 12))
    lo, hi = np.zeros(3), np.ones(3)
    x0s = np.random.default_rng(2).random((8, 3))
    lp = RegionLP(net, lo, hi)
    full = [list(walk_steps(net, lp, x0, "max")) for x0 in x0s]
    x0, ref = max(zip(x0s, full), key=lambda t: len(t[1]))
    assert len(ref) >= 2  # a walk of several steps to cut short
    before = lp.n_solved
    assert list(walk_steps(net, lp, x0, "max", deadline=time.perf_counter() - 1.0)) == []
    assert lp.n_solved == before  # not one LP solved past the deadline
    ticks = iter(range(10_000))
    monkeypatch.setattr(walk_mod, "_now", lambda: float(next(ticks)))  # 0, 1, 2, ... at each check
    got = list(walk_steps(net, lp, x0, "max", deadline=1.5))  # checks at 0 and 1 pass, the third stops
    assert len(got) == 2 and all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(got, ref[:2]))
    monkeypatch.setattr(walk_mod, "_now", lambda: 0.0)
    same = list(walk_steps(net, lp, x0, "max", deadline=1.0))  # a deadline never reached: the whole walk
    assert len(same) == len(ref) and all(np.array_equal(a[0], b[0]) for a, b in zip(same, ref))


def test_the_methods_said_torch_free_import_no_torch():
    """An export imports torch (1.4 s) before an optimizer animation only when the method may need it
    (methods.may_import_torch): every method said torch-free runs, in a fresh process, without importing it."""
    import subprocess
    import sys

    from nnlab.engine.optimize.methods import TORCH_FREE, may_import_torch

    assert not may_import_torch("exact", 2) and may_import_torch("exact", 3) and may_import_torch("gradient", 2)
    code = ("import sys\n"
            "import numpy as np\n"
            "from nnlab.engine.jobs import drain\n"
            "from nnlab.engine.model.network import initial_snapshot\n"
            "from nnlab.engine.model.scene import InitSpec, NetworkSpec\n"
            "from nnlab.engine.optimize import run_method\n"
            f"for n, method in [(2, 'exact')] + [(d, m) for m in {sorted(TORCH_FREE)!r} for d in (2, 3)\n"
            "                                   if d == 2 or m not in ('grid', 'regions')]:\n"
            "    net = initial_snapshot(NetworkSpec(input_dim=n, hidden=(6, 5)), InitSpec(seed=3))\n"
            "    r = drain(run_method(method, net, np.zeros(n), np.ones(n), 'max', 5.0, 0, None))\n"
            "    assert np.isfinite(r.value), (method, n)\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["False"], out.stdout + out.stderr


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("schedule", ["constant", "cosine"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_written_out_steps_give_torch_optims_iterates(optimizer, schedule, dtype):
    """ascend's Adam / SGD steps, written out so that no torch.optim step imports torch._dynamo (1.6-8 s), move
    the starts exactly as torch.optim's do."""
    import math

    import torch

    from nnlab.engine.model.network import to_torch
    from nnlab.engine.optimize.heuristics.ascent import ascend

    net = initial_snapshot(NetworkSpec(10, (30, 30)), InitSpec(seed=3))
    u0 = np.random.default_rng(0).uniform(0, 1, (32, 10))
    lo, hi = np.full(10, -1.0), np.full(10, 2.0)
    gen = ascend(net, u0, lo, hi, "max", 60, 0.02, optimizer, schedule, dtype=dtype)
    try:
        while True:
            next(gen)
    except StopIteration as done:
        mine = done.value
    tdt = getattr(torch, dtype)
    model = to_torch(net, tdt)
    for p in model.parameters():
        p.requires_grad_(False)
    u = torch.tensor(u0, dtype=tdt, requires_grad=True)
    opt = torch.optim.Adam([u], lr=0.02, eps=1e-8) if optimizer == "adam" else torch.optim.SGD([u], lr=0.02)
    lo_t, w_t = torch.tensor(lo, dtype=tdt), torch.tensor(hi - lo, dtype=tdt)
    for step in range(60):
        if schedule == "cosine":
            opt.param_groups[0]["lr"] = 0.02 * 0.5 * (1 + math.cos(math.pi * step / 60))
        opt.zero_grad(set_to_none=True)
        (-model(lo_t + u * w_t)[:, 0].sum()).backward()
        opt.step()
        with torch.no_grad():
            u.clamp_(0.0, 1.0)
    assert np.abs(mine - u0).max() > 1e-3  # it moved
    np.testing.assert_array_equal(mine, u.detach().numpy().astype(np.float64))


def test_a_gradient_run_does_not_import_torch_dynamo():
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from nnlab.engine.model.network import initial_snapshot\n"
            "from nnlab.engine.model.scene import InitSpec, NetworkSpec\n"
            "from nnlab.engine.optimize import run_method, run_to_result\n"
            "net = initial_snapshot(NetworkSpec(3, (8,)), InitSpec(seed=1))\n"
            "r = run_to_result(run_method('gradient', net, np.zeros(3), np.ones(3), 'max', 30.0, 0, {'steps': 5}))\n"
            "assert r.x is not None\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "False"
