"""The study's cache on disk: one JSON file per task result and one .npz per built network, so an interrupted or
repeated study only computes what is missing. Written atomically (a killed run leaves no half file).

Saved networks are named by NetConfig.key(), which is machine-independent: copying a study's output folder to
another machine (or pointing [study] weights at it) reuses its trained weights there."""
from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np

from nnlab.engine.files import atomic_write_bytes
from nnlab.engine.study import spec as S


def cache_path(out: Path, task: S.Task) -> Path:
    return out / "cache" / f"{task.key()}.json"


def read_cached(out: Path, task: S.Task) -> dict | None:
    """The cached result of a task, or None (a corrupt file counts as missing)."""
    try:
        return json.loads(cache_path(out, task).read_text())["result"]
    except (OSError, ValueError, KeyError):
        return None


def write_cached(out: Path, task: S.Task, result: dict) -> None:
    doc = {"task": {"net": dataclasses.asdict(task.net), "kind": task.kind, "method": task.method,
                    "sense": task.sense, "time_limit": task.time_limit, "budget": dict(task.budget),
                    "repeat": task.repeat, "seed": task.seed}, "result": result}
    atomic_write_bytes(cache_path(out, task), json.dumps(doc, default=float).encode())


def _net_path(out: Path, net: S.NetConfig) -> Path:
    return out / "cache" / "nets" / f"{net.key()}.npz"


def load_saved_net(folder: str | Path, net: S.NetConfig) -> dict | None:
    """A network saved by another study: `folder` is its output folder, its cache/ or its cache/nets/."""
    folder = Path(folder)
    for p in (folder / "cache" / "nets", folder / "nets", folder):
        built = _load(p / f"{net.key()}.npz")
        if built is not None:
            return built
    return None


def save_net(out: Path, net: S.NetConfig, built: dict) -> None:
    buf = io.BytesIO()
    arrays = {f"w{i}": w for i, w in enumerate(built["weights"])} | {f"b{i}": b for i, b in enumerate(built["biases"])}
    info = {k: v for k, v in built.items() if k not in ("weights", "biases")}
    np.savez(buf, info=np.array(json.dumps(info)), **arrays)
    atomic_write_bytes(_net_path(out, net), buf.getvalue())


def load_net(out: Path, net: S.NetConfig) -> dict | None:
    """Cached weights (and training info) of a network, or None."""
    return _load(_net_path(out, net))


def _load(path: Path) -> dict | None:
    try:
        with np.load(path) as z:
            k = len([n for n in z.files if n.startswith("w")])
            return {"weights": [z[f"w{i}"] for i in range(k)], "biases": [z[f"b{i}"] for i in range(k)],
                    **json.loads(str(z["info"]))}
    except (OSError, ValueError, KeyError):
        return None
