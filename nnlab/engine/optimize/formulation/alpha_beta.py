"""alpha-CROWN and beta-CROWN bounds of a ReLU network's maximum over one input box, batched over sub-problems that
fix the signs of some ReLUs (the nodes of ReLU-splitting branch and bound, exact/relu_bab.py).

Why: input splitting (crown.py + bab.py) scales with the number of inputs; past ~5 inputs the verifiers that win
VNN-COMP split ReLUs instead and optimise their relaxations:
- alpha-CROWN (Xu et al., "Fast and complete", ICLR 2021): the lower relaxation h >= a g of an unstable neuron is
  valid for any a in [0, 1]; projected gradient steps on a (per sub-problem, per neuron; per bounded row for the
  root's intermediate layers) minimise the bound.
- beta-CROWN (Wang et al., NeurIPS 2021): a split s g >= 0 (s = +1 active, -1 inactive) enters the bound as
  f(x) <= f(x) + beta s g(x) for any beta >= 0 on the sub-problem; beta is optimised with the slopes.
- the first layer's input-space hull (Anderson et al., "Strong mixed-integer programming formulations for
  trained neural networks", 2020; _hull_terms): the chord of an unstable first-layer neuron, an upper bound in g, is
  replaced for the bound's positive coefficients by an upper bound in x whose n0 parameters T are optimised with the
  slopes (fitted once at the root, then mixed with the chord per sub-problem: set_hull). On one hidden layer all of
  the relaxation's looseness is in those chords: 100-100-1 root bound 3.68 -> 3.14 (the hull LP's 3.02).
Intermediate layers of a sub-problem are re-bounded by CROWN (adaptive slopes, the splits' exact relaxations)
and intersected with its parent's (a parent's bounds hold on every child).

Floating point. The slopes are optimised in `dtype` (float64, or float32 for speed), but every bound that is used
is recomputed in float64 from those slopes (any a in [0, 1] and beta >= 0 give a valid bound) and moved outward by
an a-posteriori bound of its rounding error: each product lam . W computed with n terms is off by at most
n eps |lam| |W| (Higham 3.1), whose effect on the bound is at most that times the interval magnitude of the layer's
input over the box, so the margin is 4 (n_max + 2) eps times sum_k |lam_k| . m_k plus the concretisation's terms
(m_k: interval magnitudes). The upper relaxation's intercept is raised by 4 eps (U - L) against the rounding of its
slope. So a bound is never below the network's maximum over the sub-problem.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Generator

import numpy as np

from nnlab.engine.jobs import drain
from nnlab.engine.model.network import NetSnapshot
from nnlab.errors import NnlabError

_EPS64 = float(np.finfo(np.float64).eps)


@dataclass(eq=False)
class NodeBounds:
    """Bounds of a batch of B sub-problems (torch float64 tensors): the upper bound of the output, its linear bound
    A x + c (A (B, n0)), the box corner maximising it, and lam_k (B, n_k), the bound's coefficient on each hidden
    layer's output (for branching scores); `alpha` / `beta` are the optimised parameters (lists of (B, n_k))."""

    ub: Any
    A: Any
    c: Any
    corner: Any
    lams: list
    alpha: list
    beta: list
    hull: Any = None  # hull parameters: T (B, n_1, n0) when fitted (fit_hull), theta (B, n_1) with a fixed hull


