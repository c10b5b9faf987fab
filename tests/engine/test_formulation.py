"""The one big-M builder (formulation/bigm.py) and interval arithmetic (formulation/intervals.py): the encoding of
y = max(g, a g) is exact for relu and leaky_relu, stable units get no binary, smooth activations are refused by
name, and the exact methods give true certified answers on leaky_relu networks."""
import numpy as np
import pytest

from nnlab.engine.model.network import initial_snapshot, snapshot_from_layers
from nnlab.engine.model.scene import InitSpec, NetworkSpec
from nnlab.engine.optimize import run_method, run_to_result
from nnlab.engine.optimize.formulation.bigm import BigMModel, network_model
from nnlab.engine.optimize.formulation.bounds import lp_bounds
from nnlab.engine.optimize.formulation.intervals import interval_bounds
from nnlab.engine.optimize.heuristics.sampling import solve_free_milp
from nnlab.errors import NnlabError


def net_of(act, seed, n0=2, hidden=(8, 8)):
    return initial_snapshot(NetworkSpec(n0, hidden, activation=act), InitSpec(scheme="torch_default", seed=seed))


def grid_values(net, lo, hi, res=301):
    g = np.stack(np.meshgrid(np.linspace(lo[0], hi[0], res), np.linspace(lo[1], hi[1], res)), -1).reshape(-1, 2)
    return net.forward(g)


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
@pytest.mark.parametrize("seed", [0, 1])
def test_model_with_x_and_z_fixed_is_the_forward_pass(act, seed):
    """Fixing x and every z to the point's pattern leaves exactly one feasible value: the network's output there.
    Both max and min of the output over that model equal the forward pass (the rows force y = max(g, a g))."""
    net = net_of(act, seed, n0=3)
    lo, hi = -np.ones(3), np.ones(3)
    for x in np.random.default_rng(seed).uniform(-1, 1, (4, 3)):
        model = network_model(net, lo, hi)
        model.h.changeColsBounds(3, np.arange(3, dtype=np.int32), x, x)
        pre = net.preactivations(x[None])
        model.fix_z({(k, j): int(g[0, j] > 0) for k, g in enumerate(pre) for j in range(g.shape[1])})
        for sense in ("max", "min"):
            model.set_objective(net.weights[-1][0], float(net.biases[-1][0]), sense)
            model.h.run()
            assert model.h.getInfo().objective_function_value == pytest.approx(float(net.forward(x)), abs=1e-7)
        model.h.clear()


def test_leaky_off_side_is_a_times_g_not_zero():
    """y = leaky(x1 - 0.5) on [0, 1] (one unstable unit), output -y: the max is at x1 = 0, -0.01 * -0.5 = 0.005;
    a ReLU model would say 0 (the off side dropped). The unit gets one binary."""
    net = snapshot_from_layers([(np.array([[1.0, 0.0]]), np.array([-0.5])), (np.array([[-1.0]]), np.array([0.0]))],
                               "leaky_relu")
    lo, hi = np.zeros(2), np.ones(2)
    model = network_model(net, lo, hi)
    assert model.all_z().size == 1
    model.set_objective(net.weights[-1][0], 0.0, "max")
    model.make_integer()
    model.h.run()
    assert model.h.getInfo().objective_function_value == pytest.approx(0.005, abs=1e-9)
    res = run_to_result(run_method("milp", net, lo, hi, "max", params={"mip_gap": 1e-9}))
    assert res.status == "optimal" and res.value == pytest.approx(0.005, abs=1e-12) and res.x[0] == pytest.approx(0.0)


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_stable_units_get_no_binary(act):
    """Always-on units (bias 10 on [-1, 1]) and always-off ones (bias -10) are linear: no z at all, still exact."""
    w = np.vstack([np.eye(2), np.eye(2)])
    net = snapshot_from_layers([(w, np.array([10.0, 10.0, -10.0, -10.0])),
                                (np.array([[2.0, -3.0, 1.0, 1.0]]), np.array([0.0]))], act)
    lo, hi = -np.ones(2), np.ones(2)
    assert network_model(net, lo, hi).all_z().size == 0
    a = 0.0 if act == "relu" else 0.01
    for sense, x in (("max", [1.0, -1.0]), ("min", [-1.0, 1.0])):
        res = run_to_result(run_method("milp", net, lo, hi, sense))
        assert res.status == "optimal" and np.allclose(res.x, x)
        assert res.value == pytest.approx(float(net.forward(np.array(x))))
        assert res.value == pytest.approx(2 * (x[0] + 10) - 3 * (x[1] + 10) + a * (x[0] + x[1] - 20))


