"""Certified local optima of 2-input ReLU nets from the exact regions: hand-made nets whose optima are known (a
sawtooth of k tents, an L1 pyramid, a flat-topped plateau), and random nets checked against probes around every
certified point and a dense grid's discrete optima."""
from __future__ import annotations

import numpy as np
import pytest

from nnlab.engine.analysis.local_optima import certified_local_optima, grid_local_optima
from nnlab.engine.model.network import NetSnapshot, initial_snapshot
from nnlab.engine.model.scene import InitSpec, NetworkSpec
from nnlab.errors import NnlabError

LO, HI = np.zeros(2), np.ones(2)


def _tents(k: int, eps: float = 0.1) -> NetSnapshot:
    """f = sawtooth(x) - eps |y - 0.5|: k tents of height 1 touching at x = j / k (a ReLU at every break of slope),
    so the maxima are (c_i, 0.5) with c_i = (2i + 1) / (2k) and the minima (j / k, 0) and (j / k, 1), j = 0..k."""
    s = 2.0 * k  # slope of each tent's side
    rows, bias, out = [[1.0, 0.0]], [1.0], [s]  # relu(x + 1) = x + 1 on the box: the first rising side
    for m in range(1, 2 * k):
        rows.append([1.0, 0.0])
        bias.append(-m / (2 * k))
        out.append(-2 * s if m % 2 else 2 * s)
    rows += [[0.0, 1.0], [0.0, -1.0]]
    bias += [-0.5, 0.5]
    out += [-eps, -eps]
    return NetSnapshot((np.array(rows), np.array([out])), (np.array(bias), np.array([-s])))


def _pyramid(px: float = 0.3, py: float = 0.6) -> NetSnapshot:
    """f = -(|x - px| + |y - py|): one maximum at (px, py), minima at the four box corners."""
    w = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    b = np.array([-px, px, -py, py])
    return NetSnapshot((w, -np.ones((1, 4))), (b, np.zeros(1)))


def _plateau() -> NetSnapshot:
    """f = -relu(|x - 0.5| - 0.2) - relu(|y - 0.5| - 0.2): flat (0) on [0.3, 0.7]^2, falling outside."""
    w1 = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    b1 = np.array([-0.5, 0.5, -0.5, 0.5])
    w2 = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    return NetSnapshot((w1, w2, -np.ones((1, 2))), (b1, np.array([-0.2, -0.2]), np.zeros(1)))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_sawtooth_of_k_tents_has_k_maxima_and_their_feet_as_minima(k):
    c = certified_local_optima(_tents(k), LO, HI)
    assert c.maxima.strict == k and c.maxima.plateaus == 0
    want = sorted(((2 * i + 1) / (2 * k), 0.5) for i in range(k))
    assert np.allclose(sorted(map(tuple, c.maxima.points)), want, atol=1e-9)
    assert np.allclose(c.maxima.values, 1.0, atol=1e-9)
    assert c.minima.strict == 2 * (k + 1) and c.minima.plateaus == 0
    feet = sorted((j / k, y) for j in range(k + 1) for y in (0.0, 1.0))
    assert np.allclose(sorted(map(tuple, c.minima.points)), feet, atol=1e-9)
    assert c.minima.locations == {"vertex": 4, "face": 2 * (k - 1), "interior": 0}
    assert c.unresolved == 0


def test_pyramid_has_its_apex_as_the_one_maximum_and_the_corners_as_minima():
    c = certified_local_optima(_pyramid(), LO, HI)
    assert c.maxima.strict == 1 and np.allclose(c.maxima.points[0], [0.3, 0.6]) and c.maxima.locations["interior"] == 1
    assert c.minima.strict == 4 and c.minima.locations == {"vertex": 4, "face": 0, "interior": 0}
    assert c.maxima.plateaus == c.minima.plateaus == 0
    # the negated net: the apex becomes the one minimum (a |x|-like cone)
    net = _pyramid()
    neg = NetSnapshot((net.weights[0], -net.weights[1]), net.biases)
    d = certified_local_optima(neg, LO, HI)
    assert d.minima.strict == 1 and d.maxima.strict == 4


