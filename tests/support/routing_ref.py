"""tests.support.routing_ref: an independent Dijkstra (scipy.sparse.csgraph) over the `roads` table.

Built from the same edges (cost_s, reverse_cost_s; negative: not that way) with the
request's snapped points spliced in by this module's own code, so reach and route times
from pgRouting can be checked against it to the millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

Edge = tuple[int, int, int, float, float]  # id, source, target, cost, reverse cost
TINY = 1e-12  # csgraph reads a stored zero as "no edge": zero-cost pieces get this instead


async def load_edges(conn: asyncpg.Connection) -> list[Edge]:
    """Every edge of the network."""
    rows = await conn.fetch("SELECT id, source, target, cost_s, reverse_cost_s FROM roads")
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


@dataclass
class Graph:
    """The network as a CSR matrix; `node[key]` is a vertex's index, points are ('p', pid)."""

    matrix: sp.csr_matrix
    node: dict[object, int]

    def from_node(self, key: object, limit: float = np.inf) -> NDArray[np.float64]:
        """Shortest times from one vertex or point to every node."""
        out: NDArray[np.float64] = dijkstra(
            self.matrix, directed=True, indices=self.node[key], limit=limit
        )
        return out

    def time(self, dist: NDArray[np.float64], key: object) -> float:
        """The time at a node in a result of from_node."""
        return float(dist[self.node[key]])


def build(edges: Sequence[Edge], points: Sequence[tuple[int, float]] = ()) -> Graph:
    """The graph, with points (edge, fraction) as nodes ('p', 1..n) splitting their edges."""
    on_edge: dict[int, list[tuple[float, int]]] = {}
    for pid, (edge, fraction) in enumerate(points, start=1):
        on_edge.setdefault(edge, []).append((fraction, pid))
    best: dict[tuple[object, object], float] = {}

    def arc(u: object, v: object, c: float) -> None:
        if c < 0:
            return
        c = max(c, TINY)
        if best.get((u, v), np.inf) > c:
            best[(u, v)] = c

    for eid, s, t, cost, rev in edges:
        cuts = sorted(on_edge.get(eid, []))
        stops: list[tuple[float, object]] = [(0.0, s), *((f, ("p", p)) for f, p in cuts),
                                             (1.0, t)]  # fmt: skip
        for (f0, a), (f1, b) in zip(stops, stops[1:], strict=False):
            arc(a, b, cost * (f1 - f0) if cost >= 0 else -1)
            arc(b, a, rev * (f1 - f0) if rev >= 0 else -1)
    keys: dict[object, int] = {}
    for u, v in best:
        keys.setdefault(u, len(keys))
        keys.setdefault(v, len(keys))
    for pid in range(1, len(points) + 1):
        keys.setdefault(("p", pid), len(keys))
    rows = [keys[u] for u, _ in best]
    cols = [keys[v] for _, v in best]
    m = sp.csr_matrix((list(best.values()), (rows, cols)), shape=(len(keys), len(keys)))
    return Graph(m, keys)


def reached_fraction(cost: float, rev: float, ds: float, dt: float, cutoff: float) -> float:
    """The share of an edge within `cutoff` of the sources, given the times at its ends."""
    x = 0.0
    if cost >= 0 and ds <= cutoff:
        x += 1.0 if cost == 0 else (cutoff - ds) / cost
    if rev >= 0 and dt <= cutoff:
        x += 1.0 if rev == 0 else (cutoff - dt) / rev
    return min(1.0, x)