def test_smooth_activations_are_refused_by_name():
    net = net_of("tanh", 0)
    with pytest.raises(NnlabError, match="piecewise-linear.*tanh"):
        network_model(net, np.zeros(2), np.ones(2))
    with pytest.raises(NnlabError, match="piecewise-linear.*tanh"):
        interval_bounds(net, np.zeros(2), np.ones(2))
    with pytest.raises(NnlabError, match="tanh"):
        run_method("regions", net, np.zeros(2), np.ones(2))


def test_leaky_interval_bounds_by_hand():
    """g1 = x1 - 0.5 on [0, 1]: [-0.5, 0.5]; h1 = leaky(g1) in [-0.005, 0.5]; g2 = -2 h1 + 1 in [0, 1.01]."""
    net = snapshot_from_layers([(np.array([[1.0]]), np.array([-0.5])), (np.array([[-2.0]]), np.array([1.0])),
                                (np.array([[1.0]]), np.array([0.0]))], "leaky_relu")
    (L1, U1), (L2, U2) = interval_bounds(net, np.zeros(1), np.ones(1))
    assert (L1[0], U1[0]) == (-0.5, 0.5)
    assert L2[0] == pytest.approx(0.0) and U2[0] == pytest.approx(1.01)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_leaky_lp_bounds_are_valid_and_within_intervals(seed):
    net = net_of("leaky_relu", seed, n0=3, hidden=(10, 10, 10))
    lo, hi = -np.ones(3), np.ones(3)
    ib, lb = interval_bounds(net, lo, hi), lp_bounds(net, lo, hi)
    pre = net.preactivations(np.random.default_rng(seed).uniform(-1, 1, (4000, 3)))
    for (Li, Ui), (L, U), g in zip(ib, lb, pre):
        assert np.all(L >= Li - 1e-12) and np.all(U <= Ui + 1e-12)
        assert np.all(g >= L[None] - 1e-9) and np.all(g <= U[None] + 1e-9)


