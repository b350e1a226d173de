"""onemap: the city safety risk "one map" service."""

__version__ = "0.1.0"
