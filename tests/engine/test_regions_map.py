"""Region polygons for the overlay: they tile the box, their heights are the network's values, every point of a
polygon has its region's activation pattern, and nets beyond the limit are refused before drawing."""
from __future__ import annotations

import numpy as np
import pytest

from nnlab.engine.analysis.regions_map import pattern_ids, region_polygons
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.exact.regions import enumerate_regions
from nnlab.errors import NnlabError

LO, HI = np.array([-2.0, -1.5]), np.array([2.0, 1.0])


def _net(hidden=(12, 10), seed=0, act="relu", inputs=2) -> NetSnapshot:
    rng = np.random.default_rng(seed)
    dims = (inputs, *hidden, 1)
    W = tuple(rng.normal(size=(dims[i + 1], dims[i])) for i in range(len(dims) - 1))
    B = tuple(rng.normal(size=dims[i + 1]) for i in range(len(dims) - 1))
    return NetSnapshot(W, B, act)


def _area(P: np.ndarray) -> float:
    x, y = P[:, 0], P[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_polygons_tile_the_box_and_heights_are_the_forward_pass(act):
    net = _net(act=act)
    rp = region_polygons(net, LO, HI)
    assert len(rp) == len(enumerate_regions(net, LO, HI)) > 20
    polys = np.split(rp.vertices, rp.offsets[1:-1])
    areas = np.array([_area(p) for p in polys])
    assert (areas > 0).all()  # counter-clockwise, non-degenerate
    assert areas.sum() == pytest.approx(float(np.prod(HI - LO)), rel=1e-9)
    f = net.forward(rp.vertices)
    assert np.max(np.abs(rp.heights - f)) < 1e-9 * max(1.0, float(np.abs(f).max()))


def test_each_polygon_interior_has_one_pattern_and_triangles_cover_it():
    net = _net(seed=3)
    rp = region_polygons(net, LO, HI)
    tri = rp.triangles
    assert tri.shape == (int((rp.counts - 2).sum()), 3)
    # centroid of every triangle: inside its region, where the forward pass equals the region's affine map
    c = rp.vertices[tri].mean(axis=1)
    a = rp.affine[rp.triangle_region]
    np.testing.assert_allclose(net.forward(c), a[:, 0] * c[:, 0] + a[:, 1] * c[:, 1] + a[:, 2], atol=1e-9)
    # the triangles' areas add up to their polygon's area
    v = rp.vertices[tri]
    a1, a2 = v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]
    tri_area = 0.5 * np.abs(a1[:, 0] * a2[:, 1] - a1[:, 1] * a2[:, 0])
    per_region = np.bincount(rp.triangle_region, tri_area, minlength=len(rp))
    polys = np.split(rp.vertices, rp.offsets[1:-1])
    np.testing.assert_allclose(per_region, [_area(p) for p in polys], rtol=1e-9, atol=1e-14)
    # neighbouring regions differ in their pattern, so ids of distinct patterns differ
    pats = np.concatenate(net.pattern(c), axis=1)
    ids = pattern_ids(pats)
    np.testing.assert_array_equal(ids, rp.ids[rp.triangle_region])
    assert len(np.unique(rp.ids)) == len(rp)


def test_edges_close_each_polygon():
    rp = region_polygons(_net(seed=5), LO, HI)
    e = rp.edges
    assert e.shape == (rp.vertices.shape[0], 2)
    # every polygon's edges form one cycle over its own vertices
    for r in (0, len(rp) // 2, len(rp) - 1):
        s, t = rp.offsets[r], rp.offsets[r + 1]
        assert sorted(e[s:t, 0]) == list(range(s, t)) and sorted(e[s:t, 1]) == list(range(s, t))
        assert e[t - 1, 1] == s


def test_limit_refuses_with_a_message_naming_it():
    net = _net(hidden=(30, 30), seed=1)
    n = len(enumerate_regions(net, LO, HI))
    assert n > 100
    with pytest.raises(NnlabError, match="more than 100 linear regions.*at most 100"):
        region_polygons(net, LO, HI, limit=100)
    assert len(region_polygons(net, LO, HI, limit=n)) == n


def test_refuses_smooth_and_non_2d_nets():
    with pytest.raises(NnlabError, match="linear"):
        region_polygons(_net(act="tanh"), LO, HI)
    with pytest.raises(NnlabError, match="2-input"):
        region_polygons(_net(inputs=3), [-1, -1, -1], [1, 1, 1])
