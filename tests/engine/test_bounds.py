"""Pre-activation bounds: interval arithmetic and LP tightening are valid over the box, and LP is never looser."""
import numpy as np
import pytest

from nnlab.engine.model.network import initial_snapshot, snapshot_from_layers
from nnlab.engine.optimize.formulation.bounds import interval_bounds, iter_lp_bounds, lp_bounds
from nnlab.engine.model.scene import InitSpec, NetworkSpec


def sampled_preacts(net, lo, hi, n=20000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, size=(n, lo.size))
    corners = np.where(rng.random((256, lo.size)) < 0.5, lo, hi)
    return net.preactivations(np.vstack([x, corners]))


@pytest.mark.parametrize("n0,hidden,scheme", [(2, (30, 30, 30), "torch_default"), (5, (40, 40), "torch_default"),
                                              (3, (25, 25), "xavier_uniform")])
def test_lp_bounds_valid_and_within_interval(n0, hidden, scheme):
    net = initial_snapshot(NetworkSpec(n0, hidden), InitSpec(scheme=scheme, seed=3))
    lo, hi = -np.ones(n0), 2 * np.ones(n0)
    ib, lb = interval_bounds(net, lo, hi), lp_bounds(net, lo, hi)
    assert len(lb) == len(hidden)
    np.testing.assert_allclose(lb[0][0], ib[0][0])  # layer 1: interval is exact
    np.testing.assert_allclose(lb[0][1], ib[0][1])
    for (L, U), (Li, Ui), g in zip(lb, ib, sampled_preacts(net, lo, hi)):
        assert np.all(L >= Li - 1e-12) and np.all(U <= Ui + 1e-12)
        assert np.all(g >= L[None] - 1e-9) and np.all(g <= U[None] + 1e-9)
    if scheme == "torch_default":  # LP bounds are strictly tighter somewhere past layer 1
        assert sum(np.sum(U < Ui - 1e-6) + np.sum(L > Li + 1e-6) for (L, U), (Li, Ui) in zip(lb[1:], ib[1:])) > 0


def test_hand_made_bounds():
    """h = relu(x1), relu(-x1) on [-1, 2]; g2 = h1 + h2 - 0.5 = |x1| - 0.5 in [-0.5, 1.5]; intervals say 2.5."""
    net = snapshot_from_layers([(np.array([[1.0], [-1.0]]), np.zeros(2)), (np.array([[1.0, 1.0]]), np.array([-0.5])),
                                (np.array([[1.0]]), np.zeros(1))])
    lo, hi = np.array([-1.0]), np.array([2.0])
    (L1, U1), (L2, U2) = interval_bounds(net, lo, hi)
    np.testing.assert_allclose(L1, [-1, -2])
    np.testing.assert_allclose(U1, [2, 1])
    assert (L2[0], U2[0]) == (-0.5, 2.5)
    (_, _), (L2, U2) = lp_bounds(net, lo, hi)
    # the LP relaxation: h1 <= (2/3)(x1 + 1), h2 <= (1/3)(2 - x1), h1 >= x1, h2 >= -x1 -> h1 + h2 in [0, 2]
    assert U2[0] == pytest.approx(1.5, abs=1e-6) and U2[0] >= 1.5
    assert L2[0] == pytest.approx(-0.5, abs=1e-6) and L2[0] <= -0.5


def test_deadline_keeps_interval_bounds_and_close_works():
    net = initial_snapshot(NetworkSpec(4, (30, 30)), InitSpec(scheme="torch_default", seed=1))
    lo, hi = np.zeros(4), np.ones(4)
    ib = interval_bounds(net, lo, hi)
    lb = lp_bounds(net, lo, hi, time_limit=-1.0)  # deadline already passed
    for (L, U), (Li, Ui) in zip(lb, ib):
        np.testing.assert_array_equal(L, Li)
        np.testing.assert_array_equal(U, Ui)


def test_closing_the_lp_bounds_stops_the_lps_and_clears_highs(monkeypatch):
    """close() mid-way: no LP is solved after it, the HiGHS model is cleared (the generator's finally) and the model
    object is garbage once the generator is."""
    import gc
    import weakref

    from nnlab.engine.optimize.formulation import bounds as B

    net = initial_snapshot(NetworkSpec(4, (30, 30)), InitSpec(scheme="torch_default", seed=1))
    lo, hi = np.zeros(4), np.ones(4)
    solved, models = [0], []
    real_solve, real_init = B.BigMModel.optimize_linear, B.BigMModel.__init__

    def solve(self, *a, **kw):
        solved[0] += 1
        return real_solve(self, *a, **kw)

    def init(self, *a, **kw):
        real_init(self, *a, **kw)
        models.append(self)

    monkeypatch.setattr(B.BigMModel, "optimize_linear", solve)
    monkeypatch.setattr(B.BigMModel, "__init__", init)
    gen = iter_lp_bounds(net, lo, hi)
    k, j, n_lp = next(gen)
    assert k == 1 and n_lp == solved[0] >= 1 and len(models) == 1  # one LP or two done in layer 2
    model = models.pop()
    assert model.h.getNumCol() > 0  # layer 1 is in the model
    ref = weakref.ref(model)
    gen.close()
    assert solved[0] == n_lp  # no LP after close
    assert model.h.getNumCol() == 0 and model.h.getNumRow() == 0  # HiGHS cleared
    del model, gen
    gc.collect()
    assert ref() is None and solved[0] == n_lp


def test_cutoff_bounds_hold_where_the_output_beats_the_cutoff():
    from nnlab.engine.optimize.formulation.bounds import iter_cutoff_bounds
    from nnlab.engine.optimize.base import run_to_result

    net = initial_snapshot(NetworkSpec(2, (20, 20)), InitSpec(scheme="torch_default", seed=2))
    lo, hi = -np.ones(2), np.ones(2)
    x = np.random.default_rng(1).uniform(lo, hi, size=(40000, 2))
    f = net.forward(x)
    cutoff = float(np.quantile(f, 0.9))
    base = lp_bounds(net, lo, hi)
    cb = run_to_result(iter_cutoff_bounds(net, lo, hi, base, "max", cutoff))
    good = f >= cutoff
    tighter = 0
    for (L, U), (L0, U0), g in zip(cb, base, net.preactivations(x[good])):
        assert np.all(L >= L0 - 1e-12) and np.all(U <= U0 + 1e-12)
        assert np.all(g >= L - 1e-9) and np.all(g <= U + 1e-9)
        tighter += int(np.sum(U < U0 - 1e-6) + np.sum(L > L0 + 1e-6))
    assert tighter > 0
