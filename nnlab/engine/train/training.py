"""Fitting a scene's network to its target: a generator of per-epoch progress events that returns a TrainResult.

The torch model trains in normalized coordinates (the input box mapped to [-1, 1], targets to zero mean and unit
std). Both maps are affine, so they fold exactly into the first and last layers: the start network computes the
same function before training, and every snapshot computes the target in the scene's own units.
Cancel with gen.close() (nothing returned), or gen.send(True) to stop and get a TrainResult with status "cancelled".
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator

import numpy as np

from nnlab.engine.model.network import NetSnapshot, initial_snapshot, snapshot_from_layers
from nnlab.engine.model.scene import Scene
from nnlab.engine.threads import torch_threads
from nnlab.engine.model.learning import OPTIMIZERS, SCHEDULES
from nnlab.engine.model.sampling import sample_points
from nnlab.errors import NnlabError, SceneError

HEARTBEAT_S = 0.15  # a long epoch re-yields its latest event this often, so the consumer can cancel
LIVE_NETWORK_MAX_PARAMS = 200_000  # progress events carry the weights of nets up to this size (the live diagram)
MAX_NOISE_RATIO = 10.0  # [train] noise <= this x the target's range: beyond it the data are noise, not the target


@dataclass(frozen=True, eq=False)
class TrainProgress:
    """State after `epoch` epochs (0: the start network); losses are MSE in target units."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float | None
    val_r2: float | None
    seconds: float
    surface: np.ndarray | None  # (res, res) float32, Z[i, j] = f(xs[i], ys[j]) over scene.domain(), or None
    network: NetSnapshot | None = None  # the weights now, with the surfaces (nets up to LIVE_NETWORK_MAX_PARAMS)


@dataclass(frozen=True)
class TrainError:
    """Training went wrong (e.g. divergence); `hint` says what to change."""

    message: str
    hint: str


@dataclass(frozen=True, eq=False)
class TrainResult:
    snapshot: NetSnapshot
    status: str  # "done" | "diverged" | "cancelled"
    epochs_run: int
    train_loss: float
    val_r2: float | None
    seconds: float
    history: list = field(default_factory=list)  # [(epoch, train_loss, val_r2)]
    # (lower, upper, z): the exact surface of `snapshot` on a grid (evaluate_network), when the job was asked for it
    # (the app's: computed in the worker, so finishing a run does not cost the window a forward pass)
    surface: tuple | None = None
    # the optimizer's state at the end (e.g. Adam's moments) as numpy (optimizer_state): a resumed run goes on from
    # it; None after a divergence
    optimizer_state: dict | None = None


