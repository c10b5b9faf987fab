"""Studies: a grid of networks x methods, run in parallel (local processes or a Dask cluster), cached per task.

Config (TOML)::

    title = "Does random initialization mislead?"
    description = "free text, copied into summary.md"
    [study]
    methods = ["gradient", "walk", "sampling"]  # optimizers compared with the exact optimum (METHODS names)
    senses = ["max"]            # senses the methods run in; the exact max AND min are always computed
    time_limit = 2.0            # seconds per method run (the budget at which its gap is measured)
    exact_time_limit = 20.0     # seconds per exact max / min; a MILP stopped by it is recorded as unproven
    exact_method = "exact"      # regions in 2-D, MILP otherwise
    samples = 2000              # uniform samples for affine R² and the count of activation patterns
    starts = 200                # multistart local search: starts and Adam steps (see landscape.local_optima)
    steps = 300
    [study.params.walk]         # optional per-method parameters (the method's own dataclass fields)
    [[networks]]                # a block: the cross product of its lists; the study is the union of blocks
    label = "random"
    inits = ["xavier_uniform", "torch_default"]   # INITS names
    bias = "auto"                                # InitSpec.bias (auto: the scheme's own rule)
    targets = ["none"]          # "none" (random network, box [0,1]^n) or n-D targets (trained, natural box)
    dims = [2, 5, 10]
    hidden = [[100, 100]]       # hidden widths, one list per architecture
    seeds = 10                  # an int n (seeds 0..n-1) or a list; seeds both the init and the training
    [networks.train]            # TrainSpec overrides for trained targets (epochs, samples, lr, ...)

Tasks: per network one "landscape" task (landscape.landscape_metrics), one "exact" task per sense (max, min) and one
task per method and sense. Each finished task is a JSON file DIR/cache/<hash>.json, the hash covering the network
config and the task settings; trained weights are cached in DIR/cache/nets/<hash>.npz. A re-run only computes
what is missing. Outputs (see study_report): DIR/results.csv, DIR/summary.md and PNG plots.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.engine.threads import set_torch_threads
from nnlab.errors import NnlabError

CACHE_VERSION = 1


class StudyError(NnlabError):
    """A study config is invalid; the message is one line naming the field."""


@dataclass(frozen=True)
class NetConfig:
    """One network of the study; `train` holds TrainSpec overrides as sorted (key, value) pairs."""

    label: str
    init: str
    bias: str
    target: str
    dim: int
    hidden: tuple[int, ...]
    seed: int
    train: tuple[tuple[str, Any], ...] = ()

    trained = property(lambda self: self.target != "none")

    def key(self) -> str:
        d = {"v": CACHE_VERSION, "init": self.init, "bias": self.bias, "target": self.target, "dim": self.dim,
             "hidden": list(self.hidden), "seed": self.seed, "train": dict(self.train) if self.trained else {}}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:20]

    def scene(self) -> Any:
        from nnlab.engine.model.scene import InitSpec, NetworkSpec, Scene, TargetSpec, TrainSpec

        return Scene(network=NetworkSpec(input_dim=self.dim, hidden=self.hidden),
                     init=InitSpec(scheme=self.init, bias=self.bias, seed=self.seed),
                     target=TargetSpec(name=self.target),
                     train=TrainSpec(**{"enabled": True, "seed": self.seed, **dict(self.train)}))

    def box(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self.scene().domain()  # [0,1]^n for random nets, the target's natural box for trained ones


@dataclass(frozen=True)
class Task:
    """One unit of cached work on one network: kind "landscape", "exact" or "method"."""

    net: NetConfig
    kind: str
    method: str
    sense: str
    time_limit: float
    settings: tuple[tuple[str, Any], ...] = ()  # method params or landscape settings, sorted pairs

    def key(self) -> str:
        d = {"net": self.net.key(), "kind": self.kind, "method": self.method, "sense": self.sense,
             "time_limit": self.time_limit, "settings": [[k, v] for k, v in self.settings]}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class StudyConfig:
    title: str
    description: str
    methods: tuple[str, ...]
    senses: tuple[str, ...]
    time_limit: float
    exact_time_limit: float
    exact_method: str
    samples: int
    starts: int
    steps: int
    params: dict[str, dict]
    networks: tuple[NetConfig, ...]

    def tasks(self, net: NetConfig) -> list[Task]:
        """The tasks of one network, in a fixed order (landscape, exact max, exact min, methods)."""
        land = (("samples", self.samples), ("starts", self.starts), ("steps", self.steps))
        out = [Task(net, "landscape", "landscape", "max", 0.0, land)]
        out += [Task(net, "exact", self.exact_method, s, self.exact_time_limit) for s in ("max", "min")]
        for m in self.methods:
            settings = tuple(sorted(self.params.get(m, {}).items()))
            out += [Task(net, "method", m, s, self.time_limit, settings) for s in self.senses]
        return out


# Limits (checked on load, before any work; see scene.py for the network and training limits, which apply to every
# network of a study): a day per method run, the scene's sample limit, a few hundred thousand networks at most.
MAX_SECONDS = 86_400.0
MAX_STARTS = 100_000
MAX_STEPS = 100_000
MAX_SEEDS = 10_000
MAX_NETWORKS = 100_000
MAX_STUDY_BYTES = 1_000_000
_MAX = {"time_limit": MAX_SECONDS, "exact_time_limit": MAX_SECONDS, "starts": MAX_STARTS, "steps": MAX_STEPS}

_STUDY_KEYS = {"methods": list, "senses": list, "time_limit": float, "exact_time_limit": float, "exact_method": str,
               "samples": int, "starts": int, "steps": int, "params": dict}
_NET_KEYS = {"label": str, "inits": list, "bias": str, "targets": list, "dims": list, "hidden": list,
             "seeds": (int, list), "train": dict}


def _typed(where: str, value: Any, tp: Any) -> Any:
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value <= 0:
            raise StudyError(f"{where} = {value!r} is not allowed; expected a number > 0")
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise StudyError(f"{where} = {value!r} is not allowed; expected an integer >= 1")
        return value
    if isinstance(value, tp) and not isinstance(value, bool):
        return value
    names = {float: "a number", int: "an integer", str: "a string", list: "a list", dict: "a table"}
    want = " or ".join(names[t] for t in (tp if isinstance(tp, tuple) else (tp,)))
    raise StudyError(f"{where} = {value!r} is not allowed; expected {want}")


def _check_table(where: str, data: Any, keys: dict, limits: dict | None = None) -> dict:
    if not isinstance(data, dict):
        raise StudyError(f"{where} must be a table")
    for k in data:
        if k not in keys:
            raise StudyError(f"{where} {k} is not a known field; allowed: {', '.join(keys)}")
    out = {k: _typed(f"{where} {k}", v, keys[k]) for k, v in data.items()}
    for k, hi in (limits or {}).items():
        if k in out and out[k] > hi:
            raise StudyError(f"{where} {k} = {out[k]!r} is not allowed; the limit is {hi:g}")
    return out


def _choose(where: str, values: list, allowed: list[str]) -> list[str]:
    if not values:
        raise StudyError(f"{where} = [] is not allowed; expected at least one of {', '.join(allowed)}")
    for v in values:
        if v not in allowed:
            raise StudyError(f"{where} = {v!r} is not allowed; expected one of {', '.join(allowed)}")
    return list(values)


def study_from_dict(data: dict) -> StudyConfig:
    """Validate a parsed config; every problem is a one-line StudyError naming the field."""
    import nnlab.engine.optimize as opt
    from nnlab.engine.model.inits import INITS
    from nnlab.engine.model.scene import MAX_SAMPLES, MAX_SEED, TrainSpec, _section_from_dict, scene_from_dict
    from nnlab.errors import SceneError
    from nnlab.engine.model.targets import TARGETS

    for k in data:
        if k not in ("title", "description", "study", "networks"):
            raise StudyError(f"{k} is not a known section or field; allowed: title, description, study, networks")
    st = _check_table("[study]", data.get("study", {}), _STUDY_KEYS, {**_MAX, "samples": MAX_SAMPLES})
    methods = _choose("[study] methods", st.get("methods", ["gradient", "walk", "sampling"]), opt.METHODS.names())
    senses = _choose("[study] senses", st.get("senses", ["max"]), ["max", "min"])
    exact = _choose("[study] exact_method", [st.get("exact_method", "exact")], opt.METHODS.names())[0]
    params = st.get("params", {})
    for m, p in params.items():
        _choose("[study.params] method", [m], opt.METHODS.names())
        p = _typed(f"[study.params.{m}]", p, dict)
        try:
            opt.base.make_params(m, p)
        except (NnlabError, ValueError) as e:  # optimize reports a bad parameter as one of these, one line
            raise StudyError(f"[study.params.{m}] {e}") from None
    blocks = data.get("networks")
    if not isinstance(blocks, list) or not blocks:
        raise StudyError("[[networks]] is missing; expected at least one block of networks")
    nets: list[NetConfig] = []
    for i, raw in enumerate(blocks, 1):
        where = f"[[networks]] #{i}"
        b = _check_table(where, raw, _NET_KEYS)
        inits = _choose(f"{where} inits", b.get("inits", ["xavier_uniform"]), INITS.names())
        targets = _choose(f"{where} targets", b.get("targets", ["none"]), ["none", *TARGETS.names()])
        bias = _choose(f"{where} bias", [b.get("bias", "auto")], ["auto", "zero", "fan_in"])[0]
        dims = b.get("dims", [2])
        if not dims or any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 1000 for d in dims):
            raise StudyError(f"{where} dims = {dims!r} is not allowed; expected a list of integers 1..1000")
        hidden = b.get("hidden", [[100, 100]])
        if not hidden or any(not isinstance(h, list) or not h or any(isinstance(w, bool) or not isinstance(w, int)
                                                                       or w < 1 for w in h) for h in hidden):
            raise StudyError(f"{where} hidden = {hidden!r} is not allowed; expected a list of lists of widths >= 1")
        seeds = b.get("seeds", 1)
        if isinstance(seeds, int) and seeds > MAX_SEEDS:
            raise StudyError(f"{where} seeds = {seeds} is not allowed; the limit is {MAX_SEEDS} seeds per block")
        seeds = list(range(seeds)) if isinstance(seeds, int) else seeds
        if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED for s in seeds):
            raise StudyError(f"{where} seeds = {seeds!r} is not allowed; expected a count or a list of integers >= 0")
        if len(seeds) > MAX_SEEDS:
            raise StudyError(f"{where} seeds: {len(seeds)} seeds is not allowed; the limit is {MAX_SEEDS} per block")
        train = b.get("train", {})
        try:
            _section_from_dict("train", TrainSpec, train)
        except SceneError as e:
            raise StudyError(f"{where} train: {e}") from None
        for t, d in itertools.product(targets, dims):
            if t != "none" and d != 2 and "nd" not in TARGETS.get(t).flags:
                raise StudyError(f"{where} targets = {t!r} has no {d}-D form; n-D targets: {', '.join(TARGETS.names('nd'))}")
        for t, d, h in itertools.product(targets, dims, hidden):  # each network passes a scene's validation (limits)
            try:
                scene_from_dict({"network": {"input_dim": d, "hidden": h}, "target": {"name": t}, "train": train})
            except SceneError as e:
                raise StudyError(f"{where} (dims = {d}, hidden = {h}, target = {t!r}): {e}") from None
        count = len(nets) + len(inits) * len(targets) * len(dims) * len(hidden) * len(seeds)
        if count > MAX_NETWORKS:
            raise StudyError(f"{where}: the study has {count:,} networks so far; the limit is {MAX_NETWORKS:,}")
        for init, t, d, h, s in itertools.product(inits, targets, dims, hidden, seeds):
            nets.append(NetConfig(str(b.get("label", f"block{i}")), init, bias, t, d, tuple(h), s,
                                  tuple(sorted(train.items()))))
    config = StudyConfig(str(data.get("title", "Study")), str(data.get("description", "")), tuple(methods),
                         tuple(senses), st.get("time_limit", 2.0), st.get("exact_time_limit", 20.0), exact,
                         st.get("samples", 2000), st.get("starts", 200), st.get("steps", 300), params,
                         tuple(dict.fromkeys(nets)))
    check_tasks(config)
    return config


def check_tasks(config: StudyConfig) -> None:
    """Start every distinct optimizer task of the study (method, sense, parameters, input dimension) on a tiny
    network of that dimension and stop it at its first event. The methods check their parameters and what they
    support (a grid too large in 10-D, a 2-D-only method) when they start, so a bad setting is a one-line
    StudyError here, before any work, not a failed task minutes into the run."""
    import nnlab.engine.optimize as opt
    from nnlab.engine.model.network import initial_snapshot
    from nnlab.engine.model.scene import InitSpec, NetworkSpec

    seen: set = set()
    tiny: dict[int, Any] = {}
    for net in config.networks:
        for task in config.tasks(net):
            key = (task.kind, task.method, task.sense, task.settings, net.dim)
            if task.kind == "landscape" or key in seen:
                continue
            seen.add(key)
            if net.dim not in tiny:
                tiny[net.dim] = initial_snapshot(NetworkSpec(input_dim=net.dim, hidden=(2,)), InitSpec(seed=0))
            where = (f"[study] exact_method = {task.method!r}" if task.kind == "exact"
                     else f"[study.params.{task.method}]" if task.settings else f"[study] methods = {task.method!r}")
            try:
                gen = opt.run_method(task.method, tiny[net.dim], [0.0] * net.dim, [1.0] * net.dim, sense=task.sense,
                                     time_limit=min(task.time_limit, 1.0), seed=0, params=dict(task.settings))
                try:
                    next(gen)
                except StopIteration:
                    pass
                finally:
                    gen.close()
            except (NnlabError, ValueError) as e:  # the methods' own one-line refusals
                raise StudyError(f"{where} with dims = {net.dim}: {e}") from None


def load_study(path: str | os.PathLike) -> StudyConfig:
    """Read and validate a study TOML file; errors start with the file name."""
    from nnlab.engine.files import read_regular_file

    p = Path(path)
    raw = read_regular_file(p, MAX_STUDY_BYTES, "study file", StudyError)
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))  # a UTF-8 BOM is accepted
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise StudyError(f"{p}: not a valid TOML file ({e})") from None
    except RecursionError:
        raise StudyError(f"{p}: not a valid TOML file (arrays or tables nested too deeply)") from None
    try:
        return study_from_dict(data)
    except StudyError as e:
        raise StudyError(f"{p}: {e}") from None


# ----- work done in the workers (module-level so that process pools and Dask can pickle them) -----

def limit_threads() -> None:
    """One thread per worker: the pool provides the parallelism."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    set_torch_threads(1, only_if_loaded=True)


