"""api.monitoring.readings.batch: a checked batch and what storing it did (shared data types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from api.monitoring.points import PointArrays


@dataclass(slots=True)
class Batch:
    """A parsed, checked batch, sorted by (point, ts), duplicates within it removed."""

    key: str
    received: int
    idx: NDArray[np.int64]  # rows of PointArrays
    ts_us: NDArray[np.int64]  # Unix microseconds
    values: NDArray[np.float64]
    arrays: PointArrays

    @property
    def size(self) -> int:
        """Readings after in-batch duplicates were dropped."""
        return len(self.idx)


@dataclass(slots=True)
class IngestResult:
    """What a batch did."""

    batch: str
    received: int
    stored: int = 0
    duplicates: int = 0
    duplicate_batch: bool = False
    path: str = "copy"
    alarms: dict[str, int] = field(default_factory=dict)
    offline_periods: int = 0
    touched_units: set[int] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        """The response body."""
        return {
            "batch": self.batch,
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "duplicate_batch": self.duplicate_batch,
            "path": self.path,
            "alarms": self.alarms,
            "offline_periods": self.offline_periods,
        }
