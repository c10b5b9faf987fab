"""Files written by torch's own exporters (ONNX with dynamo=True and dynamo=False, TorchScript, torch.export) of
nets with what real models hold: an input normalisation inside, several outputs, BatchNorm, Dropout, convolutions,
GELU. Each is read and compared with torch's forward pass of the module (float64) on random points."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
nn = torch.nn

from nnlab.engine.model.io import read_network  # noqa: E402


class Normalised(nn.Module):
    """(x - mean) / std, then an MLP with 3 outputs: the shape of ACAS Xu-style nets."""

    def __init__(self, act: nn.Module) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.1, -0.2, 0.3, 0.0]))
        self.register_buffer("std", torch.tensor([2.0, 0.5, 1.5, 3.0]))
        self.net = nn.Sequential(nn.Linear(4, 6), act, nn.Linear(6, 5), act, nn.Linear(5, 3))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def _bn_net() -> nn.Module:
    m = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Dropout(0.3), nn.LeakyReLU(0.01), nn.Linear(6, 2))
    with torch.no_grad():  # statistics that are not the identity
        m[1].running_mean.uniform_(-1, 1)
        m[1].running_var.uniform_(0.5, 2)
        m[1].weight.uniform_(0.5, 1.5)
        m[1].bias.uniform_(-1, 1)
    return m


def _cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(3, 2, 2, stride=2),
                         nn.ReLU(), nn.Flatten(), nn.Linear(2 * 2 * 2, 2))


MODELS = {  # name: (module factory, input shape at batch 1, the activation nnlab must report)
    "normalised_relu": (lambda: Normalised(nn.ReLU()), (1, 4), "relu"),
    "bn_dropout_leaky": (_bn_net, (1, 4), "leaky_relu"),
    "gelu": (lambda: Normalised(nn.GELU()), (1, 4), "gelu"),
    "cnn": (_cnn, (1, 1, 8, 8), "relu"),
}


def _module(name: str) -> nn.Module:
    torch.manual_seed(7)
    return MODELS[name][0]().eval()


def _compare(net, module: nn.Module, shape: tuple[int, ...]) -> None:
    pts = np.random.default_rng(1).uniform(-2, 2, (30, int(np.prod(shape))))
    with torch.no_grad():
        want = np.stack([module.double()(torch.tensor(p.reshape(shape))).numpy().reshape(-1) for p in pts])
    assert np.ptp(want) > 1e-3
    np.testing.assert_allclose(net.forward(pts), want, rtol=1e-5, atol=1e-5 * (1 + np.abs(want).max()))


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript_exporter", "dynamo_exporter"])
@pytest.mark.parametrize("name", list(MODELS))
def test_torch_onnx_exports_read_as_the_module(tmp_path: Path, name: str, dynamo: bool) -> None:
    if dynamo:
        pytest.importorskip("onnxscript")
    module = _module(name)
    shape, act = MODELS[name][1], MODELS[name][2]
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(shape),), str(path), dynamo=dynamo)
    net = read_network(path)
    assert net.activation == act
    _compare(net, module, shape)


@pytest.mark.parametrize("kind", ["torchscript", "export"])
def test_torch_graph_files_with_a_normalisation_inside(tmp_path: Path, kind: str) -> None:
    """sub and div by constants (the normalisation module) fold into the first layer of .pt and .pt2 files."""
    module = _module("normalised_relu")
    x = torch.zeros(1, 4)
    path = tmp_path / ("n.pt" if kind == "torchscript" else "n.pt2")
    with warnings.catch_warnings():  # torch.jit's deprecation notes
        warnings.simplefilter("ignore")
        if kind == "torchscript":
            torch.jit.save(torch.jit.trace(module, x), str(path))
        else:
            torch.export.save(torch.export.export(module, (x,)), str(path))
    net = read_network(path)
    assert net.activation == "relu" and net.n_outputs == 3 and [w.shape for w, _ in net.stack.layers][0] == (6, 4)
    _compare(net, module, (1, 4))
