"""Input branch and bound (`bab`) and its CROWN bounds: soundness, known optima, agreement with regions / milp,
time limit, cancellation."""
import numpy as np

from nnlab.errors import NnlabError
import pytest

from nnlab.engine.model.network import initial_snapshot, snapshot_from_layers
from nnlab.engine.optimize import run_method, run_to_result
from nnlab.engine.optimize.base import BoundProgress, Incumbent
from nnlab.engine.optimize.formulation.bounds import interval_bounds
from nnlab.engine.optimize.formulation.crown import Crown
from nnlab.engine.model.scene import InitSpec, NetworkSpec

TIGHT = {"mip_gap": 1e-9}


def make(n0, hidden, scheme, seed):
    extra = {"bias": "zero"} if scheme == "xavier_uniform" else {}
    return initial_snapshot(NetworkSpec(n0, hidden), InitSpec(scheme=scheme, seed=seed, **extra))


def check(net, r, lo, hi):
    assert r.x is not None and np.all(r.x >= lo) and np.all(r.x <= hi)
    assert r.value == pytest.approx(float(net.forward(r.x)), rel=1e-9, abs=1e-12)
    assert r.method == "bab"
    h = np.asarray(r.x, np.float64)  # the value re-computed here, independent of NetSnapshot.forward
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        h = w @ h + b
        h = np.maximum(h, 0.0) if k < len(net.weights) - 1 else h
    assert r.value == pytest.approx(float(h[0]), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("scheme", ["torch_default", "xavier_uniform"])
@pytest.mark.parametrize("intermediate,alpha", [("crown", 0), ("ibp", 0), ("crown", 8)])
def test_crown_bound_is_sound_and_within_interval_bound(scheme, intermediate, alpha):
    net = make(4, (20, 20), scheme, 3)
    rng = np.random.default_rng(1)
    lo = rng.uniform(-1, 0.5, (24, 4))
    hi = lo + rng.uniform(0, 0.6, (24, 4))
    hi[0, 2] = lo[0, 2]  # a degenerate box too
    cr = Crown(net, intermediate, alpha)
    bb = cr.bounds(lo, hi)
    wl, bl = net.weights[-1][0], float(net.biases[-1][0])
    for i in range(lo.shape[0]):
        pts = np.vstack([rng.uniform(lo[i], hi[i], (3000, 4)), bb.corner[i]])
        vals = net.forward(pts)
        assert bb.ub[i] >= vals.max() - 1e-12
        # the linear bound A x + c holds at every sample, and the corner is where it is largest
        assert np.all(pts @ bb.A[i] + bb.c[i] >= vals - 1e-12)
        assert bb.corner[i] @ bb.A[i] + bb.c[i] == pytest.approx(bb.ub[i], abs=1e-12)
        L, U = interval_bounds(net, lo[i], hi[i])[-1]
        ibp = np.maximum(wl, 0) @ np.maximum(U, 0) + np.minimum(wl, 0) @ np.maximum(L, 0) + bl
        assert bb.ub[i] <= ibp + 1e-9
        for (Lc, Uc), g in zip(bb.layers, net.preactivations(pts)):  # hidden-layer bounds hold too
            assert np.all(g >= Lc[i] - 1e-12) and np.all(g <= Uc[i] + 1e-12)
    # a parent's bounds passed as `prev` only tighten
    bb2 = cr.bounds(lo, hi, [(L, U) for L, U in bb.layers])
    assert np.all(bb2.ub <= bb.ub + 1e-12)



@pytest.mark.parametrize("m,n,n2", [(1, 30, 20), (40, 30, 20), (60, 30, 5)])
@pytest.mark.parametrize("cached", [True, False])
def test_shared_rows_times_per_box_slopes_equal_the_plain_products(monkeypatch, m, n, n2, cached):
    """Crown._rows_times_slopes, each of its three ways (the cached right factor; rows scaled per box when they are
    few; w scaled per box), against pos diag(su_b) w + neg diag(sl_b) w summed term by term."""
    import torch

    from nnlab.engine.optimize.formulation import crown as crown_mod

    monkeypatch.setattr(crown_mod, "_PRODUCT_FLOATS", 10**9 if cached else 0)
    rng = np.random.default_rng(m + n + n2)
    lam, w = rng.normal(size=(m, n)), rng.normal(size=(n, n2))
    su, sl = rng.uniform(0, 1, (7, n)), (rng.uniform(0, 1, (7, n)) > 0.5).astype(float)
    pos, neg = np.maximum(lam, 0), np.minimum(lam, 0)
    want = np.einsum("rj,bj,ji->bri", pos, su, w) + np.einsum("rj,bj,ji->bri", neg, sl, w)
    cr = Crown(make(3, (4,), "torch_default", 0))
    T = lambda a: torch.from_numpy(a)  # noqa: E731
    for _ in range(2):  # the second call reuses the cached factor
        got = cr._rows_times_slopes(T(pos), T(neg), T(su), T(sl), T(w), 0).numpy()
        assert got.shape == (7, m, n2)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert bool(cr._products) == cached


@pytest.mark.parametrize("hidden", [(20, 20), (30, 12, 25)])
def test_crown_bounds_agree_whichever_way_the_rows_are_multiplied(monkeypatch, hidden):
    from nnlab.engine.optimize.formulation import crown as crown_mod

    net = make(5, hidden, "torch_default", 4)
    rng = np.random.default_rng(2)
    lo = rng.uniform(-1, 0.5, (40, 5))
    hi = lo + rng.uniform(0, 0.8, (40, 5))
    cached = Crown(net, alpha_iters=3).bounds(lo, hi)
    monkeypatch.setattr(crown_mod, "_PRODUCT_FLOATS", 0)
    plain = Crown(net, alpha_iters=3).bounds(lo, hi)
    np.testing.assert_allclose(cached.ub, plain.ub, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cached.A, plain.A, rtol=1e-12, atol=1e-12)
    for (L1, U1), (L2, U2) in zip(cached.layers, plain.layers):
        np.testing.assert_allclose(L1, L2, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(U1, U2, rtol=1e-12, atol=1e-12)

def bump(n0):
    """1 - sum |x_i - c_i|: max 1 at c (interior, every ReLU at its kink); min at the farthest corner of [-1, 1]^n."""
    c = np.array([0.3, -0.2, 0.1, 0.4, -0.35][:n0])
    W = np.vstack([np.eye(n0), -np.eye(n0)])
    return snapshot_from_layers([(W, np.concatenate([-c, c])), (-np.ones((1, 2 * n0)), np.array([1.0]))]), c


def two_layer_hand():
    """relu(relu(x1) - relu(x1 - 0.5) - 0.25): max 0.25 for x1 >= 0.5, min 0."""
    return snapshot_from_layers([(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0.0, -0.5])),
                                 (np.array([[1.0, -1.0]]), np.array([-0.25])),
                                 (np.array([[1.0]]), np.array([0.0]))])


