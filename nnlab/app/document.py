"""The open scene and the network on screen: the one model every panel and view listens to, and its operations.

All maths is delegated to the engine (Scene.base_network: the initial network or the scene's model file's,
surface.evaluate_network, targets, train.make_dataset);
a rejected change emits `error` and leaves the scene as it was. `net` is always the network on screen (initial,
being trained, trained or loaded): whatever shows or exports it (views, Info, Optimize, the Export dialog, network
files) takes it from here, never retrains the scene. Job factories are picklable (nnlab.app.jobs) and run by the UI
on a worker (nnlab.ui.worker).
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Generator, Iterator

import numpy as np

from nnlab.app import jobs
from nnlab.app.errors import describe
from nnlab.app.events import Signal
from nnlab.app.training import TrainState
from nnlab.app.view import ViewState
from nnlab.engine.analysis.surface import evaluate_fn, evaluate_network, grid_axes
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.model.scene import Scene, load_scene, save_scene


class Document:
    """Signals: scene_changed (any field of the scene), network_changed (a new network: init, architecture,
    trained, loaded), surface_changed (new surface values, also during training), target_changed (the target or its
    domain), loaded(path) (a scene file was opened), error(str), message(str)."""

    def __init__(self, scene: Scene | None = None) -> None:
        self.scene_changed, self.network_changed, self.surface_changed = Signal(), Signal(), Signal()
        self.target_changed, self.loaded, self.error, self.message = Signal(), Signal(), Signal(), Signal()
        self.view = ViewState()  # what the views show besides the scene
        self.training = TrainState()  # the run training the network on screen
        self._live: NetSnapshot | None = None  # the latest weights the running trainer sent (shown_net)
        self.training.changed.connect(self._training_changed)
        self.scene = scene or Scene()
        self.clean: Scene = self.scene  # the scene as opened or last saved (modified: differs from it)
        self.path: str = ""
        self.initial: NetSnapshot = self.scene.base_network()
        self.net: NetSnapshot = self.initial
        self.trained = False
        self.xs, self.ys = grid_axes(*self._box(), self.scene.camera.resolution)
        self.z = np.zeros((len(self.xs), len(self.ys)), dtype=np.float32)
        self._target_cache: tuple | None = None
        self._samples_cache: tuple | None = None
        self._recompute()

    # ---- loading and saving -------------------------------------------------------------------------------
    def load(self, path: str | Path) -> bool:
        """Open a scene file; on error the current scene stays and `error` says why."""
        clean = self.clean
        try:
            scene = load_scene(path)
            self.clean = scene  # before set_scene's events: what listens sees the scene as not edited
            self.set_scene(scene)
        except Exception as e:  # noqa: BLE001 - a user error as its message, a bug as "internal error" (describe)
            self.clean = clean
            self.error.emit(describe(e))
            return False
        self.path = str(path)
        self.view.set(unit=None)
        self.view.clear_marks()
        self.message.emit(f"Opened {Path(path).name}: {scene.title}")
        self.loaded.emit(self.path)
        return True

    def save(self, path: str | Path) -> bool:
        try:
            saved = save_scene(self.scene, path)  # relative paths rewritten for the new folder
        except Exception as e:  # noqa: BLE001 - see describe
            self.error.emit(f"cannot save {path}: {describe(e)}")
            return False
        self.scene = saved
        self.clean = saved
        self.path = str(path)
        self.scene_changed.emit()
        self.message.emit(f"Saved {Path(path).name}")
        return True

    def set_scene(self, scene: Scene) -> None:
        """Replace the whole scene (raises on a network the scene cannot build; the caller reports it)."""
        initial = scene.base_network()
        scene.domain()  # raises for a target without a form in this dimension
        self.view.unit = None  # (as in update: before the new network's surface is drawn)
        self.scene, self.initial, self.net, self.trained = scene, initial, initial, False
        self._target_cache = self._samples_cache = None
        self._recompute()
        self.scene_changed.emit()
        self.target_changed.emit()
        self._network_changed()

    def save_network(self, path: str | Path) -> bool:
        """Write the network on screen to a model file (.onnx, .npz, .pt); `error` says why not."""
        from nnlab.engine.model.io import save_model

        try:
            save_model(self.net, path)
        except Exception as e:  # noqa: BLE001 - see describe
            self.error.emit(f"cannot export the network: {describe(e)}")
            return False
        self.message.emit(f"Exported the network to {path}")
        return True

    # ---- edits --------------------------------------------------------------------------------------------
    def update(self, section: str | None, **changes: Any) -> bool:
        """Change fields (`update("init", seed=2)`); re-draws the network when the architecture or init changed."""
        try:
            scene = self.scene.replace(section, **changes)
            if section in ("network", "target"):
                scene.domain()
            rebuild = section in ("network", "init")
            initial = scene.base_network() if rebuild else self.initial
        except Exception as e:  # noqa: BLE001 - see describe
            self.error.emit(describe(e))
            return False
        old = self.scene
        self.scene = scene
        if section in ("network", "target"):
            self._target_cache = self._samples_cache = None
        if section == "train" and any(k in changes for k in ("samples", "sampling", "noise", "seed")):
            self._samples_cache = None
        if rebuild:
            self.view.unit = None  # before the surface is recomputed: the old unit may not exist in the new net
            self.initial, self.net, self.trained = initial, initial, False
        if rebuild or old.domain() != scene.domain() or old.camera.resolution != scene.camera.resolution:
            self._recompute()
        self.scene_changed.emit()
        if section in ("network", "target"):
            self.target_changed.emit()
        if rebuild:
            self._network_changed()
        return True

    def next_seed(self) -> bool:
        """New sample: the next seed, a fresh network from the same distribution."""
        return self.update("init", seed=self.scene.init.seed + 1)

    def set_network(self, net: NetSnapshot, trained: bool = True, surface: tuple | None = None) -> None:
        """A new network of the same architecture (after training or loading weights). `surface` = (lower, upper,
        z): its surface computed elsewhere by evaluate_network (a training job's); used when it is this grid's."""
        self.net, self.trained = net, trained
        self._recompute(surface)
        self._network_changed()

    def reset_network(self) -> None:
        """Back to the scene's seeded initial weights."""
        self.set_network(self.initial, trained=False)

    def _network_changed(self) -> None:
        self.view.unit = None  # a unit of the old network means nothing now
        self.network_changed.emit()

    def show_surface(self, z: np.ndarray) -> None:
        """Surface values computed elsewhere (training progress) on the current grid."""
        if z.shape == self.z.shape:
            self.z = np.asarray(z, dtype=np.float32)
            self.surface_changed.emit()

    @property
    def modified(self) -> bool:
        """The scene differs from the one opened or last saved."""
        return self.scene != self.clean

    def edited(self) -> bool:
        """What the scene's description talks about (network, init, target, training) was changed since it was
        opened: the description no longer describes the network on screen."""
        return any(getattr(self.scene, k) != getattr(self.clean, k) for k in ("network", "init", "target", "train"))

    def window_title(self) -> str:
        """'<scene title> (<file>) — modified — nnlab': the window says which scene is on screen."""
        name = Path(self.path).name if self.path else "unsaved"
        title = self.scene.title or Path(self.path).stem or "untitled"
        return f"{title} ({name}){' — modified' if self.modified else ''} — nnlab"

    def caption(self) -> str:
        """One line saying what the network is: architecture, init, trained or not."""
        from nnlab.engine.model.inits import INITS

        s = self.scene
        arch = "-".join(str(w) for w in (s.network.input_dim, *s.network.hidden, 1))
        if s.network.model:
            return f"{arch} {s.network.activation} · {Path(s.network.model).name}, {self.output_label()} · from a model file"
        init = f"{INITS.get(s.init.scheme).label}, seed {s.init.seed}"
        state = f"trained on {s.target.name}" if self.trained else "at initialization"
        return f"{arch} {s.network.activation} · {init} · {state}"

    def model_outputs(self) -> int:
        """How many outputs the scene's model file has (0: the scene names no model file)."""
        return self.scene.model_network().n_outputs if self.scene.network.model else 0

    def output_label(self) -> str:
        """Which output of the model file is drawn: "y1", "objective [1, -1, 0]" or "y0" (a one-output file)."""
        net = self.scene.network
        return self.objective_label(net.objective) if net.objective is not None else f"y{net.output or 0}"

    @staticmethod
    def objective_label(c: tuple[float, ...]) -> str:
        """'objective [1, -1, 0]': a linear objective c^T y of a model file's outputs, as the app names it."""
        return "objective [" + ", ".join(f"{v:g}" for v in c) + "]"

    # ---- jobs (picklable factories, run by the UI on a worker) --------------------------------------------
    def train_job(self, first_epoch: int = 0, cache: bool = False, resume_state: dict | None = None) -> partial:
        """Train the scene's network from the one on screen (`first_epoch`: resume a stopped run from there, with
        its optimizer state `resume_state`; `cache`: the job stores a finished run in the training cache, for a run
        from the initial network)."""
        lo, hi = self._box()
        return jobs.train_job(self.scene, self.net, first_epoch, surface=(lo, hi, self.scene.camera.resolution),
                              cache=cache, resume_state=resume_state)

    def race_job(self, names: list[str], sense: str, time_limit: float, seed: int,
                 params: dict[str, dict]) -> partial:
        """Run optimizer methods one after another on the network on screen, over the scene's box."""
        lo, hi = self.scene.domain()
        return jobs.race_job(names, self.net, lo, hi, sense, time_limit, seed, params)

    def regions_job(self, limit: int | None = None) -> partial:
        """The exact linear-region polygons of the network on screen over the box (the region overlay)."""
        lo, hi = self._box()
        return jobs.regions_job(self.net, lo, hi, limit)

    def metrics_job(self, candidates: list | None = None) -> partial:
        """The landscape metrics of the network on screen (nnlab.app.metrics)."""
        lo, hi = self.domain()
        return jobs.metrics_job(self.net, lo, hi, candidates=candidates)

    def export_plan(self, opts: Any, net: NetSnapshot | None = None) -> Generator[Any, None, Any]:
        """The frames of an export of this scene with the network on screen (`net` overrides it)."""
        from nnlab.engine.export.plan import build_plan

        return build_plan(self.scene, opts, net=self.net if net is None else net)

    # ---- derived data -------------------------------------------------------------------------------------
    def _box(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        lo, hi = self.scene.domain()
        return lo[:2], hi[:2]

    def domain(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self.scene.domain()

    def _recompute(self, surface: tuple | None = None) -> None:
        lo, hi = self._box()
        n = self.scene.camera.resolution
        self.xs, self.ys = grid_axes(lo, hi, n)
        if self.net.input_dim == 2 and surface is not None and tuple(surface[0]) == tuple(lo) \
                and tuple(surface[1]) == tuple(hi) and np.shape(surface[2]) == (n, n):
            self.z = surface[2]  # the same evaluate_network, run by the job
        elif self.net.input_dim == 2:
            self.z = evaluate_network(self.net, lo, hi, n)
        else:
            self.z = np.zeros((n, n), dtype=np.float32)
            self.message.emit(f"the surface shows 2-input networks; this one has {self.net.input_dim} inputs")
        self.surface_changed.emit()

    def shown_net(self) -> NetSnapshot:
        """The network the screen shows: while training, the latest weights the trainer sent (TrainProgress.network,
        the network diagram's and the unit surfaces' source); otherwise `net`."""
        live = self._live if self.training.running else None
        return live if live is not None and live.widths == self.net.widths else self.net

    def _training_changed(self, name: str, value: Any) -> None:
        if name == "last" and getattr(value, "network", None) is not None:
            self._live = value.network
        elif name == "running":
            self._live = None  # a run starts or ends: no weights from it yet / `net` holds its result

    def shown_surface(self) -> np.ndarray:
        """The surface of what is on screen: the output, or the hidden unit view.unit."""
        if self.view.unit is None:
            return self.z
        layer, k = self.view.unit
        return self.unit_surfaces(layer, self.scene.camera.resolution)[k]

    def unit_surfaces(self, layer: int, res: int) -> np.ndarray:
        """(units, res, res) post-activation values of the hidden units of `layer` on the scene's grid."""
        from nnlab.engine.analysis.surface import grid_points
        from nnlab.engine.model import activations

        lo, hi = self._box()
        net = self.shown_net()  # while training: the weights being trained, like the output surface
        g = net.preactivations(grid_points(lo, hi, res))[layer]
        act = activations.get(net.activation).value
        return np.asarray(act(g), dtype=np.float32).T.reshape(-1, res, res)

    def unit_reliefs(self, layer: int, res: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(u, shade) per hidden unit of `layer`: its surface scaled to [0, 1] and hill-shaded (nnlab.app.relief),
        for thumbnails that read as small surfaces. The layer's forward pass runs now, each unit's shading when it
        is taken (a panel draws a few per turn of the event loop)."""
        from nnlab.app.relief import relief

        return map(relief, self.unit_surfaces(layer, res))

    def target_grid(self) -> np.ndarray | None:
        """The training target on the surface grid, or None (no target, CSV data, or an error)."""
        t = self.scene.target
        if t.name in ("none", "csv") or self.scene.network.input_dim != 2:
            return None
        key = (t, self.scene.network, self.scene.camera.resolution)
        if self._target_cache is None or self._target_cache[0] != key:
            from nnlab.engine.model.targets import target_function

            lo, hi = self._box()
            try:
                z = evaluate_fn(target_function(self.scene), lo, hi, self.scene.camera.resolution)
            except Exception as e:  # noqa: BLE001 - see describe
                self.error.emit(describe(e))
                return None
            self._target_cache = (key, z)
        return self._target_cache[1]

    def samples(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The training samples (X, y), or None when there is no target."""
        if self.scene.target.name == "none":
            return None
        key = (self.scene.target, self.scene.train, self.scene.network)
        if self._samples_cache is None or self._samples_cache[0] != key:
            from nnlab.engine.train.training import make_dataset

            try:
                data = make_dataset(self.scene)
            except Exception as e:  # noqa: BLE001 - see describe
                self.error.emit(describe(e))
                return None
            self._samples_cache = (key, data)
        return self._samples_cache[1]

    def region_ids(self) -> np.ndarray | None:
        """Per-grid-vertex activation-pattern fingerprints (n, n) uint64 of a ReLU net, for region colouring."""
        from nnlab.engine.analysis.surface import grid_points
        from nnlab.engine.model import activations

        if not activations.get(self.net.activation).piecewise_linear or self.net.input_dim != 2:
            return None

        lo, hi = self._box()
        n = self.scene.camera.resolution
        bits = np.concatenate(self.net.pattern(grid_points(lo, hi, n)), axis=1)
        packed = np.packbits(bits, axis=1)
        h = np.zeros(len(packed), dtype=np.uint64)
        for k in range(packed.shape[1]):  # FNV-style mix of the pattern bytes: stable ids across frames
            h = (h ^ packed[:, k].astype(np.uint64)) * np.uint64(1099511628211)
        return h.reshape(n, n)
