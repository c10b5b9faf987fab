"""The network diagram's maths (nnlab.engine.analysis.diagram): edges are the weights, large layers are summarised
by their strongest units plus one "+n more" node with bundled edges, activation shares count the domain sample, and
training events carry the live weights the diagram draws."""
from __future__ import annotations

import numpy as np
import pytest

from nnlab.engine.analysis.diagram import (MAX_SHOWN, activation_shares, build_diagram, choose_units, domain_sample,
                                           unit_info, unit_strengths)
from nnlab.engine.model.network import snapshot_from_layers
from nnlab.engine.model.scene import Scene
from nnlab.errors import UsageError


def tiny():
    """2-3-1: hand-made weights with both signs and one near-zero weight."""
    w0 = np.array([[1.5, -0.5], [0.0, 2.0], [-1.0, 0.01]])
    b0 = np.array([0.1, -0.2, 0.3])
    w1 = np.array([[0.7, -3.0, 0.2]])
    return snapshot_from_layers([(w0, b0), (w1, np.array([0.05]))])


def random_net(widths=(100, 100), seed=0):
    rng = np.random.default_rng(seed)
    sizes = [2, *widths, 1]
    return snapshot_from_layers([(rng.normal(size=(o, i)), rng.normal(size=o)) for i, o in zip(sizes, sizes[1:])])


def test_a_small_net_is_drawn_whole_with_one_edge_per_weight():
    net = tiny()
    d = build_diagram(net)
    assert d.widths == (2, 3, 1)
    assert [(n.column, n.unit) for n in d.nodes] == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 0)]
    assert not any(n.summary for n in d.nodes)
    assert len(d.edges) == 2 * 3 + 3 * 1
    for e in d.edges:
        src, dst = d.nodes[e.src], d.nodes[e.dst]
        w = net.weights[src.column][dst.unit, src.unit]
        assert e.weight == pytest.approx(w) and e.magnitude == pytest.approx(abs(w)) and e.count == 1
    assert d.max_magnitude == pytest.approx(3.0)


def test_choose_units_takes_the_strongest_keeps_the_one_asked_for_and_breaks_ties_by_index():
    s = np.array([0.1, 5.0, 0.3, 5.0, 0.2, 4.0])
    assert choose_units(s, 2) == [1, 3]  # the two strongest, in index order
    assert choose_units(s, 3) == [1, 3, 5]
    assert choose_units(s, 2, keep=[0]) == [0, 1, 3]
    assert choose_units(np.ones(4), 2) == [0, 1]  # ties: the lower index
    assert choose_units(s, 10) == list(range(6))


def test_a_strong_unit_of_a_wide_layer_is_drawn():
    net = random_net((40,), seed=1)
    w0, b0 = np.array(net.weights[0]), np.array(net.biases[0])
    w1 = np.array(net.weights[1])
    w0 *= 0.01
    w1 *= 0.01
    w0[27] = [9.0, -9.0]  # unit 27 receives and passes on much more than the others
    w1[0, 27] = 9.0
    net = snapshot_from_layers([(w0, b0), (w1, net.biases[1])])
    assert int(np.argmax(unit_strengths(net)[1])) == 27
    d = build_diagram(net, max_shown=3)
    assert d.index(1, 27) is not None and not d.nodes[d.index(1, 27)].summary


def test_a_100_unit_layer_is_summarised_and_bundles_average_their_weights():
    net = random_net()
    d = build_diagram(net)
    per_col = [d.column_nodes(c) for c in range(4)]
    assert [len(p) for p in per_col] == [2, MAX_SHOWN + 1, MAX_SHOWN + 1, 1]  # 25 nodes for 2-100-100-1
    for c in (1, 2):
        members = sorted(u for i in per_col[c] for u in d.nodes[i].members)
        assert members == list(range(100))  # every unit is drawn or in the "+n more" node, once
        more = [d.nodes[i] for i in per_col[c] if d.nodes[i].summary]
        assert len(more) == 1 and len(more[0].members) == 100 - MAX_SHOWN
    assert len(d.edges) == 2 * 11 + 11 * 11 + 11
    for e in d.edges:
        src, dst = d.nodes[e.src], d.nodes[e.dst]
        block = net.weights[src.column][np.ix_(dst.members, src.members)]
        assert e.count == block.size
        assert e.weight == pytest.approx(block.mean(), abs=1e-12)
        assert e.magnitude == pytest.approx(np.sqrt(np.mean(block ** 2)), rel=1e-9)


