"""The bundled preset scenes (resources/scenes/*.toml) as (path, title, description), for the Gallery menu."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nnlab.engine.model.scene import load_scene
from nnlab.errors import NnlabError
from nnlab.ui.theme import RESOURCES

SCENES = RESOURCES / "scenes"
ORDER = ("default", "xavier", "himmelblau", "compare", "he_vs_xavier", "torch_default", "deep_narrow", "rastrigin")


@dataclass(frozen=True)
class Preset:
    path: Path
    title: str
    description: str


def list_presets(folder: Path = SCENES) -> list[Preset]:
    """Valid preset scenes, the well-known ones first; broken files are skipped (the gallery must open)."""
    files = sorted(folder.glob("*.toml"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))
    out = []
    for p in files:
        try:
            s = load_scene(p)
        except (NnlabError, OSError):
            continue
        out.append(Preset(p, s.title, s.description))
    return out


def default_scene_path() -> Path:
    return SCENES / "default.toml"
