"""Studies: a grid of networks x methods x budgets x repeats, run in parallel (local processes or a Dask cluster),
cached per task.

Config (TOML)::

    title = "Does random initialization mislead?"
    description = "free text, copied into summary.md"
    [study]
    methods = ["gradient", "walk", "sampling"]  # optimizers compared with the exact optimum (METHODS names)
    senses = ["max", "min"]     # senses the methods run in (default both); the exact max AND min are always computed
    budgets = [{forward = 1000, lp = 10}, {forward = 10000, lp = 100}]
                                # work budgets: each method runs at each one, its parameters max_forward / max_lp set
                                # from forward / lp (a method without those parameters runs to its own counts; the
                                # summary says which); default: one unbudgeted run
    repeats = 5                 # runs of each randomised method per network, sense and budget; run seeds derive from
                                # the network's seed, the method and the repeat index (deterministic)
    time_limit = 60.0           # seconds per method run: a safety cap only (a run stopped by it is machine-dependent)
    exact_time_limit = 20.0     # seconds per exact max / min; a run stopped by it is recorded as unproven
    exact_method = "exact"      # regions in 2-D, branch and bound / MILP otherwise
    samples = 2000              # uniform samples: affine R², activation patterns and the gap scale (std of f)
    starts = 200                # multistart local search: starts and Adam steps (see landscape.local_optima); the
    steps = 300                 # local optima counts are lower bounds at this start budget
    weights = "DIR"             # optional: a folder of saved networks (a study's output folder or its cache/nets)
                                # looked up before training; relative to the config file
    [study.params.walk]         # optional per-method parameters (the method's own dataclass fields)
    [[networks]]                # a block: the cross product of its lists; the study is the union of blocks
    label = "random"
    inits = ["xavier_uniform", "torch_default"]   # INITS names, or "torch_seeded" (below); `init = "..."` for one
    bias = "auto"                                # InitSpec.bias (auto: the scheme's own rule)
    targets = ["none"]          # "none" (random network, box [0,1]^n), n-D targets (trained, natural box) or
                                # "dataset:diabetes" (trained on scikit-learn's bundled data, 10 inputs, box [0,1]^10)
    dims = [2, 5, 10]
    hidden = [[100, 100]]       # hidden widths, one list per architecture
    seeds = 10                  # an int n (seeds 0..n-1) or a list; seeds both the init and the training
    [networks.train]            # TrainSpec overrides for trained targets (epochs, samples, lr, ...)

    [[networks]]                # networks from files (.onnx, .pt, .pt2, .npz; nnlab.engine.model.io.read_model)
    label = "published"
    source = "files"
    files = ["a.onnx", "b.npz"] # relative to the config file
    output = 0                  # optional: the output of a multi-output file (0-based), or
    objective = [1.0, -1.0]     #   a linear objective of its outputs
    lower = 0.0                 # optional box: a number or one per input (default [0,1]^n)
    upper = 1.0
    activation = "relu"         # optional: for a file that records none (a bare state_dict)

init = "torch_seeded" builds `torch.manual_seed(seed); nn.Sequential(nn.Linear(n, w1), nn.ReLU(), ...,
nn.Linear(wk, 1))` in that order with nn.Linear's default initialization (Kaiming-uniform weights and uniform biases,
both U(±1/sqrt(fan_in))) on [0,1]^n: how Tong, Cai & Serra (2024) built their instances (seeds 50-54), rebuilt
exactly. The registered "torch_default" init draws the same distribution with numpy's generator, so its weights
differ.

Tasks: per network one "landscape" task (landscape.landscape_metrics and the sample std; for 2-D nets also the
certified local-optimum counts of analysis.local_optima, from the exact regions), one "exact" task per sense (max,
min) and one task per method, sense, budget and repeat (its result holds the run's anytime curve, `trace`: best
value against forward passes, LP solves and seconds, at most TRACE_POINTS points; not in results.csv). Each finished task is a JSON file
DIR/cache/<hash>.json, the hash covering the network config and the task settings. Trained and torch-seeded
networks are built once and saved as DIR/cache/nets/<hash>.npz; a rerun (on this or another machine, with DIR
copied there, or with `weights` pointing at it) reuses those weights, so trained networks give the same rows
everywhere. A re-run only computes what is missing. Outputs (see report): DIR/results.csv, DIR/summary.md, plots.
"""
from __future__ import annotations

