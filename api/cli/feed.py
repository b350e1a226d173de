"""api.cli.feed: `onemap demo feed`: a simulated SCADA client posting readings to onemap."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from api.cli.demo import demo_app

err = Console(stderr=True)


@demo_app.command("feed")
def feed(
    url: Annotated[str, typer.Option(help="the running onemap")] = "http://127.0.0.1:8000",
    rate: Annotated[
        float, typer.Option(min=0.1, max=20, help="posts a second (each carries the points due)")
    ] = 1.0,
    excursions: Annotated[
        float,
        typer.Option(min=0, max=1, help="chance a post starts a threshold excursion (0: none)"),
    ] = 0.05,
    api_key: Annotated[
        str | None, typer.Option(help="an integrator API key (default: log in as the demo user)")
    ] = None,
    username: Annotated[str, typer.Option(help="demo user to log in as")] = "integrator",
    password: Annotated[str, typer.Option(help="its password")] = "integrator-demo",
    seconds: Annotated[
        float | None, typer.Option(min=0, help="stop after this long (default: until Ctrl-C)")
    ] = None,
    step: Annotated[float, typer.Option(min=0.1, help="seconds between excursion steps")] = 10.0,
) -> None:
    """Post normal readings for every point at its expected interval, plus occasional
    excursions that open, escalate and close alarms; a status line every 10 s."""
    from geodata.feed import run_feed

    try:
        stats = asyncio.run(
            run_feed(
                url,
                rate=rate,
                excursions=excursions,
                username=username,
                password=password,
                api_key=api_key,
                duration_s=seconds,
                step_s=step,
                on_status=lambda line: err.print(line, soft_wrap=True, highlight=False),
            )  # fmt: skip
        )
    except KeyboardInterrupt:
        err.print("feed: stopped")
        return
    except Exception as exc:  # the server went away or refused us: say so and stop
        err.print(f"[red]feed stopped:[/red] {exc}")
        raise typer.Exit(1) from None
    err.print(stats.line(0), soft_wrap=True, highlight=False)
