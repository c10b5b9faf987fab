"""The Network diagram dock in the real window: edges show the weights (colour = sign, width = magnitude), a click
on a unit shows its surface in the big view, hovering tells its weights and active share, a 2-100-100-1 net stays
readable, and the diagram follows the network (a new seed, live weights while training, a hidden dock waits)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from nnlab.engine.analysis.diagram import MAX_SHOWN, domain_sample
from nnlab.engine.analysis.surface import grid_points
from nnlab.engine.model.network import snapshot_from_layers
from nnlab.engine.model.scene import Scene
from nnlab.ui.network_diagram import MAX_EDGE_PX, REDRAW_MS


@pytest.fixture
def win(new_main_window, qtbot):
    w = new_main_window()
    w.showMaximized()
    w.show_network_diagram()
    nd = w.network_diagram
    laid_out = lambda: (nd.on_screen() and nd.diagram is not None and not nd._timer.isActive()  # noqa: E731
                        and nd.scene.sceneRect().size().toSize() == nd.canvas.viewport().size())
    qtbot.waitUntil(laid_out, timeout=5000)
    qtbot.wait(REDRAW_MS + 200)  # the window may still be settling into its maximized size
    qtbot.waitUntil(laid_out, timeout=5000)
    yield w
    w.close()


def settle(qtbot, win, draws_before=None):
    nd = win.network_diagram
    qtbot.waitUntil(lambda: not nd._timer.isActive() and (draws_before is None or nd.draws > draws_before),
                    timeout=5000)


def tiny_window(win, qtbot):
    """The window showing a hand-made 2-3-1 net with both signs and one near-zero weight."""
    w0 = np.array([[1.5, -0.5], [0.0, 2.0], [-1.0, 0.01]])
    w1 = np.array([[0.7, -3.0, 0.2]])
    assert win.doc.update("network", hidden=(3,))
    net = snapshot_from_layers([(w0, np.array([0.1, -0.2, 0.3])), (w1, np.array([0.05]))])
    n = win.network_diagram.draws
    win.doc.set_network(net)
    settle(qtbot, win, n)
    return net


def test_edges_are_coloured_by_sign_and_thickened_by_magnitude(win, qtbot):
    net = tiny_window(win, qtbot)
    nd = win.network_diagram
    d = nd.diagram
    assert d.widths == (2, 3, 1) and len(d.edges) == 9 == len(nd.edge_pens)
    drawn = {(p.color().rgb(), round(p.widthF(), 6)) for p in (it.pen() for it in nd.edge_items)}
    by_weight = []
    for e, pen in zip(d.edges, nd.edge_pens):
        src, dst = d.nodes[e.src], d.nodes[e.dst]
        w = net.weights[src.column][dst.unit, src.unit]
        c = pen.color()
        assert (c.blue() > c.red() + 30) if w >= 0 else (c.red() > c.blue() + 30), (w, c.name())  # blue +, orange -
        assert (pen.color().rgb(), round(pen.widthF(), 6)) in drawn  # the pen is on screen
        bg = nd.scene.backgroundBrush().color()
        strength = abs(c.red() - bg.red()) + abs(c.green() - bg.green()) + abs(c.blue() - bg.blue())
        by_weight.append((abs(w), pen.widthF(), strength))
    by_weight.sort()
    widths = [b[1] for b in by_weight]
    assert widths == sorted(widths)  # a larger |weight| is never thinner
    assert widths[-1] > 5 * widths[0] and widths[-1] <= MAX_EDGE_PX  # -3.0 is thick, 0.01 is a hairline
    assert by_weight[-1][2] > by_weight[0][2] + 60  # and stands out more from the background
    # the pixels say the same: the thick negative edge (hidden unit 2 -> output) is orange on screen
    img = nd.canvas.viewport().grab().toImage()
    a, b = nd.node_center(1, 1), nd.node_center(2, 0)
    mid = (a + b) / 2
    c = QtGui.QColor(img.pixel(mid))
    assert c.red() > c.blue() + 60, c.name()


def test_click_on_a_unit_shows_its_surface_and_the_output_goes_back(win, qtbot):
    nd = win.network_diagram
    d = nd.diagram
    i = next(i for i in d.column_nodes(2) if not d.nodes[i].summary)
    unit = d.nodes[i].unit
    qtbot.mouseClick(nd.canvas.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=nd.node_center(2, unit))
    assert win.view.unit == (1, unit)
    expected = win.doc.unit_surfaces(1, win.doc.scene.camera.resolution)[unit]
    assert np.allclose(win.view3d._z, expected)  # the big view shows that unit
    settle(qtbot, win)
    sel = nd.node_items[nd.diagram.index(2, unit)]
    assert sel.pen().widthF() > 2  # drawn as selected
    qtbot.mouseClick(nd.canvas.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=nd.node_center(3, 0))
    assert win.view.unit is None
    assert np.allclose(win.view3d._z, win.doc.z)


def test_a_weak_unit_chosen_elsewhere_is_drawn_and_selected(win, qtbot):
    nd = win.network_diagram
    hidden = [u for u in range(100) if nd.diagram.index(1, u) is not None and nd.diagram.nodes[nd.diagram.index(1, u)].summary]
    u = hidden[0]
    n = nd.draws
    win.view.unit = (0, u)  # e.g. from the Neurons panel
    settle(qtbot, win, n)
    i = nd.diagram.index(1, u)
    assert nd.diagram.nodes[i].unit == u and nd.node_items[i].pen().widthF() > 2


def test_hover_tells_the_incoming_weights_and_the_active_share(win, qtbot):
    net = tiny_window(win, qtbot)
    nd = win.network_diagram
    qtbot.mouseMove(nd.canvas.viewport(), nd.node_center(1, 0))
    qtbot.waitUntil(lambda: "layer 1, unit 1" in nd.info.text(), timeout=3000)
    text = nd.info.text()
    pts = domain_sample(*win.doc.domain())
    share = ((pts @ net.weights[0][0] + net.biases[0][0]) > 0).mean()
    assert f"active (pre-activation > 0) on {100 * share:.0f}% of the domain" in text
    assert "bias +0.1" in text and "2 incoming weights, 1 positive" in text
    assert "strongest in: x +1.5, y -0.5" in text
    assert nd.node_items[nd.diagram.index(1, 0)].toolTip() == text
    qtbot.mouseMove(nd.canvas.viewport(), nd.node_center(2, 0))
    qtbot.waitUntil(lambda: nd.info.text().startswith("output"), timeout=3000)
    assert "strongest in: unit 2 -3, unit 1 +0.7, unit 3 +0.2" in nd.info.text()


def test_a_2_100_100_1_net_stays_readable(win, qtbot):
    nd = win.network_diagram
    d = nd.diagram
    assert win.doc.net.widths == (100, 100)
    assert len(d.nodes) <= 2 + 2 * (MAX_SHOWN + 2) + 1
    assert len(d.edges) <= 2 * (MAX_SHOWN + 2) + (MAX_SHOWN + 2) ** 2 + MAX_SHOWN + 2
    rects = [it.sceneBoundingRect() for it in nd.node_items]
    view = QtCore.QRectF(nd.canvas.mapToScene(nd.canvas.viewport().rect()).boundingRect())
    for k, r in enumerate(rects):
        assert r.height() >= 16 and view.contains(r), (k, r, view)  # big enough to click, all in view
        for s in rects[k + 1:]:
            assert not r.intersects(s)  # no node hides another
    more = [i for i, n in enumerate(d.nodes) if n.summary]
    assert len(more) == 2 and all("90 more units" in nd.hover_text(i) for i in more)


def test_the_diagram_follows_a_new_network_and_waits_while_hidden(win, qtbot):
    nd = win.network_diagram
    before = [e.weight for e in nd.diagram.edges]
    n = nd.draws
    win.init_panel.seed.setValue(7)
    settle(qtbot, win, n)
    assert nd.drawn_net is win.doc.net
    assert [e.weight for e in nd.diagram.edges] != before
    first = nd.diagram.edges[0]
    src, dst = nd.diagram.nodes[first.src], nd.diagram.nodes[first.dst]
    assert first.weight == pytest.approx(np.mean(win.doc.net.weights[0][np.ix_(dst.members, src.members)]))
    many = nd.draws
    for _ in range(30):  # a burst of changes: one redraw (throttled), not thirty
        nd.schedule()
    settle(qtbot, win, many)
    qtbot.wait(50)
    assert nd.draws == many + 1
    win.docks["Target && training"].raise_()  # the diagram's tab behind another: no drawing
    qtbot.waitUntil(lambda: not nd.on_screen(), timeout=3000)
    hidden = nd.draws
    win.init_panel.seed.setValue(8)
    qtbot.wait(600)
    assert nd.draws == hidden
    win.show_network_diagram()
    settle(qtbot, win, hidden)
    assert nd.drawn_net is win.doc.net and nd.diagram.edges[0].weight == pytest.approx(
        np.mean(win.doc.net.weights[0][np.ix_(nd.diagram.nodes[nd.diagram.edges[0].dst].members,
                                              nd.diagram.nodes[nd.diagram.edges[0].src].members)]))


def test_the_diagram_shows_the_live_weights_while_training(win, qtbot):
    import nnlab.ui.panels.train_panel as tp

    nd = win.network_diagram
    s = Scene(title="small").replace("network", hidden=(12, 12), lower=(-3.0, -3.0), upper=(3.0, 3.0))
    s = s.replace("target", name="peaks")
    s = s.replace("train", samples=400, epochs=200, batch_size=64, lr=0.01, surface_every=2)
    win.doc.set_scene(s.replace("camera", resolution=30))
    start = win.doc.net
    seen = {}  # id(network) -> (epoch, network) of the weights the trainer sent (held: ids stay unique)
    win.doc.training.changed.connect(lambda name, v: seen.setdefault(id(v.network), (v.epoch, v.network))
                                     if name == "last" and v is not None and v.network is not None else None)
    assert tp.PROCESS_JOBS  # the app's mode: the weights come from a worker process
    assert win.train_panel.start()
    qtbot.waitUntil(lambda: seen.get(id(nd.drawn_net), (0,))[0] >= 4, timeout=60000)
    live = nd.drawn_net  # the weights the diagram is drawn from: sent by the trainer
    assert win.doc.net is start  # the document's network is still the initial one; the diagram shows training
    e = next(e for e in nd.diagram.edges if e.count == 1 and nd.diagram.nodes[e.dst].column == 3)
    src, dst = nd.diagram.nodes[e.src], nd.diagram.nodes[e.dst]
    assert e.weight == pytest.approx(live.weights[-1][dst.unit, src.unit])
    assert not np.allclose(live.weights[-1], start.weights[-1], atol=1e-4)  # trained weights, not the start
    # paused: the weights hold still; a click shows that unit's surface of the weights being trained
    win.train_panel.pause()
    qtbot.wait(500)
    qtbot.waitUntil(lambda: nd.drawn_net is win.doc.shown_net() and not nd._timer.isActive(), timeout=10000)
    live = nd.drawn_net
    u = next(n.unit for n in nd.diagram.nodes if n.column == 1 and not n.summary)
    qtbot.mouseClick(nd.canvas.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=nd.node_center(1, u))
    assert win.view.unit == (0, u)
    pts = grid_points(*win.doc._box(), win.doc.scene.camera.resolution)
    want = np.maximum(pts @ live.weights[0][u] + live.biases[0][u], 0).reshape(win.view3d._z.shape)
    old = np.maximum(pts @ start.weights[0][u] + start.biases[0][u], 0).reshape(want.shape)
    assert np.allclose(win.view3d._z, want, atol=1e-5) and not np.allclose(want, old, atol=1e-3)
    win.train_panel.stop()
    qtbot.waitUntil(lambda: not win.train_panel.slot.busy, timeout=60000)
    settle(qtbot, win)
    assert nd.drawn_net is win.doc.net and win.doc.trained  # the result, on screen everywhere