@pytest.mark.parametrize("sense", ["max", "min"])
@pytest.mark.parametrize("warm", [True, False])
def test_known_optima(sense, warm):
    net5, c = bump(5)
    lo5, hi5 = -np.ones(5), np.ones(5)
    cases = [(net5, lo5, hi5, {"max": 1.0, "min": 1 - np.sum(1 + np.abs(c))}),
             (two_layer_hand(), -np.ones(2), np.ones(2), {"max": 0.25, "min": 0.0})]
    for net, lo, hi, want in cases:
        r = run_to_result(run_method("bab", net, lo, hi, sense, 30, 0, {"warm_start": warm, **TIGHT}))
        assert r.status == "optimal"
        assert r.value == pytest.approx(want[sense], abs=1e-7)
        sgn = 1 if sense == "max" else -1
        assert sgn * (r.bound - want[sense]) >= -1e-9 and abs(r.bound - want[sense]) <= 1e-6
        check(net, r, lo, hi)
    r = run_to_result(run_method("bab", net5, lo5, hi5, "max", 30, 0, {"warm_start": warm, **TIGHT}))
    np.testing.assert_allclose(r.x, c, atol=1e-6)


@pytest.mark.parametrize("scheme", ["torch_default", "xavier_uniform"])
@pytest.mark.parametrize("seed", [1, 2])
def test_agrees_with_regions_in_2d(scheme, seed):
    net = make(2, (12, 12), scheme, seed)
    lo, hi = np.array([-1.0, 0.0]), np.array([2.0, 1.0])
    for sense in ("max", "min"):
        rg = run_to_result(run_method("regions", net, lo, hi, sense))
        rb = run_to_result(run_method("bab", net, lo, hi, sense, 30, seed, TIGHT))
        assert rb.status == rg.status == "optimal"
        assert rb.value == pytest.approx(rg.value, rel=1e-6, abs=1e-6)
        sgn = 1 if sense == "max" else -1
        assert sgn * (rb.bound - rg.value) >= -1e-9
        check(net, rb, lo, hi)


