"""Exact 2-D linear regions: hand-made nets with known regions and optima, grid agreement, degenerate arrangements."""
import numpy as np

from nnlab.errors import NnlabError
import pytest

from nnlab.engine.model.network import initial_snapshot, snapshot_from_layers
from nnlab.engine.optimize import run_method, run_to_result
from nnlab.engine.optimize.base import BoundProgress, Incumbent
from nnlab.engine.optimize.exact.regions import enumerate_regions, iter_regions, region_count
from nnlab.engine.model.scene import InitSpec, NetworkSpec

BOX = (np.array([-1.0, -1.0]), np.array([1.0, 1.0]))


def clipped_ramp():
    """relu(x1) - relu(x1 - 0.5): 3 regions on [-1,1]^2 (x1 < 0, 0..0.5, > 0.5); max 0.5, min 0."""
    return snapshot_from_layers([(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0.0, -0.5])),
                                 (np.array([[1.0, -1.0]]), np.array([0.0]))])


def bump():
    """1 - |x1 - 0.3| - |x2 + 0.2| (coincident lines: relu(t) and relu(-t)): 4 regions; max 1 at (0.3, -0.2)."""
    W = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    return snapshot_from_layers([(W, np.array([-0.3, 0.3, 0.2, -0.2])), (-np.ones((1, 4)), np.array([1.0]))])


def linear():
    """2 x1 - 3 x2 + 1 through always-active ReLUs: 1 region; max 6 at (1, -1), min -4 at (-1, 1)."""
    return snapshot_from_layers([(np.eye(2), np.array([10.0, 10.0])), (np.array([[2.0, -3.0]]), np.array([11.0]))])


def net_of(scheme, seed, hidden=(8, 8), bias="auto"):
    return initial_snapshot(NetworkSpec(2, hidden), InitSpec(scheme=scheme, seed=seed, bias=bias))


