"""`bab`: exact optimum by branch and bound over the INPUT box with batched linear bound propagation (crown.py).

Why: the verifiers that win VNN-COMP on low-dimensional inputs split the input box and bound each piece by
CROWN-style linear relaxations, thousands of pieces per batch; no MILP solver is involved. Each box's output bound
takes `alpha_iters` alpha-lite bounds (crown.py: the output's lower ReLU slopes by projected Adam), warm-started from
its parent's slopes, so the steps add up along a branch (bench/nd_exact.py, 60 s, final gap max / min against CROWN's
slopes: 10-100-100-1 Xavier 0.465 / 0.555 vs 0.489 / 0.609, 10-50-50-50-1 0.0673 / 0.0812 vs 0.0720 / 0.0835,
10-100-100-1 PyTorch default 0.118 / 0.156 vs 0.118 / 0.150; ~4 % lower bounds at equal box counts for ~10 % more
time per box; per-row slopes of the intermediate layers cost ~80x per box for ~15 % more and do not pay).
Per step the boxes with the largest upper bounds (best first) are split in two along the input dimension with the
largest |A_i| * width_i (A: the box's linear bound), and both halves are bounded in one batch. Incumbents come from the forward pass at each
box's maximising corner and centre, polished by region-LP walks. A box is closed when its bound is within the gap of
the incumbent, when all its ReLUs are stable (the net is affine there, the corner is exact), or, with at most
`lp_close` unstable ReLUs, by solving the region LP of each of their 2^u sign patterns (exact over the box).
A minimum is the maximum of the negated network.
A net with every bias zero (the article's Xavier nets) is a cone, f(t x) = t f(x): over a box holding the origin
its maximum is f(0) = 0 or lies on an outer face, so sub-boxes touching no outer face are dropped and those
touching one are flattened onto it (search.Cone; `cone=false` turns it off). Side by side, bench/nd_exact.py
10-100-100-1 Xavier at 30 s: gap max 0.168 -> 0.149, min 0.234 -> 0.195, at least as tight at 12 of 12
checkpoints; 10-100-100-1 Xavier seeds 0-4 at 6 s: gap 6-13 % smaller on 10 of 10 problems; 10-32-32-1 seeds
0-9 at 6 s: 13 of 20 certified (11-12 without), up to 2.4x fewer boxes to a proof.
Each step's boxes are bounded in parts on `threads` threads (_Search._bounds: 1.2-1.3x the boxes on 2 cores).
"""
from __future__ import annotations

import heapq
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generator

import numpy as np

from nnlab.errors import NnlabError

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.threads import torch_threads
from nnlab.engine.optimize.exact.warmstart import LateHeuristics
from nnlab.engine.optimize.exact.search import BestFirst, Cone, negated
from nnlab.engine.optimize.formulation.crown import BoxBounds
from nnlab.engine.optimize.certify import OPTIMAL_GAP, float_margin, is_optimal, outward
from nnlab.engine.optimize.base import METHODS, BoundProgress, Event, Incumbent, OptResult, check_box, finish


@dataclass(frozen=True)
class BabParams:
    mip_gap: float = OPTIMAL_GAP  # stop when (bound - incumbent) / max(1, |incumbent|) <= mip_gap
    batch: int = 256  # boxes split per step (2x as many bounded)
    intermediate: str = "crown"  # bounds of hidden layers: "crown" | "ibp"
    alpha_iters: int = 3  # alpha-CROWN-lite bounds per box on the output's slopes, warm-started from the parent's
    # (0: adaptive slopes only)
    lp_close: int = 2  # close a box with at most this many unstable ReLUs by its 2^u region LPs (0: off)
    milp_close: int = 16  # else, with at most this many, by a MILP over the box (HiGHS; 0: off; the root box with
    # up to twice as many, then after 1 s at most a tenth of the search's time) if it proves the box within the gap in
    milp_seconds: float = 0.5  # this long (else the box stays open and the search's limit is halved)
    warm_start: bool = True
    branching: str = "score"  # "score": largest |A_i| * width_i; "smart": try every dimension, keep the best split
    threads: int = 0  # threads bounding each step's boxes, `batch` boxes each (0: torch's intra-op thread count,
    # at most AUTO_THREADS: the cores from the CLI, 1 in a study worker or the app's host on 2 cores)
    cone: bool = True  # a zero-bias net over a box holding the origin: drop the sub-boxes that touch no outer
    # face, flatten those touching one onto it (search.Cone: the net is positively homogeneous)