WATCHDOG_S = 0.25  # how often a worker checks that the process that started it is still alive


def init_worker(parent_pid: int) -> None:
    """Pool initializer: one thread for torch and BLAS, Ctrl+C left to the driver (which terminates the pool),
    and a watchdog thread that ends the worker with its parent."""
    import signal

    from nnlab.interrupts import exit_with_parent

    limit_threads()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(parent_pid, every=WATCHDOG_S, code=1)


def build_network(net: NetConfig) -> dict[str, Any]:
    """The network's weights: the seeded initial net, trained on its target when it has one."""
    limit_threads()
    from nnlab.engine.model.network import initial_snapshot

    scene = net.scene()
    if not net.trained:
        snap, info = initial_snapshot(scene.network, scene.init), {}
    else:
        set_torch_threads(1)
        from nnlab.engine.train.training import train_to_result

        res = train_to_result(scene)
        if res.status != "done":
            raise RuntimeError(f"training {net.target} ({net.dim}-D, seed {net.seed}) ended with status {res.status}")
        snap, info = res.snapshot, {"val_r2": res.val_r2, "train_seconds": res.seconds}
    return {"weights": [np.asarray(w) for w in snap.weights], "biases": [np.asarray(b) for b in snap.biases], **info}


def run_task(task: Task, weights: list, biases: list) -> dict[str, Any]:
    """Compute one task on the network given by its weights; returns a JSON-able dict."""
    limit_threads()
    from nnlab.engine.analysis import landscape
    from nnlab.engine.model.network import NetSnapshot

    net = NetSnapshot(tuple(weights), tuple(biases))
    lo, hi = task.net.box()
    t0 = time.perf_counter()
    if task.kind == "landscape":
        s = dict(task.settings)
        out = landscape.landscape_metrics(net, lo, hi, n_samples=s["samples"], starts=s["starts"], steps=s["steps"],
                                          seed=task.net.seed)
    elif task.kind == "exact":
        out = landscape.extremum(net, lo, hi, task.sense, task.time_limit, method=task.method).to_json()
    else:
        import nnlab.engine.optimize as opt

        res = opt.run_to_result(opt.run_method(task.method, net, lo, hi, sense=task.sense,
                                               time_limit=task.time_limit, seed=task.net.seed,
                                               params=dict(task.settings)))
        loc, k = ("none", 0) if res.x is None else landscape.classify_location(res.x, lo, hi)
        out = {"value": res.value, "x": None if res.x is None else [float(v) for v in res.x], "status": res.status,
               "bound": res.bound, "seconds": res.seconds, "location": loc, "n_at_bound": k}
    out["wall_seconds"] = time.perf_counter() - t0
    return out


