"""ReLU branch and bound (`relu_bab`) and its alpha-beta-CROWN bounds: soundness on split sub-problems (float64 and
float32), known optima, agreement with the 2-D enumeration and the MILP, never worse than a long multistart, the
`exact` dispatcher, time limit and cancellation."""
import numpy as np
import pytest
import torch

from nnlab.engine.model.network import initial_snapshot, snapshot_from_layers
from nnlab.engine.model.scene import InitSpec, NetworkSpec
from nnlab.engine.optimize import run_method, run_to_result
from nnlab.engine.optimize.base import BoundProgress, Incumbent
from nnlab.engine.optimize.formulation.alpha_beta import AlphaBetaCrown
from nnlab.engine.optimize.formulation.crown import Crown
from nnlab.errors import NnlabError

TIGHT = {"mip_gap": 1e-9}


def make(n0, hidden, scheme, seed):
    extra = {"bias": "zero"} if scheme == "xavier_uniform" else {}
    return initial_snapshot(NetworkSpec(n0, hidden), InitSpec(scheme=scheme, seed=seed, **extra))


def forward_by_hand(net, x):
    h = np.asarray(x, np.float64)
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        h = w @ h + b
        h = np.maximum(h, 0.0) if k < len(net.weights) - 1 else h
    return float(h[0])


