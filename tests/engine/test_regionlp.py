"""Region LP, big-M relaxation and the enhanced-sampling MILP against hand-made networks and brute force."""
import numpy as np
import pytest

from nnlab.engine.model.network import initial_snapshot, snapshot_from_layers
from nnlab.engine.optimize.formulation.regionlp import (
    BigM, RegionLP, compose_region, flat_pattern, pattern_key, solve_region_lp,
)
from nnlab.engine.optimize.heuristics.sampling import solve_free_milp
from nnlab.engine.model.scene import InitSpec, NetworkSpec


def bump_net():
    """1 - |x1 - 0.3| - |x2 - 0.6| with one hidden layer of 4 neurons."""
    W1 = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    b1 = np.array([-0.3, 0.3, -0.6, 0.6])
    return snapshot_from_layers([(W1, b1), (-np.ones((1, 4)), np.array([1.0]))])


def random_net(seed, n0=2, hidden=(8, 8)):
    return initial_snapshot(NetworkSpec(input_dim=n0, hidden=hidden), InitSpec(scheme="torch_default", seed=seed))


def pattern_at(net, x):
    return flat_pattern(net.pattern(np.asarray(x, dtype=float)[None]))


def lipschitz(net):
    return float(np.prod([np.linalg.norm(w, 2) for w in net.weights]))


def grid_extremes(net, lo, hi, res=401):
    """Grid max/min and the Lipschitz slack that bounds the true optimum: max <= grid_max + slack."""
    axes = [np.linspace(lo[i], hi[i], res) for i in range(lo.size)]
    mesh = np.meshgrid(*axes, indexing="ij")
    vals = net.forward(np.stack([m.ravel() for m in mesh], axis=1))
    slack = lipschitz(net) * np.linalg.norm((hi - lo) / (res - 1) / 2)
    return vals.max(), vals.min(), slack


def test_compose_region_matches_the_network_inside_the_region():
    net = random_net(3, n0=3, hidden=(6, 5, 4))
    x = np.array([0.2, 0.7, 0.4])
    A, r, c, d = compose_region(net, net.pattern(x[None]))
    assert np.all(A @ x >= r - 1e-12)
    assert c @ x + d == pytest.approx(net.forward(x), rel=1e-12, abs=1e-12)
    assert np.allclose(np.linalg.norm(A, axis=1)[np.any(A != 0, axis=1)], 1.0)


@pytest.mark.parametrize("sense", ["max", "min"])
def test_region_lp_is_exact_and_stays_in_its_region(sense):
    net = random_net(5, n0=3, hidden=(10, 10))
    lo, hi = np.zeros(3), np.ones(3)
    lp = RegionLP(net, lo, hi)
    rng = np.random.default_rng(0)
    for x in rng.random((20, 3)):
        pat = pattern_at(net, x)
        xs, v = lp.solve(pat, sense)
        assert np.all(xs >= lo) and np.all(xs <= hi)
        assert v == pytest.approx(net.forward(xs), rel=1e-6, abs=1e-9)
        # x* lies in the closed region: every neuron has the pattern's sign (or sits on the boundary)
        for a, g in zip(pat, net.preactivations(xs[None])):
            assert np.all(np.where(a, 1.0, -1.0) * g[0] >= -1e-7)
        # the region's optimum is at least as good as the sample that named the region
        assert (v >= net.forward(x) - 1e-9) if sense == "max" else (v <= net.forward(x) + 1e-9)


def test_region_lp_on_the_bump_finds_the_peak_and_the_quadrant_corner():
    net = bump_net()
    lo, hi = np.zeros(2), np.ones(2)
    xs, v = solve_region_lp(net, pattern_at(net, [0.9, 0.1]), lo, hi, "max")
    assert v == pytest.approx(1.0) and np.allclose(xs, [0.3, 0.6], atol=1e-9)
    xs, v = solve_region_lp(net, pattern_at(net, [0.9, 0.1]), lo, hi, "min")
    assert v == pytest.approx(-0.3) and np.allclose(xs, [1.0, 0.0], atol=1e-9)


def test_infeasible_patterns_give_none():
    W1 = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 1.0]])
    b1 = np.array([-0.3, 0.2, -5.0])  # x1 > 0.3, x1 < 0.2, x1 + x2 > 5 (impossible in the unit box)
    net = snapshot_from_layers([(W1, b1), (np.ones((1, 3)), np.zeros(1))])
    lo, hi = np.zeros(2), np.ones(2)
    both = [np.array([True, True, False])]
    assert solve_region_lp(net, both, lo, hi, "max") is None
    outside = [np.array([False, True, True])]
    assert solve_region_lp(net, outside, lo, hi, "min") is None
    assert solve_region_lp(net, [np.array([False, True, False])], lo, hi, "max") is not None
    with pytest.raises(ValueError, match="layer sizes"):
        solve_region_lp(net, [np.array([True, False])], lo, hi)


