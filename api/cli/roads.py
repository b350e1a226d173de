"""api.cli.roads: `onemap roads import FILE` and `onemap roads stats`: the road network."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.cli import app
from api.db import connect
from api.errors import OnemapError
from api.routing.build import NetworkError, network_stats
from api.routing.imports import import_roads
from api.settings import Settings

roads_app = typer.Typer(help="The road network (pgRouting).", no_args_is_help=True)
app.add_typer(roads_app, name="roads")
err = Console(stderr=True)


def _speeds(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        cls, _, kmh = item.partition("=")
        try:
            out[cls.strip()] = float(kmh)
        except ValueError:
            raise typer.BadParameter(f"--speed {item!r}: expected CLASS=KMH") from None
    return out


@roads_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    crs: Annotated[str | None, typer.Option(help="CRS of a line file (default: declared)")] = None,
    speed: Annotated[
        list[str] | None, typer.Option(help="override a class speed: CLASS=KMH (repeatable)")
    ] = None,
) -> None:
    """Replace the network with an OSM file (.pbf/.osm) or a GeoJSON/GeoPackage of lines."""
    settings = Settings()

    async def run() -> dict[str, object]:
        async with connect(settings) as conn:
            return await import_roads(conn, file, settings, crs=crs, speeds=_speeds(speed or []))

    try:
        stats = asyncio.run(run())
    except (NetworkError, OnemapError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    typer.echo(json.dumps(stats, ensure_ascii=False, indent=2))


@roads_app.command("stats")
def stats() -> None:
    """What the last build of the network found (edges, components, dead ends...)."""
    settings = Settings()

    async def run() -> dict[str, object] | None:
        async with connect(settings) as conn:
            return await network_stats(conn)

    typer.echo(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))
