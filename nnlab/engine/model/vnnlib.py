"""VNN-LIB properties (the VNN-COMP format, an SMT-LIB subset): the input box and the output constraints.

A property asserts what a counterexample satisfies: bounds on the inputs X_i and constraints on the outputs Y_j.
nnlab reads the box (every X_i needs a lower and an upper bound: (<= X_i c), (>= X_i c)) and output constraints that
compare one output with a number or with another output ((>= Y_0 3.99), (<= Y_0 Y_1)), joined by the top-level
conjunction. Each becomes "c^T y >= t" or "c^T y <= t": a counterexample must meet every one, so the property
holds as soon as one of them is proven unreachable over the box (its certified maximum is below t, or minimum above
t), and it is violated by a point whose forward pass meets them all. Disjunctions ((or ...): several input boxes or
alternative output constraints) are refused by name.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.engine.files import read_regular_file
from nnlab.errors import NnlabError

MAX_BYTES = 10_000_000


class VnnlibError(NnlabError):
    """A VNN-LIB file nnlab cannot read; one line naming the file."""


@dataclass(frozen=True)
class OutputConstraint:
    """c^T y (op) t over the outputs y; `text` is the assertion as written."""

    c: tuple[float, ...]
    op: str  # ">=" or "<="
    t: float
    text: str

    @property
    def sense(self) -> str:
        """The optimisation that decides it: maximise c^T y for >=, minimise for <=."""
        return "max" if self.op == ">=" else "min"

    def met(self, y: np.ndarray) -> bool:
        v = float(np.dot(self.c, y))
        return v >= self.t if self.op == ">=" else v <= self.t

    def unreachable(self, bound: float | None) -> bool:
        """True when a certified bound on the optimum of c^T y over the box proves the constraint is never met."""
        if bound is None or not np.isfinite(bound):
            return False
        return bound < self.t if self.op == ">=" else bound > self.t


@dataclass(frozen=True)
class Property:
    lower: np.ndarray
    upper: np.ndarray
    n_outputs: int
    constraints: tuple[OutputConstraint, ...]


def _tokens(text: str) -> list[str]:
    text = re.sub(r";[^\n]*", " ", text)
    return re.findall(r"\(|\)|[^\s()]+", text)


def _parse(tokens: list[str], name: str) -> list[Any]:
    stack: list[list[Any]] = [[]]
    for tok in tokens:
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise VnnlibError(f"{name}: unbalanced ')'")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise VnnlibError(f"{name}: unbalanced '('")
    return stack[0]


def _show(e: Any) -> str:
    return "(" + " ".join(_show(x) for x in e) + ")" if isinstance(e, list) else str(e)


def _num(tok: Any) -> float | None:
    if isinstance(tok, str):
        try:
            v = float(tok)
        except ValueError:
            return None
        return v if np.isfinite(v) else None
    return None


def read_vnnlib(path: str | os.PathLike, n_inputs: int | None = None) -> Property:
    """The box and output constraints of a VNN-LIB file (see the module docstring); `n_inputs` checks the count."""
    p = Path(path)
    raw = read_regular_file(p, MAX_BYTES, "VNN-LIB property", VnnlibError)
    exprs = _parse(_tokens(raw.decode("utf-8", errors="replace")), p.name)
    xs: dict[int, list[float | None]] = {}
    n_y = 0
    asserts = []
    for e in exprs:
        if not isinstance(e, list) or not e:
            raise VnnlibError(f"{p.name}: unexpected {_show(e)!r} at the top level")
        if e[0] == "declare-const":
            m = re.fullmatch(r"([XY])_(\d+)", str(e[1])) if len(e) == 3 else None
            if m is None:
                raise VnnlibError(f"{p.name}: {_show(e)} declares neither X_i nor Y_j")
            if m.group(1) == "X":
                xs[int(m.group(2))] = [None, None]
            else:
                n_y = max(n_y, int(m.group(2)) + 1)
        elif e[0] == "assert" and len(e) == 2:
            asserts.append(e[1])
        else:
            raise VnnlibError(f"{p.name}: unsupported command {_show(e)[:80]!r}")
    if sorted(xs) != list(range(len(xs))) or not xs:
        raise VnnlibError(f"{p.name}: inputs must be declared X_0 .. X_{{n-1}}")
    conjuncts = []
    while asserts:
        a = asserts.pop(0)
        if isinstance(a, list) and a and a[0] == "and":
            asserts[:0] = a[1:]
        else:
            conjuncts.append(a)
    constraints = []
    for a in conjuncts:
        if not isinstance(a, list) or a[:1] not in (["<="], [">="], ["<"], [">"]) or len(a) != 3 \
                or any(isinstance(v, list) for v in a[1:]):
            head = a[0] if isinstance(a, list) and a else a
            raise VnnlibError(f"{p.name}: assertion {_show(a)[:80]!r} is not read (nnlab reads (<= a b) and (>= a b) "
                              f"joined by 'and'; {head!r} is not)")
        op = a[0][:1] + "="  # strict and non-strict comparisons give the same box and the same verdict bounds
        lhs, rhs = a[1], a[2]
        if op == "<=":  # write every assertion as lhs >= rhs
            lhs, rhs = rhs, lhs
        lx = re.fullmatch(r"([XY])_(\d+)", str(lhs)) if isinstance(lhs, str) else None
        rx = re.fullmatch(r"([XY])_(\d+)", str(rhs)) if isinstance(rhs, str) else None
        ln, rn = _num(lhs), _num(rhs)
        if lx and lx.group(1) == "X" and rn is not None:  # X_i >= c
            _bound(xs, int(lx.group(2)), 0, rn, p.name)
        elif rx and rx.group(1) == "X" and ln is not None:  # c >= X_i
            _bound(xs, int(rx.group(2)), 1, ln, p.name)
        elif (lx and lx.group(1) == "Y") or (rx and rx.group(1) == "Y"):
            c = np.zeros(n_y)
            t = 0.0
            for side, m, num in ((1.0, lx, ln), (-1.0, rx, rn)):
                if m is not None and m.group(1) == "Y":
                    j = int(m.group(2))
                    if j >= n_y:
                        raise VnnlibError(f"{p.name}: {m.group(0)} is not declared")
                    c[j] += side
                elif num is not None:
                    t -= side * num
                else:
                    raise VnnlibError(f"{p.name}: assertion {_show(a)!r} mixes inputs and outputs")
            constraints.append(OutputConstraint(tuple(float(v) for v in c), ">=", t, _show(a)))
        else:
            raise VnnlibError(f"{p.name}: assertion {_show(a)[:80]!r} is not a bound on an input (X_i and a number) or "
                              "a constraint on outputs (Y_j and a number or another Y_k)")
    missing = [f"X_{i}" for i, (lo, hi) in sorted(xs.items()) if lo is None or hi is None]
    if missing:
        raise VnnlibError(f"{p.name}: {', '.join(missing[:5])} {'has' if len(missing) == 1 else 'have'} no lower and "
                          "upper bound; nnlab reads a box")
    lower = np.array([xs[i][0] for i in range(len(xs))], dtype=np.float64)
    upper = np.array([xs[i][1] for i in range(len(xs))], dtype=np.float64)
    if np.any(lower > upper):
        raise VnnlibError(f"{p.name}: the box is empty (a lower bound exceeds its upper bound)")
    if n_inputs is not None and lower.size != n_inputs:
        raise VnnlibError(f"{p.name}: the property has {lower.size} inputs but the network has {n_inputs}")
    return Property(lower, upper, n_y, tuple(_simplify(c) for c in constraints))


def _bound(xs: dict[int, list[float | None]], i: int, side: int, v: float, name: str) -> None:
    if i not in xs:
        raise VnnlibError(f"{name}: X_{i} is not declared")
    old = xs[i][side]
    xs[i][side] = v if old is None else (max(old, v) if side == 0 else min(old, v))


def _simplify(c: OutputConstraint) -> OutputConstraint:
    """y_j >= t stays; -y_j >= -t reads better as y_j <= t (minimise y_j)."""
    arr = np.array(c.c)
    if np.count_nonzero(arr) == 1 and arr[arr != 0][0] < 0:
        return OutputConstraint(tuple(float(v) for v in -arr + 0.0), "<=", -c.t + 0.0, c.text)
    return c