def test_a_kept_unit_is_drawn_even_when_weak():
    net = random_net()
    weakest = int(np.argmin(unit_strengths(net)[2]))
    d = build_diagram(net, keep={2: weakest})
    i = d.index(2, weakest)
    assert i is not None and d.nodes[i].unit == weakest
    assert len(d.column_nodes(2)) == MAX_SHOWN + 2


def test_activation_shares_count_the_sample_points_where_a_unit_is_on():
    w0 = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    b0 = np.array([0.0, 10.0, -10.0, 0.0])
    net = snapshot_from_layers([(w0, b0), (np.ones((1, 4)), np.zeros(1))])
    pts = domain_sample((-1.0, -1.0), (1.0, 1.0), 4000, seed=3)
    assert pts.shape == (4000, 2) and pts.min() >= -1 and pts.max() <= 1
    share = activation_shares(net, pts)[0]
    assert share[1] == 1.0 and share[2] == 0.0
    assert share[0] == pytest.approx((pts[:, 0] > 0).mean()) and abs(share[0] - 0.5) < 0.05
    assert share[3] == pytest.approx((pts.sum(axis=1) > 0).mean())
    assert np.array_equal(domain_sample((0, 0), (1, 1), 10, seed=4), domain_sample((0, 0), (1, 1), 10, seed=4))


def test_unit_info_summarises_the_incoming_weights():
    net = tiny()
    shares = [np.array([0.25, 0.5, 0.75])]
    u = unit_info(net, 1, 0, shares)
    assert u.bias == pytest.approx(0.1) and u.n_in == 2 and u.positive == 1
    assert u.strongest == ((0, 1.5), (1, -0.5)) and u.share == 0.25
    assert u.norm == pytest.approx(np.hypot(1.5, 0.5)) and u.mean_abs == pytest.approx(1.0)
    out = unit_info(net, 2, 0, shares, top=2)
    assert out.strongest == ((1, -3.0), (0, 0.7)) and out.share is None and out.bias == pytest.approx(0.05)
    assert unit_info(net, 0, 1).n_in == 0


def test_bad_requests_are_user_errors():
    net = tiny()
    with pytest.raises(UsageError, match="at least 1 unit"):
        build_diagram(net, max_shown=0)
    with pytest.raises(UsageError, match="no unit 3 in layer 1"):
        unit_info(net, 1, 3)
    with pytest.raises(UsageError, match="takes 2 inputs"):
        activation_shares(net, np.zeros((5, 3)))
    with pytest.raises(UsageError, match="sample needs"):
        domain_sample((0, 0), (1, 1), 0)


def test_training_events_carry_the_live_weights_with_the_surfaces():
    from nnlab.engine.analysis.surface import grid_points
    from nnlab.engine.train.training import TrainProgress, train_to_result

    s = Scene(title="t").replace("network", hidden=(6,), lower=(-2.0, -2.0), upper=(2.0, 2.0))
    s = s.replace("target", name="peaks")
    s = s.replace("train", samples=200, epochs=6, batch_size=50, lr=0.02, surface_every=3)
    events: list[TrainProgress] = []
    result = train_to_result(s, surface_resolution=9, on_event=events.append)
    live = [e for e in events if e.network is not None]
    assert sorted({e.epoch for e in live}) == [0, 3, 6]
    assert all(e.surface is not None for e in live)
    pts = grid_points(*s.domain(), 9)
    for e in live:  # the weights are the ones the surface was computed from (the surface is float32)
        assert np.allclose(e.network.forward(pts).reshape(9, 9), e.surface, atol=1e-4 * (1 + np.abs(e.surface).max()))
    first, final = live[0].network, live[-1].network
    assert not np.allclose(first.weights[0], final.weights[0])  # they move while training
    assert np.allclose(final.weights[1], result.snapshot.weights[1], atol=1e-6)
