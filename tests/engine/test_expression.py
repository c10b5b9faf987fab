"""Custom target expressions: correct values vs numpy, and every attack refused without running anything."""
from __future__ import annotations

import builtins

import numpy as np
import pytest

from nnlab.engine.model.expression import MAX_LENGTH, ExpressionError, check_expression, compile_expression

pytestmark = pytest.mark.timeout(30)  # guards against a hang (e.g. big-int powers), not a timing assertion

RNG = np.random.default_rng(0)
X = RNG.uniform(-2.0, 2.0, 50)
Y = RNG.uniform(-2.0, 2.0, 50)

VALID = [
    ("x + y", lambda x, y: x + y),
    ("x1 * x2 - 3", lambda x, y: x * y - 3),
    ("-x**2 + 2*y", lambda x, y: -x**2 + 2 * y),
    ("2**-1 * x", lambda x, y: 0.5 * x),
    ("sin(x) * exp(-y**2)", lambda x, y: np.sin(x) * np.exp(-y**2)),
    ("sqrt(x**2 + y**2)", lambda x, y: np.hypot(x, y)),
    ("log(1 + x**2) / log10(10 + abs(y))", lambda x, y: np.log(1 + x**2) / np.log10(10 + np.abs(y))),
    ("tanh(x) + arctan(y) + atan2(y, x)", lambda x, y: np.tanh(x) + np.arctan(y) + np.arctan2(y, x)),
    ("max(x, y) - min(x, y, 0)", lambda x, y: np.maximum(x, y) - np.minimum(np.minimum(x, y), 0)),
    ("where(x > 0, x, -y)", lambda x, y: np.where(x > 0, x, -y)),
    ("(0 < x < 1) * 5", lambda x, y: ((x > 0) & (x < 1)) * 5.0),
    ("pi * e - cos(2*pi*x)", lambda x, y: np.pi * np.e - np.cos(2 * np.pi * x)),
    ("-log((x**2+y-11)**2 + (x+y**2-7)**2)", lambda x, y: -np.log((x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2)),
    ("  1.5e-1*x  ", lambda x, y: 0.15 * x),
]


@pytest.mark.parametrize("text,ref", VALID, ids=[v[0] for v in VALID])
def test_valid_expressions_match_numpy(text: str, ref) -> None:
    f = compile_expression(text)
    out = f(X, Y)
    assert out.dtype == np.float64 and out.shape == X.shape
    np.testing.assert_allclose(out, ref(X, Y), rtol=1e-12, atol=1e-12)
    assert check_expression(text) is None


def test_constant_expression_broadcasts_to_input_shape() -> None:
    out = compile_expression("2 * pi")(np.zeros((3, 4)), np.zeros((3, 4)))
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out, 2 * np.pi)


def test_other_variable_names_and_positional_aliases() -> None:
    f = compile_expression("a - 2*b + x3", variables=("a", "b", "c"))
    np.testing.assert_allclose(f(np.array([1.0]), np.array([2.0]), np.array([10.0])), [7.0])
    with pytest.raises(ExpressionError, match="'y'"):
        compile_expression("y", variables=("a", "b"))


def test_domain_errors_give_nan_not_exceptions() -> None:
    out = compile_expression("log(x)")(np.array([-1.0, 1.0]), np.array([0.0, 0.0]))
    assert np.isnan(out[0]) and out[1] == 0.0


ATTACKS = [
    ("__import__('os').system('touch {m}')", "__import__"),
    ("().__class__", "__class__"),
    ("x.__class__", "__class__"),
    ("().__class__.__bases__[0].__subclasses__()", "__"),
    ("open('{m}', 'w')", "'open'"),
    ("eval('1')", "'eval'"),
    ("exec(\"open('{m}','w')\")", "'exec'"),
    ("lambda: 1", "lambda"),
    ("[x for x in y]", "comprehension"),
    ("(x for x in y)", "comprehension"),
    ("x[0]", "indexing"),
    ("{'a': 1}", "dict"),
    ("sin(x=1)", "keyword"),
    ("'abc'", "string"),
    ("f'{x}'", "string"),
    ("np.sin(x)", "attribute"),
    ("__builtins__", "__builtins__"),
    ("(y := 3)", "assignment"),
    ("sin(*x)", "unpacking"),
    ("foo(x)", "'foo'"),
    ("sin", "'sin'"),
    ("sin(x, y)", "sin()"),
    ("x if y else 1", "where"),
    ("x and y", "and/or"),
    ("x % 2", "Mod"),
    ("x == y", "comparison"),
    ("import os", "syntax"),
    ("x = 1", "syntax"),
    ("x;y", "syntax"),
    ("x\ny", "one line"),
    ("True + x", "bool"),
    ("1j * x", "complex"),
    ("", "empty"),
]


@pytest.mark.parametrize("text,needle", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attacks_refused_naming_the_piece_and_not_run(text: str, needle: str, tmp_path, monkeypatch) -> None:
    marker = tmp_path / "pwned"
    text = text.replace("{m}", str(marker))

    def forbidden(*a, **k):
        raise AssertionError("eval/exec must never be called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    msg = str(info.value)
    assert needle in msg and "\n" not in msg
    assert check_expression(text) == msg
    assert not marker.exists()


def test_valid_expression_needs_no_eval_or_exec(monkeypatch) -> None:
    def forbidden(*a, **k):
        raise AssertionError("eval/exec must never be called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    np.testing.assert_allclose(compile_expression("x*y + 1")(np.array([2.0]), np.array([3.0])), [7.0])


@pytest.mark.parametrize("text", ["9**9**9**9", "x**9**9**9", "10**400", "1e999", "1/0", "log(0) + x", "2**2**2**2**2**2"])
def test_non_finite_constants_refused(text: str) -> None:
    with pytest.raises(ExpressionError, match="not a finite number"):
        compile_expression(text)


def test_huge_variable_power_is_bounded_float_arithmetic() -> None:
    out = compile_expression("x**(9**9)")(np.array([0.5, 1.0, 2.0]), np.zeros(3))
    assert out[0] == 0.0 and out[1] == 1.0 and out[2] == np.inf


def test_too_long_input_refused() -> None:
    with pytest.raises(ExpressionError, match=str(MAX_LENGTH)):
        compile_expression("x+" * 5000 + "x")
    assert "10000 characters" in check_expression("x" * 10000)


@pytest.mark.parametrize("text", ["-" * 300 + "x", "-(" * 120 + "x" + ")" * 120, "(" * 240 + "x" + ")" * 240])
def test_too_deep_nesting_refused(text: str) -> None:
    assert len(text) <= MAX_LENGTH
    with pytest.raises(ExpressionError):
        compile_expression(text)


def test_moderate_nesting_and_long_sums_allowed() -> None:
    f = compile_expression("+".join(["x"] * 50))
    np.testing.assert_allclose(f(np.array([2.0]), np.array([0.0])), [100.0])
    g = compile_expression("sin(" * 10 + "x" + ")" * 10)
    ref = np.array([0.7])
    for _ in range(10):
        ref = np.sin(ref)
    np.testing.assert_allclose(g(np.array([0.7]), np.array([0.0])), ref)


def test_non_string_refused() -> None:
    with pytest.raises(ExpressionError):
        compile_expression(42)  # type: ignore[arg-type]
