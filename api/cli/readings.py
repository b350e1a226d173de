"""api.cli.readings: `onemap readings import FILE.csv`, `onemap readings maintain`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli import app
from api.db import connect
from api.settings import Settings

readings_app = typer.Typer(help="Monitoring readings.", no_args_is_help=True)
app.add_typer(readings_app, name="readings")
err = Console(stderr=True)


def _chunks(path: Path, size: int) -> Iterator[tuple[bytes, int]]:
    """The CSV in chunks of `size` rows, each with the header line first; (bytes, rows)."""
    with path.open("rb") as f:
        header = f.readline()
        rows: list[bytes] = []
        for line in f:
            if line.strip():
                rows.append(line if line.endswith(b"\n") else line + b"\n")
            if len(rows) == size:
                yield header + b"".join(rows), len(rows)
                rows = []
        if rows:
            yield header + b"".join(rows), len(rows)


@readings_app.command("import")
def import_csv(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV: point,ts,value")],
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="readings per batch")] = 20_000,
) -> None:
    """Load readings (idempotent per batch and per reading), then regrade the touched units."""
    from api.grading import engine, store
    from api.monitoring import readings
    from api.timestamps import utcnow

    settings = Settings()
    total_lines = sum(1 for _ in file.open("rb")) - 1

    async def run() -> tuple[int, int, dict[str, int], int]:
        stored = dups = 0
        alarms: dict[str, int] = {}
        touched: set[int] = set()
        cache = readings.PointCache()
        async with connect(settings) as conn:
            with Progress(TextColumn("readings"), BarColumn(), TextColumn(
                    "{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
                    console=err) as bar:  # fmt: skip
                task = bar.add_task("readings", total=max(total_lines, 1))
                for chunk, n in _chunks(file, batch):
                    codes, tss, vals = readings.parse_csv(chunk)
                    arrays = await cache.refresh(conn)
                    key = readings.batch_key(chunk, None)
                    b = readings.check(key, codes, tss, vals, arrays, utcnow(),
                                       settings.readings_max_future_s,
                                       settings.readings_retention_days, 10**9)  # fmt: skip
                    result = await readings.ingest(conn, b, "cli")
                    stored += result.stored
                    dups += result.duplicates
                    for k, v in result.alarms.items():
                        alarms[k] = alarms.get(k, 0) + v
                    touched |= result.touched_units
                    bar.advance(task, n)
            regraded = 0
            if touched:
                params = await store.active_params(conn)
                res = await engine.regrade(conn, params, utcnow(), sorted(touched), trigger="cli")
                regraded = len(res.changed)
        return stored, dups, alarms, regraded

    try:
        stored, dups, alarms, changes = asyncio.run(run())
    except Exception as exc:  # a bad batch: say which, the earlier batches are stored
        from api.errors import OnemapError

        if isinstance(exc, OnemapError):
            err.print(f"[red]refused[/red]: {exc.detail}")
            raise typer.Exit(1) from exc
        raise
    err.print(f"[green]stored[/green] {stored:,} readings ({dups:,} already there); "
              f"alarms {alarms}; {changes:,} level changes")  # fmt: skip


@readings_app.command("maintain")
def maintain() -> None:
    """Create the next days' partitions, roll up closed hours, drop what is past retention."""
    from api.monitoring.maintenance import maintain_readings

    settings = Settings()

    async def run() -> dict[str, int]:
        async with connect(settings) as conn:
            return await maintain_readings(conn, settings)

    out = asyncio.run(run())
    err.print(f"partitions: {out['created']} created, {out['dropped']} days dropped, "
              f"{out['dropped_hourly']} hourly months dropped; "
              f"{out['rolled_up']} hourly rows rolled up")  # fmt: skip
