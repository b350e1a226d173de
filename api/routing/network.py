"""api.routing.network: the road network in memory and Dijkstra over it (scipy.sparse.csgraph).

Reach, travel times, routes and coverage search the network here rather than in pgRouting:
the graph is read once per build of the network and kept per process (`network(conn)`), so a
search costs the Dijkstra itself (a few ms) instead of reading ~45,000 edges through SPI.
A request's points are snapped onto edges (`api.routing.engine.snap_many`) and join the graph
as virtual vertices with two half-edges each (the fraction of the edge each way), so a trip
starts on the road itself, exactly as pgRouting's graph with the edge split at the point.
Times at places on edges (targets, coverage cells) come from the times at the edge's two
ends, plus the direct trip along the edge when a source lies on the same edge.

Which build is cached: the key is `layer_versions['roads']` (bumped by every statement that
changes `roads`, migration 0027) and `onemap_meta['roads'].updated_at` (the last build),
read per request on the request's own connection, so every app node (and a replica that has
replayed the change) follows a road import or edit at its next request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741

#: csgraph reads a stored zero as "no edge": a half-edge of no length costs this instead
TINY = 1e-12
#: scipy's `limit` is passed this much above a cut-off, and times are cut at the cut-off
SLACK = 1e-6

_KEY = (
    "SELECT current_database() AS db, "
    "(SELECT version::text || '.' || changed_at::text FROM layer_versions "
    " WHERE layer = 'roads') AS v, "
    "(SELECT updated_at::text FROM onemap_meta WHERE key = 'roads') AS b"
)


@dataclass(frozen=True)
class Csr:
    """One direction of the graph over vertex indices: CSR arrays, and each arc's edge."""

    data: F
    indices: NDArray[np.int32]
    indptr: NDArray[np.int32]
    #: the edge (index into Network arrays) each arc drives, and whether source -> target
    arc_edge: I
    arc_forward: NDArray[np.bool_]


@dataclass(frozen=True)
class Network:
    """The edges and vertices of one build of the network, and its graph both ways."""

    edge: I  # edge ids, sorted
    source: I  # vertex ids
    target: I
    cost: F
    rev: F
    length: F
    vid: I  # vertex ids, sorted
    vx: F
    vy: F
    max_kmh: float  # the fastest drivable road
    # each edge's end positions (looked up once per build, not per request)
    sx: F
    sy: F
    tx: F
    ty: F
    si: I  # each edge's end vertices as indices into vid
    ti: I
    out: Csr  # arcs as driven
    into: Csr  # arcs reversed (times *to* a place)

    @property
    def n(self) -> int:
        """The number of vertices."""
        return len(self.vid)

    def edge_index(self, ids: Sequence[int] | I) -> I:
        """Indices of edge ids (every id must be an edge of this build)."""
        return np.searchsorted(self.edge, np.asarray(ids, dtype=np.int64)).astype(np.int64)


def lookup(keys: I, values: F, wanted: I, missing: float) -> F:
    """values[keys == wanted] per wanted (keys sorted), `missing` where absent."""
    if not len(keys):
        return np.full(len(wanted), missing)
    i = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
    return np.where(keys[i] == wanted, values[i], missing)


def _csr(n: int, u: I, v: I, w: F, e: I, fwd: NDArray[np.bool_]) -> Csr:
    """Arcs u -> v of cost w; parallel arcs keep the cheapest (csgraph would add them up)."""
    order = np.lexsort((e, w, v, u))
    u, v, w, e, fwd = u[order], v[order], w[order], e[order], fwd[order]
    first = np.r_[True, (u[1:] != u[:-1]) | (v[1:] != v[:-1])] if len(u) else np.zeros(0, bool)
    u, v, w, e, fwd = u[first], v[first], w[first], e[first], fwd[first]
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    return Csr(np.maximum(w, TINY), v.astype(np.int32), indptr, e, fwd)


_CACHE: dict[tuple[str, str, str], Network] = {}


