"""Initializations: empirical variance matches each scheme's formula; seeds give bit-identical weights."""
import math

import numpy as np
import pytest

from nnlab.engine.inits import INITS, bias_kind, expected_variance, init_weights
from nnlab.engine.network import initial_snapshot
from nnlab.engine.scene import InitSpec, NetworkSpec

FAN_OUT, FAN_IN = 300, 200


@pytest.mark.parametrize("scheme", INITS.names())
def test_empirical_variance_matches_formula(scheme):
    spec = InitSpec(scheme=scheme, gain=1.7 if "gain" in INITS.get(scheme).flags else 1.0, scale=0.3, seed=3)
    (w, _), = init_weights([FAN_IN, FAN_OUT], spec)
    assert w.shape == (FAN_OUT, FAN_IN)
    var = float(np.mean(w**2))  # zero-mean schemes
    expected = expected_variance(spec, FAN_OUT, FAN_IN)
    # 60,000 draws: relative standard error of the variance is about sqrt(2/60000) ~ 0.6 %
    assert var == pytest.approx(expected, rel=0.03)
    assert abs(float(np.mean(w))) < 4 * math.sqrt(expected / w.size)


def test_xavier_uniform_bound_is_flux_formula():
    (w, b), = init_weights([2, 100], InitSpec(scheme="xavier_uniform", seed=0))
    a = math.sqrt(6 / 102)
    assert np.all(np.abs(w) <= a) and np.abs(w).max() > 0.95 * a
    assert np.all(b == 0.0)


def test_torch_default_draws_fan_in_biases():
    spec = InitSpec(scheme="torch_default", seed=2)
    assert bias_kind(spec) == "fan_in"
    (w, b), = init_weights([50, 4000], spec)
    bound = 1 / math.sqrt(50)
    assert np.all(np.abs(b) <= bound) and np.var(b) == pytest.approx(bound**2 / 3, rel=0.1)


def test_orthogonal_rows_are_orthonormal():
    (w, _), = init_weights([40, 30], InitSpec(scheme="orthogonal", gain=2.0, seed=1))
    assert np.allclose(w @ w.T, 4.0 * np.eye(30), atol=1e-10)


@pytest.mark.parametrize("bias, value, check", [
    ("constant", 0.5, lambda b: np.all(b == 0.5)),
    ("uniform", 0.2, lambda b: np.all(np.abs(b) <= 0.2) and np.std(b) > 0.05),
    ("normal", 0.1, lambda b: abs(np.std(b) - 0.1) < 0.02),
    ("zero", 0.0, lambda b: np.all(b == 0.0)),
])
def test_bias_rules(bias, value, check):
    (_, b), = init_weights([10, 2000], InitSpec(bias=bias, bias_value=value, seed=4))
    assert check(b)


@pytest.mark.parametrize("scheme", INITS.names())
def test_same_seed_bit_identical_other_seed_differs(scheme):
    net = NetworkSpec(hidden=(20, 10))
    a = initial_snapshot(net, InitSpec(scheme=scheme, seed=11))
    b = initial_snapshot(net, InitSpec(scheme=scheme, seed=11))
    c = initial_snapshot(net, InitSpec(scheme=scheme, seed=12))
    for wa, wb in zip(a.weights, b.weights):
        assert wa.tobytes() == wb.tobytes()
    assert any(wa.tobytes() != wc.tobytes() for wa, wc in zip(a.weights, c.weights))
