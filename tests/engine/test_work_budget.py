"""Budgets in work, not seconds (issue 13): every heuristic stops on a forward-pass or LP-solve cap, reports the work
it did exactly, and repeats bit for bit whatever the clock does."""
import json
import types

import numpy as np
import pytest

from nnlab.cli.main import main
from nnlab.engine.model.io import save_model
from nnlab.engine.model.network import initial_snapshot
from nnlab.engine.model.scene import InitSpec, NetworkSpec
from nnlab.engine.optimize import METHODS, run_method, run_to_result
from nnlab.engine.optimize.base import BoundProgress, OptResult, WORK_CAPS, make_params
from nnlab.engine.optimize.heuristics import baselines
from nnlab.errors import NnlabError

HEURISTICS = ["sampling", "walk", "gradient", "random", "lhs", "grid"]
# runs far longer than their caps, and the caps: (parameters, cap name, cap, how far below the cap a run may stop)
CAPPED = {
    "random": ({"samples": 10**6}, "max_forward", 200_000, 0),  # several batches of points
    "lhs": ({"samples": 300_000}, "max_forward", 200_000, 0),
    "grid": ({"resolution": 60}, "max_forward", 150_000, 0),
    "gradient": ({"rounds": 0, "starts": 32, "steps": 40}, "max_forward", 3000, 4 * 32),
    "sampling": ({"samples": 10**5}, "max_forward", 1500, 2),
    "sampling_lp": ({"samples": 10**5}, "max_lp", 40, 0),
    "sampling_enhanced": ({"samples": 10**5, "enhanced": True}, "max_lp", 40, 0),
    "walk": ({"restarts": 0}, "max_forward", 300, 0),
    "walk_lp": ({"restarts": 0}, "max_lp", 60, 0),
}


def net3():
    return initial_snapshot(NetworkSpec(input_dim=3, hidden=(12, 12)), InitSpec(scheme="torch_default", seed=7))


LO, HI = np.zeros(3), np.ones(3)


def capped(case, sense="max", seed=3, time_limit=1e9, net=None):
    params, cap_name, cap, _ = CAPPED[case]
    method = case.split("_")[0]
    gen = run_method(method, net or net3(), LO, HI, sense, time_limit, seed, {**params, cap_name: cap})
    evs = []
    while True:
        try:
            evs.append(next(gen))
        except StopIteration as stop:
            return stop.value, evs


@pytest.mark.parametrize("case", list(CAPPED))
def test_a_work_cap_stops_the_run_within_the_cap(case):
    _, cap_name, cap, slack = CAPPED[case]
    net = net3()
    res, _ = capped(case, net=net)
    work = res.extra["work"]
    assert set(work) == {"forward", "lp", "gradient_steps"} and all(type(v) is int for v in work.values())
    used = work["forward" if cap_name == "max_forward" else "lp"]
    assert res.status == "work_limit"
    assert cap - slack <= used <= cap, work
    assert res.x is not None and np.all(res.x >= LO) and np.all(res.x <= HI)
    assert res.value == float(net.forward(res.x))  # the value is the network's forward pass at x


@pytest.mark.parametrize("case", list(CAPPED))
def test_capped_runs_repeat_bit_for_bit(case):
    for sense in ("max", "min"):
        a, _ = capped(case, sense)
        b, _ = capped(case, sense)
        assert np.array_equal(a.x, b.x) and a.value == b.value and a.status == b.status == "work_limit"
        assert a.extra == b.extra  # work counts and the method's own counts