async def network(conn: asyncpg.Connection) -> Network:
    """The network of this database's current roads (loaded once per change and process)."""
    key = await conn.fetchrow(_KEY)
    k = (str(key["db"]), str(key["v"]), str(key["b"]))
    net = _CACHE.get(k)
    if net is not None:
        return net
    # one snapshot for the key and the rows (the caller's, when it is in a transaction)
    snapshot = (
        contextlib.nullcontext()
        if conn.is_in_transaction()
        else conn.transaction(isolation="repeatable_read", readonly=True)
    )
    async with snapshot:
        again = await conn.fetchrow(_KEY)  # the key of exactly the rows read below
        k = (str(again["db"]), str(again["v"]), str(again["b"]))
        e = await conn.fetchrow(
            "SELECT coalesce(array_agg(id ORDER BY id), '{}') AS id, "
            "coalesce(array_agg(source ORDER BY id), '{}') AS source, "
            "coalesce(array_agg(target ORDER BY id), '{}') AS target, "
            "coalesce(array_agg(cost_s ORDER BY id), '{}') AS cost, "
            "coalesce(array_agg(reverse_cost_s ORDER BY id), '{}') AS rev, "
            "coalesce(array_agg(length_m ORDER BY id), '{}') AS length, "
            "max(speed_kmh) FILTER (WHERE NOT closed) AS kmh FROM roads"
        )
        v = await conn.fetchrow(
            "SELECT coalesce(array_agg(id ORDER BY id), '{}') AS id, "
            "coalesce(array_agg(ST_X(geom) ORDER BY id), '{}') AS x, "
            "coalesce(array_agg(ST_Y(geom) ORDER BY id), '{}') AS y FROM road_vertices"
        )
    net = build(
        np.array(e["id"], dtype=np.int64),
        np.array(e["source"], dtype=np.int64),
        np.array(e["target"], dtype=np.int64),
        np.array(e["cost"], dtype=np.float64),
        np.array(e["rev"], dtype=np.float64),
        np.array(e["length"], dtype=np.float64),
        np.array(v["id"], dtype=np.int64),
        np.array(v["x"], dtype=np.float64),
        np.array(v["y"], dtype=np.float64),
        float(e["kmh"] or 0.0),
    )
    if len(_CACHE) >= 4:  # a few databases per process (tests); one in production
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[k] = net
    return net


def build(
    edge: I, src: I, tgt: I, cost: F, rev: F, length: F, vid: I, vx: F, vy: F, max_kmh: float
) -> Network:
    """The network from its arrays (edges sorted by id, vertices by id)."""
    n = len(vid)
    si = np.searchsorted(vid, src).astype(np.int64) if n else np.zeros(0, np.int64)
    ti = np.searchsorted(vid, tgt).astype(np.int64) if n else np.zeros(0, np.int64)
    idx = np.arange(len(edge), dtype=np.int64)
    f, b = cost >= 0, rev >= 0
    u = np.concatenate([si[f], ti[b]])
    v = np.concatenate([ti[f], si[b]])
    w = np.concatenate([cost[f], rev[b]])
    e = np.concatenate([idx[f], idx[b]])
    d = np.concatenate([np.ones(int(f.sum()), bool), np.zeros(int(b.sum()), bool)])
    return Network(
        edge, src, tgt, cost, rev, length, vid, vx, vy, max_kmh,
        lookup(vid, vx, src, np.nan), lookup(vid, vy, src, np.nan),
        lookup(vid, vx, tgt, np.nan), lookup(vid, vy, tgt, np.nan),
        si, ti, _csr(n, u, v, w, e, d), _csr(n, v, u, w, e, d),
    )  # fmt: skip


@dataclass(frozen=True)
class Place:
    """A point on the network: an edge (index) and the fraction along it."""

    edge: int
    fraction: float


@dataclass(frozen=True)
class Search:
    """A Dijkstra from the places `starts` (virtual vertices n .. n+k-1), either direction.

    `dist[i]`: seconds from the nearest start to vertex i (`inbound`: from vertex i to it);
    `pred`: the previous vertex on that path (-9999 at a start or unreached);
    `owner`: the start (0..k-1) each vertex is nearest to (-1: unreached).
    """

    net: Network
    starts: tuple[Place, ...]
    inbound: bool
    dist: F
    pred: NDArray[np.int32]
    owner: I


def search(
    net: Network, starts: Sequence[Place], limit: float = np.inf, *, inbound: bool = False
) -> Search:
    """One Dijkstra from every start at once (each vertex to its nearest start), or towards
    them (`inbound`: times from each vertex *to* the nearest start, one-way streets obeyed)."""
    g = net.into if inbound else net.out
    n, k = net.n, len(starts)
    cols: list[int] = []
    costs: list[float] = []
    counts: list[int] = []
    for p in starts:
        c, r, f = net.cost[p.edge], net.rev[p.edge], p.fraction
        s, t = int(net.si[p.edge]), int(net.ti[p.edge])
        # driving away from the place: back to the source end at rev * f, on to the target
        # end at cost * (1 - f); towards it (inbound): from the source end at cost * f,
        # from the target end at rev * (1 - f)
        if inbound:
            cand = [(s, c * f, c), (t, r * (1 - f), r)]
        else:
            cand = [(s, r * f, r), (t, c * (1 - f), c)]
        ok = [(col, w) for col, w, way in cand if way >= 0]
        if len(ok) == 2 and ok[0][0] == ok[1][0]:  # a loop edge: one arc, the cheaper
            ok = [min(ok, key=lambda a: a[1])]
        counts.append(len(ok))
        cols += [col for col, _ in ok]
        costs += [max(w, TINY) for _, w in ok]
    m = g.indptr[-1]
    indptr = np.concatenate([g.indptr, m + np.cumsum(counts, dtype=np.int64)]).astype(np.int32)
    data = np.concatenate([g.data, np.array(costs, dtype=np.float64)])
    indices = np.concatenate([g.indices, np.array(cols, dtype=np.int32)])
    matrix = sp.csr_matrix((data, indices, indptr), shape=(n + k, n + k))
    lim = limit + SLACK if np.isfinite(limit) else np.inf
    dist, pred, owner = dijkstra(
        matrix, directed=True, indices=np.arange(n, n + k), limit=lim,
        min_only=True, return_predecessors=True,
    )  # fmt: skip
    if np.isfinite(limit):
        far = dist > limit
        dist[far] = np.inf
    owner = np.where(np.isfinite(dist), owner - n, -1).astype(np.int64)
    return Search(net, tuple(starts), inbound, dist, pred, owner)


