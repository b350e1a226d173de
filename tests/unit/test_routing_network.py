"""The in-memory network (api.routing.network) on a hand-made graph: half-edges at the points,
one-way streets both ways round, parallel edges, a start and a place on the same edge, paths."""

from __future__ import annotations

import numpy as np
import pytest

from api.routing.network import Network, Place, build, path, search, times


def _net() -> Network:
    """Vertices 10 (0,0) - 20 (1,0) - 30 (2,0) - 40 (3,0), a line of edges:
    1: 10->20, 100 s both ways; 2: 20->30, 100 s one-way as drawn;
    3: 20->30, 300 s both ways (parallel to 2); 4: 30->40, 50 s both ways;
    5: 40->10, closed (negative both ways)."""
    edge = np.array([1, 2, 3, 4, 5])
    src = np.array([10, 20, 20, 30, 40])
    tgt = np.array([20, 30, 30, 40, 10])
    cost = np.array([100.0, 100.0, 300.0, 50.0, -1.0])
    rev = np.array([100.0, -1.0, 300.0, 50.0, -1.0])
    length = np.array([1000.0, 1000.0, 3000.0, 500.0, 3000.0])
    vid = np.array([10, 20, 30, 40])
    return build(edge, src, tgt, cost, rev, length, vid, np.arange(4.0), np.zeros(4), 50.0)


def test_times_from_a_point_take_the_cheaper_parallel_edge_and_obey_one_way() -> None:
    """From a quarter along edge 1: to vertex 40 over edge 2 (one way, 100 s), not edge 3;
    back from 40 the one-way edge cannot be used, so edge 3 (300 s)."""
    net = _net()
    start = Place(0, 0.25)  # edge 1 at a quarter: 25 s from 10, 75 s from 20
    out = search(net, [start])
    assert out.dist[:4].tolist() == pytest.approx([25.0, 75.0, 175.0, 225.0])
    into = search(net, [start], inbound=True)  # times from each vertex to the point
    assert into.dist[:4].tolist() == pytest.approx([25.0, 75.0, 375.0, 425.0])
    # a place half way along edge 4, both ways round
    t, side, via = times(out, np.array([3]), np.array([0.5]))
    assert t[0] == pytest.approx(200.0) and side[0] == -1 and via[0] == 2
    t, _, _ = times(into, np.array([3]), np.array([0.5]))
    assert t[0] == pytest.approx(375.0 + 25.0)
    # a limit cuts the search: beyond it, not reached
    near = search(net, [start], limit=100.0)
    assert np.isinf(near.dist[2]) and near.dist[1] == pytest.approx(75.0)


def test_a_place_on_the_start_edge_is_reached_along_it_and_paths_join_up() -> None:
    """Start and place on the one-way edge 2: forward straight along it, backward round by
    edge 3 (the one-way edge cannot be driven back); the path's legs in driving order."""
    net = _net()
    found = search(net, [Place(1, 0.2)])
    t, side, via = times(found, np.array([1, 1]), np.array([0.7, 0.1]))
    assert t[0] == pytest.approx(50.0) and side[0] == 0
    # back to 0.1: on to 30 (80 s), edge 3 back to 20 (300 s), then 10 s along edge 2
    assert t[1] == pytest.approx(390.0)
    legs = path(found, Place(1, 0.1), int(side[1]), int(via[1]))
    assert [(g.edge, g.f0, g.f1, g.forward) for g in legs] == [
        (2, 0.2, 1.0, True), (3, 0.0, 1.0, False), (2, 0.0, 0.1, True)
    ]  # fmt: skip
    assert sum(g.duration_s for g in legs) == pytest.approx(390.0)
    assert [g.start_s for g in legs] == pytest.approx([0.0, 80.0, 380.0])


def test_inbound_path_runs_from_the_place_to_the_start_and_nearest_start_wins() -> None:
    """Towards the point on edge 1 from the middle of edge 4: 25 s back to 30, edge 3 to 20
    (edge 2 is one-way the other way), 75 s along edge 1; two starts: each vertex to its
    nearest."""
    net = _net()
    found = search(net, [Place(0, 0.25)], inbound=True)
    place = Place(3, 0.5)
    t, side, via = times(found, np.array([3]), np.array([0.5]))
    legs = path(found, place, int(side[0]), int(via[0]))
    assert [(g.edge, g.forward) for g in legs] == [(4, False), (3, False), (1, False)]
    assert sum(g.duration_s for g in legs) == pytest.approx(t[0]) == pytest.approx(400.0)
    two = search(net, [Place(0, 0.0), Place(3, 1.0)])
    assert two.owner[:4].tolist() == [0, 0, 1, 1]
    assert two.dist[:4].tolist() == pytest.approx([0.0, 100.0, 50.0, 0.0])
