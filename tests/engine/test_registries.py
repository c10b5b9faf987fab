"""Typed registries: entries validated when registered, explicit display order, and every registry the scene, the
CLI and the panels read (bias rules, sampling schemes, training optimizers, schedules, colormaps)."""
from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from nnlab.engine.registry import Entry, Registry
from nnlab.errors import LimitError, NnlabError


def _noop() -> None:
    return None


# ----- the generic registry -----

@pytest.mark.parametrize("name, label, needle", [
    ("Bad Name", "x", "expected a lower-case identifier"),
    ("9lives", "x", "expected a lower-case identifier"),
    ("", "x", "expected a lower-case identifier"),
    ("fine", "", "has no label"),
    ("fine", "   ", "has no label"),
])
def test_bad_entries_are_refused_when_registered(name, label, needle) -> None:
    reg: Registry[Entry] = Registry("thing")
    with pytest.raises(ValueError, match=needle):
        reg.add(Entry(name, _noop, label))
    assert len(reg) == 0


def test_a_name_twice_and_a_foreign_entry_type_are_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Special(Entry):
        extra_field: int = 0

    reg: Registry[Special] = Registry("special", Special)
    reg.register("one", label="One", extra_field=3)(_noop)
    assert reg.get("one").extra_field == 3 and reg.get("one").obj is _noop
    with pytest.raises(ValueError, match="special 'one' is already registered"):
        reg.add(Special("one", _noop, "Again"))
    with pytest.raises(TypeError, match="holds Special entries, not Entry"):
        reg.add(Entry("two", _noop, "Two"))
    with pytest.raises(TypeError):  # a field the kind does not have is a typo, not an untyped extra
        reg.register("three", label="Three", colour="red")(_noop)
    assert reg.names() == ["one"]


def test_display_order_is_explicit_then_registration_order() -> None:
    reg: Registry[Entry] = Registry("thing")
    for name, order in (("c", 5), ("a", 0), ("b", 5), ("d", -1)):
        reg.add(Entry(name, _noop, name.upper(), order=order, flags=("f",) if name in "ab" else ()))
    assert reg.names() == ["d", "a", "c", "b"]
    assert [e.name for e in reg] == reg.names()
    assert reg.names("f") == ["a", "b"]
    reg.add(Entry("e", _noop, "E", order=1))  # a later entry lands by its order, not at the end
    assert reg.names() == ["d", "a", "e", "c", "b"]
    with pytest.raises(NnlabError, match=r"^unknown thing 'z'; allowed: d, a, e, c, b$"):
        reg.get("z")
    with pytest.raises(NnlabError):
        reg.get(["not", "hashable"])  # a wrong type from a file is a user error too


# ----- typed entries of each kind -----

def test_init_entries_carry_variance_and_default_bias() -> None:
    from nnlab.engine.model.inits import BIAS_RULES, INITS, InitScheme

    assert INITS.get("torch_default").default_bias == "fan_in"
    assert {e.default_bias for e in INITS if e.name != "torch_default"} == {"zero"}
    with pytest.raises(ValueError, match="has no variance"):
        InitScheme("mine", _noop, "Mine")
    with pytest.raises(ValueError, match="default_bias 'sometimes' is not a bias rule"):
        InitScheme("mine", _noop, "Mine", variance=lambda fo, fi, s: 1.0, default_bias="sometimes")
    assert BIAS_RULES.names() == ["zero", "constant", "uniform", "normal", "fan_in"]


@pytest.mark.parametrize("rule", ["zero", "constant", "uniform", "normal", "fan_in"])
def test_every_bias_rule_draws_its_documented_values(rule) -> None:
    from nnlab.engine.model.inits import BIAS_RULES
    from nnlab.engine.model.scene import InitSpec

    spec = InitSpec(bias=rule, bias_value=0.5)
    b = BIAS_RULES.get(rule).obj(20000, 16, np.random.default_rng(0), spec)
    assert b.shape == (20000,)
    expected = {"zero": (0.0, 0.0, 0.0), "constant": (0.5, 0.0, 0.5), "uniform": (0.0, 0.25 / 3, 0.5),
                "normal": (0.0, 0.25, None), "fan_in": (0.0, (0.25 ** 2) / 3, 0.25)}[rule]
    mean, var, bound = expected
    assert abs(b.mean() - mean) < 0.02 and abs(b.var() - var) < 0.1 * var + 1e-12
    if bound is not None:
        assert np.all(np.abs(b) <= bound)