import dataclasses
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

from nnlab.engine.study import datasets
from nnlab.engine.threads import set_torch_threads
from nnlab.errors import NnlabError

CACHE_VERSION = 2
TORCH_SEEDED = "torch_seeded"
DETERMINISTIC_HEURISTICS = ("grid",)  # heuristics that ignore their seed: one run, no repeats
BUDGET_KEYS = {"forward": "max_forward", "lp": "max_lp"}  # budget key -> the heuristics' parameter


class StudyError(NnlabError):
    """A study config is invalid; the message is one line naming the field."""


@dataclass(frozen=True)
class NetConfig:
    """One network of the study; `train` holds TrainSpec overrides as sorted (key, value) pairs. Networks from files
    have source "files", the file's path and content hash, and optionally the output/objective and box."""

    label: str
    init: str
    bias: str
    target: str
    dim: int
    hidden: tuple[int, ...]
    seed: int
    train: tuple[tuple[str, Any], ...] = ()
    source: str = "init"
    path: str = ""
    file_hash: str = ""
    output: int | None = None
    objective: tuple[float, ...] = ()
    lower: tuple[float, ...] = ()
    upper: tuple[float, ...] = ()
    activation: str = "relu"

    trained = property(lambda self: self.target != "none")
    kind = property(lambda self: "file" if self.source == "files" else "trained" if self.trained else "random")

    def key(self) -> str:
        """The network's identity (machine-independent: a file counts by its content hash, not its path)."""
        d = {"v": CACHE_VERSION, "init": self.init, "bias": self.bias, "target": self.target, "dim": self.dim,
             "hidden": list(self.hidden), "seed": self.seed, "train": dict(self.train) if self.trained else {},
             "source": self.source, "file": self.file_hash, "output": self.output, "objective": list(self.objective),
             "lower": list(self.lower), "upper": list(self.upper), "activation": self.activation}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:20]

    def scene(self) -> Any:
        """The scene that builds (and trains) this network: torch-seeded and data-set networks get [0,1]^n."""
        from nnlab.engine.model.scene import InitSpec, NetworkSpec, Scene, TargetSpec, TrainSpec

        unit = self.init == TORCH_SEEDED or datasets.is_dataset(self.target)
        box = {"lower": (0.0,) * self.dim, "upper": (1.0,) * self.dim} if unit else {}
        return Scene(network=NetworkSpec(input_dim=self.dim, hidden=self.hidden, **box),
                     init=InitSpec(scheme="torch_default" if self.init == TORCH_SEEDED else self.init,
                                   bias="auto" if self.init == TORCH_SEEDED else self.bias, seed=self.seed),
                     target=TargetSpec(name="none" if datasets.is_dataset(self.target) else self.target),
                     train=TrainSpec(**{"enabled": True, "seed": self.seed, **dict(self.train)}))

    def box(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """[0,1]^n for random nets, the target's natural box for trained ones, the block's box for files."""
        if self.source == "files":
            return self.lower, self.upper
        return self.scene().domain()


@dataclass(frozen=True)
class Task:
    """One unit of cached work on one network: kind "landscape", "exact" or "method". A method task carries its
    budget (sorted (key, value) pairs of [study] budgets, empty: unbudgeted), its repeat index and its run seed;
    `settings` are the method's parameters including the budget's caps where the method has them."""

    net: NetConfig
    kind: str
    method: str
    sense: str
    time_limit: float
    settings: tuple[tuple[str, Any], ...] = ()  # method params or landscape settings, sorted pairs
    budget: tuple[tuple[str, int], ...] = ()
    repeat: int = 0
    seed: int = 0

    def key(self) -> str:
        d = {"net": self.net.key(), "kind": self.kind, "method": self.method, "sense": self.sense,
             "time_limit": self.time_limit, "settings": [[k, v] for k, v in self.settings],
             "budget": [[k, v] for k, v in self.budget], "repeat": self.repeat, "seed": self.seed}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:24]


