"""The region overlay draws the exact polygons of the enumeration (not a grid sampling) in the 3-D view and the
heatmap, filled or as boundary lines, with the region count shown; nets beyond the limit are refused with a
message and nothing half-drawn."""
from __future__ import annotations

import numpy as np
import pytest

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.exact.regions import enumerate_regions


def _random_net(hidden=(12, 10), seed=0) -> NetSnapshot:
    rng = np.random.default_rng(seed)
    dims = (2, *hidden, 1)
    W = tuple(rng.normal(size=(dims[i + 1], dims[i])) for i in range(len(dims) - 1))
    B = tuple(rng.normal(size=dims[i + 1]) for i in range(len(dims) - 1))
    return NetSnapshot(W, B)


@pytest.fixture
def rwin(new_main_window, qtbot):
    w = new_main_window()
    qtbot.waitUntil(lambda: not w.train_panel.slot.busy, timeout=60000)
    w.doc.update("network", hidden=(12, 10), lower=(-2.0, -1.5), upper=(2.0, 1.0))
    w.doc.set_network(_random_net())
    yield w
    w.close()
    assert not w.overlays.slot.busy


def _box(win):
    lo, hi = win.doc.domain()
    return np.array(lo[:2]), np.array(hi[:2])


def _on_a_boundary(net: NetSnapshot, pts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Is each point on the zero line of some hidden neuron, or on the box edge (to rounding)?"""
    pre = np.concatenate([np.abs(g) for g in net.preactivations(pts)], axis=1)
    on_line = pre.min(axis=1) <= 1e-8 * (1.0 + np.abs(pts).sum(axis=1)) * 100
    on_edge = (np.abs(pts - lo) <= 1e-12).any(axis=1) | (np.abs(pts - hi) <= 1e-12).any(axis=1)
    return on_line | on_edge


def test_exact_polygons_in_both_views_with_the_count(rwin, qtbot):
    win = rwin
    net = win.doc.net
    lo, hi = _box(win)
    n = len(enumerate_regions(net, lo, hi))
    assert n > 30
    win.menus.show_regions.trigger()
    qtbot.waitUntil(lambda: win.overlays.rp is not None, timeout=60000)
    rp = win.overlays.rp
    assert len(rp) == n
    for lab in win.overlays.count_labels:
        assert not lab.isHidden() and f"{n:,}" in lab.text() and "linear regions" in lab.text()
    assert win.overlays.count_labels[0].isVisible()  # (the 3-D view is on screen)

    # 3-D: the facets are the polygons lifted to the network's values, drawn instead of the sampled grid
    layer = win.overlays.regions3d
    assert layer.mesh.visible() and not win.view3d.surface.visible()
    md = layer.mesh.opts["meshdata"]
    V = md.vertexes()
    want = win.view3d._map(np.column_stack([rp.vertices, net.forward(rp.vertices)]))
    np.testing.assert_allclose(V, want, atol=1e-5)
    assert md.faces().shape[0] == int((rp.counts - 2).sum())
    colours = md.vertexColors()
    assert len(np.unique(np.round(colours, 4), axis=0)) >= 0.9 * n  # one colour per region

    # heatmap: every polygon filled; the boundary segments are the polygons' edges, all on a neuron's zero line
    # or the box edge (a grid sampling has staircase edges off those lines)
    hm = win.view2d
    assert hm.region_fill.count == n and hm.region_fill.isVisible()
    x, y = hm.region_lines.getData()
    pts = np.column_stack([x, y])
    assert len(pts) == 2 * rp.edges.shape[0]
    assert _on_a_boundary(net, pts, lo, hi).all()
    grid = win.doc.xs
    off_grid = np.abs(((pts[:, 0] - grid[0]) / (grid[1] - grid[0])) % 1.0 - 0.5) < 0.49
    assert off_grid.mean() > 0.5  # not on the sampling grid

    # boundary-lines mode: no fill, lines drawn over the colormapped surface in both views
    win.menus.region_lines.trigger()
    assert win.view.region_mode == "boundaries"
    assert hm.region_fill.count == 0 and hm.region_lines.opts["pen"].widthF() >= 1.5
    assert layer.lines.visible() and layer.lines.width >= 2
    cols = layer.mesh.opts["meshdata"].vertexColors()
    assert len(np.unique(np.round(cols, 4), axis=0)) < 0.9 * n or n < 40  # colormap by height, not by region
    img = win.view3d.render_image(320, 240)  # the supersampled still/export path draws the layer too
    assert img.shape == (240, 320, 4) and layer.lines.width == 2.0  # (its widths scaled back after)
    win.set_mode("2d")
    qtbot.wait(100)
    assert win.overlays.count_labels[1].isVisible()

    # a new network: counted and drawn again
    win.doc.set_network(_random_net(seed=7))
    qtbot.waitUntil(lambda: win.overlays.rp is not None, timeout=60000)
    n2 = len(enumerate_regions(win.doc.net, lo, hi))
    assert len(win.overlays.rp) == n2 and f"{n2:,}" in win.overlays.count_labels[1].text()

    # off: the sampled surface is back, nothing of the overlay stays
    win.menus.show_regions.trigger()
    assert not layer.mesh.visible() and win.view3d.surface.visible()
    assert not hm.region_lines.isVisible() and hm.region_fill.count == 0
    assert all(lab.isHidden() for lab in win.overlays.count_labels)


def test_nets_beyond_the_limit_are_refused_with_a_message(rwin, qtbot):
    win = rwin
    errors: list[str] = []
    win.doc.error.connect(errors.append)
    win.overlays.limit = 10
    win.menus.show_regions.trigger()
    qtbot.waitUntil(lambda: bool(errors), timeout=60000)
    assert "more than 10 linear regions" in errors[-1] and "at most 10" in errors[-1]
    assert "not drawn" in win.overlays.count_labels[0].text()
    assert win.overlays.rp is None and not win.overlays.regions3d.mesh.visible()
    assert win.view3d.surface.visible() and win.view2d.region_fill.count == 0


def test_regions_of_a_smooth_net_are_refused_by_name(rwin, qtbot):
    win = rwin
    errors: list[str] = []
    win.doc.error.connect(errors.append)
    win.doc.update("network", activation="tanh")
    win.menus.show_regions.trigger()
    qtbot.waitUntil(lambda: bool(errors), timeout=60000)
    assert "tanh" in errors[-1] or "piecewise" in errors[-1] or "linear" in errors[-1]
    assert win.overlays.rp is None and win.view3d.surface.visible()


def test_regions_wait_for_training_and_come_back_for_the_trained_net(new_main_window, qtbot):
    from nnlab.engine.model.scene import Scene

    win = new_main_window()
    try:
        qtbot.waitUntil(lambda: not win.train_panel.slot.busy, timeout=60000)
        s = Scene(title="small").replace("network", hidden=(8, 8), lower=(-3.0, -3.0), upper=(3.0, 3.0))
        s = s.replace("target", name="peaks").replace("camera", resolution=40)
        # long enough to be running at a screen refresh on any machine; stopped once the overlay has reacted
        win.doc.set_scene(s.replace("train", samples=300, epochs=5000, batch_size=64, lr=0.01, surface_every=2))
        win.menus.show_regions.trigger()
        qtbot.waitUntil(lambda: win.overlays.rp is not None, timeout=60000)
        before = win.doc.net
        win.train_panel.train_btn.click()
        label = win.overlays.count_labels[0]
        qtbot.waitUntil(lambda: "when training stops" in label.text(), timeout=60000)
        assert not win.overlays.regions3d.mesh.visible() and win.view3d.surface.visible()
        win.train_panel.stop()
        qtbot.waitUntil(lambda: not win.train_panel.slot.busy, timeout=120000)
        assert win.doc.net is not before
        qtbot.waitUntil(lambda: win.overlays.rp is not None and win.overlays._for[0] is win.doc.net, timeout=60000)
        lo, hi = _box(win)
        n = len(enumerate_regions(win.doc.net, lo, hi))
        assert len(win.overlays.rp) == n and f"{n:,}" in label.text()
        assert win.overlays.regions3d.mesh.visible() and not win.view3d.surface.visible()
    finally:
        win.close()