AUTO_THREADS = 8  # threads = 0 takes torch's thread count, at most this many
_STORE_FLOATS = 25_000_000  # queued boxes keep their hidden-layer bounds up to ~200 MB


def _check(p: BabParams) -> None:
    if not 0 <= p.mip_gap < 1:
        raise NnlabError(f"mip_gap {p.mip_gap!r} must be in [0, 1)")
    if p.batch < 1 or p.alpha_iters < 0 or not 0 <= p.lp_close <= 8:
        raise NnlabError("bab needs batch >= 1, alpha_iters >= 0 and 0 <= lp_close <= 8")
    if p.milp_close < 0 or not p.milp_seconds > 0:
        raise NnlabError("bab needs milp_close >= 0 and milp_seconds > 0")
    if not 0 <= p.threads <= 64:
        raise NnlabError(f"threads {p.threads!r} must be in [0, 64] (0: torch's thread count)")
    if p.branching not in ("score", "smart"):
        raise NnlabError(f"branching {p.branching!r} is not allowed; expected score or smart")
    if p.intermediate not in ("crown", "ibp"):
        raise NnlabError(f"intermediate {p.intermediate!r} is not allowed; expected crown or ibp")


class _Search(BestFirst):
    """State of one search on the maximised network `inet` (values here are in that sense)."""

    def __init__(self, inet: NetSnapshot, lo: np.ndarray, hi: np.ndarray, p: BabParams) -> None:
        from nnlab.engine.optimize.formulation.crown import Crown
        from nnlab.engine.optimize.formulation.regionlp import RegionLP

        super().__init__(inet, p.mip_gap)  # heap entries: (-ub, id, lo, hi, split dim, layer bounds, slopes)
        self.lo, self.hi, self.p = lo, hi, p
        self.crown = Crown(inet, p.intermediate, p.alpha_iters)
        k = p.threads or min(self.crown.torch.get_num_threads(), AUTO_THREADS)
        # one CROWN bounder per thread (each keeps per-pass state and a product cache of up to 32 MB per layer);
        # this thread bounds the first part itself
        self.crowns = [self.crown] + [Crown(inet, p.intermediate, p.alpha_iters) for _ in range(k - 1)]
        self.lp = RegionLP(inet, lo, hi)
        self.n_boxes = self.n_lp = self.n_milp = 0
        self.milp_cap = p.milp_close  # unstable ReLUs up to which a box is closed by its MILP (halved on a miss)
        self.t_start, self.milp_time = time.perf_counter(), 0.0  # (the search's start, seconds in MILPs)
        self.per_box = (2 + (p.alpha_iters > 0)) * sum(inet.widths)
        self.stored = 0  # floats of hidden-layer bounds held by queued boxes
        self.no_layers = [(np.full(n, -np.inf), np.full(n, np.inf)) for n in inet.widths]
        self.per_second = 0.0  # measured boxes bounded per second (sizes the last batches to the time left)
        self.cone = Cone.of(inet, lo, hi) if p.cone else None
        self.n_dropped = self.n_flat = 0  # sub-boxes the cone reduction dropped / flattened onto a face

    def batch_values(self, pts: np.ndarray) -> np.ndarray:
        return self.crown.forward(pts) if pts.shape[0] > 1 else self.inet.forward(pts)

    def _lp_close(self, lo: np.ndarray, hi: np.ndarray, layers: list, deadline: float | None = None
                  ) -> float | None:
        """Exact max over the box from the region LPs of every sign pattern of its unstable ReLUs (None: gave up,
        `deadline` passed)."""
        base = [L >= 0 for L, _ in layers]
        unst = [(k, j) for k, (L, U) in enumerate(layers) for j in np.flatnonzero((L < 0) & (U > 0))]
        self.lp.lower, self.lp.upper = lo, hi  # RegionLP reads its box from these attributes
        best = -np.inf
        try:
            for bits in itertools.product((False, True), repeat=len(unst)):
                if deadline is not None and time.perf_counter() > deadline:
                    return None
                pat = [a.copy() for a in base]
                for (k, j), bit in zip(unst, bits):
                    pat[k][j] = bit
                r = self.lp.solve(pat, "max")
                self.n_lp += 1
                if r is not None:
                    self.offer(r[0][None])
                    best = max(best, r[1])
        finally:
            self.lp.lower, self.lp.upper = self.lo, self.hi
        return best + 1e-9 * (1.0 + abs(best)) if np.isfinite(best) else best

    def _milp_due(self) -> bool:
        """A MILP for the root box, then at most a tenth of the search's time in MILPs, none in its first second.
        Why: a box with 16 unstable ReLUs that CROWN and splitting close in microseconds took 30-90 ms as a MILP
        (a 5-10-10-1 search: 0.02 s without, 0.19-0.76 s with a MILP per such box; 5-50-50-1, proved in 0.11 s:
        0.20 s when one MILP was allowed from 0.1 s on)."""
        if self.n_boxes <= 1:
            return True
        spent = time.perf_counter() - self.t_start
        return spent >= 1.0 and self.milp_time <= 0.1 * spent

    def _milp_close(self, lo: np.ndarray, hi: np.ndarray, layers: list, deadline: float | None) -> float | None:
        """Exact max over the box by the big-M MILP of its unstable ReLUs (HiGHS, the box's hidden-layer bounds),
        moved out by milp.tolerance_margin; None when it does not prove its optimum within milp_seconds.

        Why: a box with a few unstable ReLUs whose maximum is reached on a whole face or region (a plateau, e.g.
        f <= 0 = f(0) on a zero-bias net) keeps a CROWN bound a little above the optimum however small it is split
        (a 4-5-6-1 net: bound 5.6e-6 above 0 after 189k boxes in 10 s); its MILP is solved in milliseconds."""
        import highspy as hs

        from nnlab.engine.optimize.exact.milp import tolerance_margin
        from nnlab.engine.optimize.formulation.bigm import network_model

        left = self.p.milp_seconds if deadline is None else min(self.p.milp_seconds, deadline - time.perf_counter())
        if left < 0.01 or not all(np.all(np.isfinite(L)) and np.all(np.isfinite(U)) for L, U in layers):
            return None
        model = network_model(self.inet, lo, hi, layers)
        model.set_objective(self.inet.weights[-1][0], float(self.inet.biases[-1][0]), "max")
        integer = model.all_z().size > 0
        model.make_integer()
        h = model.h
        h.setOptionValue("time_limit", float(left))
        h.setOptionValue("mip_rel_gap", 0.1 * self.mip_gap)
        h.setOptionValue("mip_abs_gap", 0.1 * self.mip_gap)
        t = time.perf_counter()
        try:
            h.run()
            self.milp_time += time.perf_counter() - t
            self.n_milp += 1
            info = h.getInfo()
            if info.primal_solution_status == 2:  # a feasible point: an incumbent candidate
                self.offer(np.clip(np.array(h.getSolution().col_value[: lo.size], dtype=np.float64), lo, hi)[None])
            if h.getModelStatus() != hs.HighsModelStatus.kOptimal:
                return None
            top = float(info.mip_dual_bound if integer else info.objective_function_value)
        finally:
            h.clear()
        if not np.isfinite(top):
            return None
        return top + tolerance_margin(self.inet, layers) + 1e-9 * (1.0 + abs(top))

    def bound_boxes(self, lo: np.ndarray, hi: np.ndarray, prev: list | None, slopes: list | None = None
                    ) -> "BoxBounds":
        """CROWN bounds of the boxes (B, n0) (alpha-lite from `slopes`); their corners and centres are offered as
        incumbents."""
        bb = self._bounds(lo, hi, prev, slopes)
        self.n_boxes += lo.shape[0]
        self.offer(np.vstack([bb.corner, (lo + hi) / 2]))
        return bb

    def _bounds(self, lo: np.ndarray, hi: np.ndarray, prev: list | None, slopes: list | None) -> "BoxBounds":
        """crown.bounds of the boxes, split into one part per thread when there are enough of them.

        Why: torch frees the GIL in its products, so on 2 cores two threads (one intra-op thread each) bound a
        step's boxes ~1.3x faster (10-100-100-1 Xavier max, 15 s: 227k boxes against 170k, bound 0.486 against
        0.518); each box's bound is the same either way (boxes are bounded independently). The threads live for
        one call (0.2 ms to start and join, against ~40 ms per step): none outlasts a step, whatever ends the search."""
        k = len(self.crowns)
        B = lo.shape[0]
        if k == 1 or B < 32 * k:
            return self.crown.bounds(lo, hi, prev, slopes)
        cut = np.linspace(0, B, k + 1).astype(int)

        def part(i: int) -> "BoxBounds":
            a, b = cut[i], cut[i + 1]
            return self.crowns[i].bounds(lo[a:b], hi[a:b], None if prev is None else [(L[a:b], U[a:b]) for L, U in prev],
                                         None if slopes is None else [x[a:b] for x in slopes])

        # torch's threads set before the threads start (Crown.bounds' own set and restore are then no-ops); leaving
        # the pool joins its threads, also when this thread's part raised
        with torch_threads(1), ThreadPoolExecutor(k - 1, thread_name_prefix="bab") as pool:
            futures = [pool.submit(part, i) for i in range(1, k)]
            first = part(0)
            parts = [f.result() for f in futures]
        return BoxBounds.concat([first, *parts])

    def add(self, lo: np.ndarray, hi: np.ndarray, bb: "BoxBounds", deadline: float | None = None) -> None:
        """Queue the bounded boxes that stay open; close the others (no region LPs past `deadline`)."""
        n_unst = bb.unstable()
        keep = None
        if self.cone is not None:  # the bounds stay valid: the flattened boxes are subsets
            flo, fhi, keep = self.cone.reduce(lo, hi)
            self.n_dropped += int((~keep).sum())
            self.n_flat += int(np.sum(np.any(fhi - flo < hi - lo, axis=1) & keep))
            lo, hi = flo, fhi
        width = hi - lo
        score = bb.score if bb.score is not None else np.abs(bb.A) * width
        score = np.where(width > 0, score, 0.0)  # a flattened dimension is never split
        dims = np.where(score.max(axis=1) > 0, np.argmax(score, axis=1), np.argmax(width, axis=1))
        # closed at once: within the gap of the incumbent, or affine on the box (the corner value is exact)
        shut = (bb.ub <= self.value + self.tol()) | (n_unst == 0) | ~np.any(width > 0, axis=1)
        if keep is not None:
            shut &= keep  # a dropped box holds no maximiser: it adds nothing to the bound
        if shut.any():
            self.closed = max(self.closed, float(bb.ub[shut].max()))
        if keep is not None:
            shut |= ~keep
        for i in np.flatnonzero(~shut):
            ub = float(bb.ub[i])
            if ub <= self.value + self.tol():  # an LP-closed box may have raised the incumbent
                self.closed = max(self.closed, ub)
                continue
            layers = [(L[i], U[i]) for L, U in bb.layers]
            if n_unst[i] <= self.p.lp_close and (deadline is None or time.perf_counter() < deadline):
                exact = self._lp_close(lo[i], hi[i], layers, deadline)
                if exact is not None:
                    self.closed = max(self.closed, min(ub, exact))
                    continue
            elif n_unst[i] <= self.milp_cap * (2 if self.n_boxes <= 1 else 1) and self._milp_due():
                exact = self._milp_close(lo[i], hi[i], layers, deadline)
                if exact is not None and exact <= self.value + self.tol():  # (its point was offered first)
                    self.closed = max(self.closed, min(ub, exact))
                    continue
                # not proved within its time, or its rounding margin is wider than the gap: smaller MILPs only
                self.milp_cap //= 2  # (at most ~5 such misses)
            slopes = None if bb.slopes is None else [a[i] for a in bb.slopes]
            if self.stored + self.per_box > _STORE_FLOATS:
                layers = slopes = None  # memory cap: the children are bounded without the parent's hidden bounds
            else:
                self.stored += self.per_box
            heapq.heappush(self.heap, (-ub, next(self.ids), lo[i], hi[i], int(dims[i]), layers, slopes))

    def step(self, deadline: float | None = None) -> None:
        """Split the best `batch` open boxes (skipping those the incumbent has since closed) and bound the halves;
        fewer when the measured cost per box says the batch would overrun `deadline`."""
        t0 = time.perf_counter()
        size = self.p.batch * len(self.crowns)
        if deadline is not None and self.per_second > 0:
            size = int(min(size, max(1, 0.5 * (deadline - t0) * self.per_second / 2)))
        los, his, prevs, pub, dims, slopes = [], [], [], [], [], []
        while self.heap and len(los) < 2 * size:
            nub, _, lo, hi, d, layers, sl = heapq.heappop(self.heap)
            if layers is None:
                layers = self.no_layers
            else:
                self.stored -= self.per_box
            if -nub <= self.value + self.tol():
                self.closed = max(self.closed, -nub)
                continue
            m = (lo[d] + hi[d]) / 2
            a_hi, b_lo = hi.copy(), lo.copy()
            a_hi[d], b_lo[d] = m, m
            los += [lo, b_lo]
            his += [a_hi, hi]
            prevs += [layers, layers]
            slopes += [sl, sl]
            pub += [-nub, -nub]
            dims.append(d)
        if not los:
            return
        lo, hi = np.stack(los), np.stack(his)
        prev = [(np.stack([pl[k][0] for pl in prevs]), np.stack([pl[k][1] for pl in prevs]))
                for k in range(len(prevs[0]))]
        pub = np.array(pub)
        warm = None
        if self.p.alpha_iters > 0 and any(a is not None for a in slopes):
            warm = [np.stack([a[k] if a is not None else np.full(n, np.nan, np.float32) for a in slopes])
                    for k, n in enumerate(self.inet.widths)]  # nan: no parent slopes (the adaptive ones)
        if self.p.branching == "score":
            bb = self.bound_boxes(lo, hi, prev, warm)
            bb.ub[:] = np.minimum(bb.ub, pub)  # a child's relaxation can be looser than its parent's
            self.add(lo, hi, bb, deadline)
        else:
            self._smart(lo, hi, prev, pub, dims, deadline)
        rate = lo.shape[0] / max(time.perf_counter() - t0, 1e-9)  # boxes bounded per second
        self.per_second = rate if self.per_second == 0 else 0.7 * self.per_second + 0.3 * rate

    def _smart(self, lo: np.ndarray, hi: np.ndarray, prev: list, pub: np.ndarray, dims: list,
               deadline: float | None) -> None:
        """Smart branching of the popped boxes (lo, hi hold both default halves of each)."""
        # smart: bound the halves along every dimension, keep the split whose worse half is lowest
        P, n = lo.shape[0] // 2, lo.shape[1]
        plo, phi = lo[0::2], hi[1::2]
        mid = (plo + phi) / 2
        clo = np.repeat(plo[:, None, None, :], 2, axis=1).repeat(n, axis=2)  # (P, 2, n, n0)
        chi = np.repeat(phi[:, None, None, :], 2, axis=1).repeat(n, axis=2)
        d = np.arange(n)
        chi[:, 0, d, d] = mid
        clo[:, 1, d, d] = mid
        cprev = [(np.repeat(L[0::2], 2 * n, axis=0), np.repeat(U[0::2], 2 * n, axis=0)) for L, U in prev]
        bb = self.bound_boxes(clo.reshape(-1, n), chi.reshape(-1, n), cprev)
        bb.ub[:] = np.minimum(bb.ub, np.repeat(pub[0::2], 2 * n))
        ub = bb.ub.reshape(P, 2, n)
        width = phi - plo
        # the worse half first, the better half as a tie-break (else a box whose best corner no split can lower
        # would be split along the same dimension forever)
        # only dimensions at least a tenth as wide (relative to the root box) as the box's widest: else a dimension
        # already ~1e-7 wide whose splits each lower the bound a little was split forever while the wide one the
        # bound needed never was (a 3-input net: 4 million boxes in 10 s, not proved; score branching: 159 boxes;
        # with 1e-3 or 1e-2 instead of a tenth a 6-input net still was not proved in 15 s, 0.1 and 0.3: 58-60k boxes)
        rel = width / np.where(self.hi > self.lo, self.hi - self.lo, 1.0)
        ok = (width > 0) & (rel >= 0.1 * rel.max(axis=1, keepdims=True))
        key = np.where(ok, np.maximum(ub[:, 0], ub[:, 1]) + 0.5 * np.minimum(ub[:, 0], ub[:, 1]), np.inf)
        best = np.argmin(key, axis=1)
        stuck = np.min(key, axis=1) >= 1.5 * pub[0::2] - 1e-12 * (1.0 + np.abs(pub[0::2]))
        best[stuck] = np.array(dims)[stuck]  # no split lowers the bound: the parent's score dimension
        idx = (np.arange(P)[:, None, None] * 2 * n + np.arange(2)[None, :, None] * n + best[:, None, None]).reshape(-1)
        sub = BoxBounds(bb.ub[idx], bb.A[idx], bb.c[idx], bb.corner[idx], [(L[idx], U[idx]) for L, U in bb.layers],
                        bb.score[idx])
        self.add(clo.reshape(-1, n)[idx], chi.reshape(-1, n)[idx], sub, deadline)



