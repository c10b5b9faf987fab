"""A scene: everything needed to reproduce what the app shows, as frozen dataclasses and a versioned TOML file.

Every invalid field is reported as one line naming the section, the field, the bad value and what is allowed.
"""
from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlab.errors import NnlabError

FORMAT_VERSION = 1
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "silu")


class SceneError(NnlabError):
    """A scene file or value is invalid; the message is one line naming the field."""


def _f(default: Any, **meta: Any) -> Any:
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class NetworkSpec:
    """Architecture; `lower`/`upper` give the input box (None: the target's natural domain, else [0,1]^n)."""

    input_dim: int = _f(2, min=1, max=10000)
    hidden: tuple[int, ...] = _f((100, 100), min=1, max=100000)
    activation: str = _f("relu", choices=ACTIVATIONS)
    lower: tuple[float, ...] | None = _f(None)
    upper: tuple[float, ...] | None = _f(None)


@dataclass(frozen=True)
class InitSpec:
    """Initialization scheme (see inits.py); `bias = "auto"` lets the scheme decide (zero, or PyTorch's own)."""

    scheme: str = _f("xavier_uniform", registry="inits")
    gain: float = _f(1.0, min=0.0)
    scale: float = _f(0.1, min=0.0)
    bias: str = _f("auto", choices=("auto", "zero", "constant", "uniform", "normal", "fan_in"))
    bias_value: float = _f(0.0)
    seed: int = _f(1, min=0)


@dataclass(frozen=True)
class TargetSpec:
    """Training target: "none" (untrained), a registered function, "expression" or "csv"."""

    name: str = _f("none", registry="targets")
    expression: str = _f("")
    csv: str = _f("")
    rescale: bool = _f(False)


@dataclass(frozen=True)
class TrainSpec:
    """How the network is fitted to the target; `enabled` trains it when the scene is loaded headless."""

    enabled: bool = _f(False)
    samples: int = _f(2000, min=4, max=10_000_000)
    sampling: str = _f("uniform", choices=("uniform", "lhs", "grid"))
    noise: float = _f(0.0, min=0.0)
    val_fraction: float = _f(0.2, min=0.0, max=0.9)
    optimizer: str = _f("adam", choices=("adam", "sgd", "lbfgs"))
    lr: float = _f(0.01, min=0.0, exclusive_min=True)
    momentum: float = _f(0.9, min=0.0, max=1.0)
    schedule: str = _f("cosine", choices=("constant", "cosine", "step"))
    batch_size: int = _f(256, min=1)
    epochs: int = _f(300, min=1, max=1_000_000)
    seed: int = _f(0, min=0)
    surface_every: int = _f(10, min=0)


@dataclass(frozen=True)
class OptimizerSpec:
    """Which optimizer the scene runs, and on what sense; extra method parameters go in `params`."""

    method: str = _f("exact")
    sense: str = _f("max", choices=("max", "min"))
    time_limit: float = _f(60.0, min=0.0, exclusive_min=True)
    seed: int = _f(0, min=0)
    params: dict = _f({})


@dataclass(frozen=True)
class CameraSpec:
    """How the surface is looked at."""

    distance: float = _f(0.0, min=0.0)  # 0: fit the surface
    elevation: float = _f(30.0, min=-90.0, max=90.0)
    azimuth: float = _f(45.0)
    colormap: str = _f("viridis", choices=("viridis", "cividis", "plasma", "inferno", "magma", "turbo", "coolwarm"))
    resolution: int = _f(100, min=4, max=2000)
    view: str = _f("3d", choices=("3d", "2d"))
    auto_rotate: bool = _f(False)
    background: str = _f("dark", choices=("dark", "white"))


