"""nnlab: a desktop lab for the landscapes of small neural networks and optimization over trained ReLU networks."""

__version__ = "0.1.0"
