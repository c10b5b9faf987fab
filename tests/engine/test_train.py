"""Training: datasets, loss going down, divergence, cancellation, determinism, folding of the normalizations."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from nnlab.engine.model.network import initial_snapshot
from nnlab.engine.model.scene import InitSpec, NetworkSpec, Scene, TargetSpec, TrainSpec
from nnlab.errors import SceneError
from nnlab.engine.train.training import (TrainError, TrainProgress, TrainResult, make_dataset, scene_network, train,
                                train_to_result)
from nnlab.errors import NnlabError

BOX = dict(lower=(-3.0, -1.0), upper=(1.0, 3.0))  # off-centre and not unit: exercises the input folding


def small(expr: str = "x*x - 0.5*y + 3", **train_kw) -> Scene:
    kw = dict(enabled=True, samples=300, epochs=40, batch_size=64, lr=0.01, seed=3, surface_every=10)
    kw.update(train_kw)
    return Scene(network=NetworkSpec(hidden=(16, 16), **BOX), init=InitSpec(scheme="he_uniform", seed=2),
                 target=TargetSpec(name="expression", expression=expr), train=TrainSpec(**kw))


def run(gen) -> tuple[list, TrainResult]:
    events = []
    try:
        while True:
            events.append(next(gen))
    except StopIteration as stop:
        return events, stop.value


def test_dataset_lies_in_the_domain_and_matches_the_target() -> None:
    for sampling in ("uniform", "lhs", "grid"):
        sc = small(sampling=sampling)
        X, y = make_dataset(sc)
        assert X.shape[1] == 2 and len(X) == len(y) and len(X) >= 289
        assert np.all(X >= [-3, -1]) and np.all(X <= [1, 3])
        np.testing.assert_allclose(y, X[:, 0] ** 2 - 0.5 * X[:, 1] + 3)
    X, _ = make_dataset(small(sampling="grid"))
    assert len(np.unique(X[:, 0])) == 17  # floor(sqrt(300)) points per axis
    Xl, _ = make_dataset(small(sampling="lhs", samples=50))
    # Latin hypercube: exactly one sample in each of the 50 strata of each axis
    assert sorted(np.floor((Xl[:, 0] + 3) / 4 * 50).astype(int).tolist()) == list(range(50))


def test_noise_is_seeded() -> None:
    _, y0 = make_dataset(small())
    _, y1 = make_dataset(small(noise=0.5))
    _, y2 = make_dataset(small(noise=0.5))
    np.testing.assert_array_equal(y1, y2)
    assert 0.3 < np.std(y1 - y0) < 0.7


def test_nan_targets_are_refused_with_a_count() -> None:
    sc = small(expr="log(x)")  # x < 0 on half the box
    with pytest.raises(SceneError, match=r"\d+ of 300 training samples have NaN"):
        make_dataset(sc)
    with pytest.raises(SceneError, match="nothing to train"):
        make_dataset(Scene())


def test_training_lowers_the_loss_and_the_snapshot_is_in_scene_units() -> None:
    sc = small(epochs=60)
    events, res = run(train(sc, surface_resolution=12))
    progress = [e for e in events if isinstance(e, TrainProgress)]
    assert progress[0].epoch == 0 and progress[-1].epoch == 60 and res.status == "done" and res.epochs_run == 60
    assert progress[-1].train_loss < 0.05 * progress[0].train_loss
    assert res.val_r2 > 0.95
    # the returned float64 snapshot reproduces the reported R² on fresh points of the box, in target units
    rng = np.random.default_rng(9)
    X = np.column_stack([rng.uniform(-3, 1, 500), rng.uniform(-1, 3, 500)])
    y = X[:, 0] ** 2 - 0.5 * X[:, 1] + 3
    pred = res.snapshot.forward(X)
    assert 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2) > 0.9
    # surfaces: every 10 epochs and at the end, equal to the snapshot's own grid at the last epoch
    with_surface = [e.epoch for e in progress if e.surface is not None]
    assert with_surface == [0, 10, 20, 30, 40, 50, 60]
    from nnlab.engine.analysis.surface import evaluate_network

    z = evaluate_network(res.snapshot, *sc.domain(), 12)
    np.testing.assert_allclose(progress[-1].surface, z, rtol=1e-4, atol=1e-4)
    assert [h[0] for h in res.history] == list(range(61))


def test_start_network_is_preserved_at_epoch_zero() -> None:
    sc = small()
    start = initial_snapshot(sc.network, sc.init)
    gen = train(sc, surface_resolution=8)
    first = next(gen)
    gen.close()
    from nnlab.engine.analysis.surface import evaluate_network

    np.testing.assert_allclose(first.surface, evaluate_network(start, *sc.domain(), 8), rtol=1e-4, atol=1e-4)
    X, y = make_dataset(sc)
    assert first.train_loss == pytest.approx(np.mean((start.forward(X) - y) ** 2), rel=0.25)


def test_same_seed_gives_identical_weights_and_another_seed_does_not() -> None:
    a = train_to_result(small(epochs=5)).snapshot
    b = train_to_result(small(epochs=5)).snapshot
    c = train_to_result(small(epochs=5, seed=4)).snapshot
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.weights[0], c.weights[0])


@pytest.mark.parametrize("optimizer,schedule", [("sgd", "step"), ("lbfgs", "constant"), ("adam", "constant")])
def test_other_optimizers_and_schedules_fit(optimizer: str, schedule: str) -> None:
    lr = {"sgd": 0.02, "lbfgs": 0.5, "adam": 0.01}[optimizer]
    res = train_to_result(small(optimizer=optimizer, schedule=schedule, lr=lr, epochs=30))
    assert res.status == "done" and res.history[-1][1] < 0.2 * res.history[0][1]


def test_divergence_is_reported_with_a_hint_and_keeps_a_finite_net() -> None:
    events, res = run(train(small(optimizer="sgd", lr=1e6, momentum=0.9, epochs=20)))
    errors = [e for e in events if isinstance(e, TrainError)]
    assert len(errors) == 1 and re.match(r"loss became (nan|inf) at epoch \d+", errors[0].message)
    assert "learning rate" in errors[0].hint
    assert res.status == "diverged" and res.epochs_run < 20
    assert all(np.all(np.isfinite(w)) for w in res.snapshot.weights)


def _count_steps(monkeypatch) -> list[int]:
    """Counts optimizer steps: train() asks _lr_at for the learning rate once per step."""
    import nnlab.engine.train.training as tr

    calls = [0]
    real = tr._lr_at

    def counting(scene, frac):
        calls[0] += 1
        return real(scene, frac)

    monkeypatch.setattr(tr, "_lr_at", counting)
    return calls


def test_close_mid_run_stops_the_work_and_frees_the_model(monkeypatch) -> None:
    import gc
    import weakref

    import torch

    steps = _count_steps(monkeypatch)
    models = []
    real_adam = torch.optim.Adam

    class TrackedAdam(real_adam):  # a handle on the training state, to see that close() releases it
        def __init__(self, params, **kw):
            super().__init__(params, **kw)
            models.append(weakref.ref(self))

    monkeypatch.setattr(torch.optim, "Adam", TrackedAdam)
    threads = torch.get_num_threads()
    sc = small(epochs=1000)  # 240 training samples, batch 64: 4 steps per epoch
    gen = train(sc)
    for _ in range(3):
        ev = next(gen)
    assert ev.epoch == 2 and steps[0] == 2 * 4  # no work ahead of what was consumed
    gen.close()
    gc.collect()
    assert steps[0] == 8  # nothing ran at or after close
    assert len(models) == 1 and models[0]() is None  # the optimizer (and the model it holds) is freed
    assert torch.get_num_threads() == threads  # the thread setting train() changes is restored


def test_send_true_cancels_with_a_result_of_the_epochs_run(monkeypatch) -> None:
    steps = _count_steps(monkeypatch)
    seen = []
    res = train_to_result(small(epochs=1000), on_event=lambda e: seen.append(e) or len(seen) >= 4)
    assert res.status == "cancelled" and res.epochs_run == 3 and len(res.history) == 4
    assert steps[0] == 3 * 4  # stopped right after the 4th event (epoch 3), not at epoch 1000


def test_heartbeat_lets_a_long_epoch_be_cancelled(monkeypatch) -> None:
    import nnlab.engine.train.training as tr

    monkeypatch.setattr(tr, "HEARTBEAT_S", 0.0)  # every step of an epoch offers a yield
    steps = _count_steps(monkeypatch)
    gen = train(small(batch_size=10, epochs=3))  # 24 steps per epoch
    first, second = next(gen), next(gen)
    assert second is first  # a heartbeat repeats the latest event
    with pytest.raises(StopIteration) as stop:
        gen.send(True)
    result = stop.value.value
    assert result.status == "cancelled" and result.epochs_run == 0
    assert steps[0] == 1  # cancelled inside the first epoch, after its first step
    np.testing.assert_array_equal(result.snapshot.weights[0].shape, (16, 2))


def test_scene_network_trains_only_when_enabled() -> None:
    sc = small(epochs=3)
    off = sc.replace("train", enabled=False)
    init = initial_snapshot(sc.network, sc.init)
    np.testing.assert_array_equal(scene_network(off).weights[0], init.weights[0])
    trained = scene_network(sc)
    assert not np.array_equal(trained.weights[0], init.weights[0])
    with pytest.raises(NnlabError, match="lower the learning rate"):
        scene_network(small(optimizer="sgd", lr=1e6, epochs=20))


def test_no_validation_split_reports_training_r2() -> None:
    res = train_to_result(small(val_fraction=0.0, epochs=20))
    assert res.val_r2 is not None and math.isfinite(res.val_r2)
    gen = train(small(val_fraction=0.0, epochs=2))
    assert next(gen).val_loss is None
    gen.close()



def test_csv_samples_train_with_the_path_relative_to_the_scene(tmp_path) -> None:
    rng = np.random.default_rng(4)
    X = rng.uniform([10, -4], [14, -2], size=(150, 2))  # data far from the default [0,1]² box
    y = 3 * X[:, 0] - X[:, 1]
    (tmp_path / "d.csv").write_text("x1,x2,y\n" + "".join(f"{a},{b},{c}\n" for a, b, c in zip(*X.T, y)))
    sc = Scene(network=NetworkSpec(hidden=(8,)), init=InitSpec(scheme="he_uniform", seed=1),
               target=TargetSpec(name="csv", csv="d.csv"), train=TrainSpec(epochs=80, batch_size=32, lr=0.02),
               source=str(tmp_path / "scene.toml"))
    Xd, yd = make_dataset(sc)
    np.testing.assert_allclose(yd, y)
    res = train_to_result(sc)
    assert res.val_r2 > 0.95
    np.testing.assert_allclose(res.snapshot.forward(X[:20]), y[:20], atol=0.2 * np.std(y))


@pytest.mark.parametrize("noise", [1e308, 1e6])
def test_absurd_noise_is_refused_naming_the_field_and_the_scale(noise: float) -> None:
    sc = small(noise=noise)  # x*x - 0.5*y + 3 on [-3,1]x[-1,3]: a range of about 11
    with pytest.raises(SceneError, match=r"\[train\] noise = .* is not allowed; expected at most 10 x the target's range"):
        make_dataset(sc)
    X, y = make_dataset(small(noise=5.0))  # large but sane noise is kept
    clean = X[:, 0] ** 2 - 0.5 * X[:, 1] + 3
    assert 3.0 < float(np.std(y - clean)) < 7.0