@METHODS.register("bab", label="Exact input branch and bound (CROWN)", params=BabParams, flags=("exact", "any_dim"),
                  description="best-first splitting of the input box, batched CROWN bounds, region-LP closing")
def bab(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: BabParams,
        time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    """Exact optimum over the box (status optimal), or the incumbent and a proven bound at the time limit."""
    t0 = time.perf_counter()
    p = params or BabParams()
    _check(p)
    lo, hi = check_box(net, lower, upper)
    sgn = 1.0 if sense == "max" else -1.0
    s = _Search(net if sense == "max" else negated(net), lo, hi, p)
    margin = float_margin(net, lo, hi)  # float64 CROWN sums (any slopes in [0, 1]): a proof after this
    end = t0 + time_limit
    reported = -np.inf
    stop = False  # gen.send(True) at any yield: stop and return the best so far with its bound (status cancelled)

    def incumbent() -> Generator[Event, None, None]:
        nonlocal reported, stop
        if s.value > reported:
            reported = s.value
            stop = bool((yield Incumbent(sgn * s.value, s.x.copy(), time.perf_counter() - t0))) or stop

    if p.warm_start:
        from nnlab.engine.optimize.exact.warmstart import warm_start

        s.offer(warm_start(net, lo, hi, sense, seed, deadline=t0 + 0.25 * time_limit)[0][None])
        s.polish(deadline=t0 + 0.5 * time_limit)
        yield from incumbent()
    if s.cone is not None:
        s.offer(np.zeros((1, lo.shape[0])))  # f(0) = 0: the maximum when no outer face beats it (search.Cone)
    s.add(lo[None], hi[None], s.bound_boxes(lo[None], hi[None], None), end)
    yield from incumbent()
    late = LateHeuristics(net, lo, hi, sense, seed, t0, time_limit) if p.warm_start else None
    status, last, last_polish = "optimal", 0.0, 0.0
    while not s.done():
        now = time.perf_counter()
        if stop:
            status = "cancelled"
            break
        if now - t0 > time_limit:
            status = "time_limit"
            break
        if now - last > 0.2:
            last = now
            stop = bool((yield BoundProgress(outward(sgn * s.bound(), sense, margin), sgn * s.value, now - t0,
                                             f"bab: {len(s.heap)} open boxes"))) or stop
            if stop:
                continue
        if late is not None and late.due(now):  # still open: the heuristics' incumbents (issue 11)
            yield from late.take(now, s.offer, incumbent, lambda: stop)
            continue
        if s.improved and now - last_polish > 0.5:
            last_polish = now
            s.polish(end)
        yield from incumbent()
        s.step(end)
    if s.x is not None and status == "optimal":
        s.polish(end)  # a few region LPs: the value within the gap may still improve
    if status != "cancelled":
        yield from incumbent()
    bound = outward(sgn * s.bound(), sense, margin)
    if status == "optimal" and not is_optimal(sgn * s.value if s.x is not None else None, bound, sense):
        status = "feasible"  # closed at a gap looser than OPTIMAL_GAP (a larger mip_gap)
    if status != "cancelled":
        yield BoundProgress(bound, sgn * s.value, time.perf_counter() - t0, "bab: done")
    return finish(net, "bab", sense, s.x, status, t0, bound=bound,
                  extra={"boxes": s.n_boxes, "open": len(s.heap), "region_lps": s.n_lp, "milps": s.n_milp,
                         "cone": s.cone is not None,
                         "cone_dropped": s.n_dropped, "cone_flattened": s.n_flat})
