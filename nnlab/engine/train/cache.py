"""The training cache: trained weights found by a hash of everything that determines them, so a trained scene is
trained once (issue 14: "trained presets retrain on every load"; issue 15: no training at export time).

Two places are looked in, in this order:
- the bundled entries (resources/weights/, shipped with the package): the trained presets' weights, made once by
  `python -m nnlab.engine.train.cache --bundle` with the engine's own training, so every machine shows the same
  network (retraining differs across machines by up to 0.02 in R²);
- the user cache, $XDG_CACHE_HOME/nnlab/weights (default ~/.cache/nnlab/weights; $NNLAB_CACHE_DIR/weights when
  that is set), written after a training run.

An entry is a float64 .npz: W0.., b0.., the activation, the key it was made for and the format; the stored key is
checked on load, so a renamed or stale file is never used for another scene. A training animation's keyframe
surfaces are cached the same way (`frames_key`), so a second export replays them instead of training again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from nnlab.engine.files import atomic_write_bytes
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.model.scene import MODEL_FIELDS, Scene
from nnlab.errors import NnlabError

FORMAT = 1  # bump when training changes so that old entries would no longer be what training gives
MAX_ENTRY_BYTES = 256 << 20  # a cache file larger than this is not read (a 100-100-100 net is about 0.2 MB)
# TrainSpec fields that do not change the weights: whether training runs at all, and how often it reports surfaces
_NOT_WEIGHTS = ("enabled", "surface_every")


def weights_key(scene: Scene) -> str | None:
    """SHA-256 of the network, init, target and train sections (less enabled/surface_every), the input box and,
    for a CSV target, the CSV file's bytes; None when the scene is not trained (nothing to cache) or its CSV
    cannot be read (training reports that error)."""
    if not scene.trains():
        return None
    train = {k: v for k, v in dataclasses.asdict(scene.train).items() if k not in _NOT_WEIGHTS}
    target = dataclasses.asdict(scene.target)
    if scene.target.name == "csv":
        try:
            data = scene.resolve_path(scene.target.csv).read_bytes()
        except OSError:
            return None
        target["csv"] = hashlib.sha256(data).hexdigest()  # the data, not where it lives
    else:
        target["csv"] = ""
    network = {k: v for k, v in dataclasses.asdict(scene.network).items() if k not in MODEL_FIELDS}  # unset: the
    # scene trains only without a model file, and the keys of the shipped weights stay what they were
    parts = {"format": FORMAT, "network": network, "init": dataclasses.asdict(scene.init),
             "target": target, "train": train, "domain": [list(map(float, v)) for v in scene.domain()]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=list).encode()).hexdigest()


def user_cache_dir() -> Path:
    """$NNLAB_CACHE_DIR/weights when set (tests and benchmarks: a cache of their own without moving other
    programs' caches), else $XDG_CACHE_HOME/nnlab/weights, else ~/.cache/nnlab/weights (not created here)."""
    if os.environ.get("NNLAB_CACHE_DIR"):
        return Path(os.environ["NNLAB_CACHE_DIR"], "weights")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "nnlab", "weights")


def bundled_dir() -> Path:
    """resources/weights/ of the installed package."""
    from nnlab.bundled import resource

    return resource("weights")


def _entry(folder: Path, key: str) -> Path:
    return folder / f"{key}.npz"


def _read(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The arrays of an entry made for `key`, or None (missing, unreadable, damaged or made for another key)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_ENTRY_BYTES:
            return None
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):
        return None
    if str(data.get("key", "")) != key or int(data.get("format", -1)) != FORMAT:
        return None
    return data


def _write(folder: Path, key: str, arrays: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, key=np.array(key), format=np.array(FORMAT), **arrays)
    path = _entry(folder, key)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _snapshot(data: dict[str, np.ndarray]) -> NetSnapshot | None:
    n = int(data["layers"])
    try:
        return NetSnapshot(tuple(np.asarray(data[f"W{k}"], dtype=np.float64) for k in range(n)),
                           tuple(np.asarray(data[f"b{k}"], dtype=np.float64) for k in range(n)),
                           str(data["activation"]))
    except (KeyError, ValueError, NnlabError):  # a damaged entry is a miss
        return None


def lookup(scene: Scene, folders: Sequence[Path] | None = None) -> NetSnapshot | None:
    """The cached trained network of a scene (bundled first, then the user cache), or None."""
    key = weights_key(scene)
    if key is None:
        return None
    for folder in (bundled_dir(), user_cache_dir()) if folders is None else folders:
        data = _read(_entry(folder, key), key)
        if data is not None and "layers" in data:
            snap = _snapshot(data)
            if snap is not None and (snap.input_dim, snap.widths) == (scene.network.input_dim, tuple(scene.network.hidden)):
                return snap
    return None


