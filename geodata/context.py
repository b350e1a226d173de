"""geodata.context: what every synthetic layer generator shares (seed, sampler, as-of date)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from geodata.districts import District
from geodata.population import Grid
from geodata.sampling import Sampler

SYNTHETIC = "demo-synthetic"


@dataclass
class Feature:
    """One record of a layer: its properties and geometry (None only where the layer allows)."""

    props: dict[str, Any]
    geom: BaseGeometry | None

    @property
    def code(self) -> str:
        """The record's stable code."""
        return str(self.props["code"])

    @property
    def district(self) -> str:
        """The adcode of its district."""
        return str(self.props["district"])

    @property
    def anchor(self) -> tuple[float, float]:
        """A point of the feature (the point itself, or a point on an area's surface)."""
        assert self.geom is not None
        p = self.geom if isinstance(self.geom, Point) else self.geom.representative_point()
        return (round(p.x, 7), round(p.y, 7))


@dataclass
class Context:
    """Seed, the districts, their population grid and the sampler; the date events lead up to."""

    seed: int
    as_of: date
    districts: list[District]
    grid: Grid
    sampler: Sampler
    layers: dict[str, list[Feature]] = field(default_factory=dict)

    def rng(self, name: str) -> np.random.Generator:
        """An independent, reproducible generator per layer (seed + layer name)."""
        salt = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
        return np.random.default_rng([self.seed, salt])

    @property
    def district_names(self) -> dict[str, str]:
        """adcode → Chinese name."""
        return {d.adcode: d.name for d in self.districts}

    def at(self, days_ago: float) -> datetime:
        """A UTC timestamp `days_ago` days before the as-of date's midnight (Beijing time)."""
        midnight = datetime.combine(self.as_of, time(0, 0), tzinfo=UTC) - timedelta(hours=8)
        return midnight - timedelta(days=days_ago)


def iso(ts: datetime) -> str:
    """ISO 8601 with seconds and the UTC offset."""
    return ts.replace(microsecond=0).isoformat()


def pick(rng: np.random.Generator, options: list[str] | tuple[str, ...], p: list[float]) -> str:
    """One of options with probabilities p (one uniform draw)."""
    cum = np.cumsum(p)
    return str(
        options[min(int(np.searchsorted(cum, rng.random() * cum[-1], "right")), len(options) - 1)]
    )
