"""api.cli.serve: `onemap serve` runs the API with uvicorn."""

from __future__ import annotations

import typer
import uvicorn

from api.cli import app


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(8000, help="port"),
    workers: int = typer.Option(1, help="worker processes"),
) -> None:
    """Serve the API and the map on http://HOST:PORT."""
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        log_level="info",
    )