@pytest.mark.parametrize("n0,hidden,scheme,seed", [(4, (12, 12), "torch_default", 1), (4, (12, 12), "xavier_uniform", 2),
                                                   (5, (16,), "torch_default", 3), (5, (10, 10), "xavier_uniform", 4)])
def test_agrees_with_milp_in_nd(n0, hidden, scheme, seed):
    net = make(n0, hidden, scheme, seed)
    lo, hi = -np.ones(n0), np.ones(n0)
    for sense in ("max", "min"):
        rm = run_to_result(run_method("milp", net, lo, hi, sense, 30, 0, TIGHT))
        rb = run_to_result(run_method("bab", net, lo, hi, sense, 30, 0, TIGHT))
        assert rm.status == rb.status == "optimal"
        assert rb.value == pytest.approx(rm.value, rel=1e-6, abs=1e-6)
        sgn = 1 if sense == "max" else -1
        assert sgn * (rb.bound - rm.value) >= -1e-6
        check(net, rb, lo, hi)


def test_exact_dispatches_nd_to_bab():
    net, c = bump(5)
    lo, hi = -np.ones(5), np.ones(5)
    r = run_to_result(run_method("exact", net, lo, hi, "min", 30))
    assert r.method == "exact" and r.extra["via"] == "bab" and r.status == "optimal"
    assert r.value == pytest.approx(1 - np.sum(1 + np.abs(c)), abs=1e-6)


def test_time_limit_returns_incumbent_and_valid_bound():
    net = make(10, (20, 20), "torch_default", 5)
    lo, hi = np.zeros(10), np.ones(10)
    truth = run_to_result(run_method("milp", net, lo, hi, "max", 60, 0, TIGHT))
    assert truth.status == "optimal"
    evs = []
    gen = run_method("bab", net, lo, hi, "max", 0.3, 0, {"mip_gap": 0.0, "lp_close": 0, "warm_start": False})
    try:
        while True:
            evs.append(next(gen))
    except StopIteration as stop:
        r = stop.value
    assert r.status == "time_limit"
    check(net, r, lo, hi)
    assert r.bound >= truth.value - 1e-9 and r.value <= truth.value + 1e-9 and r.gap is not None
    incs = [e for e in evs if isinstance(e, Incumbent)]
    assert incs and incs[-1].value == pytest.approx(r.value)
    progress = [e for e in evs if isinstance(e, BoundProgress)]
    assert progress and all(e.bound >= truth.value - 1e-9 for e in progress)


