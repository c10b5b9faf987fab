"""Imports every optimizer module so that each registers itself in METHODS (order = display order)."""
import importlib

for _name in ("exact", "milp", "regions", "regionlp", "sampling", "walk", "gradient", "baselines"):
    try:
        importlib.import_module(f"nnlab.engine.optimize.{_name}")
    except ModuleNotFoundError as _e:  # a module not written yet; see the optimizer issue
        if _e.name != f"nnlab.engine.optimize.{_name}":
            raise
