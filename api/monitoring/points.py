"""api.monitoring.points: monitoring points in memory (code -> id, unit, thresholds, interval).

Readings arrive by point code, thousands a second; the cache answers without a
query. It reloads when the monitoring_points layer version changes (checked
once per batch) or when a batch names a code it does not know.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg
import numpy as np
from numpy.typing import NDArray


@dataclass(slots=True)
class PointArrays:
    """Column arrays over every point; `index[code]` is a point's row."""

    index: dict[str, int] = field(default_factory=dict)
    codes: list[str] = field(default_factory=list)
    ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    unit_ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    interval_us: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    #: thresholds for levels 1..4 (NaN where not set)
    thresholds: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 4)))
    below: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    #: +1 for `above` points, -1 for `below` points: value * sign >= bar is "past a threshold"
    sign: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    #: the least severe threshold, signed (inf: no threshold set)
    bar: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    version: int = -1


class PointCache:
    """The process's view of monitoring_points."""

    def __init__(self) -> None:
        self.arrays = PointArrays()
        self._lock = asyncio.Lock()

    async def refresh(self, conn: asyncpg.Connection, force: bool = False) -> PointArrays:
        """Reload when the layer changed (or when forced)."""
        version = await conn.fetchval(
            "SELECT version FROM layer_versions WHERE layer = 'monitoring_points'"
        )
        version = int(version or 0)
        if not force and version == self.arrays.version:
            return self.arrays
        async with self._lock:
            if not force and version == self.arrays.version:
                return self.arrays
            rows = await conn.fetch(
                "SELECT id, code, coalesce(risk_unit_id, -1) AS unit_id, direction, "
                "threshold_l1, threshold_l2, threshold_l3, threshold_l4, expected_interval_s "
                "FROM monitoring_points ORDER BY id"
            )
            n = len(rows)
            thr = np.full((n, 4), np.nan)
            for i, r in enumerate(rows):
                for j in range(4):
                    value = r[4 + j]
                    if value is not None:
                        thr[i, j] = value
            codes = [r["code"] for r in rows]
            below = np.fromiter((r["direction"] == "below" for r in rows), bool, n)
            sign = np.where(below, -1.0, 1.0)
            signed = thr * sign[:, None]
            bar = np.where(np.isnan(signed), np.inf, signed).min(axis=1)
            self.arrays = PointArrays(
                index={c: i for i, c in enumerate(codes)},
                codes=codes,
                ids=np.fromiter((r["id"] for r in rows), np.int64, n),
                unit_ids=np.fromiter((r["unit_id"] for r in rows), np.int64, n),
                interval_us=np.fromiter(
                    (r["expected_interval_s"] * 1_000_000 for r in rows), np.int64, n
                ),
                thresholds=thr,
                below=below,
                sign=sign,
                bar=bar,
                version=version,
            )
        return self.arrays


def levels(arrays: PointArrays, idx: NDArray[np.int64], values: NDArray[np.float64]) -> NDArray:
    """Alarm level of each reading: 1 (highest) .. 4, 0 when within every threshold.

    A value at or past a level's threshold (>= for `above` points, <= for `below`
    points) is at that level; the most severe level reached wins. Readings short of
    their point's least severe threshold (nearly all of them) are settled first.
    """
    out = np.zeros(len(idx), np.int8)
    past = np.flatnonzero(values * arrays.sign[idx] >= arrays.bar[idx])
    if len(past):
        out[past] = _levels(arrays, idx[past], values[past])
    return out


def _levels(arrays: PointArrays, idx: NDArray[np.int64], values: NDArray[np.float64]) -> NDArray:
    thr = arrays.thresholds[idx]  # (n, 4): levels 1..4
    v = values[:, None]
    with np.errstate(invalid="ignore"):
        hit = np.where(arrays.below[idx][:, None], v <= thr, v >= thr)  # NaN compares False
    any_hit = hit.any(axis=1)
    first = hit.argmax(axis=1) + 1
    return np.where(any_hit, first, 0).astype(np.int8)
