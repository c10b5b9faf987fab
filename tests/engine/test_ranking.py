"""The study's ranking question: paired win rates with bootstrap intervals, Kendall's tau, flip verdicts."""
import math

import numpy as np
import pytest

from nnlab.engine.study.ranking import (compare_groups, flips_markdown, kendall_tau, mean_gaps, ranking, tau_interval,
                                        win_rate)


def rows_for(group: str, gaps: dict[str, list[float]], sense: str = "max", budget: int = 100) -> list[dict]:
    out = []
    for method, values in gaps.items():
        for i, g in enumerate(values):
            out.append({"group": group, "net_id": f"{group}{i}", "method": method, "sense": sense,
                        "budget": budget, "gap": g})
    return out


def test_a_method_that_always_wins_has_rate_one_and_the_interval_is_inside_0_1() -> None:
    gaps = mean_gaps(rows_for("r", {"a": [0.0] * 20, "b": [0.1] * 20}), "r", "max", 100)
    w = win_rate(gaps, "a", "b")
    assert (w.rate, w.low, w.high, w.n) == (1.0, 1.0, 1.0, 20)
    assert win_rate(gaps, "b", "a").rate == 0.0


def test_ties_count_half_and_repeats_are_averaged_per_network() -> None:
    rows = rows_for("r", {"a": [0.1, 0.2], "b": [0.1, 0.3]})
    rows += [{"group": "r", "net_id": "r0", "method": "a", "sense": "max", "budget": 100, "gap": 0.3}]  # repeat
    gaps = mean_gaps(rows, "r", "max", 100)
    assert gaps["a"]["r0"] == pytest.approx(0.2)  # (0.1 + 0.3) / 2
    w = win_rate(gaps, "a", "b")
    assert w.n == 2 and w.rate == pytest.approx(0.5)  # loses on r0 (0.2 vs 0.1), wins on r1 (0.2 vs 0.3)
    tie = win_rate(mean_gaps(rows_for("r", {"a": [0.1] * 4, "b": [0.1] * 4}), "r", "max", 100), "a", "b")
    assert tie.rate == 0.5


def test_bootstrap_interval_covers_the_rate_and_is_reproducible() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.uniform(size=40), rng.uniform(size=40)
    gaps = mean_gaps(rows_for("r", {"a": list(a), "b": list(b)}), "r", "max", 100)
    w1, w2 = win_rate(gaps, "a", "b", seed=7), win_rate(gaps, "a", "b", seed=7)
    assert w1 == w2
    assert w1.low <= w1.rate <= w1.high and 0.0 <= w1.low < w1.high <= 1.0
    assert w1.rate == pytest.approx(float(np.mean(a < b)))


def test_no_common_network_gives_nan_not_a_number_that_looks_real() -> None:
    gaps = {"a": {"n1": 0.0}, "b": {"n2": 0.0}}
    w = win_rate(gaps, "a", "b")
    assert w.n == 0 and math.isnan(w.rate)


