"""tests.support.tiles_city: the tile fixture (tests/fixtures/tiles.sql), one template, a clone per
test.

`tiles_db` serves test_tiles.py and test_raster.py alike (registered by
tests/conftest.py through pytest_plugins): the fixture is loaded once per
session into a template database, and each test gets its own file-level copy
with its rasters under its tmp_path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from api.settings import PROJECT_ROOT, Settings
from tests.support import dbutil

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "tiles.sql"


async def load_tiles_fixture(settings: Settings) -> None:
    """Load the tile fixture into a migrated database."""
    await dbutil.execute_script(settings, FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
async def tiles_template(
    admin: asyncpg.Connection, base_settings: Settings, empty_template: str
) -> str:
    """A migrated database with the tile fixture loaded (rebuilt when either changes)."""
    from tests.conftest import _digest, _template

    digest = _digest(PROJECT_ROOT / "db", FIXTURE)
    name = f"{dbutil.prefix()}_tiles"
    return await _template(admin, base_settings, name, digest, empty_template, load_tiles_fixture)


@pytest.fixture
async def tiles_db(
    admin: asyncpg.Connection, base_settings: Settings, tiles_template: str, tmp_path: Path
) -> AsyncIterator[Settings]:
    """A fresh copy of the tile fixture database, this test's own; rasters under tmp_path."""
    from tests.conftest import _clone

    async with _clone(admin, base_settings, tiles_template, "t") as settings:
        yield settings.model_copy(update={"data_dir": tmp_path})
