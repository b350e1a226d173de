"""The demo template's digest covers what loading the demo runs, and not the routers."""

from __future__ import annotations

from api.settings import PROJECT_ROOT
from tests.conftest import _import_closure


def test_demo_digest_covers_the_import_path_not_the_routers() -> None:
    """Editing a router, the front end or the grading service keeps the demo city."""
    files = {p.relative_to(PROJECT_ROOT).as_posix() for p in _import_closure("geodata.build")}
    # what the demo load runs: the importer, the registry, CRS, the COPY encoder, the SQL quoter
    for needed in ("api/importer/load.py", "api/layers.py", "api/crs.py",
                   "api/importer/pgcopy.py", "api/sqlfiles.py", "api/db.py"):  # fmt: skip
        assert needed in files, needed
    assert not any(f.startswith("api/routers/") for f in files)
    for unrelated in ("api/main.py", "api/services.py", "api/grading/service.py"):
        assert unrelated not in files, unrelated
