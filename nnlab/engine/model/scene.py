"""A scene: everything needed to reproduce what the app shows, as frozen dataclasses and a versioned TOML file.

Every invalid field is reported as one line naming the section, the field, the bad value and what is allowed.

Specs validate themselves on construction (`NetworkSpec(hidden=())` raises SceneError), with the same rules and
messages as the file reader, so a scene that builds can be saved and loaded back. Choices (activation, init scheme
and bias rule, target, sampling, training optimizer, schedule, colormap) are the names of the registries in
activations, inits, targets, sampling, learning (training optimizers and schedules) and colormaps; every registry is filled when
its module is imported, before the specs below are defined, so the choices are read once here.

Limits. Validation (construction, hence load_scene, scene_from_dict and Scene.replace: every command-line override
goes through replace) admits only sizes nnlab can hold in memory and compute with on one machine, so that nothing is
allocated for a network, a data set or a grid that cannot be used. The numbers and why:
- MAX_HIDDEN_LAYERS = 64: plain MLPs much deeper do not train (no residual connections or normalisation here), and
  every exact method gives up long before.
- MAX_WIDTH = 4096: the Network panel's own limit; one 4096 x 4096 layer is 16.8 M weights.
- MAX_PARAMS = 20 M weights and biases: 160 MB per float64 copy, ~0.5 GB while Adam trains (float32 weights,
  gradients and two moments plus float64 snapshots); enough for one hidden-to-hidden layer of the largest width.
- MAX_INPUT_DIM = 1000 (the study's limit), MAX_SAMPLES = 1 M and samples x input_dim <= 20 M values (160 MB of
  float64 inputs): one epoch over the largest data set is still seconds to minutes on a CPU.
- MAX_EPOCHS = 100 000; batch_size <= MAX_SAMPLES (a larger batch is the full data set anyway).
- camera resolution <= 1000: a 10^6-point grid, 2 x 10^6 triangles, the most a software-rendered surface redraws
  interactively; a surface is evaluated once per grid point.

A scene can name a model file instead of describing a network to initialise: `[network] model = "net.onnx"` (.onnx,
.npz, .pt, .pt2; relative to the scene file), with `output = K` (0-based) or `objective = [c0, c1, ...]` (c^T y)
for a file with several outputs, and `logits = true` to drop a trailing Softmax/LogSoftmax. Such a scene does not
train; its input_dim, hidden widths and activation are the file's (filled in when the scene is made; an explicit
input_dim in a scene file that differs is an error), its box is lower/upper, else [0,1]^n. The file is read when
the scene is made (once per file version: io.read_network_cached), so a scene that builds has a network.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnlab.engine.model.colormaps import COLORMAPS
from nnlab.engine.files import atomic_write_bytes, read_regular_file
from nnlab.engine.model import activations
from nnlab.engine.model.inits import INITS, bias_choices
from nnlab.engine.model.targets import SPECIAL_TARGETS, natural_domain, target_choices
from nnlab.engine.model.learning import OPTIMIZERS, SCHEDULES
from nnlab.engine.model.sampling import SAMPLING
from nnlab.errors import NnlabError, SceneError

if TYPE_CHECKING:  # the model files and the network sit above the specs: imported where needed
    from nnlab.engine.model.io import ModelNetwork
    from nnlab.engine.model.network import NetSnapshot

FORMAT_VERSION = 1
ACTIVATIONS = activations.names()  # display order of the activation registry

MAX_INPUT_DIM = 1000
MAX_HIDDEN_LAYERS = 64
MAX_WIDTH = 4096
MAX_PARAMS = 20_000_000
MAX_SAMPLES = 1_000_000
MAX_SAMPLE_VALUES = 20_000_000  # samples x input_dim
MAX_EPOCHS = 100_000
MAX_RESOLUTION = 1000
MAX_SEED = 2**63 - 1  # TOML's largest integer; numpy and torch accept every seed up to it
MAX_SCENE_BYTES = 1_000_000  # scenes are a few kB; refuses /dev/zero and other files that are not scenes


def _f(default: Any, **meta: Any) -> Any:
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


class _ActivationChoices(tuple):
    """The activation registry's names (what menus list), admitting the derived leaky_relu:SLOPE names too."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and activations.known(name)


