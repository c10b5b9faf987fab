"""User-typed target formulas ("sin(x) * exp(-y**2)") compiled safely into vectorised numpy functions.

The text is parsed with `ast` and every node is checked against a small whitelist (numbers, the variables,
+ - * / **, comparisons, a fixed table of numpy functions and constants), then turned into plain Python
closures over numpy calls. Nothing the user typed is ever passed to eval/exec, and no name is looked up by
attribute or in a namespace the user can reach, so `__import__`, `().__class__` and friends cannot run.
Constant sub-expressions are folded in float64 at compile time: `9**9**9**9` becomes inf at once (no big-int
arithmetic) and is refused, as is any other constant that is not finite (`1/0`, `log(0)`).
"""
from __future__ import annotations

import ast
from typing import Callable

import numpy as np

from nnlab.errors import NnlabError

MAX_LENGTH = 500
MAX_DEPTH = 100
MAX_NODES = 400


class ExpressionError(NnlabError):
    """The expression is not allowed or not valid; the message is one line naming the offending piece."""


def _minimum(*a: np.ndarray) -> np.ndarray:
    out = a[0]
    for v in a[1:]:
        out = np.minimum(out, v)
    return out


def _maximum(*a: np.ndarray) -> np.ndarray:
    out = a[0]
    for v in a[1:]:
        out = np.maximum(out, v)
    return out


# name -> (numpy function, min args, max args); the only callables an expression can reach
FUNCTIONS: dict[str, tuple[Callable[..., np.ndarray], int, int]] = {
    "sin": (np.sin, 1, 1), "cos": (np.cos, 1, 1), "tan": (np.tan, 1, 1),
    "arcsin": (np.arcsin, 1, 1), "arccos": (np.arccos, 1, 1), "arctan": (np.arctan, 1, 1),
    "asin": (np.arcsin, 1, 1), "acos": (np.arccos, 1, 1), "atan": (np.arctan, 1, 1),
    "arctan2": (np.arctan2, 2, 2), "atan2": (np.arctan2, 2, 2), "hypot": (np.hypot, 2, 2),
    "sinh": (np.sinh, 1, 1), "cosh": (np.cosh, 1, 1), "tanh": (np.tanh, 1, 1),
    "arcsinh": (np.arcsinh, 1, 1), "arccosh": (np.arccosh, 1, 1), "arctanh": (np.arctanh, 1, 1),
    "exp": (np.exp, 1, 1), "expm1": (np.expm1, 1, 1), "log": (np.log, 1, 1), "ln": (np.log, 1, 1),
    "log2": (np.log2, 1, 1), "log10": (np.log10, 1, 1), "log1p": (np.log1p, 1, 1),
    "sqrt": (np.sqrt, 1, 1), "cbrt": (np.cbrt, 1, 1), "abs": (np.abs, 1, 1), "sign": (np.sign, 1, 1),
    "floor": (np.floor, 1, 1), "ceil": (np.ceil, 1, 1),
    "min": (_minimum, 2, 16), "max": (_maximum, 2, 16), "minimum": (_minimum, 2, 16), "maximum": (_maximum, 2, 16),
    "where": (lambda c, a, b: np.where(c != 0, a, b), 3, 3), "clip": (np.clip, 3, 3),
}
CONSTANTS: dict[str, float] = {"pi": float(np.pi), "e": float(np.e), "tau": float(2 * np.pi)}

_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power}
_CMPOPS = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal}
_NODE_NAMES = {
    ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "lambda",
    ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension", ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict",
    ast.Set: "a set", ast.IfExp: "if/else (use where(cond, a, b))", ast.BoolOp: "and/or",
    ast.NamedExpr: "assignment", ast.Starred: "* unpacking", ast.JoinedStr: "a string",
    ast.Slice: "a slice", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
}

Node = Callable[[tuple], np.ndarray]


def _piece(text: str, node: ast.AST) -> str:
    seg = ast.get_source_segment(text, node) or type(node).__name__
    return repr(seg if len(seg) <= 40 else seg[:37] + "...")