def test_kendall_tau_same_reversed_and_ties() -> None:
    assert kendall_tau([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    assert kendall_tau([1, 2, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(2 * 3))  # tau-b with one tie in x
    with pytest.raises(ValueError):
        kendall_tau([1, 2], [1])


def test_a_ranking_that_reverses_between_groups_is_called_a_flip_with_tau_minus_one() -> None:
    rows = rows_for("random", {"walk": [0.0] * 12, "sampling": [0.2] * 12, "random": [0.4] * 12})
    rows += rows_for("trained", {"walk": [0.4] * 12, "sampling": [0.2] * 12, "random": [0.0] * 12})
    flips, taus = compare_groups(rows, "random", "trained", ["walk", "sampling", "random"], n_boot=200)
    verdicts = {(f.a, f.b): f.verdict for f in flips}
    assert verdicts == {("walk", "sampling"): "flips", ("walk", "random"): "flips", ("sampling", "random"): "flips"}
    assert taus[("max", 100)] == pytest.approx(-1.0)
    text = flips_markdown(flips, taus, "random", "trained")
    assert "| max | 100 | walk vs sampling | 1.00 [1.00, 1.00] (n=12) | 0.00 [0.00, 0.00] (n=12) | flips |" in text
    assert "tau = -1.00" in text


def test_same_order_holds_and_noisy_small_samples_are_unclear() -> None:
    same = rows_for("random", {"a": [0.0] * 10, "b": [0.5] * 10}) + rows_for("trained", {"a": [0.1] * 10, "b": [0.6] * 10})
    flips, taus = compare_groups(same, "random", "trained", ["a", "b"], n_boot=200)
    assert flips[0].verdict == "holds" and taus[("max", 100)] == pytest.approx(1.0)
    noisy = rows_for("random", {"a": [0.0, 1.0], "b": [1.0, 0.0]}) + rows_for("trained", {"a": [0.0, 0.0], "b": [1.0, 1.0]})
    flips, _ = compare_groups(noisy, "random", "trained", ["a", "b"], n_boot=200)
    assert flips[0].verdict == "unclear"  # 1 win in 2 on random: the interval spans 1/2


def test_budgets_and_senses_are_compared_separately() -> None:
    rows = rows_for("random", {"a": [0.0] * 6, "b": [0.1] * 6}, budget=10)
    rows += rows_for("trained", {"a": [0.0] * 6, "b": [0.1] * 6}, budget=10)
    rows += rows_for("random", {"a": [0.1] * 6, "b": [0.0] * 6}, sense="min", budget=10)
    rows += rows_for("trained", {"a": [0.0] * 6, "b": [0.1] * 6}, sense="min", budget=10)
    flips, taus = compare_groups(rows, "random", "trained", ["a", "b"], n_boot=100)
    got = {(f.sense, f.budget): f.verdict for f in flips}
    assert got == {("max", 10): "holds", ("min", 10): "flips"}
    assert set(taus) == {("max", 10), ("min", 10)}
    assert ranking(mean_gaps(rows, "random", "min", 10), ["a", "b"]) == {"a": 0.0, "b": 1.0}


def test_bootstrap_mean_weights_networks_equally_and_resamples_repeats() -> None:
    from nnlab.engine.study.ranking import bootstrap_mean

    # network a has 3 repeats, b one: the mean is over networks (0.5), not over runs (0.75)
    mean, lo, hi = bootstrap_mean({"a": [1.0, 1.0, 1.0], "b": [0.0]}, n_boot=500)
    assert mean == pytest.approx(0.5) and lo == 0.0 and hi == 1.0
    assert bootstrap_mean({"a": [0.2, 0.2], "b": [0.2]}) == pytest.approx((0.2, 0.2, 0.2))
    assert all(math.isnan(v) for v in bootstrap_mean({}))
    # one network: only its repeats vary, so the interval comes from resampling them (not zero width)
    one = bootstrap_mean({"a": [0.0, 1.0, 0.0, 1.0]}, n_boot=2000)
    assert one[0] == pytest.approx(0.5) and 0.0 <= one[1] < 0.5 < one[2] <= 1.0
    rng = np.random.default_rng(5)
    data = {f"n{i}": list(rng.uniform(size=rng.integers(1, 6))) for i in range(30)}
    first, again = bootstrap_mean(data, seed=3), bootstrap_mean(dict(reversed(list(data.items()))), seed=3)
    assert first == again  # seeded and independent of the order the networks come in
    assert first[1] < first[0] < first[2]
    assert first[0] == pytest.approx(float(np.mean([np.mean(v) for v in data.values()])))


def test_tau_interval_is_tight_for_clear_orders_and_wide_for_noise() -> None:
    methods = ["a", "b", "c"]
    rows = rows_for("random", {"a": [0.0] * 12, "b": [0.2] * 12, "c": [0.4] * 12})
    rows += rows_for("trained", {"a": [0.4] * 12, "b": [0.2] * 12, "c": [0.0] * 12})
    g1, g2 = mean_gaps(rows, "random", "max", 100), mean_gaps(rows, "trained", "max", 100)
    assert tau_interval(g1, g2, methods, n_boot=300) == (-1.0, -1.0)  # reversed on every resample
    bands: dict = {}
    flips, taus = compare_groups(rows, "random", "trained", methods, n_boot=300, intervals=bands)
    assert bands == {("max", 100): (-1.0, -1.0)}
    assert "tau = -1.00 [-1.00, -1.00]" in flips_markdown(flips, taus, "random", "trained", bands)
    rng = np.random.default_rng(1)  # the same distribution in both groups: tau could be anything
    noisy = rows_for("random", {m: list(rng.uniform(size=8)) for m in methods})
    noisy += rows_for("trained", {m: list(rng.uniform(size=8)) for m in methods})
    lo, hi = tau_interval(mean_gaps(noisy, "random", "max", 100), mean_gaps(noisy, "trained", "max", 100), methods,
                          n_boot=300)
    assert lo <= -0.3 and hi >= 0.3
    assert math.isnan(tau_interval({}, g2, methods)[0])
