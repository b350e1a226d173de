"""api.cli.db: `onemap db url|migrate|revision`."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from api.cli import app
from api.db import connect
from api.migrate import current_revision, head_revision, upgrade
from api.settings import Settings

db_app = typer.Typer(help="The PostGIS database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
err = Console(stderr=True)


@db_app.command("url")
def url() -> None:
    """Print the database URL the project uses (for psql, QGIS, ogr2ogr)."""
    typer.echo(Settings().database_url)


@db_app.command("migrate")
def migrate(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Run the Alembic migration chain to head (or REVISION)."""
    settings = Settings()
    upgrade(settings, revision)
    err.print(f"[green]database at {revision}[/green] ({head_revision(settings)})")


@db_app.command("revision")
def revision() -> None:
    """Print the database's migration revision and the chain's head."""

    async def _run() -> str | None:
        async with connect(Settings()) as conn:
            return await current_revision(conn)

    typer.echo(f"database: {asyncio.run(_run())}\nhead:     {head_revision(Settings())}")