def test_target_entries_flag_n_d_from_their_dims() -> None:
    from nnlab.engine.model.targets import TARGETS, TargetEntry

    assert all(("nd" in e.flags) == (e.dims == "any") for e in TARGETS)
    e = TargetEntry("t", _noop, "T", dims="any", domain=(0.0, 1.0), optimum=lambda k: None)
    assert "nd" in e.flags
    with pytest.raises(ValueError, match="the flag 'nd' is for targets with dims = 'any'"):
        TargetEntry("t", _noop, "T", dims=2, flags=("nd",), domain=(0.0, 1.0), optimum=lambda k: None)
    with pytest.raises(ValueError, match="needs a domain"):
        TargetEntry("t", _noop, "T", dims=2)


# ----- sampling schemes: one implementation for training data and the sampling baselines -----

LO, HI = np.array([-1.0, 0.0, 2.0]), np.array([1.0, 0.5, 3.0])


@pytest.mark.parametrize("scheme", ["uniform", "lhs"])
def test_sampling_in_batches_gives_the_same_points_as_at_once(scheme) -> None:
    from nnlab.engine.model.sampling import sample_points

    whole = np.concatenate(list(sample_points(scheme, 1000, LO, HI, np.random.default_rng(4))))
    parts = list(sample_points(scheme, 1000, LO, HI, np.random.default_rng(4), batch=64))
    assert [len(p) for p in parts] == [64] * 15 + [40]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert whole.shape == (1000, 3) and np.all(whole >= LO) and np.all(whole <= HI)


def test_lhs_puts_one_point_in_every_stratum_of_every_axis() -> None:
    from nnlab.engine.model.sampling import sample_points

    n = 50
    X = next(sample_points("lhs", n, LO, HI, np.random.default_rng(1)))
    strata = np.floor((X - LO) / (HI - LO) * n).astype(int)
    for k in range(3):
        assert sorted(strata[:, k]) == list(range(n))


def test_grid_sampling_is_the_regular_grid_in_c_order() -> None:
    from nnlab.engine.model.sampling import SAMPLING, sample_points

    X = np.concatenate(list(sample_points("grid", 30, LO, HI, np.random.default_rng(0), batch=7)))
    axes = [np.linspace(LO[i], HI[i], 3) for i in range(3)]  # floor(30^(1/3)) = 3 per axis
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    np.testing.assert_array_equal(X, mesh)
    assert not SAMPLING.get("grid").exact_count and SAMPLING.get("uniform").exact_count
    with pytest.raises(NnlabError, match="grid sampling needs at least 2\\^3 points for 3 inputs"):
        sample_points("grid", 7, LO, HI, np.random.default_rng(0))


