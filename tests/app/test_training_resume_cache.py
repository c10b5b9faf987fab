"""Resuming a stopped run goes on with the schedule, batch order and epoch counter (exactly, for an optimizer without
state), and the app's training cache: a finished run is found again, bundled presets load without training."""
from __future__ import annotations

import numpy as np

from nnlab.app.relief import relief
from nnlab.app.training import cached_network, remember
from nnlab.engine.model.scene import Scene, load_scene
from nnlab.engine.train.training import train, train_to_result
from nnlab.ui.presets import SCENES


def small(epochs: int = 12) -> Scene:
    s = Scene(title="small").replace("network", hidden=(8, 8), lower=(-3.0, -3.0), upper=(3.0, 3.0))
    s = s.replace("target", name="peaks")
    return s.replace("train", samples=200, epochs=epochs, batch_size=32, lr=0.05, optimizer="sgd", momentum=0.0,
                     schedule="cosine", surface_every=0)


def _run(scene, start=None, first=0, stop_at=None):
    gen = train(scene, start, 0, first_epoch=first)
    epochs = []
    ev = next(gen)
    try:
        while True:
            epochs.append(ev.epoch)
            ev = gen.send(stop_at is not None and ev.epoch >= stop_at)
    except StopIteration as done:
        return done.value, epochs


def test_resume_after_stop_equals_the_uninterrupted_run():
    scene = small()
    full, _ = _run(scene)
    part, _ = _run(scene, stop_at=5)
    assert part.status == "cancelled" and part.epochs_run == 5
    rest, epochs = _run(scene, part.snapshot, first=part.epochs_run)
    assert rest.status == "done" and rest.epochs_run == 12
    assert sorted(set(epochs)) == list(range(5, 13))  # the counter goes on from 5, never back to 0
    for a, b in zip(full.snapshot.weights, rest.snapshot.weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    restart, _ = _run(scene, part.snapshot)  # a fresh schedule from the partial weights is another network
    assert max(float(np.abs(a - b).max()) for a, b in zip(full.snapshot.weights, restart.snapshot.weights)) > 1e-3


def test_a_finished_run_is_cached_and_found_again(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_CACHE_DIR", str(tmp_path))
    scene = small(epochs=3)  # [train] enabled = false: what the Train button trains
    assert cached_network(scene) is None
    result = train_to_result(scene)
    assert remember(scene, result.snapshot)
    snap, source = cached_network(scene)
    assert source == "cache"
    for a, b in zip(snap.weights, result.snapshot.weights):
        np.testing.assert_array_equal(a, b)
    assert cached_network(scene.replace("init", seed=scene.init.seed + 1)) is None  # other weights, other key
    assert cached_network(scene.replace("target", name="none")) is None


def test_bundled_trained_presets_are_found_without_training():
    for name in ("himmelblau", "rastrigin", "peaks_tanh"):
        found = cached_network(load_scene(SCENES / f"{name}.toml"))
        assert found is not None and found[1] == "bundled", name


def test_relief_shades_slopes_by_the_light_and_keeps_flat_grids_even():
    x = np.linspace(-1.0, 1.0, 32)
    X, Y = np.meshgrid(x, x, indexing="ij")
    u, shade = relief(np.maximum(0.0, X - Y))  # a ReLU unit: a flat half and a ramp rising to the lower right
    assert u.min() == 0.0 and u.max() == 1.0
    flat, ramp = shade[2, -3], shade[-3, 2]  # (x1 low, x2 high) is flat; (x1 high, x2 low) is on the ramp
    assert abs(flat - shade[3, -4]) < 1e-6 and abs(ramp - flat) > 0.1
    # light from the upper left: a surface rising to the right faces it (lit), one rising to the left faces away
    assert relief(X)[1][16, 16] > relief(np.zeros_like(X))[1][16, 16] - 0.05 > relief(-X)[1][16, 16]
    _, even = relief(np.full((5, 5), 3.0))
    assert np.ptp(even) == 0.0


def _drain(gen, stop_after=None):
    n = 0
    try:
        next(gen)
        while True:
            n += 1
            gen.send(stop_after is not None and n >= stop_after)
    except StopIteration as done:
        return done.value


def test_the_training_job_caches_a_finished_run_itself_and_only_when_asked(tmp_path, monkeypatch):
    """The app's training job writes the cache in the worker (compressing it on the GUI thread stalled the window
    when a run ended); a stopped run or a job not asked to cache writes nothing."""
    from nnlab.app.jobs import train_job

    monkeypatch.setenv("NNLAB_CACHE_DIR", str(tmp_path))
    scene = small(epochs=3)
    assert _drain(train_job(scene, None, cache=False)()).status == "done"
    assert cached_network(scene) is None
    assert _drain(train_job(scene, None, cache=True)(), stop_after=1).status == "cancelled"
    assert cached_network(scene) is None
    result = _drain(train_job(scene, None, cache=True)())
    snap, source = cached_network(scene)
    assert source == "cache" and result.status == "done"
    for a, b in zip(snap.weights, result.snapshot.weights):
        np.testing.assert_array_equal(a, b)


def test_resume_with_the_optimizer_state_equals_the_uninterrupted_adam_run():
    """A stopped Adam run resumed with its optimizer state (TrainResult.optimizer_state: Adam's moments, as numpy)
    goes on exactly; without it the moments start afresh, another run (in a fresh-clone test run the loss jumped
    3.5x after Resume)."""
    scene = small().replace("train", optimizer="adam", lr=0.01)

    def run(start=None, first=0, stop_at=None, state=None):
        gen = train(scene, start, 0, first_epoch=first, resume_state=state)
        ev = next(gen)
        try:
            while True:
                ev = gen.send(stop_at is not None and ev.epoch >= stop_at)
        except StopIteration as done:
            return done.value

    full = run()
    part = run(stop_at=5)
    assert part.status == "cancelled" and part.epochs_run == 5
    state = part.optimizer_state
    assert state is not None and all(isinstance(v["exp_avg"], np.ndarray) for v in state["state"].values())
    rest = run(part.snapshot, part.epochs_run, state=state)
    for a, b in zip(full.snapshot.weights, rest.snapshot.weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    afresh = run(part.snapshot, part.epochs_run)
    assert max(float(np.abs(a - b).max()) for a, b in zip(full.snapshot.weights, afresh.snapshot.weights)) > 1e-3
