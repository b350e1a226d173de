"""api.routing.fast: reach (isochrones) on the in-memory network, cut, counted, outlined in numpy.

The answer of POST /analysis/reach: one Dijkstra from the snapped sources over the network
kept in memory (api.routing.network; several sources: each vertex to its nearest, equicost),
then the same rules as the pgRouting reference (api/routing/sql/reach.sql, kept for tests
and the bench): an edge is cut where the time runs out from either end (the two fronts meet
at xm); the area of a cut-off is, per source, the star of the farthest places reached in each
5-degree sector; population: the residents of the cells whose centre lies in the area
(reach_areas.sql, which also cuts the road geometry of the reached pieces for `edges`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import numpy as np

from api.routing.network import F, I, Network, Place, lookup, network, search
from api.sqlfiles import load

__all__ = ["Network", "network", "reach"]


def _split_pieces(net: Network, places: Sequence[Place]) -> list[tuple[Any, ...]]:
    """The pieces of the edges carrying sources, between the points (vertex -pid), as
    (edge id, source vertex, target vertex, f0, f1, cost, reverse cost, edge length)."""
    by_edge: dict[int, list[tuple[float, int]]] = {}
    for pid, p in enumerate(places, start=1):
        by_edge.setdefault(p.edge, []).append((p.fraction, pid))
    out: list[tuple[Any, ...]] = []
    for ei, pts in by_edge.items():
        pts.sort()
        c, r = float(net.cost[ei]), float(net.rev[ei])
        prev_v, prev_f = int(net.source[ei]), 0.0
        for f, pid in [*pts, (1.0, 0)]:
            v = int(net.target[ei]) if pid == 0 else -pid
            span = f - prev_f
            out.append((int(net.edge[ei]), prev_v, v, prev_f, f,
                        c * span if c >= 0 else -1.0, r * span if r >= 0 else -1.0,
                        float(net.length[ei])))  # fmt: skip
            prev_v, prev_f = v, f
    return out


async def reach(
    conn: asyncpg.Connection,
    net: Network,
    places: Sequence[Place],
    points: Sequence[tuple[float, float]],
    minutes: Sequence[int],
    snapped: str,
    edges: bool = False,
) -> str:
    """Areas per cut-off (and with `edges` the reached pieces of road) as GeoJSON text.

    `places`: the sources on the network (edge index, fraction); `points`: where they landed.
    """
    cutoffs = [60.0 * m for m in minutes]
    k = len(places)
    starts = [-(i + 1) for i in range(k)]
    found = search(net, places, cutoffs[-1])
    got = np.flatnonzero(np.isfinite(found.dist[: net.n]))
    # the vertex times and owners, as pgRouting's driving distance gives them (the sources
    # themselves as vertices -pid at time 0)
    nodes = np.concatenate([np.array(starts[::-1], dtype=np.int64), net.vid[got]])
    agg = np.concatenate([np.zeros(k), found.dist[got]])
    owner = np.concatenate(
        [np.array(starts[::-1], dtype=np.float64), -(found.owner[got] + 1).astype(np.float64)]
    )
    pieces = _split_pieces(net, places)
    split = np.array(sorted({p[0] for p in pieces}), dtype=np.int64)
    # the unsplit roads with a reached end (no other road is reached at all: exact)
    n_as = lookup(nodes, agg, net.source, np.inf)
    n_at = lookup(nodes, agg, net.target, np.inf)
    reached = np.isfinite(n_as) | np.isfinite(n_at)
    if len(split) and len(net.edge):
        at = np.clip(np.searchsorted(net.edge, split), 0, len(net.edge) - 1)
        reached[at[net.edge[at] == split]] = False
    keep = np.flatnonzero(reached)
    # segments: those roads, then the pieces of the roads carrying points
    pe = np.array(pieces, dtype=np.float64).reshape(-1, 8)
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
    a_s = np.concatenate([n_as[keep], lookup(nodes, agg, p_src, np.inf)])
    a_t = np.concatenate([n_at[keep], lookup(nodes, agg, p_tgt, np.inf)])
    o_s = lookup(nodes, owner, src, 0.0)
    o_t = lookup(nodes, owner, tgt, 0.0)
    # positions: vertices, and the points (vertex -pid) where they were snapped
    pid_ids = np.array(starts[::-1], dtype=np.int64)
    pid_x = np.array([p[0] for p in points][::-1])
    pid_y = np.array([p[1] for p in points][::-1])
    all_ids = np.concatenate([pid_ids, net.vid])
    all_x = np.concatenate([pid_x, net.vx])
    all_y = np.concatenate([pid_y, net.vy])
    xs_ = np.concatenate([net.sx[keep], lookup(all_ids, all_x, p_src, np.nan)])
    ys_ = np.concatenate([net.sy[keep], lookup(all_ids, all_y, p_src, np.nan)])
    xt_ = np.concatenate([net.tx[keep], lookup(all_ids, all_x, p_tgt, np.nan)])
    yt_ = np.concatenate([net.ty[keep], lookup(all_ids, all_y, p_tgt, np.nan)])
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
    xs: F = np.zeros(0)
    xt: F = np.zeros(0)
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
        cand_x = [lookup(all_ids, all_x, nodes[outer], np.nan)]
        cand_y = [lookup(all_ids, all_y, nodes[outer], np.nan)]
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
    # the reached pieces of road at the largest cut-off (xs, xt of the last pass): from
    # each reached end to its front or where the time ran out
    pe_edge: I = np.zeros(0, dtype=np.int64)
    pe_a: F = np.zeros(0)
    pe_b: F = np.zeros(0)
    pe_src: I = np.zeros(0, dtype=np.int64)
    pe_start: F = np.zeros(0)
    pe_end: F = np.zeros(0)
    if edges:
        s_side, t_side = xs > 0, xt < 1
        pe_edge = np.concatenate([edge[s_side], edge[t_side]])
        pe_a = np.concatenate([f0[s_side], (f0 + xt * (f1 - f0))[t_side]])
        pe_b = np.concatenate([(f0 + xs * (f1 - f0))[s_side], f1[t_side]])
        pe_src = np.concatenate([-o_s[s_side] - 1, -o_t[t_side] - 1]).astype(np.int64)
        pe_start = np.concatenate([a_s[s_side], a_t[t_side]])
        pe_end = np.concatenate([(a_s + xs * cost)[s_side], (a_t + (1.0 - xt) * rev)[t_side]])
        # a piece of no length (the two fronts meeting at an end, to rounding) is no road
        real = pe_b - pe_a > 1e-9
        pe_edge, pe_a, pe_b = pe_edge[real], pe_a[real], pe_b[real]
        pe_src, pe_start, pe_end = pe_src[real], pe_start[real], pe_end[real]
    text: str = await conn.fetchval(
        load("routing/sql/reach_areas.sql"),
        rows_m, rows_src, rows_x, rows_y, list(minutes), cutoffs,
        [stats[m][0] for m in minutes], [stats[m][1] for m in minutes], snapped,
        pe_edge.tolist(), pe_a.tolist(), pe_b.tolist(), pe_src.tolist(), pe_start.tolist(),
        pe_end.tolist(),
    )  # fmt: skip
    return text
