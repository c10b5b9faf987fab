"""Landscape metrics on hand-built ReLU networks whose answers are known by construction."""
import itertools

import numpy as np

from nnlab.errors import NnlabError
import pytest

import nnlab.engine.optimize as opt
from nnlab.engine.analysis import landscape as L
from nnlab.engine.model.network import NetSnapshot, initial_snapshot
from nnlab.engine.optimize.base import OptResult
from nnlab.engine.model.scene import InitSpec, NetworkSpec

BOX = ([0.0, 0.0], [1.0, 1.0])


def linear_net() -> NetSnapshot:
    """f = 2 x - y + 0.5 on [0,1]^2 (the ReLUs of x, y >= 0 pass them unchanged)."""
    return NetSnapshot((np.eye(2), np.array([[2.0, -1.0]])), (np.zeros(2), np.array([0.5])))


def bump_net(cx: float = 0.3, cy: float = 0.6) -> NetSnapshot:
    """f = -|x - cx| - |y - cy|: one interior peak at (cx, cy), four linear regions."""
    w1 = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    b1 = np.array([-cx, cx, -cy, cy])
    return NetSnapshot((w1, -np.ones((1, 4))), (b1, np.zeros(1)))


def two_bump_net() -> NetSnapshot:
    """f = -||x - .5| - .25| - |y - .5|: peaks at (.25, .5) and (.75, .5); minima at the 4 corners, (.5, 0), (.5, 1)."""
    w1 = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    b1 = np.array([-0.5, 0.5, -0.5, 0.5])
    w2 = np.array([[1.0, 1, 0, 0], [-1, -1, 0, 0], [0, 0, 1, 1]])
    b2 = np.array([-0.25, 0.25, 0.0])
    return NetSnapshot((w1, w2, -np.ones((1, 3))), (b1, b2, np.zeros(1)))


def test_linear_net_is_affine_with_optima_at_vertices():
    net = linear_net()
    assert L.affine_r2(net, *BOX) == pytest.approx(1.0, abs=1e-12)
    assert L.sampled_regions(net, *BOX) == 1
    assert L.vertex_extremes(net, *BOX) == (pytest.approx(2.5), pytest.approx(-0.5))
    top = L.extremum(net, *BOX, "max", time_limit=10, method="regions")
    assert top.proven and top.location == "vertex" and top.n_at_bound == 2
    assert top.value == pytest.approx(2.5) and top.x == pytest.approx([1.0, 0.0], abs=1e-9)
    low = L.extremum(net, *BOX, "min", time_limit=10, method="regions")
    assert low.location == "vertex" and low.x == pytest.approx([0.0, 1.0], abs=1e-9)
    lm = L.local_optima(net, *BOX, "max", starts=40, steps=100)
    assert lm.count == 1 and lm.locations["vertex"] == 1 and lm.points[0] == pytest.approx([1.0, 0.0], abs=1e-6)


def test_bump_net_has_an_interior_maximum():
    net = bump_net()
    top = L.extremum(net, *BOX, "max", time_limit=10, method="regions")
    assert top.proven and top.location == "interior" and top.n_at_bound == 0
    assert top.x == pytest.approx([0.3, 0.6], abs=1e-7) and top.value == pytest.approx(0.0, abs=1e-9)
    low = L.extremum(net, *BOX, "min", time_limit=10, method="regions")
    assert low.location == "vertex" and low.value == pytest.approx(-1.3)
    lm = L.local_optima(net, *BOX, "max", starts=40, steps=200)
    assert lm.count == 1 and lm.locations["interior"] == 1
    assert lm.points[0] == pytest.approx([0.3, 0.6], abs=1e-3)
    assert L.sampled_regions(net, *BOX) == 4
    assert L.affine_r2(net, *BOX) < 0.9


def test_two_bump_net_has_two_local_maxima_and_six_local_minima():
    net = two_bump_net()
    lm = L.local_optima(net, *BOX, "max", starts=100, steps=300, seed=3)
    assert lm.count == 2 and lm.unverified == 0
    assert sorted(round(p[0], 3) for p in lm.points) == [0.25, 0.75]
    assert all(p[1] == pytest.approx(0.5, abs=1e-3) for p in lm.points)
    ln = L.local_optima(net, *BOX, "min", starts=200, steps=300, seed=3)
    assert ln.count == 6 and ln.locations == {"vertex": 4, "face": 2, "interior": 0}
    assert L.sampled_regions(net, *BOX, n_samples=4000) == 8