def test_region_lp_without_hidden_layers_is_the_box_vertex():
    net = snapshot_from_layers([(np.array([[2.0, -3.0]]), np.array([0.5]))])
    lo, hi = -np.ones(2), np.ones(2)
    xs, v = solve_region_lp(net, [], lo, hi, "max")
    assert v == pytest.approx(5.5) and np.allclose(xs, [1.0, -1.0])
    assert pattern_key([]) == b""


def test_pattern_key_tells_patterns_apart():
    a = [np.array([True, False, True]), np.array([False])]
    b = [np.array([True, False, True]), np.array([True])]
    assert pattern_key(a) == pattern_key([x.copy() for x in a]) and pattern_key(a) != pattern_key(b)


@pytest.mark.parametrize("sense", ["max", "min"])
def test_bigm_relaxation_bounds_the_optimum_and_fixing_all_neurons_gives_the_region_lp(sense):
    net = random_net(11)
    lo, hi = -np.ones(2), np.ones(2)
    gmax, gmin, _ = grid_extremes(net, lo, hi, res=201)
    bm = BigM(net, lo, hi)
    rel = bm.relax(sense)
    assert (rel.objective >= gmax - 1e-7) if sense == "max" else (rel.objective <= gmin + 1e-7)
    assert all(np.all((z >= -1e-9) & (z <= 1 + 1e-9)) for z in rel.z)
    lp = RegionLP(net, lo, hi)
    for x in np.random.default_rng(1).uniform(-1, 1, (5, 2)):
        pat = pattern_at(net, x)
        fixed = {(k, j): int(a[j]) for k, a in enumerate(pat) for j in range(a.size)}
        got = bm.relax(sense, fixed)
        assert got.objective == pytest.approx(lp.solve(pat, sense)[1], rel=1e-6, abs=1e-7)
        assert got.objective == pytest.approx(net.forward(got.x), rel=1e-6, abs=1e-7)


def test_bigm_stable_neurons_get_no_binary_and_fixed_ones_constrain_x():
    W1 = np.array([[1.0, 1.0], [1.0, -1.0]])
    b1 = np.array([-1.5, 0.0])  # neuron 0 active needs x1 + x2 > 1.5
    net = snapshot_from_layers([(W1, b1), (np.array([[1.0, 1.0]]), np.zeros(1))])
    lo, hi = np.zeros(2), np.array([0.5, 0.5])
    bm = BigM(net, lo, hi)
    assert not bm.unstable[0][0]  # stably inactive on this box: never fixable, never a z
    rel = bm.relax("max", {(0, 1): 0})
    assert rel is not None and rel.x[0] - rel.x[1] <= 1e-9
    assert bm.relax("max").objective >= 0.5 - 1e-9


@pytest.mark.parametrize("sense", ["max", "min"])
def test_free_milp_with_every_neuron_free_is_the_global_optimum(sense):
    net = random_net(7, hidden=(6, 6))
    lo, hi = np.zeros(2), np.ones(2)
    gmax, gmin, slack = grid_extremes(net, lo, hi)
    x0 = np.array([0.5, 0.5])
    pat = pattern_at(net, x0)
    free = [np.ones_like(a) for a in pat]
    x, v = solve_free_milp(net, pat, free, lo, hi, sense, time_limit=20)
    assert v == pytest.approx(float(net.forward(x)))
    if sense == "max":
        assert gmax - 1e-6 <= v <= gmax + slack
    else:
        assert gmin - slack <= v <= gmin + 1e-6
    none_free = [np.zeros_like(a) for a in pat]
    _, v0 = solve_free_milp(net, pat, none_free, lo, hi, sense, time_limit=20)
    assert v0 == pytest.approx(solve_region_lp(net, pat, lo, hi, sense)[1], rel=1e-6, abs=1e-8)


def test_relaxation_in_slices_reaches_the_same_optimum():
    net = random_net(21, n0=4, hidden=(40, 40))
    lo, hi = np.zeros(4), np.ones(4)
    whole = BigM(net, lo, hi).relax("max")
    it = BigM(net, lo, hi).relax_iter("max", chunk=1e-6)
    while True:
        try:
            assert next(it) is None
        except StopIteration as stop:
            sliced = stop.value
            break
    assert sliced.objective == pytest.approx(whole.objective, rel=1e-7)