MODEL_FIELDS = ("model", "output", "objective", "logits")  # [network] fields of a scene that names a model file


class _Section:
    """A scene section that checks itself when made: each field (type, choices, limits; values are normalised, e.g.
    a list to a tuple), then the checks that tie its fields together. `SECTION` is its name in a scene file."""

    SECTION = ""

    def __post_init__(self) -> None:
        for name, tp, meta in _field_specs(type(self)):
            value = getattr(self, name)
            checked = _convert(self.SECTION, name, value, tp, meta)
            if checked is not value:
                object.__setattr__(self, name, checked)
        _validate_section(self.SECTION, self)


@dataclass(frozen=True)
class NetworkSpec(_Section):
    """Architecture; `lower`/`upper` give the input box (None: the target's natural domain, else [0,1]^n).

    `model` names a model file whose network the scene shows instead (see the module docstring): `output` K or
    the linear `objective` c^T y of its outputs, `logits` to drop a trailing softmax."""

    SECTION = "network"

    input_dim: int = _f(2, min=1, max=MAX_INPUT_DIM)
    hidden: tuple[int, ...] = _f((100, 100), min=1, max=MAX_WIDTH)
    activation: str = _f("relu", choices=_ActivationChoices(ACTIVATIONS))
    lower: tuple[float, ...] | None = _f(None)
    upper: tuple[float, ...] | None = _f(None)
    model: str = _f("")
    output: int | None = _f(None, min=0)
    objective: tuple[float, ...] | None = _f(None)
    logits: bool = _f(False)


@dataclass(frozen=True)
class InitSpec(_Section):
    """Initialization scheme (see inits.py); `bias = "auto"` lets the scheme decide (zero, or PyTorch's own)."""

    SECTION = "init"

    scheme: str = _f("xavier_uniform", choices=tuple(INITS.names()))
    gain: float = _f(1.0, min=0.0)
    scale: float = _f(0.1, min=0.0)
    bias: str = _f("auto", choices=bias_choices())
    bias_value: float = _f(0.0)
    seed: int = _f(1, min=0, max=MAX_SEED)


@dataclass(frozen=True)
class TargetSpec(_Section):
    """Training target: "none" (untrained), a registered function, "expression" or "csv"."""

    SECTION = "target"

    name: str = _f("none", choices=target_choices())
    expression: str = _f("")
    csv: str = _f("")
    rescale: bool = _f(False)


@dataclass(frozen=True)
class TrainSpec(_Section):
    """How the network is fitted to the target; `enabled` trains it when the scene is loaded headless."""

    SECTION = "train"

    enabled: bool = _f(False)
    samples: int = _f(2000, min=4, max=MAX_SAMPLES)
    sampling: str = _f("uniform", choices=tuple(SAMPLING.names()))
    noise: float = _f(0.0, min=0.0)
    val_fraction: float = _f(0.2, min=0.0, max=0.9)
    optimizer: str = _f("adam", choices=tuple(OPTIMIZERS.names()))
    lr: float = _f(0.01, min=0.0, exclusive_min=True)
    momentum: float = _f(0.9, min=0.0, max=1.0)
    schedule: str = _f("cosine", choices=tuple(SCHEDULES.names()))
    batch_size: int = _f(256, min=1, max=MAX_SAMPLES)
    epochs: int = _f(300, min=1, max=MAX_EPOCHS)
    seed: int = _f(0, min=0, max=MAX_SEED)
    surface_every: int = _f(10, min=0, max=MAX_EPOCHS)


@dataclass(frozen=True)
class OptimizerSpec(_Section):
    """Which optimizer the scene runs, and on what sense; extra method parameters go in `params`."""

    SECTION = "optimizer"

    method: str = _f("exact")
    sense: str = _f("max", choices=("max", "min"))
    time_limit: float = _f(60.0, min=0.0, exclusive_min=True)
    seed: int = _f(0, min=0, max=MAX_SEED)
    params: dict = _f({})


