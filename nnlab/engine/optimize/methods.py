"""Imports every optimizer module so that each registers itself in METHODS (display order: base.METHOD_ORDER, not import
order)."""
from nnlab.engine.optimize.exact import auto, regions, milp, bab  # noqa: F401
from nnlab.engine.optimize.exact import relu_bab  # noqa: F401
from nnlab.engine.optimize.heuristics import sampling, walk, gradient, baselines  # noqa: F401
