"""api.cli.cluster: `onemap cluster status|promote`, the operator's commands for the replica."""

from __future__ import annotations

import asyncio

import asyncpg
import typer
from rich.console import Console

from api.cli import app
from api.settings import Settings

cluster_app = typer.Typer(help="The primary and its streaming replicas.", no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")
err = Console(stderr=True)

_STATUS = (
    "SELECT pg_is_in_recovery() AS standby, "
    "(pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS replayed, "
    "extract(epoch FROM now() - pg_last_xact_replay_timestamp()) AS behind_s"
)


def _replica_url(url: str | None) -> str:
    """The replica named, else the first of ONEMAP_READ_DATABASE_URLS."""
    if url:
        return url
    urls = Settings().replica_urls
    if not urls:
        raise typer.BadParameter("no --url and ONEMAP_READ_DATABASE_URLS is empty")
    return urls[0]


@cluster_app.command("status")
def status(url: str = typer.Option(None, help="the replica (default: the first read URL)")) -> None:
    """Print whether the replica is a standby, how far it has replayed, and how far behind."""

    async def _run() -> asyncpg.Record | None:
        conn = await asyncpg.connect(_replica_url(url))
        try:
            return await conn.fetchrow(_STATUS)
        finally:
            await conn.close()

    row = asyncio.run(_run())
    assert row is not None
    typer.echo(f"standby={row['standby']} replayed={row['replayed']} behind_s={row['behind_s']}")


@cluster_app.command("promote")
def promote(
    url: str = typer.Option(
        None, help="a superuser connection to the replica (default: the first read URL)"
    ),
) -> None:
    """Promote the replica to primary (the old primary is lost for good).

    Then point every node's ONEMAP_DATABASE_URL at it, drop it from
    ONEMAP_READ_DATABASE_URLS and restart the nodes (docs/scaling.md).
    """

    async def _run() -> bool:
        conn = await asyncpg.connect(_replica_url(url))
        try:
            if not await conn.fetchval("SELECT pg_is_in_recovery()"):
                err.print("[yellow]not a standby: already a primary[/yellow]")
                return True
            return bool(await conn.fetchval("SELECT pg_promote(wait => true, wait_seconds => 60)"))
        finally:
            await conn.close()

    if not asyncio.run(_run()):
        err.print("[red]the replica did not finish promoting within 60 s[/red]")
        raise typer.Exit(1)
    err.print("[green]promoted: it now accepts writes[/green]")
