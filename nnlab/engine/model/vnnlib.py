"""VNN-LIB properties (the VNN-COMP format, an SMT-LIB subset): the input box and the output constraints.

A property asserts what a counterexample satisfies: bounds on the inputs X_i and constraints on the outputs Y_j.
nnlab reads input bounds ((<= X_i c), (>= X_i c)) and output constraints that compare one output with a number or
with another output ((>= Y_0 3.99), (<= Y_0 Y_1)); each of these becomes "c^T y >= t" or "c^T y <= t".
They may be joined by `and` and `or` in any nesting (VNN-COMP writes `(assert (or (and ...) (and ...)))` for
"any of these output conditions", and sometimes for several input boxes): the assertions are expanded into cases
(disjunctive normal form, at most MAX_CASES), each a box (every X_i needs a lower and an upper bound in every case)
and a conjunction of output constraints. A counterexample is a point of some case's box that meets all of that
case's constraints. So the property holds only when every case is proven unreachable (one of its constraints has
a certified maximum below t, or minimum above t, over its box); it is violated by a point whose forward pass meets
every constraint of a case whose box holds it; otherwise it is unknown. A case with an empty box has no point and is
dropped (a property whose every case is empty is refused).
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
MAX_CASES = 1000  # disjunctive normal form cases: each costs at least one certified optimisation


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


@dataclass(frozen=True, eq=False)
class Case:
    """One disjunct of a property: a box and the output constraints a counterexample in it meets (all of them)."""

    lower: np.ndarray
    upper: np.ndarray
    constraints: tuple[OutputConstraint, ...]

    def contains(self, x: np.ndarray) -> bool:
        x = np.asarray(x, dtype=np.float64)
        return bool(np.all(x >= self.lower) and np.all(x <= self.upper))

    def met(self, x: np.ndarray, y: np.ndarray) -> bool:
        """Is x (with outputs y, its forward pass) a counterexample of this case?"""
        return self.contains(x) and all(c.met(y) for c in self.constraints)

    @property
    def text(self) -> str:
        return " and ".join(c.text for c in self.constraints) or "true"


@dataclass(frozen=True, eq=False)
class Property:
    """The cases of a property (see the module docstring). `lower`/`upper`: the box of a one-box property (the
    smallest box holding every case's box when there are several); `constraints`: the output constraints of a
    one-case property (() when there are several cases: read `cases`)."""

    lower: np.ndarray
    upper: np.ndarray
    n_outputs: int
    constraints: tuple[OutputConstraint, ...]
    cases: tuple[Case, ...] = ()

    @property
    def constrains_outputs(self) -> bool:
        return any(c.constraints for c in self.cases) or bool(self.constraints)

    @property
    def boxes(self) -> int:
        """How many different input boxes the cases have."""
        return len({(tuple(c.lower), tuple(c.upper)) for c in self.cases}) or 1


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
    """The cases (boxes and output constraints) of a VNN-LIB file (see the module docstring); `n_inputs` checks
    the input count."""
    p = Path(path)
    raw = read_regular_file(p, MAX_BYTES, "VNN-LIB property", VnnlibError)
    exprs = _parse(_tokens(raw.decode("utf-8", errors="replace")), p.name)
    declared: set[int] = set()
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
                declared.add(int(m.group(2)))
            else:
                n_y = max(n_y, int(m.group(2)) + 1)
        elif e[0] == "assert" and len(e) == 2:
            asserts.append(e[1])
        else:
            raise VnnlibError(f"{p.name}: unsupported command {_show(e)[:80]!r}")
    if sorted(declared) != list(range(len(declared))) or not declared:
        raise VnnlibError(f"{p.name}: inputs must be declared X_0 .. X_{{n-1}}")
    n_x = len(declared)
    atoms: dict[int, tuple] = {}  # id(assertion) -> its meaning, read once even when it is in many cases
    cases = []
    for k, conj in enumerate(_dnf(["and", *asserts], p.name)):
        xs: dict[int, list[float | None]] = {i: [None, None] for i in range(n_x)}
        constraints = []
        for a in conj:
            if id(a) not in atoms:
                atoms[id(a)] = _atom(a, n_x, n_y, p.name)
            kind, *rest = atoms[id(a)]
            if kind == "x":
                i, side, v = rest
                old = xs[i][side]
                xs[i][side] = v if old is None else (max(old, v) if side == 0 else min(old, v))
            else:
                constraints.append(rest[0])
        missing = [f"X_{i}" for i, (lo, hi) in sorted(xs.items()) if lo is None or hi is None]
        if missing:
            where = f" in case {k + 1} of the 'or'" if _has_or(asserts) else ""
            raise VnnlibError(f"{p.name}: {', '.join(missing[:5])} {'has' if len(missing) == 1 else 'have'} no lower "
                              f"and upper bound{where}; nnlab reads a box")
        lower = np.array([xs[i][0] for i in range(n_x)], dtype=np.float64)
        upper = np.array([xs[i][1] for i in range(n_x)], dtype=np.float64)
        if np.all(lower <= upper):  # an empty box has no counterexample: the case is dropped
            cases.append(Case(lower, upper, tuple(_simplify(c) for c in constraints)))
    if not cases:
        raise VnnlibError(f"{p.name}: the box is empty (a lower bound exceeds its upper bound)")
    if n_inputs is not None and n_x != n_inputs:
        raise VnnlibError(f"{p.name}: the property has {n_x} inputs but the network has {n_inputs}")
    lower = np.min([c.lower for c in cases], axis=0)
    upper = np.max([c.upper for c in cases], axis=0)
    return Property(lower, upper, n_y, cases[0].constraints if len(cases) == 1 else (), tuple(cases))


def _has_or(asserts: list[Any]) -> bool:
    return any(isinstance(a, list) and (a[:1] == ["or"] or _has_or(a[1:])) for a in asserts)


def _dnf(a: Any, name: str) -> list[list[Any]]:
    """The cases of an assertion: a list of conjunctions of atoms (and/or expanded), at most MAX_CASES."""
    if isinstance(a, list) and a and a[0] in ("and", "or"):
        parts = [_dnf(b, name) for b in a[1:]]
        if a[0] == "or":
            out = [c for part in parts for c in part]
        else:
            out = [[]]
            for part in parts:
                if len(out) * len(part) > MAX_CASES:
                    break
                out = [c + d for c in out for d in part]
        count = len(out) if a[0] == "or" else int(np.prod([len(part) for part in parts], dtype=float))
        if count > MAX_CASES:
            raise VnnlibError(f"{name}: the property expands to more than {MAX_CASES} cases (and/or); nnlab decides "
                              f"at most {MAX_CASES}")
        return out
    return [[a]]


def _atom(a: Any, n_x: int, n_y: int, name: str) -> tuple:
    """("x", i, side, value) for a bound on X_i (side 0: lower, 1: upper), ("y", OutputConstraint) for an output
    constraint."""
    if not isinstance(a, list) or a[:1] not in (["<="], [">="], ["<"], [">"]) or len(a) != 3 \
            or any(isinstance(v, list) for v in a[1:]):
        head = a[0] if isinstance(a, list) and a else a
        raise VnnlibError(f"{name}: assertion {_show(a)[:80]!r} is not read (nnlab reads (<= a b) and (>= a b) "
                          f"joined by 'and' and 'or'; {head!r} is not)")
    op = a[0][:1] + "="  # strict and non-strict comparisons give the same box and the same verdict bounds
    lhs, rhs = a[1], a[2]
    if op == "<=":  # write every assertion as lhs >= rhs
        lhs, rhs = rhs, lhs
    lx = re.fullmatch(r"([XY])_(\d+)", str(lhs)) if isinstance(lhs, str) else None
    rx = re.fullmatch(r"([XY])_(\d+)", str(rhs)) if isinstance(rhs, str) else None
    ln, rn = _num(lhs), _num(rhs)
    for m in (lx, rx):
        if m is not None and m.group(1) == "X" and int(m.group(2)) >= n_x:
            raise VnnlibError(f"{name}: {m.group(0)} is not declared")
    if lx and lx.group(1) == "X" and rn is not None:  # X_i >= c
        return ("x", int(lx.group(2)), 0, rn)
    if rx and rx.group(1) == "X" and ln is not None:  # c >= X_i
        return ("x", int(rx.group(2)), 1, ln)
    if (lx and lx.group(1) == "Y") or (rx and rx.group(1) == "Y"):
        c = np.zeros(n_y)
        t = 0.0
        for side, m, num in ((1.0, lx, ln), (-1.0, rx, rn)):
            if m is not None and m.group(1) == "Y":
                j = int(m.group(2))
                if j >= n_y:
                    raise VnnlibError(f"{name}: {m.group(0)} is not declared")
                c[j] += side
            elif num is not None:
                t -= side * num
            else:
                raise VnnlibError(f"{name}: assertion {_show(a)!r} mixes inputs and outputs")
        return ("y", OutputConstraint(tuple(float(v) for v in c), ">=", t, _show(a)))
    raise VnnlibError(f"{name}: assertion {_show(a)[:80]!r} is not a bound on an input (X_i and a number) or "
                      "a constraint on outputs (Y_j and a number or another Y_k)")


def _simplify(c: OutputConstraint) -> OutputConstraint:
    """y_j >= t stays; -y_j >= -t reads better as y_j <= t (minimise y_j)."""
    arr = np.array(c.c)
    if np.count_nonzero(arr) == 1 and arr[arr != 0][0] < 0:
        return OutputConstraint(tuple(float(v) for v in -arr + 0.0), "<=", -c.t + 0.0, c.text)
    return c
