"""geodata.signals: sensor values for the demo: normal ones, and ones at a chosen alarm level.

Thresholds are given per point for levels 1..4 (column j is level j+1, level 1
the most severe), with `below` for points that alarm on a drop (pressure). A
value at or past a level's threshold is at that level (api.monitoring.points.levels).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def normal(
    thresholds: NDArray[np.float64], below: NDArray[np.bool_], rng: np.random.Generator
) -> NDArray[np.float64]:
    """A value within every threshold: 20-60 % of the level-4 threshold (115-140 % if below)."""
    t4 = thresholds[:, 3]
    n = len(t4)
    up = t4 * rng.uniform(0.2, 0.6, n)
    down = t4 * rng.uniform(1.15, 1.4, n)
    value = np.where(below, down, up)
    # a point without a level-4 threshold: 0 (or 1 when it alarms on a drop)
    fallback = np.where(below, 1.0, 0.0)
    return np.round(np.where(np.isnan(t4), fallback, value), 3).astype(np.float64)


def at_level(thr: tuple[float, float, float, float], below: bool, level: int) -> float:
    """A value at exactly that alarm level (1..4): between its threshold and the next worse one."""
    own = thr[level - 1]
    if level == 1:
        return round(own * (0.9 if below else 1.1), 3)
    return round((own + thr[level - 2]) / 2, 3)
