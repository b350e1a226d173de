"""api.cli.grading: `onemap grade` (regrade now), `onemap grading params ...`."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from api import audit
from api.cli import app
from api.db import connect
from api.settings import Settings

grading_app = typer.Typer(help="Grading parameter sets.", no_args_is_help=True)
app.add_typer(grading_app, name="grading")
err = Console(stderr=True)


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        raise typer.BadParameter("--as-of needs a UTC offset, e.g. 2026-06-01T08:00:00+08:00")
    return t


@app.command("grade")
def grade(
    as_of: Annotated[str | None, typer.Option(help="grade at this time (default: now)")] = None,
    unit: Annotated[
        list[str] | None, typer.Option("--unit", help="only these unit codes (repeatable)")
    ] = None,
) -> None:
    """Regrade every risk unit now (or --unit ...), record level changes, run the hooks."""
    from api.grading import engine, store
    from api.main import create_app
    from api.timestamps import utcnow

    settings = Settings()
    when = _as_of(as_of)

    async def run() -> engine.RegradeResult:
        with Progress(
            TextColumn("{task.description:<10}"), BarColumn(), TextColumn("{task.completed:,}/"
            "{task.total:,}"), TimeElapsedColumn(), console=err,
        ) as bar:  # fmt: skip
            tasks: dict[str, TaskID] = {}

            def progress(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=max(total, 1))
                bar.update(tasks[phase], completed=done, total=max(total, 1))

            if unit:
                async with connect(settings) as conn:
                    ids = [await conn.fetchval("SELECT id FROM risk_units WHERE code = $1", c)
                           for c in unit]  # fmt: skip
                    missing = [c for c, i in zip(unit, ids, strict=True) if i is None]
                    if missing:
                        raise typer.BadParameter(f"unknown units: {', '.join(missing)}")
                    params = await store.active_params(conn)
                    found = [i for i in ids if i is not None]
                    return await engine.regrade(
                        conn, params, when or utcnow(), found, trigger="cli", actor="cli",
                        progress=progress,
                    )  # fmt: skip
            service_app = create_app(settings.model_copy(update={"grading_interval_s": 0}))
            async with service_app.router.lifespan_context(service_app):
                # the app's after-full-regrade hooks (e.g. the risk surface) run too
                return await service_app.state.grading.regrade_all(
                    trigger="cli", actor="cli", as_of=when, progress=progress)  # fmt: skip

    result = asyncio.run(run())
    err.print(
        f"[green]graded[/green] {result.units:,} units at {result.as_of.isoformat()} "
        f"(parameters v{result.param_version}): {result.written:,} written, "
        f"{len(result.changed):,} level changes, {result.exposure_refreshed:,} exposures "
        f"refreshed, {result.seconds:.1f} s"
    )
    for change in result.changed[:20]:
        err.print(f"  {change['code']}: {change['from']} -> {change['to']} (R {change['r']:g})")
    if len(result.changed) > 20:
        err.print(f"  ... and {len(result.changed) - 20:,} more")


@grading_app.command("params")
def params(
    version: Annotated[int | None, typer.Option(help="a stored version (default: active)")] = None,
) -> None:
    """Print a parameter set as JSON."""
    from api.grading import store

    async def run() -> dict:
        async with connect(Settings()) as conn:
            p = (await store.get_params(conn, version) if version is not None
                 else await store.active_params(conn))  # fmt: skip
            return {"version": p.version, "params": p.to_json()}

    typer.echo(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))


@grading_app.command("set")
def set_params(
    file: Annotated[Path, typer.Argument(help="JSON file: the full set (or {'params': ...})")],
    note: Annotated[str | None, typer.Option(help="why it changed")] = None,
    activate: Annotated[bool, typer.Option(help="make it the active set")] = True,
) -> None:
    """Store a new parameter set version (run `onemap grade` afterwards to apply it)."""
    from api.grading import store
    from api.grading.params import Params

    data = json.loads(file.read_text(encoding="utf-8"))
    parsed = Params.from_json(data.get("params", data))

    async def run() -> int:
        async with connect(Settings()) as conn, conn.transaction():
            stored = await store.create_params(conn, parsed, note, "cli", activate)
            await audit.record(conn, "cli", "grading.params.create", "grading_param_sets",
                               [str(stored.version)])  # fmt: skip
            return stored.version

    err.print(f"[green]stored[/green] version {asyncio.run(run())}"
              + (" (active)" if activate else ""))  # fmt: skip
