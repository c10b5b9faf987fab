"""`relu_bab`: exact optimum by branch and bound on the network's unstable ReLUs, bounded by alpha-beta-CROWN.

Why: input splitting (`bab`) needs a number of boxes exponential in the number of inputs; past ~5 inputs the
verifiers that win VNN-COMP (alpha-beta-CROWN; Wang et al. 2021) split ReLUs instead: a node fixes the signs of some
neurons (g >= 0 or g <= 0), its bound comes from formulation/alpha_beta.py (slopes and split multipliers optimised
per node, warm-started from the parent), and the best-bound node is split on the unstable neuron with the best score:
- "babsr": BaBSR's intercept score (Bunel et al. 2020): max(lam, 0) x the upper relaxation's intercept -L U / (U - L),
  the slack that splitting the neuron removes from the bound;
- "fsb" (filtered smart branching, De Palma et al. 2021): the `fsb_k` best by that score are tried, each child bounded
  cheaply (parent's slopes, no optimisation), and the neuron whose worse child is lowest is split;
- "input": the node's box is halved along the input dimension with the best score (|A_i| width_i plus the first
  layer's relaxation slack it removes, as crown.Crown._score), the hidden bounds re-bounded on the halves;
- "hybrid": per node, the input split when its score beats every neuron's (both estimate the bound slack removed),
  else the fsb neuron. Nodes then carry their own boxes.
Hull: with `hull` (default) the root is bounded once more with the first layer's input-space hull fitted
(alpha_beta.set_hull); kept when it removes >= HULL_MIN_GAIN of the root's gap, every node then mixes it with the
chords (a theta per neuron, optimised with the slopes).
Leaves: a node with at most `lp_close` unstable neurons is solved exactly by the region LPs of its 2^u sign patterns
(HiGHS; their union is the node's domain). A node whose split bounds cross (L > U) is empty.
Incumbents: warm start (corners, samples, projected gradient from the 64 best) and a region-LP walk at the start,
then every node's bound-maximising corner and the region-LP vertices of its leaves, walks from each improvement.
Soundness: every node bound is a float64 bound with its rounding margin (alpha_beta.py); the reported bound is moved
outward once more by certify.float_margin, and the value is the forward pass at the returned point.
A minimum is the maximum of the negated network.
"""
from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass
from typing import Generator

import numpy as np

from nnlab.errors import NnlabError

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.exact.warmstart import LateHeuristics
from nnlab.engine.optimize.exact.search import BestFirst, negated
from nnlab.engine.optimize.base import METHODS, BoundProgress, Event, Incumbent, OptResult, check_box, finish
from nnlab.engine.optimize.certify import OPTIMAL_GAP, float_margin, is_optimal, outward


@dataclass(frozen=True)
class ReluBabParams:
    mip_gap: float = OPTIMAL_GAP  # stop when (bound - incumbent) / max(1, |incumbent|) <= mip_gap
    batch: int = 256  # nodes split per step (2x as many bounded)
    branching: str = "fsb"  # "babsr" | "fsb" (ReLU splits) | "input" (input splits) | "hybrid" (fsb over both)
    fsb_k: int = 3  # candidates per node for fsb
    root_iters: int = 50  # alpha-CROWN steps at the root (intermediate layers and output)
    iters: int = 8  # alpha-beta steps per batch of children
    lr_alpha: float = 0.1
    lr_beta: float = 0.05
    lp_close: int = 5  # solve a node with at most this many unstable ReLUs by its 2^u region LPs (0: only when
    # none is left; also 0 for nets with n0 x sum(widths) > LP_CELLS, where an LP costs more than further splits)
    dtype: str = "float64"  # slopes optimised in "float64" | "float32" (bounds always re-checked in float64)
    warm_start: bool = True
    max_bytes: int = 400_000_000  # memory cap of the open nodes: past it new nodes are stored without their slopes
    # and multipliers (their children start from CROWN's slopes again)
    threads: int = 1
    hull: bool = True  # first layer's input-space hull (Anderson et al. 2020) in the output bound: fitted at the
    # root, then mixed per node and neuron with the chord (alpha_beta.AlphaBetaCrown.set_hull)


