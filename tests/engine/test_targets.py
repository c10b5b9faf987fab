"""Target functions: literature values, natural domains, rescaling, and how scenes use them."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nnlab.engine.model.scene import NetworkSpec, Scene, TargetSpec, load_scene, scene_from_dict
from nnlab.errors import SceneError
from nnlab.engine.model.targets import (HIMMELBLAU_LOG_EPS, TARGETS, TargetError, known_optimum, natural_domain,
                                  target_function)
from nnlab.errors import NnlabError

HIMMELBLAU_MINIMA = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]


def f(name: str, *points) -> np.ndarray:
    return TARGETS.get(name).obj(np.array(points, dtype=np.float64))


def test_himmelblau_four_minima_are_zero() -> None:
    assert np.all(np.abs(f("himmelblau", *HIMMELBLAU_MINIMA)) < 1e-8)
    assert f("himmelblau", (0.0, 0.0))[0] == 170.0  # 121 + 49


def test_altered_himmelblau_hand_values_and_capped_peaks() -> None:
    np.testing.assert_allclose(f("himmelblau_log", (0.0, 0.0), (1.0, 1.0)), [-math.log(170.0), -math.log(106.0)])
    peaks = f("himmelblau_log", *HIMMELBLAU_MINIMA)
    assert HIMMELBLAU_LOG_EPS == 1e-3
    np.testing.assert_array_equal(peaks, -math.log(1e-3))
    lo, hi = natural_domain("himmelblau_log", 2)
    g = np.linspace(-5.0, 5.0, 401)  # contains 3.0 and 2.0 exactly: the singular point (3, 2)
    X = np.column_stack([a.ravel() for a in np.meshgrid(g, g, indexing="ij")])
    Z = TARGETS.get("himmelblau_log").obj(X)
    assert np.all(np.isfinite(Z))
    assert Z.max() == pytest.approx(-math.log(1e-3)) and Z.min() == pytest.approx(-math.log(890.0))
    assert (lo, hi) == ((-5.0, -5.0), (5.0, 5.0))


@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_nd_functions_at_their_minimisers(n: int) -> None:
    zero, one = np.zeros((1, n)), np.ones((1, n))
    assert TARGETS.get("rastrigin").obj(zero)[0] == 0.0
    assert abs(TARGETS.get("ackley").obj(zero)[0]) < 1e-12
    assert TARGETS.get("griewank").obj(zero)[0] == pytest.approx(0.0, abs=1e-15)
    assert TARGETS.get("rosenbrock").obj(one)[0] == 0.0
    assert abs(TARGETS.get("levy").obj(one)[0]) < 1e-12
    st = TARGETS.get("styblinski_tang").obj(np.full((1, n), -2.903534))[0]
    assert st == pytest.approx(-39.16617 * n, abs=1e-4 * n)


def test_nd_functions_hand_values() -> None:
    assert f("rastrigin", (1.0, 0.5))[0] == pytest.approx(20.0 + (1.0 - 10.0) + (0.25 + 10.0))
    np.testing.assert_allclose(f("rosenbrock", (0.0, 0.0), (-1.0, 1.0), (1.0, 0.0)), [1.0, 4.0, 100.0])
    assert f("ackley", (1.0, 0.0))[0] == pytest.approx(20.0 * (1.0 - math.exp(-0.2 * math.sqrt(0.5))))
    assert f("griewank", (2 * math.pi, 0.0))[0] == pytest.approx(math.pi**2 / 1000.0)
    assert f("peaks", (0.0, 0.0))[0] == pytest.approx(8.0 / (3.0 * math.e))
    assert f("six_hump_camel", (1.0, 1.0))[0] == pytest.approx((4 - 2.1 + 1 / 3) + 1 + 0)
    assert f("eggholder", (0.0, 0.0))[0] == pytest.approx(-47.0 * math.sin(math.sqrt(47.0)))


def test_two_d_literature_optima() -> None:
    np.testing.assert_allclose(f("branin", (-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)), 0.397887, atol=1e-6)
    np.testing.assert_allclose(f("six_hump_camel", (0.0898, -0.7126), (-0.0898, 0.7126)), -1.0316, atol=1e-4)
    assert f("michalewicz", (2.20, 1.57))[0] == pytest.approx(-1.8013, abs=1e-3)
    assert f("eggholder", (512.0, 404.2319))[0] == pytest.approx(-959.6407, abs=1e-3)


@pytest.mark.parametrize("name", TARGETS.names())
def test_known_optimum_is_attained_and_not_beaten_on_a_grid(name: str) -> None:
    opt = known_optimum(name, 2)
    assert opt is not None and opt.sense in ("min", "max")
    fn = TARGETS.get(name).obj
    np.testing.assert_allclose(fn(np.array(opt.points)), opt.value, rtol=1e-6, atol=1e-6)
    lo, hi = natural_domain(name, 2)
    g1, g2 = np.linspace(lo[0], hi[0], 301), np.linspace(lo[1], hi[1], 301)
    Z = fn(np.column_stack([a.ravel() for a in np.meshgrid(g1, g2, indexing="ij")]))
    sign = 1.0 if opt.sense == "min" else -1.0
    assert np.all(sign * Z >= sign * opt.value - 1e-6 * max(1.0, abs(opt.value)))
    for p in opt.points:
        assert all(a - 1e-9 <= v <= b + 1e-9 for a, v, b in zip(lo, p, hi))


def test_known_optimum_in_n_dimensions() -> None:
    st = known_optimum("styblinski_tang", 4)
    assert st.value == pytest.approx(-39.16617 * 4, abs=1e-3) and st.points == ((-2.903534,) * 4,)
    assert known_optimum("levy", 3).points == ((1.0, 1.0, 1.0),)
    assert known_optimum("michalewicz", 7) is None


@pytest.mark.parametrize("entry", list(TARGETS), ids=TARGETS.names())
def test_registry_entries_are_complete_and_vectorised(entry) -> None:
    assert entry.label and entry.label != entry.name  # human-readable, not the key
    assert entry.description and "\n" not in entry.description
    dims = entry.dims
    assert dims in ("any", 2) and (dims == "any") == ("nd" in entry.flags)
    for n in ([1, 3, 6] if dims == "any" else [2]):
        lo, hi = natural_domain(entry.name, n)
        X = np.random.default_rng(n).uniform(lo, hi, size=(17, n))
        y = entry.obj(X)
        assert y.shape == (17,) and y.dtype == np.float64 and np.all(np.isfinite(y))
        np.testing.assert_allclose(y[3:4], entry.obj(X[3:4]))  # rows are independent


def test_labels_are_unique_and_name_their_function() -> None:
    """The labels are what the target menu shows: one per target, told apart, and about the right function."""
    labels = [e.label for e in TARGETS]
    assert all(lab.strip() == lab and lab for lab in labels)
    assert len({lab.casefold() for lab in labels}) == len(labels)  # no two menu entries read the same
    for e in TARGETS:
        assert e.name.split("_")[0] in e.label.casefold(), (e.name, e.label)


def test_two_d_only_target_refuses_other_input_counts() -> None:
    with pytest.raises(TargetError, match="branin"):
        f("branin", (1.0, 2.0, 3.0))


def test_natural_domain_shapes() -> None:
    assert natural_domain("branin", 2) == ((-5.0, 0.0), (10.0, 15.0))
    assert natural_domain("six_hump_camel", 2) == ((-3.0, -2.0), (3.0, 2.0))
    assert natural_domain("rastrigin", 5) == ((-5.12,) * 5, (5.12,) * 5)
    assert natural_domain("michalewicz", 3) == ((0.0,) * 3, (math.pi,) * 3)


def test_natural_domain_refuses_two_d_only_target_in_five_d() -> None:
    with pytest.raises(TargetError, match="branin") as info:
        natural_domain("branin", 5)
    assert isinstance(info.value, NnlabError) and "5" in str(info.value) and "rastrigin" in str(info.value)
    with pytest.raises(NnlabError, match="nosuch"):
        natural_domain("nosuch", 2)


def scene(name: str, n: int = 2, rescale: bool = False, expression: str = "", **net) -> Scene:
    return Scene(network=NetworkSpec(input_dim=n, **net), target=TargetSpec(name=name, rescale=rescale, expression=expression))


def test_target_function_without_rescale_is_the_target() -> None:
    fn = target_function(scene("branin"))
    P = np.array([[1.0, 2.0], [-5.0, 15.0]])
    np.testing.assert_array_equal(fn(P), f("branin", *P))


def test_target_function_rescale_maps_unit_box_to_natural_domain() -> None:
    sc = scene("branin", rescale=True)
    assert sc.domain() == ((0.0, 0.0), (1.0, 1.0))
    fn = target_function(sc)
    got = fn(np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.2]]))
    np.testing.assert_allclose(got, f("branin", (-5.0, 0.0), (10.0, 15.0), (2.5, 3.0)), rtol=1e-14)


def test_target_function_rescale_in_n_d_and_from_an_explicit_box() -> None:
    fn = target_function(scene("rastrigin", n=3, rescale=True))
    np.testing.assert_allclose(fn(np.array([[1.0, 1.0, 0.5]])), TARGETS.get("rastrigin").obj(np.array([[5.12, 5.12, 0.0]])))
    fn2 = target_function(scene("himmelblau", rescale=True, lower=(-1.0, -1.0), upper=(1.0, 3.0)))
    np.testing.assert_allclose(fn2(np.array([[-1.0, -1.0], [0.0, 1.0]])), f("himmelblau", (-5.0, -5.0), (0.0, 0.0)))


def test_target_function_expression_and_errors() -> None:
    fn = target_function(scene("expression", expression="x**2 + 3*y - x1*x2"))
    P = np.array([[1.0, 2.0], [-3.0, 0.5]])
    np.testing.assert_allclose(fn(P), P[:, 0] ** 2 + 3 * P[:, 1] - P[:, 0] * P[:, 1])
    for name in ("none", "csv"):
        with pytest.raises(TargetError, match=name):
            target_function(Scene(target=TargetSpec(name=name, csv="d.csv")))
    with pytest.raises(TargetError, match="branin"):
        target_function(scene("branin", n=4, rescale=True))
    with pytest.raises(NnlabError, match="open"):
        target_function(scene("expression", expression="open('x')"))


def test_scene_domain_uses_natural_domains() -> None:
    assert scene("branin").domain() == ((-5.0, 0.0), (10.0, 15.0))
    assert scene("rastrigin", n=4).domain() == ((-5.12,) * 4, (5.12,) * 4)
    assert scene("himmelblau_log").domain() == ((-5.0, -5.0), (5.0, 5.0))
    assert scene("eggholder", lower=(0.0, 0.0), upper=(1.0, 2.0)).domain() == ((0.0, 0.0), (1.0, 2.0))


def test_scene_validation_knows_every_target_and_refuses_two_d_only_in_five_d(tmp_path) -> None:
    for name in TARGETS.names():
        sc = scene_from_dict({"target": {"name": name}})
        assert sc.domain() == natural_domain(name, 2)
    with pytest.raises(SceneError, match="nosuch"):
        scene_from_dict({"target": {"name": "nosuch"}})
    p = tmp_path / "bad.toml"
    p.write_text('[network]\ninput_dim = 5\n[target]\nname = "branin"\n')
    with pytest.raises(SceneError, match=r"bad\.toml.*branin"):
        load_scene(p)