@pytest.mark.parametrize("sense", ["max", "min"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_leaky_exact_methods_agree_and_bound_the_grid(sense, seed):
    """milp (LP bounds and interval bounds) and regions, two independent exact methods, give the same certified
    optimum on leaky_relu nets; no grid point beats it and the bound is on the right side."""
    net = net_of("leaky_relu", seed)
    lo, hi = -np.ones(2), np.ones(2)
    s = 1.0 if sense == "max" else -1.0
    top = float(np.max(s * grid_values(net, lo, hi)))
    results = [run_to_result(run_method(m, net, lo, hi, sense, params=p))
               for m, p in (("milp", {"mip_gap": 1e-9}), ("milp", {"bounds": "interval", "mip_gap": 1e-9}),
                            ("regions", None))]
    for r in results:
        assert r.status == "optimal", r
        assert r.value == pytest.approx(float(net.forward(r.x)))
        assert s * r.value >= top - 1e-12 and s * r.bound >= s * r.value
    assert results[0].value == pytest.approx(results[2].value, abs=1e-6)
    assert results[1].value == pytest.approx(results[2].value, abs=1e-6)


def test_leaky_regions_affine_maps_match_the_network():
    from nnlab.engine.optimize.exact.regions import enumerate_regions

    net = net_of("leaky_relu", 5)
    rmap = enumerate_regions(net, -np.ones(2), np.ones(2))
    cen = np.array([p.mean(axis=0) for p in rmap.polygons])
    pred = rmap.affine[:, 0] * cen[:, 0] + rmap.affine[:, 1] * cen[:, 1] + rmap.affine[:, 2]
    assert np.allclose(pred, net.forward(cen), atol=1e-9)
    assert not np.allclose(pred, snapshot_from_layers(net.layers(), "relu").forward(cen), atol=1e-6)


@pytest.mark.parametrize("sense", ["max", "min"])
def test_eliminated_model_with_every_unit_free_is_the_leaky_optimum(sense):
    """Sampling's small MILP (BigMModel eliminate=True) with every unit free is the whole MILP."""
    net = net_of("leaky_relu", 7, hidden=(6, 6))
    lo, hi = np.zeros(2), np.ones(2)
    pat = [g[0] > 0 for g in net.preactivations(np.array([[0.5, 0.5]]))]
    x, v = solve_free_milp(net, pat, [np.ones_like(a) for a in pat], lo, hi, sense, time_limit=20)
    ref = run_to_result(run_method("regions", net, lo, hi, sense))
    assert v == pytest.approx(float(net.forward(x))) and v == pytest.approx(ref.value, abs=1e-6)


def test_eliminated_model_has_columns_only_for_free_units():
    net = net_of("relu", 3, hidden=(6, 6))
    lo, hi = np.zeros(2), np.ones(2)
    model = BigMModel(lo, hi, eliminate=True)
    pat = [g[0] > 0 for g in net.preactivations(np.array([[0.5, 0.5]]))]
    free = [np.zeros(6, bool), np.zeros(6, bool)]
    free[1][:2] = True
    for (w, b), a, f in zip(net.layers()[:-1], pat, free):
        model.add_layer(w, b, fixed=~f, on=a)
    n_unstable = sum(u.size for *_, u in model.layers)
    assert n_unstable <= 2 and model.num_col == 2 + 2 * n_unstable


def test_leaky_zero_bias_net_takes_the_sector_path_and_agrees_with_milp():
    """Zero biases: every region is a sector from the origin (regions_cone), for leaky_relu as for relu."""
    from nnlab.engine.optimize.exact import regions_cone

    base = net_of("leaky_relu", 4)
    net = snapshot_from_layers([(w, np.zeros_like(b)) for w, b in base.layers()], "leaky_relu")
    lo, hi = -np.ones(2), np.ones(2)
    assert regions_cone.apex(net, lo, hi, 1e-12) is not None
    for sense in ("max", "min"):
        r = run_to_result(run_method("regions", net, lo, hi, sense))
        m = run_to_result(run_method("milp", net, lo, hi, sense, params={"mip_gap": 1e-9}))
        assert r.status == m.status == "optimal" and r.value == pytest.approx(m.value, abs=1e-6)


@pytest.mark.parametrize("dim", [2, 4])
def test_exact_on_a_leaky_net_takes_an_exact_path_that_handles_it_and_agrees_with_milp(dim: int) -> None:
    from nnlab.engine.model.network import initial_snapshot
    from nnlab.engine.model.scene import InitSpec, NetworkSpec
    from nnlab.engine.optimize import run_method, run_to_result

    net = initial_snapshot(NetworkSpec(input_dim=dim, hidden=(8, 8), activation="leaky_relu"),
                           InitSpec(scheme="torch_default", seed=3))
    for sense in ("max", "min"):
        ex = run_to_result(run_method("exact", net, [0.0] * dim, [1.0] * dim, sense, time_limit=30))
        mi = run_to_result(run_method("milp", net, [0.0] * dim, [1.0] * dim, sense, time_limit=30))
        assert ex.status == mi.status == "optimal"
        assert ex.extra["via"] == ("regions" if dim == 2 else "milp")
        assert ex.value == pytest.approx(mi.value, abs=1e-7)
        assert ex.value == pytest.approx(float(net.forward(ex.x[None, :])[0]), abs=1e-12)