def budget_label(budget: tuple[tuple[str, int], ...] | dict) -> str:
    """"forward 1000, lp 10" (config order forward, lp); "none" for an unbudgeted run."""
    b = dict(budget)
    return ", ".join(f"{k} {b[k]}" for k in BUDGET_KEYS if k in b) or "none"


def run_seed(net_seed: int, method: str, repeat: int) -> int:
    """The seed of one run: a hash of (network seed, method, repeat index), the same on every machine; < 2^31."""
    h = hashlib.sha256(f"{net_seed}/{method}/{repeat}".encode()).digest()
    return int.from_bytes(h[:8], "little") % (2**31)


def method_caps(method: str) -> tuple[str, ...]:
    """The work-cap parameters (max_forward, max_lp) the method's parameter dataclass has."""
    from nnlab.engine.optimize.base import METHODS

    entry = METHODS.get(method)
    names = {f.name for f in dataclasses.fields(entry.params)} if entry.params is not None else set()
    return tuple(p for p in BUDGET_KEYS.values() if p in names)


def randomised(method: str) -> bool:
    """Is a method's answer a function of its seed (so repeats differ)? Heuristics, except the plain grid."""
    from nnlab.engine.optimize.base import METHODS

    return "heuristic" in METHODS.get(method).flags and method not in DETERMINISTIC_HEURISTICS


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
    budgets: tuple[tuple[tuple[str, int], ...], ...] = ((),)
    repeats: int = 1
    weights: str | None = None

    def budget_labels(self) -> list[str]:
        return [budget_label(b) for b in self.budgets]

    def uncapped(self) -> list[str]:
        """Methods that cannot take the budgets' caps (they run to their own counts or the time limit)."""
        want = {BUDGET_KEYS[k] for b in self.budgets for k, _ in b}
        return [m for m in self.methods if want - set(method_caps(m))]

    def method_settings(self, method: str, budget: tuple[tuple[str, int], ...]) -> tuple[tuple[str, Any], ...]:
        """The method's parameters: its [study.params] table plus the caps of `budget` that it has."""
        caps = method_caps(method)
        p = dict(self.params.get(method, {}))
        for k, v in budget:
            if BUDGET_KEYS[k] in caps:
                p[BUDGET_KEYS[k]] = v
        return tuple(sorted(p.items()))

    def tasks(self, net: NetConfig) -> list[Task]:
        """The tasks of one network, in a fixed order (landscape, exact max, exact min, then per method, sense,
        budget and repeat)."""
        land = (("samples", self.samples), ("starts", self.starts), ("steps", self.steps))
        if net.dim == 2:  # 2-D: certified local-optimum counts from the exact regions too
            land += (("certified", 1),)
        out = [Task(net, "landscape", "landscape", "max", 0.0, land)]
        out += [Task(net, "exact", self.exact_method, s, self.exact_time_limit) for s in ("max", "min")]
        for m in self.methods:
            reps = self.repeats if randomised(m) else 1
            for s, b, r in itertools.product(self.senses, self.budgets, range(reps)):
                out.append(Task(net, "method", m, s, self.time_limit, self.method_settings(m, b), b, r,
                                run_seed(net.seed, m, r)))
        return out