@dataclass(frozen=True)
class ExportSpec:
    """Defaults for animation export from this scene."""

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

    def replace(self, section: str | None = None, **changes: Any) -> "Scene":
        """A copy with fields changed, in a section (`scene.replace("init", seed=2)`) or at top level."""
        if section is None:
            return dataclasses.replace(self, **changes)
        new = dataclasses.replace(getattr(self, section), **changes)
        _validate_section(section, new)
        return dataclasses.replace(self, **{section: new})

    def domain(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The network's input box: explicit bounds, else the target's natural domain, else [0,1]^n."""
        n = self.network.input_dim
        if self.network.lower is not None and self.network.upper is not None:
            return tuple(self.network.lower), tuple(self.network.upper)
        if self.target.name not in ("none", "expression", "csv") and not self.target.rescale:
            from nnlab.engine.targets import natural_domain

            return natural_domain(self.target.name, n)
        return (0.0,) * n, (1.0,) * n

    def resolve_path(self, p: str) -> Path:
        """A path from the scene file, taken relative to the scene's folder."""
        path = Path(p)
        if not path.is_absolute() and self.source:
            path = Path(self.source).parent / path
        return path


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


def _allowed_registry(name: str) -> list[str]:
    if name == "inits":
        from nnlab.engine.inits import INITS

        return INITS.names()
    from nnlab.engine.targets import TARGETS

    return ["none", "expression", "csv", *TARGETS.names()]


def _convert(section: str, name: str, value: Any, tp: Any, meta: dict) -> Any:
    where = f"[{section}] {name}"

    def bad(allowed: str) -> SceneError:
        return SceneError(f"{where} = {value!r} is not allowed; expected {allowed}")

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and type(None) in args:
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
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
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
    if "registry" in meta:
        allowed = _allowed_registry(meta["registry"])
        if value not in allowed:
            raise bad("one of " + ", ".join(allowed))
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and (value < lo or (meta.get("exclusive_min") and value == lo)):
        raise bad(f"a value {'>' if meta.get('exclusive_min') else '>='} {lo}" + (f" and <= {hi}" if hi is not None else ""))
    if hi is not None and value > hi:
        raise bad(f"a value <= {hi}" + (f" and >= {lo}" if lo is not None else ""))
    return value


def _section_from_dict(section: str, cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise SceneError(f"[{section}] must be a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SceneError(f"[{section}] {unknown[0]} is not a known field; allowed: {', '.join(fields)}")
    kwargs = {k: _convert(section, k, v, hints[k], dict(fields[k].metadata)) for k, v in data.items()}
    obj = cls(**kwargs)
    _validate_section(section, obj)
    return obj


def _validate_section(section: str, obj: Any) -> None:
    """Checks that tie several fields together."""
    if isinstance(obj, NetworkSpec):
        if not obj.hidden:
            raise SceneError("[network] hidden = [] is not allowed; expected at least one hidden layer")
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
            if not isinstance(value, str):
                raise SceneError(f"{key} = {value!r} is not allowed; expected a string")
            kwargs[key] = value
        else:
            raise SceneError(f"{key} is not a known section or field; allowed: format_version, {', '.join(TOP_FIELDS)}, {', '.join(SECTIONS)}")
    scene = Scene(source=source, **kwargs)
    if scene.target.name not in ("none", "expression", "csv"):
        from nnlab.engine.targets import natural_domain

        natural_domain(scene.target.name, scene.network.input_dim)  # a 2-D-only target fails here, naming it
    if scene.network.input_dim != 2 and scene.target.name in ("expression", "csv"):
        raise SceneError(f"[target] name = {scene.target.name!r} is not allowed with input_dim = {scene.network.input_dim}; expected input_dim = 2")
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
            sec[f.name] = list(v) if isinstance(v, tuple) else v
        out[name] = sec
    return out


def load_scene(path: str | os.PathLike) -> Scene:
    """Read a scene file; any problem is a SceneError whose one-line message starts with the file name."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise SceneError(f"{p}: cannot read scene file ({e.strerror or e})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SceneError(f"{p}: not a valid TOML file ({e})") from None
    try:
        return scene_from_dict(data, source=str(p.resolve()))
    except SceneError as e:
        raise SceneError(f"{p}: {e}") from None


def dumps_scene(scene: Scene) -> str:
    """The scene as TOML text."""
    import tomli_w

    return tomli_w.dumps(scene_to_dict(scene))


def save_scene(scene: Scene, path: str | os.PathLike) -> None:
    """Write atomically: a failed write keeps the old file."""
    atomic_write_bytes(path, dumps_scene(scene).encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename over it."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent if str(p.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, _new_file_mode(p))
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _new_file_mode(p: Path) -> int:
    """The mode a plain open() would give: the old file's, else 0666 less the umask (mkstemp makes files 0600)."""
    try:
        return p.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