def test_value_and_grad_match_finite_differences():
    net = initial_snapshot(NetworkSpec(input_dim=3, hidden=(20, 20)), InitSpec(scheme="torch_default", seed=4))
    x = np.random.default_rng(0).random((5, 3))
    y, g = L.value_and_grad(net, x)
    assert y == pytest.approx(net.forward(x))
    h = 1e-7
    fd = np.stack([(net.forward(x + h * e) - net.forward(x - h * e)) / (2 * h) for e in np.eye(3)], axis=1)
    assert g == pytest.approx(fd, abs=1e-5)


def test_zero_bias_nets_are_positively_homogeneous_and_biased_ones_are_not():
    xav = initial_snapshot(NetworkSpec(input_dim=5, hidden=(30, 30)), InitSpec(scheme="xavier_uniform", seed=2))
    tor = initial_snapshot(NetworkSpec(input_dim=5, hidden=(30, 30)), InitSpec(scheme="torch_default", seed=2))
    assert L.is_zero_bias(xav) and not L.is_zero_bias(tor)
    assert L.positive_homogeneity_error(xav) < 1e-12
    assert xav.forward(np.zeros(5)) == 0.0
    assert L.positive_homogeneity_error(tor) > 1e-3


def test_classify_location():
    lo, hi = [0.0, -1.0, 2.0], [1.0, 1.0, 4.0]
    assert L.classify_location([0.0, 1.0, 4.0], lo, hi) == ("vertex", 3)
    assert L.classify_location([0.0, 0.2, 3.0], lo, hi) == ("face", 1)
    assert L.classify_location([0.5, 0.2, 3.0], lo, hi) == ("interior", 0)


def test_a_time_limited_milp_is_reported_unproven(monkeypatch):
    net = linear_net()

    def fake_run_method(method, net, lower, upper, sense="max", time_limit=60.0, seed=0, params=None):
        yield from ()
        return OptResult(method="milp", sense=sense, value=2.0, x=np.array([0.75, 0.0]), status="time_limit",
                         bound=2.6, gap=0.3, seconds=time_limit)

    monkeypatch.setattr(opt, "run_method", fake_run_method)
    e = L.extremum(net, *BOX, "max", time_limit=5)
    assert not e.proven and e.status == "time_limit"
    # the incumbent f(0.75, 0) = 2 is beaten by the box vertex (1, 0): f = 2.5, gap to the bound (2.6 - 2.5) / 2.5
    assert e.value == 2.5 and e.x == [1.0, 0.0] and e.found_by == "vertex"
    assert e.bound == 2.6 and e.gap == pytest.approx(0.04)
    assert e.location == "vertex" and e.n_at_bound == 2
    e = L.extremum(net, *BOX, "max", time_limit=5, candidates=[[0.75, 0.5], [0.5, 0.0]])
    assert e.value == 2.5 and e.found_by == "vertex"  # no candidate beats the vertex


def test_a_bound_that_meets_the_best_point_is_a_proof_whatever_the_status(monkeypatch):
    """"proven" is certify.is_optimal of the reported value and the method's bound, not the method's status."""
    net = linear_net()

    def fake_run_method(method, net, lower, upper, sense="max", time_limit=60.0, seed=0, params=None):
        yield from ()
        return OptResult(method="milp", sense=sense, value=2.0, x=np.array([0.75, 0.0]), status="time_limit",
                         bound=2.5 + 1e-9, gap=0.25, seconds=time_limit)

    monkeypatch.setattr(opt, "run_method", fake_run_method)
    e = L.extremum(net, *BOX, "max", time_limit=5)
    assert e.proven and e.value == 2.5 and e.gap == pytest.approx(4e-10)


def deep_narrow_300() -> tuple[NetSnapshot, tuple, tuple, np.ndarray]:
    """Issue 9 item 3: the "Deep and narrow" preset with its first two hidden widths set to 300 (the preset has no
    target, so the net is its seeded He init), its box, and its surface grid points as the Info panel has them."""
    from nnlab.bundled import scene_path
    from nnlab.engine.model.scene import load_scene
    from nnlab.engine.analysis.surface import grid_points

    s = load_scene(scene_path("deep_narrow"))
    s = s.replace("network", hidden=(300, 300, *s.network.hidden[2:]))
    lo, hi = s.domain()
    return initial_snapshot(s.network, s.init), lo, hi, grid_points(lo, hi, s.camera.resolution)


