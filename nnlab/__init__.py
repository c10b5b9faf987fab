"""nnlab: a desktop lab for the landscapes of small neural networks and optimization over trained ReLU networks.

`nnlab.load_network`, `nnlab.optimize`, `nnlab.optimize_steps` and `nnlab.check_property` (nnlab.api) are imported
on first use, so `import nnlab` stays light (no torch, no solvers)."""

__version__ = "0.1.0"

_API = ("load_network", "optimize", "optimize_steps", "check_property")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from nnlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'nnlab' has no attribute {name!r}")
