"""The network drawn as a graph, the maths behind it: which units a diagram shows, its edges, and per-unit facts.

TensorFlow Playground draws every unit of a small net; a 100-unit layer drawn that way is a grey smear. Here each
layer shows at most `max_shown` units, the strongest by the product of the norms of their incoming and outgoing
weights (a unit matters when it both receives and passes on signal, the magnitude criterion of Han et al. 2015,
"Learning both weights and connections", taken per unit), plus one "+n more" node standing for the rest. An edge
between two unit nodes is one weight; an edge touching a "+n more" node is a bundle: its colour is the sign of the
mean of the weights it stands for and its width their root mean square. The activation pattern share of a hidden
unit is the fraction of a seeded uniform sample of the domain where its pre-activation is positive (the unit is
"on": for ReLU it passes its input, otherwise it outputs zero or leaks).
The Qt widget (nnlab.ui.network_diagram) only draws what `build_diagram` returns.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from nnlab.engine.model.network import NetSnapshot
from nnlab.errors import UsageError

MAX_SHOWN = 10  # units drawn per layer before the rest are summarised (a 2-100-100-1 net: 25 nodes)
SHARE_SAMPLES = 512  # points of the domain sample behind the activation pattern shares
MAX_SHARE_SAMPLES = 100_000
SHARE_BLOCK = 16


@dataclass(frozen=True)
class Node:
    """One drawn node: a unit (members == (unit,)) or a "+n more" summary (unit None) of the layer `column`
    (0: the inputs, 1..L: hidden layers, L + 1: the output)."""

    column: int
    unit: int | None
    members: tuple[int, ...]

    @property
    def summary(self) -> bool:
        return self.unit is None


@dataclass(frozen=True)
class Edge:
    """Weights from node `src` (column c) to node `dst` (column c + 1), as indices into Diagram.nodes."""

    src: int
    dst: int
    weight: float  # the weight; a bundle: the mean of its weights (its sign is the edge's colour)
    magnitude: float  # |weight|; a bundle: the root mean square of its weights (the edge's width)
    count: int  # weights it stands for


@dataclass(frozen=True)
class Diagram:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    widths: tuple[int, ...]  # units of every column, inputs and output included
    max_magnitude: float  # the largest edge magnitude (widths are drawn relative to it; 0 for an all-zero net)

    def index(self, column: int, unit: int) -> int | None:
        """The node showing `unit` of `column` (its own node, or the "+n more" node holding it); None if absent."""
        for i, n in enumerate(self.nodes):
            if n.column == column and unit in n.members:
                return i
        return None

    def column_nodes(self, column: int) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n.column == column]


@dataclass(frozen=True)
class UnitInfo:
    """What the hover text says about a unit: its bias, incoming weights summarised, and its active share."""

    column: int
    unit: int
    bias: float
    n_in: int
    strongest: tuple[tuple[int, float], ...]  # (source unit, weight), largest |weight| first
    norm: float  # Euclidean norm of the incoming weights
    mean_abs: float  # mean |incoming weight|
    positive: int  # incoming weights > 0
    share: float | None  # activation pattern share (hidden units), None for the inputs and the output


def unit_strengths(net: NetSnapshot) -> list[np.ndarray]:
    """Per column, how much each unit carries: |incoming row| x |outgoing column| for hidden units, the outgoing
    norm for inputs, 1 for the output."""
    ws = net.weights
    out = [np.linalg.norm(ws[0], axis=0)]
    for k in range(len(ws) - 1):
        out.append(np.linalg.norm(ws[k], axis=1) * np.linalg.norm(ws[k + 1], axis=0))
    out.append(np.ones(ws[-1].shape[0]))
    return out


def choose_units(strength: np.ndarray, max_shown: int, keep: Sequence[int] = ()) -> list[int]:
    """The `max_shown` strongest units (ties: the lower index), plus the units in `keep`, in index order."""
    n = len(strength)
    if n <= max_shown:
        return list(range(n))
    order = np.lexsort((np.arange(n), -np.asarray(strength, dtype=np.float64)))  # strongest first, then index
    chosen = set(int(i) for i in order[:max_shown])
    chosen.update(int(k) for k in keep if 0 <= k < n)
    return sorted(chosen)


def build_diagram(net: NetSnapshot, max_shown: int = MAX_SHOWN, keep: Mapping[int, int] | None = None) -> Diagram:
    """The nodes and edges a diagram of `net` draws; `keep` {column: unit} forces a unit in (the one on screen).

    Every column has at most max_shown + 2 nodes (the strongest, a kept one, "+n more")."""
    if max_shown < 1:
        raise UsageError(f"a network diagram must show at least 1 unit per layer, got {max_shown}")
    keep = dict(keep or {})
    widths = (net.input_dim, *net.widths, 1)
    nodes: list[Node] = []
    for col, s in enumerate(unit_strengths(net)):
        shown = choose_units(s, max_shown, [keep[col]] if col in keep else [])
        nodes.extend(Node(col, u, (u,)) for u in shown)
        rest = tuple(sorted(set(range(widths[col])) - set(shown)))
        if rest:
            nodes.append(Node(col, None, rest))
    edges: list[Edge] = []
    for c, w in enumerate(net.weights):
        srcs = [i for i, n in enumerate(nodes) if n.column == c]
        dsts = [i for i, n in enumerate(nodes) if n.column == c + 1]
        ps, pd = _members(nodes, srcs, w.shape[1]), _members(nodes, dsts, w.shape[0])
        count = np.outer(pd.sum(axis=1), ps.sum(axis=1))  # weights behind each (dst, src) edge
        mean = (pd @ w @ ps.T) / count  # block sums by two indicator products, one pass per layer
        rms = np.sqrt(np.maximum(pd @ (w * w) @ ps.T / count, 0.0))
        for a, j in enumerate(dsts):
            for b, i in enumerate(srcs):
                edges.append(Edge(i, j, float(mean[a, b]), float(rms[a, b]), int(count[a, b])))
    top = max((e.magnitude for e in edges), default=0.0)
    return Diagram(tuple(nodes), tuple(edges), tuple(int(x) for x in widths), top)


def _members(nodes: Sequence[Node], idxs: Sequence[int], width: int) -> np.ndarray:
    """(len(idxs), width) 0/1 matrix: row r marks the units node idxs[r] stands for."""
    m = np.zeros((len(idxs), width))
    for r, i in enumerate(idxs):
        m[r, list(nodes[i].members)] = 1.0
    return m


def domain_sample(lower: Sequence[float], upper: Sequence[float], n: int = SHARE_SAMPLES, seed: int = 0) -> np.ndarray:
    """A seeded uniform sample (n, dim) of the box [lower, upper]: the same points for every frame of a run."""
    if not 1 <= n <= MAX_SHARE_SAMPLES:
        raise UsageError(f"the activation share sample needs 1 to {MAX_SHARE_SAMPLES} points, got {n}")
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    return lo + (hi - lo) * np.random.default_rng(seed).random((n, len(lo)))


def activation_shares(net: NetSnapshot, points: np.ndarray) -> list[np.ndarray]:
    """Per hidden layer, the fraction of `points` where each unit's pre-activation is positive (its pattern bit)."""
    if points.ndim != 2 or points.shape[1] != net.input_dim:
        raise UsageError(f"the sample has shape {points.shape}; the network takes {net.input_dim} inputs")
    # in blocks of SHARE_BLOCK rows: products this small stay on one BLAS thread. In the app (GUI thread, next to
    # Mesa's render threads and the trainer) OpenBLAS's threads made one 512-point pass 19x slower (76 vs 4 ms).
    counts = [np.zeros(w) for w in net.widths]
    for k in range(0, len(points), SHARE_BLOCK):
        for c, bits in zip(counts, net.pattern(points[k:k + SHARE_BLOCK])):
            c += bits.sum(axis=0)
    return [c / len(points) for c in counts]


def unit_info(net: NetSnapshot, column: int, unit: int, shares: Sequence[np.ndarray] | None = None,
              top: int = 3) -> UnitInfo:
    """A unit's incoming weights summarised (the `top` largest by magnitude) and its activation share."""
    widths = (net.input_dim, *net.widths, 1)
    if not 0 <= column < len(widths) or not 0 <= unit < widths[column]:
        raise UsageError(f"no unit {unit} in layer {column} of a {'-'.join(map(str, widths))} network")
    if column == 0:
        return UnitInfo(0, unit, 0.0, 0, (), 0.0, 0.0, 0, None)
    w = net.weights[column - 1][unit]
    order = np.lexsort((np.arange(len(w)), -np.abs(w)))[:top]
    share = None
    if shares is not None and column <= len(net.widths):
        share = float(shares[column - 1][unit])
    return UnitInfo(column, unit, float(net.biases[column - 1][unit]), len(w),
                    tuple((int(i), float(w[i])) for i in order), float(np.linalg.norm(w)), float(np.mean(np.abs(w))),
                    int((w > 0).sum()), share)
