"""Initializations: each scheme against its paper's formula and torch.nn.init; seeds give bit-identical weights."""
import math

import numpy as np
import pytest

from nnlab.engine.model.inits import INITS, bias_kind, expected_variance, init_weights
from nnlab.engine.model.network import initial_snapshot
from nnlab.engine.model.scene import InitSpec, NetworkSpec

FAN_OUT, FAN_IN = 300, 200


GAIN, SCALE = 1.7, 0.3

# The published per-weight variances, written out here (not read from the registry): Glorot & Bengio 2010,
# He et al. 2015 (ReLU), LeCun et al. 1998 ("Efficient BackProp"), Saxe et al. 2014 (orthogonal: rows or columns
# of norm gain), PyTorch's nn.Linear default U(±1/sqrt(fan_in)) (variance 1/(3 fan_in)), and the plain U(±a), N(0, σ²).
PUBLISHED = {
    "xavier_uniform": lambda fo, fi: GAIN**2 * 2.0 / (fi + fo),
    "xavier_normal": lambda fo, fi: GAIN**2 * 2.0 / (fi + fo),
    "he_uniform": lambda fo, fi: GAIN**2 * 2.0 / fi,
    "he_normal": lambda fo, fi: GAIN**2 * 2.0 / fi,
    "lecun_uniform": lambda fo, fi: GAIN**2 * 1.0 / fi,
    "lecun_normal": lambda fo, fi: GAIN**2 * 1.0 / fi,
    "orthogonal": lambda fo, fi: GAIN**2 / max(fo, fi),
    "torch_default": lambda fo, fi: 1.0 / (3.0 * fi),
    "uniform": lambda fo, fi: SCALE**2 / 3.0,
    "normal": lambda fo, fi: SCALE**2,
}
# The bound of the uniform schemes: |w| <= bound, and the largest of 60,000 draws comes within 0.1 % of it.
BOUND = {
    "xavier_uniform": lambda fo, fi: GAIN * math.sqrt(6.0 / (fi + fo)),
    "he_uniform": lambda fo, fi: GAIN * math.sqrt(6.0 / fi),
    "lecun_uniform": lambda fo, fi: GAIN * math.sqrt(3.0 / fi),
    "torch_default": lambda fo, fi: 1.0 / math.sqrt(fi),
    "uniform": lambda fo, fi: SCALE,
}


def torch_weights(scheme: str, fo: int, fi: int) -> np.ndarray:
    """The same scheme drawn by PyTorch's own torch.nn.init (or nn.Linear for its default)."""
    import torch

    torch.manual_seed(5)
    t = torch.empty(fo, fi, dtype=torch.float64)
    init = torch.nn.init
    draw = {
        "xavier_uniform": lambda: init.xavier_uniform_(t, gain=GAIN),
        "xavier_normal": lambda: init.xavier_normal_(t, gain=GAIN),
        "he_uniform": lambda: init.kaiming_uniform_(t, nonlinearity="relu") * GAIN,
        "he_normal": lambda: init.kaiming_normal_(t, nonlinearity="relu") * GAIN,
        "lecun_uniform": lambda: init.kaiming_uniform_(t, nonlinearity="linear") * GAIN,
        "lecun_normal": lambda: init.kaiming_normal_(t, nonlinearity="linear") * GAIN,
        "orthogonal": lambda: init.orthogonal_(t, gain=GAIN),
        "torch_default": lambda: torch.nn.Linear(fi, fo).weight.detach(),
        "uniform": lambda: init.uniform_(t, -SCALE, SCALE),
        "normal": lambda: init.normal_(t, 0.0, SCALE),
    }[scheme]
    return draw().double().numpy()


def nnlab_weights(scheme: str, fo: int, fi: int) -> np.ndarray:
    gain = GAIN if "gain" in INITS.get(scheme).flags else 1.0
    (w, _), = init_weights([fi, fo], InitSpec(scheme=scheme, gain=gain, scale=SCALE, seed=3))
    assert w.shape == (fo, fi)
    return w


@pytest.mark.parametrize("fo, fi", [(300, 200), (150, 400)])
@pytest.mark.parametrize("scheme", INITS.names())
def test_variance_matches_the_published_formula_and_torch(scheme, fo, fi):
    """Every registered scheme against the formula of its paper and against torch.nn.init drawing the same scheme
    (a scheme registered without an entry here fails: it must be checked too)."""
    ours, theirs = nnlab_weights(scheme, fo, fi), torch_weights(scheme, fo, fi)
    expected = PUBLISHED[scheme](fo, fi)
    # 60,000 draws: the relative standard error of a variance is about sqrt(2/60000) ~ 0.6 %; seeds are fixed
    assert float(np.mean(ours**2)) == pytest.approx(expected, rel=0.03)
    assert float(np.mean(theirs**2)) == pytest.approx(expected, rel=0.03)
    assert abs(float(np.mean(ours))) < 4 * math.sqrt(expected / ours.size)
    spec = InitSpec(scheme=scheme, gain=GAIN if "gain" in INITS.get(scheme).flags else 1.0, scale=SCALE)
    assert expected_variance(spec, fo, fi) == pytest.approx(expected, rel=1e-12)  # the variance the UI states


@pytest.mark.parametrize("scheme", sorted(BOUND))
def test_uniform_bounds_match_the_published_formula_and_torch(scheme):
    fo, fi = 300, 200
    bound = BOUND[scheme](fo, fi)
    for w in (nnlab_weights(scheme, fo, fi), torch_weights(scheme, fo, fi)):
        assert np.abs(w).max() <= bound * (1 + 1e-12) and np.abs(w).max() > 0.999 * bound


def test_torch_default_matches_nn_linear_weights_and_biases():
    import torch

    fi, fo = 50, 4000
    torch.manual_seed(0)
    lin = torch.nn.Linear(fi, fo)
    (w, b), = init_weights([fi, fo], InitSpec(scheme="torch_default", seed=2))
    bound = 1.0 / math.sqrt(fi)  # nn.Linear: kaiming_uniform_(a=sqrt(5)) = U(±1/sqrt(fan_in)), bias U(±1/sqrt(fan_in))
    for ours, theirs in ((w, lin.weight.detach().numpy()), (b, lin.bias.detach().numpy())):
        assert np.abs(ours).max() <= bound and np.abs(theirs).max() <= bound
        assert np.var(ours) == pytest.approx(np.var(theirs), rel=0.1)
        assert np.var(ours) == pytest.approx(bound**2 / 3, rel=0.1)


def test_orthogonal_matches_torch_orthogonality():
    ours, theirs = nnlab_weights("orthogonal", 150, 400), torch_weights("orthogonal", 150, 400)
    for w in (ours, theirs):  # 150 x 400: orthogonal rows of norm GAIN
        np.testing.assert_allclose(w @ w.T, GAIN**2 * np.eye(150), atol=1e-10)


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