# Limits (checked on load, before any work; see scene.py for the network and training limits, which apply to every
# network of a study): a day per method run, the scene's sample limit, a few hundred thousand networks at most.
MAX_SECONDS = 86_400.0
MAX_STARTS = 100_000
MAX_STEPS = 100_000
MAX_SEEDS = 10_000
MAX_NETWORKS = 100_000
MAX_REPEATS = 1000
MAX_BUDGETS = 100
MAX_WORK = 10**12
MAX_FILES = 10_000
MAX_STUDY_BYTES = 1_000_000
_MAX = {"time_limit": MAX_SECONDS, "exact_time_limit": MAX_SECONDS, "starts": MAX_STARTS, "steps": MAX_STEPS,
        "repeats": MAX_REPEATS}

_STUDY_KEYS = {"methods": list, "senses": list, "time_limit": float, "exact_time_limit": float, "exact_method": str,
               "samples": int, "starts": int, "steps": int, "params": dict, "budgets": list, "repeats": int,
               "weights": str}
_NET_KEYS = {"label": str, "inits": list, "init": str, "bias": str, "targets": list, "dims": list, "hidden": list,
             "seeds": (int, list), "train": dict, "source": str, "files": list, "output": None, "objective": list,
             "lower": None, "upper": None, "activation": str}
_FILE_KEYS = {"label", "source", "files", "output", "objective", "lower", "upper", "activation"}


def _typed(where: str, value: Any, tp: Any) -> Any:
    if tp is None:  # checked by the caller
        return value
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


def _budgets(raw: Any) -> tuple[tuple[tuple[str, int], ...], ...]:
    """[study] budgets: a list of tables {forward = N, lp = M} (either or both, integers >= 1)."""
    if raw is None:
        return ((),)
    if not raw or len(raw) > MAX_BUDGETS:
        raise StudyError(f"[study] budgets has {len(raw)} entries; expected 1 to {MAX_BUDGETS} tables like "
                         "{forward = 1000, lp = 10}")
    out = []
    for i, b in enumerate(raw, 1):
        where = f"[study] budgets #{i}"
        if not isinstance(b, dict) or not b:
            raise StudyError(f"{where} = {b!r} is not allowed; expected a table like {{forward = 1000, lp = 10}}")
        for k, v in b.items():
            if k not in BUDGET_KEYS:
                raise StudyError(f"{where} {k} is not a known field; allowed: {', '.join(BUDGET_KEYS)}")
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_WORK:
                raise StudyError(f"{where} {k} = {v!r} is not allowed; expected an integer 1..{MAX_WORK:.0e}")
        out.append(tuple((k, b[k]) for k in BUDGET_KEYS if k in b))
    if len(set(out)) != len(out):
        raise StudyError("[study] budgets lists the same budget twice")
    return tuple(out)


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:20]


def _box_side(where: str, value: Any, default: float, n: int) -> tuple[float, ...]:
    if value is None:
        return (default,) * n
    vals = value if isinstance(value, list) else [value]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in vals) or \
            len(vals) not in (1, n):
        raise StudyError(f"{where} = {value!r} is not allowed; expected a number or a list of {n} numbers")
    return tuple(float(v) for v in (vals * n if len(vals) == 1 else vals))