@dataclass(frozen=True)
class CameraSpec(_Section):
    """How the surface is looked at."""

    SECTION = "camera"

    distance: float = _f(0.0, min=0.0)  # 0: fit the surface
    elevation: float = _f(30.0, min=-90.0, max=90.0)
    azimuth: float = _f(45.0)
    colormap: str = _f("viridis", choices=tuple(COLORMAPS.names()))
    resolution: int = _f(100, min=4, max=MAX_RESOLUTION)
    view: str = _f("3d", choices=("3d", "2d"))
    auto_rotate: bool = _f(False)
    background: str = _f("dark", choices=("dark", "white"))


@dataclass(frozen=True)
class ExportSpec(_Section):
    """Defaults for animation export from this scene."""

    SECTION = "export"

    kind: str = _f("orbit", choices=("orbit", "training", "optimizer", "gallery", "compare"))
    frames: int = _f(120, min=1, max=100000)
    fps: float = _f(30.0, min=0.1, max=240.0)
    width: int = _f(800, min=16, max=8192)
    height: int = _f(600, min=16, max=8192)
    seeds: int = _f(5, min=1, max=1000)
    background: str = _f("white", choices=("white", "dark", "transparent"))
    axes: bool = _f(True)
    caption: str = _f("")
    loop: bool = _f(True)