def test_flat_top_is_one_plateau_not_a_strict_maximum():
    c = certified_local_optima(_plateau(), LO, HI)
    assert c.maxima.strict == 0 and c.maxima.plateaus == 1
    assert c.maxima.plateau_values == [0.0]
    p = np.array(c.maxima.plateau_points[0])
    assert np.all((p >= 0.3 - 1e-12) & (p <= 0.7 + 1e-12))
    # minima: the four corners, and on each box edge a flat stretch (e.g. y = 0, 0.3 <= x <= 0.7) through the
    # vertex where x = 0.5 meets the edge: non-strict, counted as plateaus; and the plateau's inside, where f is
    # constant around every point, is a non-strict local minimum too (its inner vertex (0.5, 0.5))
    assert c.minima.strict == 4 and c.minima.locations["vertex"] == 4
    assert c.minima.plateaus == 5
    assert sorted(map(tuple, np.round(c.minima.plateau_points, 9))) == [(0.0, 0.5), (0.5, 0.0), (0.5, 0.5), (0.5, 1.0),
                                                                        (1.0, 0.5)]
    assert sorted(c.minima.plateau_values) == [-0.3] * 4 + [0.0]


def test_refused_for_a_net_that_is_not_2_input_or_not_piecewise_linear():
    net3 = initial_snapshot(NetworkSpec(input_dim=3, hidden=(4,)), InitSpec(seed=0))
    with pytest.raises(NnlabError, match="2-input"):
        certified_local_optima(net3, np.zeros(3), np.ones(3))
    tanh = NetSnapshot(_pyramid().weights, _pyramid().biases, "tanh")
    with pytest.raises(NnlabError):
        certified_local_optima(tanh, LO, HI)


def _probe_worse(net: NetSnapshot, p: np.ndarray, sgn: float, r: float) -> bool:
    """Every point on the circle of radius r around p (inside the box, 720 directions) is strictly worse."""
    th = np.linspace(0.0, 2 * np.pi, 720, endpoint=False)
    q = p + r * np.column_stack([np.cos(th), np.sin(th)])
    q = q[np.all((q >= LO) & (q <= HI), axis=1)]
    return bool(np.all(sgn * (net.forward(q) - net.forward(p[None])[0]) < 0))


@pytest.mark.parametrize("init", ["torch_default", "xavier_uniform"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_certified_optima_are_local_optima_and_cover_the_grid(init, seed):
    """Soundness: each certified strict optimum beats all probes around it. Completeness: every discrete optimum
    of a 601 x 601 grid (over an 11 x 11 window, which drops the false ones a sloping ridge gives) lies within two
    grid steps of a certified one (a certified peak may be narrower than the grid: that way round is allowed)."""
    net = initial_snapshot(NetworkSpec(input_dim=2, hidden=(32, 32)), InitSpec(scheme=init, seed=seed))
    c = certified_local_optima(net, LO, HI)
    assert c.unresolved == 0 and c.maxima.strict >= 1 and c.minima.strict >= 1
    gmax, gmin = grid_local_optima(net, LO, HI, n=601, window=5)
    for so, grid, sgn in ((c.maxima, gmax, 1.0), (c.minima, gmin, -1.0)):
        P = np.array(so.points)
        for p in P:
            assert _probe_worse(net, p, sgn, 1e-7) and _probe_worse(net, p, sgn, 1e-6)
        for g in grid:
            assert np.min(np.linalg.norm(P - g, axis=1)) <= 2 * np.sqrt(2) / 600
        assert len(grid) <= len(P)


@pytest.mark.parametrize("hidden,seed", [((8,), s) for s in range(4)] + [((16, 16), s) for s in range(4)])
def test_certified_count_equals_the_grid_count_on_nets_with_wide_peaks(hidden, seed):
    """Torch-default biases (no ties) and small nets, whose optima lie farther apart than the grid window: the grid
    count is the certified count exactly."""
    net = initial_snapshot(NetworkSpec(input_dim=2, hidden=hidden), InitSpec(scheme="torch_default", seed=seed))
    c = certified_local_optima(net, LO, HI)
    gmax, gmin = grid_local_optima(net, LO, HI, n=601, window=5)
    assert (c.maxima.strict, c.minima.strict) == (len(gmax), len(gmin))
    assert c.maxima.plateaus == c.minima.plateaus == 0
