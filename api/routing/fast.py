"""api.routing.fast: reach areas and counts post-processed in numpy from pgRouting's vertex times.

The answer of POST /analysis/reach without `edges`: the same pgr_drivingDistance call as
the SQL path (api/routing/sql/reach.sql), whose vertex times are then cut, counted and
outlined here over an in-memory copy of the network (kept per database and network build),
instead of joining every reached edge in SQL. Same rules: an edge is cut where the time
runs out from either end (the two fronts meet at xm); the area of a cut-off is, per source,
the star of the farthest places reached in each 5-degree sector; population: the residents
of the cells whose centre lies in the area. With `edges` the SQL path answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import numpy as np
from numpy.typing import NDArray

from api.sqlfiles import load

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741


@dataclass(frozen=True)
class Network:
    """The edges and vertex positions of one build of the network."""

    edge: I
    source: I
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


_CACHE: dict[tuple[str, str], Network] = {}


async def network(conn: asyncpg.Connection) -> Network:
    """The network of this database's last build (loaded once per build and process)."""
    key = await conn.fetchrow(
        "SELECT current_database() AS db, "
        "(SELECT updated_at::text FROM onemap_meta WHERE key = 'roads') AS v"
    )
    k = (str(key["db"]), str(key["v"]))
    net = _CACHE.get(k)
    if net is not None:
        return net
    e = await conn.fetch(
        "SELECT id, source, target, cost_s, reverse_cost_s, length_m FROM roads ORDER BY id"
    )
    v = await conn.fetch(
        "SELECT id, ST_X(geom) AS x, ST_Y(geom) AS y FROM road_vertices ORDER BY id"
    )
    kmh = await conn.fetchval("SELECT max(speed_kmh) FROM roads WHERE NOT closed") or 0.0
    ea = np.array([tuple(r) for r in e], dtype=np.float64).reshape(-1, 6)
    va = np.array([tuple(r) for r in v], dtype=np.float64).reshape(-1, 3)
    vid, src, tgt = va[:, 0].astype(np.int64), ea[:, 1].astype(np.int64), ea[:, 2].astype(np.int64)
    net = Network(
        ea[:, 0].astype(np.int64), src, tgt,
        ea[:, 3], ea[:, 4], ea[:, 5], vid, va[:, 1], va[:, 2],
        float(kmh),
        _lookup(vid, va[:, 1], src, np.nan), _lookup(vid, va[:, 2], src, np.nan),
        _lookup(vid, va[:, 1], tgt, np.nan), _lookup(vid, va[:, 2], tgt, np.nan),
    )  # fmt: skip
    _CACHE.clear()
    _CACHE[k] = net
    return net


def _lookup(keys: I, values: F, wanted: I, missing: float) -> F:
    """values[keys == wanted] per wanted (keys sorted), `missing` where absent."""
    if not len(keys):
        return np.full(len(wanted), missing)
    i = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
    return np.where(keys[i] == wanted, values[i], missing)


