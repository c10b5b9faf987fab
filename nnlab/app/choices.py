"""The choices a scene field accepts, for UI combos: read from the scene's own field rules (the `choices` each spec
field declares, which scene validation uses), so a combo never lists a hard-coded copy that can drift from what a
scene file accepts."""
from __future__ import annotations

from dataclasses import fields
from typing import Any


def field_choices(spec: type, name: str) -> tuple[Any, ...]:
    """The allowed values of field `name` of the spec dataclass `spec` (e.g. TrainSpec, "optimizer"), in order."""
    for f in fields(spec):
        if f.name == name:
            if "choices" not in f.metadata:
                raise KeyError(f"{spec.__name__}.{name} declares no choices")
            return tuple(f.metadata["choices"])
    raise KeyError(f"{spec.__name__} has no field {name!r}")
