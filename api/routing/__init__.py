"""api.routing: travel time over the road network: snap, route, travel_times, travel, reach."""

from api.routing.engine import (
    OffNetwork,
    Snap,
    coverage,
    reach,
    route,
    snap,
    travel,
    travel_times,
)

__all__ = ["OffNetwork", "Snap", "coverage", "reach", "route", "snap", "travel", "travel_times"]