async def reach_areas(
    conn: asyncpg.Connection,
    points: Sequence[tuple[float, float]],
    minutes: Sequence[int],
    snapped: str,
    net: Network | None = None,
) -> str:
    """Areas per cut-off (GeoJSON text); routing_points and routing_box must be filled."""
    net = net or await network(conn)
    cutoffs = [60.0 * m for m in minutes]
    starts = [-(i + 1) for i in range(len(points))]
    # the vertex times as three arrays (one row: far cheaper to decode than a row per vertex)
    dd = await conn.fetchrow(
        "SELECT coalesce(array_agg(node), '{}') AS node, coalesce(array_agg(from_v), '{}') "
        "AS from_v, coalesce(array_agg(agg_cost), '{}') AS agg FROM pgr_drivingDistance("
        "$1::text, $2::bigint[], $3::float8, true, $4::boolean)",
        load("routing/sql/graph.sql"), starts, cutoffs[-1], len(points) > 1,
    )  # fmt: skip
    pieces = await conn.fetch(
        "SELECT edge, source, target, f0, f1, cost, reverse_cost, edge_length_m "
        "FROM routing_segments WHERE id < 0"
    )
    nodes = np.array(dd["node"], dtype=np.int64)
    order = np.argsort(nodes, kind="stable")
    nodes = nodes[order]
    agg = np.array(dd["agg"], dtype=np.float64)[order]
    owner = np.array(dd["from_v"], dtype=np.float64)[order]
    split = np.array(sorted({r[0] for r in pieces}), dtype=np.int64)
    # the unsplit roads with a reached end (no other road is reached at all: exact)
    n_as = _lookup(nodes, agg, net.source, np.inf)
    n_at = _lookup(nodes, agg, net.target, np.inf)
    reached = np.isfinite(n_as) | np.isfinite(n_at)
    if len(split) and len(net.edge):
        at = np.clip(np.searchsorted(net.edge, split), 0, len(net.edge) - 1)
        reached[at[net.edge[at] == split]] = False
    keep = np.flatnonzero(reached)
    # segments: those roads, then the pieces of the roads carrying points
    pe = np.array([tuple(r) for r in pieces], dtype=np.float64).reshape(-1, 8)
    p_src, p_tgt = pe[:, 1].astype(np.int64), pe[:, 2].astype(np.int64)
    edge = np.concatenate([net.edge[keep], pe[:, 0].astype(np.int64)])
    src = np.concatenate([net.source[keep], p_src])
    tgt = np.concatenate([net.target[keep], p_tgt])
    f0 = np.concatenate([np.zeros(len(keep)), pe[:, 3]])
    f1 = np.concatenate([np.ones(len(keep)), pe[:, 4]])
    cost = np.concatenate([net.cost[keep], pe[:, 5]])
    rev = np.concatenate([net.rev[keep], pe[:, 6]])
    length = np.concatenate([net.length[keep], pe[:, 7]]) * (f1 - f0)
    unsplit = np.concatenate([np.ones(len(keep), dtype=bool), np.zeros(len(pe), dtype=bool)])
    a_s = np.concatenate([n_as[keep], _lookup(nodes, agg, p_src, np.inf)])
    a_t = np.concatenate([n_at[keep], _lookup(nodes, agg, p_tgt, np.inf)])
    o_s = _lookup(nodes, owner, src, 0.0)
    o_t = _lookup(nodes, owner, tgt, 0.0)
    # positions: vertices, and the points (vertex -pid) where they were snapped
    pid_ids = np.array(starts[::-1], dtype=np.int64)
    pid_x = np.array([p[0] for p in points][::-1])
    pid_y = np.array([p[1] for p in points][::-1])
    all_ids = np.concatenate([pid_ids, net.vid])
    all_x = np.concatenate([pid_x, net.vx])
    all_y = np.concatenate([pid_y, net.vy])
    xs_ = np.concatenate([net.sx[keep], _lookup(all_ids, all_x, p_src, np.nan)])
    ys_ = np.concatenate([net.sy[keep], _lookup(all_ids, all_y, p_src, np.nan)])
    xt_ = np.concatenate([net.tx[keep], _lookup(all_ids, all_x, p_tgt, np.nan)])
    yt_ = np.concatenate([net.ty[keep], _lookup(all_ids, all_y, p_tgt, np.nan)])
    fwd = np.isfinite(a_s) & (cost >= 0)
    bwd = np.isfinite(a_t) & (rev >= 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        both = np.where(cost + rev > 0, np.clip((a_t + rev - a_s) / (cost + rev), 0.0, 1.0), 0.5)
        xm = np.where(fwd & bwd, both, np.where(fwd, 1.0, 0.0))
    rows_m: list[int] = []
    rows_src: list[int] = []
    rows_x: list[float] = []
    rows_y: list[float] = []
    stats: dict[int, tuple[int, float]] = {}
    for t, m in zip(cutoffs, minutes, strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            xs = np.where(
                fwd & (a_s <= t),
                np.minimum(xm, np.where(cost > 0, (t - a_s) / cost, 1.0)),
                0.0,
            )
            xt = np.where(
                bwd & (a_t <= t),
                np.maximum(xm, np.where(rev > 0, 1.0 - (t - a_t) / rev, 0.0)),
                1.0,
            )
        share = xs + (1.0 - xt)
        hit = share > 0
        whole = hit & unsplit
        count = int(whole.sum()) + len(np.unique(edge[hit & ~unsplit]))
        stats[m] = (count, float((length * share).sum()))
        # the outline's candidates: reached vertices in the outer half, and cut points
        outer = (agg <= t) & (agg >= 0.5 * t)
        cand_x = [_lookup(all_ids, all_x, nodes[outer], np.nan)]
        cand_y = [_lookup(all_ids, all_y, nodes[outer], np.nan)]
        cand_o = [owner[outer]]
        cut_s = (xs > 0) & (xs < xm)
        cut_t = (xt < 1) & (xt > xm)
        cand_x += [xs_[cut_s] + (xt_[cut_s] - xs_[cut_s]) * xs[cut_s],
                   xs_[cut_t] + (xt_[cut_t] - xs_[cut_t]) * xt[cut_t]]  # fmt: skip
        cand_y += [ys_[cut_s] + (yt_[cut_s] - ys_[cut_s]) * xs[cut_s],
                   ys_[cut_t] + (yt_[cut_t] - ys_[cut_t]) * xt[cut_t]]  # fmt: skip
        cand_o += [o_s[cut_s], o_t[cut_t]]
        cx, cy, co = np.concatenate(cand_x), np.concatenate(cand_y), np.concatenate(cand_o)
        ok = np.isfinite(cx) & np.isfinite(cy)
        cx, cy, co = cx[ok], cy[ok], co[ok].astype(np.int64)
        for i, sid in enumerate(starts):
            mine = co == sid
            px, py = points[i]
            dx = (cx[mine] - px) * np.cos(np.radians(py))
            dy = cy[mine] - py
            d2 = dx * dx + dy * dy
            away = d2 > 0
            dx, dy, d2 = dx[away], dy[away], d2[away]
            if not len(d2):
                continue
            sector = np.floor((np.degrees(np.arctan2(dx, dy)) % 360.0) / 5.0).astype(np.int64)
            o = np.lexsort((-d2, sector))
            first = np.r_[True, sector[o][1:] != sector[o][:-1]]
            pick = o[first]
            rows_m += [m] * len(pick)
            rows_src += [i] * len(pick)
            rows_x += cx[mine][away][pick].tolist()
            rows_y += cy[mine][away][pick].tolist()
    text: str = await conn.fetchval(
        load("routing/sql/reach_areas.sql"),
        rows_m, rows_src, rows_x, rows_y, list(minutes), cutoffs,
        [stats[m][0] for m in minutes], [stats[m][1] for m in minutes], snapped,
    )  # fmt: skip
    return text
