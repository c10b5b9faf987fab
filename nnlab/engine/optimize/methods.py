"""Imports every optimizer module so that each registers itself in METHODS (display order: base.METHOD_ORDER, not import
order)."""
from nnlab.engine.optimize.exact import auto, regions, milp, bab  # noqa: F401
from nnlab.engine.optimize.exact import relu_bab  # noqa: F401
from nnlab.engine.optimize.heuristics import sampling, walk, gradient, baselines  # noqa: F401

# Methods that never import torch (numpy, scipy and HiGHS only); `exact` on a 2-input net runs `regions`.
TORCH_FREE = frozenset({"regions", "milp", "sampling", "walk", "random", "lhs", "grid"})


def may_import_torch(method: str, input_dim: int) -> bool:
    """Whether running `method` on a net of `input_dim` inputs may import torch: an export imports it beforehand,
    with interrupts deferred, and only then (torch's import is 1.4 s of a 3 s optimizer animation)."""
    if method == "exact":
        return input_dim != 2
    return method not in TORCH_FREE