def _along(c: float, r: float, a: float, b: float) -> float:
    """Seconds along one edge from fraction a to fraction b (inf: not that way)."""
    if b >= a:
        return c * (b - a) if c >= 0 else np.inf
    return r * (a - b) if r >= 0 else np.inf


def times(s: Search, edge: I, fraction: F) -> tuple[F, NDArray[np.int8], I]:
    """Seconds from the nearest start to each place (edge index, fraction; inbound: from each
    place to it), inf where not reached; and how each was reached: side -1 entering from the
    edge's source end, 1 from its target end (`via`: that vertex), 0 straight along the same
    edge from a start (`via`: the start)."""
    net = s.net
    e = np.asarray(edge, dtype=np.int64)
    f = np.asarray(fraction, dtype=np.float64)
    c, r = net.cost[e], net.rev[e]
    ds, dt = s.dist[net.si[e]], s.dist[net.ti[e]]
    with np.errstate(invalid="ignore"):
        if s.inbound:  # leave the place towards an end, then on to the start
            via_s = np.where(r >= 0, r * f + ds, np.inf)
            via_t = np.where(c >= 0, c * (1 - f) + dt, np.inf)
        else:  # reach an end, then along the edge to the place
            via_s = np.where(c >= 0, ds + c * f, np.inf)
            via_t = np.where(r >= 0, dt + r * (1 - f), np.inf)
    best = np.minimum(via_s, via_t)
    first = via_s <= via_t
    side = np.where(first, -1, 1).astype(np.int8)
    via = np.where(first, net.si[e], net.ti[e]).astype(np.int64)
    # a start on the same edge: straight along it
    start_edges = np.array([st.edge for st in s.starts], dtype=np.int64)
    for i in np.flatnonzero(np.isin(e, start_edges)):
        for j in np.flatnonzero(start_edges == e[i]):
            st = s.starts[int(j)]
            a, b = (f[i], st.fraction) if s.inbound else (st.fraction, f[i])
            direct = _along(float(c[i]), float(r[i]), float(a), float(b))
            if direct < best[i]:
                best[i], side[i], via[i] = direct, 0, int(j)
    return best, side, via


@dataclass(frozen=True)
class Leg:
    """A piece of one road on a path: the edge id, its span as fractions (from < to: as drawn),
    the direction driven, seconds and the time at its start."""

    edge: int
    f0: float
    f1: float
    forward: bool
    duration_s: float
    start_s: float


def path(s: Search, place: Place, side: int, via: int) -> list[Leg]:
    """The legs in the order driven between the start and a place, as `times` reached it."""
    net = s.net
    n = net.n
    g = net.into if s.inbound else net.out
    pieces: list[tuple[int, float, float, bool]] = []  # (edge index, f0, f1, forward)
    vertex = via
    e, f = place.edge, place.fraction

    def span(edge: int, a: float, b: float) -> tuple[int, float, float, bool]:
        # driven from fraction a to fraction b of the edge
        return (edge, min(a, b), max(a, b), b >= a)

    # the piece at the place itself
    if side == 0:
        st = s.starts[vertex]
        a, b = (f, st.fraction) if s.inbound else (st.fraction, f)
        pieces.append(span(e, a, b))
        chain: list[tuple[int, float, float, bool]] = []
    else:
        end = 0.0 if side < 0 else 1.0
        pieces.append(span(e, f, end) if s.inbound else span(e, end, f))
        chain = []
        v = vertex
        while True:
            u = int(s.pred[v])
            if u < 0:
                break
            if u >= n:  # the start itself: its half-edge to v
                st = s.starts[u - n]
                end_f = 0.0 if int(net.si[st.edge]) == v else 1.0
                a, b = (end_f, st.fraction) if s.inbound else (st.fraction, end_f)
                chain.append(span(st.edge, a, b))
                break
            lo, hi = g.indptr[u], g.indptr[u + 1]
            j = lo + int(np.flatnonzero(g.indices[lo:hi] == v)[0])
            ei, fw = int(g.arc_edge[j]), bool(g.arc_forward[j])
            chain.append((ei, 0.0, 1.0, fw))
            v = u
    # order as driven: outbound, start -> place (the chain was walked backwards);
    # inbound, place -> start (the chain runs forwards already)
    ordered = [*pieces, *chain] if s.inbound else [*chain[::-1], *pieces]
    legs: list[Leg] = []
    t = 0.0
    for ei, a, b, fw in ordered:
        if b <= a:
            continue  # a piece of no length (a place at a vertex)
        secs = float((net.cost[ei] if fw else net.rev[ei]) * (b - a))
        legs.append(Leg(int(net.edge[ei]), a, b, fw, secs, t))
        t += secs
    return legs
