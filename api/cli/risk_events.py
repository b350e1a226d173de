"""api.cli.risk_events: `onemap events import FILE --kind KIND`: events as their POST bodies, in
bulk."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path
from typing import Annotated

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

from api.cli import app
from api.db import connect
from api.errors import OnemapError
from api.settings import Settings

events_app = typer.Typer(help="Events that move grades (hazards, warnings, periods, accidents).",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(events_app, name="events")
err = Console(stderr=True)
out = Console()
SHOWN_ERRORS = 200
_STAGES = {"check": "checking", "write": "writing", "regrade": "regrading"}


@events_app.command("import")
def import_events_command(
    file: Annotated[Path, typer.Argument(help="a JSON array or NDJSON of the POST route's bodies")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="hidden_hazards, weather_warnings, special_periods or accidents"
        ),
    ],
) -> None:
    """Check every record, write them all in one transaction, then regrade the units touched.

    Records are exactly what the POST route takes (POST /hidden-hazards, /weather-warnings,
    /special-periods, /accidents). Any bad record refuses the whole file (row, field and
    reason listed). A record already stored with the same content counts as unchanged,
    so a retry is safe; the same code with other content is refused.
    """
    from api.risk_events.bulk import KINDS, EventImportRejected, import_events, read_records

    if kind not in KINDS:
        err.print(f"[red]unknown kind {kind!r}[/red]: one of {', '.join(KINDS)}")
        raise typer.Exit(2)
    if not file.is_file():
        err.print(f"[red]no such file:[/red] {file}")
        raise typer.Exit(2)
    settings = Settings()
    who = f"cli:{getpass.getuser()}"

    async def run() -> dict:
        records = list(read_records(file.read_text(encoding="utf-8")))
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())  # fmt: skip
        with Progress(*columns, console=err, transient=True) as bar:
            task: TaskID = bar.add_task(file.name, total=None)

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(task, description=f"{kind}: {_STAGES.get(stage, stage)}",
                           completed=done, total=total or None)  # fmt: skip

            async with connect(settings) as conn:
                summary = await import_events(conn, kind, records, settings=settings, who=who,
                                              source=f"import:{file.name}",
                                              progress=progress)  # fmt: skip
        return summary.to_json()

    try:
        result = asyncio.run(run())
    except EventImportRejected as exc:
        err.print(f"[red]import refused:[/red] {exc.detail}")
        table = Table("row", "field", "reason", title=f"{exc.summary.rejected} rejected row(s)")
        for e in exc.summary.errors[:SHOWN_ERRORS]:
            table.add_row(str(e["row"]), str(e["field"]), str(e["reason"]))
        err.print(table)
        if len(exc.summary.errors) > SHOWN_ERRORS:
            err.print(f"... and {len(exc.summary.errors) - SHOWN_ERRORS} more")
        raise typer.Exit(1) from None
    except OnemapError as exc:
        err.print(f"[red]import failed ({exc.status}):[/red] {exc.detail}")
        raise typer.Exit(1) from None
    table = Table("kind", "records", "inserted", "unchanged", "rejected", "units regraded",
                  "level changes")  # fmt: skip
    counts = ("total", "inserted", "unchanged", "rejected", "units_regraded")
    table.add_row(kind, *(str(result[c]) for c in counts), str(len(result["level_changes"])))
    out.print(table)
    for change in result["level_changes"][:20]:
        out.print(f"  {change['code']}: {change['from']} -> {change['to']} (R {change['r']:g})")
