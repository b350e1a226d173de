"""api.cli.demo: `onemap demo build|load|up`: the Xi'an demo city."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.cli import app
from api.cli.access import demo_users
from api.db import connect
from api.migrate import current_revision, head_revision, upgrade
from api.settings import Settings

demo_app = typer.Typer(help="The Xi'an demo city (geodata/).", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
err = Console(stderr=True)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")


@demo_app.command("build")
def build(
    out: Annotated[
        Path | None, typer.Option("--out", help="output directory (default .data/demo)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (default: the project's)")] = None,
) -> None:
    """Write the demo dataset (GeoJSON + CSV) without loading it."""
    from geodata.build import DEFAULT_SEED, build_demo

    out_dir = out or Settings().data_dir / "demo"
    started = time.perf_counter()
    with err.status("building the demo city"):
        paths = build_demo(out_dir, seed if seed is not None else DEFAULT_SEED)
    for layer, path in paths.items():
        err.print(f"  {layer:<22} {path}")
    err.print(f"[green]built[/green] {len(paths)} files in {time.perf_counter() - started:.1f} s")


async def _load(settings: Settings) -> None:
    from geodata.build import load_demo

    await load_demo(settings)


@demo_app.command("load")
def load() -> None:
    """Load the demo into the migrated database (skipped when already loaded)."""
    _logging()
    settings = Settings()

    async def _check() -> str | None:
        async with connect(settings) as conn:
            return await current_revision(conn)

    if asyncio.run(_check()) != head_revision(settings):
        err.print("[red]the database is not at head[/red]: run `onemap db migrate` first")
        raise typer.Exit(1)
    started = time.perf_counter()
    asyncio.run(_load(settings))
    err.print(f"[green]demo ready[/green] ({time.perf_counter() - started:.1f} s)")


async def grade_if_ungraded(settings: Settings) -> None:
    """A full regrade (and its hooks: the risk surface) when some unit has no level yet."""
    from api.main import create_app

    async with connect(settings) as conn:
        ungraded = await conn.fetchval(
            "SELECT count(*) FROM risk_units WHERE current_level IS NULL"
        )
    if not ungraded:
        return
    with err.status(f"grading {ungraded:,} ungraded risk units"):
        service_app = create_app(settings.model_copy(update={"grading_interval_s": 0}))
        async with service_app.router.lifespan_context(service_app):
            result = await service_app.state.grading.regrade_all(trigger="demo", actor="cli")
    err.print(
        f"  graded {result.units:,} units: {len(result.changed):,} levels set "
        f"({result.seconds:.1f} s)"
    )


def _first_readings(settings: Settings) -> None:
    """One normal reading for every point offline now, so no point starts offline."""
    from geodata.first_readings import send_first_readings

    with err.status("first readings"):
        done = asyncio.run(send_first_readings(settings))
    err.print(f"first readings: {done.sent:,} of {done.points:,} points were offline; "
              f"{done.units_regraded:,} units regraded ({done.seconds:.1f} s)")  # fmt: skip


@demo_app.command("up")
def up(
    url: Annotated[
        str, typer.Option(help="where the map will be served (for the log-in hint)")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Migrate, load the demo, grade it, add the demo users (each step a no-op once done)."""
    _logging()
    settings = Settings()
    started = time.perf_counter()
    upgrade(settings)
    asyncio.run(_load(settings))
    _first_readings(settings)
    asyncio.run(grade_if_ungraded(settings))
    demo_users(settings, err, url.rstrip("/"))
    err.print(f"[green]demo ready[/green] ({time.perf_counter() - started:.1f} s)")
