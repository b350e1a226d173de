"""geodata.hydrants: the demo's municipal fire hydrants (demo-synthetic), monitoring points of
their own kind placed on the demo road network at load time (geodata/hydrants.sql).

Their pressure readings drive whether each is intact (api/assessment/sql/hydrants_intact.sql:
an open alarm is a hydrant not intact). `onemap demo up`'s first readings and the demo feed
keep the few hydrants `faulty` picks below 0.10 MPa (a level-3 alarm stays open), so the
scorecard's 1.2.4 shows findings; a normal reading posted by anyone else repairs them.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import numpy as np
from numpy.typing import NDArray

from geodata import signals

SQL = Path(__file__).with_name("hydrants.sql")
KIND = "fire_hydrant_pressure"
#: one hydrant in this many (by code number) starts the demo without pressure
FAULTY_EVERY = 600


async def place_demo_hydrants(conn: asyncpg.Connection) -> int:
    """Place the hydrants on the loaded roads (none when there are no roads); rows added."""
    done = await conn.execute(SQL.read_text(encoding="utf-8"))
    return int(done.split()[-1])


def faulty(code: str) -> bool:
    """Whether the demo starts this hydrant without pressure (FH000007, FH000607, …)."""
    return code.startswith("FH") and code[2:].isdigit() and int(code[2:]) % FAULTY_EVERY == 7


def fault_value(thresholds: NDArray[np.float64]) -> float:
    """The pressure a faulty hydrant reports: at alarm level 3 (thresholds for levels 1..4)."""
    t = thresholds
    return signals.at_level((float(t[0]), float(t[1]), float(t[2]), float(t[3])), True, 3)


def keep_faults(
    values: NDArray[np.float64], faulty_rows: NDArray[np.bool_], thresholds: NDArray[np.float64]
) -> None:
    """The readings `values` with each faulty hydrant's (`faulty_rows`, same order; its
    `thresholds` row) replaced by its fault pressure, in place: what the feed and the first
    readings send."""
    for j in np.flatnonzero(faulty_rows):
        values[j] = fault_value(thresholds[j])