def _file_networks(where: str, b: dict, base: Path) -> list[NetConfig]:
    """The networks of a `source = "files"` block, each read (and so checked) now."""
    from nnlab.engine.model.io import ModelFileError, read_model

    for k in b:
        if k not in _FILE_KEYS:
            raise StudyError(f"{where} {k} is not used with source = \"files\"; allowed: {', '.join(sorted(_FILE_KEYS))}")
    files = b.get("files")
    if not files or len(files) > MAX_FILES or any(not isinstance(f, str) or not f for f in files):
        raise StudyError(f"{where} files = {files!r} is not allowed; expected a list of 1 to {MAX_FILES} model "
                         "file paths")
    output = b.get("output")
    if output is not None and (isinstance(output, bool) or not isinstance(output, int) or output < 0):
        raise StudyError(f"{where} output = {output!r} is not allowed; expected an output index >= 0")
    objective = b.get("objective")
    if objective is not None and (not objective or any(isinstance(c, bool) or not isinstance(c, (int, float))
                                                       or not math.isfinite(c) for c in objective)):
        raise StudyError(f"{where} objective = {objective!r} is not allowed; expected a list of numbers")
    if output is not None and objective is not None:
        raise StudyError(f"{where}: give output or objective, not both")
    label = str(b.get("label", "files"))
    nets = []
    for i, f in enumerate(files):
        p = Path(f) if Path(f).is_absolute() else base / f
        try:
            loaded = read_model(p, b.get("activation"), output=output, objective=objective)
        except ModelFileError as e:
            raise StudyError(f"{where} files: {e}") from None
        snap = loaded.net
        n = snap.input_dim
        lo = _box_side(f"{where} lower", b.get("lower"), 0.0, n)
        hi = _box_side(f"{where} upper", b.get("upper"), 1.0, n)
        if any(a >= c for a, c in zip(lo, hi)):
            raise StudyError(f"{where} ({p.name}): the box needs lower < upper in every coordinate")
        nets.append(NetConfig(label, "file", "file", "none", n, tuple(w.shape[0] for w in snap.weights[:-1]), i,
                              source="files", path=str(p.resolve()), file_hash=_file_hash(p), output=output,
                              objective=tuple(float(c) for c in objective or ()), lower=lo, upper=hi,
                              activation=snap.activation))
    return nets


