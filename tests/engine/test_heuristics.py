"""Heuristic optimizers (sampling, relax-and-walk, gradient, random, lhs, grid) on hand-made networks."""
import numpy as np
import pytest

from nnlab.engine.network import initial_snapshot, snapshot_from_layers
from nnlab.engine.optimize import METHODS, run_method, run_to_result
from nnlab.engine.optimize.base import BoundProgress, Incumbent, PointsVisited, WalkPath
from nnlab.engine.optimize.regionlp import RegionLP
from nnlab.engine.optimize.walk import walk_steps
from nnlab.engine.scene import InitSpec, NetworkSpec

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
    assert "2d" in METHODS.get("grid").flags and "any_dim" not in METHODS.get("grid").flags
    assert all("any_dim" in METHODS.get(n).flags for n in HEURISTICS if n != "grid")


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


@pytest.mark.parametrize("method", ["sampling", "walk", "gradient", "lhs"])
def test_cancellation_by_close(method):
    net = random_net(8, n0=4, hidden=(20, 20))
    gen = run_method(method, net, np.zeros(4), np.ones(4), "max", 60.0, 0,
                     {"samples": 10**5} if method in ("sampling", "lhs") else {"restarts": 0} if method == "walk"
                     else {"rounds": 0})
    for _ in range(3):
        next(gen)
    gen.close()
    with pytest.raises(StopIteration):
        next(gen)


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
    with pytest.raises(ValueError, match="max_points"):
        run("grid", random_net(1, n0=10, hidden=(4,)), np.zeros(10), np.ones(10), "max")
    small = run("grid", random_net(1, n0=3, hidden=(4,)), np.zeros(3), np.ones(3), "max", resolution=11)
    assert small.extra["points"] == 11 ** 3


def test_bad_parameters_are_one_line_errors():
    net = random_net(1)
    with pytest.raises(ValueError, match="scheme"):
        run("sampling", net, np.zeros(2), np.ones(2), scheme="sobol")
    with pytest.raises(ValueError, match="optimizer"):
        run("gradient", net, np.zeros(2), np.ones(2), optimizer="lbfgs")
    with pytest.raises(ValueError, match="samples"):
        run("random", net, np.zeros(2), np.ones(2), samples=0)


def test_heartbeats_are_progress_events():
    net = random_net(15, n0=5, hidden=(30, 30))
    evs, _ = events("sampling", net, np.zeros(5), np.ones(5), "max", time_limit=0.6, samples=10**5)
    beats = [e for e in evs if isinstance(e, BoundProgress)]
    assert all(b.bound is None and b.stage for b in beats)
