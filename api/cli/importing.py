"""api.cli.importing: `onemap import FILE --layer LAYER [--crs] [--source] [--skip-invalid]`."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

import asyncpg
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from api import audit
from api.cli import app
from api.db import connect, unless_lost
from api.errors import OnemapError
from api.importer import ImportRejected, ImportResult, RowError, import_file, importable_names
from api.settings import Settings

err = Console(stderr=True)
out = Console()
#: how many row errors the terminal shows (all are counted)
SHOWN_ERRORS = 200
_STAGES = {"read": "reading", "validate": "checking", "load": "loading"}


class _Bar:
    """A rich progress bar driven by import_file's (stage, done, total) callback."""

    def __init__(self, progress: Progress, name: str) -> None:
        self.progress = progress
        self.name = name
        self.task: TaskID = progress.add_task(name, total=None)

    def __call__(self, stage: str, done: int, total: int) -> None:
        label = f"{self.name}: {_STAGES.get(stage, stage)}"
        self.progress.update(self.task, description=label, completed=done, total=total or None)


async def _run(
    path: Path, layer: str, crs: str | None, source: str | None, skip: bool
) -> ImportResult:
    settings = Settings()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        bar = _Bar(progress, path.name)
        async with connect(settings) as conn, conn.transaction():
            # a server lost mid-COPY ends the import (as over HTTP) instead of hanging it
            work = import_file(
                conn,
                path,
                layer,
                settings=settings,
                crs=crs,
                source=source,
                on_error="skip" if skip else "fail",
                progress=bar,
            )
            result = await unless_lost(conn, work)
            await audit.record(
                conn,
                f"cli:{getpass.getuser()}",
                "layers.import",
                layer,
                [],
                file=path.name,
                **result.counts(),
            )
    return result


def _print_errors(errors: list[RowError], total_bad: int) -> None:
    table = Table("row", "field", "reason", title=f"{total_bad} rejected row(s)", show_lines=False)
    for e in errors[:SHOWN_ERRORS]:
        table.add_row(str(e["row"]), str(e["field"]), str(e["reason"]))
    err.print(table)
    if len(errors) > SHOWN_ERRORS:
        err.print(f"... and {len(errors) - SHOWN_ERRORS} more listed errors")


@app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="GeoJSON, GeoPackage, zipped Shapefile or CSV"),
    layer: str = typer.Option(..., "--layer", "-l", help="target layer or child table"),
    crs: str | None = typer.Option(
        None, "--crs", help="the file's CRS if it does not say: EPSG:4545, GCJ-02, BD-09, ..."
    ),
    source: str | None = typer.Option(None, "--source", help="source tag (import:<file>)"),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="load the good rows and report the bad ones"
    ),
) -> None:
    """Import a file into a layer: validated, upserted by code, all or nothing."""
    if not file.is_file():
        err.print(f"[red]no such file:[/red] {file}")
        raise typer.Exit(2)
    try:
        result = asyncio.run(_run(file, layer, crs, source, skip_invalid))
    except ImportRejected as exc:
        err.print(f"[red]import rejected:[/red] {exc.detail}")
        _print_errors(exc.errors, exc.rejected)
        raise typer.Exit(1) from None
    except OnemapError as exc:
        err.print(f"[red]import failed ({exc.status}):[/red] {exc.detail}")
        if exc.status == 404:
            err.print(f"importable layers: {', '.join(importable_names())}")
        raise typer.Exit(1) from None
    except (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError, ConnectionError) as exc:
        err.print(f"[red]import failed:[/red] the database connection was lost ({exc}); "
                  "nothing was written, run it again")  # fmt: skip
        raise typer.Exit(1) from None
    table = Table("layer", "rows", "inserted", "updated", "unchanged", "rejected")
    table.add_row(
        result.layer,
        str(result.total),
        str(result.inserted),
        str(result.updated),
        str(result.unchanged),
        str(result.rejected),
    )
    out.print(table)
    out.print(f"format {result.format}, crs {result.crs}, source {result.source}")
    if result.ignored_columns:
        out.print(f"[yellow]ignored columns:[/yellow] {', '.join(result.ignored_columns)}")
    if result.rejected:
        _print_errors(result.errors, result.rejected)