def study_from_dict(data: dict, base: str | os.PathLike | None = None) -> StudyConfig:
    """Validate a parsed config; every problem is a one-line StudyError naming the field. Relative paths (network
    files, `weights`) are taken from `base` (the config file's folder; default the working directory)."""
    import nnlab.engine.optimize as opt
    from nnlab.engine.model.inits import INITS
    from nnlab.engine.model.scene import MAX_SAMPLES, MAX_SEED, TrainSpec, _section_from_dict, scene_from_dict
    from nnlab.errors import SceneError
    from nnlab.engine.model.targets import TARGETS

    base = Path(base) if base is not None else Path.cwd()
    for k in data:
        if k not in ("title", "description", "study", "networks"):
            raise StudyError(f"{k} is not a known section or field; allowed: title, description, study, networks")
    st = _check_table("[study]", data.get("study", {}), _STUDY_KEYS, {**_MAX, "samples": MAX_SAMPLES})
    methods = _choose("[study] methods", st.get("methods", ["gradient", "walk", "sampling"]), opt.METHODS.names())
    senses = _choose("[study] senses", st.get("senses", ["max", "min"]), ["max", "min"])
    exact = _choose("[study] exact_method", [st.get("exact_method", "exact")], opt.METHODS.names())[0]
    budgets = _budgets(st.get("budgets"))
    params = st.get("params", {})
    for m, p in params.items():
        _choose("[study.params] method", [m], opt.METHODS.names())
        p = _typed(f"[study.params.{m}]", p, dict)
        if budgets != ((),) and set(p) & set(BUDGET_KEYS.values()):
            raise StudyError(f"[study.params.{m}] sets {', '.join(sorted(set(p) & set(BUDGET_KEYS.values())))}; "
                             "with [study] budgets the caps come from the budgets")
        try:
            opt.base.make_params(m, p)
        except (NnlabError, ValueError) as e:  # optimize reports a bad parameter as one of these, one line
            raise StudyError(f"[study.params.{m}] {e}") from None
    weights = st.get("weights")
    if weights is not None:
        wp = Path(weights) if Path(weights).is_absolute() else base / weights
        if not wp.is_dir():
            raise StudyError(f"[study] weights = {weights!r}: no such folder")
        weights = str(wp.resolve())
    blocks = data.get("networks")
    if not isinstance(blocks, list) or not blocks:
        raise StudyError("[[networks]] is missing; expected at least one block of networks")
    nets: list[NetConfig] = []
    all_targets = ["none", *TARGETS.names(), *datasets.names()]
    for i, raw in enumerate(blocks, 1):
        where = f"[[networks]] #{i}"
        b = _check_table(where, raw, _NET_KEYS)
        source = _choose(f"{where} source", [b.get("source", "init")], ["init", "files"])[0]
        if source == "files":
            nets += _file_networks(where, b, base)
            if len(nets) > MAX_NETWORKS:
                raise StudyError(f"{where}: the study has {len(nets):,} networks so far; the limit is {MAX_NETWORKS:,}")
            continue
        for k in _FILE_KEYS - {"label", "source"}:
            if k in b:
                raise StudyError(f"{where} {k} is only used with source = \"files\"")
        if "init" in b and "inits" in b:
            raise StudyError(f"{where}: give init or inits, not both")
        inits = _choose(f"{where} inits", [b["init"]] if "init" in b else b.get("inits", ["xavier_uniform"]),
                        [*INITS.names(), TORCH_SEEDED])
        targets = _choose(f"{where} targets", b.get("targets", ["none"]), all_targets)
        bias = _choose(f"{where} bias", [b.get("bias", "auto")], ["auto", "zero", "fan_in"])[0]
        if TORCH_SEEDED in inits and bias != "auto":
            raise StudyError(f"{where} bias = {bias!r} is not allowed with init torch_seeded (nn.Linear's own biases)")
        dims = b.get("dims", [datasets.n_inputs(targets[0])] if datasets.is_dataset(targets[0]) else [2])
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
            if datasets.is_dataset(t):
                if d != datasets.n_inputs(t):
                    raise StudyError(f"{where} targets = {t!r} has {datasets.n_inputs(t)} inputs; dims = {d} is not "
                                     "allowed")
                try:
                    datasets.load(t)  # the package is there and ships the data (before any work)
                except NnlabError as e:
                    raise StudyError(f"{where} targets = {t!r}: {e}") from None
            elif t != "none" and d != 2 and "nd" not in TARGETS.get(t).flags:
                raise StudyError(f"{where} targets = {t!r} has no {d}-D form; n-D targets: {', '.join(TARGETS.names('nd'))}")
        for t, d, h in itertools.product(targets, dims, hidden):  # each network passes a scene's validation (limits)
            try:
                scene_from_dict({"network": {"input_dim": d, "hidden": h},
                                 "target": {"name": "none" if datasets.is_dataset(t) else t}, "train": train})
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
                         tuple(dict.fromkeys(nets)), budgets, st.get("repeats", 1), weights)
    check_tasks(config)
    return config


def check_tasks(config: StudyConfig) -> None:
    """Start every distinct optimizer task of the study (method, sense, parameters, input dimension, activation) on
    a tiny network of that dimension and stop it at its first event. The methods check their parameters and what
    they support (a grid too large in 10-D, a 2-D-only method) when they start, so a bad setting is a one-line
    StudyError here, before any work, not a failed task minutes into the run."""
    import nnlab.engine.optimize as opt
    from nnlab.engine.model.network import initial_snapshot, snapshot_from_layers
    from nnlab.engine.model.scene import InitSpec, NetworkSpec

    seen: set = set()
    tiny: dict[tuple[int, str], Any] = {}
    for net in config.networks:
        for task in config.tasks(net):
            key = (task.kind, task.method, task.sense, task.settings, net.dim, net.activation)
            if task.kind == "landscape" or key in seen:
                continue
            seen.add(key)
            if (net.dim, net.activation) not in tiny:
                relu = initial_snapshot(NetworkSpec(input_dim=net.dim, hidden=(2,)), InitSpec(seed=0))
                tiny[net.dim, net.activation] = snapshot_from_layers(relu.layers(), net.activation)
            where = (f"[study] exact_method = {task.method!r}" if task.kind == "exact"
                     else f"[study.params.{task.method}]" if config.params.get(task.method)
                     else f"[study] methods = {task.method!r}")
            try:
                gen = opt.run_method(task.method, tiny[net.dim, net.activation], [0.0] * net.dim, [1.0] * net.dim,
                                     sense=task.sense, time_limit=min(task.time_limit, 1.0), seed=0,
                                     params=dict(task.settings))
                try:
                    next(gen)
                except StopIteration:
                    pass
                finally:
                    gen.close()
            except (NnlabError, ValueError) as e:  # the methods' own one-line refusals
                raise StudyError(f"{where} with dims = {net.dim}: {e}") from None