def optimizer_state(state: Any) -> Any:
    """torch.optim's state_dict with every tensor as a numpy array (picklable without torch: the app's window
    receives training results and does not import torch)."""
    if hasattr(state, "detach"):
        return state.detach().cpu().numpy().copy()
    if isinstance(state, dict):
        return {k: optimizer_state(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(optimizer_state(v) for v in state)
    return state


def _torch_state(state: Any) -> Any:
    import torch

    if isinstance(state, np.ndarray):
        return torch.from_numpy(state.copy())
    if isinstance(state, dict):
        return {k: _torch_state(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_torch_state(v) for v in state)
    return state


def _sample_inputs(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """[train] samples points over scene.domain() by the [train] sampling scheme (train/sampling.py)."""
    t = scene.train
    lo, hi = (np.asarray(v, dtype=np.float64) for v in scene.domain())
    try:
        return np.concatenate(list(sample_points(t.sampling, t.samples, lo, hi, rng)))
    except NnlabError as e:
        raise SceneError(f"[train] sampling = {t.sampling!r}: {e}") from None


def make_dataset(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Inputs X (N, n) and targets y (N,): sampled over scene.domain() or read from CSV, plus seeded noise.

    Sampling "grid" puts floor(samples^(1/n)) points on each axis; noise is Gaussian with std `noise` in target units,
    at most MAX_NOISE_RATIO x the range of the target's values (else a SceneError naming [train] noise).
    """
    t = scene.target
    if t.name == "none":
        raise SceneError("nothing to train: [target] name = none")
    rng = np.random.default_rng(scene.train.seed)
    if t.name == "csv":
        from nnlab.engine.model.csvdata import load_csv_samples

        X, y = load_csv_samples(scene.resolve_path(t.csv))
    else:
        from nnlab.engine.model.targets import target_function

        X = _sample_inputs(scene, rng)
        y = target_function(scene)(X)
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(y) != len(X):  # a registered target or an expression returns one value per point
        raise AssertionError(f"target gave {len(y)} values for {len(X)} inputs")
    if X.shape[1] != scene.network.input_dim:
        raise SceneError(f"data has {X.shape[1]} input columns but [network] input_dim = {scene.network.input_dim}")
    bad = int(np.count_nonzero(~np.isfinite(y))) + int(np.count_nonzero(~np.all(np.isfinite(X), axis=1)))
    if bad:
        raise SceneError(f"{bad} of {len(y)} training samples have NaN or infinite values; fix the target or the data")
    noise = scene.train.noise
    if noise > 0:
        with np.errstate(over="ignore", invalid="ignore"):
            span = float(np.max(y) - np.min(y))
        scale = span if span > 0 else max(float(np.max(np.abs(y))), 1.0)  # a constant target: its size, or 1
        if not math.isfinite(scale) or noise > MAX_NOISE_RATIO * scale:
            raise SceneError(f"[train] noise = {noise:g} is not allowed; expected at most {MAX_NOISE_RATIO:g} x the "
                             f"target's range ({scale:.4g}), i.e. <= {MAX_NOISE_RATIO * scale:.4g}")
        y = y + noise * rng.standard_normal(len(y))
    return X, y


def _fold(layers: list, c: np.ndarray, s: np.ndarray, mu: float, sd: float, into: bool) -> list:
    """Map layers between scene units and normalized units (into=True: to normalized)."""
    layers = [(np.array(w, dtype=np.float64), np.array(b, dtype=np.float64)) for w, b in layers]
    w, b = layers[0]
    if into:
        layers[0] = (w * s[None, :], b + w @ c)
    else:
        w = w / s[None, :]
        layers[0] = (w, b - w @ c)
    w, b = layers[-1]
    layers[-1] = (w / sd, (b - mu) / sd) if into else (w * sd, b * sd + mu)
    return layers


def _r2(pred: np.ndarray, y: np.ndarray) -> float:
    sse = float(np.sum((pred - y) ** 2))
    sst = float(np.sum((y - y.mean()) ** 2))
    if sst <= 0.0:
        return 1.0 if sse <= 0.0 else 0.0
    return 1.0 - sse / sst


def _lr_at(scene: Scene, frac: float) -> float:
    """Learning rate at `frac` (0..1) of the run, by the registered [train] schedule (train/optimizers.py)."""
    return SCHEDULES.get(scene.train.schedule).obj(scene.train.lr, frac)


def train(scene: Scene, start: NetSnapshot | None = None, surface_resolution: int | None = None,
          first_epoch: int = 0, data: tuple[np.ndarray, np.ndarray] | None = None,
          resume_state: dict | None = None) -> Generator[TrainProgress | TrainError, object, TrainResult]:
    """Train `start` (default: the scene's initial network) on the scene's target; one event per epoch at least.

    surface_resolution: grid size of the surfaces in the events (None: scene.camera.resolution, 0: no surfaces).
    first_epoch: resume a stopped run after this many epochs (the lr schedule, batch order and epoch numbers go on
    from there); resume_state: the stopped run's TrainResult.optimizer_state, so the optimizer's own state (Adam's
    moments) goes on too. Without it the moments start afresh and the first steps can throw the loss back up
    (3.5x in a fresh-clone test run).
    data: (X, y) to fit instead of the scene's target (a study's real data set, inside scene.domain()).
    """
    import torch

    from nnlab.engine.analysis.surface import grid_points
    from nnlab.engine.model.network import from_torch, to_torch

    t0 = time.perf_counter()
    tr = scene.train
    X, y = make_dataset(scene) if data is None else (np.asarray(data[0], np.float64), np.asarray(data[1], np.float64))
    snap = start if start is not None else initial_snapshot(scene.network, scene.init)
    if snap.input_dim != X.shape[1]:
        raise NnlabError(f"the start network has {snap.input_dim} inputs but the data has {X.shape[1]}")
    rng = np.random.default_rng(tr.seed + 1)
    perm = rng.permutation(len(X))
    n_val = min(int(round(tr.val_fraction * len(X))), len(X) - 1)
    val_idx, tr_idx = perm[:n_val], perm[n_val:]

    if scene.target.name == "csv":
        lo, hi = X.min(axis=0), X.max(axis=0)
    else:
        lo, hi = (np.asarray(v, dtype=np.float64) for v in scene.domain())
    c = (lo + hi) / 2.0
    s = np.where(hi - lo > 0, (hi - lo) / 2.0, 1.0)
    mu = float(y[tr_idx].mean())
    sd = float(y[tr_idx].std()) or 1.0
    fold_in = _fold(snap.layers(), c, s, mu, sd, into=True)

    def snapshot() -> NetSnapshot:
        return snapshot_from_layers(_fold(from_torch(model).layers(), c, s, mu, sd, into=False), snap.activation)

    def tensor(a: np.ndarray) -> "torch.Tensor":
        return torch.as_tensor(a, dtype=torch.float32)

    # small steps: thread hand-offs cost more than they save
    with torch_threads(1 if snap.n_params * min(tr.batch_size, len(tr_idx)) < 5e6 else 0):
        gen = torch.Generator().manual_seed(tr.seed)  # the only randomness in torch: batch order
        model = to_torch(snapshot_from_layers(fold_in, snap.activation))
        params = list(model.parameters())
        xt, yt = tensor((X[tr_idx] - c) / s), tensor((y[tr_idx] - mu) / sd)
        xv, yv = (tensor((X[val_idx] - c) / s), (y[val_idx] - mu) / sd) if n_val else (xt, (y[tr_idx] - mu) / sd)
        res = scene.camera.resolution if surface_resolution is None else surface_resolution
        grid = None
        if snap.input_dim == 2 and res > 0:
            dlo, dhi = scene.domain()
            grid = tensor((grid_points(dlo, dhi, res) - c) / s)
        method = OPTIMIZERS.get(tr.optimizer)
        opt = method.obj(params, tr)
        if resume_state is not None and first_epoch > 0:
            opt.load_state_dict(_torch_state(resume_state))
        batch = len(tr_idx) if method.full_batch else min(tr.batch_size, len(tr_idx))
        steps = math.ceil(len(tr_idx) / batch)
        total = tr.epochs * steps

        def evaluate(epoch: int, train_loss: float) -> TrainProgress:
            with torch.no_grad():
                pv = model(xv)[:, 0].double().numpy()
                surf = None
                if grid is not None and (epoch == tr.epochs or (tr.surface_every and epoch % tr.surface_every == 0)):
                    z = model(grid)[:, 0].double().numpy() * sd + mu
                    surf = z.reshape(res, res).astype(np.float32)
            live = epoch == tr.epochs or (tr.surface_every and epoch % tr.surface_every == 0)
            r2 = _r2(pv, yv) if np.all(np.isfinite(pv)) else float("nan")
            vloss = float(np.mean((pv - yv) ** 2)) * sd * sd if n_val else None
            net = None
            if live and snap.n_params <= LIVE_NETWORK_MAX_PARAMS:
                try:
                    net = snapshot()
                except NnlabError:  # non-finite weights (a diverging epoch): no live network in this event
                    net = None
            return TrainProgress(epoch, tr.epochs, train_loss, vloss, r2, time.perf_counter() - t0, surf, net)

        with torch.no_grad():
            loss0 = float(torch.mean((model(xt)[:, 0] - yt) ** 2)) * sd * sd
        first_epoch = min(max(0, int(first_epoch)), tr.epochs)
        for _ in range(first_epoch if batch < len(tr_idx) else 0):  # the batch order of the epochs already run
            torch.randperm(len(tr_idx), generator=gen)
        last = evaluate(first_epoch, loss0)
        history = [(first_epoch, loss0, last.val_r2)]
        good = [p.detach().clone() for p in params]
        status, epochs_run = "done", first_epoch
        stop = yield last
        beat = time.perf_counter()
        for epoch in range(first_epoch + 1, tr.epochs + 1):
            if stop:
                status = "cancelled"
                break
            order = torch.randperm(len(tr_idx), generator=gen) if batch < len(tr_idx) else None
            acc, bad = 0.0, None
            for k in range(steps):
                lr = _lr_at(scene, ((epoch - 1) * steps + k) / total)
                for g in opt.param_groups:
                    g["lr"] = lr
                idx = order[k * batch:(k + 1) * batch] if order is not None else None
                xb, yb = (xt, yt) if idx is None else (xt[idx], yt[idx])

                def closure() -> "torch.Tensor":
                    opt.zero_grad(set_to_none=True)
                    out = torch.mean((model(xb)[:, 0] - yb) ** 2)
                    out.backward()
                    return out

                if method.full_batch:  # L-BFGS: the step re-evaluates through the closure
                    loss = float(opt.step(closure).detach())  # the loss before the step, like the other optimizers
                else:
                    loss = float(closure().detach())
                    if math.isfinite(loss):
                        opt.step()
                if not math.isfinite(loss):
                    bad = loss
                    break
                acc += loss * len(yb)
                if time.perf_counter() - beat > HEARTBEAT_S and k < steps - 1:
                    stop = yield last
                    beat = time.perf_counter()
                    if stop:
                        break
            if stop:
                status = "cancelled"
                break
            prog = evaluate(epoch, acc / len(tr_idx) * sd * sd) if bad is None else None
            if bad is None and not (math.isfinite(prog.val_r2) and all(bool(torch.isfinite(p).all()) for p in params)):
                bad = float("nan")
            if bad is not None:
                status = "diverged"
                yield TrainError(f"loss became {'nan' if math.isnan(bad) else 'inf'} at epoch {epoch}",
                                 "lower the learning rate" + (" or use adam" if tr.optimizer != "adam" else ""))
                break
            last, epochs_run = prog, epoch
            history.append((epoch, prog.train_loss, prog.val_r2))
            good = [p.detach().clone() for p in params]
            stop = yield last
            beat = time.perf_counter()
        if status == "diverged" or not all(bool(torch.isfinite(p).all()) for p in params):
            with torch.no_grad():  # back to the end of the last good epoch
                for p, q in zip(params, good):
                    p.copy_(q)
        state = None if status == "diverged" else optimizer_state(opt.state_dict())
        return TrainResult(snapshot(), status, epochs_run, last.train_loss, last.val_r2,
                           time.perf_counter() - t0, history, optimizer_state=state)


def train_to_result(scene: Scene, start: NetSnapshot | None = None, surface_resolution: int | None = 0,
                    on_event: Callable[[TrainProgress | TrainError], object] | None = None,
                    data: tuple[np.ndarray, np.ndarray] | None = None) -> TrainResult:
    """Run `train` to the end; `on_event` sees every event and may return True to stop (status "cancelled")."""
    gen = train(scene, start, surface_resolution, data=data)
    try:
        event = next(gen)
        while True:
            stop = on_event(event) if on_event is not None else None
            event = gen.send(bool(stop))
    except StopIteration as done:
        return done.value


def scene_network(scene: Scene) -> NetSnapshot:
    """The network a scene file describes: its initial network, trained when [train] enabled and a target is set."""
    if not scene.trains():
        return scene.base_network()  # a model file's network, or the initial one
    errors: list[TrainError] = []
    result = train_to_result(scene, on_event=lambda e: errors.append(e) if isinstance(e, TrainError) else None)
    if result.status == "diverged":
        e = errors[0] if errors else TrainError("training diverged", "lower the learning rate")
        raise NnlabError(f"training the scene's network failed: {e.message} ({e.hint})")
    return result.snapshot
