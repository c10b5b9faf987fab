"""The files nnlab ships: preset scenes, studies, icons and styles (the repository's resources/ folder, installed
as the package data `nnlab._resources`), and the rule that lets a preset's name stand wherever a scene path does.

Found through importlib.resources, so an editable install, a wheel and a source checkout agree.
"""
from __future__ import annotations

import importlib.resources
import os
from pathlib import Path


def root() -> Path:
    """The folder of the bundled files (installed packages are plain folders on disk; zip imports are not supported)."""
    return Path(str(importlib.resources.files("nnlab._resources")))


def resource(*parts: str) -> Path:
    """A bundled file, e.g. resource("styles", "dark.qss")."""
    return root().joinpath(*parts)


def presets() -> list[Path]:
    """The preset scenes, sorted by file name."""
    return sorted(resource("scenes").glob("*.toml"))


def preset_names() -> list[str]:
    return [p.stem for p in presets()]


def _named(arg: str | os.PathLike, folder: str) -> Path:
    p = Path(arg)
    if p.exists() or p.parent != Path(".") or p.suffix not in ("", ".toml"):
        return p  # a real path (or one the caller will report as missing)
    bundled = resource(folder, p.stem + ".toml")
    return bundled if bundled.is_file() else p


def scene_path(arg: str | os.PathLike) -> Path:
    """`arg` itself when it names an existing file or a path; else the bundled preset of that name
    ("himmelblau" or "himmelblau.toml"); else `arg` unchanged, for the caller to report."""
    return _named(arg, "scenes")


def study_path(arg: str | os.PathLike) -> Path:
    """As scene_path, for the bundled studies ("conjecture")."""
    return _named(arg, "studies")