@pytest.mark.parametrize("threads", [1, 2])
def test_cancellation_mid_run(monkeypatch, threads):
    """Closing the search mid-run stops its work and frees what it held (the CROWN bounders, the HiGHS region LP,
    the bounding threads): no bound or LP runs after close(), no thread is left, and the search state is garbage
    once the generator is."""
    import gc
    import threading
    import weakref

    from nnlab.engine.optimize.exact import bab as bab_mod
    from nnlab.engine.optimize.formulation.regionlp import RegionLP

    counts = {"crown": 0, "lp": 0}
    names: set = set()  # the threads that bounded boxes
    searches: list = []
    real_bounds, real_solve, real_init = Crown.bounds, RegionLP.solve, bab_mod._Search.__init__

    def bounds(self, *a, **kw):
        counts["crown"] += 1
        names.add(threading.current_thread().name)
        return real_bounds(self, *a, **kw)

    def solve(self, *a, **kw):
        counts["lp"] += 1
        return real_solve(self, *a, **kw)

    def init(self, *a, **kw):
        real_init(self, *a, **kw)
        searches.append((weakref.ref(self), weakref.ref(self.crown), weakref.ref(self.lp)))

    monkeypatch.setattr(Crown, "bounds", bounds)
    monkeypatch.setattr(RegionLP, "solve", solve)
    monkeypatch.setattr(bab_mod._Search, "__init__", init)
    alive = set(threading.enumerate())
    net = make(10, (60, 60), "xavier_uniform", 1)
    gen = run_method("bab", net, np.zeros(10), np.ones(10), "max", 120.0, 0, {"threads": threads})
    n = 0
    for ev in gen:
        n += isinstance(ev, BoundProgress)
        if n >= 2 and counts["crown"] > 1:  # (the heuristics' incumbents may come between two progress reports)
            break
    assert counts["crown"] > 1 and len(searches) == 1  # the search was under way (the root and some branches)
    workers = {name for name in names if name.startswith("bab")}
    assert bool(workers) == (threads > 1)  # the bounding threads were there
    assert all(ref() is not None for ref in searches[0])
    before = dict(counts)
    gen.close()
    assert counts == before  # no CROWN bound or region LP after close
    assert not [t for t in threading.enumerate() if t.name.startswith("bab")]  # joined by close, not left to gc
    del gen, ev
    gc.collect()
    assert all(ref() is None for ref in searches[0])  # the search, its CROWN bounder and its HiGHS LP are freed
    assert set(threading.enumerate()) <= alive
    assert counts == before


def test_invalid_parameters():
    net, _ = bump(2)
    box = (-np.ones(2), np.ones(2))
    with pytest.raises(NnlabError, match="intermediate"):
        run_to_result(run_method("bab", net, *box, params={"intermediate": "magic"}))
    with pytest.raises(NnlabError, match="branching"):
        run_to_result(run_method("bab", net, *box, params={"branching": "magic"}))
    with pytest.raises(NnlabError, match="batch"):
        run_to_result(run_method("bab", net, *box, params={"batch": 0}))
    with pytest.raises(NnlabError, match="mip_gap"):
        run_to_result(run_method("bab", net, *box, params={"mip_gap": 2.0}))


@pytest.mark.parametrize("n0,hidden,scheme,seed", [(5, (16, 16), "torch_default", 1), (8, (12, 12, 12), "xavier_uniform", 2),
                                                   (10, (20, 20), "torch_default", 3)])
def test_warm_started_alpha_lite_bounds_are_sound(n0, hidden, scheme, seed):
    """alpha-lite from given slopes (a parent's, random ones, out-of-range and nan entries): every box's bound
    holds at dense samples and the corners, is never looser than CROWN's, and the slopes it returns are in [0, 1]
    and give back that bound (to float32 rounding: slopes are stored so) when evaluated again."""
    net = make(n0, hidden, scheme, seed)
    rng = np.random.default_rng(seed)
    B = 12
    lo = rng.uniform(0, 0.6, (B, n0))
    hi = lo + rng.uniform(0.05, 0.4, (B, n0))
    plain = Crown(net).bounds(lo, hi)
    init = [rng.uniform(-0.5, 1.5, (B, n)).astype(np.float32) for n in hidden]
    for a in init:
        a[rng.random(a.shape) < 0.3] = np.nan
    for iters, start in [(5, None), (5, init), (1, init)]:
        bb = Crown(net, alpha_iters=iters).bounds(lo, hi, None, start)
        assert np.all(bb.ub <= plain.ub + 1e-12)
        for i in range(B):
            pts = np.vstack([rng.uniform(lo[i], hi[i], (20000, n0)), bb.corner[i],
                             np.where(rng.random((256, n0)) < 0.5, lo[i], hi[i])])
            assert bb.ub[i] >= net.forward(pts).max()
        assert all(np.all((s >= 0) & (s <= 1)) for s in bb.slopes)
        again = Crown(net, alpha_iters=1).bounds(lo, hi, None, bb.slopes)
        assert np.all(again.ub <= bb.ub + 1e-6 * (1 + np.abs(bb.ub)))  # slopes stored in float32


