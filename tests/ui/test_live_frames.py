"""While training, the GUI thread draws and does no maths for the live network diagram: the worker sends each live
network with its diagram (nnlab.app.training.with_diagrams), and the diagram is redrawn on the training panel's
screen refresh (TrainState.frame), in the same event-loop pass as the surface and the curves (one composition of
the window per refresh: bench/ui_latency.py --profile)."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from nnlab.app.training import LiveDiagram, with_diagrams
from nnlab.engine.analysis.diagram import MAX_SHOWN, activation_shares, build_diagram, domain_sample


def _gen(nets):
    """A stand-in trainer: yields (epoch, network) events, collects what it is sent and returns it (True: stop)."""
    from types import SimpleNamespace

    sent = []
    for k, net in enumerate(nets):
        got = yield SimpleNamespace(epoch=k, network=net)
        if got is not None:
            sent.append(got)
        if got is True:
            break
    return sent


def test_with_diagrams_wraps_live_networks_and_passes_sends_and_the_return_through():
    from nnlab.engine.model.network import initial_snapshot
    from nnlab.engine.model.scene import Scene

    s = Scene().replace("network", hidden=(7, 5))
    net = initial_snapshot(s.network, s.init)
    lo, hi = (-2.0, -1.0), (2.0, 3.0)
    job = with_diagrams(partial(_gen, [net, None, net, net]), lo, hi, MAX_SHOWN)
    import pickle

    job = pickle.loads(pickle.dumps(job))  # (it runs in a worker process: it must travel)
    gen = job()
    first = next(gen)
    assert isinstance(first, LiveDiagram) and first.progress.epoch == 0
    assert all(np.array_equal(a, b) for a, b in zip(first.network.weights, net.weights))
    want = build_diagram(net, MAX_SHOWN)
    assert [(e.src, e.dst, e.weight) for e in first.diagram.edges] == [(e.src, e.dst, e.weight) for e in want.edges]
    for got, exp in zip(first.shares, activation_shares(net, domain_sample(lo, hi))):
        np.testing.assert_array_equal(got, exp)
    second = next(gen)
    assert not isinstance(second, LiveDiagram) and second.epoch == 1  # no weights: passed as it is
    third = gen.send("stop")
    assert isinstance(third, LiveDiagram) and third.progress.epoch == 2
    with pytest.raises(StopIteration) as done:
        gen.send(True)  # the trainer's "stop, but return what you have"
    assert done.value.value == ["stop", True]


def test_training_draws_the_workers_diagram_on_the_screen_refresh_only(new_main_window, qtbot, small_scene):
    import nnlab.ui.panels.train_panel as tp

    win = new_main_window()
    try:
        win.doc.set_scene(small_scene(epochs=20000).replace("train", surface_every=2))  # stopped below
        win.show_network_diagram()
        nd, panel = win.network_diagram, win.train_panel
        qtbot.waitUntil(nd.on_screen, timeout=5000)
        qtbot.waitUntil(lambda: not nd._timer.isActive() and not nd._dirty, timeout=10000)  # the new scene drawn
        inside = []  # (in a screen refresh, live weights, the diagram drawn is the worker's) per draw while training
        flushing = [False]
        real_flush, real_draw = panel._flush, nd._draw

        def flush():
            flushing[0] = True
            try:
                real_flush()
            finally:
                flushing[0] = False

        def draw():
            real_draw()
            if win.doc.training.running:
                live = win.doc.training.live_diagram
                inside.append((flushing[0], nd.drawn_net is not win.doc.net,
                               live is not None and nd.diagram is live.diagram))

        panel._frame.timeout.disconnect()
        panel._frame.timeout.connect(flush)
        nd._draw = draw
        assert tp.PROCESS_JOBS
        assert panel.start()
        # at least 3 screen refreshes while training, however fast or loaded the machine; then stop
        qtbot.waitUntil(lambda: sum(d[0] for d in inside) >= 3 or not panel.slot.busy, timeout=90000)
        panel.stop()
        qtbot.waitUntil(lambda: not panel.slot.busy, timeout=60000)
        refreshes = [d for d in inside if d[0]]
        assert len(refreshes) >= 3 and len(refreshes) >= len(inside) - 2, inside  # on the screen refreshes (a
        # timer catches up only when none came for CATCH_UP_MS: a slow start, a loaded machine)
        assert all(live for _, live, _ in refreshes), inside  # a refresh draws the live weights
        assert all(worker for _, live, worker in inside if live), inside  # their diagram came from the worker
    finally:
        win.close()