def load_study(path: str | os.PathLike) -> StudyConfig:
    """Read and validate a study TOML file; errors start with the file name; relative paths in it are taken from
    its folder."""
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
        return study_from_dict(data, base=p.resolve().parent)
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


def torch_seeded_snapshot(dim: int, hidden: tuple[int, ...], seed: int) -> Any:
    """The network of `torch.manual_seed(seed); nn.Sequential(nn.Linear(dim, h1), nn.ReLU(), ..., nn.Linear(hk, 1))`
    with nn.Linear's default initialization, made in exactly that order (Tong, Cai & Serra's instances), as a
    float64 snapshot of its float32 weights. Torch's global generator is restored afterwards."""
    import torch
    from torch import nn

    from nnlab.engine.model.network import from_torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list = []
        prev = dim
        for w in hidden:
            layers += [nn.Linear(prev, w), nn.ReLU()]
            prev = w
        layers.append(nn.Linear(prev, 1))
        model = nn.Sequential(*layers)
    return from_torch(model)


def saved_by_study(net: NetConfig) -> bool:
    """Networks whose weights are saved with the study: trained ones (training differs across machines) and
    torch-seeded ones (torch's generator may change between versions). numpy-initialized random nets are
    bit-identical everywhere and files are their own record."""
    return net.source != "files" and (net.trained or net.init == TORCH_SEEDED)


def build_network(net: NetConfig) -> dict[str, Any]:
    """The network's weights: read from its file, or the seeded initial net, trained on its target when it has one
    (a data set target: on the data set's rows, through the same training loop)."""
    limit_threads()
    from nnlab.engine.model.network import initial_snapshot

    info: dict[str, Any] = {}
    if net.source == "files":
        from nnlab.engine.model.io import read_model

        snap = read_model(net.path, net.activation, output=net.output,
                          objective=list(net.objective) if net.objective else None).net
    else:
        scene = net.scene()
        start = torch_seeded_snapshot(net.dim, net.hidden, net.seed) if net.init == TORCH_SEEDED else None
        if not net.trained:
            snap = start if start is not None else initial_snapshot(scene.network, scene.init)
        else:
            set_torch_threads(1)
            from nnlab.engine.train.training import train_to_result

            data = datasets.load(net.target) if datasets.is_dataset(net.target) else None
            res = train_to_result(scene, start=start, data=data)
            if res.status != "done":
                raise RuntimeError(f"training {net.target} ({net.dim}-D, seed {net.seed}) ended with status {res.status}")
            snap, info = res.snapshot, {"val_r2": res.val_r2, "train_seconds": res.seconds}
    return {"weights": [np.asarray(w) for w in snap.weights], "biases": [np.asarray(b) for b in snap.biases],
            "activation": snap.activation, **info}


def sample_std(net: Any, lo: Any, hi: Any, n_samples: int, seed: int) -> float:
    """The gap scale: the standard deviation of f over the landscape task's own uniform sample of the box (the
    same points as affine_r2 and the region count: landscape.uniform_samples with the same seed)."""
    from nnlab.engine.analysis import landscape

    return float(np.std(net.forward(landscape.uniform_samples(lo, hi, n_samples, seed))))


TRACE_POINTS = 50  # anytime-curve points kept per method run (first and last included)
CERTIFIED_MAX_REGIONS = 200_000  # 2-D nets with more regions get no certified local-optimum counts