@pytest.mark.parametrize("sense", ["max", "min"])
def test_a_timed_out_extremum_is_never_worse_than_the_grid_and_gives_its_bound(sense):
    """Issue 9 item 3: regions timed out and Info reported the best box corner, 0.4192 at (-2, 2), below its own
    grid maximum 0.5526 (exact: 0.554939 at (-2, -1.415)). A tiny time limit forces the time-out here."""
    net, lo, hi, grid = deep_narrow_300()
    s = 1.0 if sense == "max" else -1.0
    y = net.forward(grid)
    corners = net.forward(np.array(list(itertools.product(*zip(lo, hi)))))  # the 4 box corners
    best_grid = float(y.max() if s > 0 else y.min())
    best_corner = float(corners.max() if s > 0 else corners.min())
    assert s * best_grid > s * best_corner + 0.01  # the case of the issue: the grid beats every corner
    e = L.extremum(net, lo, hi, sense, time_limit=1e-3, method="regions", candidates=grid)
    assert e.status == "time_limit" and not e.proven
    assert s * e.value >= s * best_grid - 1e-12 and e.found_by == "candidate"  # up to the ulps of a batched pass
    assert float(net.forward(np.array([e.x]))[0]) == e.value  # the value is the network's at the point
    assert e.bound is not None and s * e.bound >= s * e.value  # the CROWN bound of the timed-out enumeration
    assert e.gap == pytest.approx(abs(e.bound - e.value) / max(1.0, abs(e.value)))
    if sense == "max":
        assert 0.5525 <= e.value <= 0.554939 + 1e-6 <= e.bound  # the grid's 0.5526, at most the proven optimum


def test_landscape_metrics_of_a_random_net():
    net = initial_snapshot(NetworkSpec(input_dim=3, hidden=(16, 16)), InitSpec(scheme="xavier_uniform", seed=1))
    m = L.landscape_metrics(net, [0.0] * 3, [1.0] * 3, n_samples=500, starts=30, steps=60)
    assert m["zero_bias"] is True and m["homogeneity_error"] < 1e-12
    assert 0.0 <= m["affine_r2"] <= 1.0 and 1 <= m["regions_sampled"] <= 500
    assert m["local_max"] >= 1 and m["vertex_max"] >= m["vertex_min"]
    assert m["sample_max"] <= m["local_max_best"] + 1e-9 or m["local_max_best"] >= m["vertex_max"] - 1e-9


def test_bad_box_is_one_line_error():
    with pytest.raises(NnlabError, match="3 inputs"):
        L.affine_r2(initial_snapshot(NetworkSpec(input_dim=3, hidden=(4,)), InitSpec()), [0, 0], [1, 1])


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "tanh", "sigmoid", "silu"])
def test_value_and_grad_matches_forward_and_finite_differences(act):
    from nnlab.engine.analysis.landscape import value_and_grad
    from nnlab.engine.model.network import initial_snapshot
    from nnlab.engine.model.scene import InitSpec, NetworkSpec

    net = initial_snapshot(NetworkSpec(input_dim=3, hidden=(12, 9), activation=act), InitSpec(scheme="torch_default", seed=4))
    x = np.random.default_rng(3).uniform(-1, 1, size=(20, 3))
    y, g = value_and_grad(net, x)
    assert np.allclose(y, net.forward(x), rtol=1e-12, atol=1e-12)
    h = 1e-6
    fd = np.stack([(net.forward(x + h * e) - net.forward(x - h * e)) / (2 * h) for e in np.eye(3)], axis=1)
    assert np.allclose(g, fd, atol=1e-6)


def test_shared_ascent_is_the_numpy_adam_it_replaced():
    """local_optima's ascent now runs the optimizers' torch ascent (ascent.ascend, float64, cosine rate): it takes
    the steps of the plain numpy Adam landscape.py had before (reproduced here), to rounding, on a smooth net."""
    from nnlab.engine.jobs import drain
    from nnlab.engine.optimize.heuristics.ascent import ascend, value_and_grad

    net = initial_snapshot(NetworkSpec(2, (12, 12), activation="tanh"), InitSpec(scheme="torch_default", seed=3))
    lo, hi = np.array([-1.0, -2.0]), np.array([1.0, 2.0])
    span, steps, lr = hi - lo, 60, 0.05
    u = np.random.default_rng(0).random((32, 2))
    for sense, s in (("max", 1.0), ("min", -1.0)):
        m, v, ref = np.zeros_like(u), np.zeros_like(u), u.copy()
        for t in range(1, steps + 1):
            g = s * value_and_grad(net, lo + ref * span)[1] * span
            m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            rate = lr * 0.5 * (1.0 + np.cos(np.pi * (t - 1) / steps))
            ref = np.clip(ref + rate * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-12), 0.0, 1.0)
        got = drain(ascend(net, u, lo, hi, sense, steps, lr, schedule="cosine", eps=1e-12, dtype="float64"))
        assert np.abs(got - ref).max() < 1e-9
        assert np.abs(got - u).max() > 0.05  # it moved