def _net_arrays(snap: NetSnapshot) -> dict[str, np.ndarray]:
    """A network as the arrays of a cache entry (float64 weights, the layer count and the activation)."""
    arrays: dict[str, np.ndarray] = {"layers": np.array(len(snap.weights)), "activation": np.array(snap.activation)}
    for k, (w, b) in enumerate(zip(snap.weights, snap.biases)):
        arrays[f"W{k}"], arrays[f"b{k}"] = np.asarray(w, np.float64), np.asarray(b, np.float64)
    return arrays


def store(scene: Scene, snap: NetSnapshot, folder: Path | None = None) -> Path | None:
    """Save a scene's trained network (float64) in the user cache (or `folder`); None for an untrained scene.
    A cache that cannot be written is skipped: it only saves time."""
    key = weights_key(scene)
    if key is None:
        return None
    arrays = _net_arrays(snap)
    try:
        return _write(user_cache_dir() if folder is None else folder, key, arrays)
    except OSError:
        return None


def trained_network(scene: Scene, before_training: Callable[[], None] | None = None) -> NetSnapshot:
    """What training.scene_network gives, from the cache when it has it; a fresh training result is stored.
    `before_training` is called when the network must be trained here (e.g. to say so: it takes a while).
    A scene that does not train gives its base network (its model file's output or objective, or the initial one)
    without torch."""
    if not scene.trains():
        return scene.base_network()
    from nnlab.engine.train.training import scene_network

    snap = lookup(scene)
    if snap is None:
        if before_training is not None and scene.trains():
            before_training()
        snap = scene_network(scene)
        store(scene, snap)
    return snap


# ---- training animations -------------------------------------------------------------------------------------
def frames_key(scene: Scene, every: int, resolution: int) -> str | None:
    """Key of a training animation's keyframes: the weights key plus the keyframe spacing and grid size."""
    key = weights_key(scene)
    if key is None:
        return None
    return hashlib.sha256(f"{key}/frames/{int(every)}/{int(resolution)}".encode()).hexdigest()


def lookup_frames(scene: Scene, every: int, resolution: int,
                  folders: Sequence[Path] | None = None) -> tuple[list[tuple[np.ndarray, str]], NetSnapshot] | None:
    """Stored keyframes [(z float32, caption)] and the final network of a training animation, or None."""
    key = frames_key(scene, every, resolution)
    if key is None:
        return None
    for folder in (bundled_dir(), user_cache_dir()) if folders is None else folders:
        data = _read(_entry(folder, key), key)
        if data is None or "z" not in data:
            continue
        net = _snapshot(data)
        z, captions = data["z"], data["captions"]
        if net is None or z.ndim != 3 or z.shape[1:] != (resolution, resolution) or len(captions) != len(z):
            continue
        return [(np.asarray(z[k], np.float32), str(captions[k])) for k in range(len(z))], net
    return None


def store_frames(scene: Scene, every: int, resolution: int, keys: Sequence[tuple[np.ndarray, str]],
                 net: NetSnapshot, folder: Path | None = None) -> Path | None:
    """Save a training animation's keyframes and its final network (see lookup_frames)."""
    key = frames_key(scene, every, resolution)
    if key is None or not keys:
        return None
    arrays = {"z": np.stack([np.asarray(z, np.float32) for z, _ in keys]), "captions": np.array([c for _, c in keys]),
              **_net_arrays(net)}
    try:
        return _write(user_cache_dir() if folder is None else folder, key, arrays)
    except OSError:
        return None


def bundle_presets() -> list[Path]:
    """Train every bundled trained preset with the engine's training and write its entries to resources/weights/:
    the trained weights and the training animation's keyframes (run by the maintainers when a preset or the
    training changes; stale entries are removed)."""
    from nnlab.bundled import presets
    from nnlab.engine.model.scene import load_scene
    from nnlab.engine.train.keyframes import keyframe_scene, train_keyframes
    from nnlab.engine.train.training import scene_network

    folder = bundled_dir()
    written = []
    for p in presets():
        scene = load_scene(p)
        if weights_key(scene) is None:
            continue
        net = scene_network(scene)
        sc, every = keyframe_scene(scene)
        gen = train_keyframes(sc)
        try:
            while True:
                next(gen)
        except StopIteration as stop:
            keys, final = stop.value
        if any(not np.array_equal(a, b) for a, b in zip(net.weights + net.biases, final.weights + final.biases)):
            raise RuntimeError(f"{p.name}: training with keyframes gave other weights than training without")
        paths = [store(scene, net, folder), store_frames(sc, every, sc.camera.resolution, keys, final, folder)]
        if None in paths:
            raise OSError(f"cannot write {folder}")
        written += paths
    for old in folder.glob("*.npz"):
        if old not in written:
            old.unlink()
    return written


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--bundle"]:
        sys.exit("usage: python -m nnlab.engine.train.cache --bundle")
    for path in bundle_presets():
        print(path)
