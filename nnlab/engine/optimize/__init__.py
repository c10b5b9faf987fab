"""Optimizers over a ReLU network on a box. Importing this package registers every method in METHODS."""
from nnlab.engine.optimize.base import (  # noqa: F401
    METHODS, BoundProgress, Incumbent, OptResult, PointsVisited, WalkPath, run_method, run_to_result,
)
from nnlab.engine.optimize import methods as _methods  # noqa: F401  (registers the methods)
