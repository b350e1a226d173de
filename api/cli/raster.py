"""api.cli.raster: `onemap raster rebuild-risk` and `onemap raster import-population FILE`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from api import audit
from api.cli import app
from api.db import connect, create_pool
from api.raster.population import import_population
from api.raster.surface import rebuild_risk_surface
from api.settings import Settings

raster = typer.Typer(
    help="Raster surfaces served through titiler at /raster.", no_args_is_help=True
)
app.add_typer(raster, name="raster")
console = Console()


def _spinner() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())


@raster.command("rebuild-risk")
def rebuild_risk() -> None:
    """Recompute the risk-density surface (kernel density of risk units by level)."""
    settings = Settings()

    async def run() -> Path:
        pool = await create_pool(settings, min_size=1, max_size=2)
        try:
            return await rebuild_risk_surface(pool, settings)
        finally:
            await pool.close()

    with _spinner() as progress:
        progress.add_task("computing the kernel density and writing the COG", total=None)
        path = asyncio.run(run())
    console.print(f"risk surface: {path} ({path.stat().st_size:,} bytes)")


@raster.command("import-population")
def import_population_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="a one-band GeoTIFF"),
) -> None:
    """Import a population GeoTIFF (people per cell); it is served at /raster/population."""
    settings = Settings()
    with _spinner() as progress:
        progress.add_task(f"validating {file.name} and writing the COG", total=None)
        path, summary = import_population(file, settings)

    async def log() -> None:
        async with connect(settings) as conn:
            await audit.record(conn, "cli", "raster.import", "population", [file.name], **summary)

    asyncio.run(log())
    console.print(f"population raster: {path} {summary}")
