"""tests.support.city: the hand-made city of tests/fixtures/queries_city.sql for exact query tests.

Its fixtures (`city_db`, `city_headers`) are registered by tests/conftest.py (pytest_plugins).
Distances from O = (108.9 E, 34.25 N) are hand-computed from the WGS84 radii of
curvature (see `meridian_arc` and `parallel_arc`).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import asyncpg
import pytest

from api.settings import PROJECT_ROOT, Settings
from tests.support import dbutil

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "queries_city.sql"
O = (108.9, 34.25)  # noqa: E741 - the origin

# WGS84
A = 6378137.0
E2 = 0.00669437999014


def meridian_arc(lat1: float, lat2: float, steps: int = 1000) -> float:
    """Length in metres of the meridian between two latitudes (Simpson's rule on M(phi))."""

    def m(phi_deg: float) -> float:
        s = math.sin(math.radians(phi_deg))
        return A * (1 - E2) / (1 - E2 * s * s) ** 1.5

    h = (lat2 - lat1) / steps
    total = m(lat1) + m(lat2)
    for i in range(1, steps):
        total += (4 if i % 2 else 2) * m(lat1 + i * h)
    return abs(total * h / 3 * math.pi / 180)


def parallel_arc(lat: float, dlon: float) -> float:
    """Length in metres of dlon degrees along the parallel at lat (the geodesic is shorter by
    far less than a millimetre at these lengths)."""
    s = math.sin(math.radians(lat))
    n = A / math.sqrt(1 - E2 * s * s)
    return n * math.cos(math.radians(lat)) * math.radians(dlon)


async def load_city(settings: Settings) -> None:
    """Load the fixture city into a migrated database."""
    await dbutil.execute_script(settings, FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
async def city_db(
    admin: asyncpg.Connection, base_settings: Settings, empty_template: str
) -> AsyncIterator[Settings]:
    """A database with the fixture city, shared by read-only tests: never write to it."""
    name = dbutil.next_name("city")
    await dbutil.create_database(admin, name, empty_template)
    settings = dbutil.settings_for(base_settings, name)
    await load_city(settings)
    try:
        yield settings
    finally:
        await dbutil.drop_database(admin, name)


@pytest.fixture(scope="session")
async def city_headers(city_db: Settings) -> dict[str, dict[str, str]]:
    """API-key headers per role for the fixture city."""
    from tests.conftest import role_headers

    return await role_headers(city_db)
