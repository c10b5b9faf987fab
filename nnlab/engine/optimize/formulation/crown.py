"""Batched linear bound propagation (CROWN / DeepPoly backward relaxation) of a ReLU network over many boxes at once.

Why: input branch and bound (bab.py) needs an upper bound of the network over thousands of sub-boxes; one backward
pass of linear relaxations per batch (torch float64 batched matmuls) gives them all, with the linear bound's
coefficients (for branching) and its maximising corner (an incumbent candidate).

Relaxation of an unstable neuron (L < 0 < U): upper h <= U (g - L) / (U - L); lower h >= a g with a in [0, 1]
(CROWN's adaptive a = [U > -L]; "alpha-CROWN-lite" optimises a per box for the output bound by projected Adam,
warm-started from the parent box's slopes when given: a few steps per box then add up along a branch, as in
alpha-beta-CROWN's branch and bound, Wang et al. 2021).
Intermediate layers are bounded by CROWN too (rows [W_k; -W_k]) and intersected with interval arithmetic and with
the parent box's bounds (a sub-box's bounds stay valid for its children). All bounds are sound for any a in [0, 1].

Tried, not adopted (2026-12-03): the first layer's upper relaxations in input space, h <= sum_i T_i w_i (x_i - x'_i)
+ relu(b + sum_i (w_i x'_i + (1 - T_i) r_i)) with T in [0, 1]^n0 per neuron optimised with the lower slopes (the chord
is T = U / (U - L) everywhere; T in {0, 1}^n0 are the facets of the neuron's convex hull over the box, Anderson et
al. 2020). On 10-100-100-1 nets it lowers a box's bound by up to 15-18 % after 50 steps (LP check at the root: 1.0545
-> 1.0183 with the same intermediate bounds), but with bab's 3 steps per box and no stored T it costs 2x per box
and ended looser in 30 s (PyTorch default max 0.135 vs 0.108, Xavier 0.563 vs 0.511, Styblinski-Tang 10.0 vs 8.6);
facets chosen at the bound's maximising corner are looser than the chord (1.39 vs 1.27 at the root). Where it
would pay: one hidden layer, all of whose looseness is in those chords (100-100-1, root LP 3.68 -> 3.02 for the max,
2.98 -> 2.35 for minus the min, value 1.06; relu_bab's bound after 20 s: 2.07), i.e. in relu_bab's bounds.
Adopted there (2026-12-04, alpha_beta.AlphaBetaCrown.set_hull): T fitted once at the root and mixed per node with
the chord, at ~1.2x a node's cost (fitting T per node cost 40x: 10k nodes in 30 s against 300k).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlab.errors import NnlabError

from nnlab.engine.model.network import NetSnapshot


@dataclass(frozen=True, eq=False)
class BoxBounds:
    """Per box (B of them): upper bound of the output, its linear bound A x + c (A (B, n0)), the corner where that
    linear bound is largest, and the pre-activation bounds [(L, U)] of each hidden layer ((B, n_k) arrays)."""

    ub: np.ndarray
    A: np.ndarray
    c: np.ndarray
    corner: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    score: np.ndarray | None = None  # (B, n0) branching score per input dimension (see Crown._score)
    slopes: list[np.ndarray] | None = None  # alpha-lite: each box's best lower slopes per hidden layer (B, n_k)

    @staticmethod
    def concat(parts: "list[BoxBounds]") -> "BoxBounds":
        """The bounds of several batches as one batch (their boxes in order)."""
        cat = np.concatenate
        first = parts[0]
        return BoxBounds(cat([q.ub for q in parts]), cat([q.A for q in parts]), cat([q.c for q in parts]),
                         cat([q.corner for q in parts]),
                         [(cat([q.layers[k][0] for q in parts]), cat([q.layers[k][1] for q in parts]))
                          for k in range(len(first.layers))],
                         None if first.score is None else cat([q.score for q in parts]),
                         None if first.slopes is None else [cat([q.slopes[k] for q in parts])
                                                             for k in range(len(first.slopes))])

    def unstable(self) -> np.ndarray:
        """Number of unstable neurons (L < 0 < U) per box."""
        out = np.zeros(self.ub.shape[0], dtype=np.int64)
        for L, U in self.layers:
            out += ((L < 0) & (U > 0)).sum(axis=1)
        return out


_PRODUCT_FLOATS = 4_000_000  # largest right factor Crown._rows_times_slopes keeps per layer (32 MB)


class Crown:
    """CROWN bounds of `net`'s output (maximised: negate the last layer for a minimum) over batches of boxes."""

    def __init__(self, net: NetSnapshot, intermediate: str = "crown", alpha_iters: int = 0, alpha_lr: float = 0.2
                 ) -> None:
        import torch

        if intermediate not in ("crown", "ibp"):
            raise NnlabError(f"intermediate bounds {intermediate!r} is not allowed; expected crown or ibp")
        self.torch = torch
        self.W = [torch.tensor(w, dtype=torch.float64) for w in net.weights]
        self.b = [torch.tensor(b, dtype=torch.float64) for b in net.biases]
        self.Wp = [w.clamp(min=0) for w in self.W]
        self.Wn = [w.clamp(max=0) for w in self.W]
        self.intermediate = intermediate
        self.alpha_iters = int(alpha_iters)
        self.alpha_lr = float(alpha_lr)
        self._products: dict = {}  # (layer, rows) -> the right factor of _rows_times_slopes

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The network at points x (N, n0), single-threaded torch (cheaper than numpy's BLAS threads here)."""
        t = self.torch
        threads = t.get_num_threads()
        t.set_num_threads(1)
        try:
            with t.no_grad():
                h = t.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
                for k, (w, b) in enumerate(zip(self.W, self.b)):
                    h = h @ w.T + b
                    if k < len(self.W) - 1:
                        h = h.clamp(min=0)
                return h[:, 0].numpy().copy()
        finally:
            t.set_num_threads(threads)

    def _relax(self, L: Any, U: Any) -> tuple[Any, Any, Any, Any]:
        """(upper slope, upper intercept, adaptive lower slope, unstable mask) per neuron."""
        t = self.torch
        unst = (L < 0) & (U > 0)
        act = L >= 0
        d = t.where(unst, U - L, t.ones_like(U))
        su = t.where(act, t.ones_like(U), t.where(unst, U / d, t.zeros_like(U)))
        tu = t.where(unst, -L * su, t.zeros_like(U))
        sl = t.where(act | (unst & (U > -L)), t.ones_like(U), t.zeros_like(U))
        return su, tu, sl, unst

    def _backward(self, lam: Any, const: Any, top: int, relax: list, slopes: list | None = None) -> tuple[Any, Any]:
        """Push an upper bound lam . h_top + const (lam (B, m, n_top)) back to the input: (A (B, m, n0), const)."""
        self._lam0 = lam if top == 0 else None
        start = top
        if lam.dim() == 2 and slopes is None and top >= 0:  # same rows for every box: matmuls, no (B, m, n) temps
            su, tu, sl, _ = relax[top]
            pos, neg = lam.clamp(min=0), lam.clamp(max=0)
            w, bj = self.W[top], self.b[top]
            const = const + tu @ pos.T + (su * bj) @ pos.T + (sl * bj) @ neg.T
            lam = self._rows_times_slopes(pos, neg, su, sl, w, top)
            start = top - 1
        for j in range(start, -1, -1):
            if j == 0:
                self._lam0 = lam
            su, tu, sl, unst = relax[j]
            if slopes is not None:
                sl = self.torch.where(unst, slopes[j], sl)
            # pos su + neg sl written as lam sl + pos (su - sl), the products as matrix products (no (B, m, n)
            # temporaries beyond two: the pass is memory-bound; the same terms, summed in another order)
            pos = lam.clamp(min=0)
            const = const + (pos @ tu[:, :, None])[..., 0]
            lam = (lam * sl[:, None, :]).addcmul_(pos, (su - sl)[:, None, :])
            const = const + lam @ self.b[j]
            B, m, n = lam.shape
            lam = (lam.reshape(B * m, n) @ self.W[j]).view(B, m, -1)  # one product (a permuted lam would batch)
        return lam, const

    def _rows_times_slopes(self, pos: Any, neg: Any, su: Any, sl: Any, w: Any, top: int) -> Any:
        """pos diag(su_b) w + neg diag(sl_b) w for every box b: rows (m, n) shared by the boxes (the fixed rows of
        layer top + 1: [W; -W] of an intermediate layer, or the output's), slopes (B, n), w (n, n'); (B, m, n').

        Why: written as `pos @ (su[:, :, None] * w)` this is a batched matmul of B small (m x n) @ (n x n')
        products: 74 ms for 512 boxes of a 10-100-100-1 net and ~90 % of a whole bound. Here it is one product
        [su, sl] (B, 2n) @ [pos x w; neg x w] (2n, m n'), the right factor made once per layer (11 ms), or, past
        _PRODUCT_FLOATS for that factor, the rows scaled per box and one (B m, n) @ (n, n') product (few rows, as the
        output's: 0.7 ms instead of 82) or w scaled per box and one (m, 2n) @ (2n, B n') product. The same
        products summed in another order: the same rounding bound (certify.float_margin)."""
        t = self.torch
        B, m, n, n2 = su.shape[0], pos.shape[0], w.shape[0], w.shape[1]
        if 2 * n * m * n2 <= _PRODUCT_FLOATS:
            R = self._products.get((top, m))
            if R is None:
                R = t.cat([(pos[:, :, None] * w[None]).permute(1, 0, 2).reshape(n, m * n2),
                           (neg[:, :, None] * w[None]).permute(1, 0, 2).reshape(n, m * n2)])
                self._products[(top, m)] = R
            return (t.cat([su, sl], 1) @ R).view(B, m, n2)
        if m <= 2 * n2:
            return (pos[None] * su[:, None, :] + neg[None] * sl[:, None, :]) @ w
        X = t.cat([su[:, :, None] * w, sl[:, :, None] * w], 1)  # (B, 2n, n')
        Y = t.cat([pos, neg], 1) @ X.permute(1, 0, 2).reshape(2 * n, B * n2)
        return Y.view(m, B, n2).permute(1, 0, 2)

    def _concretize(self, A: Any, const: Any, mid: Any, rad: Any) -> Any:
        """max of A x + const over each box (centre mid, radius rad): A mid + |A| rad as batched matrix-vector
        products (one temporary instead of three: 13 -> 8 ms for 512 boxes' [W; -W] rows of a 10-100-100-1 net)."""
        return self.torch.baddbmm(const[:, :, None], A, mid[:, :, None]).add_(A.abs() @ rad[:, :, None])[..., 0]

    def bounds(self, lo: np.ndarray, hi: np.ndarray, prev: list[tuple[np.ndarray, np.ndarray]] | None = None,
               slopes: list[np.ndarray] | None = None) -> BoxBounds:
        """Bounds over the boxes [lo[i], hi[i]] (B, n0); `prev` (parent bounds, valid on these boxes) tightens them;
        `slopes` ((B, n_k) per layer, e.g. the parent's) start alpha-lite instead of the adaptive slopes."""
        t = self.torch
        threads = t.get_num_threads()
        t.set_num_threads(1)  # these ops are small: with 2+ threads on a busy machine they ran ~100x slower
        try:
            return self._bounds(lo, hi, prev, slopes)
        finally:
            t.set_num_threads(threads)

    def _bounds(self, lo: np.ndarray, hi: np.ndarray, prev: list | None, slopes: list | None = None) -> BoxBounds:
        t = self.torch
        lo_t, hi_t = t.from_numpy(np.ascontiguousarray(lo)), t.from_numpy(np.ascontiguousarray(hi))
        mid, rad = (lo_t + hi_t) / 2, (hi_t - lo_t) / 2
        B, K = lo_t.shape[0], len(self.W) - 1
        layers: list[tuple[Any, Any]] = []
        relax: list = []
        with t.no_grad():
            for k in range(K):
                if k == 0:  # affine in x: interval arithmetic is exact
                    L = lo_t @ self.Wp[0].T + hi_t @ self.Wn[0].T + self.b[0]
                    U = hi_t @ self.Wp[0].T + lo_t @ self.Wn[0].T + self.b[0]
                else:
                    pl, pu = layers[-1][0].clamp(min=0), layers[-1][1].clamp(min=0)
                    L = pl @ self.Wp[k].T + pu @ self.Wn[k].T + self.b[k]
                    U = pu @ self.Wp[k].T + pl @ self.Wn[k].T + self.b[k]
                    if self.intermediate == "crown":
                        lam = t.cat([self.W[k], -self.W[k]])
                        const = t.cat([self.b[k], -self.b[k]]).expand(B, -1)
                        A, c = self._backward(lam, const, k - 1, relax)
                        ub = self._concretize(A, c, mid, rad)
                        n = self.W[k].shape[0]
                        U, L = t.minimum(U, ub[:, :n]), t.maximum(L, -ub[:, n:])
                if prev is not None:
                    L = t.maximum(L, t.from_numpy(prev[k][0]))
                    U = t.minimum(U, t.from_numpy(prev[k][1]))
                U = t.maximum(U, L)  # roundoff can cross them on a degenerate neuron
                layers.append((L, U))
                relax.append(self._relax(L, U))
            lam = self.W[K] if K > 0 else self.W[K].expand(B, -1, -1)
            const = self.b[K].expand(B, -1)
            A, c = self._backward(lam, const, K - 1, relax)
            ub = self._concretize(A, c, mid, rad)[:, 0]
            A, c = A[:, 0, :], c[:, 0]
            score = self._score(A, layers, relax, rad)
        best = None
        if self.alpha_iters > 0 and K > 0 and any(bool(r[3].any()) for r in relax):
            A, c, ub, best = self._alpha(relax, A, c, ub, mid, rad, K, B, slopes)
        corner = t.where(A > 0, hi_t, lo_t)
        return BoxBounds(ub.numpy().copy(), A.numpy().copy(), c.numpy().copy(), corner.numpy().copy(),
                         [(L.numpy().copy(), U.numpy().copy()) for L, U in layers], score.numpy().copy(),
                         None if best is None else [b.numpy().astype(np.float32) for b in best])

    def _score(self, A: Any, layers: list, relax: list, rad: Any) -> Any:
        """Per input dimension: |A_i| width_i plus the share of the first layer's relaxation error that halving
        dimension i removes (unstable neuron j: output weight |lam_j| x its relaxation gap x |W_ji| width_i /
        (U_j - L_j)). Why: |A_i| alone ignores the looseness, and a flat bound (small A_i) can hide it."""
        t = self.torch
        width = 2 * rad
        s = A.abs() * width
        if not layers or self._lam0 is None:
            return s
        L, U = layers[0]
        unst = relax[0][3]
        lam = self._lam0[0] if self._lam0.dim() == 2 else self._lam0[:, 0, :]
        lam = lam.expand(L.shape[0], -1) if lam.dim() == 1 else lam
        d = t.where(unst, U - L, t.ones_like(U))
        gap = t.where(lam > 0, -L * U / d, t.minimum(-L, U))
        wgt = t.where(unst, lam.abs() * gap / d, t.zeros_like(U))  # (B, n_1)
        return s + (wgt @ self.W[0].abs()) * width

    def _alpha(self, relax: list, A: Any, c: Any, ub: Any, mid: Any, rad: Any, K: int, B: int,
               init: list | None = None) -> tuple[Any, Any, Any, list]:
        """alpha-CROWN-lite: optimise the lower slopes of the output bound per box (projected Adam, from `init` or
        the adaptive slopes); keep each box's best bound (CROWN's included) and the slopes that gave it. Any slopes
        in [0, 1] give a valid bound, so every bound kept is one evaluated at clamped slopes."""
        from nnlab.engine.optimize.formulation.alpha_beta import _Adam

        t = self.torch
        start = [r[2] for r in relax]
        for k, a in enumerate(init or []):  # the given slopes on unstable neurons (nan: none given, adaptive)
            a = t.from_numpy(np.asarray(a, np.float64))
            start[k] = t.where(relax[k][3] & ~t.isnan(a), a.nan_to_num(0.0).clamp(0.0, 1.0), start[k])
        slopes = [a.clone().requires_grad_(True) for a in start]
        opt = _Adam([(slopes, self.alpha_lr)])
        best_A, best_c, best_ub = A.clone(), c.clone(), ub.clone()
        best_s = [r[2].clone() for r in relax]
        lam = self.W[K].expand(B, -1, -1)
        const = self.b[K].expand(B, -1)
        for it in range(self.alpha_iters):  # alpha_iters bounds evaluated (the first at the start slopes)
            with t.enable_grad():
                Ai, ci = self._backward(lam, const, K - 1, relax, slopes)
                ui = self._concretize(Ai, ci, mid, rad)[:, 0]
            with t.no_grad():
                better = ui < best_ub
                best_ub = t.where(better, ui, best_ub)
                best_A = t.where(better[:, None], Ai[:, 0, :], best_A)
                best_c = t.where(better, ci[:, 0], best_c)
                for bs, sl in zip(best_s, slopes):
                    bs.copy_(t.where(better[:, None], sl.detach(), bs))
            if it == self.alpha_iters - 1:
                break  # no step whose bound would not be evaluated
            ui.sum().backward()
            opt.step()
            with t.no_grad():
                for sl in slopes:
                    sl.clamp_(0.0, 1.0)
        return best_A.detach(), best_c.detach(), best_ub.detach(), best_s


def box_bound(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str = "max") -> float:
    """A CROWN bound of the max (sense "max") or min of `net` over one box, moved outward by exact.float_margin:
    the honest bound an exact method reports when it stops before its proof (one backward pass)."""
    from nnlab.engine.optimize.certify import float_margin, outward

    lo = np.asarray(lower, dtype=np.float64)[None]
    hi = np.asarray(upper, dtype=np.float64)[None]
    if sense != "max":  # the min of f is minus the max of -f
        net = NetSnapshot(net.weights[:-1] + (-net.weights[-1],), net.biases[:-1] + (-net.biases[-1],), net.activation)
    ub = float(Crown(net).bounds(lo, hi).ub[0])
    ub = ub if sense == "max" else -ub
    return outward(ub, sense, float_margin(net, lower, upper))