BRANCHINGS = ("babsr", "fsb", "input", "hybrid")
# the root's fitted hull is kept when it removes at least this share of the root's gap (bound - incumbent): below
# it (measured: 0.0 of 46 on the 10-D Styblinski-Tang net) its per-node cost (~20 % more per node) buys nothing
HULL_MIN_GAIN = 0.02
LP_CELLS = 20_000


def _check(p: ReluBabParams) -> None:
    if not 0 <= p.mip_gap < 1:
        raise NnlabError(f"mip_gap {p.mip_gap!r} must be in [0, 1)")
    if p.batch < 1 or p.fsb_k < 1 or p.iters < 0 or p.root_iters < 0 or not 0 <= p.lp_close <= 10:
        raise NnlabError("relu_bab needs batch >= 1, fsb_k >= 1, iters >= 0, root_iters >= 0, 0 <= lp_close <= 10")
    if p.branching not in BRANCHINGS:
        raise NnlabError(f"branching {p.branching!r} is not allowed; expected {', '.join(BRANCHINGS)}")
    if p.dtype not in ("float64", "float32"):
        raise NnlabError(f"dtype {p.dtype!r} is not allowed; expected float64 or float32")
    if p.max_bytes < 0 or p.threads < 0:
        raise NnlabError("relu_bab needs max_bytes >= 0 and threads >= 0")