def run_with_trace(gen: Any) -> tuple[Any, list[list]]:
    """Drain a method's generator, recording its anytime curve: for each Incumbent event [forward passes, LP
    solves, seconds, value] (work from heuristics' MeteredIncumbent; None for a method that meters none), thinned
    to TRACE_POINTS evenly spaced events, the first and last kept. The curve goes to the task's cached JSON."""
    from nnlab.engine.optimize.base import Incumbent

    from nnlab.engine.jobs import drain

    trace: list[list] = []

    def record(ev: Any) -> None:
        if isinstance(ev, Incumbent):
            trace.append([getattr(ev, "forward", None), getattr(ev, "lp", None), float(ev.seconds), float(ev.value)])
    res = drain(gen, record)
    if len(trace) > TRACE_POINTS:
        keep = np.unique(np.round(np.linspace(0, len(trace) - 1, TRACE_POINTS)).astype(int))
        trace = [trace[i] for i in keep]
    return res, trace


def certified_counts(net: Any, lo: Any, hi: Any) -> dict[str, Any]:
    """The landscape task's certified local-optimum counts of a 2-D piecewise-linear net (analysis.local_optima):
    strict maxima/minima and plateaus apart; None for a net it cannot certify (smooth activation, too many
    regions)."""
    from nnlab.engine.analysis.local_optima import certified_local_optima

    keys = ("local_max_certified", "local_min_certified", "local_max_plateaus", "local_min_plateaus")
    try:
        c = certified_local_optima(net, lo, hi, max_regions=CERTIFIED_MAX_REGIONS)
    except NnlabError:
        return dict.fromkeys(keys)
    # a vertex whose incident regions could not be completed is decided neither way: the counts are then exact up
    # to `certified_unresolved` more (kept in the task's JSON)
    return {"local_max_certified": c.maxima.strict, "local_min_certified": c.minima.strict,
            "local_max_plateaus": c.maxima.plateaus, "local_min_plateaus": c.minima.plateaus,
            "certified_regions": c.regions, "certified_unresolved": c.unresolved}


def run_task(task: Task, weights: list, biases: list, activation: str = "relu") -> dict[str, Any]:
    """Compute one task on the network given by its weights; returns a JSON-able dict."""
    limit_threads()
    from nnlab.engine.analysis import landscape
    from nnlab.engine.model.network import NetSnapshot

    net = NetSnapshot(tuple(weights), tuple(biases), activation)
    lo, hi = task.net.box()
    t0 = time.perf_counter()
    if task.kind == "landscape":
        s = dict(task.settings)
        out = landscape.landscape_metrics(net, lo, hi, n_samples=s["samples"], starts=s["starts"], steps=s["steps"],
                                          seed=task.net.seed)
        out["sample_std"] = sample_std(net, lo, hi, s["samples"], task.net.seed)
        out["starts"] = s["starts"]
        if s.get("certified"):
            out.update(certified_counts(net, lo, hi))
    elif task.kind == "exact":
        out = landscape.extremum(net, lo, hi, task.sense, task.time_limit, method=task.method).to_json()
    else:
        import nnlab.engine.optimize as opt

        res, trace = run_with_trace(opt.run_method(task.method, net, lo, hi, sense=task.sense,
                                                   time_limit=task.time_limit, seed=task.seed,
                                                   params=dict(task.settings)))
        loc, k = ("none", 0) if res.x is None else landscape.classify_location(res.x, lo, hi)
        work = res.extra.get("work")  # {"forward", "lp", "gradient_steps"} from methods with work budgets
        out = {"value": res.value, "x": None if res.x is None else [float(v) for v in res.x], "status": res.status,
               "bound": res.bound, "seconds": res.seconds, "location": loc, "n_at_bound": k,
               "work": {str(a): int(b) for a, b in work.items()} if isinstance(work, dict) else None,
               "trace": trace}
    out["wall_seconds"] = time.perf_counter() - t0
    return out