class _Adam:
    """Adam (Kingma & Ba) on a list of leaf tensors, written out: torch.optim's first step imports torch._dynamo,
    measured at 5-8 s on the loaded 2-core machine, longer than a whole root bound."""

    def __init__(self, groups: list[tuple[list, float]], b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
                 ) -> None:
        self.groups = groups
        self.b1, self.b2, self.eps, self.n = b1, b2, eps, 0
        self.m = [[None] * len(ps) for ps, _ in groups]
        self.v = [[None] * len(ps) for ps, _ in groups]

    def step(self) -> None:
        self.n += 1
        c1, c2 = 1 - self.b1 ** self.n, 1 - self.b2 ** self.n
        for g, (ps, lr) in enumerate(self.groups):
            for i, p in enumerate(ps):
                if p.grad is None:
                    continue
                gr = p.grad
                if self.m[g][i] is None:
                    self.m[g][i], self.v[g][i] = gr.new_zeros(gr.shape), gr.new_zeros(gr.shape)
                m, v = self.m[g][i], self.v[g][i]
                m.mul_(self.b1).add_(gr, alpha=1 - self.b1)
                v.mul_(self.b2).addcmul_(gr, gr, value=1 - self.b2)
                p.data.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-lr / c1)
                p.grad = None


class AlphaBetaCrown:
    """Bounds of max `net` over sub-problems of the box [lo, hi] (a minimum: pass the negated network)."""

    def __init__(self, net: NetSnapshot, lo: np.ndarray, hi: np.ndarray, dtype: str = "float64",
                 max_floats: int = 20_000_000, hull: bool = False) -> None:
        import torch

        if dtype not in ("float64", "float32"):
            raise NnlabError(f"dtype {dtype!r} is not allowed; expected float64 or float32")
        self.t = torch
        self.dt = torch.float64 if dtype == "float64" else torch.float32
        self.max_floats = int(max_floats)
        f64 = torch.float64
        self.W = [torch.tensor(w, dtype=f64) for w in net.weights]
        self.b = [torch.tensor(b, dtype=f64) for b in net.biases]
        self.Wd = [w.to(self.dt) for w in self.W]
        self.bd = [b.to(self.dt) for b in self.b]
        self.K = len(self.W) - 1
        self.widths = [int(w.shape[0]) for w in self.W[:-1]]
        self.lo = torch.tensor(lo, dtype=f64)[None]
        self.hi = torch.tensor(hi, dtype=f64)[None]
        self.mid, self.rad = (self.lo + self.hi) / 2, (self.hi - self.lo) / 2
        # interval magnitudes: mx bounds |x|, mag[k] bounds |g_k| (and |h_k|) over the box
        m = np.maximum(np.abs(lo), np.abs(hi))
        self.mx = torch.tensor(m, dtype=f64)
        mags = []
        for w, b in zip(net.weights, net.biases):
            m = np.abs(w) @ m + np.abs(b)
            mags.append(torch.tensor(m, dtype=f64))
        self.mag = mags
        self.gamma = 4.0 * (max([int(w.shape[1]) for w in self.W]) + 2) * _EPS64
        self.hull = bool(hull) and self.K >= 1
        self.fixed: tuple | None = None  # set_hull: (coef, icpt) float64 and in dtype

    # ---- the first layer's input-space hull (Anderson et al. 2020) ----
    def hull_init(self, relax0: tuple) -> Any:
        """T at the chord: every T_i = U / (U - L) gives CROWN's upper relaxation (B, n_1, n0)."""
        return relax0[0][:, :, None].expand(-1, -1, self.lo.shape[1]).clone()

    def set_hull(self, T: Any) -> None:
        """Fix the hull bounds of T (1, n_1, n0; fitted at the root by iter_output(fit_hull=True)) for every later
        sub-problem: each then takes, per neuron, the convex combination theta chord + (1 - theta) hull (valid:
        both are upper bounds on the sub-problem, whose box lies in the root box), theta optimised with the slopes.
        Why fixed: fitting T per sub-problem costs B n_1 n0 per step (measured 40x CROWN's step on 100-100-1);
        a fixed hull costs about what a chord does."""
        coef, icpt = self._hull_terms(T.to(self.t.float64), None, True)
        self.fixed = (coef[0], icpt[0], coef[0].to(self.dt), icpt[0].to(self.dt))

    def _hull_terms(self, T: Any, box: tuple | None, f64: bool) -> tuple[Any, Any]:
        """Coefficients (B, n_1, n0) and intercepts (B, n_1) of the upper bounds
            relu(w.x + b) <= sum_i T_i w_i (x_i - Lb_i) + relu(c0 + sum_i (1 - T_i) r_i)
        of the first layer's neurons over the box, valid for any T in [0, 1]^n0 (Anderson et al., "Strong
        mixed-integer programming formulations for trained neural networks", 2020: T in {0, 1} are the facets of
        the neuron's convex hull over the box; the chord is T_i = U / (U - L) for all i). Lb_i is the box end that
        minimises w_i x_i, r_i = |w_i| (hi_i - lo_i) and c0 = b + sum_i w_i Lb_i the neuron's minimum. Proof: with
        d_i = w_i (x_i - Lb_i) in [0, r_i], w.x + b = c0 + sum_i d_i <= c0 + sum_i (1 - T_i) r_i + sum_i T_i d_i and
        relu(a + s) <= relu(a) + s for s >= 0."""
        W, b = (self.W[0], self.b[0]) if f64 else (self.Wd[0], self.bd[0])
        lo, hi = (self.lo, self.hi) if box is None else box
        lo, hi = lo.to(W.dtype)[:, None, :], hi.to(W.dtype)[:, None, :]
        pos = W[None] >= 0
        Lb = self.t.where(pos, lo, hi)  # (B|1, n_1, n0)
        r = W.abs()[None] * (hi - lo)
        coef = T * W[None]
        c0 = b[None] + (W[None] * Lb).sum(-1)
        icpt = (c0 + ((1 - T) * r).sum(-1)).clamp(min=0) - (coef * Lb).sum(-1)
        return coef, icpt

    # ---- relaxations and the backward pass ----
    def _relax(self, L: Any, U: Any) -> tuple[Any, Any, Any, Any, Any]:
        """(upper slope, upper intercept, stable lower slope, CROWN's adaptive lower slope, unstable) per neuron."""
        t = self.t
        unst = (L < 0) & (U > 0)
        act = (L >= 0).to(L.dtype)
        d = t.where(unst, U - L, t.ones_like(U))
        su = t.where(unst, U / d, act)
        tu = t.where(unst, -L * su + 4 * float(t.finfo(L.dtype).eps) * d, t.zeros_like(U))
        ada = t.where(unst & (U > -L), t.ones_like(U), act)
        return su, tu, act, ada, unst

    def _backward(self, lam: Any, const: Any, top: int, relax: list, alphas: list | None, betas: list | None,
                  splits: list | None, f64: bool, track: bool = False, hull: tuple | None = None
                  ) -> tuple[Any, Any, list, Any]:
        """Push the upper bound lam . h_top + const (lam (B, m, n_top)) back to the input; `hull` = (coef, icpt,
        theta) replaces the first layer's upper chords for the positive part of lam: coef (B, n_1, n0), icpt
        (B, n_1) of _hull_terms and theta None, or the fixed hull (n_1, n0), (n_1,) mixed with the chord by theta
        (B, n_1) (see set_hull).
        Returns (A (B, m, n0), const (B, m), [lam_j on h_j (B, m, n_j)] top..0, rounding margin (B, m) or None)."""
        W, b = (self.W, self.b) if f64 else (self.Wd, self.bd)
        err = self.t.zeros_like(const) if track else None
        lams = []
        for j in range(top, -1, -1):
            lams.append(lam)
            su, tu, act, ada, unst = relax[j]
            a = ada if alphas is None else alphas[j]
            a = a[:, None, :] if a.dim() == 2 else a
            sl = self.t.where(unst[:, None, :], a, act[:, None, :])
            # lg = pos su + neg sl written as lam sl + pos (su - sl): two (B, m, n) temporaries instead of five
            # (the pass is memory-bound; the terms are the same, summed in another order: the margin covers any)
            same = lam.stride(0) == 0  # the same rows for every sub-problem (the first step from _rows)
            pos = lam[:1].clamp(min=0).expand_as(lam) if same else lam.clamp(min=0)
            posu, pch = None, pos
            if hull is not None and j == 0:  # positive part of unstable neurons: (a share of) the hull's bound
                posu = pos * unst[:, None, :].to(pos.dtype)
                if hull[2] is not None:
                    posu = posu * (1 - hull[2])[:, None, :]
                pch = pos - posu
            ptu = (pch @ tu[:, :, None])[..., 0]
            lg = (lam * sl).addcmul_(pch, su[:, None, :] - sl)
            if posu is not None:
                lg = lg - posu * sl
            bs = None
            if betas is not None:
                bs = (betas[j] * splits[j])[:, None, :]
                lg = lg + bs
            if track:
                if sl.shape[1] == 1:  # |lg| <= pos su - neg sl + |beta s| (su, sl >= 0): no |lg| temporary
                    neg = (lam[:1] - pos[:1]).expand_as(lam) if same else lam - pos
                    mg = self.mag[j][None, :]
                    e = (pos @ (su * mg)[:, :, None] - neg @ (sl * mg).transpose(1, 2))[..., 0]
                    if bs is not None:
                        e = e + bs.abs() @ self.mag[j]
                else:
                    e = lg.abs() @ self.mag[j]
                if posu is not None:  # the hull's products and intercepts (each within 4 mag_0; see _hull_terms)
                    e = e + (posu @ (4 * self.mag[0] + hull[1].abs())[..., None])[..., 0]
                err = err + e + ptu.abs() + const.abs()
            const = const + ptu + lg @ b[j]
            lam = lg @ W[j]
            if posu is not None:
                const = const + (posu @ hull[1][..., None])[..., 0]
                lam = lam + posu @ hull[0]
        if track:
            err = self.gamma * (err + lam.abs() @ self.mx + const.abs())
        return lam, const, lams, err

    def _concretize(self, A: Any, c: Any, box: tuple | None = None) -> Any:
        """max of A x + c over the root box, or over per-sub-problem boxes box = (lo, hi) ((B, n0) float64)."""
        if box is None:
            mid, rad = self.mid, self.rad
        else:
            mid, rad = (box[0] + box[1]) / 2, (box[1] - box[0]) / 2
        mid, rad = mid.to(A.dtype), rad.to(A.dtype)
        return (A * mid[:, None, :]).sum(-1) + (A.abs() * rad[:, None, :]).sum(-1) + c

    # ---- intermediate layers ----
    def _rows(self, k: int, B: int, f64: bool = True) -> tuple[Any, Any]:
        """lam, const of the rows [W_k; -W_k] (upper bounds of g_k and -g_k), on h_{k-1}."""
        W, b = (self.W[k], self.b[k]) if f64 else (self.Wd[k], self.bd[k])
        return self.t.cat([W, -W]).expand(B, -1, -1), self.t.cat([b, -b]).expand(B, -1)

    def _layer_bounds(self, k: int, relax: list, alphas: list | None = None, f64: bool = True,
                      box: tuple | None = None) -> tuple[Any, Any]:
        """Sound (L, U) of g_k (k >= 1) from the relaxations of layers < k, in float64 with the rounding margin."""
        B = relax[0][0].shape[0]
        lam, const = self._rows(k, B, f64)
        A, c, _, err = self._backward(lam, const, k - 1, relax, alphas, None, None, f64, track=f64)
        ub = self._concretize(A, c, box)
        if err is not None:
            ub = ub + err
        n = self.widths[k]
        return -ub[:, n:], ub[:, :n]

    def root(self, iters: int = 50, lr: float = 0.1, deadline: float | None = None) -> tuple[list, list]:
        """Hidden-layer bounds over the whole box (iter_root run to its end)."""
        return drain(self.iter_root(iters, lr, deadline))

    def iter_root(self, iters: int = 50, lr: float = 0.1, deadline: float | None = None
                  ) -> Generator[None, None, tuple[list, list]]:
        """Hidden-layer bounds over the whole box: interval arithmetic and CROWN, then alpha-CROWN with one slope per
        bounded row (each layer's upper and lower bounds optimised separately), layer by layer; the slope steps stop
        at `deadline` (perf_counter seconds; the bounds stay sound). Yields after every slope step, so that a caller
        can report progress or stop (closing it early leaves nothing behind). Lists of (1, n_k)."""
        t = self.t
        Ls, Us, relax = [], [], []
        with t.no_grad():
            for k in range(self.K):
                Wp, Wn = self.W[k].clamp(min=0), self.W[k].clamp(max=0)
                if k == 0:
                    pl, pu = self.lo, self.hi
                    mprev = self.mx
                else:
                    pl, pu = Ls[-1].clamp(min=0), Us[-1].clamp(min=0)
                    mprev = self.mag[k - 1]
                L = pl @ Wp.T + pu @ Wn.T + self.b[k]
                U = pu @ Wp.T + pl @ Wn.T + self.b[k]
                e = self.gamma * (t.abs(self.W[k]) @ mprev + t.abs(self.b[k]))
                L, U = L - e, U + e
                if k > 0:
                    Lc, Uc = self._layer_bounds(k, relax)
                    L, U = t.maximum(L, Lc), t.minimum(U, Uc)
                    if iters > 0 and bool(((L < 0) & (U > 0)).any()):
                        La, Ua = yield from self._alpha_rows(k, relax, iters, lr, deadline)
                        L, U = t.maximum(L, La), t.minimum(U, Ua)
                U = t.maximum(U, L)
                Ls.append(L)
                Us.append(U)
                relax.append(self._relax(L, U))
        return Ls, Us

    def _alpha_rows(self, k: int, relax: list, iters: int, lr: float, deadline: float | None = None
                    ) -> Generator[None, None, tuple[Any, Any]]:
        """alpha-CROWN for the rows of layer k (B = 1): per-row slopes, Adam, the best slopes per row re-checked."""
        t = self.t
        m = 2 * self.widths[k]
        rel_d = [tuple(r.to(self.dt) if r.dtype.is_floating_point else r for r in rr) for rr in relax]
        alphas = [rr[3][:, None, :].expand(1, m, -1).clone().to(self.dt).requires_grad_(True) for rr in relax[:k]]
        best = [a.detach().clone() for a in alphas]
        best_ub = None
        opt = _Adam([(alphas, lr)])
        lam, const = self._rows(k, 1, f64=False)
        for _ in range(iters):
            if deadline is not None and time.perf_counter() > deadline:
                break
            with t.enable_grad():
                A, c, _, _ = self._backward(lam, const, k - 1, rel_d, alphas, None, None, False)
                ub = self._concretize(A, c)
                loss = ub.sum()
            with t.no_grad():
                better = ub if best_ub is None else t.where(ub < best_ub, ub, best_ub)
                mask = (ub <= better)[:, :, None]
                for bj, aj in zip(best, alphas):
                    bj.copy_(t.where(mask, aj.detach(), bj))
                best_ub = better
            loss.backward()
            opt.step()
            with t.no_grad():
                for a in alphas:
                    a.clamp_(0.0, 1.0)
            yield
        with t.no_grad():
            return self._layer_bounds(k, relax, [b.to(t.float64).clamp(0, 1) for b in best])

    def refine(self, Ls: list, Us: list, from_layer: int, box: tuple | None = None) -> tuple[list, list]:
        """Re-bound layers > from_layer of sub-problems by CROWN on their own (split) relaxations, intersected with
        the given bounds (the parent's, splits applied); from_layer = -1 with per-sub-problem boxes (input splits)
        re-bounds the first layer by interval arithmetic (exact for an affine map) too. Chunked by max_floats."""
        t = self.t
        if from_layer + 1 >= self.K:
            return Ls, Us
        B = Ls[0].shape[0]
        start = max(from_layer + 1, 1)
        Ls, Us = list(Ls), list(Us)
        if from_layer < 0 and box is not None:
            with t.no_grad():
                Wp, Wn = self.W[0].clamp(min=0), self.W[0].clamp(max=0)
                e = self.gamma * (t.abs(self.W[0]) @ self.mx + t.abs(self.b[0]))
                L0 = box[0] @ Wp.T + box[1] @ Wn.T + self.b[0] - e
                U0 = box[1] @ Wp.T + box[0] @ Wn.T + self.b[0] + e
                Ls[0], Us[0] = t.maximum(Ls[0], L0), t.minimum(Us[0], U0)
        if start >= self.K:
            return Ls, Us
        cost = max(1, max(2 * self.widths[k] * max(self.widths[:k] + [self.lo.shape[1]])
                          for k in range(start, self.K)))
        chunk = max(1, self.max_floats // (4 * cost))
        with t.no_grad():
            for s in range(0, B, chunk):
                sl = slice(s, min(B, s + chunk))
                bx = None if box is None else (box[0][sl], box[1][sl])
                relax = [self._relax(L[sl], U[sl]) for L, U in zip(Ls, Us)]
                for k in range(start, self.K):
                    Lc, Uc = self._layer_bounds(k, relax, box=bx)
                    Ls[k] = Ls[k].clone() if s == 0 else Ls[k]
                    Us[k] = Us[k].clone() if s == 0 else Us[k]
                    Ls[k][sl] = t.maximum(Ls[k][sl], Lc)
                    Us[k][sl] = t.minimum(Us[k][sl], Uc)
                    relax[k] = self._relax(Ls[k][sl], Us[k][sl])
        return Ls, Us

    # ---- the output bound ----
    def output(self, Ls: list, Us: list, splits: list, alpha: list | None, beta: list | None, iters: int = 20,
               lr_alpha: float = 0.1, lr_beta: float = 0.05, box: tuple | None = None,
               deadline: float | None = None, hull: Any = None, fit_hull: bool = False) -> NodeBounds:
        """Upper bound of the output on each sub-problem (iter_output run to its end)."""
        return drain(self.iter_output(Ls, Us, splits, alpha, beta, iters, lr_alpha, lr_beta, box, deadline, hull,
                                      fit_hull))

    def iter_output(self, Ls: list, Us: list, splits: list, alpha: list | None, beta: list | None, iters: int = 20,
                    lr_alpha: float = 0.1, lr_beta: float = 0.05, box: tuple | None = None,
                    deadline: float | None = None, hull: Any = None, fit_hull: bool = False
                    ) -> Generator[None, None, NodeBounds]:
        """Upper bound of the output on each sub-problem: `iters` Adam steps on the slopes (alpha, warm start from
        the given ones or CROWN's), on the splits' multipliers (beta >= 0, warm start given or 0) and on the first
        layer's hull parameters: with self.hull and fit_hull the full T (B, n_1, n0) (warm start `hull` or the
        chord; for the root), else, once set_hull has fixed a hull, theta (B, n_1) (warm start `hull` or 0: the
        fixed hull alone); then the best of each sub-problem re-computed in float64 with its rounding margin;
        yields after every step (see iter_root). Chunked by max_floats."""
        t = self.t
        B = Ls[0].shape[0]
        n = max(self.widths + [self.lo.shape[1]])
        mode = "fit" if self.hull and fit_hull else "fixed" if self.hull and self.fixed is not None else None
        per = 8 * n * max(1, self.K) + (6 * self.widths[0] * self.lo.shape[1] if mode == "fit" else 0)
        chunk = max(1, self.max_floats // per)
        if B > chunk:
            parts = []
            for s in range(0, B, chunk):
                part = yield from self.iter_output(
                    [L[s:s + chunk] for L in Ls], [U[s:s + chunk] for U in Us], [p[s:s + chunk] for p in splits],
                    None if alpha is None else [a[s:s + chunk] for a in alpha],
                    None if beta is None else [b[s:s + chunk] for b in beta], iters, lr_alpha, lr_beta,
                    None if box is None else (box[0][s:s + chunk], box[1][s:s + chunk]), deadline,
                    None if hull is None else hull[s:s + chunk], fit_hull)
                parts.append(part)
            cat = lambda xs: t.cat(xs)  # noqa: E731
            return NodeBounds(cat([p.ub for p in parts]), cat([p.A for p in parts]), cat([p.c for p in parts]),
                              cat([p.corner for p in parts]),
                              [cat([p.lams[j] for p in parts]) for j in range(self.K)],
                              [cat([p.alpha[j] for p in parts]) for j in range(self.K)],
                              [cat([p.beta[j] for p in parts]) for j in range(self.K)],
                              cat([p.hull for p in parts]) if mode else None)
        with t.no_grad():
            relax = [self._relax(L, U) for L, U in zip(Ls, Us)]
            sp = [s.to(t.float64) for s in splits]
        if alpha is None:
            alpha = [r[3] for r in relax]
        if beta is None:
            beta = [t.zeros_like(L) for L in Ls]
        alpha = [a.to(t.float64) for a in alpha]
        beta = [b.to(t.float64) * (s != 0) for b, s in zip(beta, sp)]
        H = None
        if mode == "fit":
            H = self.hull_init(relax[0]) if hull is None else hull.to(t.float64)
        elif mode == "fixed":
            H = t.zeros_like(Ls[0]) if hull is None else hull.to(t.float64).clamp(0, 1)
        has_split = any(bool((s != 0).any()) for s in sp)
        has_unst = any(bool(r[4].any()) for r in relax)
        if iters > 0 and (has_unst or has_split):
            alpha, beta, H = yield from self._optimize(relax, sp, alpha, beta, iters, lr_alpha, lr_beta, has_split,
                                                       box, deadline, H, mode)
        with t.no_grad():
            lam = self.W[self.K].expand(B, -1, -1)
            const = self.b[self.K].expand(B, -1)
            hl = self._hull_args(H, mode, box, True)
            A, c, lams, err = self._backward(lam, const, self.K - 1, relax, alpha, beta, sp, True, track=True,
                                             hull=hl)
            ub = (self._concretize(A, c, box) + err)[:, 0]
            A, c = A[:, 0, :], c[:, 0]
            corner = t.where(A > 0, self.hi, self.lo) if box is None else t.where(A > 0, box[1], box[0])
            lams = [lm[:, 0, :] for lm in reversed(lams)]  # layer order 0..K-1
        return NodeBounds(ub, A, c, corner, lams, alpha, beta, H)

    def _hull_args(self, H: Any, mode: str | None, box: tuple | None, f64: bool) -> tuple | None:
        """_backward's `hull` argument for the parameters H of `mode` ("fit": T, "fixed": theta, None: no hull)."""
        if mode == "fit":
            return (*self._hull_terms(H, box, f64), None)
        if mode == "fixed":
            f = self.fixed if f64 else self.fixed[2:]
            return f[0], f[1], H
        return None

    def _optimize(self, relax: list, sp: list, alpha: list, beta: list, iters: int, lr_a: float, lr_b: float,
                  has_split: bool, box: tuple | None = None, deadline: float | None = None, H: Any = None,
                  mode: str | None = None) -> Generator[None, None, tuple[list, list, Any]]:
        """Projected Adam on (alpha, beta) and the hull's parameters H of `mode` (see iter_output) of every
        sub-problem at once; returns each sub-problem's best (alpha, beta, H)."""
        t = self.t
        B = alpha[0].shape[0]
        rel = [tuple(r.to(self.dt) if r.dtype.is_floating_point else r for r in rr) for rr in relax]
        spd = [s.to(self.dt) for s in sp]
        a_v = [a.detach().to(self.dt).clone().requires_grad_(True) for a in alpha]
        b_v = [b.detach().to(self.dt).clone().requires_grad_(True) for b in beta]
        h_v = [] if H is None else [H.detach().to(self.dt).clone().requires_grad_(True)]
        opt = _Adam([(a_v + h_v, lr_a)] + ([(b_v, lr_b)] if has_split else []))
        best = [v.detach().clone() for v in a_v + b_v + h_v]
        best_ub = t.full((B,), float("inf"), dtype=self.dt)
        lam = self.Wd[self.K].expand(B, -1, -1)
        const = self.bd[self.K].expand(B, -1)
        for _ in range(iters):
            if deadline is not None and time.perf_counter() > deadline:
                break
            with t.enable_grad():
                hl = self._hull_args(h_v[0], mode, box, False) if h_v else None
                A, c, _, _ = self._backward(lam, const, self.K - 1, rel, a_v, b_v, spd, False, hull=hl)
                ub = self._concretize(A, c, box)[:, 0]
                loss = ub.sum()
            with t.no_grad():
                better = ub < best_ub
                best_ub = t.where(better, ub, best_ub)
                for bx, vx in zip(best, a_v + b_v + h_v):
                    bx.copy_(t.where(better.reshape((-1,) + (1,) * (vx.dim() - 1)), vx.detach(), bx))
            loss.backward()
            opt.step()
            with t.no_grad():
                for a in a_v + h_v:
                    a.clamp_(0.0, 1.0)
                for b in b_v:
                    b.clamp_(min=0.0)
            yield
        with t.no_grad():
            na = len(a_v)
            return ([a.to(t.float64).clamp(0, 1) for a in best[:na]],
                    [b.to(t.float64).clamp(min=0) * (s != 0) for b, s in zip(best[na:2 * na], sp)],
                    best[2 * na].to(t.float64).clamp(0, 1) if h_v else None)

    def cheap_splits(self, Ls: list, Us: list, splits: list, alpha: list, beta: list, cand: Any,
                     box: tuple | None = None) -> Any:
        """Output upper bounds without optimisation or margin (dtype; the filter of smart branching) of both children of each of P sub-problems on each of its k candidate neurons (cand (P, k): flat
        indices over the hidden layers; first child active, second inactive); returns (P, k, 2). A child's
        relaxation is its parent's with that one neuron made exact (identity or zero) and its split sign set, so
        the parents' relaxations are computed once and copied (smart branching's filter, De Palma et al. 2021)."""
        t = self.t
        P, k = cand.shape
        R, dt = 2 * k, self.dt
        B = P * R
        offs = np.concatenate([[0], np.cumsum(self.widths)])
        cf = t.as_tensor(np.repeat(np.asarray(cand).reshape(-1), 2))  # (B,): child r of the flat order
        rows = t.arange(B)
        on = (rows % 2 == 0).to(dt)  # 1: the active child
        with t.no_grad():
            rel, sps = [], []
            for j, (L, U) in enumerate(zip(Ls, Us)):
                su, tu, act, ada, unst = (x.repeat_interleave(R, 0) for x in self._relax(L.to(dt), U.to(dt)))
                sp = splits[j].to(dt).repeat_interleave(R, 0)
                m = (cf >= int(offs[j])) & (cf < int(offs[j + 1]))
                r, c, a = rows[m], cf[m] - int(offs[j]), on[m]
                su[r, c], tu[r, c], act[r, c], ada[r, c], sp[r, c] = a, 0.0, a, a, 2 * a - 1
                unst[r, c] = False
                rel.append((su, tu, act, ada, unst))
                sps.append(sp)
            al = [a.to(dt).repeat_interleave(R, 0) for a in alpha]
            be = [b.to(dt).repeat_interleave(R, 0) for b in beta]
            bx = None if box is None else (box[0].repeat_interleave(R, 0), box[1].repeat_interleave(R, 0))
            A, c, _, _ = self._backward(self.Wd[self.K].expand(B, -1, -1), self.bd[self.K].expand(B, -1), self.K - 1,
                                        rel, al, be, sps, False)
            return self._concretize(A, c, bx)[:, 0].reshape(P, k, 2)