def check(net, r, lo, hi, method="relu_bab"):
    assert r.method == method
    assert r.x is not None and np.all(r.x >= lo) and np.all(r.x <= hi)
    assert r.value == pytest.approx(forward_by_hand(net, r.x), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("scheme", ["torch_default", "xavier_uniform"])
def test_split_bounds_are_sound(dtype, scheme):
    """Random sign splits of a few neurons: the output bound holds at every sampled point of the sub-problem's domain
    (the box points whose pre-activations have the split signs), with and without optimised slopes and multipliers;
    the root bound is at least as tight as plain CROWN."""
    net = make(4, (16, 16), scheme, 3)
    lo, hi = -np.ones(4), np.ones(4)
    ab = AlphaBetaCrown(net, lo, hi, dtype)
    Ls, Us = ab.root(20)
    rng = np.random.default_rng(0)
    pts = rng.uniform(lo, hi, (40000, 4))
    pre = net.preactivations(pts)
    vals = net.forward(pts)
    for (L, U), g in zip(zip(Ls, Us), pre):
        assert np.all(g >= L.numpy()) and np.all(g <= U.numpy())
    root = ab.output(Ls, Us, [torch.zeros_like(L) for L in Ls], None, None, iters=30)
    assert float(root.ub[0]) >= vals.max()
    assert float(root.ub[0]) <= Crown(net).bounds(lo[None], hi[None]).ub[0] + 1e-12
    B = 24
    Lb = [L.expand(B, -1).clone() for L in Ls]
    Ub = [U.expand(B, -1).clone() for U in Us]
    sp = [torch.zeros(B, n, dtype=torch.float64) for n in net.widths]
    masks = []
    for i in range(B):
        mask = np.ones(pts.shape[0], bool)
        for _ in range(3):
            k = int(rng.integers(len(net.widths)))
            j = int(rng.integers(net.widths[k]))
            s = 1.0 if pre[k][:, j].mean() < 0 or rng.random() < 0.5 else -1.0  # some splits empty or nearly
            sp[k][i, j] = s
            if s > 0:
                Lb[k][i, j] = max(float(Lb[k][i, j]), 0.0)
                mask &= pre[k][:, j] >= 0
            else:
                Ub[k][i, j] = min(float(Ub[k][i, j]), 0.0)
                mask &= pre[k][:, j] <= 0
        masks.append(mask)
    Lr, Ur = ab.refine(Lb, Ub, 0)
    for iters in (0, 25):
        nb = ab.output(Lr, Ur, sp, None, None, iters=iters)
        for i, mask in enumerate(masks):
            if mask.any():
                assert float(nb.ub[i]) >= vals[mask].max()
                for (L, U), g in zip(zip(Lr, Ur), pre):
                    assert np.all(g[mask] >= L[i].numpy()) and np.all(g[mask] <= U[i].numpy())
    assert any(float(b) > 0 for b in torch.cat([b.reshape(-1) for b in nb.beta]))  # beta was used


def bump(n0):
    """1 - sum |x_i - c_i|: max 1 at c (interior, every ReLU at its kink); min at the farthest corner of [-1, 1]^n."""
    c = np.resize([0.3, -0.2, 0.1, 0.4, -0.35, 0.25, -0.15], n0)
    W = np.vstack([np.eye(n0), -np.eye(n0)])
    return snapshot_from_layers([(W, np.concatenate([-c, c])), (-np.ones((1, 2 * n0)), np.array([1.0]))]), c


def deep_hand():
    """relu(relu(x1) - relu(x1 - 0.5) - 0.25) + 0 * x_rest: max 0.25 for x1 >= 0.5, min 0 (7 inputs)."""
    W1 = np.zeros((2, 7))
    W1[:, 0] = 1.0
    return snapshot_from_layers([(W1, np.array([0.0, -0.5])), (np.array([[1.0, -1.0]]), np.array([-0.25])),
                                 (np.array([[1.0]]), np.array([0.0]))])


@pytest.mark.parametrize("sense", ["max", "min"])
@pytest.mark.parametrize("branching", ["babsr", "fsb"])
def test_known_optima(sense, branching):
    net7, c = bump(7)
    box7 = (-np.ones(7), np.ones(7))
    cases = [(net7, box7, {"max": 1.0, "min": 1 - np.sum(1 + np.abs(c))}),
             (deep_hand(), box7, {"max": 0.25, "min": 0.0})]
    for net, (lo, hi), want in cases:
        r = run_to_result(run_method("relu_bab", net, lo, hi, sense, 60, 0,
                                     {"branching": branching, "warm_start": False, **TIGHT}))
        assert r.status == "optimal"
        assert r.value == pytest.approx(want[sense], abs=1e-7)
        sgn = 1 if sense == "max" else -1
        assert sgn * (r.bound - want[sense]) >= 0 and abs(r.bound - want[sense]) <= 1e-6
        check(net, r, lo, hi)


@pytest.mark.parametrize("branching,extra", [("input", {}), ("hybrid", {}), ("babsr", {"max_bytes": 0}),
                                            ("fsb", {"max_bytes": 20_000})])
def test_input_and_hybrid_splitting_agree_with_milp(branching, extra):
    """Every branching agrees with the MILP; max_bytes = 0 (no slopes kept in open nodes: the memory cap's
    fallback) too, and a cap reached mid-search (batches mixing nodes with and without their slopes)."""
    net = make(6, (12, 12), "torch_default", 4)
    lo, hi = -np.ones(6), np.ones(6)
    for sense in ("max", "min"):
        rb = run_to_result(run_method("relu_bab", net, lo, hi, sense, 60, 0,
                                      {"branching": branching, **extra, **TIGHT}))
        rm = run_to_result(run_method("milp", net, lo, hi, sense, 60, 0, TIGHT))
        assert rb.status == rm.status == "optimal" and rb.extra["branching"] == branching
        assert rb.value == pytest.approx(rm.value, rel=1e-6, abs=1e-6)
        sgn = 1 if sense == "max" else -1
        assert sgn * (rb.bound - rm.value) >= -1e-7
        check(net, rb, lo, hi)


@pytest.mark.parametrize("scheme,seed", [("torch_default", 1), ("xavier_uniform", 2)])
def test_agrees_with_regions_in_2d(scheme, seed):
    net = make(2, (12, 12), scheme, seed)
    lo, hi = np.array([-1.0, 0.0]), np.array([2.0, 1.0])
    for sense in ("max", "min"):
        rg = run_to_result(run_method("regions", net, lo, hi, sense))
        rb = run_to_result(run_method("relu_bab", net, lo, hi, sense, 60, seed, {"lp_close": 0, **TIGHT}))
        assert rb.status == rg.status == "optimal"
        assert rb.value == pytest.approx(rg.value, rel=1e-6, abs=1e-6)
        sgn = 1 if sense == "max" else -1
        assert sgn * (rb.bound - rg.value) >= 0
        check(net, rb, lo, hi)


@pytest.mark.parametrize("n0,hidden,scheme,seed,dtype", [(6, (12, 12), "torch_default", 1, "float64"),
                                                         (8, (10, 10), "xavier_uniform", 2, "float32"),
                                                         (10, (16,), "torch_default", 3, "float64")])
def test_never_worse_than_long_multistart_and_agrees_with_milp(n0, hidden, scheme, seed, dtype):
    net = make(n0, hidden, scheme, seed)
    lo, hi = np.zeros(n0), np.ones(n0)
    for sense in ("max", "min"):
        sgn = 1 if sense == "max" else -1
        rb = run_to_result(run_method("relu_bab", net, lo, hi, sense, 60, 0, {"dtype": dtype, **TIGHT}))
        assert rb.status == "optimal"
        check(net, rb, lo, hi)
        ms = run_to_result(run_method("gradient", net, lo, hi, sense, 60, 5, {"starts": 2000, "steps": 300}))
        pts = np.random.default_rng(seed).uniform(lo, hi, (100000, n0))
        best_seen = max(sgn * ms.value, float((sgn * net.forward(pts)).max()))
        assert sgn * rb.value >= best_seen - 1e-12 and sgn * rb.bound >= best_seen
        rm = run_to_result(run_method("milp", net, lo, hi, sense, 60, 0, TIGHT))
        assert rm.status == "optimal"
        assert rb.value == pytest.approx(rm.value, rel=1e-6, abs=1e-6)
        assert sgn * (rb.bound - rm.value) >= -1e-7 and sgn * (rm.bound - rb.value) >= -1e-7


def test_exact_picks_the_path_and_says_why():
    from nnlab.engine.optimize.exact.auto import INPUT_SPLIT_MAX

    n = INPUT_SPLIT_MAX + 1
    netn, c = bump(n)
    r = run_to_result(run_method("exact", netn, -np.ones(n), np.ones(n), "min", 60))
    assert r.method == "exact" and r.extra["via"] == "relu_bab" and "ReLU splitting" in r.extra["why"]
    assert r.status == "optimal" and r.value == pytest.approx(1 - np.sum(1 + np.abs(c)), abs=1e-6)
    net3 = make(3, (8,), "torch_default", 1)
    r = run_to_result(run_method("exact", net3, np.zeros(3), np.ones(3), "max", 60))
    assert r.extra["via"] == "bab" and "input splitting" in r.extra["why"]
    r = run_to_result(run_method("exact", net3, np.zeros(3), np.ones(3), "max", 60, 0, {"nd": "relu_bab"}))
    assert r.extra["via"] == "relu_bab" and r.status == "optimal"
    with pytest.raises(NnlabError, match="nd"):
        run_to_result(run_method("exact", net3, np.zeros(3), np.ones(3), params={"nd": "magic"}))


@pytest.fixture(scope="module")
def open_problem():
    """A 10-30-30-1 zero-bias net whose max relu_bab does not prove within a second, with the MILP's optimum."""
    net = make(10, (30, 30), "xavier_uniform", 5)
    lo, hi = np.zeros(10), np.ones(10)
    truth = run_to_result(run_method("milp", net, lo, hi, "max", 120, 0, TIGHT))
    assert truth.status == "optimal"
    return net, lo, hi, truth


def test_time_limit_reports_progress_history_and_a_valid_bound(open_problem):
    net, lo, hi, truth = open_problem
    evs = []
    gen = run_method("relu_bab", net, lo, hi, "max", 3.0, 0,
                     {"mip_gap": 0.0, "lp_close": 0, "warm_start": False, "batch": 4})
    try:
        while True:
            evs.append(next(gen))
    except StopIteration as stop:
        r = stop.value
    assert r.status == "time_limit"
    check(net, r, lo, hi)
    assert r.bound >= truth.value and r.value <= truth.value + 1e-12 and r.gap is not None
    assert r.extra["nodes"] > 1 and r.extra["branching"] == "fsb" and r.bound <= r.extra["root_bound"] + 1e-9
    hist = r.extra["bound_history"]
    assert len(hist) >= 2 and all(b >= truth.value for _, b, _ in hist)
    js = r.to_json()["search"]  # what `nnlab optimize --json` prints
    assert js["branching"] == "fsb" and js["nodes"] == r.extra["nodes"] and len(js["bound_history"]) == len(hist)
    assert isinstance(js["hull"], bool) and js["hull_gain"] is not None and (js["hull_gain"] > 0 or not js["hull"])
    assert all(h1[1] >= h2[1] for h1, h2 in zip(hist, hist[1:]))  # the anytime bound only tightens
    incs = [e for e in evs if isinstance(e, Incumbent)]
    assert incs and incs[-1].value == pytest.approx(r.value)
    progress = [e for e in evs if isinstance(e, BoundProgress)]
    assert progress and all(e.bound >= truth.value for e in progress if e.bound is not None)


def test_cancellation_mid_search_frees_the_search(monkeypatch):
    """Closing the generator mid-search stops its bounding: no alpha-beta bound runs after close() and the search
    (its bounder and HiGHS LP) is garbage once the generator is; the last progress event before it carried the
    best value so far and a valid bound."""
    import gc
    import weakref

    from nnlab.engine.optimize.exact import relu_bab as mod

    calls = {"n": 0}
    real_output, real_init = AlphaBetaCrown.output, mod._Search.__init__
    refs = []

    def output(self, *a, **kw):
        calls["n"] += 1
        return real_output(self, *a, **kw)

    def init(self, *a, **kw):
        real_init(self, *a, **kw)
        refs.append((weakref.ref(self), weakref.ref(self.ab), weakref.ref(self.lp)))

    monkeypatch.setattr(AlphaBetaCrown, "output", output)
    monkeypatch.setattr(mod._Search, "__init__", init)
    net = make(10, (40, 40), "xavier_uniform", 1)
    lo, hi = np.zeros(10), np.ones(10)
    gen = run_method("relu_bab", net, lo, hi, "max", 120.0, 0, {"batch": 8, "warm_start": False})
    seen = []
    for ev in gen:
        if isinstance(ev, BoundProgress):
            seen.append(ev)
            if len(seen) >= 3:
                break
    assert calls["n"] > 1 and len(refs) == 1
    last = seen[-1]
    pts = np.random.default_rng(0).uniform(lo, hi, (20000, 10))
    assert last.incumbent is not None and last.bound >= net.forward(pts).max() >= last.incumbent - 1.0
    before = calls["n"]
    gen.close()
    assert calls["n"] == before
    del gen, ev
    gc.collect()
    assert all(ref() is None for ref in refs[0])


def test_invalid_parameters():
    net, _ = bump(3)
    box = (-np.ones(3), np.ones(3))
    for params, match in [({"branching": "magic"}, "branching"), ({"dtype": "float16"}, "dtype"),
                          ({"batch": 0}, "batch"), ({"mip_gap": 2.0}, "mip_gap"), ({"lp_close": 11}, "lp_close")]:
        with pytest.raises(NnlabError, match=match):
            run_to_result(run_method("relu_bab", net, *box, params=params))


def test_cancel_by_send_returns_best_so_far_with_its_bound(open_problem, cancel_after_progress):
    """gen.send(True) stops the search at its next step and returns the incumbent so far with a valid bound."""
    net, lo, hi, truth = open_problem
    r = cancel_after_progress(run_method("relu_bab", net, lo, hi, "max", 120.0, 0, {"batch": 4, "mip_gap": 0.0}))
    assert r.status == "cancelled" and r.seconds < 60
    check(net, r, lo, hi)
    assert r.bound >= truth.value and r.value <= truth.value + 1e-12


def _slow_lps(monkeypatch, seconds):
    """Every region LP takes `seconds` longer: a loaded machine, where one batch's LP leaves used to run past the
    time limit (a 20-20-20-1 `exact` run with a 5 s limit took 9.1 s)."""
    import time

    from nnlab.engine.optimize.formulation.regionlp import RegionLP

    real = RegionLP.solve

    def solve(self, *a, **kw):
        time.sleep(seconds)
        return real(self, *a, **kw)

    monkeypatch.setattr(RegionLP, "solve", solve)


@pytest.mark.parametrize("method,shape,lp_seconds,limit", [("relu_bab", (20, (20, 20)), 0.03, 4.0),
                                                            ("bab", (6, (16, 16)), 0.6, 2.0)])
def test_time_limit_is_honoured_with_slow_leaves(monkeypatch, method, shape, lp_seconds, limit):
    """Every phase (warm start and its LP walk, the root, LP leaves of a batch, polishing) stops at the time limit:
    the run returns within limit + 2 s (a generous guard; before the fix these took 19.7 s and 6.2 s) with a sound
    bound and a forward-pass value."""
    import time

    _slow_lps(monkeypatch, lp_seconds)
    n0, hidden = shape
    net = make(n0, hidden, "torch_default", 1)
    lo, hi = np.zeros(n0), np.ones(n0)
    t0 = time.perf_counter()
    r = run_to_result(run_method(method, net, lo, hi, "max", limit, 0, {"mip_gap": 0.0}))
    wall = time.perf_counter() - t0
    assert r.status == "time_limit" and wall < limit + 2.0, wall
    check(net, r, lo, hi, method)
    pts = np.random.default_rng(0).uniform(lo, hi, (50000, n0))
    assert r.bound >= net.forward(pts).max() and r.bound >= r.value


def test_cancel_during_root_alpha_crown_is_prompt(monkeypatch):
    """A cancel (gen.send(True)) while the root's alpha-CROWN steps run returns within about a second (here each
    slope step is slowed to 0.1 s: the whole root would take > 10 s), status cancelled, with the root's CROWN
    bound (sound) and the incumbent so far."""
    import time

    from nnlab.engine.optimize.formulation import alpha_beta

    real = alpha_beta.AlphaBetaCrown._backward

    def backward(self, *a, **kw):
        if torch.is_grad_enabled():  # the optimisation passes, not the float64 re-checks
            time.sleep(0.1)
        return real(self, *a, **kw)

    monkeypatch.setattr(alpha_beta.AlphaBetaCrown, "_backward", backward)
    net = make(10, (30, 30), "torch_default", 2)
    lo, hi = np.zeros(10), np.ones(10)
    start = time.perf_counter()
    gen = run_method("relu_bab", net, lo, hi, "max", 120.0, 0, {"warm_start": False})
    ev = next(gen)
    while not (isinstance(ev, BoundProgress) and "root" in ev.stage):
        ev = next(gen)
    t0 = time.perf_counter()
    with pytest.raises(StopIteration) as stop:
        while True:
            gen.send(True)
    assert time.perf_counter() - t0 < 2.0 and time.perf_counter() - start < 4.0
    r = stop.value.value
    assert r.status == "cancelled" and r.seconds < 10
    crown = float(Crown(net).bounds(lo[None], hi[None]).ub[0])
    pts = np.random.default_rng(0).uniform(lo, hi, (50000, 10))
    assert net.forward(pts).max() <= r.bound <= crown + 1e-6
    if r.x is not None:
        check(net, r, lo, hi)


@pytest.mark.parametrize("n0,hidden,scheme,seed", [(5, (20, 20), "torch_default", 1), (7, (12, 12, 12), "xavier_uniform", 2),
                                                   (10, (24, 24), "torch_default", 3)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_optimised_root_bounds_never_below_the_true_max(n0, hidden, scheme, seed, dtype):
    """The root's optimised bounds (alpha-CROWN on every intermediate row and on the output, float64 or float32
    slopes with the float64 re-check), the CROWN bound before them and a root stopped at once by its deadline
    are all above the best of a 2000-start multistart and dense sampling, and alpha-CROWN is never looser."""
    import time

    net = make(n0, hidden, scheme, seed)
    lo, hi = np.zeros(n0), np.ones(n0)
    pts = np.random.default_rng(seed).uniform(lo, hi, (100000, n0))
    ms = run_to_result(run_method("gradient", net, lo, hi, "max", 60, 5, {"starts": 2000, "steps": 300}))
    best_seen = max(ms.value, float(net.forward(pts).max()))
    ab = AlphaBetaCrown(net, lo, hi, dtype)
    zeros = [torch.zeros(1, n, dtype=torch.float64) for n in hidden]
    Lc, Uc = ab.root(0)
    crown = float(ab.output(Lc, Uc, zeros, None, None, 0).ub[0])
    La, Ua = ab.root(50)
    alpha = float(ab.output(La, Ua, zeros, None, None, 50).ub[0])
    Ls, Us = ab.root(50, deadline=time.perf_counter() - 1.0)
    stopped = float(ab.output(Ls, Us, zeros, None, None, 50, deadline=time.perf_counter() - 1.0).ub[0])
    assert best_seen <= alpha <= crown + 1e-12 and best_seen <= stopped <= crown + 1e-12
    pre = net.preactivations(pts)
    for (L, U), g in zip(zip(La, Ua), pre):  # the optimised intermediate bounds hold at every sample
        assert np.all(g >= L.numpy()) and np.all(g <= U.numpy())


@pytest.mark.parametrize("hidden", [(16, 16), (12, 12, 12)])
def test_backward_pass_matches_the_plain_formulas_and_its_margin_covers_them(hidden):
    """The backward pass of alpha_beta (lg = lam sl + pos (su - sl), its margin from pos and neg separately, fewer
    temporaries) equals the plain CROWN formulas (pos su + neg sl, margin from |lg|) on split sub-problems with
    multipliers, and its rounding margin is never smaller than theirs."""
    net = make(5, hidden, "torch_default", 3)
    lo, hi = -np.ones(5), np.ones(5)
    ab = AlphaBetaCrown(net, lo, hi)
    Ls, Us = ab.root(5)
    B, rng = 6, np.random.default_rng(0)
    Lb, Ub = [L.repeat(B, 1) for L in Ls], [U.repeat(B, 1) for U in Us]
    sp = [torch.tensor(rng.choice([-1.0, 0.0, 0.0, 1.0], size=(B, n))) for n in net.widths]
    for L, U, s in zip(Lb, Ub, sp):
        L[s > 0] = L[s > 0].clamp(min=0)
        U[s < 0] = U[s < 0].clamp(max=0)
        U[:] = torch.maximum(U, L)
    relax = [ab._relax(L, U) for L, U in zip(Lb, Ub)]
    alphas = [torch.tensor(rng.random((B, n))) for n in net.widths]
    betas = [torch.tensor(rng.random((B, n))) * (s != 0) for s, n in zip(sp, net.widths)]
    K = ab.K
    for top, lam0, const0, al, be in [(K - 1, ab.W[K].expand(B, -1, -1), ab.b[K].expand(B, -1), alphas, betas),
                                      (K - 2, *ab._rows(K - 1, B), None, None)]:
        A, c, _, err = ab._backward(lam0, const0, top, relax, al, be, sp if be is not None else None, True, True)
        lam, const, ref = lam0, const0, torch.zeros_like(const0)
        for j in range(top, -1, -1):
            su, tu, act, ada, unst = relax[j]
            a = (ada if al is None else al[j])[:, None, :]
            sl = torch.where(unst[:, None, :], a, act[:, None, :])
            pos, neg = lam.clamp(min=0), lam.clamp(max=0)
            ptu = (pos * tu[:, None, :]).sum(-1)
            lg = pos * su[:, None, :] + neg * sl
            if be is not None:
                lg = lg + (be[j] * sp[j])[:, None, :]
            ref = ref + lg.abs() @ ab.mag[j] + ptu.abs() + const.abs()
            const = const + ptu + lg @ ab.b[j]
            lam = lg @ ab.W[j]
        ref = ab.gamma * (ref + lam.abs() @ ab.mx + const.abs())
        assert torch.allclose(A, lam, rtol=1e-12, atol=1e-13) and torch.allclose(c, const, rtol=1e-12, atol=1e-13)
        assert bool((err >= ref * (1 - 1e-12)).all()) and float(ref.min()) > 0


def test_cheap_split_bounds_equal_the_bounds_of_the_children_built_one_by_one():
    """cheap_splits (the fsb filter: parents' relaxations copied, the candidate neuron made exact) gives the bound
    of each child built explicitly (split applied to its L, U and sign, parent's slopes and multipliers, no steps)."""
    net = make(4, (10, 10, 10), "torch_default", 5)
    lo, hi = -np.ones(4), np.ones(4)
    ab = AlphaBetaCrown(net, lo, hi)
    Ls, Us = ab.root(3)
    P, rng = 3, np.random.default_rng(1)
    Lp, Up = [L.repeat(P, 1) for L in Ls], [U.repeat(P, 1) for U in Us]
    sp = [torch.zeros(P, n, dtype=torch.float64) for n in net.widths]
    sp[0][0, int(torch.nonzero((Ls[0][0] < 0) & (Us[0][0] > 0))[0])] = 1.0  # one earlier split, its bounds cut
    Lp[0][0] = torch.where(sp[0][0] > 0, Lp[0][0].clamp(min=0), Lp[0][0])
    al = [torch.tensor(rng.random((P, n))) for n in net.widths]
    be = [torch.tensor(rng.random((P, n))) * (s != 0) for s, n in zip(sp, net.widths)]
    flatL, flatU = torch.cat(Lp, 1), torch.cat(Up, 1)
    unst = np.flatnonzero(((flatL[0] < 0) & (flatU[0] > 0)).numpy())
    cand = np.stack([rng.choice(unst, 4, replace=False) for _ in range(P)])
    assert len({int(c) // 10 for c in cand.reshape(-1)}) >= 2  # candidates in more than one layer
    got = ab.cheap_splits(Lp, Up, sp, al, be, cand).numpy()
    offs = np.concatenate([[0], np.cumsum(net.widths)])
    for i in range(P):
        for q, c in enumerate(cand[i]):
            j = int(np.searchsorted(offs, c, side="right") - 1)
            col = int(c - offs[j])
            for child, s in enumerate((1.0, -1.0)):
                L = [x[i:i + 1].clone() for x in Lp]
                U = [x[i:i + 1].clone() for x in Up]
                S = [x[i:i + 1].clone() for x in sp]
                S[j][0, col] = s
                if s > 0:
                    L[j][0, col] = max(float(L[j][0, col]), 0.0)
                else:
                    U[j][0, col] = min(float(U[j][0, col]), 0.0)
                ref = ab.output(L, U, S, [a[i:i + 1] for a in al], [b[i:i + 1] for b in be], iters=0)
                assert got[i, q, child] == pytest.approx(float(ref.ub[0]), rel=1e-9, abs=1e-9)
                assert got[i, q, child] <= float(ref.ub[0])  # ref carries the rounding margin on top


def hull_gap_net():
    """relu(x1 + x2 - 1) - relu(x1) on [0, 1]^2: max 0 (x2 - 1 where x1 + x2 >= 1, -x1 elsewhere); the chord of
    the first neuron, (x1 + x2) / 2, bounds it by 0.5, its hull facet x1 (T = (1, 0)) by 0."""
    return snapshot_from_layers([(np.array([[1.0, 1.0], [1.0, 0.0]]), np.array([-1.0, 0.0])),
                                 (np.array([[1.0, -1.0]]), np.array([0.0]))])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_input_space_hull_closes_the_chords_gap_on_a_hand_made_net(dtype):
    """Without the hull the root bound is the chord's 0.5 (no slope helps: the neuron's lower relaxation is not
    used for a maximum); the fitted hull (Anderson et al. 2020) brings it to the true max 0, never below."""
    net = hull_gap_net()
    lo, hi = np.zeros(2), np.ones(2)
    zeros = [torch.zeros(1, 2, dtype=torch.float64)]
    for hull, want in ((False, (0.5, 0.5 + 1e-9)), (True, (0.0, 0.02))):
        ab = AlphaBetaCrown(net, lo, hi, dtype, hull=hull)
        Ls, Us = ab.root(0)
        ub = float(ab.output(Ls, Us, zeros, None, None, 100, lr_alpha=0.1, fit_hull=True).ub[0])
        assert want[0] <= ub <= want[1], (hull, ub)
    r = run_to_result(run_method("relu_bab", net, lo, hi, "max", 60, 0, {"hull": True, **TIGHT}))
    assert r.status == "optimal" and abs(r.value) <= 1e-12 and r.bound >= 0.0


def test_hull_at_the_chord_is_crowns_bound_and_its_terms_match_the_formula():
    """_hull_terms at T = chord reproduces CROWN's chords (same bound to rounding), and its coefficients and
    intercepts equal the inequality written out neuron by neuron; a fixed hull with theta = 1 is the chord too."""
    net = make(5, (9, 7), "torch_default", 2)
    lo, hi = np.array([-1.0, 0.0, -2.0, 0.5, -0.5]), np.array([1.0, 1.0, 0.0, 2.0, 0.5])
    ab = AlphaBetaCrown(net, lo, hi, hull=True)
    Ls, Us = ab.root(5)
    zeros = [torch.zeros(1, n, dtype=torch.float64) for n in net.widths]
    plain = float(ab.output(Ls, Us, zeros, None, None, 0).ub[0])  # no hull fixed yet: the chords
    chord = float(ab.output(Ls, Us, zeros, None, None, 0, fit_hull=True).ub[0])
    assert chord == pytest.approx(plain, rel=1e-12, abs=1e-12)
    T = torch.tensor(np.random.default_rng(3).random((1, 9, 5)))
    coef, icpt = ab._hull_terms(T, None, True)
    W, b = net.weights[0], net.biases[0]
    for k in range(9):
        Lb = np.where(W[k] >= 0, lo, hi)
        r = np.abs(W[k]) * (hi - lo)
        t = T[0, k].numpy()
        assert np.allclose(coef[0, k].numpy(), t * W[k], rtol=1e-14, atol=1e-15)
        want = max(0.0, b[k] + W[k] @ Lb + (1 - t) @ r) - (t * W[k]) @ Lb
        assert float(icpt[0, k]) == pytest.approx(want, rel=1e-12, abs=1e-12)
    ab.set_hull(T)
    one = [torch.ones(1, 9, dtype=torch.float64)]
    assert float(ab.output(Ls, Us, zeros, None, None, 0, hull=one[0]).ub[0]) == pytest.approx(plain, rel=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", [(24,), (12, 12)])
def test_hull_bounds_are_sound_on_split_sub_problems(dtype, hidden):
    """The fitted hull at the root and the fixed hull mixed by random theta on split sub-problems (with and without
    optimisation): every bound holds at every sampled point of its domain; on one hidden layer the fitted hull is
    strictly tighter than alpha-CROWN's chords."""
    net = make(4, hidden, "torch_default", 7)
    lo, hi = -np.ones(4), np.ones(4)
    rng = np.random.default_rng(2)
    pts = rng.uniform(lo, hi, (40000, 4))
    pre, vals = net.preactivations(pts), net.forward(pts)
    zeros = [torch.zeros(1, n, dtype=torch.float64) for n in net.widths]
    base = AlphaBetaCrown(net, lo, hi, dtype)
    Ls, Us = base.root(20)
    chords = float(base.output(Ls, Us, zeros, None, None, 60).ub[0])
    ab = AlphaBetaCrown(net, lo, hi, dtype, hull=True)
    root = ab.output(Ls, Us, zeros, None, None, 60, fit_hull=True)
    assert vals.max() <= float(root.ub[0])
    if len(hidden) == 1:
        assert float(root.ub[0]) < chords - 1e-3
    ab.set_hull(root.hull)
    B = 16
    Lb, Ub = [L.repeat(B, 1) for L in Ls], [U.repeat(B, 1) for U in Us]
    sp = [torch.zeros(B, n, dtype=torch.float64) for n in net.widths]
    masks = []
    for i in range(B):
        mask = np.ones(len(pts), bool)
        for _ in range(2):
            k, j = int(rng.integers(len(hidden))), int(rng.integers(hidden[0]))
            s = 1.0 if rng.random() < 0.5 else -1.0
            sp[k][i, j] = s
            if s > 0:
                Lb[k][i, j] = max(float(Lb[k][i, j]), 0.0)
                mask &= pre[k][:, j] >= 0
            else:
                Ub[k][i, j] = min(float(Ub[k][i, j]), 0.0)
                mask &= pre[k][:, j] <= 0
        masks.append(mask)
    Lr, Ur = ab.refine(Lb, Ub, 0)
    theta = torch.tensor(rng.random((B, hidden[0])))
    for iters in (0, 20):
        nb = ab.output(Lr, Ur, sp, None, None, iters, hull=theta)
        assert nb.hull.shape == (B, hidden[0]) and float(nb.hull.min()) >= 0 and float(nb.hull.max()) <= 1
        for i, mask in enumerate(masks):
            if mask.any():
                assert float(nb.ub[i]) >= vals[mask].max()


@pytest.mark.parametrize("n0,hidden,extra", [(10, (16,), {}), (6, (12, 12), {}), (8, (14,), {"max_bytes": 3000}),
                                             (5, (12,), {"branching": "hybrid"})])
def test_relu_bab_with_the_hull_agrees_with_milp(n0, hidden, extra):
    """The hull's per-node theta carried through the search (stored, capped by max_bytes, input splits) gives
    the MILP's optima with sound bounds."""
    net = make(n0, hidden, "torch_default", n0)
    lo, hi = np.zeros(n0), np.ones(n0)
    for sense in ("max", "min"):
        rb = run_to_result(run_method("relu_bab", net, lo, hi, sense, 60, 0, {"hull": True, **extra, **TIGHT}))
        rm = run_to_result(run_method("milp", net, lo, hi, sense, 60, 0, TIGHT))
        assert rb.status == rm.status == "optimal"
        assert rb.value == pytest.approx(rm.value, rel=1e-6, abs=1e-6)
        sgn = 1 if sense == "max" else -1
        assert sgn * (rb.bound - rm.value) >= -1e-7
        check(net, rb, lo, hi)