class _Search(BestFirst):
    """One search on the maximised network `inet`. A node is flat float64 arrays over all hidden neurons: L, U
    (split applied), split (+1 / -1 / 0), alpha, beta, plus its bound and chosen branching neuron."""

    def __init__(self, inet: NetSnapshot, lo: np.ndarray, hi: np.ndarray, p: ReluBabParams) -> None:
        from nnlab.engine.optimize.formulation.alpha_beta import AlphaBetaCrown
        from nnlab.engine.optimize.formulation.regionlp import RegionLP

        super().__init__(inet, p.mip_gap)
        self.lo, self.hi, self.p = lo, hi, p
        self.ab = AlphaBetaCrown(inet, lo, hi, p.dtype, hull=p.hull)
        self.lp = RegionLP(inet, lo, hi)
        self.widths = list(inet.widths)
        self.offs = np.concatenate([[0], np.cumsum(self.widths)]).astype(int)
        self.layer_of = np.repeat(np.arange(len(self.widths)), self.widths)
        self.n_nodes = self.n_lp = self.n_leaf = self.n_empty = 0
        self.history: list[tuple[float, float, float]] = []  # (seconds, bound, incumbent) in the max sense
        self.input_split = p.branching in ("input", "hybrid")
        self.stored = 0  # bytes held by open nodes
        self.seeds: np.ndarray | None = None
        self.hull_gain: float | None = None  # root bound removed by the fitted hull (None: not fitted)
        self.per_node = 0.0  # measured seconds per bounded child (sizes the last batches to the time left)
        # region LPs are dense n0 x sum(widths): past LP_CELLS entries one costs ~0.1 s (784-50-50-1), more than
        # bounding the children of further splits, so there only nodes with every ReLU fixed are closed by an LP
        self.lp_close = p.lp_close if inet.input_dim * sum(self.widths) <= LP_CELLS else 0

    # ---- incumbents ----
    def gradient_polish(self, deadline: float | None = None) -> None:
        """Projected gradient steps from the corners of the latest batch's most promising nodes."""
        from nnlab.engine.optimize.exact.warmstart import polish

        if self.seeds is not None and len(self.seeds):
            x, _ = polish(self.inet, self.seeds, self.lo, self.hi, "max", 30, deadline)
            self.offer(x[None])
            self.seeds = None

    # ---- tensors <-> flat arrays ----
    def _split_layers(self, flat: np.ndarray) -> list:
        t = self.ab.t
        return [t.from_numpy(np.ascontiguousarray(flat[:, a:b])) for a, b in zip(self.offs[:-1], self.offs[1:])]

    @staticmethod
    def _flat(ts: list) -> np.ndarray:
        return np.concatenate([x.detach().numpy() for x in ts], axis=1)

    # ---- bounding ----
    def root(self, deadline: float | None = None) -> Generator[None, None, None]:
        """Bound the root: CROWN first (one pass; the root node is queued with that bound at once, so a search
        stopped from here on has a sound bound), then alpha-CROWN on the intermediate rows and the output, whose
        steps stop at `deadline`; the root node is then re-queued with the better bound. Yields after every slope
        step (the caller reports progress and may stop by closing this generator)."""
        t = self.ab.t
        Ls, Us = self.ab.root(0)
        sp = [t.zeros_like(L) for L in Ls]
        nb = self.ab.output(Ls, Us, sp, None, None, 0)
        self.root_bound = self.crown_bound = float(nb.ub[0])
        self.root_unstable = int(sum(int(((L < 0) & (U > 0)).sum()) for L, U in zip(Ls, Us)))
        zero = np.zeros((1, self.offs[-1]))
        self._add(self._flat(Ls), self._flat(Us), zero, self.lo[None], self.hi[None], nb, np.array([np.inf]),
                  deadline)
        yield
        if self.p.root_iters == 0 or len(self.heap) != 1 or (deadline is not None and time.perf_counter() > deadline):
            return  # closed already (within the gap, or an LP leaf) or no time left: keep CROWN's root
        Ls, Us = yield from self.ab.iter_root(self.p.root_iters, self.p.lr_alpha, deadline)
        self.root_unstable = int(sum(int(((L < 0) & (U > 0)).sum()) for L, U in zip(Ls, Us)))
        nb = yield from self.ab.iter_output(Ls, Us, sp, None, None, self.p.root_iters, self.p.lr_alpha,
                                            self.p.lr_beta, deadline=deadline)
        if self.p.hull and (deadline is None or time.perf_counter() < deadline):
            nbh = yield from self.ab.iter_output(Ls, Us, sp, nb.alpha, None, self.p.root_iters, self.p.lr_alpha,
                                                 self.p.lr_beta, deadline=deadline, fit_hull=True)
            gain, gap = float(nb.ub[0] - nbh.ub[0]), float(nb.ub[0]) - self.value
            self.hull_gain = gain
            if gain > 0 and gain >= HULL_MIN_GAIN * gap:  # fixed for every node (theta = 0: as fitted here)
                self.ab.set_hull(nbh.hull)
                nb = nbh
                nb.hull = t.zeros_like(Ls[0])
        crown = self._pop()
        self.n_nodes -= 1  # the same root, bounded again
        self._add(self._flat(Ls), self._flat(Us), zero, self.lo[None], self.hi[None], nb, np.array([-crown[0]]),
                  deadline)
        self.root_bound = min(self.crown_bound, float(nb.ub[0]))

    def _scores(self, L: np.ndarray, U: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """BaBSR-style intercept score per neuron (-inf where not splittable)."""
        unst = (L < 0) & (U > 0)
        d = np.where(unst, U - L, 1.0)
        s = np.maximum(lam, 0.0) * (-L * U / d) + 1e-4 * np.abs(lam) * np.minimum(-L, U)
        return np.where(unst, s, -np.inf)

    def _input_scores(self, A: np.ndarray, L0: np.ndarray, U0: np.ndarray, lam0: np.ndarray, width: np.ndarray
                      ) -> np.ndarray:
        """Per input dimension (B, n0): |A_i| width_i plus the share of the first layer's relaxation slack that
        halving dimension i removes (crown.Crown._score); -inf for a dimension of zero width."""
        unst = (L0 < 0) & (U0 > 0)
        d = np.where(unst, U0 - L0, 1.0)
        gap = np.where(lam0 > 0, -L0 * U0 / d, np.minimum(-L0, U0))
        wgt = np.where(unst, np.abs(lam0) * gap / d, 0.0)
        s = np.abs(A) * width + (wgt @ np.abs(self.inet.weights[0])) * width
        return np.where(width > 0, s, -np.inf)

    def _add(self, L: np.ndarray, U: np.ndarray, split: np.ndarray, lo: np.ndarray, hi: np.ndarray, nb,
             pub: np.ndarray, deadline: float | None = None) -> None:
        """Queue the bounded nodes that stay open; close the others (bound, LP leaves; past `deadline` a leaf is
        queued open instead of solved: a batch can hold hundreds of leaves of 2^u LPs each). Batched: the closing
        test, scores and memory count over the whole batch at once; only LP leaves and heap pushes go one by one."""
        ub = np.minimum(nb.ub.numpy(), pub)  # a child's relaxation can be looser than its parent's
        self.n_nodes += L.shape[0]
        corners = nb.corner.numpy()
        self.offer(corners)
        self.seeds = corners[np.argsort(-ub)[:16]]  # gradient polish starts: corners of the most promising nodes
        n_unst = ((L < 0) & (U > 0)).sum(axis=1)
        self._close(ub, ub > self.value + self.tol())
        keep = ub > self.value + self.tol()
        for i in np.flatnonzero(keep & (n_unst <= self.lp_close)):
            if deadline is not None and time.perf_counter() >= deadline:
                break
            if ub[i] <= self.value + self.tol():  # an earlier leaf's vertex raised the incumbent
                continue
            exact = self._lp_leaf(L[i], U[i], lo[i], hi[i], deadline)
            if exact is not None:
                self.n_leaf += 1
                self.closed = max(self.closed, min(float(ub[i]), exact))
                keep[i] = False
        still = ub > self.value + self.tol()  # the leaves' vertices may have raised the incumbent
        self._close(ub, still | ~keep)
        rows = np.flatnonzero(keep & still)
        if rows.size == 0:
            return
        lam = self._flat(nb.lams)[rows]
        L, U, split, lo, hi, ub = L[rows], U[rows], split[rows].astype(np.int8), lo[rows], hi[rows], ub[rows]
        alpha = self._flat(nb.alpha)[rows].astype(np.float32)
        beta = self._flat(nb.beta)[rows].astype(np.float32)
        hull = None if nb.hull is None else nb.hull.numpy()[rows].astype(np.float32)  # theta (fixed hull)
        scores = self._scores(L, U, lam).astype(np.float32)
        isc = None
        if self.input_split:
            w0 = self.widths[0]
            isc = self._input_scores(nb.A.numpy()[rows], L[:, :w0], U[:, :w0], lam[:, :w0], hi - lo
                                     ).astype(np.float32)
        small = L[0].nbytes + U[0].nbytes + split[0].nbytes + scores[0].nbytes + lo[0].nbytes + hi[0].nbytes + (
            isc[0].nbytes if isc is not None else 0)
        full = small + alpha[0].nbytes + beta[0].nbytes + (0 if hull is None else hull[0].nbytes)
        # copies: a row view would keep its whole batch's array alive as long as the node lives
        for j in range(rows.size):
            keep_ab = self.stored < self.p.max_bytes
            nbytes = full if keep_ab else small
            nd = (-float(ub[j]), next(self.ids), L[j].copy(), U[j].copy(), split[j].copy(),
                  alpha[j].copy() if keep_ab else None, beta[j].copy() if keep_ab else None, scores[j].copy(),
                  lo[j].copy(), hi[j].copy(), isc[j].copy() if isc is not None else None, nbytes,
                  hull[j].copy() if keep_ab and hull is not None else None)
            self.stored += nbytes
            heapq.heappush(self.heap, nd)

    def _close(self, ub: np.ndarray, open_: np.ndarray) -> None:
        """The closed bound takes the largest bound of the nodes not open."""
        if not open_.all():
            self.closed = max(self.closed, float(ub[~open_].max()))

    def _pop(self) -> tuple:
        nd = heapq.heappop(self.heap)
        self.stored -= nd[11]
        return nd

    def _lp_leaf(self, L: np.ndarray, U: np.ndarray, lo: np.ndarray, hi: np.ndarray, deadline: float | None = None
                 ) -> float | None:
        """Exact max over the node's domain: the best region LP over the sign patterns of its unstable neurons
        (their union is the domain; plus 1e-9 relative for the LP solver's tolerance); None when `deadline` passes
        before the last pattern (the node stays open)."""
        base = L >= 0
        idx = np.flatnonzero((L < 0) & (U > 0))
        best = -np.inf
        self.lp.lower, self.lp.upper = lo, hi  # RegionLP reads its box from these attributes
        try:
            for bits in itertools.product((False, True), repeat=idx.size):
                if deadline is not None and time.perf_counter() > deadline:
                    return None
                pat = base.copy()
                pat[idx] = bits
                r = self.lp.solve([pat[a:b] for a, b in zip(self.offs[:-1], self.offs[1:])], "max")
                self.n_lp += 1
                if r is not None:
                    self.offer(r[0][None])
                    best = max(best, r[1])
        finally:
            self.lp.lower, self.lp.upper = self.lo, self.hi
        return best + 1e-9 * (1.0 + abs(best)) if np.isfinite(best) else best

    def _stack(self, nodes: list) -> dict:
        """The popped nodes' arrays stacked once per step (P rows each): L, U, sp, al, be (float64), lo, hi, pub
        (their bounds), scores, isc (input scores or None)."""
        L, U = np.stack([nd[2] for nd in nodes]), np.stack([nd[3] for nd in nodes])
        has = [nd[5] is not None for nd in nodes]
        if all(has):
            al = np.stack([nd[5] for nd in nodes]).astype(np.float64)
            be = np.stack([nd[6] for nd in nodes]).astype(np.float64)
        else:  # nodes stored without slopes (memory cap): CROWN's adaptive slopes, no multipliers
            al = np.where((L >= 0) | ((L < 0) & (U > -L)), 1.0, 0.0)
            be = np.zeros_like(L)
            rows = np.flatnonzero(has)
            if rows.size:
                al[rows] = np.stack([nodes[i][5] for i in rows])
                be[rows] = np.stack([nodes[i][6] for i in rows])
        T = None
        if self.ab.fixed is not None:  # the hull's theta per node; 0 (the fixed hull alone) where not stored
            z = np.zeros(self.widths[0], np.float32)
            T = np.stack([nd[12] if nd[12] is not None else z for nd in nodes]).astype(np.float64)
        return {"T": T, "L": L, "U": U, "sp": np.stack([nd[4] for nd in nodes]).astype(np.float64), "al": al,
                "be": be,
                "lo": np.stack([nd[8] for nd in nodes]), "hi": np.stack([nd[9] for nd in nodes]),
                "pub": np.array([-nd[0] for nd in nodes]), "scores": np.stack([nd[7] for nd in nodes]),
                "isc": np.stack([nd[10] for nd in nodes]) if self.input_split else None}

    def _children(self, S: dict, choice: np.ndarray, reps: int = 1) -> tuple:
        """Both children of each stacked node (each node `reps` times in a row, choice (P reps,)) for its choice
        (>= 0: that neuron, flat index; < 0: input dimension -1 - c): arrays L, U, split, alpha, beta, lo, hi,
        parent bound, after the split (first child: active / lower half)."""
        n = 2 * reps
        L, U, sp, al, be, lo, hi = (np.repeat(S[k], n, axis=0) for k in ("L", "U", "sp", "al", "be", "lo", "hi"))
        pub = np.repeat(S["pub"], n)
        T = None if S["T"] is None else np.repeat(S["T"], n, axis=0)
        ch = np.repeat(choice, 2)
        first = np.tile([True, False], choice.size)
        relu = ch >= 0
        rows = np.flatnonzero(relu)
        cols = ch[relu]
        act = first[relu]
        sp[rows, cols] = np.where(act, 1.0, -1.0)
        L[rows[act], cols[act]] = np.maximum(L[rows[act], cols[act]], 0.0)
        U[rows[~act], cols[~act]] = np.minimum(U[rows[~act], cols[~act]], 0.0)
        irows = np.flatnonzero(~relu)
        if irows.size:
            d = -1 - ch[irows]
            m = (lo[irows, d] + hi[irows, d]) / 2
            f = first[irows]
            hi[irows[f], d[f]] = m[f]
            lo[irows[~f], d[~f]] = m[~f]
        return L, U, sp, al, be, lo, hi, pub, ch, T

    def _refined(self, L: np.ndarray, U: np.ndarray, lo: np.ndarray, hi: np.ndarray, ch: np.ndarray) -> tuple:
        """Children's hidden bounds re-bounded after their split (the layers after it; all of them after an input
        split); returns (L, U) flat and the torch box or None."""
        t = self.ab.t
        box = (t.from_numpy(lo), t.from_numpy(hi)) if self.input_split else None
        start = -1 if (ch < 0).any() else int(self.layer_of[ch].min())
        Ls, Us = self.ab.refine(self._split_layers(L), self._split_layers(U), start, box)
        return self._flat(Ls), self._flat(Us), box

    def _choose(self, S: dict) -> np.ndarray:
        """Per node: the neuron to split (best score for babsr; the best of the fsb_k best scores by a cheap bound of
        its children for fsb) or, with input splitting, an input dimension (encoded -1 - d)."""
        scores = S["scores"]
        P = scores.shape[0]
        mode = self.p.branching
        if mode == "input":
            return -1 - np.argmax(S["isc"], axis=1)
        if mode == "babsr" or self.p.fsb_k == 1:
            out = np.argmax(scores, axis=1)
            if mode == "hybrid":
                isc = S["isc"]
                out = np.where(isc.max(axis=1) > scores.max(axis=1), -1 - np.argmax(isc, axis=1), out)
            return out
        k = min(self.p.fsb_k, scores.shape[1])
        # the k best per node (argpartition, then ordered: ties resolve as a full sort's would not matter here)
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.argsort(-scores, axis=1)
        cand = np.take_along_axis(part, np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1), axis=1)
        valid = np.take_along_axis(scores, cand, axis=1) > -np.inf
        # cheap: the parent's hidden bounds with the split applied, not re-bounded (De Palma et al.'s filter)
        t = self.ab.t
        box = (t.from_numpy(S["lo"]), t.from_numpy(S["hi"])) if self.input_split else None
        sl = self._split_layers
        ub = self.ab.cheap_splits(sl(S["L"]), sl(S["U"]), sl(S["sp"]), sl(S["al"]), sl(S["be"]), cand, box).numpy()
        key = np.where(valid, ub.max(axis=2) + 1e-3 * ub.min(axis=2), np.inf)
        out = cand[np.arange(P), np.argmin(key, axis=1)]
        if mode == "hybrid":  # per node: the input dimension when its score beats every neuron's (same units:
            isc = S["isc"]  # bound slack that the split removes)
            use = isc.max(axis=1) > scores.max(axis=1)
            out = np.where(use, -1 - np.argmax(isc, axis=1), out)
        return out

    def step(self, deadline: float | None = None) -> None:
        """Split the best `batch` open nodes (fewer when the measured cost per node says the batch would overrun the
        deadline) and bound their children in one batch."""
        t0 = time.perf_counter()
        size = self.p.batch
        if deadline is not None and self.per_node > 0:
            size = int(min(size, max(1, 0.5 * (deadline - t0) / (2 * self.per_node))))
        nodes = []
        while self.heap and len(nodes) < size:
            nd = self._pop()
            if -nd[0] <= self.value + self.tol():
                self.closed = max(self.closed, -nd[0])
                continue
            nodes.append(nd)
        if not nodes:
            return
        S = self._stack(nodes)
        L, U, sp, al, be, lo, hi, pub, ch, T = self._children(S, self._choose(S))
        L, U, _ = self._refined(L, U, lo, hi, ch)
        empty = (L > U).any(axis=1)
        self.n_empty += int(empty.sum())
        if empty.all():
            return
        keep = ~empty
        L, U, sp, al, be, lo, hi, pub = (v[keep] for v in (L, U, sp, al, be, lo, hi, pub))
        T = None if T is None else T[keep]
        t = self.ab.t
        box = (t.from_numpy(lo), t.from_numpy(hi)) if self.input_split else None
        nb = self.ab.output(self._split_layers(L), self._split_layers(U), self._split_layers(sp),
                            self._split_layers(al), self._split_layers(be), self.p.iters, self.p.lr_alpha,
                            self.p.lr_beta, box, deadline, None if T is None else self.ab.t.from_numpy(T))
        self._add(L, U, sp, lo, hi, nb, pub, deadline)
        per = (time.perf_counter() - t0) / (2 * len(nodes))
        self.per_node = per if self.per_node == 0 else 0.7 * self.per_node + 0.3 * per