def areas(rmap):
    out = []
    for p in rmap.polygons:
        x, y = p[:, 0], p[:, 1]
        out.append(0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
    return np.array(out)


def check_map(net, lo, hi, rmap):
    """Regions tile the box (CCW, positive areas summing to the box), patterns and affine maps are right."""
    a = areas(rmap)
    assert np.all(a > 0)
    assert a.sum() == pytest.approx(np.prod(hi - lo), rel=1e-9)
    cen = np.array([p.mean(axis=0) for p in rmap.polygons])
    pat = np.concatenate(net.pattern(cen), axis=1)
    np.testing.assert_array_equal(pat, rmap.patterns)
    aff = rmap.affine[:, 0] * cen[:, 0] + rmap.affine[:, 1] * cen[:, 1] + rmap.affine[:, 2]
    np.testing.assert_allclose(aff, net.forward(cen), rtol=1e-9, atol=1e-12)
    assert len({r.tobytes() for r in rmap.patterns}) == len(rmap)  # one region per pattern: no slivers


@pytest.mark.parametrize("net,count", [(clipped_ramp(), 3), (bump(), 4), (linear(), 1)])
def test_hand_made_region_counts(net, count):
    rmap = enumerate_regions(net, *BOX)
    assert region_count(net, *BOX) == count
    check_map(net, *BOX, rmap)


def test_one_neuron_net_has_two_regions():
    net = snapshot_from_layers([(np.array([[1.0, 1.0]]), np.array([-1.0])), (np.array([[1.0]]), np.array([0.0]))])
    lo, hi = np.zeros(2), np.ones(2)
    rmap = enumerate_regions(net, lo, hi)
    assert len(rmap) == 2
    assert sorted(areas(rmap)) == pytest.approx([0.5, 0.5])
    r = run_to_result(run_method("regions", net, lo, hi, "max"))
    assert r.value == pytest.approx(1.0) and np.allclose(r.x, [1.0, 1.0])


@pytest.mark.parametrize("net,sense,value,x", [
    (clipped_ramp(), "max", 0.5, None), (clipped_ramp(), "min", 0.0, None),
    (bump(), "max", 1.0, [0.3, -0.2]), (bump(), "min", -1.5, [-1.0, 1.0]),
    (linear(), "max", 6.0, [1.0, -1.0]), (linear(), "min", -4.0, [-1.0, 1.0]),
])
def test_known_optima(net, sense, value, x):
    r = run_to_result(run_method("regions", net, *BOX, sense=sense))
    assert r.status == "optimal" and r.method == "regions"
    assert r.value == pytest.approx(value, abs=1e-12)
    assert r.value == pytest.approx(float(net.forward(r.x)), rel=1e-6)
    assert r.bound == pytest.approx(value, abs=1e-9)
    if x is not None:
        np.testing.assert_allclose(r.x, x, atol=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_nets_match_dense_grid(seed):
    net = net_of("torch_default", seed)
    lo, hi = np.array([-2.0, -1.0]), np.array([1.0, 2.0])
    n = 301
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    grid = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
    fz = net.forward(grid)
    lip = np.prod([np.linalg.norm(w, 2) for w in net.weights])
    margin = lip * np.hypot(*(hi - lo)) / (n - 1) / 2
    rmap = enumerate_regions(net, lo, hi)
    check_map(net, lo, hi, rmap)
    for sense, pick in (("max", np.max), ("min", np.min)):
        r = run_to_result(run_method("regions", net, lo, hi, sense=sense))
        g = float(pick(fz))
        sgn = 1 if sense == "max" else -1
        assert sgn * (r.value - g) >= -1e-12
        assert sgn * (r.value - g) <= margin
        assert r.value == pytest.approx(float(net.forward(r.x)), rel=1e-6)
        assert np.all(r.x >= lo) and np.all(r.x <= hi)


@pytest.mark.parametrize("seed", [1, 2])
def test_zero_bias_nets_have_no_slivers(seed):
    """Xavier zero-bias nets: every boundary is a ray from the origin, here a box corner and an interior point."""
    net = net_of("xavier_uniform", seed, hidden=(30, 30), bias="zero")
    for lo, hi in ((np.zeros(2), np.ones(2)), (np.array([-1.0, -0.5]), np.array([1.0, 1.5]))):
        rmap = enumerate_regions(net, lo, hi)
        check_map(net, lo, hi, rmap)
        # every region is a wedge at the origin: its vertices other than the box corners lie on rays, and the
        # distinct patterns seen along a circle round the origin are exactly the regions
        t = np.linspace(0, 2 * np.pi, 200_001)[:-1]
        r = 0.5 * min(np.min(np.abs(lo[lo != 0]), initial=1.0), np.min(hi))
        pts = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
        pts = pts[np.all((pts >= lo) & (pts <= hi), axis=1)]
        seen = {row.tobytes() for row in np.concatenate(net.pattern(pts), axis=1)}
        assert seen == {row.tobytes() for row in rmap.patterns}


def test_regions_method_events_and_cancel():
    net = net_of("torch_default", 4, hidden=(40, 40))
    lo, hi = np.zeros(2), np.ones(2)
    evs = []
    gen = run_method("regions", net, lo, hi, "max")
    try:
        while True:
            evs.append(next(gen))
    except StopIteration as stop:
        res = stop.value
    incs = [e for e in evs if isinstance(e, Incumbent)]
    assert incs and incs[-1].value == pytest.approx(res.value)
    assert isinstance(evs[-1], BoundProgress) and evs[-1].bound == pytest.approx(res.bound)
    assert res.extra["regions"] == region_count(net, lo, hi)


def test_closing_the_enumeration_mid_layer_stops_it_and_frees_its_arrays(monkeypatch):
    """close() mid-enumeration: no splitting step runs after it, and the layer's split generator and the arrays it
    was given (the per-region affine maps) are garbage once the enumeration is."""
    import gc
    import weakref

    import nnlab.engine.optimize.exact.regions as R

    net = net_of("torch_default", 4, hidden=(40, 40))
    lo, hi = np.zeros(2), np.ones(2)
    steps, held = [0], []
    real = R._split_layer

    def split_layer(V, cnt, C, *a):
        inner = real(V, cnt, C, *a)
        held.append((weakref.ref(inner), weakref.ref(C)))

        def counted():
            while True:
                try:
                    n = next(inner)
                except StopIteration as stop:
                    return stop.value
                steps[0] += 1
                yield n

        return counted()

    monkeypatch.setattr(R, "_split_layer", split_layer)
    gen = iter_regions(net, lo, hi)
    for _ in range(3):
        layer, j, n = next(gen)
    assert (layer, j) == (0, 2) and n >= 1 and steps[0] == 3 and len(held) == 1  # mid-way through layer 1
    gen.close()
    assert steps[0] == 3  # no splitting step after close
    with pytest.raises(StopIteration):
        next(gen)
    del gen
    gc.collect()
    assert all(ref() is None for ref in held[0])  # the split generator and its affine maps are freed
    assert steps[0] == 3 and len(held) == 1


def test_invalid_inputs():
    net3 = initial_snapshot(NetworkSpec(3, (4,)), InitSpec(seed=1))
    with pytest.raises(NnlabError, match="2-input"):
        enumerate_regions(net3, np.zeros(3), np.ones(3))
    net = bump()
    with pytest.raises(NnlabError, match="positive width"):
        enumerate_regions(net, np.array([0.0, 0.0]), np.array([0.0, 1.0]))
    with pytest.raises(NnlabError, match="lower <= upper"):
        run_to_result(run_method("regions", net, [1.0, 0.0], [0.0, 1.0]))
    with pytest.raises(NnlabError, match="bounds"):
        enumerate_regions(net, np.zeros(3), np.ones(3))
    r = run_to_result(run_method("regions", net, *BOX, params={"max_regions": 2}))
    assert r.status == "error" and "max_regions" in r.message


@pytest.mark.parametrize("lo,hi", [((0.0, 0.0), (1.0, 1.0)), ((-1.0, 0.0), (1.0, 1.0)), ((-1.0, -0.5), (1.0, 1.5)),
                                   ((-0.3, -1.0), (0.0, 1.0))])
def test_sector_fast_path_matches_general_algorithm(lo, hi, monkeypatch):
    """Nets homogeneous around a point (lines of layer 1 through it, later biases zero) go through the sector path;
    its regions must equal those of the general polygon splitting (apex at a corner, on an edge, inside)."""
    import nnlab.engine.optimize.exact.regions as R

    lo, hi = np.array(lo), np.array(hi)
    base = net_of("xavier_uniform", 5, hidden=(20, 20), bias="zero")
    c = np.array([-0.1, 0.2]) if lo[0] < -0.1 and hi[1] > 0.2 else np.zeros(2)
    w1 = base.weights[0]
    net = snapshot_from_layers([(w1, -w1 @ c)] + list(zip(base.weights[1:], base.biases[1:])))
    assert R._apex(net, lo, hi, 1e-12) is not None
    fast = enumerate_regions(net, lo, hi)
    check_map(net, lo, hi, fast)
    monkeypatch.setattr(R, "_apex", lambda *a: None)
    slow = enumerate_regions(net, lo, hi)
    assert len(fast) == len(slow) > 10
    assert {r.tobytes() for r in fast.patterns} == {r.tobytes() for r in slow.patterns}
