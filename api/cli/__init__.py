"""api.cli: the `onemap` command line (Typer); each concern adds its commands in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="onemap",
    help="onemap: the city safety risk one map (PostGIS store, API, tiles, grading).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# Each module registers its commands on `app` (or a sub-app) when imported.
from api.cli import access as _access  # noqa: E402,F401
from api.cli import cluster as _cluster  # noqa: E402,F401
from api.cli import db as _db  # noqa: E402,F401
from api.cli import demo as _demo  # noqa: E402,F401
from api.cli import feed as _feed  # noqa: E402,F401
from api.cli import grading as _grading  # noqa: E402,F401
from api.cli import importing as _importing  # noqa: E402,F401
from api.cli import raster as _raster  # noqa: E402,F401
from api.cli import readings as _readings  # noqa: E402,F401
from api.cli import risk_events as _events  # noqa: E402,F401
from api.cli import roads as _roads  # noqa: E402,F401
from api.cli import serve as _serve  # noqa: E402,F401