@METHODS.register("relu_bab", label="Exact ReLU branch and bound (alpha-beta-CROWN)", params=ReluBabParams,
                  flags=("exact", "any_dim"),
                  description="best-first splitting of unstable ReLUs, alpha-CROWN slopes and beta-CROWN split "
                              "multipliers optimised per node, region-LP leaves")
def relu_bab(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: ReluBabParams,
             time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    """Exact optimum over the box (status optimal), or the incumbent and a proven bound at the time limit."""
    from nnlab.engine.threads import torch_threads

    t0 = time.perf_counter()
    p = params or ReluBabParams()
    _check(p)
    lo, hi = check_box(net, lower, upper)
    sgn = 1.0 if sense == "max" else -1.0
    margin = float_margin(net, lo, hi)
    with torch_threads(p.threads):
        s = _Search(net if sense == "max" else negated(net), lo, hi, p)
    reported = -np.inf
    stop = False  # gen.send(True) at any yield: stop and return the best so far with its bound (status cancelled)

    def incumbent() -> Generator[Event, None, None]:
        nonlocal reported, stop
        if s.value > reported:
            reported = s.value
            stop = bool((yield Incumbent(sgn * s.value, s.x.copy(), time.perf_counter() - t0))) or stop

    def record(now: float) -> None:
        s.history.append((round(now - t0, 4), s.bound(), s.value))

    end = t0 + time_limit
    if p.warm_start:
        from nnlab.engine.optimize.exact.warmstart import warm_start

        # projected gradient from 64 of the best samples: the cheap heuristic that beat branch and bound's
        # incumbents on 10-D nets (issue 11)
        s.offer(warm_start(net, lo, hi, sense, seed, starts=64, steps=100,
                           deadline=t0 + min(1.0, 0.1 * time_limit))[0][None])
        s.polish(deadline=t0 + 0.3 * time_limit)
        yield from incumbent()
    # the root: CROWN at once, then alpha-CROWN steps (at most half the time limit) with progress every 0.25 s;
    # a stop or cancel there keeps the root's best bound so far
    phase, last = s.root(deadline=t0 + 0.5 * time_limit), time.perf_counter()
    while not stop:
        try:
            with torch_threads(p.threads):
                next(phase)
        except StopIteration:
            break
        now = time.perf_counter()
        if now - last > 0.25:
            last = now
            stop = bool((yield BoundProgress(sgn * outward(s.bound(), "max", margin), sgn * s.value, now - t0,
                                             "relu_bab: root alpha-CROWN"))) or stop
    phase.close()
    yield from incumbent()
    record(time.perf_counter())
    if not stop:
        stop = bool((yield BoundProgress(sgn * outward(s.bound(), "max", margin), sgn * s.value,
                                         time.perf_counter() - t0,
                                         f"relu_bab: root, {s.root_unstable} unstable ReLUs"))) or stop
    late = LateHeuristics(net, lo, hi, sense, seed, t0, time_limit) if p.warm_start else None
    status, last, last_polish, last_grad = "optimal", time.perf_counter(), 0.0, time.perf_counter()
    while not s.done():
        now = time.perf_counter()
        if stop:
            status = "cancelled"
            break
        if now - t0 > time_limit:
            status = "time_limit"
            break
        if now - last > 0.25:
            last = now
            record(now)
            stop = bool((yield BoundProgress(sgn * outward(s.bound(), "max", margin), sgn * s.value, now - t0,
                                             f"relu_bab: {len(s.heap)} open nodes"))) or stop
            if stop:
                continue
        if late is not None and late.due(now):  # still open: the heuristics' incumbents (issue 11)
            yield from late.take(now, s.offer, incumbent, lambda: stop)
            continue
        if now - last_grad > 1.0:
            last_grad = now
            s.gradient_polish(end)
        if s.improved and now - last_polish > 0.5:
            last_polish = now
            s.polish(end)
        yield from incumbent()
        with torch_threads(p.threads):
            s.step(deadline=end)
    if s.x is not None and status == "optimal":
        s.polish(end)
    if status != "cancelled":
        yield from incumbent()
    record(time.perf_counter())
    bound = outward(sgn * s.bound(), sense, margin)
    if status == "optimal" and not is_optimal(sgn * s.value if s.x is not None else None, bound, sense):
        status = "feasible"
    if status != "cancelled":
        yield BoundProgress(bound, sgn * s.value, time.perf_counter() - t0, "relu_bab: done")
    fin = lambda v: float(v) if np.isfinite(v) else None  # noqa: E731  (strict JSON: no inf)
    hist = [(sec, fin(outward(sgn * b, sense, margin)), fin(sgn * v)) for sec, b, v in s.history]
    return finish(net, "relu_bab", sense, s.x, status, t0, bound=bound,
                  extra={"nodes": s.n_nodes, "open": len(s.heap), "region_lps": s.n_lp, "leaves": s.n_leaf,
                         "empty": s.n_empty, "branching": p.branching, "root_bound": sgn * s.root_bound,
                         "root_unstable": s.root_unstable, "bound_history": hist,
                         "hull": s.ab.fixed is not None, "hull_gain": s.hull_gain})