@pytest.mark.parametrize("n0,hidden,scheme,seed", [(5, (16, 16), "torch_default", 1), (6, (10, 10, 10), "xavier_uniform", 2),
                                                   (8, (12, 12), "torch_default", 3)])
def test_certified_never_worse_than_long_multistart(n0, hidden, scheme, seed):
    """bab with its warm-started alpha-lite (the default) and without: both certify the same optimum, which is a
    forward pass at its point and never worse than a 2000-start multistart or dense sampling; the bound too."""
    net = make(n0, hidden, scheme, seed)
    lo, hi = np.zeros(n0), np.ones(n0)
    pts = np.random.default_rng(seed).uniform(lo, hi, (100000, n0))
    for sense in ("max", "min"):
        sgn = 1 if sense == "max" else -1
        ms = run_to_result(run_method("gradient", net, lo, hi, sense, 60, 5, {"starts": 2000, "steps": 300}))
        best_seen = max(sgn * ms.value, float((sgn * net.forward(pts)).max()))
        res = [run_to_result(run_method("bab", net, lo, hi, sense, 60, 0, {"alpha_iters": a, **TIGHT}))
               for a in (3, 0)]
        for r in res:
            assert r.status == "optimal"
            check(net, r, lo, hi)
            assert sgn * r.value >= best_seen - 1e-12 and sgn * r.bound >= best_seen
        assert res[0].value == pytest.approx(res[1].value, rel=1e-6, abs=1e-6)


def test_cancel_by_send_returns_best_so_far_with_its_bound(cancel_after_progress):
    """gen.send(True) stops the search at its next step: status cancelled, the incumbent so far, a sound bound."""
    net = make(10, (30, 30), "xavier_uniform", 5)
    lo, hi = np.zeros(10), np.ones(10)
    r = cancel_after_progress(run_method("bab", net, lo, hi, "max", 120.0, 0, {"mip_gap": 0.0}))
    assert r.status == "cancelled" and r.seconds < 60
    check(net, r, lo, hi)
    pts = np.random.default_rng(0).uniform(lo, hi, (50000, 10))
    assert r.bound >= net.forward(pts).max() and r.bound >= r.value


@pytest.mark.parametrize("method", ["exact", "relu_bab", "milp"])
def test_an_open_search_takes_the_heuristics_incumbents(method):
    """On a 10-100-100-1 Xavier net the warm start's incumbent (0.28177) stayed below what gradient and walk find
    in under a second (0.28581-0.28582) for the whole search: an open search now runs them once and its value is
    never worse than theirs, a forward pass at its point."""
    net = initial_snapshot(NetworkSpec(10, (100, 100)), InitSpec(scheme="xavier_uniform", seed=1, bias="zero"))
    lo, hi = np.zeros(10), np.ones(10)
    limit = 10.0 if method == "milp" else 5.0  # (its LP bounds take seconds before the heuristics run)
    r = run_to_result(run_method(method, net, lo, hi, "max", limit, 0, {}))
    assert r.status == "time_limit" and r.bound >= r.value
    assert r.value == pytest.approx(float(net.forward(r.x)), rel=0, abs=0)
    for h in ("gradient", "walk"):
        assert r.value >= run_to_result(run_method(h, net, lo, hi, "max", limit, 0, {})).value