def test_lhs_memory_limit_is_refused() -> None:
    from nnlab.engine.model.sampling import MAX_LHS_VALUES, sample_points

    with pytest.raises(LimitError, match="Latin hypercube samples"):
        next(sample_points("lhs", MAX_LHS_VALUES // 3 + 1, LO, HI, np.random.default_rng(0)))


def test_the_sampling_baselines_draw_from_the_engine_schemes() -> None:
    from nnlab.engine.optimize.heuristics.baselines import iter_points
    from nnlab.engine.model.sampling import sample_points

    for scheme in ("uniform", "lhs"):
        a = np.concatenate(list(iter_points(scheme, 300, LO, HI, 9, 100)))
        b = np.concatenate(list(sample_points(scheme, 300, LO, HI, np.random.default_rng(9))))
        np.testing.assert_array_equal(a, b)


# ----- training optimizers and schedules -----

def test_training_optimizers_build_their_torch_optimizer() -> None:
    import torch

    from nnlab.engine.model.scene import TrainSpec
    from nnlab.engine.model.learning import OPTIMIZERS

    params = [torch.nn.Parameter(torch.zeros(3))]
    tr = TrainSpec(lr=0.05, momentum=0.7)
    kinds = {e.name: type(e.obj(params, tr)) for e in OPTIMIZERS}
    assert kinds == {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "lbfgs": torch.optim.LBFGS}
    sgd = OPTIMIZERS.get("sgd").obj(params, tr)
    assert sgd.param_groups[0]["lr"] == 0.05 and sgd.param_groups[0]["momentum"] == 0.7
    assert [e.name for e in OPTIMIZERS if e.full_batch] == ["lbfgs"]
    assert OPTIMIZERS.names("momentum") == ["sgd"]


def test_schedules_give_the_documented_rates() -> None:
    from nnlab.engine.model.learning import SCHEDULES

    const, cos, step = (SCHEDULES.get(n).obj for n in ("constant", "cosine", "step"))
    assert [const(0.2, f) for f in (0.0, 0.6, 1.0)] == [0.2, 0.2, 0.2]
    assert cos(0.2, 0.0) == 0.2 and cos(0.2, 0.5) == pytest.approx(0.1) and cos(0.2, 1.0) == pytest.approx(0.0)
    assert cos(0.2, 1.5) == cos(0.2, 1.0)  # past the end it stays at the end
    assert [step(1.0, f) for f in (0.49, 0.5, 0.74, 0.75)] == pytest.approx([1.0, 0.1, 0.1, 0.01])


# ----- colormaps: the engine holds the numbers -----

def _pyqtgraph_maps() -> Path | None:
    spec = importlib.util.find_spec("pyqtgraph")  # found without importing it (it would load Qt)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "colors" / "maps"


@pytest.mark.parametrize("name", ["viridis", "cividis", "plasma", "inferno", "magma", "turbo"])
def test_colormap_stops_are_the_published_tables(name) -> None:
    """The stops are pyqtgraph's CSV of the map rounded to bytes (int(255 c + 0.5), as pyqtgraph reads them)."""
    from nnlab.engine.model.colormaps import COLORMAPS, lookup_table

    folder = _pyqtgraph_maps()
    if folder is None or not (folder / f"{name}.csv").is_file():
        pytest.skip("pyqtgraph's colour tables are not installed")
    rows = [ln.split(";")[0].split(",") for ln in (folder / f"{name}.csv").read_text().splitlines()
            if ln.strip() and not ln.startswith(";")]
    published = np.array([[int(255 * float(c) + 0.5) for c in r[:3]] for r in rows], dtype=np.float64)
    np.testing.assert_array_equal(COLORMAPS.get(name).obj, published)
    lut = lookup_table(name, len(published))  # as many colours as stops: the stops themselves
    np.testing.assert_array_equal(lut[:, :3], (published / 255.0).astype(np.float32))
    assert np.all(lut[:, 3] == 1.0) and not lut.flags.writeable


def test_coolwarm_interpolates_and_colorize_maps_nan_to_the_middle() -> None:
    from nnlab.engine.model.colormaps import colorize, lookup_table

    lut = lookup_table("coolwarm", 17)  # 9 stops: every other colour is a stop, the ones between are means
    assert lut.shape == (17, 4) and lut.dtype == np.float32
    np.testing.assert_allclose(lut[0, :3] * 255, [59, 76, 192], rtol=1e-6)
    np.testing.assert_allclose(lut[1, :3] * 255, [(59 + 98) / 2, (76 + 130) / 2, (192 + 234) / 2], rtol=1e-6)
    rgba = colorize(np.array([[0.0, np.nan], [1.0, 7.0]]), "coolwarm")
    big = lookup_table("coolwarm")
    assert rgba.shape == (2, 2, 4)
    np.testing.assert_array_equal(rgba[0, 1], big[128]) and np.testing.assert_array_equal(rgba[1, 1], big[-1])
    with pytest.raises(NnlabError, match="unknown colormap 'jet'; allowed: viridis"):
        lookup_table("jet")


# ----- the scene's choices are the registries' names -----

def test_scene_choices_are_read_from_the_registries() -> None:
    from nnlab.engine.model.colormaps import COLORMAPS
    from nnlab.engine.model import activations
    from nnlab.engine.model.inits import BIAS_RULES, INITS
    from nnlab.engine.model.scene import SECTIONS
    from nnlab.engine.model.targets import TARGETS
    from nnlab.engine.model.learning import OPTIMIZERS, SCHEDULES
    from nnlab.engine.model.sampling import SAMPLING

    def choices(section: str, name: str) -> tuple:
        return next(tuple(f.metadata["choices"]) for f in dataclasses.fields(SECTIONS[section]) if f.name == name)

    assert choices("network", "activation") == activations.names()
    assert choices("init", "scheme") == tuple(INITS.names())
    assert choices("init", "bias") == ("auto", *BIAS_RULES.names())
    assert choices("target", "name") == ("none", "expression", "csv", *TARGETS.names())
    assert choices("train", "sampling") == tuple(SAMPLING.names())
    assert choices("train", "optimizer") == tuple(OPTIMIZERS.names())
    assert choices("train", "schedule") == tuple(SCHEDULES.names())
    assert choices("camera", "colormap") == tuple(COLORMAPS.names())


# ----- torch threads -----

def test_torch_threads_are_set_for_a_stretch_and_restored_on_error() -> None:
    import torch

    from nnlab.engine.threads import torch_threads

    before = torch.get_num_threads()
    want = 1 if before != 1 else 2
    with pytest.raises(RuntimeError, match="inside"):
        with torch_threads(want):
            assert torch.get_num_threads() == want
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before
    with torch_threads(0):  # 0: leave it alone
        assert torch.get_num_threads() == before