@dataclass(frozen=True)
class Scene:
    """A whole scene; `source` is the file it came from (for relative paths), not saved."""

    title: str = "Untitled"
    description: str = ""
    network: NetworkSpec = field(default_factory=NetworkSpec)
    init: InitSpec = field(default_factory=InitSpec)
    target: TargetSpec = field(default_factory=TargetSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    camera: CameraSpec = field(default_factory=CameraSpec)
    export: ExportSpec = field(default_factory=ExportSpec)
    compare: str = ""
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        """The checks that tie sections together (each section checked itself when it was made)."""
        for key in TOP_FIELDS:
            value = getattr(self, key)
            if not isinstance(value, str):
                raise SceneError(f"{key} = {value!r} is not allowed; expected a string")
        for key, cls in SECTIONS.items():
            if type(getattr(self, key)) is not cls:
                raise SceneError(f"[{key}] must be a {cls.__name__}, got {getattr(self, key)!r}")
        if self.network.model:
            object.__setattr__(self, "network", _with_model(self))
        _check_sizes(self)

    def replace(self, section: str | None = None, **changes: Any) -> "Scene":
        """A copy with fields changed, in a section (`scene.replace("init", seed=2)`) or at top level; the copy is
        validated as it is made (an override cannot skip a limit)."""
        if section is None:
            return dataclasses.replace(self, **changes)
        cls = SECTIONS[section]
        _known_fields(section, cls, changes)
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})

    def trains(self) -> bool:
        """Is the scene's network trained ([train] enabled and a target set), or shown as initialized (or read from
        its model file, which is never trained)?"""
        return not self.network.model and self.train.enabled and self.target.name != "none"

    def domain(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The network's input box: explicit bounds, else the target's natural domain, else [0,1]^n (a model
        file's network: explicit bounds, else [0,1]^n)."""
        n = self.network.input_dim
        if self.network.lower is not None and self.network.upper is not None:
            return tuple(self.network.lower), tuple(self.network.upper)
        if self.network.model:
            return (0.0,) * n, (1.0,) * n
        if self.target.name not in SPECIAL_TARGETS and not self.target.rescale:
            return natural_domain(self.target.name, n)
        return (0.0,) * n, (1.0,) * n

    def resolve_path(self, p: str) -> Path:
        """A path from the scene file, taken relative to the scene's folder."""
        path = Path(p)
        if not path.is_absolute() and self.source:
            path = Path(self.source).parent / path
        return path

    def model_network(self) -> "ModelNetwork":
        """The network of [network] model with every output (io.ModelNetwork, read once per file version); a
        SceneError when the scene names no model file."""
        if not self.network.model:
            raise SceneError("[network] model is not set; this scene describes a network to initialise")
        from nnlab.engine.model.io import read_network_cached

        return read_network_cached(self.resolve_path(self.network.model), logits=self.network.logits)

    def base_network(self) -> "NetSnapshot":
        """The scene's network before any training: its model file's chosen output or objective, else the seeded
        initial network of its architecture and init. (Training, the app and export all start from this one.)"""
        if self.network.model:
            return self.model_network().snapshot(self.network.output, self.network.objective)
        from nnlab.engine.model.network import initial_snapshot

        return initial_snapshot(self.network, self.init)


SECTIONS: dict[str, type] = {
    "network": NetworkSpec,
    "init": InitSpec,
    "target": TargetSpec,
    "train": TrainSpec,
    "optimizer": OptimizerSpec,
    "camera": CameraSpec,
    "export": ExportSpec,
}
TOP_FIELDS = ("title", "description", "compare")
_FROM_MODEL = ("input_dim", "hidden", "activation")  # a model scene's network fields that its file defines


@functools.cache
def _field_specs(cls: type) -> tuple[tuple[str, Any, dict], ...]:
    """(name, type, metadata) of a section's fields, read once per class (get_type_hints is slow)."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name], dict(f.metadata)) for f in dataclasses.fields(cls))


def _convert(section: str, name: str, value: Any, tp: Any, meta: dict) -> Any:
    where = f"[{section}] {name}"

    def bad(allowed: str) -> SceneError:
        return SceneError(f"{where} = {value!r} is not allowed; expected {allowed}")

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        tp = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        item = args[0]
        return tuple(_convert(section, name, v, item, meta) for v in value)
    if tp is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise bad("an integer")
        value = int(value)
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise bad("a finite number")
        value = float(value)
    elif tp is str:
        if not isinstance(value, str):
            raise bad("a string")
    elif tp is dict:
        if not isinstance(value, dict):
            raise bad("a table")
        return dict(value)
    if "choices" in meta and value not in meta["choices"]:
        raise bad("one of " + ", ".join(meta["choices"]))
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and (value < lo or (meta.get("exclusive_min") and value == lo)):
        raise bad(f"a value {'>' if meta.get('exclusive_min') else '>='} {lo}" + (f" and <= {hi}" if hi is not None else ""))
    if hi is not None and value > hi:
        raise bad(f"a value <= {hi}" + (f" and >= {lo}" if lo is not None else ""))
    return value


def _section_from_dict(section: str, cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise SceneError(f"[{section}] must be a table, got {data!r}")
    _known_fields(section, cls, data)
    return cls(**data)


def _known_fields(section: str, cls: type, data: dict[str, Any]) -> None:
    """A SceneError naming the first field of `data` that the section does not have (a file or an override)."""
    names = [f[0] for f in _field_specs(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise SceneError(f"[{section}] {unknown[0]} is not a known field; allowed: {', '.join(names)}")


def _validate_section(section: str, obj: Any) -> None:
    """Checks that tie several fields together."""
    if isinstance(obj, NetworkSpec):
        _validate_model_fields(obj)
        if obj.model:
            return  # input_dim, hidden and activation are the file's: checked with it (_with_model)
        if not obj.hidden:
            raise SceneError("[network] hidden = [] is not allowed; expected at least one hidden layer")
        if len(obj.hidden) > MAX_HIDDEN_LAYERS:
            raise SceneError(f"[network] hidden has {len(obj.hidden)} layers; the limit is {MAX_HIDDEN_LAYERS} hidden layers")
        sizes = (obj.input_dim, *obj.hidden, 1)
        n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
        if n_params > MAX_PARAMS:
            raise SceneError(f"[network] input_dim = {obj.input_dim}, hidden = {list(obj.hidden)} has {n_params:,} "
                             f"weights and biases; the limit is {MAX_PARAMS:,}")
        for key in ("lower", "upper"):
            v = getattr(obj, key)
            if v is not None and len(v) != obj.input_dim:
                raise SceneError(f"[network] {key} = {list(v)} is not allowed; expected {obj.input_dim} numbers (input_dim)")
        if (obj.lower is None) != (obj.upper is None):
            raise SceneError("[network] lower/upper: give both or neither")
        if obj.lower is not None and any(a >= b for a, b in zip(obj.lower, obj.upper)):
            raise SceneError(f"[network] lower = {list(obj.lower)} is not allowed; expected lower < upper in every coordinate")
    if isinstance(obj, TargetSpec):
        if obj.name == "expression" and not obj.expression.strip():
            raise SceneError("[target] expression = '' is not allowed; expected an expression in x and y when name = \"expression\"")
        if obj.name == "csv" and not obj.csv:
            raise SceneError("[target] csv = '' is not allowed; expected a path to a CSV file when name = \"csv\"")
    if isinstance(obj, OptimizerSpec):
        for key, value in obj.params.items():  # method parameters are scalars; nested tables have no meaning here
            if isinstance(value, (dict, list)) or not isinstance(value, (bool, int, float, str)):
                raise SceneError(f"[optimizer.params] {key} is not allowed as a {type(value).__name__}; "
                                 "expected a number, true/false or a string")
            if isinstance(value, float) and not math.isfinite(value):
                raise SceneError(f"[optimizer.params] {key} = {value!r} is not allowed; expected a finite number")


def _validate_model_fields(obj: NetworkSpec) -> None:
    """The model fields' own rules (those that need the file are in _with_model)."""
    if not obj.model:
        for key, default in (("output", None), ("objective", None), ("logits", False)):
            if getattr(obj, key) != default:
                raise SceneError(f"[network] {key} = {_toml(getattr(obj, key))} is not allowed without a model file; "
                                 "set model = \"FILE.onnx\" (or .npz, .pt, .pt2)")
        return
    if obj.output is not None and obj.objective is not None:
        raise SceneError("[network] output and objective: choose one, not both")
    if obj.objective is not None and not obj.objective:
        raise SceneError("[network] objective = [] is not allowed; expected one coefficient per output")


def _toml(v: Any) -> str:
    return "true" if v is True else "false" if v is False else repr(list(v)) if isinstance(v, tuple) else repr(v)


def _with_model(scene: "Scene") -> NetworkSpec:
    """[network] with input_dim, hidden and activation of its model file, the output or objective checked against
    the file's outputs; the file's own read errors are one line naming it."""
    net = scene.network
    try:
        full = scene.model_network()
    except NnlabError as e:  # io.ModelFileError: one line starting with the file name
        raise SceneError(f"[network] model: {e}") from None
    k, name = full.n_outputs, full.name
    if net.output is not None and net.output >= k:
        raise SceneError(f"[network] output = {net.output} is not allowed; {name} has {k} output"
                         f"{'s' if k != 1 else ''} (0 to {k - 1})")
    if net.objective is not None and len(net.objective) != k:
        raise SceneError(f"[network] objective = {list(net.objective)} is not allowed; expected {k} numbers "
                         f"({name} has {k} outputs)")
    if k > 1 and net.output is None and net.objective is None:
        raise SceneError(f"[network] model {name} has {k} outputs; choose one with output = K (0 to {k - 1}) or a "
                         f"linear objective = [c0, ..., c{k - 1}]")
    n = full.input_dim
    for key in ("lower", "upper"):
        v = getattr(net, key)
        if v is not None and len(v) != n:
            raise SceneError(f"[network] {key} = {list(v)} is not allowed; expected {n} numbers ({name} has {n} inputs)")
    try:
        return dataclasses.replace(net, input_dim=n, hidden=full.widths, activation=full.activation)
    except SceneError as e:
        raise SceneError(f"[network] model {name} is too large for a scene: {e}") from None


def _check_sizes(scene: "Scene") -> None:
    """Limits and rules that tie sections together (see the module docstring)."""
    values = scene.train.samples * scene.network.input_dim
    if values > MAX_SAMPLE_VALUES:
        raise SceneError(f"[train] samples = {scene.train.samples} with input_dim = {scene.network.input_dim} is "
                         f"{values:,} input values; the limit is {MAX_SAMPLE_VALUES:,} (samples x input_dim)")
    name, n = scene.target.name, scene.network.input_dim
    if name not in SPECIAL_TARGETS:
        natural_domain(name, n)  # a 2-D-only target fails here, naming it
    elif n != 2 and name in ("expression", "csv"):
        raise SceneError(f"[target] name = {name!r} is not allowed with input_dim = {n}; expected input_dim = 2")


def scene_from_dict(data: dict, source: str = "") -> Scene:
    """Build and validate a Scene from parsed TOML."""
    data = dict(data)
    version = data.pop("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1 or version > FORMAT_VERSION:
        raise SceneError(f"format_version = {version!r} is not supported; expected 1..{FORMAT_VERSION}")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in SECTIONS:
            kwargs[key] = _section_from_dict(key, SECTIONS[key], value)
        elif key in TOP_FIELDS:
            kwargs[key] = value  # Scene checks it is a string
        else:
            raise SceneError(f"{key} is not a known section or field; allowed: format_version, {', '.join(TOP_FIELDS)}, {', '.join(SECTIONS)}")
    scene = Scene(source=source, **kwargs)
    given = data.get("network", {}).get("input_dim")
    if scene.network.model and given is not None and given != scene.network.input_dim:
        raise SceneError(f"[network] input_dim = {given} is not allowed; the model file "
                         f"{Path(scene.network.model).name} has {scene.network.input_dim} inputs")
    return scene


def scene_to_dict(scene: Scene) -> dict:
    """Plain dict for TOML, without None values (TOML has no null)."""
    out: dict[str, Any] = {"format_version": FORMAT_VERSION, "title": scene.title, "description": scene.description}
    if scene.compare:
        out["compare"] = scene.compare
    for name in SECTIONS:
        sec = {}
        for f in dataclasses.fields(getattr(scene, name)):
            v = getattr(getattr(scene, name), f.name)
            if v is None:
                continue
            if name == "network" and f.name in (MODEL_FIELDS if not scene.network.model else _FROM_MODEL):
                continue  # a scene without a model file is written as before; one with it takes these from the file
            sec[f.name] = list(v) if isinstance(v, tuple) else v
        out[name] = sec
    return out


def load_scene(path: str | os.PathLike) -> Scene:
    """Read a scene file; any problem is a SceneError whose one-line message starts with the file name."""
    p = Path(path)
    raw = read_regular_file(p, MAX_SCENE_BYTES, "scene file", SceneError)
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))  # a UTF-8 BOM (Windows editors write one) is accepted
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SceneError(f"{p}: not a valid TOML file ({e})") from None
    except RecursionError:
        raise SceneError(f"{p}: not a valid TOML file (arrays or tables nested too deeply)") from None
    try:
        return scene_from_dict(data, source=str(p.resolve()))
    except SceneError as e:
        raise SceneError(f"{p}: {e}") from None


def dumps_scene(scene: Scene) -> str:
    """The scene as TOML text."""
    import tomli_w

    return tomli_w.dumps(scene_to_dict(scene))


def save_scene(scene: Scene, path: str | os.PathLike) -> Scene:
    """Write atomically: a failed write keeps the old file. Relative paths (compare, [target] csv) are rewritten to
    name the same files from the new folder (relative below it, else absolute); returns the scene as saved, with
    `source` = path."""
    saved = rebase_paths(scene, path)
    atomic_write_bytes(path, dumps_scene(saved).encode("utf-8"))
    return saved


def rebase_paths(scene: Scene, path: str | os.PathLike) -> Scene:
    """`scene` as it must be written to `path` so its relative paths (read from scene.source's folder) still point
    at the same files."""
    folder = Path(path).resolve().parent

    def move(p: str) -> str:
        if not p or Path(p).is_absolute() or not scene.source:
            return p
        target = scene.resolve_path(p).resolve()
        return target.relative_to(folder).as_posix() if target.is_relative_to(folder) else str(target)

    out = dataclasses.replace(scene, compare=move(scene.compare), source=str(path),
                              network=dataclasses.replace(scene.network, model=move(scene.network.model)))
    if out.target.csv:
        out = dataclasses.replace(out, target=dataclasses.replace(out.target, csv=move(out.target.csv)))
    return out
