"""What every model-file reader shares: its error, its warning, and the layer stack a file holds before one
output (or one linear objective of the outputs) is chosen.

A file may have several outputs (ACAS Xu has 5); NetSnapshot has one. `LayerStack.select` folds the choice into the
last layer: output K keeps row K, an objective c gives the row c^T W and bias c^T b, each entry the correctly
rounded float64 sum (math.fsum), so the snapshot computes c^T y of the file's network.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nnlab.errors import NnlabError

FORMAT = 1  # the layout of nnlab's own .pt and .npz files (metadata "format")
Layers = list[tuple[np.ndarray, np.ndarray]]  # [(W0, b0), (W1, b1), ...], torch layout (out, in)


class ModelFileError(NnlabError):
    """A model file cannot be read or written; one line naming the file."""


class ModelFileWarning(UserWarning):
    """A model file was read with an assumption (a bare state_dict records no activation: ReLU assumed)."""


def recorded_activation(name: str, act: str, slope: object = None) -> str:
    """The activation an nnlab file records: its name, and for a leaky ReLU the "negative_slope" beside it
    ("leaky_relu" with slope 0.2 is leaky_relu:0.2); a slope that contradicts the name, or an unknown name, is a
    ModelFileError naming the file (`name`)."""
    from nnlab.engine.model import activations

    if not activations.known(act):
        raise ModelFileError(f"{name}: activation {act!r} is not supported; allowed: "
                             f"{', '.join(activations.names())} or leaky_relu:SLOPE")
    entry = activations.get(act)
    if slope is None:
        return act
    try:
        a = float(slope)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ModelFileError(f"{name}: the negative slope {slope!r} is not a number") from None
    if not (entry.piecewise_linear and entry.slope):
        raise ModelFileError(f"{name}: the file records a negative slope for activation {act}, which has none")
    if not 0.0 < a < 1.0:
        raise ModelFileError(f"{name}: {act} with negative slope {a:g}: nnlab reads leaky ReLU slopes in (0, 1)")
    derived = activations.leaky(a).name
    if act != "leaky_relu" and derived != act:
        raise ModelFileError(f"{name}: the file records activation {act} with negative slope {a:g}")
    return derived


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


@dataclass(frozen=True, eq=False)
class LayerStack:
    """Layers read from a file; the last one may have several outputs. `activation` is None when the file names
    none (a bare state_dict) or has no hidden layer; `output_shape` is the graph's output shape (at batch 1)."""

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    activation: str | None
    output_shape: tuple[int, ...] = ()

    @property
    def n_outputs(self) -> int:
        return int(np.asarray(self.layers[-1][0]).shape[0]) if self.layers else 0

    def select(self, name: str, output: int | None = None, objective: Sequence[float] | None = None) -> Layers:
        """The layers of one output: `output` K (0-based) or the linear `objective` c^T y; a single-output file
        needs neither. Errors name the file (`name`)."""
        layers = list(self.layers)
        if not layers:
            raise ModelFileError(f"{name}: no affine layer found")
        w, b = (np.asarray(a) for a in layers[-1])
        if w.ndim != 2 or w.dtype.kind not in "fiu" or b.dtype.kind not in "fiu":
            return layers  # the snapshot's own checks report shapes and values
        w, b = w.astype(np.float64), b.astype(np.float64)
        k = w.shape[0]
        if output is not None and objective is not None:
            raise ModelFileError(f"{name}: choose an output or an objective, not both")
        if output is not None:
            if not (isinstance(output, (int, np.integer)) and 0 <= output < k):
                raise ModelFileError(f"{name}: output {output} does not exist; the network has {k} "
                                     f"output{'s' if k != 1 else ''} (0 to {k - 1})")
            return [*layers[:-1], (w[output:output + 1], b.reshape(-1)[output:output + 1])]
        if objective is not None:
            c = np.asarray(objective, dtype=np.float64).reshape(-1)
            if c.size != k:
                raise ModelFileError(f"{name}: the objective has {c.size} coefficients but the network has {k} outputs")
            if not np.all(np.isfinite(c)):
                raise ModelFileError(f"{name}: the objective's coefficients must be finite numbers")
            bv = b.reshape(-1)
            row = np.array([[math.fsum(c * w[:, j]) for j in range(w.shape[1])]])
            bias = np.array([math.fsum(c * bv)]) if bv.size == k else bv
            return [*layers[:-1], (row, bias)]
        if k != 1:
            raise ModelFileError(f"{name}: the network has {k} outputs; choose one with --output K (output=K) or "
                                 "a linear objective with --objective c0,c1,... (objective=[...])")
        return layers
