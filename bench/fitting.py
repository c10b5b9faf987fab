"""Fitting a torch net to samples for the benchmarks' trained networks: Adam, fixed steps and seeded minibatches,
so a bench rebuilds the same network every run (the engine's training is for scenes; benches need bare nets)."""
from __future__ import annotations

from typing import Any


def fit(model: Any, X: Any, Y: Any, steps: int, lr: float = 3e-3, batch: int = 512) -> Any:
    """Minimise the mean squared error of model(X)[:, 0] against Y over `steps` random minibatches; returns model."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, X.shape[0], (batch,))
        loss = ((model(X[idx])[:, 0] - Y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model
