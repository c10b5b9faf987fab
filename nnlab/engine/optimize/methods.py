"""Imports every optimizer module so that each registers itself in METHODS (import order = display order)."""
from nnlab.engine.optimize import exact, regions, milp, bab, sampling, walk, gradient, baselines  # noqa: F401
