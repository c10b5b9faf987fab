"""Packaging glue that pyproject.toml cannot express: the repository's top-level resources/ folder ships inside the
package as `nnlab._resources` (presets, studies, icons, styles), so a plain `pip install .` finds them through
importlib.resources. Everything else is declared in pyproject.toml."""
from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["nnlab", "nnlab.*"]), "nnlab._resources"],
    package_dir={"nnlab._resources": "resources"},
    package_data={"nnlab._resources": ["**/*.toml", "**/*.svg", "**/*.qss", "**/*.png", "**/*.npz", "**/*.json"]},
)