class RacingClock:
    """time.perf_counter for baselines (the Clock) that runs 0.25 s per reading: a machine under heavy load, where
    every heartbeat is due at every check."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 0.25
        return self.now


@pytest.mark.parametrize("case", list(CAPPED))
def test_capped_runs_do_not_depend_on_the_clock(case, monkeypatch):
    quiet, quiet_evs = capped(case)
    racing = RacingClock()
    monkeypatch.setattr(baselines, "time", types.SimpleNamespace(perf_counter=racing.perf_counter))
    loaded, loaded_evs = capped(case)
    assert racing.now > 0.25  # the clock was read (and raced)
    assert np.array_equal(quiet.x, loaded.x) and quiet.value == loaded.value
    assert quiet.extra == loaded.extra and loaded.status == "work_limit"
    if case.split("_")[0] in ("sampling", "walk", "gradient"):  # their heartbeats fired, and changed nothing
        assert sum(isinstance(e, BoundProgress) for e in loaded_evs) > sum(
            isinstance(e, BoundProgress) for e in quiet_evs)


def test_gradient_does_not_depend_on_the_clock_without_a_cap(monkeypatch):
    """Regression: the gradient method offered an iterate at every heartbeat, so under load (more heartbeats) its
    incumbent, and so its answer, could change; its incumbents are now taken every record_every steps."""
    from nnlab.engine.model.network import snapshot_from_layers

    W1 = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # 1 - |x1 - 0.3| - |x2 - 0.6|: Adam's
    net = snapshot_from_layers([(W1, np.array([-0.3, 0.3, -0.6, 0.6])), (-np.ones((1, 4)), np.array([1.0]))])
    params = {"starts": 4, "steps": 60, "lr": 0.05, "record_every": 30}  # iterates circle the peak
    quiet = run_to_result(run_method("gradient", net, LO[:2], HI[:2], "max", 1e9, 1, params))
    monkeypatch.setattr(baselines, "time", types.SimpleNamespace(perf_counter=RacingClock().perf_counter))
    loaded = run_to_result(run_method("gradient", net, LO[:2], HI[:2], "max", 1e9, 1, params))
    assert np.array_equal(quiet.x, loaded.x) and quiet.value == loaded.value and quiet.extra == loaded.extra


def uniform_best(net, n, seed, sense="max"):
    """The best of the first n points of the uniform stream random search draws (one rng, rows in order)."""
    x = LO + np.random.default_rng(seed).random((n, LO.size)) * (HI - LO)
    v = net.forward(x)
    return x[int(np.argmax(v) if sense == "max" else np.argmin(v))]


def test_random_search_counts_its_work_exactly():
    net = net3()
    res = run_to_result(run_method("random", net, LO, HI, "max", 1e9, 5, {"max_forward": 1000}))  # 10000 samples
    assert res.extra["work"] == {"forward": 1000, "lp": 0, "gradient_steps": 0} and res.status == "work_limit"
    assert np.array_equal(res.x, uniform_best(net, 1000, 5))  # exactly the first 1000 points, the last batch cut
    for cap in (1000, 1001):  # the samples end the run first: nothing was cut
        res = run_to_result(run_method("random", net, LO, HI, "min", 1e9, 5, {"samples": 1000, "max_forward": cap}))
        assert res.status == "feasible" and res.extra["work"]["forward"] == 1000
        assert np.array_equal(res.x, uniform_best(net, 1000, 5, "min"))


@pytest.mark.parametrize("method,params", [("random", {}), ("lhs", {}), ("grid", {"resolution": 21}),
                                           ("gradient", {"starts": 8, "steps": 9}), ("sampling", {}),
                                           ("walk", {"restarts": 0})])
def test_tiny_caps_never_pass_the_cap(method, params):
    net = net3()
    for cap in (1, 2, 3, 4, 5, 13):
        res = run_to_result(run_method(method, net, LO, HI, "max", 1e9, 0, {**params, "max_forward": cap}))
        assert res.status == "work_limit" and 1 <= res.extra["work"]["forward"] <= cap
        assert res.x is not None and res.value == float(net.forward(res.x))


def test_gradient_work_follows_its_cost_model():
    """Per round of N starts and S steps: N at the starts, 2N per step (forward and backward), one per incumbent
    taken every record_every steps, N at the end."""
    res = run_to_result(run_method("gradient", net3(), LO, HI, "max", 1e9, 0,
                                   {"rounds": 2, "starts": 8, "steps": 25, "record_every": 10}))
    assert res.status == "feasible"
    assert res.extra["work"] == {"forward": 2 * (8 + 2 * 8 * 25 + 2 + 8), "lp": 0, "gradient_steps": 50}


def count_highs_runs(monkeypatch):
    import highspy

    runs = [0]
    run = highspy.Highs.run

    def counted(self, *a, **kw):
        runs[0] += 1
        return run(self, *a, **kw)

    monkeypatch.setattr(highspy.Highs, "run", counted)
    return runs


@pytest.mark.parametrize("enhanced", [False, True])
def test_sampling_counts_every_highs_solve(enhanced, monkeypatch):
    runs = count_highs_runs(monkeypatch)
    res = run_to_result(run_method("sampling", net3(), LO, HI, "max", 1e9, 2, {"samples": 300, "enhanced": enhanced}))
    assert res.extra["work"]["lp"] == runs[0] > 0
    assert (res.extra["work"]["lp"] > res.extra["lps"]) == enhanced  # region LPs, plus the MILPs when enhanced


def test_walk_counts_relaxations_and_region_lps(monkeypatch):
    from nnlab.engine.optimize.formulation import regionlp

    calls = {"relax": 0, "region": 0}
    relax_iter, solve = regionlp.BigM.relax_iter, regionlp.RegionLP.solve

    def counted_relax(self, *a, **kw):
        calls["relax"] += 1
        return relax_iter(self, *a, **kw)

    def counted_solve(self, *a, **kw):
        n = self.n_solved
        out = solve(self, *a, **kw)
        calls["region"] += self.n_solved - n
        return out

    monkeypatch.setattr(regionlp.BigM, "relax_iter", counted_relax)
    monkeypatch.setattr(regionlp.RegionLP, "solve", counted_solve)
    res = run_to_result(run_method("walk", net3(), LO, HI, "max", 1e9, 2, {"restarts": 4}))
    w = res.extra["work"]
    assert w["lp"] == calls["relax"] + calls["region"] == res.extra["relaxations"] + res.extra["region_lps"]
    assert calls["relax"] > 1 and calls["region"] > 1


def test_every_heuristic_has_the_work_caps_and_checks_them_before_any_work():
    for name in HEURISTICS:
        entry = METHODS.get(name)
        assert "heuristic" in entry.flags
        p = make_params(name, None)
        assert all(getattr(p, cap) is None for cap in WORK_CAPS)
        assert make_params(name, {"max_forward": 1e4, "max_lp": 7}).max_forward == 10_000
    assert set(HEURISTICS) == set(METHODS.names("heuristic"))
    for bad in (0, -5, 1.5, "many", True, float("inf")):
        with pytest.raises(NnlabError, match="parameter 'max_forward' must be an integer >= 1"):
            run_method("random", net3(), LO, HI, params={"max_forward": bad})  # the call itself, before any work
    with pytest.raises(NnlabError, match="parameter 'max_lp' must be an integer >= 1"):
        run_method("walk", net3(), LO, HI, params={"max_lp": 0})


def test_json_carries_the_work(tmp_path, capsys):
    res = run_to_result(run_method("random", net3(), LO, HI, "max", 1e9, 0, {"max_forward": 10}))
    assert res.to_json()["work"] == {"forward": 10, "lp": 0, "gradient_steps": 0}
    exact = OptResult("regions", "max", 1.0, np.zeros(2), "optimal", extra={"region_lps": 3})  # exact: no "work"
    assert exact.to_json()["work"] is None and exact.to_json()["search"] == {"region_lps": 3}
    path = tmp_path / "net.npz"
    save_model(net3(), path)
    code = main(["optimize", "--model", str(path), "--method", "sampling", "--param", "max_lp=5", "--json"])
    obj = json.loads(capsys.readouterr().out)
    assert code == 0 and obj["status"] == "work_limit" and obj["work"]["lp"] == 5 and obj["work"]["forward"] >= 5


def test_relaxation_in_iteration_slices_is_the_same_every_time():
    """Under a work cap walk's big-M relaxations run in simplex-iteration slices (not time slices): the slices, and
    so the solution to the last bit, are the same in every run; the optimum is the unsliced one."""
    from nnlab.engine.optimize.formulation.regionlp import BigM

    net = initial_snapshot(NetworkSpec(input_dim=4, hidden=(40, 40)), InitSpec(scheme="torch_default", seed=21))
    lo, hi = np.zeros(4), np.ones(4)

    def sliced():
        it = BigM(net, lo, hi).relax_iter("max", iterations=5)
        slices = 0
        while True:
            try:
                next(it)
                slices += 1
            except StopIteration as stop:
                return stop.value, slices

    (a, na), (b, nb) = sliced(), sliced()
    assert na == nb > 1 and np.array_equal(a.x, b.x) and a.objective == b.objective
    assert a.objective == pytest.approx(BigM(net, lo, hi).relax("max").objective, rel=1e-7)
    import highspy

    bm = BigM(net, lo, hi)
    it = bm.relax_iter("max", iterations=5)
    next(it)
    assert bm.model.h.getOptionValue("simplex_iteration_limit")[1] == 5
    it.close()  # closed mid-solve (a cancelled walk): the Highs object is left without the limit
    assert bm.model.h.getOptionValue("simplex_iteration_limit")[1] == highspy.kHighsIInf