def test_cone_reduction_drops_and_flattens_sub_boxes():
    """search.Cone over [-1, 2] x [0, 1] x [0, 3]: the outer faces are x1 = -1, x1 = 2, x2 = 1, x3 = 3."""
    from nnlab.engine.optimize.exact.search import Cone

    net = make(3, (6,), "xavier_uniform", 1)
    lo, hi = np.array([-1.0, 0.0, 0.0]), np.array([2.0, 1.0, 3.0])
    cone = Cone.of(net, lo, hi)
    assert cone is not None
    sub_lo = np.array([[-0.5, 0.0, 0.0],   # touches no outer face: dropped
                       [-0.5, 0.5, 0.0],   # x2 = 1 only: flattened onto it
                       [-1.0, 0.0, 0.0],   # x1 = -1 only: flattened onto it
                       [-0.5, 0.5, 1.0],   # x2 = 1 and x3 = 3: kept whole
                       [-1.0, 0.0, 0.0]])  # x1 = -1 and x1 = 2: kept whole
    sub_hi = np.array([[1.0, 0.5, 2.0], [1.0, 1.0, 2.0], [1.0, 0.5, 2.0], [1.0, 1.0, 3.0], [2.0, 0.5, 2.0]])
    rlo, rhi, keep = cone.reduce(sub_lo, sub_hi)
    assert keep.tolist() == [False, True, True, True, True]
    np.testing.assert_array_equal(rlo[1], [-0.5, 1.0, 0.0])
    np.testing.assert_array_equal(rhi[1], sub_hi[1])
    np.testing.assert_array_equal(rlo[2], sub_lo[2])
    np.testing.assert_array_equal(rhi[2], [-1.0, 0.5, 2.0])
    np.testing.assert_array_equal(rlo[3:], sub_lo[3:])
    np.testing.assert_array_equal(rhi[3:], sub_hi[3:])
    np.testing.assert_array_equal(sub_lo[1], [-0.5, 0.5, 0.0])  # the caller's arrays are not changed


def test_cone_reduction_holds_only_for_cones_over_boxes_holding_the_origin():
    from nnlab.engine.optimize.exact.search import Cone

    net = make(3, (6,), "xavier_uniform", 1)
    lo, hi = np.zeros(3), np.ones(3)
    assert Cone.of(net, lo, hi) is not None
    assert Cone.of(make(3, (6,), "torch_default", 1), lo, hi) is None  # biases: not homogeneous
    ws, bs = list(net.weights), list(net.biases)
    bs[-1] = np.array([1e-12])
    assert Cone.of(snapshot_from_layers(list(zip(ws, bs))), lo, hi) is None  # one tiny output bias is enough
    assert Cone.of(net, lo + 0.1, hi) is None  # the origin is outside the box
    assert Cone.of(net, np.zeros(3), np.zeros(3)) is None  # a point
    tanh = snapshot_from_layers(list(zip(net.weights, net.biases)), activation="tanh")
    assert Cone.of(tanh, lo, hi) is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cone_search_agrees_with_milp(seed):
    """Zero-bias nets over boxes holding the origin (as a corner, inside, on a face), max and min: the reduced
    search finds the MILP's optimum, with a bound on the right side, and does reduce boxes."""
    rng = np.random.default_rng(seed)
    n0 = 3 + seed % 3
    net = make(n0, (10, 10), "xavier_uniform", seed)
    boxes = [(np.zeros(n0), np.ones(n0)), (-np.ones(n0), 0.5 * np.ones(n0)),
             (np.where(rng.random(n0) < 0.5, 0.0, -rng.uniform(0.2, 1, n0)), rng.uniform(0.2, 1.5, n0))]
    flattened = 0
    for lo, hi in boxes:
        for sense in ("max", "min"):
            rm = run_to_result(run_method("milp", net, lo, hi, sense, 30, 0, TIGHT))
            rb = run_to_result(run_method("bab", net, lo, hi, sense, 30, 0, {**TIGHT, "warm_start": False}))
            assert rm.status == rb.status == "optimal" and rb.extra["cone"]
            assert rb.value == pytest.approx(rm.value, rel=1e-6, abs=1e-6)
            sgn = 1 if sense == "max" else -1
            assert sgn * (rb.bound - rm.value) >= -1e-9
            check(net, rb, lo, hi)
            flattened += rb.extra["cone_flattened"]
            js = rb.to_json()["search"]  # what `nnlab optimize --json` prints
            assert js["cone"] is True and js["boxes"] == rb.extra["boxes"]
            assert js["cone_flattened"] == rb.extra["cone_flattened"] and js["cone_dropped"] >= 0
            off = run_to_result(run_method("bab", net, lo, hi, sense, 30, 0, {**TIGHT, "cone": False}))
            assert off.value == pytest.approx(rm.value, rel=1e-6, abs=1e-6) and off.to_json()["search"]["cone"] is False
    assert flattened > 0


