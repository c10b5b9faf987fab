"""Packaging: the wheel carries the bundled files, preset names resolve, `python -m nnlab` runs, Python >= 3.11."""
from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from nnlab import bundled

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_presets_studies_icons_and_styles(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("nnlab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for p in ROOT.joinpath("resources").rglob("*"):
        if p.is_file() and p.suffix in (".toml", ".svg", ".qss", ".npz", ".json", ".png"):
            assert "nnlab/_resources/" + p.relative_to(ROOT / "resources").as_posix() in names
    assert "nnlab/_resources/scenes/default.toml" in names and "nnlab/bundled.py" in names
    # installed as a plain (non-editable) package, away from the checkout, it still finds its presets
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    code = "import nnlab.bundled as b; print(b.root()); print(len(b.presets()))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                       env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    where, count = r.stdout.split()
    assert Path(where).is_relative_to(target) and int(count) == len(bundled.presets())


def test_preset_names_resolve_to_bundled_scenes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert bundled.scene_path("himmelblau") == bundled.resource("scenes", "himmelblau.toml")
    assert bundled.scene_path("himmelblau.toml").is_file()
    assert bundled.study_path("conjecture").is_file()
    assert bundled.scene_path("no_such_preset") == Path("no_such_preset")
    (tmp_path / "himmelblau.toml").write_text("# the user's own file wins\n")
    assert bundled.scene_path("himmelblau.toml") == Path("himmelblau.toml")
    assert "default" in bundled.preset_names() and len(bundled.presets()) >= 9


def test_python_dash_m_nnlab_runs(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "nnlab", "optimize", "--help"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 0 and "--model" in r.stdout


def test_declared_python_version_is_one_that_has_tomllib() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"].replace(" ", "") == ">=3.11"
