"""scripts.bench: benchmarks, each against a reference run in the same process and database.

Each section is a module with `async def run(ctx: Context) -> list[Row]`;
`python -m scripts.bench` runs them all and prints one markdown table.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console

from api.migrate import upgrade_async
from api.settings import Settings

console = Console(stderr=True)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: what was measured, ours, the reference, their ratio, the goal."""

    what: str
    ours: str
    reference: str
    ratio: str
    goal: str


@dataclass(slots=True)
class Context:
    """What every section gets: the project's settings and how many times to repeat a run."""

    settings: Settings
    repeat: int


@contextlib.contextmanager
def timer() -> Iterator[list[float]]:
    """`with timer() as t: ...` then t[0] is the elapsed wall time in seconds."""
    out: list[float] = []
    start = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - start)


def with_database(url: str, name: str) -> str:
    """The same server URL with another database name."""

    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def recreate_database(url: str, name: str) -> None:
    """Drop database `name` on the server of `url` (ending its sessions), create it empty."""
    import asyncpg

    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def scratch_database(
    settings: Settings, label: str, copy_of: Settings | None = None
) -> AsyncIterator[Settings]:
    """A database of its own on the project's server, migrated to head (or a copy of the
    database of `copy_of`, which nothing may be connected to), dropped afterwards."""
    import asyncpg

    name = f"onemap_bench_{label}_{os.getpid()}"
    admin = await asyncpg.connect(with_database(settings.database_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if copy_of is None:
            await admin.execute(f'CREATE DATABASE "{name}"')
        else:
            source = urlsplit(copy_of.database_url).path.lstrip("/")
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        scratch = settings.model_copy(
            update={"database_url": with_database(settings.database_url, name)}
        )
        if copy_of is None:
            await upgrade_async(scratch)
        yield scratch
    finally:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND usename = current_user AND pid <> pg_backend_pid()",
            name,
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.close()