def test_cone_search_finds_the_origin_when_no_face_beats_it(monkeypatch):
    """f = -|x|_1 over [-1, 2]^3: f <= -1 on every outer face, the maximum 0 is at the origin only (not a corner
    or centre of any sub-box); the sub-boxes near it touch no outer face and are dropped, so the search must
    offer the origin itself (search.Cone). The region-LP walks would also reach it (every linear region of a cone
    is a cone with its apex at 0): they are switched off here."""
    from nnlab.engine.optimize.exact.search import BestFirst

    monkeypatch.setattr(BestFirst, "polish", lambda self, deadline=None: None)
    net = snapshot_from_layers([(np.vstack([np.eye(3), -np.eye(3)]), np.zeros(6)), (-np.ones((1, 6)), np.zeros(1))])
    lo, hi = -np.ones(3), 2 * np.ones(3)
    r = run_to_result(run_method("bab", net, lo, hi, "max", 30, 0, {**TIGHT, "warm_start": False, "lp_close": 0}))
    assert r.status == "optimal" and r.extra["cone"]
    assert r.value == 0.0 and abs(r.bound) <= 1e-9
    np.testing.assert_array_equal(r.x, np.zeros(3))


SMART_STALLED = [  # (seed of a zero-bias net, hidden, box, sense, bab parameters): smart branching stalled on these
    (499277, (17,), [-1.39949543, 0.0, 0.0], [0.81594603, 1.02798013, 0.48543234], "max",
     {"lp_close": 0, "alpha_iters": 0, "warm_start": False}),
    (157626, (15,), [-0.40916899, -0.35814687, -0.34226361, -0.55160213, -0.62848652, -1.33563567],
     [0.81179765, 0.21043768, 0.0, 0.27832196, 0.24235453, 0.90153074], "min",
     {"lp_close": 2, "alpha_iters": 0, "batch": 4, "warm_start": True})]


@pytest.mark.parametrize("case", range(len(SMART_STALLED)))
@pytest.mark.parametrize("cone", [False, True])
def test_smart_branching_splits_the_wide_dimension_too(case, cone):
    """Nets where smart branching split dimensions already ~1e-7 wide, each split lowering the bound a little,
    and never the wide one the bound needed: 3-17-1, 4 million boxes in 10 s, not proved (bound 0.731976 against
    0.731895; score branching proves it in 159); 6-15-1, 586k boxes in 15 s (score branching: 9765)."""
    seed, hidden, lo, hi, sense, par = SMART_STALLED[case]
    lo, hi = np.array(lo), np.array(hi)
    net = make(lo.size, hidden, "xavier_uniform", seed)
    r = run_to_result(run_method("bab", net, lo, hi, sense, 20, 0, {**TIGHT, **par, "branching": "smart",
                                                                    "cone": cone}))
    assert r.status == "optimal" and r.extra["boxes"] < 200_000
    rm = run_to_result(run_method("milp", net, lo, hi, sense, 30, 0, TIGHT))
    assert r.value == pytest.approx(rm.value, abs=1e-7)
    check(net, r, lo, hi)


