"""api.routing: travel time over the road network (pgRouting): snap, route, travel_times, reach."""

from api.routing.engine import OffNetwork, Snap, coverage, reach, route, snap, travel_times

__all__ = ["OffNetwork", "Snap", "coverage", "reach", "route", "snap", "travel_times"]
