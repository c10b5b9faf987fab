"""The numpy snapshot agrees with torch, validates shapes, and exposes activation patterns."""
import numpy as np
import pytest
import torch

from nnlab.engine.model.network import NetSnapshot, NetworkError, from_torch, initial_snapshot, to_torch
from nnlab.engine.model.scene import ACTIVATIONS, InitSpec, NetworkSpec
from nnlab.errors import NnlabError


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_snapshot_matches_torch(act):
    snap = initial_snapshot(NetworkSpec(hidden=(16, 8), activation=act), InitSpec(scheme="torch_default", seed=5))
    model = to_torch(snap, dtype=torch.float64)
    x = np.random.default_rng(0).uniform(-1, 1, size=(50, 2))
    with torch.no_grad():
        ref = model(torch.as_tensor(x)).numpy()[:, 0]
    assert np.allclose(snap.forward(x), ref, rtol=1e-12, atol=1e-12)
    back = from_torch(model)
    assert back.activation == act
    assert np.array_equal(back.forward(x), snap.forward(x))


def test_hand_built_relu_net_and_pattern():
    # f(x) = relu(x1 - x2) + 2 relu(x2) - 1
    net = NetSnapshot((np.array([[1.0, -1.0], [0.0, 1.0]]), np.array([[1.0, 2.0]])),
                      (np.zeros(2), np.array([-1.0])))
    x = np.array([[0.5, 0.25], [0.1, 0.7]])
    assert np.allclose(net.forward(x), [0.25 + 0.5 - 1, 0 + 1.4 - 1])
    assert net.forward(np.array([0.5, 0.25])) == pytest.approx(-0.25)
    (p,) = net.pattern(x)
    assert p.tolist() == [[True, True], [False, True]]
    assert net.widths == (2,) and net.input_dim == 2 and net.n_params == 9


def test_snapshot_rejects_bad_shapes_and_values():
    assert issubclass(NetworkError, NnlabError)  # a user's file or scene: one line, exit 2
    with pytest.raises(NetworkError, match="does not match"):
        NetSnapshot((np.ones((3, 2)), np.ones((1, 3))), (np.zeros(2), np.zeros(1)))
    with pytest.raises(NetworkError, match="expects 4 inputs"):
        NetSnapshot((np.ones((3, 2)), np.ones((1, 4))), (np.zeros(3), np.zeros(1)))
    with pytest.raises(NetworkError, match="not finite"):
        NetSnapshot((np.full((1, 2), np.nan),), (np.zeros(1),))
    with pytest.raises(NetworkError, match="one output"):
        NetSnapshot((np.ones((2, 2)),), (np.zeros(2),))


def test_snapshot_rejects_zero_widths_zero_inputs_and_complex_weights():
    with pytest.raises(NetworkError, match=r"layer 0 has zero width \(weight shape \(0, 2\)\)"):
        NetSnapshot((np.ones((0, 2)), np.ones((1, 0))), (np.zeros(0), np.zeros(1)))
    with pytest.raises(NetworkError, match=r"the network has zero inputs"):
        NetSnapshot((np.ones((3, 0)), np.ones((1, 3))), (np.zeros(3), np.zeros(1)))
    with pytest.raises(NetworkError, match="layer 1 weight holds complex values"):
        NetSnapshot((np.ones((3, 2)), np.ones((1, 3)) + 0j), (np.zeros(3), np.zeros(1)))
    with pytest.raises(NetworkError, match="layer 0 bias holds complex values"):
        NetSnapshot((np.ones((1, 2)),), (np.array([1j]),))


def test_from_torch_refuses_what_a_snapshot_cannot_hold():
    mixed = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3), torch.nn.Tanh(),
                                torch.nn.Linear(3, 1))
    with pytest.raises(NetworkError, match="mixes activations relu and tanh"):
        from_torch(mixed)
    with pytest.raises(NetworkError, match="negative slope 1.5"):  # a slope in [0, 1) is read (leaky_relu:a)
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.LeakyReLU(1.5), torch.nn.Linear(3, 1)))
    with pytest.raises(NetworkError, match="unsupported layer ELU"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ELU(), torch.nn.Linear(3, 1)))


def test_snapshot_is_immutable():
    snap = initial_snapshot(NetworkSpec(hidden=(4,)), InitSpec())
    with pytest.raises(ValueError):
        snap.weights[0][0, 0] = 1.0


def test_zero_bias_xavier_net_is_positively_homogeneous():
    snap = initial_snapshot(NetworkSpec(hidden=(50, 50)), InitSpec(scheme="xavier_uniform", seed=1))
    x = np.random.default_rng(1).uniform(0, 1, size=(20, 2))
    assert np.allclose(snap.forward(3.0 * x), 3.0 * snap.forward(x), rtol=1e-10, atol=1e-12)
    assert snap.forward(np.zeros(2)) == 0.0