def test_threads_bound_each_box_as_one_thread_does():
    """bab's bounding threads (`threads`): each part of a step's boxes bounded by its own CROWN bounder gives the
    bounds one bounder gives the whole batch; and the search agrees with the MILP whatever the thread count."""
    import threading

    from nnlab.engine.optimize.exact.bab import BabParams, _Search

    net = make(5, (20, 20), "torch_default", 4)
    lo, hi = -np.ones(5), np.ones(5)
    rng = np.random.default_rng(0)
    blo = rng.uniform(-1, 0.5, (300, 5))
    bhi = np.minimum(blo + rng.uniform(0.05, 0.5, (300, 5)), 1.0)
    one = Crown(net, "crown", 3).bounds(blo, bhi, None, None)
    s = _Search(net, lo, hi, BabParams(threads=3))
    assert len(s.crowns) == 3
    par = s._bounds(blo, bhi, None, None)
    assert not [t for t in threading.enumerate() if t.name.startswith("bab")]  # joined when the call returns
    np.testing.assert_allclose(par.ub, one.ub, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(par.A, one.A, rtol=1e-12, atol=1e-12)
    for (L1, U1), (L2, U2) in zip(par.layers, one.layers):
        np.testing.assert_allclose(L1, L2, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(U1, U2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(par.slopes[0], one.slopes[0], atol=1e-6)
    rm = run_to_result(run_method("milp", net, lo, hi, "max", 30, 0, TIGHT))
    for threads in (1, 2, 3):
        r = run_to_result(run_method("bab", net, lo, hi, "max", 30, 0, {**TIGHT, "threads": threads}))
        assert r.status == "optimal" and r.value == pytest.approx(rm.value, rel=1e-6, abs=1e-6)
        check(net, r, lo, hi)
    import torch

    from nnlab.engine.optimize.exact import bab as bab_mod

    old = torch.get_num_threads()
    try:  # threads = 0: torch's thread count, capped (each thread holds its own CROWN bounder and product cache)
        torch.set_num_threads(bab_mod.AUTO_THREADS + 4)
        s = _Search(net, lo, hi, BabParams())
        assert len(s.crowns) == bab_mod.AUTO_THREADS
        torch.set_num_threads(1)
        s = _Search(net, lo, hi, BabParams())
        assert len(s.crowns) == 1
    finally:
        torch.set_num_threads(old)
    with pytest.raises(NnlabError, match="threads"):
        run_to_result(run_method("bab", net, lo, hi, "max", 30, 0, {"threads": -1}))


def test_a_plateau_maximum_is_closed_by_the_box_milp():
    """A 4-5-6-1 zero-bias net whose maximum 0 is reached on a whole region (f <= 0 = f(0)): CROWN bounds of the
    boxes along that region's boundary stay a little above 0 however small they are split (bound 4.1e-6 after
    243k boxes in 10 s, not proved); the root box's MILP (11 unstable ReLUs) proves it at once."""
    net = make(4, (5, 6), "xavier_uniform", 178916)
    lo = np.array([-1.05329589, -0.44138513, 0.0, -0.15005622])
    hi = np.array([0.75718194, 1.46597871, 1.31067832, 1.04685002])
    r = run_to_result(run_method("bab", net, lo, hi, "max", 10, 0, {"lp_close": 1, "warm_start": False}))
    assert r.status == "optimal" and r.extra["milps"] >= 1 and r.seconds < 5
    assert r.value == 0.0 and 0.0 <= r.bound <= 1e-6
    check(net, r, lo, hi)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_box_milps_agree_with_the_milp(seed):
    """Small nets (with biases) whose root box has at most milp_close unstable ReLUs: closed by that box's MILP,
    the value is the MILP method's and the bound lies on the right side of it."""
    net = make(3, (4, 4), "torch_default", seed)
    lo, hi = -2 * np.ones(3), 2 * np.ones(3)
    for sense in ("max", "min"):
        rm = run_to_result(run_method("milp", net, lo, hi, sense, 30, 0, TIGHT))
        rb = run_to_result(run_method("bab", net, lo, hi, sense, 30, 0, {"lp_close": 0, "warm_start": False}))
        assert rm.status == rb.status == "optimal" and rb.extra["milps"] >= 1
        assert rb.value == pytest.approx(rm.value, rel=1e-6, abs=1e-6)
        sgn = 1 if sense == "max" else -1
        assert sgn * (rb.bound - rm.value) >= -1e-9
        check(net, rb, lo, hi)
    with pytest.raises(NnlabError, match="milp_close"):
        run_to_result(run_method("bab", net, lo, hi, "max", 30, 0, {"milp_close": -1}))