class _Compiler:
    def __init__(self, text: str, variables: tuple[str, ...]) -> None:
        self.text = text
        self.index = {v: i for i, v in enumerate(variables)}
        for i, v in enumerate(variables):
            self.index.setdefault(f"x{i + 1}", i)
        self.nodes = 0

    def fail(self, node: ast.AST, what: str) -> ExpressionError:
        return ExpressionError(f"not allowed: {what} in {_piece(self.text, node)}")

    def compile(self, node: ast.AST, depth: int) -> tuple[Node, bool]:
        """A closure for `node` (constants folded), and whether it is constant (uses no variable)."""
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise ExpressionError(f"the expression is too deeply nested or too long (limit {MAX_DEPTH} levels, {MAX_NODES} parts)")
        fn, const = self._compile(node, depth + 1)
        if not const:
            return fn, False
        with np.errstate(all="ignore"):
            value = np.asarray(fn(()), dtype=np.float64)
        if not np.all(np.isfinite(value)):
            raise ExpressionError(f"the constant {_piece(self.text, node)} is not a finite number ({float(value)})")
        return (lambda env, v=value: v), True

    def _compile(self, node: ast.AST, depth: int) -> tuple[Node, bool]:
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self.fail(node, "a string" if isinstance(v, (str, bytes)) else f"the value {type(v).__name__}")
            try:
                f = np.float64(v)
            except OverflowError:
                raise ExpressionError(f"the number {_piece(self.text, node)} is too large") from None
            return (lambda env, f=f: f), True
        if isinstance(node, ast.Name):
            name = node.id
            if name in self.index:
                i = self.index[name]
                return (lambda env, i=i: env[i]), False
            if name in CONSTANTS:
                c = np.float64(CONSTANTS[name])
                return (lambda env, c=c: c), True
            if name in FUNCTIONS:
                raise ExpressionError(f"function {name!r} must be called, e.g. {name}(x)")
            allowed = ", ".join([*self.index, *CONSTANTS])
            raise ExpressionError(f"unknown name {name!r}; allowed: {allowed} and functions like sin(x)")
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise self.fail(node, f"the operator {type(node.op).__name__}")
            a, ca = self.compile(node.left, depth)
            b, cb = self.compile(node.right, depth)
            return (lambda env: op(a(env), b(env))), ca and cb
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise self.fail(node, f"the operator {type(node.op).__name__}")
            a, ca = self.compile(node.operand, depth)
            if isinstance(node.op, ast.UAdd):
                return a, ca
            return (lambda env: np.negative(a(env))), ca
        if isinstance(node, ast.Compare):
            return self._compare(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise self.fail(node, _NODE_NAMES.get(type(node), type(node).__name__))

    def _compare(self, node: ast.Compare, depth: int) -> tuple[Node, bool]:
        ops = [_CMPOPS.get(type(o)) for o in node.ops]
        if any(o is None for o in ops):
            raise self.fail(node, "this comparison (use <, <=, >, >=)")
        parts = [self.compile(n, depth) for n in [node.left, *node.comparators]]
        fns = [p[0] for p in parts]

        def cmp(env: tuple) -> np.ndarray:
            vals = [f(env) for f in fns]
            out = ops[0](vals[0], vals[1])
            for k in range(1, len(ops)):
                out = np.logical_and(out, ops[k](vals[k], vals[k + 1]))
            return out.astype(np.float64)

        return cmp, all(p[1] for p in parts)

    def _call(self, node: ast.Call, depth: int) -> tuple[Node, bool]:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node.func, "calling anything but a named function")
        name = node.func.id
        if name not in FUNCTIONS:
            raise ExpressionError(f"function {name!r} is not allowed; allowed: {', '.join(FUNCTIONS)}")
        if node.keywords:
            raise self.fail(node, "keyword arguments")
        fn, lo, hi = FUNCTIONS[name]
        if not lo <= len(node.args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise ExpressionError(f"{name}() takes {want} argument{'s' if hi > 1 else ''}, got {len(node.args)}: {_piece(self.text, node)}")
        parts = [self.compile(a, depth) for a in node.args]
        fns = [p[0] for p in parts]
        return (lambda env: fn(*[f(env) for f in fns])), all(p[1] for p in parts)


def compile_expression(text: str, variables: tuple[str, ...] = ("x", "y")) -> Callable[..., np.ndarray]:
    """A vectorised float64 function of the variables (positional arrays, broadcast together).

    `x1, x2, ...` are aliases for the variables by position. Raises ExpressionError (an NnlabError) with a
    one-line message naming what is wrong.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    src = text.strip()
    if not src:
        raise ExpressionError("the expression is empty")
    if "\n" in src or "\r" in src:
        raise ExpressionError("the expression must be on one line")
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as e:
        col = f" at column {e.offset}" if e.offset else ""
        raise ExpressionError(f"syntax error{col}: {e.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("the expression cannot be parsed (too deeply nested?)") from None
    nodes = list(ast.walk(tree))  # the dangerous pieces first, so that they are the ones named
    for n in nodes:
        if isinstance(n, ast.Name) and n.id.startswith("_"):
            raise ExpressionError(f"not allowed: the name {n.id!r} (names starting with '_')")
    for n in nodes:
        if isinstance(n, ast.Attribute):
            raise ExpressionError(f"not allowed: attribute access '.{n.attr}' in {_piece(src, n)}")
    body = _Compiler(src, tuple(variables)).compile(tree.body, 0)[0]
    nvar = len(variables)

    def evaluate(*args: np.ndarray) -> np.ndarray:
        if len(args) != nvar:
            raise TypeError(f"expected {nvar} arrays ({', '.join(variables)}), got {len(args)}")
        env = tuple(np.asarray(a, dtype=np.float64) for a in args)
        with np.errstate(all="ignore"):
            out = np.asarray(body(env), dtype=np.float64)
        return np.broadcast_to(out, np.broadcast_shapes(out.shape, *(a.shape for a in env))).copy()

    evaluate.__doc__ = f"f({', '.join(variables)}) = {src}"
    return evaluate


def check_expression(text: str, variables: tuple[str, ...] = ("x", "y")) -> str | None:
    """For live validation while typing: None if the expression compiles, else the one-line message."""
    try:
        compile_expression(text, variables)
    except ExpressionError as e:
        return str(e)
    return None
